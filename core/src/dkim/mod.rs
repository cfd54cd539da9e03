//! DKIM (RFC 6376), with ed25519-sha256 (RFC 8463) and the RFC 8301 rules.
//!
//! | module | RFC |
//! |---|---|
//! | [`signature_field`] | RFC 6376 §3.5 DKIM-Signature (received) |
//! | [`key_record`] | RFC 6376 §3.6.1 key records; RFC 4870 §3.2.3 DomainKeys records |
//! | [`public_key`] | RFC 5280 SPKI / RFC 8017 RSA keys, RFC 8463 §4 Ed25519 keys, RFC 8301 §3.2 limits |
//! | [`sign`] | RFC 6376 §3.5, §3.7, §5; RFC 8463 |
//! | [`verify`] | RFC 6376 §6 verification, RFC 8301 policy, RFC 8601 §2.7.1 results |

pub mod key_record;
pub mod public_key;
pub mod sign;
pub mod signature_field;
pub mod verify;
