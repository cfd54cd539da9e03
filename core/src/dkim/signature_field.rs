//! The DKIM-Signature header field, RFC 6376 §3.5, as a verifier receives it.
//!
//! [`DkimSignature::parse_field`] takes a raw field (`DKIM-Signature:` and
//! its value, folding CRLFs included, no final CRLF) and returns a typed view
//! that borrows from it. Every tag's syntax is checked; anything that §3.5,
//! §6.1.1 or this crate's policy cannot accept is a [`SignatureFieldError`],
//! which a verifier reports as permerror (RFC 8601 §2.7.1), except
//! [`SignatureFieldError::IdentityNotInDomain`] (see there).
//!
//! The decoded `b=` and `bh=` live in fixed buffers inside the struct:
//! [`MAX_SIGNATURE_BYTES`] is enough for RSA-8192.
//!
//! For hashing (§3.7) the verifier needs the field with the `b=` value
//! deleted: [`DkimSignature::hash_parts`] gives the bytes before and after it.

use core::fmt;

use crate::canon::Canonicalization;
use crate::syntax::dns_name::{NameError, check_dns_name, is_same_or_subdomain};
use crate::syntax::field_name::is_field_name;
use crate::syntax::tag_list::{
    Base64Error, Span, TagListError, colon_list, decode_base64, parse_tag_list,
};

/// Largest decoded `b=` accepted: an RSA-8192 signature (RFC 8301 §3.2).
pub const MAX_SIGNATURE_BYTES: usize = 1024;

/// Largest decoded `bh=`: a SHA-256 digest.
pub const MAX_BODY_HASH_BYTES: usize = 32;

/// Most tag-specs accepted in one DKIM-Signature (14 are defined; the rest
/// of the room is for unknown tags, which §3.2 says to ignore).
pub const MAX_SIGNATURE_TAGS: usize = 32;

/// Most names accepted in `h=`; a longer list is permerror before any key
/// lookup. Real lists have a few dozen names, but a signer that oversigns
/// every field several times (§5.4.2, §8.15) can write hundreds. The names
/// are read from the stored field, never copied, so the limit costs no
/// memory: it bounds time. Selecting the instances is one pass over the
/// kept fields per name ([`HeaderStore::select`]), so 1024 names against
/// the 128 fields `mass serve` keeps is about 131,000 name comparisons per
/// signature.
///
/// [`HeaderStore::select`]: crate::header::HeaderStore::select
pub const MAX_SIGNED_HEADERS: usize = 1024;

/// Timestamps of more than 12 significant digits (§3.5 allows `1*12DIGIT`)
/// are read as this value: infinitely far in the future.
pub const FAR_FUTURE: u64 = u64::MAX;

/// The `a=` tag (§3.5, RFC 8463 §3). rsa-sha1 is recognised so that policy
/// (RFC 8301 §3.1) can refuse it by name.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignatureAlgorithm {
    /// `rsa-sha256`, RFC 6376 §3.3.1.
    RsaSha256,
    /// `ed25519-sha256`, RFC 8463 §3.
    Ed25519Sha256,
    /// `rsa-sha1`, RFC 6376 §3.3.1; never a pass (RFC 8301 §3.1).
    RsaSha1,
}

impl SignatureAlgorithm {
    /// The name used in `a=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha256 => "rsa-sha256",
            SignatureAlgorithm::Ed25519Sha256 => "ed25519-sha256",
            SignatureAlgorithm::RsaSha1 => "rsa-sha1",
        }
    }

    /// The key type this algorithm needs (the key record's `k=`).
    pub fn key_type(self) -> KeyType {
        match self {
            SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::RsaSha1 => KeyType::Rsa,
            SignatureAlgorithm::Ed25519Sha256 => KeyType::Ed25519,
        }
    }

    /// The hash this algorithm uses (the key record's `h=`).
    pub fn hash(self) -> HashAlgorithm {
        match self {
            SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::Ed25519Sha256 => {
                HashAlgorithm::Sha256
            }
            SignatureAlgorithm::RsaSha1 => HashAlgorithm::Sha1,
        }
    }
}

/// Key types of `k=` (RFC 6376 §3.6.1, RFC 8463 §4).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyType {
    /// `rsa`.
    Rsa,
    /// `ed25519`.
    Ed25519,
}

/// Hash algorithms named in `a=` and a key record's `h=`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-1.
    Sha1,
}

