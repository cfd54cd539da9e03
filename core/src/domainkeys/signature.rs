//! The DomainKey-Signature field (RFC 4870 §3.3).

use super::*;

/// The tags of a DomainKey-Signature field (RFC 4870 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DkTag {
    /// `a=`, the algorithm.
    A,
    /// `b=`, the signature.
    B,
    /// `c=`, the canonicalization.
    C,
    /// `d=`, the signing domain.
    D,
    /// `h=`, the signed header fields.
    H,
    /// `q=`, the query method.
    Q,
    /// `s=`, the selector.
    S,
}

impl DkTag {
    /// The tag name.
    pub fn as_str(self) -> &'static str {
        match self {
            DkTag::A => "a",
            DkTag::B => "b",
            DkTag::C => "c",
            DkTag::D => "d",
            DkTag::H => "h",
            DkTag::Q => "q",
            DkTag::S => "s",
        }
    }
}

/// Why a DomainKey-Signature field was refused (a permerror).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DkSignatureError {
    /// The field is not named DomainKey-Signature, or has no colon.
    NotDomainKeySignature,
    /// The field is longer than [`MAX_SIGNATURE_FIELD`].
    FieldTooLong,
    /// The value is not a valid tag-list.
    TagList(TagListError),
    /// A required tag (`b`, `d`, `q`, `s`) is missing or empty.
    MissingTag(DkTag),
    /// `a=` is there and is not `rsa-sha1`, the only algorithm of §3.3
    /// (and its default: a field without `a=` is rsa-sha1).
    UnsupportedAlgorithm,
    /// `c=` is neither `simple` nor `nofws`.
    UnknownCanonicalization,
    /// `q=` does not offer `dns`.
    UnsupportedQueryMethod,
    /// `b=` is not valid base64, or decodes to more than an RSA-8192
    /// signature.
    BadBase64(Base64Error),
    /// `d=` is not a valid domain name.
    BadDomain(NameError),
    /// `s=` is not a valid selector.
    BadSelector(NameError),
    /// `h=` has an empty or invalid header field name.
    BadHeaderName,
    /// `h=` has more names than [`MAX_HEADER_NAMES`].
    TooManyHeaderNames,
}

impl fmt::Display for DkSignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DkSignatureError::NotDomainKeySignature => {
                f.write_str("not a DomainKey-Signature field")
            }
            DkSignatureError::FieldTooLong => f.write_str("DomainKey-Signature field too long"),
            DkSignatureError::TagList(e) => write!(f, "bad tag-list: {e}"),
            DkSignatureError::MissingTag(t) => write!(f, "missing {}= tag", t.as_str()),
            DkSignatureError::UnsupportedAlgorithm => f.write_str("a= is not rsa-sha1"),
            DkSignatureError::UnknownCanonicalization => {
                f.write_str("c= is neither simple nor nofws")
            }
            DkSignatureError::UnsupportedQueryMethod => f.write_str("q= does not offer dns"),
            DkSignatureError::BadBase64(e) => write!(f, "bad base64 in b=: {e}"),
            DkSignatureError::BadDomain(e) => write!(f, "bad d= domain: {e}"),
            DkSignatureError::BadSelector(e) => write!(f, "bad s= selector: {e}"),
            DkSignatureError::BadHeaderName => f.write_str("bad header name in h="),
            DkSignatureError::TooManyHeaderNames => f.write_str("too many names in h="),
        }
    }
}

impl core::error::Error for DkSignatureError {}

impl From<TagListError> for DkSignatureError {
    fn from(e: TagListError) -> Self {
        DkSignatureError::TagList(e)
    }
}

/// A parsed DomainKey-Signature field (RFC 4870 §3.3), borrowing from it.
#[derive(Debug, Clone)]
pub struct DkSignature<'a> {
    /// `c=` (default `simple`).
    pub canonicalization: DkCanon,
    /// `d=`, checked with [`check_dns_name`].
    pub domain: &'a str,
    /// `s=`, checked with [`check_dns_name`].
    pub selector: &'a str,
    /// `h=` as written, if present.
    pub headers: Option<&'a str>,
    pub(super) signature: heapless::Vec<u8, SIGNATURE_CAP>,
}

impl<'a> DkSignature<'a> {
    /// Parse a whole raw field: `DomainKey-Signature:` (any case) and its
    /// value, folding CRLFs included, no final CRLF.
    pub fn parse_field(field: &'a [u8]) -> Result<Self, DkSignatureError> {
        let colon = field
            .iter()
            .position(|&b| b == b':')
            .ok_or(DkSignatureError::NotDomainKeySignature)?;
        let name = crate::header::trim_wsp(field.get(..colon).unwrap_or_default());
        if !name.eq_ignore_ascii_case(b"DomainKey-Signature") {
            return Err(DkSignatureError::NotDomainKeySignature);
        }
        Self::parse(field_value(field))
    }

    /// Parse a field value alone (what follows `DomainKey-Signature:`).
    pub fn parse(value: &'a [u8]) -> Result<Self, DkSignatureError> {
        use DkSignatureError as E;
        let tags = parse_tag_list::<16>(value)?;
        let need = |t: DkTag| {
            tags.get(t.as_str())
                .map(|tag| tag.value)
                .filter(|v| !v.is_empty())
                .ok_or(E::MissingTag(t))
        };
        // §3.3: "The default is "rsa-sha1"". Yahoo's signatures have no a=.
        if tags
            .get(DkTag::A.as_str())
            .is_some_and(|a| !a.value.eq_ignore_ascii_case("rsa-sha1"))
        {
            return Err(E::UnsupportedAlgorithm);
        }
        if !colon_list(need(DkTag::Q)?).any(|m| m.eq_ignore_ascii_case("dns")) {
            return Err(E::UnsupportedQueryMethod);
        }
        let canonicalization = match tags.get("c") {
            None => DkCanon::Simple,
            Some(c) => DkCanon::from_name(c.value.as_bytes()).ok_or(E::UnknownCanonicalization)?,
        };
        let domain = need(DkTag::D)?;
        check_dns_name(domain.as_bytes()).map_err(E::BadDomain)?;
        let selector = need(DkTag::S)?;
        check_dns_name(selector.as_bytes()).map_err(E::BadSelector)?;
        let headers = tags.get("h").map(|h| h.value);
        if let Some(h) = headers {
            let mut count = 0usize;
            for name in colon_list(h) {
                if !is_field_name(name.as_bytes()) {
                    return Err(E::BadHeaderName);
                }
                count = count.saturating_add(1);
            }
            if count > MAX_HEADER_NAMES {
                return Err(E::TooManyHeaderNames);
            }
        }
        let b = need(DkTag::B)?;
        let mut signature = heapless::Vec::new();
        signature
            .resize_default(SIGNATURE_CAP)
            .map_err(|_| E::BadBase64(Base64Error::OutputTooSmall))?;
        let n = decode_base64(b.as_bytes(), &mut signature).map_err(E::BadBase64)?;
        if n == 0 {
            return Err(E::MissingTag(DkTag::B));
        }
        signature.truncate(n);
        Ok(DkSignature {
            canonicalization,
            domain,
            selector,
            headers,
            signature,
        })
    }

    /// The decoded `b=`.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The names of `h=`, in order, whitespace trimmed.
    pub fn header_names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        colon_list(self.headers.unwrap_or_default()).filter(|n| !n.is_empty())
    }
}
