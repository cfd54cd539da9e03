//! DomainKeys, RFC 4870: the DomainKey-Signature field (§3.3), signing
//! (§3.5) and verification (§3.6), streaming like the DKIM path.
//!
//! ```text
//!  DkSigner::new(&DkSignRequest)
//!    update(raw)*   or   header_field(field)* end_of_headers() body(chunk)*
//!    finish(&mut impl Sha1DigestSigner, &mut out) ─► "DomainKey-Signature: a=rsa-sha1; ..."
//!
//!  DkMessageVerifier::new()           (or one DkVerifier per signature field)
//!    update(raw)*   or   header_field(field)* end_of_headers() body(chunk)*
//!    key_requests() ─► "sel._domainkey.dom";  provide_key(id, KeyAnswer)
//!    finish() ─► one DkResult per DomainKey-Signature field checked
//! ```
//!
//! One SHA-1 covers everything a signature signs (§3.4.2.1): each header
//! field below the signature field — all of them, or those named in `h=` —
//! canonicalized with its CRLF, in message order; then the blank line that
//! ends the header block and the body, through
//! [`BodyCanonicalizer::domainkeys`]. Fields are hashed as they stream by;
//! nothing is stored but the Sender and From fields (bounded), which give
//! the sending address (§3.1): Sender if there is one, else From.
//!
//! With `h=`, the fields whose names it lists are hashed in message order
//! (§3.4.2.1: lines are presented in the order they occur), every instance
//! of a listed name included. Mail::DKIM orders by `h=` instead; the two
//! agree whenever `h=` lists the fields in message order, one entry per
//! field, which is what both signers write.
//!
//! A verifier checks that `d=` is the sending domain or a parent of it, and
//! honours the key record's `g=` (granularity; `*` matches any run, an
//! empty value anything), `k=rsa` and `t=y` (a failure under a testing key
//! is neutral), reading the record with [`KeyRecord::parse_domainkeys`].
//!
//! DomainKeys is SHA-1 by design. Its results are reported as
//! `domainkeys=` (RFC 8601 §2.7.1 registers the method) and never count as
//! a DKIM pass; signing goes through [`Sha1DigestSigner`], which no DKIM
//! path uses.

use core::fmt;

use base64ct::{Base64, Encoding};
use sha1::{Digest, Sha1};

use crate::canon::{BodyCanonicalizer, DkCanon, Sink, canonicalize_dk_header_piece};
use crate::crypto::Sha1DigestSigner;
use crate::error::Error;
use crate::header::{FieldSink, HeaderSplitter, field_value, names_match};
use crate::key_record::{KeyRecord, KeyRecordError};
use crate::public_key::{PublicKeyError, RsaKey, WEAK_RSA_MODULUS_BITS, load_rsa};
use crate::sign::is_same_or_subdomain;
use crate::sign::{FOLD_WIDTH, FieldWriter};
use crate::signature_field::{NameError, check_dns_name};
use crate::tag_list::{Base64Error, TagListError, decode_base64, parse_tag_list};
use crate::verify::{KeyAnswer, MAX_KEY_RECORDS_TRIED, Verdict};

/// The most names an `h=` list may hold (signer and verifier).
pub const MAX_HEADER_NAMES: usize = 64;
/// Room for the names of `h=`.
const NAMES_BYTES: usize = 1024;
/// The longest Sender or From field kept to find the sending address.
pub const MAX_ADDRESS_FIELD: usize = 2048;
/// The longest DomainKey-Signature field a [`DkMessageVerifier`] keeps.
pub const MAX_SIGNATURE_FIELD: usize = 4096;
/// Room for a signature (RSA-8192).
const SIGNATURE_CAP: usize = 1024;
/// Longest addr-spec kept (RFC 5321 §4.5.3.1: 64 + 1 + 255).
const ADDRESS_CAP: usize = 320;
/// Longest `g=` kept; a longer one cannot match a local part (64 bytes).
const GRANULARITY_CAP: usize = 64;

impl Sink for Sha1 {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
}

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
    /// A required tag (`a`, `b`, `d`, `q`, `s`) is missing or empty.
    MissingTag(DkTag),
    /// `a=` is not `rsa-sha1`, the only algorithm of §3.3.
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
    signature: heapless::Vec<u8, SIGNATURE_CAP>,
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
        if !need(DkTag::A)?.eq_ignore_ascii_case("rsa-sha1") {
            return Err(E::UnsupportedAlgorithm);
        }
        if !need(DkTag::Q)?
            .split(':')
            .any(|m| m.trim().eq_ignore_ascii_case("dns"))
        {
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
            for name in split_names(h) {
                if name.is_empty() || !name.bytes().all(is_ftext) {
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
        split_names(self.headers.unwrap_or_default()).filter(|n| !n.is_empty())
    }
}

fn split_names(h: &str) -> impl Iterator<Item = &str> {
    h.split(':')
        .map(|n| n.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n')))
}

/// RFC 5322 §3.6.8 ftext: printable ASCII except `:`.
fn is_ftext(b: u8) -> bool {
    (33..=126).contains(&b) && b != b':'
}

/// A bounded list of header field names.
#[derive(Debug, Clone)]
struct Names {
    bytes: heapless::Vec<u8, NAMES_BYTES>,
    ends: heapless::Vec<u16, MAX_HEADER_NAMES>,
}

impl Names {
    fn new() -> Self {
        Names {
            bytes: heapless::Vec::new(),
            ends: heapless::Vec::new(),
        }
    }

    fn push(&mut self, name: &[u8]) -> Result<(), Error> {
        let full = Error::HeaderListCapacity {
            limit: MAX_HEADER_NAMES,
        };
        self.bytes.extend_from_slice(name).map_err(|_| full)?;
        let end = u16::try_from(self.bytes.len()).map_err(|_| full)?;
        self.ends.push(end).map_err(|_| full)
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let starts = core::iter::once(0u16).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(s, e)| self.bytes.get(s as usize..e as usize).unwrap_or_default())
    }

    fn contains(&self, name: &[u8]) -> bool {
        self.iter().any(|n| names_match(n, name))
    }
}

/// Which field gave the sending address (RFC 4870 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendingField {
    /// The Sender field.
    Sender,
    /// The From field (there was no Sender).
    From,
}

