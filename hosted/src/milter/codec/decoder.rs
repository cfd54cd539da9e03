//! The decoder: a byte stream from the MTA in, packets out.

use super::*;

/// Turns a byte stream from the MTA into [`Command`]s.
#[derive(Debug)]
pub struct Decoder {
    pub(super) buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    pub(super) start: usize,
    pub(super) max_packet: u32,
    pub(super) failed: Option<CodecError>,
}

impl Decoder {
    /// A decoder that accepts packets whose length field is at most
    /// `max_packet` (see [`DEFAULT_MAX_PACKET`]).
    pub fn new(max_packet: u32) -> Self {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max_packet,
            failed: None,
        }
    }

    /// Append bytes read from the socket.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet decoded.
    pub fn pending(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
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
        let pending = self.buf.get(self.start..).unwrap_or_default();
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
