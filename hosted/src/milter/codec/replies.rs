//! Replies to the MTA (`SMFIR_*`) and option negotiation (`SMFIC_OPTNEG`).

use super::*;

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
