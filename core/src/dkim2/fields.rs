//! The two DKIM2 header fields: `DKIM2-Signature` (draft-03 §7), one per
//! hop, and `Message-Instance`, one per version of the message.
//!
//! Both are tag-lists in DKIM's syntax ([`crate::syntax::tag_list`]), with
//! two rules of their own: tag names are case-insensitive, and every tag,
//! known or not, may occur once (§7: "MUST be only one of each kind").
//! The parsers borrow the field and decode nothing until asked, so a
//! parsed field costs a few dozen bytes.

use core::fmt;

use crate::dkim::signature_field::{SignatureAlgorithm, parse_u64};
use crate::header::field_value;
use crate::syntax::dns_name::check_dns_name;
use crate::syntax::tag_list::{Span, TagIter, TagListError, decode_base64};

use super::MAX_PATH;

/// The DKIM2-Signature field name.
pub const SIGNATURE_FIELD: &str = "DKIM2-Signature";
/// The Message-Instance field name.
pub const INSTANCE_FIELD: &str = "Message-Instance";

/// The most entries of `s=` (one per algorithm: RSA and Ed25519 today,
/// and room for two not yet known).
pub const MAX_SIGNATURE_VALUES: usize = 4;

/// The longest nonce, `n=` (§7.3: "MUST NOT exceed 64 characters").
pub const MAX_NONCE: usize = 64;

/// The most distinct tags one field may carry (known ones included).
const MAX_TAGS: usize = 16;

/// Why a DKIM2-Signature or Message-Instance field was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FieldError {
    /// Not a tag-list.
    TagList(TagListError),
    /// A tag occurs twice (names compared without regard to case, §7).
    DuplicateTag,
    /// More than 16 distinct tags.
    TooManyTags,
    /// A required tag is missing.
    MissingTag(&'static str),
    /// `i=` is not a number from 1 up.
    BadInstance,
    /// `m=` is not a number from 1 up.
    BadRevision,
    /// `t=` is not a number.
    BadTimestamp,
    /// `d=` or `nd=` is not a domain name.
    BadDomain,
    /// `nd=` together with `mf=` or `rt=`.
    BindingConflict,
    /// `mf=` or an `rt=` item is not base64 of a UTF-8 path of at most
    /// [`MAX_PATH`] bytes.
    BadAddress,
    /// `s=` is empty.
    NoSignatures,
    /// An `s=` entry is not `selector:algorithm:signature`.
    BadSignatureValue,
    /// Two `s=` entries with one algorithm.
    DuplicateAlgorithm,
    /// More than [`MAX_SIGNATURE_VALUES`] entries in `s=`.
    TooManySignatures,
    /// `n=` is longer than [`MAX_NONCE`].
    NonceTooLong,
    /// A Message-Instance `h=` entry is not `name:base64:base64`, or a
    /// sha256 hash is not 32 bytes.
    BadHashes,
    /// Two `h=` entries for sha256.
    DuplicateHash,
    /// `r=` is not base64.
    BadRecipe,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::TagList(e) => write!(f, "not a tag-list: {e}"),
            FieldError::DuplicateTag => f.write_str("a tag occurs twice"),
            FieldError::TooManyTags => write!(f, "more than {MAX_TAGS} tags"),
            FieldError::MissingTag(t) => write!(f, "no {t}= tag"),
            FieldError::BadInstance => f.write_str("i= is not a number from 1"),
            FieldError::BadRevision => f.write_str("m= is not a number from 1"),
            FieldError::BadTimestamp => f.write_str("t= is not a number"),
            FieldError::BadDomain => f.write_str("d= or nd= is not a domain name"),
            FieldError::BindingConflict => f.write_str("nd= together with mf= or rt="),
            FieldError::BadAddress => f.write_str("mf= or rt= is not base64 of a path"),
            FieldError::NoSignatures => f.write_str("s= is empty"),
            FieldError::BadSignatureValue => {
                f.write_str("an s= entry is not selector:algorithm:signature")
            }
            FieldError::DuplicateAlgorithm => f.write_str("two s= entries for one algorithm"),
            FieldError::TooManySignatures => {
                write!(f, "more than {MAX_SIGNATURE_VALUES} s= entries")
            }
            FieldError::NonceTooLong => write!(f, "n= is longer than {MAX_NONCE}"),
            FieldError::BadHashes => f.write_str("h= is not name:header-hash:body-hash"),
            FieldError::DuplicateHash => f.write_str("two sha256 entries in h="),
            FieldError::BadRecipe => f.write_str("r= is not base64"),
        }
    }
}

