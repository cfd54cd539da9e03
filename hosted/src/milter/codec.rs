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
//! socket bytes ──► Decoder::feed ──► Decoder::decode ──► Command<'_>
//!                                                          │
//! socket write ◄── Vec<u8> ◄── Reply::encode ◄── (caller decides)
//! ```
//!
//! The decoder checks a packet's length before it keeps any of its data: a
//! length of 0, one above the configured maximum (0xFFFFFFFF among them) or
//! an unknown command byte is a [`CodecError`], and the caller closes the
//! connection. The buffer only ever holds bytes that actually arrived, so a
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

/// The address of the SMTP client in `SMFIC_CONNECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddress<'a> {
    /// An IPv4 or IPv6 client (families `4` and `6`) and its port.
    Inet(IpAddr, u16),
    /// A unix-socket client (family `L`) and its path.
    Unix(&'a [u8]),
    /// Family `U`: the MTA does not know.
    Unknown,
}

/// A command from the MTA. Borrowed data points into the decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `SMFIC_OPTNEG`: the MTA's version, offered actions and protocol flags.
    OptNeg {
        /// Protocol version.
        version: u32,
        /// `SMFIF_*` actions the MTA allows.
        actions: u32,
        /// `SMFIP_*` flags the MTA can honour.
        protocol: u32,
    },
    /// `SMFIC_MACRO`: macros for the stage of command `stage`.
    Macro {
        /// The command these macros belong to (`b'C'`, `b'M'`, ...).
        stage: u8,
        /// The name/value pairs.
        macros: Macros<'a>,
    },
    /// `SMFIC_CONNECT`.
    Connect {
        /// The client's host name as the MTA knows it.
        hostname: &'a [u8],
        /// The client's address.
        address: ClientAddress<'a>,
    },
    /// `SMFIC_HELO`: the HELO/EHLO argument.
    Helo(&'a [u8]),
    /// `SMFIC_MAIL`: the sender, then ESMTP arguments.
    Mail(Args<'a>),
    /// `SMFIC_RCPT`: a recipient, then ESMTP arguments.
    Rcpt(Args<'a>),
    /// `SMFIC_DATA`.
    Data,
    /// `SMFIC_HEADER`: one header field.
    Header {
        /// The field name.
        name: &'a [u8],
        /// The value as the MTA gives it (leading space kept when
        /// `SMFIP_HDR_LEADSPC` was negotiated; folds as bare LF).
        value: &'a [u8],
    },
    /// `SMFIC_EOH`.
    EndOfHeaders,
    /// `SMFIC_BODY`: a body chunk (CRLF line ends).
    Body(&'a [u8]),
    /// `SMFIC_BODYEOB`: end of message, possibly with a last body chunk.
    EndOfMessage(&'a [u8]),
    /// `SMFIC_ABORT`: forget the current message, keep the connection.
    Abort,
    /// `SMFIC_QUIT`: close the connection.
    Quit,
    /// `SMFIC_QUIT_NC`: forget the connection state, a new one follows on
    /// the same socket.
    QuitNewConnection,
    /// `SMFIC_UNKNOWN`: an SMTP command the MTA did not know.
    Unknown(&'a [u8]),
}

impl Command<'_> {
    /// The command byte on the wire.
    pub fn code(&self) -> u8 {
        match self {
            Command::OptNeg { .. } => b'O',
            Command::Macro { .. } => b'D',
            Command::Connect { .. } => b'C',
            Command::Helo(_) => b'H',
            Command::Mail(_) => b'M',
            Command::Rcpt(_) => b'R',
            Command::Data => b'T',
            Command::Header { .. } => b'L',
            Command::EndOfHeaders => b'N',
            Command::Body(_) => b'B',
            Command::EndOfMessage(_) => b'E',
            Command::Abort => b'A',
            Command::Quit => b'Q',
            Command::QuitNewConnection => b'K',
            Command::Unknown(_) => b'U',
        }
    }
}

/// NUL-terminated strings in a row, as in `SMFIC_MAIL` and `SMFIC_RCPT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Args<'a>(&'a [u8]);

impl<'a> Args<'a> {
    /// The strings, in order. The first is the address.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        nul_strings(self.0)
    }

    /// The first string (the envelope address), if any.
    pub fn first(&self) -> Option<&'a [u8]> {
        self.iter().next()
    }
}

/// Macro name/value pairs from `SMFIC_MACRO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Macros<'a>(&'a [u8]);

impl<'a> Macros<'a> {
    /// The (name, value) pairs. Names come as the MTA sends them, e.g. `i`
    /// or `{auth_authen}`.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + use<'a> {
        let mut strings = nul_strings(self.0);
        std::iter::from_fn(move || {
            let name = strings.next()?;
            let value = strings.next().unwrap_or_default();
            Some((name, value))
        })
    }
}

/// Split `data` into NUL-terminated strings; a last string without a NUL is
/// yielded too.
fn nul_strings(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&b| b == 0) {
            Some(end) => {
                let (s, tail) = rest.split_at(end);
                rest = tail.get(1..).unwrap_or_default();
                Some(s)
            }
            None => {
                let s = rest;
                rest = &[];
                Some(s)
            }
        }
    })
}

