//! The framed link between a host and a signing device, sans-IO.
//!
//! The device (`mass-firmware`) and the host client (`mass-hosted`'s
//! `device` module) both use this module, so the frame codec and the message
//! encoding exist once. `firmware/PROTOCOL.md` describes the wire format; this
//! module is its implementation.
//!
//! ```text
//!  bytes in ──► FrameDecoder::spare()/commit() ──► FrameDecoder::next_event() ──► Event::Frame { seq, kind, payload }
//!                                                              └──────────► Event::Error(FrameError)  (junk, bad CRC, oversized)
//!  Kind + payload (encoded with Writer / the encode_* helpers) ──► encode_frame() ──► bytes out
//! ```
//!
//! A frame is `A5 4D | seq | kind | len (u16 LE) | payload | CRC-32 (LE)`. The
//! CRC (IEEE 802.3, the one of zlib) covers `seq`, `kind`, `len` and the
//! payload. After junk, a bad CRC or an oversized length the decoder reports
//! the fault once and resynchronizes on the next magic, rescanning the bytes it
//! already holds, so a truncated frame costs only itself.

use core::fmt;

use crate::canon::{Canon, Canonicalization};
use crate::crypto::SigningAlgorithm;
use crate::error::Error;
use crate::sign::{BodyLength, HeaderSelection, SignRequest};

/// The two bytes that open every frame.
pub const MAGIC: [u8; 2] = [0xA5, 0x4D];
/// Magic, seq, kind and length.
pub const FRAME_HEADER_LEN: usize = 6;
/// The CRC-32.
pub const FRAME_TRAILER_LEN: usize = 4;
/// The largest payload either side sends. A BODY chunk may be this long.
pub const MAX_PAYLOAD: usize = 4096;
/// The largest frame on the wire.
pub const MAX_FRAME: usize = FRAME_HEADER_LEN + MAX_PAYLOAD + FRAME_TRAILER_LEN;
/// Protocol version reported by INFO.
pub const PROTOCOL_VERSION: u8 = 1;
/// The `seq` of frames the device sends on its own (framing errors). Hosts
/// number their requests from 1 and skip 0.
pub const SEQ_UNSOLICITED: u8 = 0;
/// Length of the RNG seed PROVISION carries.
pub const SEED_LEN: usize = 32;

/// Frame kinds. Requests are below 0x80, responses from 0x80.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// Request: firmware version, key slots, limits. Answer: [`Kind::InfoReply`].
    Info,
    /// Request: put a key and an RNG seed into an empty slot. Answer: [`Kind::Ok`].
    Provision,
    /// Request: start a signature ([`SignBegin`]). Answer: [`Kind::Ok`].
    SignBegin,
    /// Request: one raw header field, `Name:value` with folding, no final CRLF.
    Header,
    /// Request: a chunk of the body (after the blank line), any size up to [`MAX_PAYLOAD`].
    Body,
    /// Request: finish. Answer: [`Kind::Signature`], the whole DKIM-Signature field.
    SignEnd,
    /// Request: drop the current signature, if any. Answer: [`Kind::Ok`].
    Abort,
    /// Request: measurement counters. Answer: [`Kind::StatsReply`].
    Stats,
    /// Answer: done, nothing to return.
    Ok,
    /// Answer to INFO ([`InfoReply`]).
    InfoReply,
    /// Answer to SIGN-END: `DKIM-Signature: ...` without the final CRLF.
    Signature,
    /// Answer to STATS ([`Stats`]).
    StatsReply,
    /// Answer: a typed error ([`DeviceError`]).
    Error,
}

impl Kind {
    /// The byte on the wire.
    pub const fn to_u8(self) -> u8 {
        match self {
            Kind::Info => 0x01,
            Kind::Provision => 0x02,
            Kind::SignBegin => 0x03,
            Kind::Header => 0x04,
            Kind::Body => 0x05,
            Kind::SignEnd => 0x06,
            Kind::Abort => 0x07,
            Kind::Stats => 0x08,
            Kind::Ok => 0x80,
            Kind::InfoReply => 0x81,
            Kind::Signature => 0x82,
            Kind::StatsReply => 0x83,
            Kind::Error => 0xEE,
        }
    }

    /// The kind for a wire byte, if it is one.
    pub const fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0x01 => Kind::Info,
            0x02 => Kind::Provision,
            0x03 => Kind::SignBegin,
            0x04 => Kind::Header,
            0x05 => Kind::Body,
            0x06 => Kind::SignEnd,
            0x07 => Kind::Abort,
            0x08 => Kind::Stats,
            0x80 => Kind::Ok,
            0x81 => Kind::InfoReply,
            0x82 => Kind::Signature,
            0x83 => Kind::StatsReply,
            0xEE => Kind::Error,
            _ => return None,
        })
    }
}

