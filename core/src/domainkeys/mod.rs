//! DomainKeys, RFC 4870: the DomainKey-Signature field (§3.3), signing
//! (§3.5) and verification (§3.6), streaming like the DKIM path.
//!
//! ```text
//!  DkSigner::new(&DkSignRequest)
//!    update(raw)*   or   header_field(field)* end_of_headers() body(chunk)*
//!    finish(&mut impl Sha1DigestSigner, &mut out) ─► "DomainKey-Signature: a=rsa-sha1; ..."
//!
//!  DkMessageVerifier::new(max_signatures)
//!    update(raw)*   or   header_field(field)* end_of_headers() body(chunk)*
//!    key_requests() ─► "sel._domainkey.dom";  provide_key(id, KeyAnswer)
//!    finish() ─► one DkResult per DomainKey-Signature field checked
//! ```
//!
//! One SHA-1 covers everything a signature signs (§3.4.2.1): header
//! fields below the signature field, each canonicalized with its CRLF;
//! then the blank line that ends the header block and the body, through
//! [`BodyCanonicalizer::domainkeys`].
//!
//! - Without `h=`, every field below the signature, in message order,
//!   hashed as it streams by.
//! - With `h=`, the fields it names, in the order §3.3 gives: "the order
//!   presented to the signing algorithm", which is the `h=` order, and "a
//!   verifier must include all occurrences" of a listed header. A name
//!   listed once plays back all its instances together, in message order,
//!   at its place in the list; a name listed several times takes them one
//!   by one from the bottom (its first mention takes those left), as
//!   Mail::DKIM reads it. Deployed signers depend on this: Gmail's 2006
//!   signatures list `h=received:message-id:date:...` whatever the order
//!   of the fields. The listed fields below each signature are kept in one
//!   [`HeaderStore`] per message, of capacity fixed at compile time, and
//!   hashed when the header block ends; past the capacity the signature is
//!   permerror ([`DkReason::HeaderCapacity`]), never a verdict on part of
//!   the header.
//!
//! mass's signer lists each field it signs once, in message order (a
//! repeated name where each instance is), so the `h=` order and the
//! message order agree and any reading of `h=` gives the same hash.
//!
//! Besides, the Sender and From fields (bounded) are kept to find the
//! sending address (§3.1): Sender if there is one, else From.
//!
//! `a=` may be left out: §3.3 makes `rsa-sha1` the default, and Yahoo's
//! signatures never wrote it. `q=` is still required.
//!
//! The work is bounded as for DKIM (DESIGN.md, verifier defaults): at most
//! `max_signatures` signatures that parse get a key lookup and a check; a
//! field that does not parse costs nothing, and at most
//! [`MAX_SIGNATURE_FIELDS_EXAMINED`] fields are parsed at all.
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

use crate::canon::{
    BodyCanonicalizer, DkCanon, Sink, canonicalize_dk_header, canonicalize_dk_header_piece,
};
use crate::crypto::Sha1DigestSigner;
use crate::dkim::key_record::{KeyRecord, KeyRecordError};
use crate::dkim::public_key::{PublicKeyError, RsaKey, WEAK_RSA_MODULUS_BITS, load_rsa};
use crate::dkim::verify::{
    KeyAnswer, KeyState, MAX_SIGNATURE_FIELDS_EXAMINED, NoKeyReason, Verdict, best_of,
};
use crate::error::Error;
use crate::header::names::{NameList, requested_name};
use crate::header::writer::{FOLD_WIDTH, FieldWriter};
use crate::header::{FieldSink, HeaderSplitter, HeaderStore, field_name, field_value, names_match};
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
/// Room a [`DkMessageVerifier`] keeps, unless told otherwise, for the
/// fields below a signature that its `h=` names, until the header block
/// ends.
pub const DEFAULT_HEADER_BYTES: usize = 16 * 1024;
/// The most such fields kept, unless told otherwise.
pub const DEFAULT_HEADER_FIELDS: usize = 128;
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