/// Take one NUL-terminated string off the front of `data`.
fn take_cstr(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = data.iter().position(|&b| b == 0)?;
    let (s, tail) = data.split_at(end);
    Some((s, tail.get(1..).unwrap_or_default()))
}

fn be_u32(data: &[u8]) -> Option<u32> {
    let bytes: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Parse one packet's command byte and data.
fn parse(code: u8, data: &[u8]) -> Result<Command<'_>, CodecError> {
    let malformed = CodecError::Malformed(code);
    let command = match code {
        b'O' => {
            let version = be_u32(data).ok_or(malformed)?;
            let actions = data.get(4..).and_then(be_u32).ok_or(malformed)?;
            let protocol = data.get(8..).and_then(be_u32).ok_or(malformed)?;
            Command::OptNeg {
                version,
                actions,
                protocol,
            }
        }
        b'D' => {
            let (&stage, macros) = data.split_first().ok_or(malformed)?;
            Command::Macro {
                stage,
                macros: Macros(macros),
            }
        }
        b'C' => {
            let (hostname, rest) = take_cstr(data).ok_or(malformed)?;
            let (&family, rest) = rest.split_first().ok_or(malformed)?;
            let address = match family {
                b'U' => ClientAddress::Unknown,
                b'4' | b'6' | b'L' => {
                    let port = rest
                        .get(..2)
                        .and_then(|p| <[u8; 2]>::try_from(p).ok())
                        .map(u16::from_be_bytes)
                        .ok_or(malformed)?;
                    let (addr, _) =
                        take_cstr(rest.get(2..).unwrap_or_default()).ok_or(malformed)?;
                    match family {
                        b'L' => ClientAddress::Unix(addr),
                        b'4' => ClientAddress::Inet(
                            IpAddr::V4(parse_text::<Ipv4Addr>(addr).ok_or(malformed)?),
                            port,
                        ),
                        _ => {
                            // Sendmail writes "IPv6:" in front; Postfix does not.
                            let addr = addr.strip_prefix(b"IPv6:").unwrap_or(addr);
                            ClientAddress::Inet(
                                IpAddr::V6(parse_text::<Ipv6Addr>(addr).ok_or(malformed)?),
                                port,
                            )
                        }
                    }
                }
                _ => return Err(malformed),
            };
            Command::Connect { hostname, address }
        }
        b'H' => Command::Helo(take_cstr(data).map(|(s, _)| s).unwrap_or(data)),
        b'M' => Command::Mail(Args(data)),
        b'R' => Command::Rcpt(Args(data)),
        b'T' => Command::Data,
        b'L' => {
            let (name, rest) = take_cstr(data).ok_or(malformed)?;
            let (value, _) = take_cstr(rest).ok_or(malformed)?;
            Command::Header { name, value }
        }
        b'N' => Command::EndOfHeaders,
        b'B' => Command::Body(data),
        b'E' => Command::EndOfMessage(data),
        b'A' => Command::Abort,
        b'Q' => Command::Quit,
        b'K' => Command::QuitNewConnection,
        b'U' => Command::Unknown(take_cstr(data).map(|(s, _)| s).unwrap_or(data)),
        other => return Err(CodecError::UnknownCommand(other)),
    };
    Ok(command)
}

