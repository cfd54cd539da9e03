//! Streaming signing of one DKIM2 hop.
//!
//! ```text
//! Dkim2Signer::new(&HopRequest { domain, envelope | next domain, t=, n=, f=, recipe })
//!   update(raw chunk)*        or  header_field(field)* end_of_headers() body(chunk)*
//!   finish(&mut [(selector, &mut key)], out) ─► SignedHop { signature, instance }
//! ```
//!
//! A hop adds a DKIM2-Signature with the next `i=`. It adds a
//! Message-Instance with the next `m=` when the message has none (the
//! originator) or when this hop changed it, in which case the request
//! carries the recipe back to the message as it arrived (written with
//! [`super::recipe::RecipeWriter`]); a hop that changed nothing signs the
//! newest instance as it is. One or two keys sign, each giving one `s=`
//! entry (RSA and Ed25519 together, for algorithm agility).
//!
//! The fields are written in the order and form mail-auth writes them,
//! folded at 78 columns; the signature input deletes all whitespace, so
//! the folding is never signed.

use core::fmt;

use base64ct::{Base64, Encoding};

use super::fields::{Dkim2Signature, INSTANCE_FIELD, MAX_NONCE, SIGNATURE_FIELD};
use super::hash::{header_hash, signature_input_hash};
use super::intake::Intake;
use super::{MAX_HOPS, MAX_PATH};
use crate::canon::Canon;
use crate::canon::body_hash::{BodyHasher, BodyInterest};
use crate::crypto::DigestSigner;
use crate::dkim::sign::format_u64;
use crate::error::Error;
use crate::header::HeaderSplitter;
use crate::header::writer::FieldWriter;
use crate::syntax::dns_name::check_dns_name;
use crate::syntax::tag_list::Span;

/// The most keys one hop signs with.
pub const MAX_KEYS: usize = 2;

/// The longest signature a key may give: RSA-8192.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// Why a hop could not be signed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SignerError {
    /// The message could not be taken in (capacity, order).
    Stream(Error),
    /// `d=` or `nd=` is not a domain name.
    BadDomain,
    /// A path is longer than 256 bytes, holds a control byte, or there is
    /// no RCPT TO.
    BadEnvelope,
    /// The nonce is longer than 64 characters or holds `;` or whitespace.
    BadNonce,
    /// A flag holds a byte other than a letter, digit or `-`.
    BadFlag,
    /// A selector is not a domain name.
    BadSelector,
    /// No key, more than [`MAX_KEYS`], or two with one algorithm.
    BadKeys,
    /// The message's DKIM2 fields are not a chain a hop can add to: one
    /// does not parse, `i=` or `m=` repeat, or [`MAX_HOPS`] is reached.
    BrokenChain,
    /// A recipe on a message with no Message-Instance (nothing to go back
    /// to).
    RecipeWithoutInstance,
    /// `out` is too small; nothing was signed.
    BufferTooSmall {
        /// The bytes needed.
        required: usize,
    },
    /// A key failed to sign.
    Key,
}

impl fmt::Display for SignerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignerError::Stream(e) => write!(f, "{e}"),
            SignerError::BadDomain => f.write_str("d= or nd= is not a domain name"),
            SignerError::BadEnvelope => {
                f.write_str("MAIL FROM or a RCPT TO is not a path of at most 256 bytes")
            }
            SignerError::BadNonce => f.write_str("the nonce is not 1 to 64 printable characters"),
            SignerError::BadFlag => f.write_str("a flag is not letters, digits and -"),
            SignerError::BadSelector => f.write_str("a selector is not a domain name"),
            SignerError::BadKeys => f.write_str("one or two keys of different algorithms"),
            SignerError::BrokenChain => {
                f.write_str("the message's DKIM2 fields are not a chain to add to")
            }
            SignerError::RecipeWithoutInstance => {
                f.write_str("a recipe, but no Message-Instance to go back to")
            }
            SignerError::BufferTooSmall { required } => {
                write!(f, "the output needs {required} bytes")
            }
            SignerError::Key => f.write_str("the key could not sign"),
        }
    }
}

impl core::error::Error for SignerError {}

