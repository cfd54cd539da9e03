//! The decoder: a byte stream from the MTA in, packets out.
//!
//! The server reads from the socket straight into the decoder's own buffer,
//! as core's link `FrameDecoder` is fed: [`Decoder::spare`] is the room for
//! the next read, [`Decoder::commit`] says how much of it the read filled.
//! Nothing is copied between a read buffer and the decoder.
//!
//! ```text
//!  socket.read(decoder.spare()) ─► decoder.commit(n) ─► decoder.decode() ─► Command
//! ```

use super::*;

/// The room [`Decoder::spare`] makes first. The buffer doubles from here
/// only when it is full of bytes that arrived, up to one whole packet of
/// the largest size accepted.
pub const FIRST_ROOM: usize = 4096;

/// Turns a byte stream from the MTA into [`Command`]s.
#[derive(Debug)]
pub struct Decoder {
    /// `buf[start..end]` arrived and is not decoded yet; `buf[end..]` is
    /// room for the next read.
    pub(super) buf: Vec<u8>,
    /// Start of the bytes not decoded yet.
    pub(super) start: usize,
    /// End of the bytes that arrived.
    pub(super) end: usize,
    pub(super) max_packet: u32,
    pub(super) failed: Option<CodecError>,
}

impl Decoder {
    /// A decoder that accepts packets whose length field is at most
    /// `max_packet` (see [`DEFAULT_MAX_PACKET`]). It allocates nothing until
    /// bytes come.
    pub fn new(max_packet: u32) -> Self {
        Decoder {
            buf: Vec::new(),
            start: 0,
            end: 0,
            max_packet,
            failed: None,
        }
    }

    /// The most the buffer grows to through [`Decoder::spare`]: one whole
    /// packet of the largest length accepted, with its length field.
    fn limit(&self) -> usize {
        usize::try_from(self.max_packet)
            .unwrap_or(usize::MAX)
            .saturating_add(4)
    }

    /// Make `want` bytes of room after the undecoded bytes, if `limit`
    /// allows (`None`: as much as `want`). Decoded bytes at the front are
    /// reclaimed first; the buffer grows only when that is not enough.
    fn make_room(&mut self, want: usize, limit: Option<usize>) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let room = self.buf.len().saturating_sub(self.end);
        // Move the undecoded bytes to the front when the end is reached,
        // or when more than half the buffer is decoded: each move copies
        // at most what was decoded since the last, so a packet that
        // trickles in is never copied again on every read.
        if self.start > 0 && (room < want || self.start >= self.buf.len() / 2) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end = self.end.saturating_sub(self.start);
            self.start = 0;
        }
        let need = self.end.saturating_add(want);
        if need <= self.buf.len() {
            return;
        }
        let doubled = self.buf.len().saturating_mul(2).max(FIRST_ROOM);
        let size = match limit {
            Some(limit) => doubled.min(limit).max(self.buf.len()),
            None => doubled.max(need),
        };
        self.buf.resize(size, 0);
    }

    /// Room to read the next bytes into; say how many arrived with
    /// [`Decoder::commit`].
    ///
    /// The buffer grows (doubling from [`FIRST_ROOM`]) only when it is full
    /// of bytes that arrived, and never beyond one packet of the largest
    /// length accepted: a length field claiming more allocates nothing
    /// ([`Decoder::decode`] refuses it), and a peer that claims 64 KiB and
    /// sends 10 bytes gets no 64 KiB. Empty only when a whole packet is
    /// buffered and not decoded: call [`Decoder::decode`] until it returns
    /// `Ok(None)` before reading again.
    pub fn spare(&mut self) -> &mut [u8] {
        let limit = self.limit();
        self.make_room(1, Some(limit));
        self.buf.get_mut(self.end..).unwrap_or_default()
    }

    /// Mark the first `n` bytes of [`Decoder::spare`] as arrived.
    pub fn commit(&mut self, n: usize) {
        self.end = self.end.saturating_add(n).min(self.buf.len());
    }

    /// Copy `bytes` in, all of them: for callers that hold the bytes
    /// already (tests, fuzzing). The buffer grows to fit them, bounded by
    /// what was given, not by any length a packet claims. The daemon reads
    /// into [`Decoder::spare`] instead.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.make_room(bytes.len(), None);
        let end = self.end;
        if let Some(room) = self.buf.get_mut(end..end.saturating_add(bytes.len())) {
            room.copy_from_slice(bytes);
            self.commit(bytes.len());
        }
    }

    /// Bytes buffered and not yet decoded.
    pub fn pending(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when some of a packet has arrived but not all of it: a read
    /// that ends the stream now ends it in the middle of a packet.
    pub fn in_packet(&self) -> bool {
        self.pending() > 0
    }

    /// The next complete command, `Ok(None)` when more bytes are needed.
    ///
    /// The length field and command byte are checked as soon as they
    /// arrive, before the rest of the packet: an error is returned without
    /// waiting for (or keeping room for) the claimed data. After an error
    /// every later call returns the same error.
    pub fn decode(&mut self) -> Result<Option<Command<'_>>, CodecError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let pending = self.buf.get(self.start..self.end).unwrap_or_default();
        let Some(length) = be_u32(pending) else {
            return Ok(None);
        };
        if let Err(e) = self.check_header(length, pending.get(4).copied()) {
            self.failed = Some(e);
            return Err(e);
        }
        let total = 4 + length as usize;
        if pending.len() < total {
            return Ok(None);
        }
        let packet_start = self.start;
        self.start += total;
        let packet = self
            .buf
            .get(packet_start + 4..packet_start + total)
            .unwrap_or_default();
        let (&code, data) = packet.split_first().ok_or(CodecError::ZeroLength)?;
        match parse(code, data) {
            Ok(command) => Ok(Some(command)),
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
        }
    }

    fn check_header(&self, length: u32, code: Option<u8>) -> Result<(), CodecError> {
        if length == 0 {
            return Err(CodecError::ZeroLength);
        }
        if length > self.max_packet {
            return Err(CodecError::TooLong {
                claimed: length,
                max: self.max_packet,
            });
        }
        match code {
            Some(c) if !known_command(c) => Err(CodecError::UnknownCommand(c)),
            _ => Ok(()),
        }
    }
}