impl core::error::Error for FieldError {}

impl From<TagListError> for FieldError {
    fn from(e: TagListError) -> Self {
        FieldError::TagList(e)
    }
}

/// Walk a tag-list, with names compared without regard to case and every
/// name allowed once (§7).
fn each_tag<'a>(
    value: &'a [u8],
    mut on_tag: impl FnMut(&'a str, &'a str, Span) -> Result<(), FieldError>,
) -> Result<(), FieldError> {
    let mut seen: heapless::Vec<&str, MAX_TAGS> = heapless::Vec::new();
    for tag in TagIter::new(value) {
        let tag = tag?;
        if seen.iter().any(|s| s.eq_ignore_ascii_case(tag.name)) {
            return Err(FieldError::DuplicateTag);
        }
        seen.push(tag.name).map_err(|_| FieldError::TooManyTags)?;
        on_tag(tag.name, tag.value, tag.value_span)?;
    }
    Ok(())
}

fn number_from_one(value: &str, error: FieldError) -> Result<u32, FieldError> {
    parse_u64(value)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n >= 1)
        .ok_or(error)
}

/// How a signature binds the message to its next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// `mf=` and `rt=`: the SMTP envelope this hop sent with, each path
    /// base64 of the RFC 5321 path with its angle brackets. `rcpt_to` is
    /// the raw comma-separated list.
    Envelope {
        /// `mf=`, base64.
        mail_from: &'a str,
        /// `rt=`, comma-separated base64 items.
        rcpt_to: &'a str,
    },
    /// `nd=`: the domain of the next signature, for a hop with no SMTP
    /// transaction.
    NextDomain(&'a str),
}

/// One `s=` entry with an algorithm mass knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureValue<'a> {
    /// The selector: the key is at `selector._domainkey.d`.
    pub selector: &'a str,
    /// rsa-sha256 or ed25519-sha256.
    pub algorithm: SignatureAlgorithm,
    /// The signature, base64 (FWS inside is allowed).
    pub signature: &'a str,
}

/// A parsed DKIM2-Signature field (§7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dkim2Signature<'a> {
    /// `i=`: the hop, from 1 for the originator.
    pub instance: u32,
    /// `m=`: the highest Message-Instance when this hop signed.
    pub revision: u32,
    /// `t=`: when it signed.
    pub timestamp: u64,
    /// `d=`: the signing domain.
    pub domain: &'a str,
    /// `mf=`/`rt=` or `nd=`.
    pub binding: Binding<'a>,
    /// The `s=` entries with a known algorithm. Entries naming an unknown
    /// algorithm are skipped, and so is rsa-sha1 (RFC 8301 §3.1): a
    /// signature with none left cannot pass.
    pub signatures: heapless::Vec<SignatureValue<'a>, MAX_SIGNATURE_VALUES>,
    /// `n=`, the signer's nonce.
    pub nonce: Option<&'a str>,
    /// `f=`, the raw comma-separated flags.
    pub flags: Option<&'a str>,
    /// Where the value of `s=` lies in the parsed value: the signature
    /// input leaves the signatures in it out.
    pub s_span: Span,
}

impl<'a> Dkim2Signature<'a> {
    /// Parse a whole raw field (`DKIM2-Signature:value`, folds included).
    /// Spans are relative to the field value.
    pub fn parse_field(field: &'a [u8]) -> Result<Self, FieldError> {
        Self::parse(field_value(field))
    }

