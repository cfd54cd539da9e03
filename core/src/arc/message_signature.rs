//! The ARC-Message-Signature header field, RFC 8617 §4.1.2.
//!
//! "The AMS header field has the same syntax and semantics as the
//! DKIM-Signature field", with three differences: its name, no `v=`, and
//! `i=`, which is the ARC instance instead of the agent identifier. So it
//! is parsed by the DKIM-Signature parser ([`DkimSignature`], with
//! its ARC flavour), and only `i=` is read here. An AMS whose `h=`
//! names ARC-Seal is refused (§4.1.2: ARC-Seal fields "MUST NOT be
//! included"; the validation suite makes it a fail).

use core::fmt;

use super::{InstanceError, Member, instance_of};
use crate::dkim::signature_field::{DkimSignature, Flavor, SignatureFieldError, value_start};

/// Why an ARC-Message-Signature was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AmsError {
    /// The field is not named ARC-Message-Signature, or has no colon.
    NotAms,
    /// `i=` is not an instance.
    Instance(InstanceError),
    /// The DKIM-Signature syntax and rules refused it.
    Signature(SignatureFieldError),
    /// `h=` names ARC-Seal.
    SignsArcSeal,
}

impl fmt::Display for AmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AmsError::NotAms => f.write_str("not an ARC-Message-Signature field"),
            AmsError::Instance(e) => write!(f, "{e}"),
            AmsError::Signature(e) => write!(f, "{e}"),
            AmsError::SignsArcSeal => f.write_str("h= names ARC-Seal"),
        }
    }
}

impl core::error::Error for AmsError {}

/// A parsed ARC-Message-Signature: its instance and the DKIM-Signature
/// view of its tags (whose `identity` is always `None`).
#[derive(Debug, Clone)]
pub struct ArcMessageSignature<'a> {
    /// `i=`.
    pub instance: u8,
    /// Every other tag, as DKIM reads them; spans are relative to the
    /// whole field.
    pub signature: DkimSignature<'a>,
}

impl<'a> ArcMessageSignature<'a> {
    /// Parse a whole raw field: `ARC-Message-Signature:` and its value,
    /// folding CRLFs included, no final CRLF.
    pub fn parse_field(field: &'a [u8]) -> Result<Self, AmsError> {
        let start = value_start(field, b"ARC-Message-Signature").ok_or(AmsError::NotAms)?;
        let signature = DkimSignature::parse_at(field, start, Flavor::ArcMessage)
            .map_err(AmsError::Signature)?;
        let instance = instance_of(Member::MessageSignature, field).map_err(AmsError::Instance)?;
        if signature
            .signed_headers()
            .any(|h| h.eq_ignore_ascii_case("arc-seal"))
        {
            return Err(AmsError::SignsArcSeal);
        }
        Ok(ArcMessageSignature {
            instance,
            signature,
        })
    }
}