impl SendingField {
    /// The field name in lower case, as in Authentication-Results
    /// (`header.sender`, `header.from`).
    pub fn as_str(self) -> &'static str {
        match self {
            SendingField::Sender => "sender",
            SendingField::From => "from",
        }
    }
}

/// One Sender or From field kept: the first instance seen, how many there
/// were, and whether the first was hashed.
#[derive(Debug, Clone)]
struct Captured {
    raw: heapless::Vec<u8, MAX_ADDRESS_FIELD>,
    count: u32,
    overflow: bool,
    hashed: bool,
}

impl Captured {
    fn new() -> Self {
        Captured {
            raw: heapless::Vec::new(),
            count: 0,
            overflow: false,
            hashed: false,
        }
    }

    /// The address of the first instance, if it was kept whole and parses.
    fn address(&self) -> Option<Mailbox> {
        if self.count == 0 || self.overflow {
            return None;
        }
        Mailbox::parse(field_value(&self.raw))
    }
}

/// The header side shared by signer and verifier: it hashes the fields it
/// is told to and keeps Sender and From.
#[derive(Debug, Clone)]
struct DkIntake {
    canon: DkCanon,
    hash: Sha1,
    /// `h=` in force: only these names are hashed.
    only: Option<Names>,
    /// The signer's record of the names hashed, in order, for its `h=`.
    hashed_names: Option<Names>,
    hashing: bool,
    capture: Option<SendingField>,
    sender: Captured,
    from: Captured,
}

impl DkIntake {
    fn new(canon: DkCanon, only: Option<Names>, record_names: bool) -> Self {
        DkIntake {
            canon,
            hash: Sha1::new(),
            only,
            hashed_names: record_names.then(Names::new),
            hashing: false,
            capture: None,
            sender: Captured::new(),
            from: Captured::new(),
        }
    }

    fn captured(&self, which: SendingField) -> &Captured {
        match which {
            SendingField::Sender => &self.sender,
            SendingField::From => &self.from,
        }
    }

    fn captured_mut(&mut self) -> Option<&mut Captured> {
        match self.capture? {
            SendingField::Sender => Some(&mut self.sender),
            SendingField::From => Some(&mut self.from),
        }
    }
}

impl FieldSink for DkIntake {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        self.hashing = self.only.as_ref().is_none_or(|o| o.contains(name));
        if self.hashing
            && let Some(names) = self.hashed_names.as_mut()
        {
            names.push(name)?;
        }
        self.capture = if names_match(name, b"sender") {
            Some(SendingField::Sender)
        } else if names_match(name, b"from") {
            Some(SendingField::From)
        } else {
            None
        };
        let hashing = self.hashing;
        if let Some(c) = self.captured_mut() {
            c.count = c.count.saturating_add(1);
            if c.count == 1 {
                c.hashed = hashing;
            }
        }
        Ok(self.hashing || self.capture.is_some())
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.hashing {
            canonicalize_dk_header_piece(self.canon, bytes, &mut self.hash);
        }
        if let Some(c) = self.captured_mut()
            && c.count == 1
            && c.raw.extend_from_slice(bytes).is_err()
        {
            c.overflow = true;
        }
        Ok(())
    }

    fn end_field(&mut self) -> Result<(), Error> {
        if self.hashing {
            self.hash.write(b"\r\n");
        }
        self.hashing = false;
        self.capture = None;
        Ok(())
    }
}

/// An addr-spec taken from a Sender or From field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    bytes: heapless::Vec<u8, ADDRESS_CAP>,
    at: usize,
}

