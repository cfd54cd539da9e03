//! DomainKeys signing (RFC 4870 §3.4).

use super::*;

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
    pub(super) domain: heapless::String<253>,
    pub(super) selector: heapless::String<253>,
    pub(super) canon: DkCanon,
    pub(super) listed: bool,
    pub(super) splitter: HeaderSplitter,
    pub(super) intake: DkIntake,
    pub(super) body: BodyCanonicalizer,
    pub(super) headers_done: bool,
    /// `finish` was called: the message takes no more input.
    pub(super) closed: bool,
}

pub(super) fn copy_name(s: &str, tag: &'static str) -> Result<heapless::String<253>, Error> {
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
                    let name = requested_name(name)?;
                    if !names.contains(name) {
                        names.push(name)?;
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
            intake: DkIntake::new(req.canonicalization, only, listed, false),
            body: BodyCanonicalizer::domainkeys(req.canonicalization),
            headers_done: false,
            closed: false,
        })
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::OutOfOrder);
        }
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
        if self.closed || !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.body.update(chunk, &mut self.intake.hash);
        Ok(())
    }

    pub(super) fn headers_ended(&mut self) {
        self.headers_done = true;
        // §3.4.2.1: every line from the first header line to the last body
        // line is presented; the blank line is the body's first (empty)
        // line.
        self.body.update(b"\r\n", &mut self.intake.hash);
    }

    /// The sending address the signature will be checked against (§3.1).
    pub(super) fn check_sender(&self) -> Result<(), Error> {
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

    /// The exact size of the field [`finish`](Self::finish) writes when
    /// signing with `key`, for the message fed so far, computed without
    /// signing (only `key`'s signature length is used). Ask it after the
    /// last input.
    pub fn required_len<K: Sha1DigestSigner + ?Sized>(&self, key: &K) -> usize {
        let mut w = FieldWriter::new(&mut []);
        self.write_unsigned_field(&mut w);
        w.len_with_signature(key.signature_len())
    }

    /// Finish the message and sign it. The complete field,
    /// `DomainKey-Signature: ...` without a final CRLF, is written to
    /// `out`; its length is returned.
    ///
    /// It works by reference: on [`Error::BufferTooSmall`] nothing was
    /// signed and the signer is unchanged, so call it again with
    /// `required` bytes (or size `out` with
    /// [`required_len`](Self::required_len) first). From the first call
    /// on, the message takes no more input ([`Error::OutOfOrder`]).
    pub fn finish<K: Sha1DigestSigner + ?Sized>(
        &mut self,
        key: &mut K,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.closed = true;
        if !self.headers_done {
            self.splitter.finish(&mut self.intake)?;
            self.headers_ended();
        }
        self.check_sender()?;
        let sig_len = key.signature_len();
        if sig_len > SIGNATURE_CAP {
            return Err(Error::Key);
        }
        let mut w = FieldWriter::new(out);
        self.write_unsigned_field(&mut w);
        // Measure the b= value before signing.
        w.room_for_signature(sig_len)?;
        // The hash of a copy, so that a retry finds the signer unchanged.
        let mut hash = self.intake.hash.clone();
        self.body.clone().finish(&mut hash);
        let digest: [u8; 20] = hash.finalize().into();
        let mut sig = [0u8; SIGNATURE_CAP];
        let n = key.sign_sha1_digest(&digest, &mut sig)?;
        w.end_with_signature(sig.get(..n).ok_or(Error::Key)?)
    }

    /// The field up to and including `b=`, without its value.
    fn write_unsigned_field(&self, w: &mut FieldWriter<'_>) {
        w.put(b"DomainKey-Signature:");
        w.unit(&[b"a=rsa-sha1;"]);
        w.unit(&[b"q=dns;"]);
        w.unit(&[b"c=", self.canon.as_str().as_bytes(), b";"]);
        w.unit(&[b"s=", self.selector.as_bytes(), b";"]);
        w.unit(&[b"d=", self.domain.as_bytes(), b";"]);
        if self.listed
            && let Some(names) = &self.intake.hashed_names
        {
            // Start h= on a new line unless the whole list fits this one.
            let total = names
                .iter()
                .fold(0usize, |t, n| t.saturating_add(n.len()).saturating_add(1));
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
    }
}