fn parse_text<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// True for the command bytes [`parse`] knows.
fn known_command(code: u8) -> bool {
    matches!(
        code,
        b'O' | b'D'
            | b'C'
            | b'H'
            | b'M'
            | b'R'
            | b'T'
            | b'L'
            | b'N'
            | b'B'
            | b'E'
            | b'A'
            | b'Q'
            | b'K'
            | b'U'
    )
}

/// Turns a byte stream from the MTA into [`Command`]s.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    max_packet: u32,
    failed: Option<CodecError>,
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

/// The outcome of option negotiation: what both sides agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Actions the filter may use.
    pub actions: u32,
    /// Protocol flags in force.
    pub protocol: u32,
}

impl Negotiated {
    /// Negotiate from the MTA's offer: keep the actions and protocol flags
    /// the filter wants and the MTA offers. Fails when the MTA speaks a
    /// version below 6.
    pub fn from_offer(
        version: u32,
        offered_actions: u32,
        offered_protocol: u32,
        wanted_actions: u32,
        wanted_protocol: u32,
    ) -> Result<Self, CodecError> {
        if version < PROTOCOL_VERSION {
            return Err(CodecError::UnsupportedVersion(version));
        }
        Ok(Negotiated {
            actions: offered_actions & wanted_actions,
            protocol: offered_protocol & wanted_protocol,
        })
    }

    /// The `SMFIC_OPTNEG` reply packet.
    pub fn reply(&self) -> Reply<'static> {
        Reply::OptNeg {
            version: PROTOCOL_VERSION,
            actions: self.actions,
            protocol: self.protocol,
        }
    }

    /// True when `flag` (an `SMFIP_*` bit) is in force.
    pub fn has(&self, flag: u32) -> bool {
        self.protocol & flag == flag
    }

    /// True when the MTA waits for a reply to `command`.
    pub fn expects_reply(&self, command: &Command<'_>) -> bool {
        use protocol as p;
        let no_reply_flag = match command {
            Command::OptNeg { .. } => return true,
            Command::Macro { .. } | Command::Abort | Command::Quit | Command::QuitNewConnection => {
                return false;
            }
            Command::EndOfMessage(_) => return true,
            Command::Connect { .. } => p::NR_CONN,
            Command::Helo(_) => p::NR_HELO,
            Command::Mail(_) => p::NR_MAIL,
            Command::Rcpt(_) => p::NR_RCPT,
            Command::Data => p::NR_DATA,
            Command::Header { .. } => p::NR_HDR,
            Command::EndOfHeaders => p::NR_EOH,
            Command::Body(_) => p::NR_BODY,
            Command::Unknown(_) => p::NR_UNKN,
        };
        !self.has(no_reply_flag)
    }
}