impl HashAlgorithm {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha1 => 20,
        }
    }
}

/// The tags of a DKIM-Signature, for error reports.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignatureTag {
    /// `v=`
    V,
    /// `a=`
    A,
    /// `b=`
    B,
    /// `bh=`
    Bh,
    /// `c=`
    C,
    /// `d=`
    D,
    /// `h=`
    H,
    /// `i=`
    I,
    /// `l=`
    L,
    /// `q=`
    Q,
    /// `s=`
    S,
    /// `t=`
    T,
    /// `x=`
    X,
    /// `z=`
    Z,
}

impl SignatureTag {
    /// The tag name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureTag::V => "v",
            SignatureTag::A => "a",
            SignatureTag::B => "b",
            SignatureTag::Bh => "bh",
            SignatureTag::C => "c",
            SignatureTag::D => "d",
            SignatureTag::H => "h",
            SignatureTag::I => "i",
            SignatureTag::L => "l",
            SignatureTag::Q => "q",
            SignatureTag::S => "s",
            SignatureTag::T => "t",
            SignatureTag::X => "x",
            SignatureTag::Z => "z",
        }
    }
}

/// Why a DKIM-Signature field was rejected.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignatureFieldError {
    /// The field name is not `DKIM-Signature`, or there is no `:`.
    NotDkimSignature,
    /// The value is not a valid tag-list (§3.2): bad syntax, a bad tag
    /// name, a duplicate tag, or a byte outside the grammar (non-UTF-8,
    /// NUL, a U-label).
    TagList(TagListError),
    /// A required tag (`v`, `a`, `b`, `bh`, `d`, `h`, `s`) is missing
    /// (§6.1.1).
    MissingTag(SignatureTag),
    /// `v=` is not `1` (§3.5).
    UnsupportedVersion,
    /// `a=` names an algorithm this verifier does not know.
    UnknownAlgorithm,
    /// `c=` names an unknown canonicalization.
    UnknownCanonicalization,
    /// `b=` or `bh=` is empty or not valid base64.
    BadBase64 {
        /// Which tag.
        tag: SignatureTag,
        /// What was wrong.
        reason: Base64Error,
    },
    /// `bh=` does not have the length of the `a=` hash.
    BodyHashLength,
    /// `d=` is not a valid domain name.
    BadDomain(NameError),
    /// `s=` is not a valid selector.
    BadSelector(NameError),
    /// `h=` has an empty or invalid header field name.
    BadSignedHeaderName,
    /// `h=` names more than [`MAX_SIGNED_HEADERS`] fields.
    TooManySignedHeaders,
    /// `h=` does not include From (§5.4, §6.1.1).
    FromNotSigned,
    /// `i=` has no `@`, or its domain is not a valid domain name.
    BadIdentity,
    /// The domain of `i=` is neither `d=` nor a subdomain of it (§6.1.1:
    /// "domain mismatch"). A verifier may report this as fail rather than
    /// permerror; the security cases (row 8) ask for fail.
    IdentityNotInDomain,
    /// `l=` is not a decimal number that fits 64 bits.
    BadBodyLength,
    /// `q=` lists no method this verifier supports (only `dns/txt`).
    UnsupportedQueryMethod,
    /// `t=` or `x=` is not a decimal number.
    BadTimestamp(SignatureTag),
    /// `x=` is not after `t=` (§3.5).
    ExpiresBeforeSigned,
}

impl fmt::Display for SignatureFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureFieldError::NotDkimSignature => f.write_str("not a DKIM-Signature field"),
            SignatureFieldError::TagList(e) => write!(f, "bad tag-list: {e}"),
            SignatureFieldError::MissingTag(t) => write!(f, "missing {}= tag", t.as_str()),
            SignatureFieldError::UnsupportedVersion => f.write_str("v= is not 1"),
            SignatureFieldError::UnknownAlgorithm => f.write_str("unknown a= algorithm"),
            SignatureFieldError::UnknownCanonicalization => f.write_str("unknown c= algorithm"),
            SignatureFieldError::BadBase64 { tag, reason } => {
                write!(f, "bad base64 in {}=: {reason}", tag.as_str())
            }
            SignatureFieldError::BodyHashLength => f.write_str("bh= has the wrong length"),
            SignatureFieldError::BadDomain(e) => write!(f, "bad d= domain: {e}"),
            SignatureFieldError::BadSelector(e) => write!(f, "bad s= selector: {e}"),
            SignatureFieldError::BadSignedHeaderName => f.write_str("bad header name in h="),
            SignatureFieldError::TooManySignedHeaders => {
                write!(f, "h= names more than {MAX_SIGNED_HEADERS} fields")
            }
            SignatureFieldError::FromNotSigned => f.write_str("h= does not include From"),
            SignatureFieldError::BadIdentity => f.write_str("bad i= identity"),
            SignatureFieldError::IdentityNotInDomain => {
                f.write_str("i= domain is not d= or a subdomain of it")
            }
            SignatureFieldError::BadBodyLength => f.write_str("bad l= body length"),
            SignatureFieldError::UnsupportedQueryMethod => f.write_str("no supported q= method"),
            SignatureFieldError::BadTimestamp(t) => write!(f, "bad {}= timestamp", t.as_str()),
            SignatureFieldError::ExpiresBeforeSigned => f.write_str("x= is not after t="),
        }
    }
}