    /// Parse a field value.
    pub fn parse(value: &'a [u8]) -> Result<Self, FieldError> {
        let mut instance = None;
        let mut revision = None;
        let mut timestamp = None;
        let mut domain = None;
        let mut mail_from = None;
        let mut rcpt_to = None;
        let mut next_domain = None;
        let mut s = None;
        let mut nonce = None;
        let mut flags = None;
        each_tag(value, |name, v, span| {
            match known(name) {
                Known::I => instance = Some(number_from_one(v, FieldError::BadInstance)?),
                Known::M => revision = Some(number_from_one(v, FieldError::BadRevision)?),
                Known::T => timestamp = Some(parse_u64(v).ok_or(FieldError::BadTimestamp)?),
                Known::D => domain = Some(v),
                Known::Mf => mail_from = Some(v),
                Known::Rt => rcpt_to = Some(v),
                Known::Nd => next_domain = Some(v),
                Known::S => s = Some((v, span)),
                Known::N => nonce = Some(v),
                Known::F => flags = Some(v),
                Known::H | Known::R | Known::Other => {}
            }
            Ok(())
        })?;
        let domain = domain.ok_or(FieldError::MissingTag("d"))?;
        check_dns_name(domain.as_bytes()).map_err(|_| FieldError::BadDomain)?;
        let binding = match (next_domain, mail_from, rcpt_to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(FieldError::BindingConflict);
            }
            (Some(nd), None, None) => {
                check_dns_name(nd.as_bytes()).map_err(|_| FieldError::BadDomain)?;
                Binding::NextDomain(nd)
            }
            (None, Some(mail_from), Some(rcpt_to)) => Binding::Envelope { mail_from, rcpt_to },
            (None, None, _) => return Err(FieldError::MissingTag("mf")),
            (None, Some(_), None) => return Err(FieldError::MissingTag("rt")),
        };
        if let Some(n) = nonce
            && n.len() > MAX_NONCE
        {
            return Err(FieldError::NonceTooLong);
        }
        let (s_value, s_span) = s.ok_or(FieldError::MissingTag("s"))?;
        let signatures = parse_signature_values(s_value)?;
        Ok(Dkim2Signature {
            instance: instance.ok_or(FieldError::MissingTag("i"))?,
            revision: revision.ok_or(FieldError::MissingTag("m"))?,
            timestamp: timestamp.ok_or(FieldError::MissingTag("t"))?,
            domain,
            binding,
            signatures,
            nonce,
            flags,
            s_span,
        })
    }

    /// The flags of `f=`, each trimmed of whitespace (§7.9), empty ones
    /// left out.
    pub fn flag_names(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.flags
            .unwrap_or_default()
            .split(',')
            .map(trim_fws)
            .filter(|f| !f.is_empty())
    }
}

/// `s=`: comma-separated `selector:algorithm:signature` entries.
fn parse_signature_values(
    value: &str,
) -> Result<heapless::Vec<SignatureValue<'_>, MAX_SIGNATURE_VALUES>, FieldError> {
    if trim_fws(value).is_empty() {
        return Err(FieldError::NoSignatures);
    }
    let mut out: heapless::Vec<SignatureValue<'_>, MAX_SIGNATURE_VALUES> = heapless::Vec::new();
    let mut names: heapless::Vec<&str, MAX_SIGNATURE_VALUES> = heapless::Vec::new();
    for entry in value.split(',') {
        let mut parts = entry.splitn(3, ':');
        let (Some(selector), Some(algorithm), Some(signature)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(FieldError::BadSignatureValue);
        };
        let (selector, algorithm) = (trim_fws(selector), trim_fws(algorithm));
        if selector.is_empty() || algorithm.is_empty() {
            return Err(FieldError::BadSignatureValue);
        }
        if names.iter().any(|n| n.eq_ignore_ascii_case(algorithm)) {
            return Err(FieldError::DuplicateAlgorithm);
        }
        names
            .push(algorithm)
            .map_err(|_| FieldError::TooManySignatures)?;
        let algorithm = match algorithm {
            "rsa-sha256" => SignatureAlgorithm::RsaSha256,
            "ed25519-sha256" => SignatureAlgorithm::Ed25519Sha256,
            // rsa-sha1 and names not yet known never pass (RFC 8301).
            _ => continue,
        };
        // Within capacity: `names` holds at least as many.
        let _ = out.push(SignatureValue {
            selector,
            algorithm,
            signature: trim_fws(signature),
        });
    }
    Ok(out)
}

