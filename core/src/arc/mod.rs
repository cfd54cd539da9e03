//! ARC, the Authenticated Received Chain (RFC 8617): a forwarder or list
//! host records the authentication results it saw and seals them, so that
//! a receiver can still trust them after the list broke the author's DKIM
//! signature.
//!
//! ```text
//!  message chunks ──► HeaderSplitter ──► HeaderStore (every field; ARC sets by instance)
//!        │                                   │
//!        └─► body ──► BodyHasher per (c=, l=) ├─► ChainValidator: cv=none/pass/fail (§5.2)
//!                                            └─► ArcSealer: AAR, AMS, AS of i=N+1 (§5.1)
//! ```
//!
//! | module | what | RFC 8617 |
//! |---|---|---|
//! | [`seal`] | the ARC-Seal field | §4.1.3 |
//! | [`message_signature`] | the ARC-Message-Signature field (a DKIM-Signature with `i=` the instance) | §4.1.2 |
//! | [`auth_results`] | the ARC-Authentication-Results field and the authserv-id of Authentication-Results | §4.1.1; RFC 8601 §2.2 |
//! | [`validate`] | streaming chain validation | §5.2 |
//! | [`sealer`] | streaming sealing of the next set | §5.1 |
//!
//! Everything a protocol shares is DKIM's: the splitter and store
//! ([`crate::header`]), canonicalization and body hashes ([`crate::canon`]),
//! the `h=` selection and header hash ([`crate::dkim::sign`]), key records
//! and public keys ([`crate::dkim::key_record`], [`crate::dkim::public_key`]),
//! the key request ([`crate::dkim::verify::KeyRequest`]) and the signers
//! ([`crate::crypto::DigestSigner`]). The RFC 8301 rules hold: rsa-sha256
//! and ed25519-sha256 only, RSA keys of 1024 bits or more.

use core::fmt;

use crate::dkim::signature_field::parse_u64;

pub mod auth_results;
pub mod message_signature;
pub mod seal;
pub mod sealer;
pub mod validate;

pub use auth_results::{AarError, ArcAuthResults};
pub use message_signature::{AmsError, ArcMessageSignature};
pub use seal::{ArcSeal, SealFieldError};
pub use sealer::{ArcSealer, SealRequest, SealedSet, SealerError};
pub use validate::{ArcResult, ChainValidator, CheckFailure, Reason, ValidateOptions};

/// The highest instance a chain may reach (§4.2.1: "The maximum value is
/// 50"; §5.2 step 1: more sets are a fail).
pub const MAX_INSTANCES: usize = 50;

/// A chain validation status: the `cv=` of an ARC-Seal (§4.1.3) and the
/// result of validation (§5.2), as `arc=` reports it (§10.1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChainStatus {
    /// No ARC sets at all.
    None,
    /// Every seal and the newest AMS validated.
    Pass,
    /// Something did not.
    Fail,
}

impl ChainStatus {
    /// The name used in `cv=` and in Authentication-Results.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::None => "none",
            ChainStatus::Pass => "pass",
            ChainStatus::Fail => "fail",
        }
    }

    /// Parse a `cv=` value. The values are case-sensitive, like every tag
    /// value without a rule of its own (RFC 6376 §3.2).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" => Some(ChainStatus::None),
            "pass" => Some(ChainStatus::Pass),
            "fail" => Some(ChainStatus::Fail),
            _ => None,
        }
    }
}

impl fmt::Display for ChainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three header fields of an ARC set (§4.1).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Member {
    /// ARC-Authentication-Results (§4.1.1).
    AuthResults,
    /// ARC-Message-Signature (§4.1.2).
    MessageSignature,
    /// ARC-Seal (§4.1.3).
    Seal,
}

impl Member {
    /// The three, in the order an ARC-Seal hashes them (§5.1.1).
    pub const ALL: [Member; 3] = [Member::AuthResults, Member::MessageSignature, Member::Seal];

    /// The field name.
    pub fn field_name(self) -> &'static str {
        match self {
            Member::AuthResults => "ARC-Authentication-Results",
            Member::MessageSignature => "ARC-Message-Signature",
            Member::Seal => "ARC-Seal",
        }
    }

    /// The member a field name names, if any (case-insensitive).
    pub fn from_field_name(name: &[u8]) -> Option<Self> {
        Member::ALL
            .into_iter()
            .find(|m| name.eq_ignore_ascii_case(m.field_name().as_bytes()))
    }

    /// Index 0, 1 or 2, in [`Member::ALL`] order.
    pub(crate) fn index(self) -> usize {
        match self {
            Member::AuthResults => 0,
            Member::MessageSignature => 1,
            Member::Seal => 2,
        }
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field_name())
    }
}

/// Why an `i=` value is not an instance (§4.2.1:
/// `instance = [FWS] %x31-35 *1DIGIT [FWS]`, at most 50).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InstanceError {
    /// No `i=` tag.
    Missing,
    /// Empty, not decimal digits, or zero.
    Invalid,
    /// Over [`MAX_INSTANCES`].
    TooHigh,
}

impl fmt::Display for InstanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceError::Missing => f.write_str("no i= instance"),
            InstanceError::Invalid => f.write_str("i= is not an instance number"),
            InstanceError::TooHigh => write!(f, "i= is over {MAX_INSTANCES}"),
        }
    }
}

impl core::error::Error for InstanceError {}

/// Parse an `i=` value (already trimmed of FWS) as an instance, 1 to 50.
pub fn parse_instance(value: &str) -> Result<u8, InstanceError> {
    let n = parse_u64(value).ok_or(InstanceError::Invalid)?;
    if n == 0 || value.starts_with('0') {
        return Err(InstanceError::Invalid);
    }
    match u8::try_from(n) {
        Ok(i) if usize::from(i) <= MAX_INSTANCES => Ok(i),
        _ => Err(InstanceError::TooHigh),
    }
}

/// The instance of a raw ARC field of kind `member`, read without parsing
/// the rest: the `i=` tag of an AMS or AS, the leading `i=` of an AAR.
pub fn instance_of(member: Member, raw_field: &[u8]) -> Result<u8, InstanceError> {
    let value = crate::header::field_value(raw_field);
    match member {
        Member::AuthResults => auth_results::leading_instance(value).map(|(i, _)| i),
        Member::MessageSignature | Member::Seal => {
            for tag in crate::syntax::tag_list::TagIter::new(value) {
                match tag {
                    Ok(tag) if tag.name == "i" => return parse_instance(tag.value),
                    Ok(_) => {}
                    Err(_) => return Err(InstanceError::Missing),
                }
            }
            Err(InstanceError::Missing)
        }
    }
}

#[cfg(test)]
mod tests;
