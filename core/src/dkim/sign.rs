//! Signing: one message in, one DKIM-Signature field out (RFC 6376 §5),
//! or one per key with [`MultiSigner`] (the body hashed once per
//! distinct body canonicalization and `l=`).
//!
//! ```text
//! SignRequest ─► MessageSigner::new
//!   update(raw chunk)*            or  header_field(field)* end_of_headers() body(chunk)*
//!   required_len(&key) ─► bytes the field needs (optional)
//!   finish(&mut impl DigestSigner, &mut out) ─► "DKIM-Signature: v=1; a=...; b=..."
//! ```
//!
//! `finish` takes the signer by reference: a buffer that is too small
//! costs no signature, and the error names the size to retry with.
//!
//! The signer keeps only the header fields its `h=` list names, up to the
//! capacities `HEADER_BYTES` and `HEADER_FIELDS`, and the body hasher's
//! O(1) state. It refuses a message with no From field or with several
//! (security case 1; RFC 6376 §8.15).

use crate::canon::body_hash::BodyInterest;
use crate::canon::{Canonicalization, HeaderCanonicalizer, canonicalize_header};
use crate::crypto::{DigestSigner, SigningAlgorithm};
use crate::error::Error;
use crate::header::HeaderStore;
use crate::syntax::dns_name::{check_dns_name, is_same_or_subdomain};
use sha2::{Digest, Sha256};

mod multi;
pub use multi::MultiSigner;

/// The header fields signed by default, each oversigned once (DESIGN.md;
/// security case 23; RFC 6376 §8.15).
pub const DEFAULT_SIGNED_HEADERS: [&str; 9] = [
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "reply-to",
    "message-id",
    "mime-version",
    "content-type",
];

/// Which header fields to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderSelection<'a> {
    /// Sign every instance of each name, and name each once more so that
    /// an added instance breaks the signature (oversigning).
    Oversign(&'a [&'a str]),
    /// Use exactly this `h=` list, in this order (§5.4.2 bottom-up).
    Exact(&'a [&'a str]),
}

impl Default for HeaderSelection<'_> {
    fn default() -> Self {
        HeaderSelection::Oversign(&DEFAULT_SIGNED_HEADERS)
    }
}

/// Whether and how the body length tag `l=` is used (§3.5, §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyLength {
    /// No `l=`: the whole body is signed (the default; security case 23).
    #[default]
    Omit,
    /// Sign the whole body and say its canonical length in `l=`.
    Whole,
    /// Sign only the first so many canonical body bytes, and say so in `l=`.
    Limit(u64),
}

/// What to sign with: everything that goes into the DKIM-Signature field
/// except what the message itself supplies.
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    /// `d=`, the signing domain.
    pub domain: &'a str,
    /// `s=`, the selector.
    pub selector: &'a str,
    /// `a=`.
    pub algorithm: SigningAlgorithm,
    /// `c=`.
    pub canonicalization: Canonicalization,
    /// `h=`.
    pub headers: HeaderSelection<'a>,
    /// `t=`, the signing time (seconds since the epoch), from the caller.
    pub timestamp: Option<u64>,
    /// `x=`, the absolute expiration time.
    pub expiration: Option<u64>,
    /// `i=`, the agent or user identifier.
    pub identity: Option<&'a str>,
    /// `l=`.
    pub body_length: BodyLength,
    /// `z=`: copy the signed header fields into the signature.
    pub copied_headers: bool,
}

impl<'a> SignRequest<'a> {
    /// A request with the signer defaults: relaxed/relaxed, the default
    /// oversigned header set, no `t=`, `x=`, `i=`, `l=` or `z=`.
    pub fn new(domain: &'a str, selector: &'a str, algorithm: SigningAlgorithm) -> Self {
        SignRequest {
            domain,
            selector,
            algorithm,
            canonicalization: Canonicalization::RELAXED,
            headers: HeaderSelection::default(),
            timestamp: None,
            expiration: None,
            identity: None,
            body_length: BodyLength::Omit,
            copied_headers: false,
        }
    }
}