/// What went wrong, as the device reports it in an error frame.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ErrorCode {
    /// Bytes that were not a frame were skipped.
    Junk,
    /// A frame's CRC did not match; it was dropped.
    BadCrc,
    /// A frame announced a payload longer than the device accepts.
    Oversized,
    /// A frame of a kind the device does not take.
    UnknownKind,
    /// A payload that does not decode.
    Malformed,
    /// PROVISION for a slot that already holds a key.
    SlotOccupied,
    /// No key in that slot, or no such slot.
    NoSuchKey,
    /// The key bytes did not parse, or do not fit the algorithm.
    BadKey,
    /// HEADER, BODY or SIGN-END with no signature started.
    NoSession,
    /// The signer refused; `detail` carries the signer's reason.
    Sign,
    /// The RSA heap arena ran out.
    OutOfMemory,
    /// A code this side does not know (newer peer).
    Other(u8),
}

impl ErrorCode {
    /// The byte on the wire.
    pub const fn to_u8(self) -> u8 {
        match self {
            ErrorCode::Junk => 1,
            ErrorCode::BadCrc => 2,
            ErrorCode::Oversized => 3,
            ErrorCode::UnknownKind => 4,
            ErrorCode::Malformed => 5,
            ErrorCode::SlotOccupied => 6,
            ErrorCode::NoSuchKey => 7,
            ErrorCode::BadKey => 8,
            ErrorCode::NoSession => 9,
            ErrorCode::Sign => 10,
            ErrorCode::OutOfMemory => 11,
            ErrorCode::Other(b) => b,
        }
    }

    /// The code for a wire byte.
    pub const fn from_u8(b: u8) -> ErrorCode {
        match b {
            1 => ErrorCode::Junk,
            2 => ErrorCode::BadCrc,
            3 => ErrorCode::Oversized,
            4 => ErrorCode::UnknownKind,
            5 => ErrorCode::Malformed,
            6 => ErrorCode::SlotOccupied,
            7 => ErrorCode::NoSuchKey,
            8 => ErrorCode::BadKey,
            9 => ErrorCode::NoSession,
            10 => ErrorCode::Sign,
            11 => ErrorCode::OutOfMemory,
            other => ErrorCode::Other(other),
        }
    }

    /// True for faults of the link itself (the frame never reached a command).
    pub const fn is_framing(self) -> bool {
        matches!(
            self,
            ErrorCode::Junk | ErrorCode::BadCrc | ErrorCode::Oversized
        )
    }
}

/// An error frame's payload: a code and a code-specific detail byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DeviceError {
    /// What went wrong.
    pub code: ErrorCode,
    /// For [`ErrorCode::Sign`], the signer's reason; otherwise 0.
    pub detail: u8,
}

impl DeviceError {
    /// An error with no detail.
    pub const fn new(code: ErrorCode) -> Self {
        DeviceError { code, detail: 0 }
    }

    /// Encode as an error frame payload.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        w.u8(self.code.to_u8())?;
        w.u8(self.detail)?;
        Ok(w.len())
    }

    /// Decode an error frame payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let code = ErrorCode::from_u8(r.u8()?);
        let detail = r.u8()?;
        r.end()?;
        Ok(DeviceError { code, detail })
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.code {
            ErrorCode::Junk => "junk on the link",
            ErrorCode::BadCrc => "frame with a bad CRC",
            ErrorCode::Oversized => "frame longer than the device accepts",
            ErrorCode::UnknownKind => "unknown frame kind",
            ErrorCode::Malformed => "malformed payload",
            ErrorCode::SlotOccupied => "key slot already provisioned",
            ErrorCode::NoSuchKey => "no key in that slot",
            ErrorCode::BadKey => "key does not parse",
            ErrorCode::NoSession => "no signature in progress",
            ErrorCode::Sign => "signer refused",
            ErrorCode::OutOfMemory => "device out of memory",
            ErrorCode::Other(_) => "unknown device error",
        };
        write!(
            f,
            "{what} (code {}, detail {})",
            self.code.to_u8(),
            self.detail
        )
    }
}

impl core::error::Error for DeviceError {}