impl Mailbox {
    /// The first mailbox of an address list (RFC 5322 §3.4): the
    /// angle-addr if there is one, else the addr-spec; comments and
    /// whitespace removed. `None` if it has no `@`, an empty local part or
    /// a domain that is not a plain DNS name.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let mut plain: heapless::Vec<u8, ADDRESS_CAP> = heapless::Vec::new();
        let mut angle: Option<heapless::Vec<u8, ADDRESS_CAP>> = None;
        let mut in_angle = false;
        let mut depth = 0u32;
        let mut quoted = false;
        let mut escaped = false;
        for &b in value {
            let target = if in_angle {
                angle.as_mut()
            } else {
                Some(&mut plain)
            };
            if escaped {
                escaped = false;
                if depth == 0 {
                    target?.push(b).ok()?;
                }
                continue;
            }
            match b {
                b'\\' if quoted || depth > 0 => {
                    escaped = true;
                    if depth == 0 {
                        target?.push(b).ok()?;
                    }
                }
                b'"' if depth == 0 => {
                    quoted = !quoted;
                    target?.push(b).ok()?;
                }
                _ if quoted => target?.push(b).ok()?,
                b'(' => depth = depth.saturating_add(1),
                b')' if depth > 0 => depth = depth.saturating_sub(1),
                _ if depth > 0 => {}
                b'<' if !in_angle => {
                    in_angle = true;
                    angle = Some(heapless::Vec::new());
                }
                b'>' if in_angle => {
                    in_angle = false;
                    break;
                }
                b',' if !in_angle => break,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => target?.push(b).ok()?,
            }
        }
        let bytes = match angle {
            Some(a) if !in_angle => a,
            Some(_) => return None,
            None => plain,
        };
        let at = bytes.iter().rposition(|&b| b == b'@')?;
        let mailbox = Mailbox { bytes, at };
        let domain = mailbox.domain();
        if mailbox.local().is_empty() || check_dns_name(domain.as_bytes()).is_err() {
            return None;
        }
        Some(mailbox)
    }

    /// The local part, as written (quotes kept).
    pub fn local(&self) -> &[u8] {
        self.bytes.get(..self.at).unwrap_or_default()
    }

    /// The domain, without a trailing dot.
    pub fn domain(&self) -> &str {
        let d = self
            .bytes
            .get(self.at.saturating_add(1)..)
            .unwrap_or_default();
        let d = d.strip_suffix(b".").unwrap_or(d);
        core::str::from_utf8(d).unwrap_or_default()
    }

    /// The whole addr-spec.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What to sign with: everything that goes into the DomainKey-Signature
/// field except what the message supplies.
#[derive(Debug, Clone, Copy)]
pub struct DkSignRequest<'a> {
    /// `d=`: the sending domain or a parent of it.
    pub domain: &'a str,
    /// `s=`.
    pub selector: &'a str,
    /// `c=`.
    pub canonicalization: DkCanon,
    /// `None`: sign every header field and write no `h=`. `Some(names)`:
    /// sign only the fields with these names (Sender and From are always
    /// added) and list them in `h=`, one entry per field, in message order.
    pub headers: Option<&'a [&'a str]>,
}

impl<'a> DkSignRequest<'a> {
    /// A request to sign every header field, canonicalized with `canon`.
    pub fn new(domain: &'a str, selector: &'a str, canon: DkCanon) -> Self {
        DkSignRequest {
            domain,
            selector,
            canonicalization: canon,
            headers: None,
        }
    }
}

/// Streaming DomainKeys signer for one message (RFC 4870 §3.5).
///
/// It hashes the header fields as they arrive; the field it makes goes
/// above all of them. It refuses a message with no From field, several
/// From or Sender fields, or a sending domain outside `d=`.
#[derive(Debug, Clone)]
pub struct DkSigner {
    domain: heapless::String<253>,
    selector: heapless::String<253>,
    canon: DkCanon,
    listed: bool,
    splitter: HeaderSplitter,
    intake: DkIntake,
    body: BodyCanonicalizer,
    headers_done: bool,
}

fn copy_name(s: &str, tag: &'static str) -> Result<heapless::String<253>, Error> {
    check_dns_name(s.as_bytes()).map_err(|_| Error::InvalidTagValue { tag })?;
    let mut out = heapless::String::new();
    out.push_str(s)
        .map_err(|_| Error::InvalidTagValue { tag })?;
    Ok(out)
}

impl DkSigner {
    /// Check the request and start a message.
    pub fn new(req: &DkSignRequest<'_>) -> Result<Self, Error> {
        let domain = copy_name(req.domain, "d")?;
        let selector = copy_name(req.selector, "s")?;
        let only = match req.headers {
            None => None,
            Some(list) => {
                let mut names = Names::new();
                for name in list.iter().chain(["from", "sender"].iter()) {
                    let name = name.trim();
                    if name.is_empty() || !name.bytes().all(is_ftext) {
                        return Err(Error::InvalidTagValue { tag: "h" });
                    }
                    if !names.contains(name.as_bytes()) {
                        names.push(name.as_bytes())?;
                    }
                }
                Some(names)
            }
        };
        let listed = only.is_some();
        Ok(DkSigner {
            domain,
            selector,
            canon: req.canonicalization,
            listed,
            splitter: HeaderSplitter::new(),
            intake: DkIntake::new(req.canonicalization, only, listed),
            body: BodyCanonicalizer::domainkeys(req.canonicalization),
            headers_done: false,
        })
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<(), Error> {
        if self.headers_done {
            self.body.update(raw, &mut self.intake.hash);
            return Ok(());
        }
        if let Some(n) = self.splitter.push(raw, &mut self.intake)? {
            self.headers_ended();
            self.body
                .update(raw.get(n..).unwrap_or_default(), &mut self.intake.hash);
        }
        Ok(())
    }

    /// Feed one whole header field as a milter receives it (`Name:value`
    /// with folding CRLFs, no final CRLF).
    pub fn header_field(&mut self, raw_field: &[u8]) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_field(raw_field, &mut self.intake)
    }

