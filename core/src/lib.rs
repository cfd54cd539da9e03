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
//! Only RSA arithmetic allocates (through `alloc`).
//!
//! | module | RFC |
//! |---|---|
//! | [`canon`] | RFC 6376 §3.4 canonicalization |
//! | [`body_hash`] | RFC 6376 §3.7 body hash, §3.5 `l=` |
//! | [`header`] | RFC 5322 §2.2 header fields; RFC 6376 §5.4 selection |
//! | [`sign`] | RFC 6376 §3.5, §3.7, §5; RFC 8463 |
//! | [`domainkeys`] | RFC 4870 (DomainKeys signing and verification) |
//! | [`crypto`] | RFC 8017 (RSASSA-PKCS1-v1_5), RFC 8032 / RFC 8463 (Ed25519) |
//! | [`normalize`] | RFC 6376 §5.3 line-ending normalization |
//! | [`tag_list`] | RFC 6376 §3.2 tag=value lists, base64 values |
//! | [`signature_field`] | RFC 6376 §3.5 DKIM-Signature (received) |
//! | [`key_record`] | RFC 6376 §3.6.1 key records; RFC 4870 §3.2.3 DomainKeys records |
//! | [`public_key`] | RFC 5280 SPKI / RFC 8017 RSA keys, RFC 8463 §4 Ed25519 keys, RFC 8301 §3.2 limits |
//! | [`verify`] | RFC 6376 §6 verification, RFC 8301 policy, RFC 8601 §2.7.1 results |
//! | [`batv`] | draft-levine-smtp-batv-01 `prvs=` envelope tags (as Exim); RFC 5321 §4.5.3.1 limits |
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

extern crate alloc;

pub mod batv;
pub mod body_hash;
pub mod canon;
pub mod crypto;
pub mod domainkeys;
pub mod error;
pub mod header;
pub mod key_record;
pub mod link;
pub mod normalize;
pub mod public_key;
pub mod sign;
pub mod signature_field;
pub mod tag_list;
#[cfg(test)]
mod test_rng;
pub mod verify;

pub use body_hash::BodyInterest;
pub use canon::{Canon, Canonicalization};
pub use crypto::{DigestSigner, Ed25519Signer, RsaSha256Signer, SigningAlgorithm};
pub use error::Error;
pub use sha2;
pub use sign::{BodyLength, HeaderSelection, MessageSigner, SignRequest};