/// The detail byte of an [`ErrorCode::Sign`] error: which signer error it was.
///
/// 1 header byte capacity, 2 header field capacity, 3 malformed header field,
/// 4 out of order, 5 no From, 6 several From, 7 unparsable From, 8 From
/// domain mismatch, 9 invalid tag value, 10 header list capacity, 11 buffer
/// too small, 12 `x=` before `t=`, 13 algorithm mismatch, 14 key; 255 other.
pub fn signer_error_detail(e: &Error) -> u8 {
    #[allow(unreachable_patterns)]
    match e {
        Error::HeaderBytesCapacity { .. } => 1,
        Error::HeaderFieldsCapacity { .. } => 2,
        Error::MalformedHeaderField => 3,
        Error::OutOfOrder => 4,
        Error::NoFromField => 5,
        Error::MultipleFromFields => 6,
        Error::UnparsableFrom => 7,
        Error::FromDomainMismatch => 8,
        Error::InvalidTagValue { .. } => 9,
        Error::HeaderListCapacity { .. } => 10,
        Error::BufferTooSmall { .. } => 11,
        Error::ExpirationBeforeTimestamp => 12,
        Error::AlgorithmMismatch => 13,
        Error::Key => 14,
        _ => 255,
    }
}

impl From<Error> for DeviceError {
    fn from(e: Error) -> Self {
        DeviceError {
            code: ErrorCode::Sign,
            detail: signer_error_detail(&e),
        }
    }
}

/// A frame-level fault found by [`FrameDecoder`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// Bytes before the next magic were skipped (reported once per run).
    Junk,
    /// The CRC did not match.
    BadCrc,
    /// The length field exceeds what the decoder accepts.
    Oversized,
}

impl FrameError {
    /// The error code a device answers with.
    pub const fn code(self) -> ErrorCode {
        match self {
            FrameError::Junk => ErrorCode::Junk,
            FrameError::BadCrc => ErrorCode::BadCrc,
            FrameError::Oversized => ErrorCode::Oversized,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameError::Junk => "junk before a frame",
            FrameError::BadCrc => "bad frame CRC",
            FrameError::Oversized => "oversized frame",
        })
    }
}

impl core::error::Error for FrameError {}

/// A buffer was too small to encode into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EncodeError {
    /// Bytes the whole encoding needs, as far as known when it failed.
    pub needed: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "buffer too small: at least {} bytes needed", self.needed)
    }
}

impl core::error::Error for EncodeError {}

/// A payload did not decode.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// The payload ended early.
    Truncated,
    /// Bytes were left over.
    Trailing,
    /// A value is out of range or a string is not UTF-8.
    Invalid,
    /// More items than the receiver has room for.
    TooMany,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Truncated => "payload truncated",
            DecodeError::Trailing => "trailing bytes in payload",
            DecodeError::Invalid => "invalid value in payload",
            DecodeError::TooMany => "too many items in payload",
        })
    }
}

impl core::error::Error for DecodeError {}

const CRC_TABLE: [u32; 256] = crc_table();

// Runs at compile time only: an out-of-range index or overflow fails the build.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// Running CRC-32 (IEEE 802.3 polynomial, reflected, as zlib's `crc32`).
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A fresh CRC.
    pub const fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    /// Add bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = self.0;
        for &b in data {
            let idx = usize::from((c as u8) ^ b);
            c = CRC_TABLE.get(idx).copied().unwrap_or(0) ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The CRC of everything added.
    pub const fn finish(self) -> u32 {
        !self.0
    }
}

/// CRC-32 of one slice.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.finish()
}

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
    let len = u16::try_from(payload.len()).map_err(|_| EncodeError { needed: total })?;
    if payload.len() > MAX_PAYLOAD || out.len() < total {
        return Err(EncodeError { needed: total });
    }
    let mut w = Writer::new(out);
    w.bytes(&MAGIC)?;
    w.u8(seq)?;
    w.u8(kind.to_u8())?;
    w.u16(len)?;
    w.bytes(payload)?;
    let crc = {
        let body = w.written().get(2..).unwrap_or(&[]);
        crc32(body)
    };
    w.u32(crc)?;
    Ok(w.len())
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
            let n = self.consumed.min(self.len);
            self.buf.copy_within(n..self.len, 0);
            self.len = self.len.saturating_sub(n);
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
        if let (Some(dst), Some(src)) = (spare.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
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
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len = self.len.saturating_sub(n);
    }

    /// The next frame or fault, or `None` when more bytes are needed.
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

