//! DomainKeys, RFC 4870: the DomainKey-Signature field (§3.3), signing
//! (§3.5) and verification (§3.6), streaming like the DKIM path.
//!
//! ```text
//!  DkSigner::new(&DkSignRequest)
//!    update(raw)*   or   header_field(field)* end_of_headers() body(chunk)*
//!    finish(&mut impl Sha1DigestSigner, &mut out) ─► "DomainKey-Signature: a=rsa-sha1; ..."
//!
//!  DkMessageVerifier::new()           (or one DkVerifier per signature field)
//!    update(raw)*   or   header_field(field)* end_of_headers() body(chunk)*
//!    key_requests() ─► "sel._domainkey.dom";  provide_key(id, KeyAnswer)
//!    finish() ─► one DkResult per DomainKey-Signature field checked
//! ```
//!
//! One SHA-1 covers everything a signature signs (§3.4.2.1): each header
//! field below the signature field — all of them, or those named in `h=` —
//! canonicalized with its CRLF, in message order; then the blank line that
//! ends the header block and the body, through
//! [`BodyCanonicalizer::domainkeys`]. Fields are hashed as they stream by;
//! nothing is stored but the Sender and From fields (bounded), which give
//! the sending address (§3.1): Sender if there is one, else From.
//!
//! With `h=`, the fields whose names it lists are hashed in message order
//! (§3.4.2.1: lines are presented in the order they occur), every instance
//! of a listed name included. Mail::DKIM orders by `h=` instead; the two
//! agree whenever `h=` lists the fields in message order, one entry per
//! field, which is what both signers write.
//!
//! A verifier checks that `d=` is the sending domain or a parent of it, and
//! honours the key record's `g=` (granularity; `*` matches any run, an
//! empty value anything), `k=rsa` and `t=y` (a failure under a testing key
//! is neutral), reading the record with [`KeyRecord::parse_domainkeys`].
//!
//! DomainKeys is SHA-1 by design. Its results are reported as
//! `domainkeys=` (RFC 8601 §2.7.1 registers the method) and never count as
//! a DKIM pass; signing goes through [`Sha1DigestSigner`], which no DKIM
//! path uses.

use core::fmt;

use sha1::{Digest, Sha1};

use crate::canon::{BodyCanonicalizer, DkCanon, Sink, canonicalize_dk_header_piece};
use crate::crypto::Sha1DigestSigner;
use crate::dkim::key_record::{KeyRecord, KeyRecordError};
use crate::dkim::public_key::{PublicKeyError, RsaKey, WEAK_RSA_MODULUS_BITS, load_rsa};
use crate::dkim::verify::{KeyAnswer, KeyState, NoKeyReason, Verdict, best_of};
use crate::error::Error;
use crate::header::names::{NameList, requested_name};
use crate::header::writer::{FOLD_WIDTH, FieldWriter};
use crate::header::{FieldSink, HeaderSplitter, field_value, names_match};
use crate::syntax::dns_name::{NameError, check_dns_name, is_same_or_subdomain};
use crate::syntax::field_name::is_field_name;
use crate::syntax::tag_list::{
    Base64Error, TagListError, colon_list, decode_base64, parse_tag_list,
};

/// The most names an `h=` list may hold (signer and verifier).
pub const MAX_HEADER_NAMES: usize = 64;
/// Room for the names of `h=`.
const NAMES_BYTES: usize = 1024;
/// A list of header field names, as `h=` has them.
type Names = NameList<NAMES_BYTES, MAX_HEADER_NAMES>;
/// The longest Sender or From field kept to find the sending address.
pub const MAX_ADDRESS_FIELD: usize = 2048;
/// The longest DomainKey-Signature field a [`DkMessageVerifier`] keeps.
pub const MAX_SIGNATURE_FIELD: usize = 4096;
/// Room for a signature (RSA-8192).
const SIGNATURE_CAP: usize = 1024;
/// Longest addr-spec kept (RFC 5321 §4.5.3.1: 64 + 1 + 255).
const ADDRESS_CAP: usize = 320;
/// Longest `g=` kept; a longer one cannot match a local part (64 bytes).
const GRANULARITY_CAP: usize = 64;

impl Sink for Sha1 {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
}

mod intake;
mod sign;
mod signature;
mod verify;

pub use intake::*;
pub use sign::*;
pub use signature::*;
pub use verify::*;

#[cfg(test)]
mod tests;