    /// The header block is complete.
    pub fn end_of_headers(&mut self) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_end_of_headers(&mut self.intake)?;
        self.headers_ended();
        Ok(())
    }

    /// Feed the next chunk of body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.body.update(chunk, &mut self.intake.hash);
        Ok(())
    }

    fn headers_ended(&mut self) {
        self.headers_done = true;
        // §3.4.2.1: every line from the first header line to the last body
        // line is presented; the blank line is the body's first (empty)
        // line.
        self.body.update(b"\r\n", &mut self.intake.hash);
    }

    /// The sending address the signature will be checked against (§3.1).
    fn check_sender(&self) -> Result<(), Error> {
        match self.intake.from.count {
            0 => return Err(Error::NoFromField),
            1 => {}
            _ => return Err(Error::MultipleFromFields),
        }
        let sending = match self.intake.sender.count {
            0 => &self.intake.from,
            1 => &self.intake.sender,
            _ => return Err(Error::MultipleSenderFields),
        };
        let mailbox = sending.address().ok_or(Error::UnparsableFrom)?;
        if !is_same_or_subdomain(mailbox.domain().as_bytes(), self.domain.as_bytes()) {
            return Err(Error::FromDomainMismatch);
        }
        Ok(())
    }

    /// Finish the message and sign it. The complete field,
    /// `DomainKey-Signature: ...` without a final CRLF, is written to
    /// `out`; its length is returned.
    pub fn finish<K: Sha1DigestSigner + ?Sized>(
        mut self,
        key: &mut K,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if !self.headers_done {
            self.splitter.finish(&mut self.intake)?;
            self.headers_ended();
        }
        self.check_sender()?;
        if key.signature_len() > SIGNATURE_CAP {
            return Err(Error::Key);
        }
        let DkSigner {
            domain,
            selector,
            canon,
            listed,
            mut intake,
            body,
            ..
        } = self;
        body.finish(&mut intake.hash);
        let digest: [u8; 20] = intake.hash.finalize().into();
        let mut sig = [0u8; SIGNATURE_CAP];
        let n = key.sign_sha1_digest(&digest, &mut sig)?;
        let sig = sig.get(..n).ok_or(Error::Key)?;
        let mut b64 = [0u8; SIGNATURE_CAP.div_ceil(3) * 4];
        let b64 = Base64::encode(sig, &mut b64).map_err(|_| Error::Key)?;

        let mut w = FieldWriter::new(out);
        w.put(b"DomainKey-Signature:");
        w.unit(&[b"a=rsa-sha1;"]);
        w.unit(&[b"q=dns;"]);
        w.unit(&[b"c=", canon.as_str().as_bytes(), b";"]);
        w.unit(&[b"s=", selector.as_bytes(), b";"]);
        w.unit(&[b"d=", domain.as_bytes(), b";"]);
        if listed && let Some(names) = &intake.hashed_names {
            // Start h= on a new line unless the whole list fits this one.
            let total: usize = names.iter().map(|n| n.len().saturating_add(1)).sum();
            if w.line.saturating_add(3).saturating_add(total) > FOLD_WIDTH {
                w.fold();
                w.put(b"h=");
            } else {
                w.unit(&[b"h="]);
            }
            for (i, name) in names.iter().enumerate() {
                let sep: &[u8] = if i > 0 { b":" } else { b"" };
                w.glued(&[sep, name]);
            }
            w.put(b";");
        }
        w.unit(&[b"b="]);
        w.folded(b64.as_bytes());
        if w.len > w.buf.len() {
            return Err(Error::BufferTooSmall { required: w.len });
        }
        Ok(w.len)
    }
}

/// Why a DomainKeys signature got its verdict.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DkReason {
    /// Everything checked out.
    Verified,
    /// The DomainKey-Signature field was refused (permerror).
    Signature(DkSignatureError),
    /// No key record: NXDOMAIN or no TXT record (permerror).
    KeyNotFound,
    /// The key lookup failed for now (temperror).
    KeyLookupFailed,
    /// The caller never answered the key request (temperror).
    KeyNotProvided,
    /// The key record could not be parsed (permerror).
    KeyRecord(KeyRecordError),
    /// `p=` is empty: the key was revoked (fail).
    KeyRevoked,
    /// The key bytes are not a usable RSA key (permerror).
    PublicKey(PublicKeyError),
    /// No Sender or From field, or no address in it (permerror).
    NoSendingAddress,
    /// `d=` is neither the sending domain nor a parent of it (fail;
    /// §3.3 `d=`).
    DomainMismatch,
    /// The key's `g=` does not match the local part of the sending address
    /// (fail; §3.2.3).
    GranularityMismatch,
    /// The signature does not verify (fail).
    SignatureMismatch,
    /// The key has `t=y` and the signature failed (neutral; §3.2.3).
    TestingKey,
    /// The signature verifies, but with an RSA key under 1024 bits
    /// (policy).
    WeakKey {
        /// The modulus size.
        bits: u32,
    },
    /// The signature verifies, but the field with the sending address is
    /// not signed: it is above the signature field or not in `h=`
    /// (policy).
    SendingFieldNotSigned,
    /// The signature verifies, but the message has several From or several
    /// Sender fields (policy; security case 1).
    SeveralSendingFields {
        /// Which field is repeated.
        field: SendingField,
    },
}