/// Appends little-endian values to a caller's buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// Write from the start of `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.out.get(..self.len).unwrap_or(&[])
    }

    /// Append raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        let end = self.len.saturating_add(b.len());
        match self.out.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len = end;
                Ok(())
            }
            None => Err(EncodeError { needed: end }),
        }
    }

    /// Append a byte.
    pub fn u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.bytes(&[v])
    }

    /// Append a u16, little-endian.
    pub fn u16(&mut self, v: u16) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Append a u32, little-endian.
    pub fn u32(&mut self, v: u32) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Append a u64, little-endian.
    pub fn u64(&mut self, v: u64) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Append a string of at most 255 bytes, length first.
    pub fn str8(&mut self, s: &str) -> Result<(), EncodeError> {
        let n = u8::try_from(s.len()).map_err(|_| EncodeError {
            needed: self.len.saturating_add(s.len()).saturating_add(1),
        })?;
        self.u8(n)?;
        self.bytes(s.as_bytes())
    }
}

/// Reads little-endian values from a payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Read from the start of `payload`.
    pub fn new(payload: &'a [u8]) -> Self {
        Reader { rest: payload }
    }

    /// Take `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Read a byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.take(1)? {
            [b] => Ok(*b),
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Read a u16, little-endian.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    /// Read a u32, little-endian.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    /// Read a u64, little-endian.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    /// Read a length-prefixed UTF-8 string.
    pub fn str8(&mut self) -> Result<&'a str, DecodeError> {
        let n = usize::from(self.u8()?);
        core::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::Invalid)
    }

    /// Fail if bytes are left.
    pub fn end(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing)
        }
    }
}

/// The byte that names a key algorithm on the wire: 1 rsa-sha256 (the key
/// is PKCS#8 or PKCS#1 DER), 2 ed25519-sha256 (the key is the 32-byte seed).
pub const fn algorithm_to_u8(a: SigningAlgorithm) -> u8 {
    match a {
        SigningAlgorithm::RsaSha256 => 1,
        SigningAlgorithm::Ed25519Sha256 => 2,
    }
}

/// The algorithm a wire byte names.
pub const fn algorithm_from_u8(b: u8) -> Option<SigningAlgorithm> {
    match b {
        1 => Some(SigningAlgorithm::RsaSha256),
        2 => Some(SigningAlgorithm::Ed25519Sha256),
        _ => None,
    }
}

/// PROVISION: a key and the RNG seed for RSA blinding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Provision<'a> {
    /// The slot.
    pub key_id: u8,
    /// What the key is.
    pub algorithm: SigningAlgorithm,
    /// Seed for the device's ChaCha20 RNG (RSA blinding).
    pub seed: &'a [u8; SEED_LEN],
    /// PKCS#8 DER (RSA) or the 32-byte secret (Ed25519).
    pub key: &'a [u8],
}

impl fmt::Debug for Provision<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provision")
            .field("key_id", &self.key_id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl<'a> Provision<'a> {
    /// Encode as a payload.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        w.u8(self.key_id)?;
        w.u8(algorithm_to_u8(self.algorithm))?;
        w.bytes(self.seed)?;
        w.bytes(self.key)?;
        Ok(w.len())
    }

    /// Decode a payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let key_id = r.u8()?;
        let algorithm = algorithm_from_u8(r.u8()?).ok_or(DecodeError::Invalid)?;
        let seed = r
            .take(SEED_LEN)?
            .try_into()
            .map_err(|_| DecodeError::Truncated)?;
        let key = r.rest();
        Ok(Provision {
            key_id,
            algorithm,
            seed,
            key,
        })
    }
}

const FLAG_TIMESTAMP: u8 = 1;
const FLAG_EXPIRATION: u8 = 2;
const FLAG_IDENTITY: u8 = 4;
const FLAG_OVERSIGN: u8 = 8;
const FLAG_COPIED_HEADERS: u8 = 16;
const FLAG_LENGTH_WHOLE: u8 = 32;
const FLAG_LENGTH_LIMIT: u8 = 64;
const FLAGS_ALL: u8 = 127;
const CANON_HEADER_RELAXED: u8 = 1;
const CANON_BODY_RELAXED: u8 = 2;

/// SIGN-BEGIN: a [`SignRequest`] and the key slot to sign with. The slot's
/// algorithm gives `a=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignBegin<'a> {
    /// The key slot.
    pub key_id: u8,
    /// `d=` (RFC 6376 section 3.5).
    pub domain: &'a str,
    /// `s=`.
    pub selector: &'a str,
    /// `c=` (RFC 6376 section 3.4).
    pub canonicalization: Canonicalization,
    /// The header names to sign, in the encoded form ([`HeaderNames::iter`]).
    pub headers: HeaderNames<'a>,
    /// [`HeaderSelection::Oversign`] (else [`HeaderSelection::Exact`]).
    pub oversign: bool,
    /// `t=`, the time now from the host.
    pub timestamp: Option<u64>,
    /// `x=`.
    pub expiration: Option<u64>,
    /// `i=`.
    pub identity: Option<&'a str>,
    /// `l=` (RFC 6376 section 8.2: off unless asked).
    pub body_length: BodyLength,
    /// `z=`.
    pub copied_headers: bool,
}

