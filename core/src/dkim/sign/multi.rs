//! Several DKIM-Signature fields over one message (RFC 6376 §5), with one
//! body hash per distinct (body canonicalization, `l=` limit), as the
//! verifier shares them.
//!
//! ```text
//! MultiSigner::new(&[SignRequest; n])
//!   update(raw chunk)*            or  header_field(field)* end_of_headers() body(chunk)*
//!   for each i < n:
//!     required_len(i, &key_i)     (optional: the room the field needs)
//!     finish(i, &mut key_i, &mut out) ─► "DKIM-Signature: ..."
//! ```
//!
//! The header fields go through one splitter into one store, which keeps
//! each field that any request's `h=` names (the union, bounded by
//! `HEADER_BYTES` and `HEADER_FIELDS`). The body goes through one
//! [`BodyHasher`] per distinct (body canonicalization, `l=` limit): two
//! requests with relaxed bodies and no limit, one RSA and one Ed25519,
//! canonicalize and hash the body once. `SIGS` bounds the requests and
//! `BODIES` the distinct body hashers; past either, [`MultiSigner::new`]
//! returns a typed error. Each signature is the one a lone
//! [`MessageSigner`](super::MessageSigner) writes, byte for byte:
//! `MessageSigner` is this signer with one request.
//!
//! `finish` works by reference. When `out` is too small it returns
//! [`Error::BufferTooSmall`] with the exact size, before any signing, and
//! the signer stays as it was, so the caller can retry with a larger
//! buffer. From the first `finish` on, the message is closed: more input
//! is [`Error::OutOfOrder`].

use super::{
    BodyLength, DOMAIN_CAP, IDENTITY_CAP, SELECTOR_CAP, SIGNATURE_CAP, SignRequest, SignedNames,
    copy_into, format_u64, header_hash, is_domain_syntax, is_same_or_subdomain,
};
use crate::canon::Canonicalization;
use crate::canon::body_hash::{BodyHash, BodyHasher, BodyInterest};
use crate::crypto::{DigestSigner, SigningAlgorithm};
use crate::error::Error;
use crate::header::writer::FieldWriter;
use crate::header::{FieldSink, HeaderSplitter, HeaderStore, names_match};
use base64ct::{Base64, Encoding};

/// One signature to write: what its request asked for, checked, and the
/// body hasher it reads.
#[derive(Debug, Clone)]
struct Spec {
    domain: heapless::Vec<u8, DOMAIN_CAP>,
    selector: heapless::Vec<u8, SELECTOR_CAP>,
    identity: Option<heapless::Vec<u8, IDENTITY_CAP>>,
    algorithm: SigningAlgorithm,
    canon: Canonicalization,
    timestamp: Option<u64>,
    expiration: Option<u64>,
    body_length: BodyLength,
    copied_headers: bool,
    names: SignedNames,
    /// Index of its hasher in [`MultiSigner::bodies`].
    body: usize,
}

impl Spec {
    /// Check a request (RFC 6376 §3.5 tag syntax, §5.4 From signed).
    fn new(req: &SignRequest<'_>) -> Result<Self, Error> {
        if !is_domain_syntax(req.domain) {
            return Err(Error::InvalidTagValue { tag: "d" });
        }
        if !is_domain_syntax(req.selector) {
            return Err(Error::InvalidTagValue { tag: "s" });
        }
        let identity = match req.identity {
            None => None,
            Some(i) => {
                // §3.5: [local-part] "@" domain, the domain within d=. The
                // local part is kept to characters that need no encoding.
                let (local, dom) = i
                    .rsplit_once('@')
                    .ok_or(Error::InvalidTagValue { tag: "i" })?;
                let local_ok = local
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=');
                if !local_ok
                    || !is_domain_syntax(dom)
                    || !is_same_or_subdomain(dom.as_bytes(), req.domain.as_bytes())
                {
                    return Err(Error::InvalidTagValue { tag: "i" });
                }
                Some(copy_into(i, "i")?)
            }
        };
        if let (Some(t), Some(x)) = (req.timestamp, req.expiration)
            && x <= t
        {
            return Err(Error::ExpirationBeforeTimestamp);
        }
        let names = SignedNames::new(req.headers, true)?;
        Ok(Spec {
            domain: copy_into(req.domain, "d")?,
            selector: copy_into(req.selector, "s")?,
            identity,
            algorithm: req.algorithm,
            canon: req.canonicalization,
            timestamp: req.timestamp,
            expiration: req.expiration,
            body_length: req.body_length,
            copied_headers: req.copied_headers,
            names,
            body: 0,
        })
    }

