//! Commands from the MTA (`SMFIC_*`), parsed from one packet.

use super::*;

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
pub(super) fn nul_strings(data: &[u8]) -> impl Iterator<Item = &[u8]> {
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
pub(super) fn take_cstr(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = data.iter().position(|&b| b == 0)?;
    let (s, tail) = data.split_at(end);
    Some((s, tail.get(1..).unwrap_or_default()))
}

pub(super) fn be_u32(data: &[u8]) -> Option<u32> {
    let bytes: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Parse one packet's command byte and data.
pub(super) fn parse(code: u8, data: &[u8]) -> Result<Command<'_>, CodecError> {
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

pub(super) fn parse_text<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// True for the command bytes [`parse`] knows.
pub(super) fn known_command(code: u8) -> bool {
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