/// A reply to the MTA. Several replies can be encoded into one buffer so
/// the server sends them in one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `SMFIC_OPTNEG` answer.
    OptNeg {
        /// Protocol version.
        version: u32,
        /// `SMFIF_*` actions.
        actions: u32,
        /// `SMFIP_*` flags.
        protocol: u32,
    },
    /// `SMFIR_CONTINUE`.
    Continue,
    /// `SMFIR_ACCEPT`: accept, no more callbacks for this message.
    Accept,
    /// `SMFIR_REJECT`.
    Reject,
    /// `SMFIR_TEMPFAIL`.
    Tempfail,
    /// `SMFIR_DISCARD`.
    Discard,
    /// `SMFIR_SKIP`: send no more body chunks (only as a `SMFIC_BODY` reply).
    Skip,
    /// `SMFIR_REPLYCODE`: an SMTP reply such as `451 4.7.1 text`.
    SmtpCode(&'a str),
    /// `SMFIR_PROGRESS`: keep the MTA's timer from expiring.
    Progress,
    /// `SMFIR_INSHEADER`: insert a field at `index` (0 = top).
    InsertHeader {
        /// Position among all fields.
        index: u32,
        /// Field name.
        name: &'a str,
        /// Field value (folds as LF followed by whitespace).
        value: &'a str,
    },
    /// `SMFIR_ADDHEADER`: append a field.
    AddHeader {
        /// Field name.
        name: &'a str,
        /// Field value.
        value: &'a str,
    },
    /// `SMFIR_CHGHEADER`: change the `index`th (1-based) field called
    /// `name`; an empty value deletes it.
    ChangeHeader {
        /// Occurrence among fields of this name, from 1.
        index: u32,
        /// Field name.
        name: &'a str,
        /// New value; empty deletes the field.
        value: &'a str,
    },
    /// `SMFIR_CHGFROM`: change the envelope sender.
    ChangeFrom {
        /// The new sender.
        sender: &'a str,
        /// ESMTP arguments, or empty.
        args: &'a str,
    },
    /// `SMFIR_ADDRCPT`: add an envelope recipient.
    AddRecipient(&'a str),
    /// `SMFIR_DELRCPT`: delete an envelope recipient.
    DeleteRecipient(&'a str),
}

impl Reply<'_> {
    /// Append this reply as one packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
        let push_str = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        };
        match *self {
            Reply::OptNeg {
                version,
                actions,
                protocol,
            } => {
                out.push(b'O');
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&actions.to_be_bytes());
                out.extend_from_slice(&protocol.to_be_bytes());
            }
            Reply::Continue => out.push(b'c'),
            Reply::Accept => out.push(b'a'),
            Reply::Reject => out.push(b'r'),
            Reply::Tempfail => out.push(b't'),
            Reply::Discard => out.push(b'd'),
            Reply::Skip => out.push(b's'),
            Reply::Progress => out.push(b'p'),
            Reply::SmtpCode(text) => {
                out.push(b'y');
                push_str(out, text);
            }
            Reply::InsertHeader { index, name, value } => {
                out.push(b'i');
                out.extend_from_slice(&index.to_be_bytes());
                push_str(out, name);
                push_str(out, value);
            }
            Reply::AddHeader { name, value } => {
                out.push(b'h');
                push_str(out, name);
                push_str(out, value);
            }
            Reply::ChangeHeader { index, name, value } => {
                out.push(b'm');
                out.extend_from_slice(&index.to_be_bytes());
                push_str(out, name);
                push_str(out, value);
            }
            Reply::ChangeFrom { sender, args } => {
                out.push(b'e');
                push_str(out, sender);
                if !args.is_empty() {
                    push_str(out, args);
                }
            }
            Reply::AddRecipient(rcpt) => {
                out.push(b'+');
                push_str(out, rcpt);
            }
            Reply::DeleteRecipient(rcpt) => {
                out.push(b'-');
                push_str(out, rcpt);
            }
        }
        let length = u32::try_from(out.len() - at - 4).unwrap_or(u32::MAX);
        if let Some(slot) = out.get_mut(at..at + 4) {
            slot.copy_from_slice(&length.to_be_bytes());
        }
    }
}