/// Decode one base64 path (`mf=` or an `rt=` item) into `out`.
pub fn decode_path<'o>(b64: &str, out: &'o mut [u8; MAX_PATH]) -> Result<&'o str, FieldError> {
    let n = decode_base64(b64.as_bytes(), out).map_err(|_| FieldError::BadAddress)?;
    let bytes = out.get(..n).ok_or(FieldError::BadAddress)?;
    core::str::from_utf8(bytes).map_err(|_| FieldError::BadAddress)
}

/// The base64 items of an `rt=` value.
pub fn rcpt_items(rcpt_to: &str) -> impl Iterator<Item = &str> {
    rcpt_to.split(',').map(trim_fws)
}

/// A parsed Message-Instance field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInstance<'a> {
    /// `m=`: which version, from 1 for the original.
    pub revision: u32,
    /// The sha256 entry of `h=`: (header hash, body hash). Entries for
    /// other hash names are skipped.
    pub sha256: Option<([u8; 32], [u8; 32])>,
    /// `r=`, the recipe back to the previous instance, base64 of JSON.
    pub recipe: Option<&'a str>,
}

impl<'a> MessageInstance<'a> {
    /// Parse a whole raw field (`Message-Instance:value`).
    pub fn parse_field(field: &'a [u8]) -> Result<Self, FieldError> {
        Self::parse(field_value(field))
    }

    /// Parse a field value.
    pub fn parse(value: &'a [u8]) -> Result<Self, FieldError> {
        let mut revision = None;
        let mut hashes = None;
        let mut recipe = None;
        each_tag(value, |name, v, _| {
            match known(name) {
                Known::M => revision = Some(number_from_one(v, FieldError::BadRevision)?),
                Known::H => hashes = Some(v),
                Known::R => recipe = Some(v),
                _ => {}
            }
            Ok(())
        })?;
        let mut sha256 = None;
        for entry in hashes.ok_or(FieldError::MissingTag("h"))?.split(',') {
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(header), Some(body)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(FieldError::BadHashes);
            };
            if trim_fws(name) != "sha256" {
                continue;
            }
            if sha256.is_some() {
                return Err(FieldError::DuplicateHash);
            }
            sha256 = Some((digest32(header)?, digest32(body)?));
        }
        if let Some(r) = recipe
            && (r.is_empty()
                || !r
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/= \t\r\n".contains(&b)))
        {
            return Err(FieldError::BadRecipe);
        }
        Ok(MessageInstance {
            revision: revision.ok_or(FieldError::MissingTag("m"))?,
            sha256,
            recipe,
        })
    }
}

fn digest32(b64: &str) -> Result<[u8; 32], FieldError> {
    let mut out = [0u8; 32];
    // One more byte than a digest, so a longer value is seen as wrong.
    let mut buf = [0u8; 33];
    let n = decode_base64(b64.as_bytes(), &mut buf).map_err(|_| FieldError::BadHashes)?;
    if n != 32 {
        return Err(FieldError::BadHashes);
    }
    out.copy_from_slice(buf.get(..32).ok_or(FieldError::BadHashes)?);
    Ok(out)
}

/// Trim FWS (space, tab, CR, LF) at both ends.
pub(crate) fn trim_fws(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// The tags DKIM2 knows, matched without regard to case.
#[derive(Clone, Copy)]
enum Known {
    I,
    M,
    T,
    D,
    Mf,
    Rt,
    Nd,
    S,
    N,
    F,
    H,
    R,
    Other,
}

/// Which tag `name` is.
fn known(name: &str) -> Known {
    const NAMES: [(&str, Known); 12] = [
        ("i", Known::I),
        ("m", Known::M),
        ("t", Known::T),
        ("d", Known::D),
        ("mf", Known::Mf),
        ("rt", Known::Rt),
        ("nd", Known::Nd),
        ("s", Known::S),
        ("n", Known::N),
        ("f", Known::F),
        ("h", Known::H),
        ("r", Known::R),
    ];
    NAMES
        .into_iter()
        .find(|(n, _)| name.eq_ignore_ascii_case(n))
        .map_or(Known::Other, |(_, k)| k)
}