impl core::error::Error for SignatureFieldError {}

impl From<TagListError> for SignatureFieldError {
    fn from(e: TagListError) -> Self {
        SignatureFieldError::TagList(e)
    }
}

/// Which field a signature tag-list comes from. ARC-Message-Signature has
/// "the same syntax and semantics as the DKIM-Signature field" but for
/// three things (RFC 8617 §4.1.2): its name, no `v=` (ignored if present),
/// and `i=`, which is the ARC instance, not an identity. ARC also does not
/// ask `h=` to name From, and allows an empty `h=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// DKIM-Signature (RFC 6376 §3.5).
    Dkim,
    /// ARC-Message-Signature (RFC 8617 §4.1.2): `i=` and `v=` are left to
    /// the caller.
    ArcMessage,
}

/// A parsed DKIM-Signature field (RFC 6376 §3.5), borrowing from the raw
/// field.
#[derive(Debug, Clone)]
pub struct DkimSignature<'a> {
    raw: &'a [u8],
    /// `a=`.
    pub algorithm: SignatureAlgorithm,
    signature: heapless::Vec<u8, MAX_SIGNATURE_BYTES>,
    body_hash: heapless::Vec<u8, MAX_BODY_HASH_BYTES>,
    /// `c=` (default simple/simple).
    pub canonicalization: Canonicalization,
    /// `d=`, checked with [`check_dns_name`].
    pub domain: &'a str,
    /// `h=` as written (FWS included); see [`DkimSignature::signed_headers`].
    pub signed_headers_raw: &'a str,
    /// `i=` as written, if present (it may hold dkim-quoted-printable).
    pub identity: Option<&'a str>,
    /// `l=`, if present.
    pub body_length: Option<u64>,
    /// `s=`, checked with [`check_dns_name`].
    pub selector: &'a str,
    /// `t=`, if present; [`FAR_FUTURE`] if it had more than 12 digits.
    pub timestamp: Option<u64>,
    /// `x=`, if present; [`FAR_FUTURE`] if it had more than 12 digits.
    pub expiration: Option<u64>,
    /// `z=` as written, if present.
    pub copied_headers: Option<&'a str>,
    /// Where the `b=` value (without whitespace around it) lies in `raw`.
    pub b_value_span: Span,
    /// From just after `b=`'s `=` to the `;` that ends it (or the end): the
    /// bytes §3.7 deletes when hashing this field.
    pub b_deleted_span: Span,
}

impl<'a> DkimSignature<'a> {
    /// Parse a whole raw header field: `DKIM-Signature:` (any case, WSP
    /// allowed before the colon) and its value, folding CRLFs included and
    /// no final CRLF. Spans are relative to `field`.
    pub fn parse_field(field: &'a [u8]) -> Result<Self, SignatureFieldError> {
        let start =
            value_start(field, b"DKIM-Signature").ok_or(SignatureFieldError::NotDkimSignature)?;
        Self::parse_at(field, start, Flavor::Dkim)
    }

    /// Parse a field value alone (what follows `DKIM-Signature:`). Spans are
    /// relative to `value`.
    pub fn parse(value: &'a [u8]) -> Result<Self, SignatureFieldError> {
        Self::parse_at(value, 0, Flavor::Dkim)
    }