/// Encode a command packet, as an MTA would send it. Used by tests and the
/// end-to-end tools that play the MTA's part.
pub fn encode_command(code: u8, data: &[u8], out: &mut Vec<u8>) {
    let length = u32::try_from(data.len() + 1).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.push(code);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned form of a command, to compare decodes across split points.
    fn owned(c: &Command<'_>) -> String {
        match c {
            Command::Macro { stage, macros } => format!(
                "Macro({}, {:?})",
                char::from(*stage),
                macros
                    .iter()
                    .map(|(n, v)| (
                        String::from_utf8_lossy(n).into_owned(),
                        String::from_utf8_lossy(v).into_owned()
                    ))
                    .collect::<Vec<_>>()
            ),
            Command::Mail(a) | Command::Rcpt(a) => format!(
                "{}{:?}",
                char::from(c.code()),
                a.iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
            ),
            other => format!("{other:?}"),
        }
    }

    /// A whole conversation as Postfix sends it.
    fn conversation() -> Vec<u8> {
        let mut out = Vec::new();
        let mut opt = Vec::new();
        opt.extend_from_slice(&6u32.to_be_bytes());
        opt.extend_from_slice(&0x1ffu32.to_be_bytes());
        opt.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
        encode_command(b'O', &opt, &mut out);
        encode_command(
            b'D',
            b"Cj\0mx.example\0{daemon_name}\0ORIGINATING\0",
            &mut out,
        );
        encode_command(b'C', b"client.example\x004\x30\x39127.0.0.1\0", &mut out);
        encode_command(b'H', b"client.example\0", &mut out);
        encode_command(b'D', b"Mi\0ABC123\0{auth_authen}\0alice\0", &mut out);
        encode_command(b'M', b"<a@example.com>\0SIZE=100\0", &mut out);
        encode_command(b'R', b"<b@example.net>\0", &mut out);
        encode_command(b'T', b"", &mut out);
        encode_command(b'L', b"From\0 Alice <a@example.com>\0", &mut out);
        encode_command(b'L', b"Subject\0 hi\n\tthere\0", &mut out);
        encode_command(b'N', b"", &mut out);
        encode_command(b'B', b"line one\r\nline two\r\n", &mut out);
        encode_command(b'E', b"", &mut out);
        encode_command(b'A', b"", &mut out);
        encode_command(b'C', b"v6.example\x006\x00\x19::1\0", &mut out);
        encode_command(b'C', b"local\0L\x00\x00/run/sock\0", &mut out);
        encode_command(b'C', b"unknown\0U", &mut out);
        encode_command(b'U', b"XFOO bar\0", &mut out);
        encode_command(b'K', b"", &mut out);
        encode_command(b'Q', b"", &mut out);
        out
    }

    fn decode_all(chunks: &[&[u8]]) -> Result<Vec<String>, CodecError> {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        let mut seen = Vec::new();
        for chunk in chunks {
            d.feed(chunk);
            while let Some(c) = d.decode()? {
                seen.push(owned(&c));
            }
        }
        assert_eq!(d.pending(), 0);
        Ok(seen)
    }

    #[test]
    fn decodes_a_conversation() {
        let all = conversation();
        let seen = decode_all(&[&all]).unwrap();
        assert_eq!(seen.len(), 20);
        assert_eq!(
            seen[0],
            "OptNeg { version: 6, actions: 511, protocol: 2097151 }"
        );
        assert_eq!(
            seen[1],
            r#"Macro(C, [("j", "mx.example"), ("{daemon_name}", "ORIGINATING")])"#
        );
        assert!(seen[2].contains("Inet(127.0.0.1, 12345)"), "{}", seen[2]);
        assert_eq!(seen[5], r#"M["<a@example.com>", "SIZE=100"]"#);
        assert!(seen[14].contains("Inet(::1, 25)"), "{}", seen[14]);
        assert!(seen[15].contains("Unix("), "{}", seen[15]);
        assert!(seen[16].contains("Unknown"), "{}", seen[16]);
        assert_eq!(seen[18], "QuitNewConnection");
        assert_eq!(seen[19], "Quit");
    }

    #[test]
    fn every_split_point_gives_the_same_commands() {
        let all = conversation();
        let whole = decode_all(&[&all]).unwrap();
        for at in 0..=all.len() {
            let (a, b) = all.split_at(at);
            assert_eq!(decode_all(&[a, b]).unwrap(), whole, "split at {at}");
        }
        // And one byte at a time.
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(decode_all(&bytes).unwrap(), whole);
    }

    #[test]
    fn header_value_keeps_leading_space_and_folds() {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        let mut p = Vec::new();
        encode_command(b'L', b"Subject\0 a\n\tb\0", &mut p);
        d.feed(&p);
        assert_eq!(
            d.decode().unwrap(),
            Some(Command::Header {
                name: b"Subject",
                value: b" a\n\tb"
            })
        );
    }

    #[test]
    fn zero_length_is_an_error() {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        d.feed(&[0, 0]);
        assert_eq!(d.decode(), Ok(None));
        d.feed(&[0, 0]);
        assert_eq!(d.decode(), Err(CodecError::ZeroLength));
        // Sticky: the connection is dead.
        assert_eq!(d.decode(), Err(CodecError::ZeroLength));
    }

    #[test]
    fn huge_length_fails_at_once_without_allocating() {
        for claimed in [u32::MAX, DEFAULT_MAX_PACKET + 1, 0x8000_0000] {
            let mut d = Decoder::new(DEFAULT_MAX_PACKET);
            d.feed(&claimed.to_be_bytes());
            assert_eq!(
                d.decode(),
                Err(CodecError::TooLong {
                    claimed,
                    max: DEFAULT_MAX_PACKET
                })
            );
            assert!(d.buf.capacity() < 64, "kept room for the claim");
        }
        // The maximum itself is fine (and waits for its data).
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        d.feed(&DEFAULT_MAX_PACKET.to_be_bytes());
        d.feed(b"B");
        assert_eq!(d.decode(), Ok(None));
        assert!(d.buf.capacity() < 64);
    }

    #[test]
    fn unknown_command_fails_before_its_data_arrives() {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        d.feed(&[0, 0, 0x10, 0, b'Z']);
        assert_eq!(d.decode(), Err(CodecError::UnknownCommand(b'Z')));
    }

    #[test]
    fn malformed_data_is_an_error() {
        for (code, data) in [
            (b'O', &b"\0\0\0\x06\0\0"[..]),
            (b'C', b"host-without-nul"),
            (b'C', b"host\0X"),
            (b'C', b"host\x004\0"),
            (b'C', b"host\x004\0\x19not-an-ip\0"),
            (b'L', b"Name\0value-without-nul"),
            (b'D', b""),
        ] {
            let mut d = Decoder::new(DEFAULT_MAX_PACKET);
            let mut p = Vec::new();
            encode_command(code, data, &mut p);
            d.feed(&p);
            assert_eq!(d.decode(), Err(CodecError::Malformed(code)), "{data:?}");
        }
    }

    #[test]
    fn three_length_bytes_wait_for_more() {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        d.feed(&[0, 0, 0]);
        assert_eq!(d.decode(), Ok(None));
        assert!(d.in_packet());
    }

    #[test]
    fn negotiation_keeps_the_common_flags() {
        let n = Negotiated::from_offer(
            6,
            0x1ff,
            protocol::SKIP | protocol::NR_HDR | protocol::NOHELO,
            action::ADDHDRS | action::CHGHDRS,
            protocol::SKIP | protocol::NR_HDR | protocol::HDR_LEADSPC,
        )
        .unwrap();
        assert_eq!(n.actions, action::ADDHDRS | action::CHGHDRS);
        assert_eq!(n.protocol, protocol::SKIP | protocol::NR_HDR);
        assert!(!n.expects_reply(&Command::Header {
            name: b"a",
            value: b"b"
        }));
        assert!(n.expects_reply(&Command::Body(b"x")));
        assert!(n.expects_reply(&Command::EndOfMessage(b"")));
        assert!(!n.expects_reply(&Command::Abort));
        assert_eq!(
            Negotiated::from_offer(2, 0, 0, 0, 0),
            Err(CodecError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn replies_encode_as_libmilter_expects() {
        let mut out = Vec::new();
        Reply::Continue.encode(&mut out);
        assert_eq!(out, b"\0\0\0\x01c");
        out.clear();
        Reply::InsertHeader {
            index: 0,
            name: "DKIM-Signature",
            value: " v=1",
        }
        .encode(&mut out);
        assert_eq!(out, b"\0\0\0\x19i\0\0\0\0DKIM-Signature\0 v=1\0");
        out.clear();
        Reply::ChangeHeader {
            index: 2,
            name: "Authentication-Results",
            value: "",
        }
        .encode(&mut out);
        assert_eq!(out, b"\0\0\0\x1dm\0\0\0\x02Authentication-Results\0\0");
        out.clear();
        Negotiated {
            actions: 0x11,
            protocol: 0x400,
        }
        .reply()
        .encode(&mut out);
        assert_eq!(out, b"\0\0\0\x0dO\0\0\0\x06\0\0\0\x11\0\0\x04\0");
        out.clear();
        Reply::SmtpCode("451 4.7.1 try later").encode(&mut out);
        assert_eq!(&out[..5], b"\0\0\0\x15y");
        // Replies round-trip through the decoder's framing.
        out.clear();
        Reply::Accept.encode(&mut out);
        Reply::Skip.encode(&mut out);
        assert_eq!(out, b"\0\0\0\x01a\0\0\0\x01s");
    }

    #[test]
    fn buffer_is_compacted() {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        let mut p = Vec::new();
        encode_command(b'B', &[b'x'; 1000], &mut p);
        for _ in 0..1000 {
            d.feed(&p);
            assert!(matches!(d.decode(), Ok(Some(Command::Body(_)))));
        }
        assert!(d.buf.len() <= 2 * p.len());
    }
}