impl fmt::Display for DkReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DkReason::Verified => f.write_str("signature verified"),
            DkReason::Signature(e) => write!(f, "{e}"),
            DkReason::KeyNotFound => f.write_str("no key record"),
            DkReason::KeyLookupFailed => f.write_str("key lookup failed"),
            DkReason::KeyNotProvided => f.write_str("key not provided"),
            DkReason::KeyRecord(e) => write!(f, "{e}"),
            DkReason::KeyRevoked => f.write_str("key revoked (empty p=)"),
            DkReason::PublicKey(e) => write!(f, "{e}"),
            DkReason::NoSendingAddress => f.write_str("no sending address (Sender or From)"),
            DkReason::DomainMismatch => {
                f.write_str("d= is not the sending domain or a parent of it")
            }
            DkReason::GranularityMismatch => f.write_str("key g= does not match the sender"),
            DkReason::SignatureMismatch => f.write_str("signature did not verify"),
            DkReason::TestingKey => f.write_str("failed under a testing key (t=y)"),
            DkReason::WeakKey { bits } => write!(f, "RSA key of {bits} bits is too weak"),
            DkReason::SendingFieldNotSigned => {
                f.write_str("the sending address field is not signed")
            }
            DkReason::SeveralSendingFields { field } => {
                write!(f, "several {} fields", field.as_str())
            }
        }
    }
}

/// Sender and From fields above the signature field, which the verifier of
/// that signature does not see (RFC 4870 §3.1 takes the sending address
/// from the whole message).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldsAbove {
    /// Sender fields above the signature.
    pub sender: u32,
    /// From fields above the signature.
    pub from: u32,
}

/// The granularity `g=` of a DomainKeys key (§3.2.3).
#[derive(Debug, Clone)]
enum Granularity {
    /// Absent or empty: any local part.
    Any,
    /// A literal, or a pattern with one `*` matching any run.
    Pattern(heapless::Vec<u8, GRANULARITY_CAP>),
    /// Longer than any local part can be.
    Nothing,
}

impl Granularity {
    fn from_record(g: Option<&str>) -> Self {
        match g.map(str::trim) {
            None | Some("") => Granularity::Any,
            Some(g) => match heapless::Vec::from_slice(g.as_bytes()) {
                Ok(v) => Granularity::Pattern(v),
                Err(_) => Granularity::Nothing,
            },
        }
    }

    fn matches(&self, local: &[u8]) -> bool {
        match self {
            Granularity::Any => true,
            Granularity::Nothing => false,
            Granularity::Pattern(p) => match p.iter().position(|&b| b == b'*') {
                None => p.as_slice() == local,
                Some(star) => {
                    let (prefix, rest) = p.split_at(star);
                    let suffix = rest.get(1..).unwrap_or_default();
                    local.len() >= prefix.len().saturating_add(suffix.len())
                        && local.starts_with(prefix)
                        && local.ends_with(suffix)
                }
            },
        }
    }
}

/// A key that loaded.
#[derive(Debug, Clone)]
struct DkKey {
    key: RsaKey,
    testing: bool,
    granularity: Granularity,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum DkKeyState {
    Wanted,
    Loaded(heapless::Vec<DkKey, MAX_KEY_RECORDS_TRIED>),
    Failed(Verdict, DkReason),
}

/// The key a verifier needs: the TXT records of `selector._domainkey.domain`
/// (RFC 4870 §3.2.2, the same name as DKIM's). Its `Display` is that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DkKeyName<'v> {
    /// `s=`.
    pub selector: &'v str,
    /// `d=`.
    pub domain: &'v str,
}

impl fmt::Display for DkKeyName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}._domainkey.{}", self.selector, self.domain)
    }
}

/// The result of one DomainKey-Signature (RFC 8601 `domainkeys=`).
#[derive(Debug, Clone)]
pub struct DkResult {
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: DkReason,
    /// `d=`, if the signature parsed.
    pub domain: Option<heapless::String<253>>,
    /// `s=`, if the signature parsed.
    pub selector: Option<heapless::String<253>>,
    /// The sending address and the field it came from, if one was found
    /// below the signature.
    pub sending: Option<(SendingField, Mailbox)>,
    /// The key had `t=y`.
    pub testing: bool,
    /// The RSA modulus size of the key used.
    pub key_bits: Option<u32>,
}

/// Streaming verifier of one DomainKey-Signature field (RFC 4870 §3.6).
///
/// Make it from the signature field, feed it the header fields below that
/// field through its [`FieldSink`] methods (or let a
/// [`DkMessageVerifier`] do it), call
/// [`end_of_headers`](Self::end_of_headers), feed the body, give it the key
/// records, then [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct DkVerifier {
    decided: Option<(Verdict, DkReason)>,
    domain: heapless::String<253>,
    selector: heapless::String<253>,
    signature: heapless::Vec<u8, SIGNATURE_CAP>,
    above: FieldsAbove,
    intake: DkIntake,
    body: BodyCanonicalizer,
    headers_done: bool,
    keys: DkKeyState,
}

