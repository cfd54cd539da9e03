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

pub use sha2;

pub mod key_record;
pub mod link;
pub mod public_key;
pub mod signature_field;
pub mod tag_list;
#[cfg(test)]
mod test_rng;