impl From<Error> for SignerError {
    fn from(e: Error) -> Self {
        SignerError::Stream(e)
    }
}

/// Where this hop sends the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// The SMTP envelope (`mf=`, `rt=`). Paths get angle brackets if they
    /// lack them; `""` or `"<>"` is the null reverse-path.
    Envelope {
        /// MAIL FROM.
        mail_from: &'a str,
        /// Every RCPT TO of the transaction.
        rcpt_to: &'a [&'a str],
    },
    /// `nd=`: the domain that signs next, with no SMTP transaction between.
    NextDomain(&'a str),
}

/// What one hop signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopRequest<'a> {
    /// `d=`.
    pub domain: &'a str,
    /// `mf=`/`rt=` or `nd=`.
    pub destination: Destination<'a>,
    /// `t=`, seconds since the Unix epoch (core has no clock).
    pub timestamp: u64,
    /// `n=`, if any.
    pub nonce: Option<&'a str>,
    /// `f=`, if any.
    pub flags: &'a [&'a str],
    /// The recipe JSON back to the message as it arrived, when this hop
    /// changed it.
    pub recipe: Option<&'a [u8]>,
}

impl<'a> HopRequest<'a> {
    /// A hop that sends with `mail_from` to `rcpt_to` and changed nothing.
    pub fn new(
        domain: &'a str,
        mail_from: &'a str,
        rcpt_to: &'a [&'a str],
        timestamp: u64,
    ) -> Self {
        HopRequest {
            domain,
            destination: Destination::Envelope { mail_from, rcpt_to },
            timestamp,
            nonce: None,
            flags: &[],
            recipe: None,
        }
    }

    /// Check the request as [`Dkim2Signer::new`] does.
    pub fn check(&self) -> Result<(), SignerError> {
        check_dns_name(self.domain.as_bytes()).map_err(|_| SignerError::BadDomain)?;
        match self.destination {
            Destination::Envelope { mail_from, rcpt_to } => {
                if rcpt_to.is_empty() {
                    return Err(SignerError::BadEnvelope);
                }
                for path in core::iter::once(&mail_from).chain(rcpt_to) {
                    if bracketed_len(path) > MAX_PATH
                        || path.bytes().any(|b| b.is_ascii_control() || b == b' ')
                    {
                        return Err(SignerError::BadEnvelope);
                    }
                }
            }
            Destination::NextDomain(nd) => {
                check_dns_name(nd.as_bytes()).map_err(|_| SignerError::BadDomain)?;
            }
        }
        if let Some(n) = self.nonce
            && (n.len() > MAX_NONCE || !n.bytes().all(|b| b.is_ascii_graphic() && b != b';'))
        {
            return Err(SignerError::BadNonce);
        }
        if self
            .flags
            .iter()
            .any(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return Err(SignerError::BadFlag);
        }
        Ok(())
    }
}

/// The path with angle brackets, as `mf=`/`rt=` carry it.
fn bracketed(path: &str) -> (&str, bool) {
    let p = path.trim();
    if p.starts_with('<') && p.ends_with('>') && p.len() >= 2 {
        (p, false)
    } else {
        (p, true)
    }
}

fn bracketed_len(path: &str) -> usize {
    let (p, wrap) = bracketed(path);
    p.len().saturating_add(if wrap { 2 } else { 0 })
}

/// Where the new fields lie in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedHop {
    /// `DKIM2-Signature: ...`, without a final CRLF.
    pub signature: Span,
    /// `Message-Instance: ...`, without a final CRLF, when this hop adds
    /// one.
    pub instance: Option<Span>,
}

/// Streaming signer of one DKIM2 hop.
///
/// `HEADER_BYTES` and `HEADER_FIELDS` bound the header block kept (every
/// field: the header hash covers all but trace fields).
#[derive(Debug, Clone)]
pub struct Dkim2Signer<'r, const HEADER_BYTES: usize, const HEADER_FIELDS: usize> {
    request: HopRequest<'r>,
    splitter: HeaderSplitter,
    intake: Intake<HEADER_BYTES, HEADER_FIELDS>,
    body: BodyHasher,
    headers_done: bool,
}