/// The header names of a [`SignBegin`], as they travel (length-prefixed names).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderNames<'a> {
    count: u8,
    encoded: &'a [u8],
}

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> HeaderNames<'a> {
    /// Encode `names` into `out` and view them; at most 255 names of at most 255 bytes.
    pub fn encode_into(names: &[&str], out: &'a mut [u8]) -> Result<HeaderNames<'a>, EncodeError> {
        let count = u8::try_from(names.len()).map_err(|_| EncodeError { needed: usize::MAX })?;
        let mut w = Writer::new(out);
        for n in names {
            w.str8(n)?;
        }
        let len = w.len();
        Ok(HeaderNames {
            count,
            encoded: out.get(..len).unwrap_or(&[]),
        })
    }

    /// How many names.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut r = Reader::new(self.encoded);
        (0..self.count).map_while(move |_| r.str8().ok())
    }
}

impl<'a> SignBegin<'a> {
    /// The link form of `req` for key slot `key_id`; the header names are
    /// encoded into `names_buf`.
    pub fn from_request(
        key_id: u8,
        req: &SignRequest<'a>,
        names_buf: &'a mut [u8],
    ) -> Result<SignBegin<'a>, EncodeError> {
        let (names, oversign) = match req.headers {
            HeaderSelection::Oversign(n) => (n, true),
            HeaderSelection::Exact(n) => (n, false),
        };
        Ok(SignBegin {
            key_id,
            domain: req.domain,
            selector: req.selector,
            canonicalization: req.canonicalization,
            headers: HeaderNames::encode_into(names, names_buf)?,
            oversign,
            timestamp: req.timestamp,
            expiration: req.expiration,
            identity: req.identity,
            body_length: req.body_length,
            copied_headers: req.copied_headers,
        })
    }

    /// The signer's request, for a key of `algorithm`; the header names are
    /// collected into `names` (up to its capacity).
    pub fn to_request<'n, const N: usize>(
        &self,
        algorithm: SigningAlgorithm,
        names: &'n mut heapless::Vec<&'a str, N>,
    ) -> Result<SignRequest<'n>, DecodeError>
    where
        'a: 'n,
    {
        names.clear();
        for n in self.headers.iter() {
            names.push(n).map_err(|_| DecodeError::TooMany)?;
        }
        let names: &'n [&'n str] = names.as_slice();
        Ok(SignRequest {
            domain: self.domain,
            selector: self.selector,
            algorithm,
            canonicalization: self.canonicalization,
            headers: if self.oversign {
                HeaderSelection::Oversign(names)
            } else {
                HeaderSelection::Exact(names)
            },
            timestamp: self.timestamp,
            expiration: self.expiration,
            identity: self.identity,
            body_length: self.body_length,
            copied_headers: self.copied_headers,
        })
    }

    /// Encode as a payload.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        let mut flags = 0;
        let mut set = |bit: u8, on: bool| {
            if on {
                flags |= bit;
            }
        };
        set(FLAG_TIMESTAMP, self.timestamp.is_some());
        set(FLAG_EXPIRATION, self.expiration.is_some());
        set(FLAG_IDENTITY, self.identity.is_some());
        set(FLAG_OVERSIGN, self.oversign);
        set(FLAG_COPIED_HEADERS, self.copied_headers);
        set(FLAG_LENGTH_WHOLE, self.body_length == BodyLength::Whole);
        set(
            FLAG_LENGTH_LIMIT,
            matches!(self.body_length, BodyLength::Limit(_)),
        );
        let mut canon = 0;
        if self.canonicalization.header == Canon::Relaxed {
            canon |= CANON_HEADER_RELAXED;
        }
        if self.canonicalization.body == Canon::Relaxed {
            canon |= CANON_BODY_RELAXED;
        }
        w.u8(self.key_id)?;
        w.u8(canon)?;
        w.u8(flags)?;
        if let Some(t) = self.timestamp {
            w.u64(t)?;
        }
        if let Some(x) = self.expiration {
            w.u64(x)?;
        }
        if let BodyLength::Limit(l) = self.body_length {
            w.u64(l)?;
        }
        w.str8(self.domain)?;
        w.str8(self.selector)?;
        if let Some(i) = self.identity {
            w.str8(i)?;
        }
        w.u8(self.headers.count)?;
        w.bytes(self.headers.encoded)?;
        Ok(w.len())
    }

    /// Decode a payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let key_id = r.u8()?;
        let canon = r.u8()?;
        let flags = r.u8()?;
        let both_lengths = FLAG_LENGTH_WHOLE | FLAG_LENGTH_LIMIT;
        if canon & !(CANON_HEADER_RELAXED | CANON_BODY_RELAXED) != 0
            || flags & !FLAGS_ALL != 0
            || flags & both_lengths == both_lengths
        {
            return Err(DecodeError::Invalid);
        }
        let has = |bit: u8| flags & bit != 0;
        let timestamp = if has(FLAG_TIMESTAMP) {
            Some(r.u64()?)
        } else {
            None
        };
        let expiration = if has(FLAG_EXPIRATION) {
            Some(r.u64()?)
        } else {
            None
        };
        let body_length = if has(FLAG_LENGTH_LIMIT) {
            BodyLength::Limit(r.u64()?)
        } else if has(FLAG_LENGTH_WHOLE) {
            BodyLength::Whole
        } else {
            BodyLength::Omit
        };
        let domain = r.str8()?;
        let selector = r.str8()?;
        let identity = if has(FLAG_IDENTITY) {
            Some(r.str8()?)
        } else {
            None
        };
        let count = r.u8()?;
        let encoded = r.rest();
        // Exactly `count` names, nothing after them.
        let mut check = Reader::new(encoded);
        for _ in 0..count {
            check.str8()?;
        }
        check.end()?;
        let canon_of = |bit: u8| {
            if canon & bit != 0 {
                Canon::Relaxed
            } else {
                Canon::Simple
            }
        };
        Ok(SignBegin {
            key_id,
            domain,
            selector,
            canonicalization: Canonicalization {
                header: canon_of(CANON_HEADER_RELAXED),
                body: canon_of(CANON_BODY_RELAXED),
            },
            headers: HeaderNames { count, encoded },
            oversign: has(FLAG_OVERSIGN),
            timestamp,
            expiration,
            identity,
            body_length,
            copied_headers: has(FLAG_COPIED_HEADERS),
        })
    }
}