/// Longest `d=` (RFC 1035 name length).
pub(crate) const DOMAIN_CAP: usize = 253;
/// Longest `s=` (a selector may have several labels).
pub(crate) const SELECTOR_CAP: usize = 253;
/// Longest `i=`.
const IDENTITY_CAP: usize = 320;
/// Room for the `h=` names, colon-separated.
const NAMES_CAP: usize = 512;
/// The most names in `h=`.
const NAMES_MAX: usize = 64;
/// Room for a signature (RSA-8192).
pub(crate) const SIGNATURE_CAP: usize = 1024;

/// The names a signer keeps, lower-cased, in request order.
type NameList = crate::header::names::NameList<NAMES_CAP, NAMES_MAX>;

/// The header field names a signer asks for, lower-cased, and how it
/// writes them into `h=` (RFC 6376 §5.4; §5.4.2 and §8.15 for
/// oversigning). DKIM and ARC (RFC 8617 §4.1.2) sign the same way.
#[derive(Debug, Clone)]
pub(crate) struct SignedNames {
    wanted: NameList,
    oversign: bool,
}

impl SignedNames {
    /// Check `selection`. With `from_required` (DKIM, §5.4: From MUST be
    /// signed), From is added to an oversigned list and its absence from
    /// an exact one is [`Error::InvalidTagValue`].
    pub(crate) fn new(selection: HeaderSelection<'_>, from_required: bool) -> Result<Self, Error> {
        let (names, oversign) = match selection {
            HeaderSelection::Oversign(n) => (n, true),
            HeaderSelection::Exact(n) => (n, false),
        };
        let mut wanted = NameList::new();
        for n in names {
            wanted.push_lowercase(crate::header::names::requested_name(n)?)?;
        }
        if from_required && !wanted.contains(b"from") {
            if oversign {
                wanted.push(b"from")?;
            } else {
                return Err(Error::InvalidTagValue { tag: "h" });
            }
        }
        Ok(SignedNames { wanted, oversign })
    }

    /// Is `name` one of them (so its fields must be kept)?
    pub(crate) fn wants(&self, name: &[u8]) -> bool {
        self.wanted.contains(name)
    }

    /// The `h=` list for the fields in `store`: each wanted name once per
    /// instance present, plus once more when oversigning.
    pub(crate) fn h_names<'a, const B: usize, const F: usize>(
        &'a self,
        store: &'a HeaderStore<B, F>,
    ) -> impl Iterator<Item = &'a [u8]> + Clone + 'a {
        self.wanted.iter().flat_map(move |name| {
            let times = if self.oversign {
                store.count(name).saturating_add(1)
            } else {
                1
            };
            core::iter::repeat_n(name, times)
        })
    }
}

/// Streaming DKIM signer for one message and one key: a
/// [`MultiSigner`] with one request.
///
/// `HEADER_BYTES` and `HEADER_FIELDS` bound the header fields it keeps
/// (only those its `h=` list names).
#[derive(Debug, Clone)]
pub struct MessageSigner<const HEADER_BYTES: usize, const HEADER_FIELDS: usize> {
    inner: MultiSigner<HEADER_BYTES, HEADER_FIELDS, 1, 1>,
}

/// Is `s` a domain name in the `d=` / `s=` syntax (RFC 6376 §3.5), as
/// [`check_dns_name`] checks it?
pub(crate) fn is_domain_syntax(s: &str) -> bool {
    check_dns_name(s.as_bytes()).is_ok()
}

pub(crate) fn copy_into<const N: usize>(
    s: &str,
    tag: &'static str,
) -> Result<heapless::Vec<u8, N>, Error> {
    heapless::Vec::from_slice(s.as_bytes()).map_err(|_| Error::InvalidTagValue { tag })
}

