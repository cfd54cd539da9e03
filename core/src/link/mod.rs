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
use crate::dkim::sign::{BodyLength, HeaderSelection, SignRequest};
use crate::error::Error;

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
///
/// 3 added SEAL-BEGIN ([`SealBegin`]) and its answer [`Kind::ArcSet`]: the
/// device seals ARC sets (RFC 8617 §5.1) with a provisioned key. 4 added
/// DKIM2-BEGIN ([`Dkim2Begin`]), its answer [`Kind::Dkim2Hop`] and
/// [`ErrorCode::Dkim2`]: the device signs DKIM2 hops.
pub const PROTOCOL_VERSION: u8 = 4;
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
    /// Request: finish. Answer: [`Kind::Signature`], the whole DKIM-Signature
    /// field, or [`Kind::ArcSet`] after a SEAL-BEGIN.
    SignEnd,
    /// Request: drop the current signature, if any. Answer: [`Kind::Ok`].
    Abort,
    /// Request: measurement counters. Answer: [`Kind::StatsReply`].
    Stats,
    /// Request: start sealing the next ARC set ([`SealBegin`]). Answer:
    /// [`Kind::Ok`]. HEADER, BODY and SIGN-END follow as for a signature.
    SealBegin,
    /// Request: start signing the next DKIM2 hop ([`Dkim2Begin`]). Answer:
    /// [`Kind::Ok`]. HEADER, BODY and SIGN-END follow as for a signature.
    Dkim2Begin,
    /// Answer: done, nothing to return.
    Ok,
    /// Answer to INFO ([`InfoReply`]).
    InfoReply,
    /// Answer to SIGN-END: `DKIM-Signature: ...` without the final CRLF.
    Signature,
    /// Answer to STATS ([`Stats`]).
    StatsReply,
    /// Answer to SIGN-END after SEAL-BEGIN: the ARC set, its three fields
    /// (ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal) joined
    /// by CRLF, without a final CRLF.
    ArcSet,
    /// Answer to SIGN-END after DKIM2-BEGIN: the DKIM2-Signature and, when
    /// the hop adds one, CRLF and the Message-Instance, without a final
    /// CRLF ([`hop_answer`], [`split_hop_answer`]).
    Dkim2Hop,
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
            Kind::SealBegin => 0x09,
            Kind::Dkim2Begin => 0x0A,
            Kind::Ok => 0x80,
            Kind::InfoReply => 0x81,
            Kind::Signature => 0x82,
            Kind::StatsReply => 0x83,
            Kind::ArcSet => 0x84,
            Kind::Dkim2Hop => 0x85,
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
            0x09 => Kind::SealBegin,
            0x0A => Kind::Dkim2Begin,
            0x80 => Kind::Ok,
            0x81 => Kind::InfoReply,
            0x82 => Kind::Signature,
            0x83 => Kind::StatsReply,
            0x84 => Kind::ArcSet,
            0x85 => Kind::Dkim2Hop,
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
    /// The ARC sealer refused; `detail` says why ([`sealer_error`]).
    Seal,
    /// The DKIM2 signer refused; `detail` says why ([`dkim2_signer_error`]).
    Dkim2,
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
            ErrorCode::Seal => 12,
            ErrorCode::Dkim2 => 13,
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
            12 => ErrorCode::Seal,
            13 => ErrorCode::Dkim2,
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
    /// For [`ErrorCode::Sign`], the signer's reason; for
    /// [`ErrorCode::Seal`], the sealer's; for [`ErrorCode::Dkim2`], the
    /// DKIM2 signer's; otherwise 0.
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
            ErrorCode::Seal => "ARC sealer refused",
            ErrorCode::Dkim2 => "DKIM2 signer refused",
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
/// too small, 12 `x=` before `t=`, 13 algorithm mismatch, 14 key, 15 several
/// Sender, 16 signatures capacity, 17 body hashes capacity, 18 no such
/// signature. 255 is never sent: it stays free for "unknown" on a host.
///
/// The match names every [`Error`] variant and has no `_` arm: inside this
/// crate `#[non_exhaustive]` does not apply, so a new variant fails the
/// build here until it has a byte of its own.
pub fn signer_error_detail(e: &Error) -> u8 {
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
        Error::MultipleSenderFields => 15,
        Error::SignaturesCapacity { .. } => 16,
        Error::BodyHashesCapacity { .. } => 17,
        Error::NoSuchSignature => 18,
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

mod codec;
mod crc;
mod dkim2_begin;
mod frame;
mod messages;
mod seal_begin;

pub use codec::{Reader, Strings, Width, Writer, algorithm_from_u8, algorithm_to_u8};
pub use crc::{Crc32, crc32};
pub use dkim2_begin::{
    DKIM2_REQUEST_TOO_LARGE, Dkim2Begin, Dkim2BeginError, HOP_STAND_IN, HopDestination, HopFields,
    MAX_HOP_FLAGS, MAX_HOP_RECIPE_BYTES, MAX_HOP_RECIPIENTS, dkim2_signer_error, hop_answer,
    split_hop_answer,
};
pub use frame::{Event, Frame, FrameDecoder, encode_frame, seal_frame};
pub use messages::{HeaderNames, InfoReply, MAX_SLOTS, Provision, SignBegin, SlotInfo, Stats};
pub use seal_begin::{
    AAR_RESULTS_ENCODED_CAP, AarResults, MAX_AAR_RESULTS, MAX_AAR_RESULTS_BYTES, SealBegin,
    SealBeginError, chain_from_u8, chain_to_u8, sealer_error,
};

#[cfg(test)]
mod tests;