impl DkVerifier {
    /// A verifier for the raw DomainKey-Signature `field` (no final CRLF),
    /// with the Sender and From fields counted `above` it. A field that
    /// does not parse gives a verifier whose result is that permerror.
    pub fn new(field: &[u8], above: FieldsAbove) -> Self {
        match DkSignature::parse_field(field) {
            Ok(sig) => Self::from_signature(&sig, above),
            Err(e) => Self::decided(Verdict::PermError, DkReason::Signature(e), above),
        }
    }

    /// A verifier whose result is already known.
    fn decided(verdict: Verdict, reason: DkReason, above: FieldsAbove) -> Self {
        DkVerifier {
            decided: Some((verdict, reason)),
            domain: heapless::String::new(),
            selector: heapless::String::new(),
            signature: heapless::Vec::new(),
            above,
            intake: DkIntake::new(DkCanon::Simple, None, false),
            body: BodyCanonicalizer::domainkeys(DkCanon::Simple),
            headers_done: false,
            keys: DkKeyState::Wanted,
        }
    }

    fn from_signature(sig: &DkSignature<'_>, above: FieldsAbove) -> Self {
        let too_many = || {
            Self::decided(
                Verdict::PermError,
                DkReason::Signature(DkSignatureError::TooManyHeaderNames),
                above,
            )
        };
        let only = match sig.headers {
            None => None,
            Some(_) => {
                let mut names = Names::new();
                for name in sig.header_names() {
                    if names.push(name.as_bytes()).is_err() {
                        return too_many();
                    }
                }
                Some(names)
            }
        };
        let (Ok(domain), Ok(selector), Ok(signature)) = (
            heapless::String::try_from(sig.domain),
            heapless::String::try_from(sig.selector),
            heapless::Vec::from_slice(sig.signature()),
        ) else {
            // check_dns_name bounds both names to 253 bytes; the signature
            // was decoded into a buffer of the same capacity.
            return too_many();
        };
        DkVerifier {
            decided: None,
            domain,
            selector,
            signature,
            above,
            intake: DkIntake::new(sig.canonicalization, only, false),
            body: BodyCanonicalizer::domainkeys(sig.canonicalization),
            headers_done: false,
            keys: DkKeyState::Wanted,
        }
    }

    /// The key record to look up, or `None` if the result is already known
    /// or a key was given.
    pub fn key_request(&self) -> Option<DkKeyName<'_>> {
        match (&self.decided, &self.keys) {
            (None, DkKeyState::Wanted) => Some(DkKeyName {
                selector: &self.selector,
                domain: &self.domain,
            }),
            _ => None,
        }
    }

    /// The header block has ended.
    pub fn end_of_headers(&mut self) {
        if !self.headers_done {
            self.headers_done = true;
            self.body.update(b"\r\n", &mut self.intake.hash);
        }
    }

    /// The next chunk of body.
    pub fn body(&mut self, chunk: &[u8]) {
        if self.decided.is_none() {
            self.body.update(chunk, &mut self.intake.hash);
        }
    }

    /// Answer the key request (§3.2.3 records, read with
    /// [`KeyRecord::parse_domainkeys`]).
    pub fn provide_key(&mut self, answer: KeyAnswer<'_>) {
        if self.decided.is_none() {
            self.keys = load_keys(answer);
        }
    }

    /// Compute the result.
    pub fn finish(mut self) -> DkResult {
        self.end_of_headers();
        let mut result = DkResult {
            verdict: Verdict::PermError,
            reason: DkReason::KeyNotProvided,
            domain: None,
            selector: None,
            sending: None,
            testing: false,
            key_bits: None,
        };
        if let Some((verdict, reason)) = self.decided {
            result.verdict = verdict;
            result.reason = reason;
            return result;
        }
        result.domain = Some(self.domain.clone());
        result.selector = Some(self.selector.clone());

        // §3.1: the sending address is Sender if there is one, else From.
        let intake = &self.intake;
        let kind = if self.above.sender > 0 || intake.sender.count > 0 {
            SendingField::Sender
        } else {
            SendingField::From
        };
        let captured = intake.captured(kind);
        let above = match kind {
            SendingField::Sender => self.above.sender,
            SendingField::From => self.above.from,
        };
        let mailbox = captured.address();
        if let Some(m) = &mailbox {
            result.sending = Some((kind, m.clone()));
        }
        let mut policy: Option<DkReason> = None;
        if captured.count == 0 && above == 0 {
            return result.with(Verdict::PermError, DkReason::NoSendingAddress);
        }
        if captured.count == 0 || !captured.hashed {
            policy = Some(DkReason::SendingFieldNotSigned);
        } else if mailbox.is_none() {
            return result.with(Verdict::PermError, DkReason::NoSendingAddress);
        }
        for (field, count) in [
            (
                SendingField::From,
                intake.from.count.saturating_add(self.above.from),
            ),
            (
                SendingField::Sender,
                intake.sender.count.saturating_add(self.above.sender),
            ),
        ] {
            if count > 1 && policy.is_none() {
                policy = Some(DkReason::SeveralSendingFields { field });
            }
        }
        if let Some(m) = &mailbox
            && !is_same_or_subdomain(m.domain().as_bytes(), self.domain.as_bytes())
        {
            return result.with(Verdict::Fail, DkReason::DomainMismatch);
        }

        let keys = match &self.keys {
            DkKeyState::Wanted => {
                return result.with(Verdict::TempError, DkReason::KeyNotProvided);
            }
            DkKeyState::Failed(verdict, reason) => return result.with(*verdict, *reason),
            DkKeyState::Loaded(keys) => keys,
        };
        let DkVerifier {
            intake, signature, ..
        } = self;
        let mut hash = intake.hash;
        self.body.finish(&mut hash);
        let digest: [u8; 20] = hash.finalize().into();

        let mut best: Option<(Verdict, DkReason, bool, u32)> = None;
        for candidate in keys {
            let bits = candidate.key.bits();
            let testing = candidate.testing;
            let failed = |reason| {
                if testing {
                    (Verdict::Neutral, DkReason::TestingKey)
                } else {
                    (Verdict::Fail, reason)
                }
            };
            let (verdict, reason) = if mailbox
                .as_ref()
                .is_some_and(|m| !candidate.granularity.matches(m.local()))
            {
                failed(DkReason::GranularityMismatch)
            } else if candidate
                .key
                .key()
                .verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &digest, &signature)
                .is_err()
            {
                failed(DkReason::SignatureMismatch)
            } else if bits < WEAK_RSA_MODULUS_BITS {
                (Verdict::Policy, DkReason::WeakKey { bits })
            } else if let Some(reason) = policy {
                (Verdict::Policy, reason)
            } else {
                (Verdict::Pass, DkReason::Verified)
            };
            let better = best.is_none_or(|(v, ..)| rank(verdict) > rank(v));
            if better {
                best = Some((verdict, reason, testing, bits));
            }
            if verdict == Verdict::Pass {
                break;
            }
        }
        match best {
            Some((verdict, reason, testing, bits)) => {
                result.testing = testing;
                result.key_bits = Some(bits);
                result.with(verdict, reason)
            }
            None => result.with(Verdict::PermError, DkReason::KeyNotFound),
        }
    }
}