impl<const HEADER_BYTES: usize, const HEADER_FIELDS: usize>
    MessageSigner<HEADER_BYTES, HEADER_FIELDS>
{
    /// Check the request and start a message.
    pub fn new(req: &SignRequest<'_>) -> Result<Self, Error> {
        Ok(MessageSigner {
            inner: MultiSigner::new(core::slice::from_ref(req))?,
        })
    }

    /// Feed the next chunk of the raw message (header block, blank line,
    /// body), split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<BodyInterest, Error> {
        self.inner.update(raw)
    }

    /// Feed one whole header field, as a milter receives it: `Name:value`
    /// with folding CRLFs, without the final CRLF.
    pub fn header_field(&mut self, raw_field: &[u8]) -> Result<(), Error> {
        self.inner.header_field(raw_field)
    }

    /// The header block is complete (a milter's end-of-headers).
    pub fn end_of_headers(&mut self) -> Result<(), Error> {
        self.inner.end_of_headers()
    }

    /// Feed the next chunk of body. Once it returns
    /// [`BodyInterest::Done`], the rest of the body cannot change the
    /// signature and need not be sent.
    pub fn body(&mut self, chunk: &[u8]) -> Result<BodyInterest, Error> {
        self.inner.body(chunk)
    }

    /// The exact size of the field [`finish`](Self::finish) writes when
    /// signing with `key`, for the message fed so far, computed without
    /// signing (only `key`'s signature length is used). Ask it after the
    /// last input.
    pub fn required_len<K: DigestSigner + ?Sized>(&self, key: &K) -> usize {
        self.inner.first_required_len(key.signature_len())
    }

    /// Finish the message and sign it with `key`. The complete field,
    /// `DKIM-Signature: ...` without a final CRLF, is written to `out`;
    /// its length is returned.
    ///
    /// It works by reference: on [`Error::BufferTooSmall`] nothing was
    /// signed and the signer is unchanged, so call it again with
    /// `required` bytes (or size `out` with
    /// [`required_len`](Self::required_len) first). From the first call
    /// on, the message takes no more input ([`Error::OutOfOrder`]).
    pub fn finish<K: DigestSigner + ?Sized>(
        &mut self,
        key: &mut K,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.inner.finish(0, key, out)
    }
}

pub(crate) fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i = i.saturating_sub(1);
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0'.saturating_add((n % 10) as u8);
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

/// Hash the header fields an `h=` list selects, then the signature field
/// with its `b=` value removed, as §3.7 describes; shared by signing and
/// verification. `sig_field_pieces` are the raw signature field without
/// the value of `b=` (typically the bytes before and after it).
pub fn header_hash<'h, const B: usize, const F: usize, I>(
    store: &HeaderStore<B, F>,
    canon: crate::canon::Canon,
    h: I,
    sig_field_pieces: &[&[u8]],
) -> [u8; 32]
where
    I: IntoIterator<Item = &'h [u8]> + Clone,
{
    fields_hash(store.select(h).flatten(), canon, sig_field_pieces)
}

/// Hash `fields`, each canonicalized with its CRLF, then the signature
/// field given as `sig_field_pieces` (its `b=` value left out) without
/// one (RFC 6376 §3.7). [`header_hash`] selects the fields by `h=`; an
/// ARC-Seal (RFC 8617 §5.1.1) names them by instance.
pub fn fields_hash<'f>(
    fields: impl IntoIterator<Item = &'f [u8]>,
    canon: crate::canon::Canon,
    sig_field_pieces: &[&[u8]],
) -> [u8; 32] {
    let mut hash = Sha256::new();
    for field in fields {
        canonicalize_header(canon, field, true, &mut hash);
    }
    let mut c = HeaderCanonicalizer::new(canon);
    for piece in sig_field_pieces {
        c.update(piece, &mut hash);
    }
    c.finish(false, &mut hash);
    hash.finalize().into()
}