    /// The `l=` limit of its body hash.
    fn limit(&self) -> Option<u64> {
        match self.body_length {
            BodyLength::Limit(n) => Some(n),
            _ => None,
        }
    }

    /// The `h=` list this message is signed with: each wanted name once
    /// per instance present, plus once more when oversigning.
    fn h_names<'a, const B: usize, const F: usize>(
        &'a self,
        store: &'a HeaderStore<B, F>,
    ) -> impl Iterator<Item = &'a [u8]> + Clone + 'a {
        self.names.h_names(store)
    }

    /// The size of the whole field for a signature of `sig_len` bytes,
    /// measured by writing it nowhere.
    fn required_len<const B: usize, const F: usize>(
        &self,
        store: &HeaderStore<B, F>,
        body: &BodyHasher,
        sig_len: usize,
    ) -> usize {
        // Only l= depends on the body, and only through its length.
        let hashed_len = match self.body_length {
            BodyLength::Omit => 0,
            _ => body.clone().finish().hashed_len,
        };
        let mut w = FieldWriter::new(&mut []);
        // Encoding a 32-byte hash into its 44-byte room cannot fail.
        let _ = self.write_unsigned_field(store, &mut w, &[0; 32], hashed_len);
        w.len_with_signature(sig_len)
    }

    /// Write the field for `body` into `out` and sign it with `key`.
    fn sign<const B: usize, const F: usize, K: DigestSigner + ?Sized>(
        &self,
        store: &HeaderStore<B, F>,
        body: &BodyHash,
        key: &mut K,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        if key.algorithm() != self.algorithm {
            return Err(Error::AlgorithmMismatch);
        }
        let sig_len = key.signature_len();
        if sig_len > SIGNATURE_CAP {
            return Err(Error::Key);
        }
        // The field with an empty b= (§3.7), then the header hash.
        let mut w = FieldWriter::new(out);
        self.write_unsigned_field(store, &mut w, &body.digest, body.hashed_len)?;
        let unsigned_len = w.len;
        // Measure the b= value before signing.
        w.room_for_signature(sig_len)?;
        let unsigned = w.buf.get(..unsigned_len).ok_or(Error::BufferTooSmall {
            required: unsigned_len,
        })?;
        let digest = header_hash(store, self.canon.header, self.h_names(store), &[unsigned]);

        let mut sig = [0u8; SIGNATURE_CAP];
        let n = key.sign_digest(&digest, &mut sig)?;
        w.end_with_signature(sig.get(..n).ok_or(Error::Key)?)
    }

    fn write_unsigned_field<const B: usize, const F: usize>(
        &self,
        store: &HeaderStore<B, F>,
        w: &mut FieldWriter<'_>,
        bh: &[u8; 32],
        hashed_len: u64,
    ) -> Result<(), Error> {
        let mut num = [0u8; 20];
        w.put(b"DKIM-Signature:");
        w.unit(&[b"v=1;"]);
        w.unit(&[b"a=", self.algorithm.as_str().as_bytes(), b";"]);
        w.unit(&[
            b"c=",
            self.canon.header.as_str().as_bytes(),
            b"/",
            self.canon.body.as_str().as_bytes(),
            b";",
        ]);
        w.unit(&[b"d=", &self.domain, b";"]);
        w.unit(&[b"s=", &self.selector, b";"]);
        if let Some(i) = &self.identity {
            w.unit(&[b"i=", i, b";"]);
        }
        if self.body_length != BodyLength::Omit {
            w.unit(&[b"l=", format_u64(hashed_len, &mut num), b";"]);
        }
        if let Some(t) = self.timestamp {
            w.unit(&[b"t=", format_u64(t, &mut num), b";"]);
        }
        if let Some(x) = self.expiration {
            w.unit(&[b"x=", format_u64(x, &mut num), b";"]);
        }
        // h=, folded between names.
        w.unit(&[b"h="]);
        for (i, name) in self.h_names(store).enumerate() {
            let sep: &[u8] = if i > 0 { b":" } else { b"" };
            w.glued(&[sep, name]);
        }
        w.put(b";");
        if self.copied_headers {
            w.unit(&[b"z="]);
            for (i, field) in store.select(self.h_names(store)).flatten().enumerate() {
                if i > 0 {
                    w.glued(&[b"|"]);
                }
                w.quoted_printable(field);
            }
            w.put(b";");
        }
        let mut b64 = [0u8; 44];
        let bh = Base64::encode(bh, &mut b64).map_err(|_| Error::Key)?;
        w.unit(&[b"bh=", bh.as_bytes(), b";"]);
        w.unit(&[b"b="]);
        Ok(())
    }
}

