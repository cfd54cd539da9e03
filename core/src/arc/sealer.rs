//! Streaming ARC sealing, RFC 8617 §5.1: the next set, i=N+1.
//!
//! ```text
//! SealRequest ─► ArcSealer::new
//!   update(raw chunk)*        or  header_field(field)* end_of_headers() body(chunk)*
//!   required_len(&results, &key) ─► the room the three fields need (optional)
//!   finish(&results, chain cv, &mut impl DigestSigner, &mut out)
//!     ─► "ARC-Authentication-Results: i=N+1; ..." CRLF
//!        "ARC-Message-Signature: a=...; b=...; ..." CRLF
//!        "ARC-Seal: a=...; b=...; cv=...; ..."
//! ```
//!
//! The three fields are computed in that order (§5.1): the AAR records the
//! caller's results under its authserv-id; the AMS is a DKIM signature
//! (same `h=` selection, canonicalization, body hash and header hash as
//! [`crate::dkim::sign`]) with `i=` the instance; the AS signs, relaxed,
//! every earlier set and the new AAR and AMS (§5.1.1) — or, when the chain
//! failed, the new set alone (§5.1.2). Tags are written in alphabetical
//! order, as the reference implementations do, with `b=` second, and each
//! `b=` value on one line when it fits in 998 bytes: the AS hashes the AMS
//! as written (relaxed, so a fold inside `b=` would hash as a space), and
//! a `b=` free of whitespace is hashed alike by every implementation.
//!
//! The chain's status comes from the caller (a [`super::ChainValidator`]
//! run over the same message). A message whose newest AS already says
//! `cv=fail` is not sealed again (§5.1 step 1: [`SealerError::ChainFailed`]).
//!
//! The sealer keeps the fields its `h=` names and the ARC fields (at most
//! 3 × 50; more cannot be a chain that passes), up to the capacities
//! `HEADER_BYTES` and `HEADER_FIELDS`, and one body hasher's O(1) state.
//! Both signatures go through [`DigestSigner`], so a device can make them.

use core::fmt;

use super::seal::ArcSeal;
use super::{ChainStatus, MAX_INSTANCES, Member, instance_of};
use crate::canon::body_hash::{BodyHasher, BodyInterest};
use crate::canon::{Canon, Canonicalization};
use crate::crypto::{DigestSigner, SigningAlgorithm};
use crate::dkim::sign::{
    DOMAIN_CAP, HeaderSelection, SELECTOR_CAP, SIGNATURE_CAP, SignedNames, copy_into, fields_hash,
    format_u64, header_hash, is_domain_syntax,
};
use crate::error::Error;
use crate::header::writer::FieldWriter;
use crate::header::{FieldSink, HeaderSplitter, HeaderStore, field_name};
use crate::syntax::tag_list::Span;

/// The fields an AMS signs by default, each oversigned once (RFC 8617
/// §4.1.2 asks for the DKIM-Signature fields too).
pub const DEFAULT_SEALED_HEADERS: [&str; 13] = [
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "reply-to",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "dkim-signature",
];

/// Longest authserv-id accepted.
const AUTHSERV_ID_CAP: usize = 255;

/// Why sealing stopped.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SealerError {
    /// Intake, capacity, output room or signing (as for DKIM).
    Stream(Error),
    /// The newest ARC-Seal already says `cv=fail` (§5.1 step 1).
    ChainFailed,
    /// The chain has 50 sets already (§4.2.1).
    ChainFull,
    /// The status given does not fit the chain in the message: `none` for
    /// a message with sets, or `pass` for one whose sets are incomplete or
    /// duplicated.
    ChainMismatch,
    /// The authserv-id is empty or not a token.
    BadAuthservId,
    /// `h=` names an ARC field (§4.1.2 forbids ARC-Seal; the others are
    /// not selectable once the new set is on top).
    ArcFieldInHeaderList,
}

impl fmt::Display for SealerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealerError::Stream(e) => write!(f, "{e}"),
            SealerError::ChainFailed => f.write_str("the chain already failed (cv=fail)"),
            SealerError::ChainFull => write!(f, "the chain has {MAX_INSTANCES} sets already"),
            SealerError::ChainMismatch => f.write_str("the chain status does not fit the message"),
            SealerError::BadAuthservId => f.write_str("bad authserv-id"),
            SealerError::ArcFieldInHeaderList => f.write_str("h= names an ARC field"),
        }
    }
}

impl core::error::Error for SealerError {}

impl From<Error> for SealerError {
    fn from(e: Error) -> Self {
        SealerError::Stream(e)
    }
}

