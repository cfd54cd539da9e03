//! A sans-IO codec for the milter protocol, version 6.
//!
//! The milter protocol has no RFC; the reference is Sendmail's libmilter
//! (`include/libmilter/mfdef.h` and `libmilter/docs/`). Every packet is
//!
//! ```text
//! +----------------+---------+----------------------+
//! | length: u32 BE | command | data (length-1 bytes) |
//! +----------------+---------+----------------------+
//! ```
//!
//! where the length counts the command byte and the data. The MTA sends
//! commands (`SMFIC_*`), the filter answers with replies (`SMFIR_*`).
//!
//! Data flow, with no I/O in this module:
//!
//! ```text
//! socket.read(Decoder::spare) ─► Decoder::commit ─► Decoder::decode ─► Command<'_>
//!                                                                        │
//! socket write ◄── Vec<u8> ◄── Reply::encode ◄── (caller decides) ◄──────┘
//! ```
//!
//! The decoder checks a packet's length before it keeps any of its data: a
//! length of 0, one above the configured maximum (0xFFFFFFFF among them) or
//! an unknown command byte is a [`CodecError`], and the caller closes the
//! connection. The buffer grows only when it is full of bytes that actually
//! arrived, and never past one packet of the largest length accepted, so a
//! peer that claims 4 GiB and sends nothing costs nothing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The protocol version this codec speaks (libmilter `SMFI_PROT_VERSION`).
pub const PROTOCOL_VERSION: u32 = 6;

/// libmilter's `MILTER_MAX_DATA_SIZE`: the largest packet data an MTA sends
/// unless a bigger size is negotiated. Postfix sends body chunks of at most
/// this size.
pub const MILTER_MAX_DATA_SIZE: u32 = 65_535;

/// The default largest packet the decoder accepts (length field value):
/// 64 KiB of data plus slack for the command byte and a header name.
pub const DEFAULT_MAX_PACKET: u32 = 64 * 1024 + 1024;

/// Actions the filter may take (`SMFIF_*`), negotiated in `SMFIC_OPTNEG`.
pub mod action {
    /// Add header fields (`SMFIR_ADDHEADER`, `SMFIR_INSHEADER`).
    pub const ADDHDRS: u32 = 0x01;
    /// Replace the body.
    pub const CHGBODY: u32 = 0x02;
    /// Add envelope recipients.
    pub const ADDRCPT: u32 = 0x04;
    /// Delete envelope recipients.
    pub const DELRCPT: u32 = 0x08;
    /// Change or delete header fields (`SMFIR_CHGHEADER`).
    pub const CHGHDRS: u32 = 0x10;
    /// Quarantine the message.
    pub const QUARANTINE: u32 = 0x20;
    /// Change the envelope sender (`SMFIR_CHGFROM`).
    pub const CHGFROM: u32 = 0x40;
    /// Add recipients with ESMTP arguments.
    pub const ADDRCPT_PAR: u32 = 0x80;
    /// Ask for a list of macros per stage.
    pub const SETSYMLIST: u32 = 0x100;
}

/// Protocol flags (`SMFIP_*`), negotiated in `SMFIC_OPTNEG`.
pub mod protocol {
    /// MTA does not send `SMFIC_CONNECT`.
    pub const NOCONNECT: u32 = 0x01;
    /// MTA does not send `SMFIC_HELO`.
    pub const NOHELO: u32 = 0x02;
    /// MTA does not send `SMFIC_MAIL`.
    pub const NOMAIL: u32 = 0x04;
    /// MTA does not send `SMFIC_RCPT`.
    pub const NORCPT: u32 = 0x08;
    /// MTA does not send `SMFIC_BODY`.
    pub const NOBODY: u32 = 0x10;
    /// MTA does not send `SMFIC_HEADER`.
    pub const NOHDRS: u32 = 0x20;
    /// MTA does not send `SMFIC_EOH`.
    pub const NOEOH: u32 = 0x40;
    /// No reply to `SMFIC_HEADER`.
    pub const NR_HDR: u32 = 0x80;
    /// MTA does not send `SMFIC_UNKNOWN`.
    pub const NOUNKNOWN: u32 = 0x100;
    /// MTA does not send `SMFIC_DATA`.
    pub const NODATA: u32 = 0x200;
    /// The MTA understands `SMFIR_SKIP`.
    pub const SKIP: u32 = 0x400;
    /// MTA sends rejected recipients too.
    pub const RCPT_REJ: u32 = 0x800;
    /// No reply to `SMFIC_CONNECT`.
    pub const NR_CONN: u32 = 0x1000;
    /// No reply to `SMFIC_HELO`.
    pub const NR_HELO: u32 = 0x2000;
    /// No reply to `SMFIC_MAIL`.
    pub const NR_MAIL: u32 = 0x4000;
    /// No reply to `SMFIC_RCPT`.
    pub const NR_RCPT: u32 = 0x8000;
    /// No reply to `SMFIC_DATA`.
    pub const NR_DATA: u32 = 0x1_0000;
    /// No reply to `SMFIC_UNKNOWN`.
    pub const NR_UNKN: u32 = 0x2_0000;
    /// No reply to `SMFIC_EOH`.
    pub const NR_EOH: u32 = 0x4_0000;
    /// No reply to `SMFIC_BODY`.
    pub const NR_BODY: u32 = 0x8_0000;
    /// Header values keep their leading space.
    pub const HDR_LEADSPC: u32 = 0x10_0000;
}

/// Why a byte stream is not a valid milter conversation. Each one closes the
/// connection; none of them allocates the size a peer claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The length field was 0: not even a command byte.
    ZeroLength,
    /// The length field is above the maximum the decoder accepts.
    TooLong {
        /// The length the peer claimed.
        claimed: u32,
        /// The maximum accepted.
        max: u32,
    },
    /// A command byte this codec does not know.
    UnknownCommand(u8),
    /// A known command whose data does not parse.
    Malformed(u8),
    /// The MTA offered a protocol version below 6.
    UnsupportedVersion(u32),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::ZeroLength => f.write_str("milter packet of length 0"),
            CodecError::TooLong { claimed, max } => {
                write!(f, "milter packet length {claimed} above the maximum {max}")
            }
            CodecError::UnknownCommand(c) => {
                write!(f, "unknown milter command 0x{c:02x}")
            }
            CodecError::Malformed(c) => {
                write!(f, "malformed data in milter command {:?}", char::from(*c))
            }
            CodecError::UnsupportedVersion(v) => {
                write!(f, "milter protocol version {v} offered; 6 is required")
            }
        }
    }
}

impl std::error::Error for CodecError {}

mod commands;
mod decoder;
mod replies;

pub use commands::*;
pub use decoder::*;
pub use replies::*;

#[cfg(test)]
mod tests;
