//! The field writer: how DKIM and DomainKeys write their signature fields
//! into a caller's buffer, folded at [`FOLD_WIDTH`] (RFC 5322 §2.1.1,
//! §2.2.3), measuring the size needed even when the buffer is too small.

use base64ct::{Base64, Encoding};

use crate::error::Error;

/// Lines of a signature field are folded at this width (RFC 5322 §2.1.1
/// recommends 78).
pub(crate) const FOLD_WIDTH: usize = 78;

/// The longest line RFC 5322 §2.1.1 allows, without its CRLF.
pub(crate) const MAX_LINE: usize = 998;

/// Writes a header field into a caller's buffer, folding at
/// [`FOLD_WIDTH`]. It keeps counting past the end of the buffer, so the
/// size required is known even when the buffer is too small.
pub(crate) struct FieldWriter<'b> {
    pub(crate) buf: &'b mut [u8],
    pub(crate) len: usize,
    pub(crate) line: usize,
}

/// The counters of a [`FieldWriter`], to measure without writing.
#[derive(Clone, Copy)]
pub(crate) struct Counts {
    len: usize,
    line: usize,
}

impl Counts {
    /// The length after a run of `n` bytes that may fold anywhere.
    pub(crate) fn folded_run(mut self, n: usize) -> usize {
        for _ in 0..n {
            if self.line >= FOLD_WIDTH {
                self.len = self.len.saturating_add(3);
                self.line = 1;
            }
            self.len = self.len.saturating_add(1);
            self.line = self.line.saturating_add(1);
        }
        self.len
    }
}

impl<'b> FieldWriter<'b> {
    /// Write from the start of `buf`; an empty `buf` only measures.
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        FieldWriter {
            buf,
            len: 0,
            line: 0,
        }
    }

    /// The size of the buffer.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The counters as they are now, to measure what would follow.
    pub(crate) fn clone_counts(&self) -> Counts {
        Counts {
            len: self.len,
            line: self.line,
        }
    }

    /// Bytes as they are, with no fold before them.
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        // Past the end of the buffer nothing is written, only counted.
        let _ = crate::bytes::copy_at(self.buf, self.len, bytes);
        self.len = self.len.saturating_add(bytes.len());
        self.line = self.line.saturating_add(bytes.len());
    }

    /// A fold: CRLF and a space (RFC 5322 §2.2.3).
    pub(crate) fn fold(&mut self) {
        self.put(b"\r\n ");
        self.line = 1;
    }

    /// A tag, preceded by a space or a fold.
    pub(crate) fn unit(&mut self, parts: &[&[u8]]) {
        let n = total_len(parts);
        if self.line.saturating_add(1).saturating_add(n) > FOLD_WIDTH {
            self.fold();
        } else {
            self.put(b" ");
        }
        for p in parts {
            self.put(p);
        }
    }

    /// Part of a value where folding whitespace may stand before it.
    pub(crate) fn glued(&mut self, parts: &[&[u8]]) {
        let n = total_len(parts);
        // Leave room for the ';' that ends the tag.
        if self.line.saturating_add(n).saturating_add(1) > FOLD_WIDTH {
            self.fold();
        }
        for p in parts {
            self.put(p);
        }
    }

    /// A value that may fold between any two bytes (base64, §3.5 b=).
    pub(crate) fn folded(&mut self, bytes: &[u8]) {
        for b in bytes {
            if self.line >= FOLD_WIDTH {
                self.fold();
            }
            self.put(core::slice::from_ref(b));
        }
    }

    /// The whole field's length once a `b=` value for a signature of
    /// `sig_len` bytes ends it.
    pub(crate) fn len_with_signature(&self, sig_len: usize) -> usize {
        self.clone_counts().folded_run(base64_len(sig_len))
    }

    /// Will the field fit once a signature of `sig_len` bytes ends it? Ask
    /// before signing, so that a buffer too small costs no signature.
    pub(crate) fn room_for_signature(&self, sig_len: usize) -> Result<(), Error> {
        let required = self.len_with_signature(sig_len);
        if required > self.capacity() {
            return Err(Error::BufferTooSmall { required });
        }
        Ok(())
    }

    /// End the field with `signature` as the folded base64 value of `b=`
    /// (RFC 6376 §3.5; RFC 4870 §3.3); return the field's length.
    pub(crate) fn end_with_signature(mut self, signature: &[u8]) -> Result<usize, Error> {
        self.base64(signature)?;
        if self.len > self.capacity() {
            return Err(Error::BufferTooSmall { required: self.len });
        }
        Ok(self.len)
    }

    /// `bytes` in base64, folding between any two characters (a `b=`
    /// value, RFC 6376 §3.5).
    pub(crate) fn base64(&mut self, bytes: &[u8]) -> Result<(), Error> {
        // Three bytes at a time: no buffer for the whole value.
        for chunk in bytes.chunks(3) {
            let mut quad = [0u8; 4];
            let b64 = Base64::encode(chunk, &mut quad).map_err(|_| Error::Key)?;
            self.folded(b64.as_bytes());
        }
        Ok(())
    }

    /// `bytes` in base64 on the current line, unfolded, unless that would
    /// take the line past [`MAX_LINE`] (then folded as
    /// [`base64`](Self::base64) does). A signature that another signature
    /// covers (an AMS under its ARC-Seal, RFC 8617 §5.1.1) is hashed with
    /// its folding, so a `b=` without folding whitespace hashes the same
    /// however a verifier or a forwarder treats whitespace inside base64.
    pub(crate) fn base64_line(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let len = base64_len(bytes.len());
        if self.line.saturating_add(len).saturating_add(1) > MAX_LINE {
            return self.base64(bytes);
        }
        for chunk in bytes.chunks(3) {
            let mut quad = [0u8; 4];
            let b64 = Base64::encode(chunk, &mut quad).map_err(|_| Error::Key)?;
            self.put(b64.as_bytes());
        }
        Ok(())
    }

    /// A unit (see [`unit`](Self::unit)) of text given by a caller, with
    /// every CR and LF left out: its own folding becomes plain whitespace,
    /// and no line break of the caller's can end the field.
    pub(crate) fn unit_unfolded(&mut self, text: &[u8], end: &[u8]) {
        let kept = text.iter().filter(|b| !matches!(b, b'\r' | b'\n')).count();
        if self
            .line
            .saturating_add(1)
            .saturating_add(kept)
            .saturating_add(end.len())
            > FOLD_WIDTH
        {
            self.fold();
        } else {
            self.put(b" ");
        }
        for piece in text.split(|b| matches!(b, b'\r' | b'\n')) {
            self.put(piece);
        }
        self.put(end);
    }

    /// A header field copied into `z=`, in dkim-quoted-printable (RFC 6376
    /// §2.11), unfolded, with `|` encoded.
    pub(crate) fn quoted_printable(&mut self, field: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for &b in field {
            if b == b'\r' || b == b'\n' {
                continue;
            }
            let safe = matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e) && b != b'|';
            if safe {
                self.glued(&[core::slice::from_ref(&b)]);
            } else {
                let enc = [
                    b'=',
                    HEX.get((b >> 4) as usize).copied().unwrap_or(b'0'),
                    HEX.get((b & 15) as usize).copied().unwrap_or(b'0'),
                ];
                self.glued(&[&enc]);
            }
        }
    }
}

/// The length of a signature of `n` bytes in base64 (`b=`).
fn base64_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// The summed length of `parts` (saturating: it only decides a fold).
fn total_len(parts: &[&[u8]]) -> usize {
    parts.iter().fold(0, |n, p| n.saturating_add(p.len()))
}