impl DkResult {
    fn with(mut self, verdict: Verdict, reason: DkReason) -> Self {
        self.verdict = verdict;
        self.reason = reason;
        self
    }
}

/// Which verdict to report when several keys were tried.
fn rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass => 5,
        Verdict::Policy => 4,
        Verdict::Neutral => 3,
        Verdict::Fail => 2,
        Verdict::TempError => 1,
        _ => 0,
    }
}

impl FieldSink for DkVerifier {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        if self.decided.is_some() {
            return Ok(false);
        }
        self.intake.begin_field(name)
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.intake.field_bytes(bytes)
    }

    fn end_field(&mut self) -> Result<(), Error> {
        self.intake.end_field()
    }
}

/// Turn a key answer into usable keys (§3.2.3; up to
/// [`MAX_KEY_RECORDS_TRIED`] records, as for DKIM).
fn load_keys(answer: KeyAnswer<'_>) -> DkKeyState {
    let records = match answer {
        KeyAnswer::NotFound => {
            return DkKeyState::Failed(Verdict::PermError, DkReason::KeyNotFound);
        }
        KeyAnswer::TempFail => {
            return DkKeyState::Failed(Verdict::TempError, DkReason::KeyLookupFailed);
        }
        KeyAnswer::Records(records) => records,
    };
    let mut keys = heapless::Vec::new();
    let mut first_error = None;
    for txt in records.iter().take(MAX_KEY_RECORDS_TRIED) {
        let failure = match KeyRecord::parse_domainkeys(txt) {
            Err(e) => (Verdict::PermError, DkReason::KeyRecord(e)),
            Ok(record) if record.is_revoked() => (Verdict::Fail, DkReason::KeyRevoked),
            Ok(record) => match load_rsa(record.public_key_bytes()) {
                Err(e) => (Verdict::PermError, DkReason::PublicKey(e)),
                Ok(key) => {
                    // `take` bounds the loop to the capacity.
                    let _ = keys.push(DkKey {
                        key,
                        testing: record.flags.testing,
                        granularity: Granularity::from_record(record.granularity),
                    });
                    continue;
                }
            },
        };
        first_error.get_or_insert(failure);
    }
    match first_error {
        _ if !keys.is_empty() => DkKeyState::Loaded(keys),
        Some((verdict, reason)) => DkKeyState::Failed(verdict, reason),
        None => DkKeyState::Failed(Verdict::PermError, DkReason::KeyNotFound),
    }
}

/// The header side of a [`DkMessageVerifier`]: it hands each field to the
/// verifiers of the signatures above it and starts a verifier at each
/// DomainKey-Signature field.
#[derive(Debug, Clone)]
struct Dispatch<const SIGS: usize> {
    verifiers: heapless::Vec<DkVerifier, SIGS>,
    keep: [bool; SIGS],
    max: usize,
    seen: usize,
    capturing: bool,
    field: heapless::Vec<u8, MAX_SIGNATURE_FIELD>,
    field_overflow: bool,
    above: FieldsAbove,
}