/// What to seal with.
#[derive(Debug, Clone, Copy)]
pub struct SealRequest<'a> {
    /// `d=` of the AMS and the AS.
    pub domain: &'a str,
    /// `s=` of both.
    pub selector: &'a str,
    /// `a=` of both.
    pub algorithm: SigningAlgorithm,
    /// The AMS `c=` (the AS is always relaxed, §5.1.1).
    pub canonicalization: Canonicalization,
    /// The AMS `h=`.
    pub headers: HeaderSelection<'a>,
    /// `t=` of both, from the caller's clock.
    pub timestamp: Option<u64>,
    /// The authserv-id the AAR records (RFC 8601 §2.5).
    pub authserv_id: &'a str,
}

impl<'a> SealRequest<'a> {
    /// relaxed/relaxed, [`DEFAULT_SEALED_HEADERS`] oversigned, no `t=`.
    pub fn new(
        domain: &'a str,
        selector: &'a str,
        algorithm: SigningAlgorithm,
        authserv_id: &'a str,
    ) -> Self {
        SealRequest {
            domain,
            selector,
            algorithm,
            canonicalization: Canonicalization::RELAXED,
            headers: HeaderSelection::Oversign(&DEFAULT_SEALED_HEADERS),
            timestamp: None,
            authserv_id,
        }
    }
}

/// Where the three new fields lie in the output, each without a CRLF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedSet {
    /// The instance written, N+1.
    pub instance: u8,
    /// ARC-Authentication-Results.
    pub auth_results: Span,
    /// ARC-Message-Signature.
    pub message_signature: Span,
    /// ARC-Seal.
    pub seal: Span,
    /// The whole output: the three fields joined by CRLF.
    pub len: usize,
}

/// The header side: keeps the fields `h=` names and the ARC fields.
struct Intake<'s, const B: usize, const F: usize> {
    names: &'s SignedNames,
    store: &'s mut HeaderStore<B, F>,
    arc_fields: &'s mut usize,
}

impl<const B: usize, const F: usize> FieldSink for Intake<'_, B, F> {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        let arc = Member::from_field_name(name).is_some();
        if arc {
            if *self.arc_fields >= 3 * MAX_INSTANCES {
                // Past any chain that could pass; sealing a failed chain
                // needs none of them (§5.1.2).
                return Ok(false);
            }
            *self.arc_fields = self.arc_fields.saturating_add(1);
        }
        if arc || self.names.wants(name) {
            self.store.begin()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.store.extend(bytes)
    }

    fn end_field(&mut self) -> Result<(), Error> {
        self.store.end();
        Ok(())
    }
}

/// Streaming sealer of one message: writes its next ARC set.
#[derive(Debug, Clone)]
pub struct ArcSealer<const HEADER_BYTES: usize, const HEADER_FIELDS: usize> {
    domain: heapless::Vec<u8, DOMAIN_CAP>,
    selector: heapless::Vec<u8, SELECTOR_CAP>,
    authserv_id: heapless::Vec<u8, AUTHSERV_ID_CAP>,
    algorithm: SigningAlgorithm,
    canon: Canonicalization,
    timestamp: Option<u64>,
    names: SignedNames,
    splitter: HeaderSplitter,
    store: HeaderStore<HEADER_BYTES, HEADER_FIELDS>,
    arc_fields: usize,
    body: BodyHasher,
    closed: bool,
}

impl<const HEADER_BYTES: usize, const HEADER_FIELDS: usize> ArcSealer<HEADER_BYTES, HEADER_FIELDS> {
    /// Check the request and start a message.
    pub fn new(req: &SealRequest<'_>) -> Result<Self, SealerError> {
        if !is_domain_syntax(req.domain) {
            return Err(Error::InvalidTagValue { tag: "d" }.into());
        }
        if !is_domain_syntax(req.selector) {
            return Err(Error::InvalidTagValue { tag: "s" }.into());
        }
        let id = req.authserv_id.as_bytes();
        let token = |b: &u8| (0x21..=0x7e).contains(b) && !b"()<>@,;:\\\"/[]?=".contains(b);
        if id.is_empty() || !id.iter().all(token) {
            return Err(SealerError::BadAuthservId);
        }
        let names = SignedNames::new(req.headers, false)?;
        if Member::ALL
            .iter()
            .any(|m| names.wants(m.field_name().as_bytes()))
        {
            return Err(SealerError::ArcFieldInHeaderList);
        }
        Ok(ArcSealer {
            domain: copy_into(req.domain, "d")?,
            selector: copy_into(req.selector, "s")?,
            authserv_id: heapless::Vec::from_slice(id).map_err(|_| SealerError::BadAuthservId)?,
            algorithm: req.algorithm,
            canon: req.canonicalization,
            timestamp: req.timestamp,
            names,
            splitter: HeaderSplitter::new(),
            store: HeaderStore::new(),
            arc_fields: 0,
            body: BodyHasher::new(req.canonicalization.body, None),
            closed: false,
        })
    }

