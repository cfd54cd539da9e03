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
//! # No panics
//!
//! No input makes this crate panic. That covers every byte a peer or a
//! caller can hand it: message chunks split anywhere, header fields,
//! DKIM-Signature, DomainKey-Signature and ARC fields, key records and DNS
//! answers (`KeyAnswer`), public-key DER, link frames and payloads, BATV
//! addresses, and the caller's own numbers (`now`, `l=`, limits, up to
//! `u64::MAX`). It also covers calls in the wrong order (they return
//! [`Error::OutOfOrder`]) and full buffers and capacities (typed errors
//! that say what was needed). A malformed input is an error or a verdict,
//! never a panic.
//!
//! How it is checked:
//! - Outside tests, clippy's `unwrap_used`, `expect_used`, `panic`,
//!   `indexing_slicing` and `arithmetic_side_effects` are denied for the
//!   whole crate. Slices are taken with `get`, `split_at_checked` and
//!   `split_first`, integers with checked or saturating operations, and
//!   writes into a caller's buffer go through one helper that has no length
//!   check to fail. The one `allow` is the CRC table in `link`, a `const fn`
//!   run at compile time, where a bad index fails the build.
//! - Unit tests feed every split point of their inputs and random edits of
//!   signed messages; the fuzz targets in `fuzz/` (`cargo xtask fuzz`) run
//!   the parsers, the streaming verifier and signer, the body
//!   canonicalizer, DomainKeys and BATV with overflow checks on.
//!
//! Not covered: code of the dependencies. The tag-list parser's nom
//! combinators and `str::split` keep their own bounds checks on positions
//! they computed. The `rsa` crate allocates, and running out of memory is
//! the global allocator's to handle, not this crate's.
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
//! | [`arc`] | ARC fields, chain validation, sealing | RFC 8617 |
//! | [`domainkeys`] | DomainKeys signing and verification | RFC 4870 |
//! | [`batv`] | `prvs=` envelope tags (as Exim) | draft-levine-smtp-batv-01; RFC 5321 §4.5.3.1 |
//! | [`link`] | the framed link to a signing device | `firmware/PROTOCOL.md` |
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
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

pub mod arc;
pub mod batv;
mod bytes;
pub mod canon;
pub mod crypto;
pub mod dkim;
pub mod dkim2;
#[cfg(feature = "rsa")]
pub mod domainkeys;
pub mod error;
pub mod header;
pub mod link;
pub mod syntax;
#[cfg(test)]
#[path = "tests/support.rs"]
mod test_support;

pub use canon::body_hash::BodyInterest;
pub use canon::{Canon, Canonicalization};
#[cfg(feature = "rsa")]
pub use crypto::RsaSha256Signer;
pub use crypto::{DigestSigner, Ed25519Signer, SigningAlgorithm};
pub use dkim::sign::{BodyLength, HeaderSelection, MessageSigner, MultiSigner, SignRequest};
pub use error::Error;
pub use sha2;