/// What a key slot holds, in an INFO answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SlotInfo {
    /// The key id SIGN-BEGIN names.
    pub key_id: u8,
    /// The key's algorithm, or `None` while the slot is empty.
    pub algorithm: Option<SigningAlgorithm>,
    /// Key size in bits (RSA modulus; 256 for Ed25519; 0 when empty).
    pub bits: u16,
}

/// Most slots an INFO answer carries.
pub const MAX_SLOTS: usize = 8;

/// The INFO answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoReply<'a> {
    /// [`PROTOCOL_VERSION`] of the device.
    pub protocol: u8,
    /// Firmware name and version.
    pub firmware: &'a str,
    /// The board the firmware was built for.
    pub board: &'a str,
    /// The largest payload the device accepts.
    pub max_payload: u16,
    /// Header bytes the signer can hold (the sum of the signed fields).
    pub header_bytes: u32,
    /// Header fields the signer can hold.
    pub header_fields: u16,
    /// The key slots.
    pub slots: heapless::Vec<SlotInfo, MAX_SLOTS>,
}

impl<'a> InfoReply<'a> {
    /// Encode as a payload.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        w.u8(self.protocol)?;
        w.str8(self.firmware)?;
        w.str8(self.board)?;
        w.u16(self.max_payload)?;
        w.u32(self.header_bytes)?;
        w.u16(self.header_fields)?;
        let n = u8::try_from(self.slots.len()).map_err(|_| EncodeError { needed: usize::MAX })?;
        w.u8(n)?;
        for s in &self.slots {
            w.u8(s.key_id)?;
            w.u8(s.algorithm.map_or(0, algorithm_to_u8))?;
            w.u16(s.bits)?;
        }
        Ok(w.len())
    }

    /// Decode a payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let protocol = r.u8()?;
        let firmware = r.str8()?;
        let board = r.str8()?;
        let max_payload = r.u16()?;
        let header_bytes = r.u32()?;
        let header_fields = r.u16()?;
        let n = r.u8()?;
        let mut slots = heapless::Vec::new();
        for _ in 0..n {
            let key_id = r.u8()?;
            let alg = r.u8()?;
            let algorithm = match alg {
                0 => None,
                b => Some(algorithm_from_u8(b).ok_or(DecodeError::Invalid)?),
            };
            let bits = r.u16()?;
            slots
                .push(SlotInfo {
                    key_id,
                    algorithm,
                    bits,
                })
                .map_err(|_| DecodeError::TooMany)?;
        }
        r.end()?;
        Ok(InfoReply {
            protocol,
            firmware,
            board,
            max_payload,
            header_bytes,
            header_fields,
            slots,
        })
    }
}