/// The header side, borrowed for one push: keeps the fields any request
/// names, and counts From fields.
struct Intake<'s, const B: usize, const F: usize> {
    specs: &'s [Spec],
    store: &'s mut HeaderStore<B, F>,
    from_count: &'s mut u32,
}

impl<const B: usize, const F: usize> FieldSink for Intake<'_, B, F> {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        if names_match(name, b"from") {
            *self.from_count = self.from_count.saturating_add(1);
        }
        if self.specs.iter().any(|s| s.names.wants(name)) {
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

/// Streaming DKIM signer for one message and up to `SIGS` signatures,
/// hashing the body once per distinct (body canonicalization, `l=`), at
/// most `BODIES` times.
///
/// `HEADER_BYTES` and `HEADER_FIELDS` bound the header fields it keeps
/// (those any request's `h=` names).
#[derive(Debug, Clone)]
pub struct MultiSigner<
    const HEADER_BYTES: usize,
    const HEADER_FIELDS: usize,
    const SIGS: usize,
    const BODIES: usize,
> {
    specs: heapless::Vec<Spec, SIGS>,
    splitter: HeaderSplitter,
    store: HeaderStore<HEADER_BYTES, HEADER_FIELDS>,
    from_count: u32,
    bodies: heapless::Vec<BodyHasher, BODIES>,
    /// `finish` was called: the message takes no more input.
    closed: bool,
}

impl<const HEADER_BYTES: usize, const HEADER_FIELDS: usize, const SIGS: usize, const BODIES: usize>
    MultiSigner<HEADER_BYTES, HEADER_FIELDS, SIGS, BODIES>
{
    /// Check the requests and start a message. Signature `i` is the one
    /// `requests[i]` asks for.
    pub fn new(requests: &[SignRequest<'_>]) -> Result<Self, Error> {
        let mut specs = heapless::Vec::new();
        let mut bodies: heapless::Vec<BodyHasher, BODIES> = heapless::Vec::new();
        for req in requests {
            let mut spec = Spec::new(req)?;
            let (canon, limit) = (req.canonicalization.body, spec.limit());
            spec.body = match bodies
                .iter()
                .position(|h| h.canon() == canon && h.limit() == limit)
            {
                Some(i) => i,
                None => {
                    bodies
                        .push(BodyHasher::new(canon, limit))
                        .map_err(|_| Error::BodyHashesCapacity { limit: BODIES })?;
                    bodies.len().saturating_sub(1)
                }
            };
            specs
                .push(spec)
                .map_err(|_| Error::SignaturesCapacity { limit: SIGS })?;
        }
        Ok(MultiSigner {
            specs,
            splitter: HeaderSplitter::new(),
            store: HeaderStore::new(),
            from_count: 0,
            bodies,
            closed: false,
        })
    }

    /// How many signatures it writes.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True if it was given no request.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// How many distinct body hashes it computes.
    pub fn body_hashes(&self) -> usize {
        self.bodies.len()
    }

    /// Feed the next chunk of the raw message (header block, blank line,
    /// body), split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<BodyInterest, Error> {
        if self.closed {
            return Err(Error::OutOfOrder);
        }
        if self.splitter.is_done() {
            return Ok(self.feed_body(raw));
        }
        let mut intake = Intake {
            specs: &self.specs,
            store: &mut self.store,
            from_count: &mut self.from_count,
        };
        match self.splitter.push(raw, &mut intake)? {
            Some(n) => Ok(self.feed_body(raw.get(n..).unwrap_or_default())),
            None => Ok(BodyInterest::More),
        }
    }

    /// Feed one whole header field, as a milter receives it: `Name:value`
    /// with folding CRLFs, without the final CRLF.
    pub fn header_field(&mut self, raw_field: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::OutOfOrder);
        }
        let mut intake = Intake {
            specs: &self.specs,
            store: &mut self.store,
            from_count: &mut self.from_count,
        };
        self.splitter.push_field(raw_field, &mut intake)
    }

    /// The header block is complete (a milter's end-of-headers).
    pub fn end_of_headers(&mut self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::OutOfOrder);
        }
        let mut intake = Intake {
            specs: &self.specs,
            store: &mut self.store,
            from_count: &mut self.from_count,
        };
        self.splitter.push_end_of_headers(&mut intake)
    }

    /// Feed the next chunk of body. Once it returns
    /// [`BodyInterest::Done`], the rest of the body cannot change any
    /// signature and need not be sent.
    pub fn body(&mut self, chunk: &[u8]) -> Result<BodyInterest, Error> {
        if self.closed || !self.splitter.is_done() {
            return Err(Error::OutOfOrder);
        }
        Ok(self.feed_body(chunk))
    }

    fn feed_body(&mut self, chunk: &[u8]) -> BodyInterest {
        let mut interest = BodyInterest::Done;
        for h in self.bodies.iter_mut() {
            if h.update(chunk) == BodyInterest::More {
                interest = BodyInterest::More;
            }
        }
        interest
    }

    /// The exact size of signature `index`'s field when signed by `key`,
    /// for the message fed so far, computed without signing. Ask it after
    /// the last input: a buffer of this size makes
    /// [`finish`](Self::finish) succeed or fail for another reason.
    pub fn required_len<K: DigestSigner + ?Sized>(
        &self,
        index: usize,
        key: &K,
    ) -> Result<usize, Error> {
        let spec = self.specs.get(index).ok_or(Error::NoSuchSignature)?;
        Ok(self.spec_required_len(spec, key.signature_len()))
    }

    fn spec_required_len(&self, spec: &Spec, sig_len: usize) -> usize {
        match self.bodies.get(spec.body) {
            Some(body) => spec.required_len(&self.store, body, sig_len),
            None => 0,
        }
    }

    /// The size of the one signature's field (for `MessageSigner`).
    pub(super) fn first_required_len(&self, sig_len: usize) -> usize {
        self.specs
            .first()
            .map_or(0, |spec| self.spec_required_len(spec, sig_len))
    }

    /// Finish the message and write signature `index`, signed with `key`:
    /// the complete field, `DKIM-Signature: ...` without a final CRLF,
    /// goes to `out`, and its length is returned.
    ///
    /// On [`Error::BufferTooSmall`] nothing was signed and the signer is
    /// unchanged: call again with `required` bytes. Signatures may be
    /// finished in any order, each once or again.
    pub fn finish<K: DigestSigner + ?Sized>(
        &mut self,
        index: usize,
        key: &mut K,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.closed = true;
        let mut intake = Intake {
            specs: &self.specs,
            store: &mut self.store,
            from_count: &mut self.from_count,
        };
        // Ends a header block cut short (no blank line); idempotent.
        self.splitter.finish(&mut intake)?;
        match self.from_count {
            0 => return Err(Error::NoFromField),
            1 => {}
            _ => return Err(Error::MultipleFromFields),
        }
        let spec = self.specs.get(index).ok_or(Error::NoSuchSignature)?;
        let body = self
            .bodies
            .get(spec.body)
            .ok_or(Error::NoSuchSignature)?
            .clone()
            .finish();
        spec.sign(&self.store, &body, key, out)
    }
}

#[cfg(test)]
mod tests;
