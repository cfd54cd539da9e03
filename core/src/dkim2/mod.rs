//! DKIM2 (draft-ietf-dkim-dkim2-spec-03): every hop signs, each signature
//! is bound to the SMTP envelope it was sent with, and a hop that changes
//! the message records a recipe that gives back the earlier instance.
//!
//! ```text
//!  message chunks ──► HeaderSplitter ──► HeaderStore (every field; DKIM2 fields by i= / m=)
//!        │                                   │
//!        └─► body ──► simple body hash of the newest instance
//!                 └─► recipe m=N ──► body hash of instance N-1 ──► recipe m=N-1 ──► …
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`fields`] | the `DKIM2-Signature` (draft-03 §7) and `Message-Instance` fields |
//! | [`hash`] | the header and body hashes of an instance, the signature input |
//! | [`recipe`] | recipes (`r=`): parsing, the streaming body rewind, writing |
//! | [`verify`] | streaming verification of the whole chain |
//! | [`sign`] | streaming signing of one hop, with one or two keys |
//!
//! What DKIM2 shares with DKIM is DKIM's: the splitter and store
//! ([`crate::header`]), relaxed header and simple body canonicalization
//! ([`crate::canon`]), key records and public keys, the key request
//! ([`crate::dkim::verify::KeyRequest`]) and the signers
//! ([`crate::crypto::DigestSigner`]). `docs/dkim2.md` says which draft
//! revision this is and what later revisions changed.

pub mod fields;
pub mod hash;
mod intake;
pub mod recipe;
pub mod sign;
pub mod verify;

pub use fields::{Binding, Dkim2Signature, FieldError, MessageInstance, SignatureValue};
pub use intake::FieldKind;
pub use sign::{Dkim2Signer, HopRequest, SignedHop, SignerError};
pub use verify::{Dkim2Result, Dkim2Verifier, Envelope, Reason, Status, VerifyOptions};

/// The most DKIM2-Signature fields (and so hops) a chain may have; more is
/// a permerror. mail-auth, the other implementation, stops at 50 too.
pub const MAX_HOPS: usize = 50;

/// The longest RFC 5321 path, angle brackets included (§4.5.3.1.3: 256
/// octets).
pub const MAX_PATH: usize = 256;

/// How old a signature may be, in seconds: a DKIM2 signature is for the
/// delivery in hand, not for replay weeks later (mail-auth also allows 14
/// days).
pub const MAX_AGE: u64 = 14 * 86_400;

#[cfg(test)]
mod tests;