impl<const SIGS: usize> FieldSink for Dispatch<SIGS> {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        let mut any = false;
        for (v, keep) in self.verifiers.iter_mut().zip(self.keep.iter_mut()) {
            *keep = v.begin_field(name)?;
            any |= *keep;
        }
        if names_match(name, b"sender") {
            self.above.sender = self.above.sender.saturating_add(1);
        } else if names_match(name, b"from") {
            self.above.from = self.above.from.saturating_add(1);
        }
        self.capturing = false;
        if names_match(name, b"domainkey-signature") {
            self.seen = self.seen.saturating_add(1);
            if self.verifiers.len() < self.max {
                self.capturing = true;
                self.field.clear();
                self.field_overflow = false;
            }
        }
        Ok(any || self.capturing)
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        for (v, keep) in self.verifiers.iter_mut().zip(self.keep.iter()) {
            if *keep {
                v.field_bytes(bytes)?;
            }
        }
        if self.capturing && self.field.extend_from_slice(bytes).is_err() {
            self.field_overflow = true;
        }
        Ok(())
    }

    fn end_field(&mut self) -> Result<(), Error> {
        for (v, keep) in self.verifiers.iter_mut().zip(self.keep.iter_mut()) {
            if core::mem::take(keep) {
                v.end_field()?;
            }
        }
        if core::mem::take(&mut self.capturing) {
            let verifier = if self.field_overflow {
                DkVerifier::decided(
                    Verdict::PermError,
                    DkReason::Signature(DkSignatureError::FieldTooLong),
                    self.above,
                )
            } else {
                DkVerifier::new(&self.field, self.above)
            };
            // `max` is at most SIGS, checked when capturing began.
            let _ = self.verifiers.push(verifier);
        }
        Ok(())
    }
}

/// Streaming verifier of the DomainKey-Signature fields of one message:
/// at most `SIGS` of them (top first) get a [`DkVerifier`]; the rest are
/// counted. It can run beside the DKIM verifier over the same input.
#[derive(Debug, Clone)]
pub struct DkMessageVerifier<const SIGS: usize> {
    splitter: HeaderSplitter,
    dispatch: Dispatch<SIGS>,
    headers_done: bool,
}

impl<const SIGS: usize> Default for DkMessageVerifier<SIGS> {
    fn default() -> Self {
        Self::new(SIGS)
    }
}

impl<const SIGS: usize> DkMessageVerifier<SIGS> {
    /// A verifier that checks at most `max_signatures` (and at most
    /// `SIGS`) DomainKey-Signature fields.
    pub fn new(max_signatures: usize) -> Self {
        DkMessageVerifier {
            splitter: HeaderSplitter::new(),
            dispatch: Dispatch {
                verifiers: heapless::Vec::new(),
                keep: [false; SIGS],
                max: max_signatures.min(SIGS),
                seen: 0,
                capturing: false,
                field: heapless::Vec::new(),
                field_overflow: false,
                above: FieldsAbove::default(),
            },
            headers_done: false,
        }
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<(), Error> {
        if self.headers_done {
            self.feed_body(raw);
            return Ok(());
        }
        if let Some(n) = self.splitter.push(raw, &mut self.dispatch)? {
            self.headers_ended();
            self.feed_body(raw.get(n..).unwrap_or_default());
        }
        Ok(())
    }

    /// Feed one whole header field as a milter receives it.
    pub fn header_field(&mut self, raw_field: &[u8]) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_field(raw_field, &mut self.dispatch)
    }

    /// The header block is complete.
    pub fn end_of_headers(&mut self) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_end_of_headers(&mut self.dispatch)?;
        self.headers_ended();
        Ok(())
    }

    /// The raw input has ended (if it ended inside the header block, the
    /// body is empty). Call it before asking for keys when feeding raw
    /// input; [`finish`](Self::finish) also does it.
    pub fn end_of_input(&mut self) -> Result<(), Error> {
        if !self.headers_done {
            self.splitter.finish(&mut self.dispatch)?;
            self.headers_ended();
        }
        Ok(())
    }

    /// Feed the next chunk of body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.feed_body(chunk);
        Ok(())
    }

    fn headers_ended(&mut self) {
        self.headers_done = true;
        for v in self.dispatch.verifiers.iter_mut() {
            v.end_of_headers();
        }
    }

    fn feed_body(&mut self, chunk: &[u8]) {
        for v in self.dispatch.verifiers.iter_mut() {
            v.body(chunk);
        }
    }

    /// DomainKey-Signature fields seen, including those not checked.
    pub fn signatures_seen(&self) -> usize {
        self.dispatch.seen
    }

    /// The keys to look up: `(id, name)` for [`provide_key`](Self::provide_key).
    /// Empty until the header block has ended.
    pub fn key_requests(&self) -> impl Iterator<Item = (usize, DkKeyName<'_>)> + '_ {
        self.dispatch
            .verifiers
            .iter()
            .enumerate()
            .filter(|_| self.headers_done)
            .filter_map(|(id, v)| Some((id, v.key_request()?)))
    }

    /// Answer key request `id`.
    pub fn provide_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        if let Some(v) = self.dispatch.verifiers.get_mut(id) {
            v.provide_key(answer);
        }
    }

    /// Finish the message: one result per checked signature, top first.
    pub fn finish(mut self) -> Result<heapless::Vec<DkResult, SIGS>, Error> {
        self.end_of_input()?;
        let mut results = heapless::Vec::new();
        for v in self.dispatch.verifiers {
            // One result per verifier: fits.
            let _ = results.push(v.finish());
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests;
