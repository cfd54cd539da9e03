//! Frames: encoding, sealing and the resynchronizing decoder.

use super::*;

/// Write one frame into `out`; returns its length.
pub fn encode_frame(
    seq: u8,
    kind: Kind,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let total = FRAME_HEADER_LEN
        .saturating_add(payload.len())
        .saturating_add(FRAME_TRAILER_LEN);
    if payload.len() > MAX_PAYLOAD || out.len() < total {
        return Err(EncodeError { needed: total });
    }
    crate::bytes::copy_at(out, FRAME_HEADER_LEN, payload).ok_or(EncodeError { needed: total })?;
    seal_frame(seq, kind, payload.len(), out)
}

/// Fill in the header and CRC of a frame whose payload was written in place at
/// `out[FRAME_HEADER_LEN..FRAME_HEADER_LEN + payload_len]`; returns the frame length.
///
/// This lets a sender build a payload straight into its frame buffer.
pub fn seal_frame(
    seq: u8,
    kind: Kind,
    payload_len: usize,
    out: &mut [u8],
) -> Result<usize, EncodeError> {
    let end = FRAME_HEADER_LEN.saturating_add(payload_len);
    let total = end.saturating_add(FRAME_TRAILER_LEN);
    let len = u16::try_from(payload_len).map_err(|_| EncodeError { needed: total })?;
    if payload_len > MAX_PAYLOAD || out.len() < total {
        return Err(EncodeError { needed: total });
    }
    let mut w = Writer::new(out);
    w.bytes(&MAGIC)?;
    w.u8(seq)?;
    w.u8(kind.to_u8())?;
    w.u16(len)?;
    let crc = crc32(out.get(2..end).unwrap_or(&[]));
    let mut w = Writer::new(out.get_mut(end..).unwrap_or(&mut []));
    w.u32(crc)?;
    Ok(total)
}

/// One decoded frame, borrowed from the decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The request number; answers carry the request's.
    pub seq: u8,
    /// The raw kind byte ([`Kind::from_u8`] names it).
    pub kind: u8,
    /// The payload.
    pub payload: &'a [u8],
}

/// What [`FrameDecoder::next_event`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole frame with a good CRC.
    Frame(Frame<'a>),
    /// A fault; the decoder has already resynchronized past it.
    Error(FrameError),
}

/// Incremental frame decoder with a buffer of `N` bytes (use [`MAX_FRAME`]).
///
/// Feed bytes through [`spare`](Self::spare) and [`commit`](Self::commit) (or
/// [`push`](Self::push)), then call [`next`](Self::next_event) until it returns
/// `None`. A frame returned by `next` stays in the buffer until the following
/// call, so the caller can act on it (and [`wipe_frame`](Self::wipe_frame) it)
/// without copying.
#[derive(Debug)]
pub struct FrameDecoder<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Bytes of the frame last returned, removed on the next call.
    consumed: usize,
    /// Inside a run of skipped bytes that has already been reported.
    skipping: bool,
}

impl<const N: usize> Default for FrameDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameDecoder<N> {
    /// An empty decoder.
    pub const fn new() -> Self {
        FrameDecoder {
            buf: [0; N],
            len: 0,
            consumed: 0,
            skipping: false,
        }
    }

    /// The largest payload this decoder accepts.
    pub const fn max_payload(&self) -> usize {
        let room = N.saturating_sub(FRAME_HEADER_LEN + FRAME_TRAILER_LEN);
        if room < MAX_PAYLOAD {
            room
        } else {
            MAX_PAYLOAD
        }
    }

    fn drain_consumed(&mut self) {
        if self.consumed > 0 {
            self.drop_front(self.consumed);
            self.consumed = 0;
        }
    }

    /// Free room at the end of the buffer, to read into. Empty only while a
    /// returned frame has not been released by calling [`next`](Self::next_event).
    pub fn spare(&mut self) -> &mut [u8] {
        self.drain_consumed();
        self.buf.get_mut(self.len..).unwrap_or(&mut [])
    }

    /// Mark `n` bytes of [`spare`](Self::spare) as filled.
    pub fn commit(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(N);
    }

    /// Copy bytes in; returns how many fit.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let spare = self.spare();
        let n = bytes.len().min(spare.len());
        let _ = crate::bytes::copy_at(spare, 0, bytes.get(..n).unwrap_or_default());
        self.commit(n);
        n
    }

    /// Overwrite the bytes of the frame last returned with zeros (key material).
    pub fn wipe_frame(&mut self) {
        let n = self.consumed.min(self.len);
        if let Some(b) = self.buf.get_mut(..n) {
            for x in b.iter_mut() {
                // A volatile-free wipe: the buffer is read again (rescanned)
                // by later calls, so the stores cannot be elided.
                *x = 0;
            }
        }
    }

    /// Bytes held and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.len.saturating_sub(self.consumed)
    }

    /// Drop `n` bytes from the front.
    fn drop_front(&mut self, n: usize) {
        if let Some(held) = self.buf.get_mut(..self.len) {
            let n = n.min(held.len());
            held.copy_within(n.., 0);
            self.len = self.len.saturating_sub(n);
        }
    }

    /// The next frame or fault, or `None` when more bytes are needed.
    #[must_use = "an event not looked at is a frame or a fault lost"]
    pub fn next_event(&mut self) -> Option<Event<'_>> {
        self.drain_consumed();
        let held = self.buf.get(..self.len).unwrap_or(&[]);
        // Find the magic; a lone first magic byte at the end may be a start.
        let start = held
            .windows(2)
            .position(|w| w == MAGIC)
            .or_else(|| match held.last() {
                Some(&b) if b == MAGIC[0] => Some(held.len().saturating_sub(1)),
                _ => None,
            })
            .unwrap_or(held.len());
        if start > 0 {
            self.drop_front(start);
            if !self.skipping {
                self.skipping = true;
                return Some(Event::Error(FrameError::Junk));
            }
        }
        let held = self.buf.get(..self.len).unwrap_or(&[]);
        let (seq, kind, len) = match held.get(..FRAME_HEADER_LEN)? {
            [_, _, seq, kind, lo, hi] => (*seq, *kind, usize::from(u16::from_le_bytes([*lo, *hi]))),
            _ => return None,
        };
        if len > self.max_payload() {
            self.drop_front(1);
            self.skipping = true;
            return Some(Event::Error(FrameError::Oversized));
        }
        let end = FRAME_HEADER_LEN.saturating_add(len);
        let total = end.saturating_add(FRAME_TRAILER_LEN);
        let frame = held.get(..total)?;
        let crc_ok = match (frame.get(2..end), frame.get(end..total)) {
            (Some(covered), Some([a, b, c, d])) => {
                crc32(covered) == u32::from_le_bytes([*a, *b, *c, *d])
            }
            _ => false,
        };
        if !crc_ok {
            self.drop_front(1);
            self.skipping = true;
            return Some(Event::Error(FrameError::BadCrc));
        }
        self.skipping = false;
        self.consumed = total;
        let payload = self.buf.get(FRAME_HEADER_LEN..end).unwrap_or(&[]);
        Some(Event::Frame(Frame { seq, kind, payload }))
    }
}