impl<'r, const HB: usize, const HF: usize> Dkim2Signer<'r, HB, HF> {
    /// Check the request and start a message.
    pub fn new(request: &HopRequest<'r>) -> Result<Self, SignerError> {
        request.check()?;
        Ok(Dkim2Signer {
            request: *request,
            splitter: HeaderSplitter::new(),
            intake: Intake::new(),
            body: BodyHasher::new(Canon::Simple, None),
            headers_done: false,
        })
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<BodyInterest, Error> {
        if self.headers_done {
            return Ok(self.body.update(raw));
        }
        match self.splitter.push(raw, &mut self.intake)? {
            Some(n) => {
                self.headers_done = true;
                Ok(self.body.update(raw.get(n..).unwrap_or_default()))
            }
            None => Ok(BodyInterest::More),
        }
    }

    /// Feed one whole header field (`Name:value`, no final CRLF).
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
        self.headers_done = true;
        Ok(())
    }

    /// Feed the next chunk of body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<BodyInterest, Error> {
        if !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        Ok(self.body.update(chunk))
    }

    /// The `i=` and `m=` of the chain so far: (highest hop, highest
    /// instance).
    fn chain_so_far(&self) -> Result<(u32, u32), SignerError> {
        let intake = &self.intake;
        if intake.broken.is_some()
            || intake.signature_count >= MAX_HOPS
            || intake.instance_count >= MAX_HOPS
        {
            return Err(SignerError::BrokenChain);
        }
        let hops = u32::try_from(intake.signature_count).map_err(|_| SignerError::BrokenChain)?;
        let revisions =
            u32::try_from(intake.instance_count).map_err(|_| SignerError::BrokenChain)?;
        let whole = (1..=hops).all(|i| intake.signature_field(i).is_some())
            && (1..=revisions).all(|m| intake.instance_field(m).is_some());
        if !whole {
            return Err(SignerError::BrokenChain);
        }
        Ok((hops, revisions))
    }

    /// Finish the message and sign it with `keys` (selector and key, one
    /// or two). Writes the new Message-Instance (if any) and then the
    /// DKIM2-Signature into `out`, each without a final CRLF.
    ///
    /// On [`SignerError::BufferTooSmall`] nothing was signed: call again
    /// with a larger buffer.
    pub fn finish(
        &mut self,
        keys: &mut [(&str, &mut dyn DigestSigner)],
        out: &mut [u8],
    ) -> Result<SignedHop, SignerError> {
        let request = self.request;
        self.finish_for(&request, keys, out)
    }

    /// [`finish`](Self::finish) for `request` (checked as [`new`](Self::new)
    /// checks it) in place of the one `new` was given: for a signer kept
    /// longer than its request's bytes, as a signing device keeps the
    /// request apart from the signer and reads it again at the end.
    pub fn finish_for(
        &mut self,
        request: &HopRequest<'_>,
        keys: &mut [(&str, &mut dyn DigestSigner)],
        out: &mut [u8],
    ) -> Result<SignedHop, SignerError> {
        request.check()?;
        if !self.headers_done {
            self.splitter.finish(&mut self.intake)?;
            self.headers_done = true;
        }
        check_keys(keys)?;
        let (hops, revisions) = self.chain_so_far()?;
        if request.recipe.is_some() && revisions == 0 {
            return Err(SignerError::RecipeWithoutInstance);
        }
        let new_instance = revisions == 0 || request.recipe.is_some();
        let revision = if new_instance {
            revisions.saturating_add(1)
        } else {
            revisions
        };
        // The Message-Instance, at the start of `out`.
        let mut mi_end = 0;
        if new_instance {
            let header = header_hash(&self.intake.store);
            let body = self.body.clone().finish().digest;
            let mut w = FieldWriter::new(out);
            write_instance(&mut w, revision, &header, &body, request.recipe)?;
            mi_end = w.len;
            if mi_end > out.len() {
                // Measure the rest before asking for more.
                let sig_len = self.signature_len(request, keys, hops, revision, &mut [])?;
                return Err(SignerError::BufferTooSmall {
                    required: mi_end.saturating_add(sig_len),
                });
            }
        }
        let (instance_part, rest) = out.split_at_mut(mi_end);
        let instance_field: &[u8] = instance_part;
        // The signature field with its signatures left out: its input.
        let blank_len = {
            let mut w = FieldWriter::new(rest);
            self.write_signature(&mut w, request, hops, revision, keys, None)?;
            w.len
        };
        let need = self.signature_len(request, keys, hops, revision, &mut [])?;
        if blank_len > rest.len() || need > rest.len() {
            return Err(SignerError::BufferTooSmall {
                required: mi_end.saturating_add(need),
            });
        }
        let digest = {
            let blank: &[u8] = rest.get(..blank_len).unwrap_or_default();
            let parsed =
                Dkim2Signature::parse_field(blank).map_err(|_| SignerError::BadSelector)?;
            let earlier = (1..=revisions)
                .filter_map(|m| self.intake.instance_field(m))
                .chain(new_instance.then_some(instance_field))
                .chain((1..=hops).filter_map(|i| self.intake.signature_field(i)));
            signature_input_hash(earlier, blank, parsed.s_span)
        };
        let mut signatures = [[0u8; MAX_SIGNATURE_BYTES]; MAX_KEYS];
        let mut lens = [0usize; MAX_KEYS];
        for (n, (_, key)) in keys.iter_mut().enumerate() {
            let (Some(buf), Some(len)) = (signatures.get_mut(n), lens.get_mut(n)) else {
                return Err(SignerError::BadKeys);
            };
            *len = key
                .sign_digest(&digest, buf)
                .map_err(|_| SignerError::Key)?;
        }
        let mut sigs: [&[u8]; MAX_KEYS] = [&[]; MAX_KEYS];
        for ((slot, sig), len) in sigs.iter_mut().zip(&signatures).zip(lens) {
            *slot = sig.get(..len).unwrap_or_default();
        }
        let mut w = FieldWriter::new(rest);
        self.write_signature(&mut w, request, hops, revision, keys, Some(&sigs))?;
        let sig_len = w.len;
        if sig_len > rest.len() {
            return Err(SignerError::BufferTooSmall {
                required: mi_end.saturating_add(sig_len),
            });
        }
        Ok(SignedHop {
            signature: Span {
                start: mi_end,
                end: mi_end.saturating_add(sig_len),
            },
            instance: new_instance.then_some(Span {
                start: 0,
                end: mi_end,
            }),
        })
    }

    /// The length of the signature field with real signatures.
    fn signature_len(
        &self,
        request: &HopRequest<'_>,
        keys: &[(&str, &mut dyn DigestSigner)],
        hops: u32,
        revision: u32,
        scratch: &mut [u8],
    ) -> Result<usize, SignerError> {
        let zeros = [0u8; MAX_SIGNATURE_BYTES];
        let mut sigs: [&[u8]; MAX_KEYS] = [&[]; MAX_KEYS];
        for (n, (_, key)) in keys.iter().enumerate() {
            if let Some(s) = sigs.get_mut(n) {
                *s = zeros
                    .get(..key.signature_len())
                    .ok_or(SignerError::BadKeys)?;
            }
        }
        let mut w = FieldWriter::new(scratch);
        self.write_signature(&mut w, request, hops, revision, keys, Some(&sigs))?;
        Ok(w.len)
    }

    /// Write the DKIM2-Signature, with `signatures` or (for the signature
    /// input) with none.
    fn write_signature(
        &self,
        w: &mut FieldWriter<'_>,
        r: &HopRequest<'_>,
        hops: u32,
        revision: u32,
        keys: &[(&str, &mut dyn DigestSigner)],
        signatures: Option<&[&[u8]; MAX_KEYS]>,
    ) -> Result<(), SignerError> {
        let mut num = [0u8; 20];
        w.put(SIGNATURE_FIELD.as_bytes());
        w.put(b":");
        w.unit(&[
            b"i=",
            format_u64(u64::from(hops.saturating_add(1)), &mut num),
            b";",
        ]);
        w.unit(&[b"m=", format_u64(u64::from(revision), &mut num), b";"]);
        w.unit(&[b"t=", format_u64(r.timestamp, &mut num), b";"]);
        w.unit(&[b"d=", r.domain.as_bytes(), b";"]);
        match r.destination {
            Destination::Envelope { mail_from, rcpt_to } => {
                w.unit(&[b"mf="]);
                path_base64(w, mail_from)?;
                w.put(b";");
                w.unit(&[b"rt="]);
                for (n, rcpt) in rcpt_to.iter().enumerate() {
                    if n > 0 {
                        w.put(b",");
                    }
                    path_base64(w, rcpt)?;
                }
                w.put(b";");
            }
            Destination::NextDomain(nd) => w.unit(&[b"nd=", nd.as_bytes(), b";"]),
        }
        w.unit(&[b"s="]);
        for (n, (selector, key)) in keys.iter().enumerate() {
            if n > 0 {
                w.put(b",");
            }
            w.glued(&[
                selector.as_bytes(),
                b":",
                key.algorithm().as_str().as_bytes(),
                b":",
            ]);
            if let Some(sig) = signatures.and_then(|s| s.get(n)) {
                w.base64(sig).map_err(|_| SignerError::Key)?;
            }
        }
        w.put(b";");
        if let Some(n) = r.nonce {
            w.unit(&[b"n=", n.as_bytes(), b";"]);
        }
        if !r.flags.is_empty() {
            w.unit(&[b"f="]);
            for (n, flag) in r.flags.iter().enumerate() {
                if n > 0 {
                    w.put(b",");
                }
                w.glued(&[flag.as_bytes()]);
            }
            w.put(b";");
        }
        Ok(())
    }
}