/// The STATS answer: counters for the figures in `firmware/README.md`.
///
/// Ticks are SysTick counts; under `qemu-system-arm -icount shift=0` they are
/// proportional to instructions executed (`firmware/README.md` gives the factor).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Highest heap use since boot, bytes.
    pub heap_peak: u32,
    /// Heap in use now, bytes.
    pub heap_used: u32,
    /// Size of the heap arena, bytes.
    pub heap_size: u32,
    /// Deepest stack use since boot, bytes.
    pub stack_peak: u32,
    /// Stack space reserved, bytes.
    pub stack_size: u32,
    /// Body bytes fed to the signer since boot.
    pub body_bytes: u64,
    /// Ticks spent in the signer's body path (canonicalization and SHA-256).
    pub body_ticks: u64,
    /// Ticks spent in the last SIGN-END (header hash and signature).
    pub last_sign_ticks: u64,
    /// SysTick ticks per million instructions (calibrated by the device at boot).
    pub ticks_per_mega_instruction: u32,
}

impl Stats {
    /// Encode as a payload.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        w.u32(self.heap_peak)?;
        w.u32(self.heap_used)?;
        w.u32(self.heap_size)?;
        w.u32(self.stack_peak)?;
        w.u32(self.stack_size)?;
        w.u64(self.body_bytes)?;
        w.u64(self.body_ticks)?;
        w.u64(self.last_sign_ticks)?;
        w.u32(self.ticks_per_mega_instruction)?;
        Ok(w.len())
    }

    /// Decode a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let s = Stats {
            heap_peak: r.u32()?,
            heap_used: r.u32()?,
            heap_size: r.u32()?,
            stack_peak: r.u32()?,
            stack_size: r.u32()?,
            body_bytes: r.u64()?,
            body_ticks: r.u64()?,
            last_sign_ticks: r.u64()?,
            ticks_per_mega_instruction: r.u32()?,
        };
        r.end()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn frame(seq: u8, kind: Kind, payload: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_FRAME];
        let n = encode_frame(seq, kind, payload, &mut out).unwrap();
        out[..n].to_vec()
    }

    /// Feed `wire` to a decoder in chunks of `step` bytes; collect events.
    type Decoded = Result<(u8, u8, Vec<u8>), FrameError>;

    fn decode_all(wire: &[u8], step: usize) -> Vec<Decoded> {
        let mut d: FrameDecoder<MAX_FRAME> = FrameDecoder::new();
        let mut out = Vec::new();
        let mut rest = wire;
        loop {
            while let Some(ev) = d.next_event() {
                out.push(match ev {
                    Event::Frame(f) => Ok((f.seq, f.kind, f.payload.to_vec())),
                    Event::Error(e) => Err(e),
                });
            }
            if rest.is_empty() {
                break;
            }
            let n = step.min(rest.len());
            let pushed = d.push(&rest[..n]);
            assert!(pushed > 0);
            rest = &rest[pushed..];
        }
        out
    }

    #[test]
    fn crc32_check_value() {
        // The CRC-32 check value from the catalogue: "123456789" -> CBF43926.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frames_round_trip_at_every_split() {
        let mut wire = frame(1, Kind::Info, b"");
        wire.extend(frame(2, Kind::Body, &[7u8; 300]));
        wire.extend(frame(3, Kind::Header, b"From: a@example.com"));
        for step in 1..wire.len() {
            let ev = decode_all(&wire, step);
            assert_eq!(ev.len(), 3, "step {step}");
            assert_eq!(ev[0], Ok((1, 0x01, Vec::new())));
            assert_eq!(ev[1], Ok((2, 0x05, [7u8; 300].to_vec())));
            assert_eq!(ev[2], Ok((3, 0x04, b"From: a@example.com".to_vec())));
        }
    }

    #[test]
    fn junk_is_reported_once_then_frames_decode() {
        let mut wire = b"hello, this is junk \xA5 junk".to_vec();
        wire.extend(frame(9, Kind::Info, b""));
        let ev = decode_all(&wire, 5);
        assert_eq!(ev, [Err(FrameError::Junk), Ok((9, 1, Vec::new()))]);
    }

    #[test]
    fn bad_crc_then_resync() {
        let mut bad = frame(4, Kind::Body, b"abcdef");
        let last = bad.len() - 1;
        bad[last] ^= 0x55;
        let mut wire = bad;
        wire.extend(frame(5, Kind::Info, b""));
        let ev = decode_all(&wire, 7);
        assert_eq!(ev, [Err(FrameError::BadCrc), Ok((5, 1, Vec::new()))]);
    }

    #[test]
    fn truncated_frame_costs_only_itself() {
        let full = frame(4, Kind::Body, &[b'x'; 100]);
        let mut wire = full[..40].to_vec();
        // The next good frame is swallowed into the truncated one's payload,
        // then found again by the rescan after the CRC fails.
        wire.extend(frame(6, Kind::Info, b""));
        wire.extend([0u8; 100]);
        wire.extend(frame(7, Kind::Info, b""));
        let ev = decode_all(&wire, 13);
        assert_eq!(ev[0], Err(FrameError::BadCrc));
        assert!(ev.contains(&Ok((6, 1, Vec::new()))), "{ev:?}");
        assert_eq!(ev.last(), Some(&Ok((7, 1, Vec::new()))));
    }

    #[test]
    fn oversized_length_is_refused() {
        let mut wire = MAGIC.to_vec();
        wire.extend([1, 0x05, 0xFF, 0xFF]);
        wire.extend([0u8; 64]);
        wire.extend(frame(8, Kind::Info, b""));
        let ev = decode_all(&wire, 64);
        assert_eq!(ev, [Err(FrameError::Oversized), Ok((8, 1, Vec::new()))]);
    }

    #[test]
    fn sign_begin_round_trips() {
        let names = ["From", "To", "Subject"];
        let mut req = SignRequest::new("example.com", "sel", SigningAlgorithm::Ed25519Sha256);
        req.headers = HeaderSelection::Exact(&names);
        req.canonicalization = Canonicalization {
            header: Canon::Relaxed,
            body: Canon::Simple,
        };
        req.timestamp = Some(1_700_000_000);
        req.expiration = Some(1_700_086_400);
        req.identity = Some("@example.com");
        for length in [BodyLength::Omit, BodyLength::Whole, BodyLength::Limit(77)] {
            req.body_length = length;
            let mut names_buf = [0u8; 64];
            let begin = SignBegin::from_request(3, &req, &mut names_buf).unwrap();
            let mut out = [0u8; 256];
            let n = begin.encode(&mut out).unwrap();
            let back = SignBegin::decode(&out[..n]).unwrap();
            assert_eq!(back, begin);
            let mut names_back: heapless::Vec<&str, 8> = heapless::Vec::new();
            let r = back
                .to_request(SigningAlgorithm::Ed25519Sha256, &mut names_back)
                .unwrap();
            assert_eq!(r.headers, HeaderSelection::Exact(&names));
            assert_eq!(
                (r.domain, r.selector, r.timestamp, r.expiration, r.identity),
                (
                    "example.com",
                    "sel",
                    req.timestamp,
                    req.expiration,
                    req.identity
                )
            );
            assert_eq!(r.body_length, length);
            assert_eq!(r.canonicalization, req.canonicalization);
            for cut in 0..n {
                assert!(SignBegin::decode(&out[..cut]).is_err(), "cut {cut}");
            }
        }
    }

    #[test]
    fn info_and_stats_round_trip() {
        let mut slots = heapless::Vec::new();
        slots
            .push(SlotInfo {
                key_id: 0,
                algorithm: Some(SigningAlgorithm::RsaSha256),
                bits: 2048,
            })
            .unwrap();
        slots
            .push(SlotInfo {
                key_id: 1,
                algorithm: None,
                bits: 0,
            })
            .unwrap();
        let info = InfoReply {
            protocol: PROTOCOL_VERSION,
            firmware: "mass-firmware 0.1.0",
            board: "mps2-an385",
            max_payload: 4096,
            header_bytes: 8192,
            header_fields: 64,
            slots,
        };
        let mut out = [0u8; 256];
        let n = info.encode(&mut out).unwrap();
        assert_eq!(InfoReply::decode(&out[..n]).unwrap(), info);
        let stats = Stats {
            heap_peak: 1,
            body_ticks: 99,
            ..Stats::default()
        };
        let n = stats.encode(&mut out).unwrap();
        assert_eq!(Stats::decode(&out[..n]).unwrap(), stats);
    }

    #[test]
    fn seal_matches_encode() {
        let payload = b"DKIM-Signature: v=1";
        let mut a = [0u8; 64];
        let n = encode_frame(3, Kind::Signature, payload, &mut a).unwrap();
        let mut b = [0u8; 64];
        b[FRAME_HEADER_LEN..FRAME_HEADER_LEN + payload.len()].copy_from_slice(payload);
        let m = seal_frame(3, Kind::Signature, payload.len(), &mut b).unwrap();
        assert_eq!(a[..n], b[..m]);
    }
}
