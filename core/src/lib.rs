//! mass-core: sans-IO, `no_std`, streaming DKIM signing and verification.
//!
//! ```text
//!  raw message bytes ──► header::HeaderSplitter ──► header fields ──► HeaderStore (bounded)
//!        (chunks)                  │                                      │
//!                                  └─► body bytes ──► canon::BodyCanonicalizer ──► SHA-256 (bh=)
//!                                                                         │
//!  selected header fields + DKIM-Signature (b= empty) ──► canon header ──► SHA-256 ──► signer (b=)
//! ```
//!
//! The crate does no I/O, reads no clock and draws no randomness of its own:
//! the caller passes `now` and an RNG. State per message is bounded by
//! capacities fixed at compile time; running out of one is a typed error.
//!
//! # Features
//!
//! - `rsa` (default): rsa-sha256 signing ([`RsaSha256Signer`]) and
//!   verification, and [`domainkeys`], whose only algorithm is rsa-sha1.
//!   RSA arithmetic is the only thing in this crate that allocates: the
//!   `rsa` crate needs `alloc` and a global allocator (about 10 KiB at peak
//!   for RSA-2048).
//! - Without `rsa` (`default-features = false`) the crate is Ed25519 only
//!   and nothing in its build uses `alloc`: it builds for
//!   `thumbv7m-none-eabi` and `x86_64-unknown-none` with no allocator. A
//!   `k=rsa` key record then gives [`PublicKeyError::RsaNotSupported`]
//!   (permerror). There is no in-memory RSA signer, but a [`DigestSigner`]
//!   of the caller's (a device, an HSM) may still sign rsa-sha256, since
//!   signing works on the finished hash.
//! - `defmt`: `defmt::Format` for the error and verdict types.
//!
//! [`PublicKeyError::RsaNotSupported`]: dkim::public_key::PublicKeyError::RsaNotSupported
//!
//! One folder per protocol; the syntax, header and canonicalization code that
//! every protocol uses lives once, beside them:
//!
//! | module | what | RFC |
//! |---|---|---|
//! | [`syntax`] | tag=value lists, base64 values, DNS names | RFC 6376 §3.2, RFC 1035 §2.3.1 |
//! | [`header`] | splitting header fields, bounded store, selection | RFC 5322 §2.2; RFC 6376 §5.4 |
//! | [`canon`] | canonicalization, line-ending normalization, body hashes | RFC 6376 §3.4, §3.7, §5.3; RFC 4870 §3.4 |
//! | [`crypto`] | signers and verifiers behind one interface | RFC 8017, RFC 8032, RFC 8463 |
//! | [`dkim`] | DKIM-Signature, key records, public keys, signing, verification | RFC 6376, RFC 8301, RFC 8463 |
//! | [`domainkeys`] | DomainKeys signing and verification | RFC 4870 |
//! | [`batv`] | `prvs=` envelope tags (as Exim) | draft-levine-smtp-batv-01; RFC 5321 §4.5.3.1 |
//! | [`link`] | the framed link to a signing device | `firmware/PROTOCOL.md` |
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

// The crate's own code names no `alloc` type. With `rsa`, allocation comes
// in through the rsa crate only; the unit tests use `alloc` for convenience.
#[cfg(test)]
extern crate alloc;

pub mod batv;
pub mod canon;
pub mod crypto;
pub mod dkim;
#[cfg(feature = "rsa")]
pub mod domainkeys;
pub mod error;
pub mod header;
pub mod link;
pub mod syntax;
#[cfg(test)]
mod test_rng;

pub use canon::body_hash::BodyInterest;
pub use canon::{Canon, Canonicalization};
#[cfg(feature = "rsa")]
pub use crypto::RsaSha256Signer;
pub use crypto::{DigestSigner, Ed25519Signer, SigningAlgorithm};
pub use dkim::sign::{BodyLength, HeaderSelection, MessageSigner, SignRequest};
pub use error::Error;
pub use sha2;