/// `path` with angle brackets, in base64, folded where it must be.
fn path_base64(w: &mut FieldWriter<'_>, path: &str) -> Result<(), SignerError> {
    let (p, wrap) = bracketed(path);
    let mut buf = [0u8; MAX_PATH];
    let mut len: usize = 0;
    for part in [if wrap { "<" } else { "" }, p, if wrap { ">" } else { "" }] {
        let end = len.saturating_add(part.len());
        buf.get_mut(len..end)
            .ok_or(SignerError::BadEnvelope)?
            .copy_from_slice(part.as_bytes());
        len = end;
    }
    w.base64(buf.get(..len).unwrap_or_default())
        .map_err(|_| SignerError::BadEnvelope)
}

/// The Message-Instance of `revision` with the sha256 hashes and the
/// recipe, if any.
fn write_instance(
    w: &mut FieldWriter<'_>,
    revision: u32,
    header: &[u8; 32],
    body: &[u8; 32],
    recipe: Option<&[u8]>,
) -> Result<(), SignerError> {
    let mut num = [0u8; 20];
    let mut hh = [0u8; 44];
    let mut bh = [0u8; 44];
    let hh = Base64::encode(header, &mut hh).map_err(|_| SignerError::Key)?;
    let bh = Base64::encode(body, &mut bh).map_err(|_| SignerError::Key)?;
    w.put(INSTANCE_FIELD.as_bytes());
    w.put(b":");
    w.unit(&[b"m=", format_u64(u64::from(revision), &mut num), b";"]);
    w.unit(&[b"h=sha256:", hh.as_bytes(), b":", bh.as_bytes(), b";"]);
    if let Some(json) = recipe {
        w.unit(&[b"r="]);
        w.base64(json).map_err(|_| SignerError::Key)?;
        w.put(b";");
    }
    Ok(())
}

/// One or two keys, of different algorithms, with selectors in DNS syntax.
fn check_keys(keys: &[(&str, &mut dyn DigestSigner)]) -> Result<(), SignerError> {
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(SignerError::BadKeys);
    }
    if let [(_, a), (_, b)] = keys
        && a.algorithm() == b.algorithm()
    {
        return Err(SignerError::BadKeys);
    }
    for (selector, key) in keys {
        check_dns_name(selector.as_bytes()).map_err(|_| SignerError::BadSelector)?;
        if key.signature_len() > MAX_SIGNATURE_BYTES {
            return Err(SignerError::BadKeys);
        }
    }
    Ok(())
}
