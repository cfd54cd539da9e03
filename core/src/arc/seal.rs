//! The ARC-Seal header field, RFC 8617 §4.1.3.
//!
//! A tag-list (RFC 6376 §3.2, through [`crate::syntax::tag_list`]) with
//! `a=`, `b=`, `cv=`, `d=`, `i=`, `s=` and optionally `t=`. There is no
//! `bh=`, no `c=` (the seal is always relaxed, §5.1.1) and no `h=`: an
//! ARC-Seal with `h=` is refused (§4.1.3: "the ARC-Seal does not use the
//! h= tag"; the validation suite makes it a fail).

use core::fmt;

use super::{ChainStatus, InstanceError, parse_instance};
use crate::dkim::signature_field::{
    MAX_SIGNATURE_BYTES, SignatureAlgorithm, parse_algorithm, parse_timestamp, value_start,
};
use crate::syntax::dns_name::{NameError, check_dns_name};
use crate::syntax::tag_list::{Base64Error, Span, TagListError, decode_base64, parse_tag_list};

/// Most tag-specs accepted in one ARC-Seal (7 are defined; unknown tags
/// are ignored, RFC 6376 §3.2).
pub const MAX_SEAL_TAGS: usize = 16;

/// Why an ARC-Seal field was refused. Every one makes the chain fail
/// (§5.2 step 7).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SealFieldError {
    /// The field is not named ARC-Seal, or has no colon.
    NotArcSeal,
    /// The value is not a valid tag-list.
    TagList(TagListError),
    /// A required tag is missing (or empty, for `b=`).
    MissingTag(&'static str),
    /// `i=` is not an instance.
    Instance(InstanceError),
    /// `a=` names no known algorithm.
    UnknownAlgorithm,
    /// `b=` is not valid base64.
    BadBase64(Base64Error),
    /// `cv=` is not `none`, `pass` or `fail`.
    BadChainStatus,
    /// `d=` is not a domain name.
    BadDomain(NameError),
    /// `s=` is not a selector.
    BadSelector(NameError),
    /// `t=` is not a number.
    BadTimestamp,
    /// The seal has an `h=` tag.
    HasHeaderList,
}

impl fmt::Display for SealFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealFieldError::NotArcSeal => f.write_str("not an ARC-Seal field"),
            SealFieldError::TagList(e) => write!(f, "bad tag-list: {e}"),
            SealFieldError::MissingTag(t) => write!(f, "missing {t}= tag"),
            SealFieldError::Instance(e) => write!(f, "{e}"),
            SealFieldError::UnknownAlgorithm => f.write_str("unknown a= algorithm"),
            SealFieldError::BadBase64(e) => write!(f, "bad base64 in b=: {e}"),
            SealFieldError::BadChainStatus => f.write_str("cv= is not none, pass or fail"),
            SealFieldError::BadDomain(e) => write!(f, "bad d= domain: {e}"),
            SealFieldError::BadSelector(e) => write!(f, "bad s= selector: {e}"),
            SealFieldError::BadTimestamp => f.write_str("bad t= timestamp"),
            SealFieldError::HasHeaderList => f.write_str("an ARC-Seal has no h= tag"),
        }
    }
}

impl core::error::Error for SealFieldError {}

impl From<TagListError> for SealFieldError {
    fn from(e: TagListError) -> Self {
        SealFieldError::TagList(e)
    }
}

/// A parsed ARC-Seal, borrowing from the raw field.
#[derive(Debug, Clone)]
pub struct ArcSeal<'a> {
    raw: &'a [u8],
    /// `i=`.
    pub instance: u8,
    /// `a=`.
    pub algorithm: SignatureAlgorithm,
    signature: heapless::Vec<u8, MAX_SIGNATURE_BYTES>,
    /// `cv=`.
    pub chain: ChainStatus,
    /// `d=`.
    pub domain: &'a str,
    /// `s=`.
    pub selector: &'a str,
    /// `t=`, if present.
    pub timestamp: Option<u64>,
    /// From just after `b=`'s `=` to the `;` that ends it: what the hash
    /// leaves out (RFC 6376 §3.7, as §5.1.1 applies it).
    pub b_deleted_span: Span,
}

impl<'a> ArcSeal<'a> {
    /// Parse a whole raw field: `ARC-Seal:` and its value, folding CRLFs
    /// included, no final CRLF.
    pub fn parse_field(field: &'a [u8]) -> Result<Self, SealFieldError> {
        let start = value_start(field, b"ARC-Seal").ok_or(SealFieldError::NotArcSeal)?;
        let value = field.get(start..).unwrap_or_default();
        let tags = parse_tag_list::<MAX_SEAL_TAGS>(value)?;
        let need = |name: &'static str| {
            tags.get(name)
                .map(|t| t.value)
                .ok_or(SealFieldError::MissingTag(name))
        };
        if tags.get("h").is_some() {
            return Err(SealFieldError::HasHeaderList);
        }
        let instance = parse_instance(need("i")?).map_err(SealFieldError::Instance)?;
        let algorithm =
            parse_algorithm(need("a")?).map_err(|_| SealFieldError::UnknownAlgorithm)?;
        let chain = ChainStatus::from_name(need("cv")?).ok_or(SealFieldError::BadChainStatus)?;
        let domain = need("d")?;
        check_dns_name(domain.as_bytes()).map_err(SealFieldError::BadDomain)?;
        let selector = need("s")?;
        check_dns_name(selector.as_bytes()).map_err(SealFieldError::BadSelector)?;
        let timestamp = match tags.get("t") {
            None => None,
            Some(t) => Some(parse_timestamp(t.value).ok_or(SealFieldError::BadTimestamp)?),
        };
        let b = tags.get("b").ok_or(SealFieldError::MissingTag("b"))?;
        let mut signature = heapless::Vec::new();
        signature
            .resize_default(MAX_SIGNATURE_BYTES)
            .map_err(|_| SealFieldError::BadBase64(Base64Error::OutputTooSmall))?;
        let n =
            decode_base64(b.value.as_bytes(), &mut signature).map_err(SealFieldError::BadBase64)?;
        if n == 0 {
            return Err(SealFieldError::MissingTag("b"));
        }
        signature.truncate(n);
        Ok(ArcSeal {
            raw: field,
            instance,
            algorithm,
            signature,
            chain,
            domain,
            selector,
            timestamp,
            b_deleted_span: b.after_equals.shifted(start),
        })
    }

    /// The bytes this was parsed from.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The decoded `b=`.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The raw field split around the deleted `b=` value.
    pub fn hash_parts(&self) -> (&'a [u8], &'a [u8]) {
        let before = self
            .raw
            .get(..self.b_deleted_span.start)
            .unwrap_or_default();
        let after = self.raw.get(self.b_deleted_span.end..).unwrap_or_default();
        (before, after)
    }
}