    /// Parse the tag-list that starts at `raw[value_start..]` as `flavor`
    /// has it. Spans are relative to `raw`.
    pub(crate) fn parse_at(
        raw: &'a [u8],
        value_start: usize,
        flavor: Flavor,
    ) -> Result<Self, SignatureFieldError> {
        use SignatureFieldError as E;
        use SignatureTag as T;

        let value = raw.get(value_start..).unwrap_or_default();
        let tags = parse_tag_list::<MAX_SIGNATURE_TAGS>(value)?;
        let get = |name: &str| tags.get(name);
        let need = |t: SignatureTag| tags.get(t.as_str()).ok_or(E::MissingTag(t));

        // v= (§3.5: "MUST have the value 1"); ARC has none (RFC 8617
        // §4.1.2: ignored if seen).
        if flavor == Flavor::Dkim && need(T::V)?.value != "1" {
            return Err(E::UnsupportedVersion);
        }

        let algorithm = parse_algorithm(need(T::A)?.value)?;

        let canonicalization = match get("c") {
            None => Canonicalization::SIMPLE,
            Some(c) => {
                Canonicalization::parse(c.value.as_bytes()).ok_or(E::UnknownCanonicalization)?
            }
        };

        let domain = need(T::D)?.value;
        check_dns_name(domain.as_bytes()).map_err(E::BadDomain)?;

        let selector = need(T::S)?.value;
        check_dns_name(selector.as_bytes()).map_err(E::BadSelector)?;

        let signed_headers_raw = need(T::H)?.value;
        let mut from_signed = false;
        for (count, name) in colon_list(signed_headers_raw).enumerate() {
            if count >= MAX_SIGNED_HEADERS {
                return Err(E::TooManySignedHeaders);
            }
            // An ARC h= may be empty: it then signs only the AMS itself.
            let empty_arc = flavor == Flavor::ArcMessage && name.is_empty();
            if !empty_arc && !is_field_name(name.as_bytes()) {
                return Err(E::BadSignedHeaderName);
            }
            from_signed |= name.eq_ignore_ascii_case("from");
        }
        if flavor == Flavor::Dkim && !from_signed {
            return Err(E::FromNotSigned);
        }

        let identity = match get("i") {
            Some(i) if flavor == Flavor::Dkim => {
                check_identity(i.value, domain)?;
                Some(i.value)
            }
            _ => None,
        };

        let body_length = match get("l") {
            None => None,
            Some(l) => Some(parse_u64(l.value).ok_or(E::BadBodyLength)?),
        };

        if let Some(q) = get("q")
            && !colon_list(q.value).any(|m| m.eq_ignore_ascii_case("dns/txt"))
        {
            return Err(E::UnsupportedQueryMethod);
        }

        let timestamp = match get("t") {
            None => None,
            Some(t) => Some(parse_timestamp(t.value).ok_or(E::BadTimestamp(T::T))?),
        };
        let expiration = match get("x") {
            None => None,
            Some(x) => Some(parse_timestamp(x.value).ok_or(E::BadTimestamp(T::X))?),
        };
        if let (Some(t), Some(x)) = (timestamp, expiration)
            && x <= t
        {
            return Err(E::ExpiresBeforeSigned);
        }

        let copied_headers = get("z").map(|z| z.value);

        let bh = need(T::Bh)?;
        let mut body_hash_buf = [0u8; MAX_BODY_HASH_BYTES];
        let n = decode_nonempty_base64(bh.value, &mut body_hash_buf, T::Bh)?;
        if n != algorithm.hash().output_len() {
            return Err(E::BodyHashLength);
        }
        let body_hash = heapless::Vec::from_slice(body_hash_buf.get(..n).unwrap_or_default())
            .map_err(|_| E::BodyHashLength)?;

        let b = need(T::B)?;
        let mut signature = heapless::Vec::new();
        // Decode straight into the struct's buffer.
        signature
            .resize_default(MAX_SIGNATURE_BYTES)
            .map_err(|_| E::BadBase64 {
                tag: T::B,
                reason: Base64Error::OutputTooSmall,
            })?;
        let n = decode_nonempty_base64(b.value, &mut signature, T::B)?;
        signature.truncate(n);

        Ok(DkimSignature {
            raw,
            algorithm,
            signature,
            body_hash,
            canonicalization,
            domain,
            signed_headers_raw,
            identity,
            body_length,
            selector,
            timestamp,
            expiration,
            copied_headers,
            b_value_span: b.value_span.shifted(value_start),
            b_deleted_span: b.after_equals.shifted(value_start),
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

    /// The decoded `bh=`; its length matches [`SignatureAlgorithm::hash`].
    pub fn body_hash(&self) -> &[u8] {
        &self.body_hash
    }

    /// The header field names of `h=`, in order, FWS trimmed (§3.5).
    /// Empty names (only an ARC `h=` may have them) are skipped.
    pub fn signed_headers(&self) -> impl Iterator<Item = &'a str> + Clone + use<'a> {
        colon_list(self.signed_headers_raw).filter(|name| !name.is_empty())
    }

    /// The domain of the signing identity: that of `i=`, or `d=` when there
    /// is no `i=` (§3.5: the default is `@d`).
    pub fn identity_domain(&self) -> &'a str {
        self.identity
            .and_then(|i| i.rsplit_once('@'))
            .map_or(self.domain, |(_, d)| d)
    }

    /// The raw field split around the deleted `b=` value (§3.7): hashing
    /// `before` then `after` hashes the field "with the value of the b= tag
    /// (including all surrounding whitespace) deleted".
    pub fn hash_parts(&self) -> (&'a [u8], &'a [u8]) {
        let before = self
            .raw
            .get(..self.b_deleted_span.start)
            .unwrap_or_default();
        let after = self.raw.get(self.b_deleted_span.end..).unwrap_or_default();
        (before, after)
    }
}

/// Where the value of a raw field named `name` (any case, WSP allowed
/// before the colon) starts: just after the colon. `None` for another
/// name or no colon.
pub(crate) fn value_start(field: &[u8], name: &[u8]) -> Option<usize> {
    let colon = field.iter().position(|&b| b == b':')?;
    let found = trim_end_wsp(field.get(..colon).unwrap_or_default());
    found
        .eq_ignore_ascii_case(name)
        .then(|| colon.saturating_add(1))
}

fn trim_end_wsp(mut s: &[u8]) -> &[u8] {
    while let Some((last, rest)) = s.split_last() {
        if *last == b' ' || *last == b'\t' {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// The `a=` names (RFC 6376 §3.5, RFC 8463 §3), shared with ARC-Seal.
pub(crate) fn parse_algorithm(v: &str) -> Result<SignatureAlgorithm, SignatureFieldError> {
    if v.eq_ignore_ascii_case("rsa-sha256") {
        Ok(SignatureAlgorithm::RsaSha256)
    } else if v.eq_ignore_ascii_case("ed25519-sha256") {
        Ok(SignatureAlgorithm::Ed25519Sha256)
    } else if v.eq_ignore_ascii_case("rsa-sha1") {
        Ok(SignatureAlgorithm::RsaSha1)
    } else {
        Err(SignatureFieldError::UnknownAlgorithm)
    }
}

/// `i= [ Local-part ] "@" domain-name`, the domain being `d=` or below it.
fn check_identity(i: &str, domain: &str) -> Result<(), SignatureFieldError> {
    let (_, idomain) = i.rsplit_once('@').ok_or(SignatureFieldError::BadIdentity)?;
    check_dns_name(idomain.as_bytes()).map_err(|_| SignatureFieldError::BadIdentity)?;
    if !is_same_or_subdomain(idomain.as_bytes(), domain.as_bytes()) {
        return Err(SignatureFieldError::IdentityNotInDomain);
    }
    Ok(())
}

/// `1*DIGIT` into a u64; `None` on an empty value, a non-digit or overflow.
pub(crate) fn parse_u64(v: &str) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.bytes().try_fold(0u64, |acc, b| {
        let digit = u64::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
        acc.checked_mul(10)?.checked_add(digit)
    })
}

/// `1*12DIGIT` (§3.5). More than 12 significant digits saturates to
/// [`FAR_FUTURE`] rather than overflowing; `None` on an empty value or a
/// non-digit.
pub(crate) fn parse_timestamp(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = v.trim_start_matches('0');
    if significant.len() > 12 {
        return Some(FAR_FUTURE);
    }
    // At most 12 digits: fits easily.
    parse_u64(significant).or(Some(0))
}

fn decode_nonempty_base64(
    value: &str,
    out: &mut [u8],
    tag: SignatureTag,
) -> Result<usize, SignatureFieldError> {
    let n = decode_base64(value.as_bytes(), out)
        .map_err(|reason| SignatureFieldError::BadBase64 { tag, reason })?;
    if n == 0 {
        return Err(SignatureFieldError::MissingTag(tag));
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