    fn intake(&mut self) -> (Intake<'_, HEADER_BYTES, HEADER_FIELDS>, &mut HeaderSplitter) {
        (
            Intake {
                names: &self.names,
                store: &mut self.store,
                arc_fields: &mut self.arc_fields,
            },
            &mut self.splitter,
        )
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<BodyInterest, Error> {
        if self.closed {
            return Err(Error::OutOfOrder);
        }
        if self.splitter.is_done() {
            return Ok(self.body.update(raw));
        }
        let (mut intake, splitter) = self.intake();
        match splitter.push(raw, &mut intake)? {
            Some(n) => Ok(self.body.update(raw.get(n..).unwrap_or_default())),
            None => Ok(BodyInterest::More),
        }
    }

    /// Feed one whole header field (`Name:value`, no final CRLF).
    pub fn header_field(&mut self, raw_field: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::OutOfOrder);
        }
        let (mut intake, splitter) = self.intake();
        splitter.push_field(raw_field, &mut intake)
    }

    /// The header block is complete.
    pub fn end_of_headers(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::OutOfOrder);
        }
        let (mut intake, splitter) = self.intake();
        splitter.push_end_of_headers(&mut intake)
    }

    /// Feed the next chunk of body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<BodyInterest, Error> {
        if self.closed || !self.splitter.is_done() {
            return Err(Error::OutOfOrder);
        }
        Ok(self.body.update(chunk))
    }

    /// The exact size of the output of [`finish`](Self::finish) with these
    /// `results` and `key`, computed without signing.
    pub fn required_len<K: DigestSigner + ?Sized>(
        &self,
        results: &[&[u8]],
        key: &K,
    ) -> Result<usize, SealerError> {
        let instance = self.next_instance()?;
        let zeros = [0u8; SIGNATURE_CAP];
        let sig = zeros.get(..key.signature_len()).ok_or(Error::Key)?;
        Ok(self.layout(instance, results, ChainStatus::Pass, sig))
    }

    /// Finish the message and write its next set into `out`: the AAR
    /// recording `results` (resinfo texts such as `dkim=pass
    /// header.d=example.com`, joined by `;`; none gives `none`), the AMS and
    /// the AS with `cv=` `chain`, signed with `key`. On
    /// [`Error::BufferTooSmall`] nothing was signed; call again with
    /// `required` bytes.
    pub fn finish<K: DigestSigner + ?Sized>(
        &mut self,
        results: &[&[u8]],
        chain: ChainStatus,
        key: &mut K,
        out: &mut [u8],
    ) -> Result<SealedSet, SealerError> {
        self.closed = true;
        let (mut intake, splitter) = self.intake();
        splitter.finish(&mut intake)?;
        if key.algorithm() != self.algorithm {
            return Err(Error::AlgorithmMismatch.into());
        }
        let instance = self.next_instance()?;
        let previous = instance.saturating_sub(1);
        let chain = match (previous, chain) {
            // i=1 has cv=none (§5.1.1), whatever junk came before.
            (0, _) => ChainStatus::None,
            (_, ChainStatus::None) => return Err(SealerError::ChainMismatch),
            (_, status) => status,
        };
        if chain == ChainStatus::Pass && !self.whole_sets(previous) {
            return Err(SealerError::ChainMismatch);
        }
        let sig_len = key.signature_len();
        let zeros = [0u8; SIGNATURE_CAP];
        let placeholder = zeros.get(..sig_len).ok_or(Error::Key)?;
        let required = self.layout(instance, results, chain, placeholder);
        if required > out.len() {
            return Err(Error::BufferTooSmall { required }.into());
        }
        let body = self.body.clone().finish();
        let set = self.set_spans(instance, results, chain, &body.digest, placeholder, out);

        // The AMS over the selected fields (a DKIM header hash).
        let ams = set.message_signature;
        let (before, after) = around_b(out, ams, Member::MessageSignature)?;
        let digest = header_hash(
            &self.store,
            self.canon.header,
            self.names.h_names(&self.store),
            &[before, after],
        );
        let mut sig = [0u8; SIGNATURE_CAP];
        let n = key.sign_digest(&digest, &mut sig)?;
        let ams_sig = sig.get(..n).ok_or(Error::Key)?;
        let mut w = FieldWriter::new(out.get_mut(ams.start..ams.end).unwrap_or_default());
        self.write_ams(&mut w, instance, &body.digest, ams_sig)?;

        // The AS over the earlier sets, the new AAR and AMS (§5.1.1), or
        // over the new set alone when the chain failed (§5.1.2).
        let seal = set.seal;
        let (before, after) = around_b(out, seal, Member::Seal)?;
        let new_set = [set.auth_results, set.message_signature]
            .into_iter()
            .filter_map(|span| span.get(out));
        let earlier = (1..=previous)
            .filter(|_| chain == ChainStatus::Pass)
            .flat_map(|i| Member::ALL.into_iter().map(move |m| (i, m)))
            .filter_map(|(i, m)| self.arc_field(i, m));
        let digest = fields_hash(earlier.chain(new_set), Canon::Relaxed, &[before, after]);
        let n = key.sign_digest(&digest, &mut sig)?;
        let seal_sig = sig.get(..n).ok_or(Error::Key)?;
        let mut w = FieldWriter::new(out.get_mut(seal.start..seal.end).unwrap_or_default());
        write_seal(&mut w, self, instance, chain, seal_sig)?;
        Ok(set)
    }

    /// N+1: one above the highest instance among the kept ARC fields.
    fn next_instance(&self) -> Result<u8, SealerError> {
        let mut highest = 0u8;
        let mut newest_seal = None;
        for field in self.store.iter() {
            let Some(member) = Member::from_field_name(field_name(field)) else {
                continue;
            };
            if let Ok(i) = instance_of(member, field)
                && i >= highest
            {
                highest = i;
                if member == Member::Seal {
                    newest_seal = Some(field);
                }
            }
        }
        // §5.1 step 1: a chain that failed is not sealed again.
        let failed = newest_seal
            .and_then(|f| ArcSeal::parse_field(f).ok())
            .is_some_and(|s| s.instance == highest && s.chain == ChainStatus::Fail);
        if failed {
            return Err(SealerError::ChainFailed);
        }
        if usize::from(highest) >= MAX_INSTANCES {
            return Err(SealerError::ChainFull);
        }
        Ok(highest.saturating_add(1))
    }

    /// The one kept field of `member` at `instance`; `None` if there is
    /// none or more than one.
    fn arc_field(&self, instance: u8, member: Member) -> Option<&[u8]> {
        let mut found = self.store.iter().filter(|f| {
            Member::from_field_name(field_name(f)) == Some(member)
                && instance_of(member, f) == Ok(instance)
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// Does every instance up to `previous` have exactly its three fields?
    fn whole_sets(&self, previous: u8) -> bool {
        (1..=previous).all(|i| Member::ALL.iter().all(|&m| self.arc_field(i, m).is_some()))
    }

    /// Measure the three fields with a signature as long as `sig`: the
    /// total length (the body hash has a fixed length).
    fn layout(&self, instance: u8, results: &[&[u8]], chain: ChainStatus, sig: &[u8]) -> usize {
        self.set_spans(instance, results, chain, &[0; 32], sig, &mut [])
            .len
    }

    /// Write the three fields into `out` (or measure them, past its end)
    /// with `bh` in the AMS and `sig` in both `b=`.
    fn set_spans(
        &self,
        instance: u8,
        results: &[&[u8]],
        chain: ChainStatus,
        bh: &[u8; 32],
        sig: &[u8],
        out: &mut [u8],
    ) -> SealedSet {
        let auth_results = place(out, 0, &mut |w| self.write_aar(w, instance, results));
        let _ = crate::bytes::copy_at(out, auth_results.end, b"\r\n");
        let message_signature = place(out, auth_results.end.saturating_add(2), &mut |w| {
            let _ = self.write_ams(w, instance, bh, sig);
        });
        let _ = crate::bytes::copy_at(out, message_signature.end, b"\r\n");
        let seal = place(out, message_signature.end.saturating_add(2), &mut |w| {
            let _ = write_seal(w, self, instance, chain, sig);
        });
        SealedSet {
            instance,
            auth_results,
            message_signature,
            seal,
            len: seal.end,
        }
    }

    /// `ARC-Authentication-Results: i=N; authserv-id; result; ...`
    /// (§4.1.1; RFC 8601 §2.2).
    fn write_aar(&self, w: &mut FieldWriter<'_>, instance: u8, results: &[&[u8]]) {
        let mut num = [0u8; 20];
        w.put(b"ARC-Authentication-Results:");
        w.unit(&[b"i=", format_u64(u64::from(instance), &mut num), b";"]);
        let texts = results.iter().filter(|r| !r.is_empty());
        if texts.clone().next().is_none() {
            w.unit(&[&self.authserv_id, b";"]);
            w.unit(&[b"none"]);
            return;
        }
        w.unit(&[&self.authserv_id, b";"]);
        let last = texts.clone().count().saturating_sub(1);
        for (n, text) in texts.enumerate() {
            w.unit_unfolded(text, if n == last { b"" } else { b";" });
        }
    }

    /// `ARC-Message-Signature: a=; b=; bh=; c=; d=; h=; i=; s=; t=`.
    fn write_ams(
        &self,
        w: &mut FieldWriter<'_>,
        instance: u8,
        bh: &[u8; 32],
        sig: &[u8],
    ) -> Result<(), Error> {
        let mut num = [0u8; 20];
        w.put(b"ARC-Message-Signature:");
        w.unit(&[b"a=", self.algorithm.as_str().as_bytes(), b";"]);
        w.unit(&[b"b="]);
        w.base64_line(sig)?;
        w.put(b";");
        let mut b64 = [0u8; 44];
        let bh = <base64ct::Base64 as base64ct::Encoding>::encode(bh, &mut b64)
            .map_err(|_| Error::Key)?;
        w.unit(&[b"bh=", bh.as_bytes(), b";"]);
        w.unit(&[
            b"c=",
            self.canon.header.as_str().as_bytes(),
            b"/",
            self.canon.body.as_str().as_bytes(),
            b";",
        ]);
        w.unit(&[b"d=", &self.domain, b";"]);
        w.unit(&[b"h="]);
        for (n, name) in self.names.h_names(&self.store).enumerate() {
            let sep: &[u8] = if n > 0 { b":" } else { b"" };
            w.glued(&[sep, name]);
        }
        w.put(b";");
        w.unit(&[b"i=", format_u64(u64::from(instance), &mut num)]);
        self.write_tail(w);
        Ok(())
    }

    /// `; s=...` and `; t=...`, the tags after `i=`; no final `;`.
    fn write_tail(&self, w: &mut FieldWriter<'_>) {
        let mut num = [0u8; 20];
        w.put(b";");
        w.unit(&[b"s=", &self.selector]);
        if let Some(t) = self.timestamp {
            w.put(b";");
            w.unit(&[b"t=", format_u64(t, &mut num)]);
        }
    }
}

/// Write one field at `at` in `out` (or only measure it, past the end of
/// `out`); return where it lies.
fn place(out: &mut [u8], at: usize, write: &mut dyn FnMut(&mut FieldWriter<'_>)) -> Span {
    let mut w = FieldWriter::new(out.get_mut(at..).unwrap_or_default());
    write(&mut w);
    Span {
        start: at,
        end: at.saturating_add(w.len),
    }
}

/// `ARC-Seal: a=; b=; cv=; d=; i=; s=; t=` (§4.1.3).
fn write_seal<const B: usize, const F: usize>(
    w: &mut FieldWriter<'_>,
    sealer: &ArcSealer<B, F>,
    instance: u8,
    chain: ChainStatus,
    sig: &[u8],
) -> Result<(), Error> {
    let mut num = [0u8; 20];
    w.put(b"ARC-Seal:");
    w.unit(&[b"a=", sealer.algorithm.as_str().as_bytes(), b";"]);
    w.unit(&[b"b="]);
    w.base64_line(sig)?;
    w.put(b";");
    w.unit(&[b"cv=", chain.as_str().as_bytes(), b";"]);
    w.unit(&[b"d=", &sealer.domain, b";"]);
    w.unit(&[b"i=", format_u64(u64::from(instance), &mut num)]);
    sealer.write_tail(w);
    Ok(())
}

/// The field at `span` of `out` split around its `b=` value, as a
/// verifier deletes it (RFC 6376 §3.7): found by parsing the field as
/// written, so the signer hashes exactly what a validator will.
fn around_b(out: &[u8], span: Span, member: Member) -> Result<(&[u8], &[u8]), SealerError> {
    let field = span
        .get(out)
        .ok_or(Error::BufferTooSmall { required: span.end })?;
    let deleted = match member {
        Member::Seal => {
            ArcSeal::parse_field(field)
                .map_err(|_| Error::Key)?
                .b_deleted_span
        }
        _ => {
            super::ArcMessageSignature::parse_field(field)
                .map_err(|_| Error::Key)?
                .signature
                .b_deleted_span
        }
    };
    let before = field.get(..deleted.start).unwrap_or_default();
    let after = field.get(deleted.end..).unwrap_or_default();
    Ok((before, after))
}
