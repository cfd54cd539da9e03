//! DKIM2-BEGIN (protocol 4): what the device needs to sign the next DKIM2
//! hop of a message (draft-ietf-dkim-dkim2-spec-03) with a provisioned key,
//! as core's [`crate::dkim2::Dkim2Signer`] does on a host. The HEADER, BODY
//! and SIGN-END frames that follow are DKIM's; SIGN-END answers with
//! [`Kind::Dkim2Hop`]: the new DKIM2-Signature and, when the hop adds one,
//! its Message-Instance.
//!
//! One key signs a hop on the device (its slot gives the one `s=` entry);
//! a hop signed with two keys at once (RSA and Ed25519) is a host's.

use super::*;
use crate::dkim2::MAX_PATH;
use crate::dkim2::sign::{Destination, HopRequest, SignerError};
use crate::header::field_name;

/// Most RCPT TO paths a DKIM2-BEGIN carries.
pub const MAX_HOP_RECIPIENTS: usize = 8;
/// Most `f=` flags a DKIM2-BEGIN carries.
pub const MAX_HOP_FLAGS: usize = 8;
/// Most bytes of recipe JSON (the Message-Instance `r=`, before base64) a
/// DKIM2-BEGIN carries.
pub const MAX_HOP_RECIPE_BYTES: usize = 1024;

/// The detail of an [`ErrorCode::Dkim2`] error for a request larger than
/// the device keeps until SIGN-END (the budget board keeps less than a
/// frame).
pub const DKIM2_REQUEST_TOO_LARGE: u8 = 11;

/// The request a device starts its [`crate::dkim2::Dkim2Signer`] for. The
/// real request's bytes are in a frame that is gone by SIGN-END, so the
/// device keeps the DKIM2-BEGIN payload, starts the signer for this
/// stand-in (`new` uses a request only to check it) and finishes it for the
/// real one, decoded again from its copy
/// ([`crate::dkim2::Dkim2Signer::finish_for`], [`Dkim2Begin::decode_with`]).
pub const HOP_STAND_IN: HopRequest<'static> = HopRequest {
    domain: "device.invalid",
    destination: Destination::NextDomain("device.invalid"),
    timestamp: 0,
    nonce: None,
    flags: &[],
    recipe: None,
};

const HOP_NONCE: u8 = 1;
const HOP_RECIPE: u8 = 2;
const HOP_NEXT_DOMAIN: u8 = 4;
const HOP_FLAGS_ALL: u8 = HOP_NONCE | HOP_RECIPE | HOP_NEXT_DOMAIN;

/// Why a DKIM2-BEGIN cannot be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Dkim2BeginError {
    /// More than [`MAX_HOP_RECIPIENTS`] RCPT TO paths.
    TooManyRecipients {
        /// How many.
        count: usize,
    },
    /// A path longer than [`MAX_PATH`] bytes.
    PathTooLong {
        /// Its length.
        len: usize,
    },
    /// More than [`MAX_HOP_FLAGS`] flags.
    TooManyFlags {
        /// How many.
        count: usize,
    },
    /// A recipe longer than [`MAX_HOP_RECIPE_BYTES`].
    RecipeTooLong {
        /// Its length.
        len: usize,
    },
    /// A string or the whole payload does not fit (a frame is 4096 bytes).
    Encode(EncodeError),
}

impl fmt::Display for Dkim2BeginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dkim2BeginError::TooManyRecipients { count } => write!(
                f,
                "{count} RCPT TO paths (a device hop takes at most {MAX_HOP_RECIPIENTS})"
            ),
            Dkim2BeginError::PathTooLong { len } => {
                write!(f, "a path of {len} bytes (at most {MAX_PATH})")
            }
            Dkim2BeginError::TooManyFlags { count } => write!(
                f,
                "{count} flags (a device hop takes at most {MAX_HOP_FLAGS})"
            ),
            Dkim2BeginError::RecipeTooLong { len } => write!(
                f,
                "a recipe of {len} bytes (a device hop takes at most {MAX_HOP_RECIPE_BYTES})"
            ),
            Dkim2BeginError::Encode(e) => write!(f, "DKIM2-BEGIN: {e}"),
        }
    }
}

impl core::error::Error for Dkim2BeginError {}

impl From<EncodeError> for Dkim2BeginError {
    fn from(e: EncodeError) -> Self {
        Dkim2BeginError::Encode(e)
    }
}

/// Where the hop sends the message, as it travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopDestination<'a> {
    /// `mf=` and `rt=`: MAIL FROM and the RCPT TO paths (each a str16).
    Envelope {
        /// MAIL FROM, as given (angle brackets optional, `""` or `<>` for
        /// the null path).
        mail_from: &'a str,
        /// RCPT TO, 1 to [`MAX_HOP_RECIPIENTS`].
        rcpt_to: Strings<'a>,
    },
    /// `nd=`: the domain that signs next.
    NextDomain(&'a str),
}

/// DKIM2-BEGIN: a [`HopRequest`] and the selector, for the key in slot
/// `key_id` (its algorithm gives the `s=` entry's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dkim2Begin<'a> {
    /// The key slot.
    pub key_id: u8,
    /// `t=`.
    pub timestamp: u64,
    /// `d=`.
    pub domain: &'a str,
    /// The selector of the one `s=` entry.
    pub selector: &'a str,
    /// `n=`.
    pub nonce: Option<&'a str>,
    /// `mf=`/`rt=` or `nd=`.
    pub destination: HopDestination<'a>,
    /// `f=`, each a str8.
    pub flags: Strings<'a>,
    /// The recipe JSON, when this hop changed the message.
    pub recipe: Option<&'a [u8]>,
}

fn check_path(path: &str) -> Result<(), Dkim2BeginError> {
    if path.len() > MAX_PATH {
        return Err(Dkim2BeginError::PathTooLong { len: path.len() });
    }
    Ok(())
}

impl<'a> Dkim2Begin<'a> {
    /// The link form of `req` for slot `key_id` and `selector`; the
    /// recipients and flags are encoded into the buffers given.
    pub fn from_request(
        key_id: u8,
        selector: &'a str,
        req: &HopRequest<'a>,
        rcpt_buf: &'a mut [u8],
        flags_buf: &'a mut [u8],
    ) -> Result<Dkim2Begin<'a>, Dkim2BeginError> {
        let destination = match req.destination {
            Destination::Envelope { mail_from, rcpt_to } => {
                if rcpt_to.len() > MAX_HOP_RECIPIENTS {
                    return Err(Dkim2BeginError::TooManyRecipients {
                        count: rcpt_to.len(),
                    });
                }
                check_path(mail_from)?;
                for r in rcpt_to {
                    check_path(r)?;
                }
                HopDestination::Envelope {
                    mail_from,
                    rcpt_to: Strings::encode_into(Width::Str16, rcpt_to, rcpt_buf)?,
                }
            }
            Destination::NextDomain(nd) => HopDestination::NextDomain(nd),
        };
        if req.flags.len() > MAX_HOP_FLAGS {
            return Err(Dkim2BeginError::TooManyFlags {
                count: req.flags.len(),
            });
        }
        if let Some(r) = req.recipe
            && r.len() > MAX_HOP_RECIPE_BYTES
        {
            return Err(Dkim2BeginError::RecipeTooLong { len: r.len() });
        }
        Ok(Dkim2Begin {
            key_id,
            timestamp: req.timestamp,
            domain: req.domain,
            selector,
            nonce: req.nonce,
            destination,
            flags: Strings::encode_into(Width::Str8, req.flags, flags_buf)?,
            recipe: req.recipe,
        })
    }

    /// The signer's request; the recipients and flags are collected into
    /// `rcpt_to` and `flags` (up to their capacities).
    pub fn to_request<'n, const R: usize, const F: usize>(
        &self,
        rcpt_to: &'n mut heapless::Vec<&'a str, R>,
        flags: &'n mut heapless::Vec<&'a str, F>,
    ) -> Result<HopRequest<'n>, DecodeError>
    where
        'a: 'n,
    {
        let destination = match self.destination {
            HopDestination::Envelope {
                mail_from,
                rcpt_to: r,
            } => Destination::Envelope {
                mail_from,
                rcpt_to: r.collect_into(rcpt_to)?,
            },
            HopDestination::NextDomain(nd) => Destination::NextDomain(nd),
        };
        Ok(HopRequest {
            domain: self.domain,
            destination,
            timestamp: self.timestamp,
            nonce: self.nonce,
            flags: self.flags.collect_into(flags)?,
            recipe: self.recipe,
        })
    }

    /// Decode `payload` and give the message and its request to `f`; the
    /// recipients and flags are collected on the stack (decoding bounds
    /// them to [`MAX_HOP_RECIPIENTS`] and [`MAX_HOP_FLAGS`]).
    pub fn decode_with<T>(
        payload: &[u8],
        f: impl FnOnce(&Dkim2Begin<'_>, &HopRequest<'_>) -> T,
    ) -> Result<T, DecodeError> {
        let begin = Dkim2Begin::decode(payload)?;
        let mut rcpt_to: heapless::Vec<&str, MAX_HOP_RECIPIENTS> = heapless::Vec::new();
        let mut flags: heapless::Vec<&str, MAX_HOP_FLAGS> = heapless::Vec::new();
        let request = begin.to_request(&mut rcpt_to, &mut flags)?;
        Ok(f(&begin, &request))
    }

    /// Encode as a payload.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        let mut bits = 0;
        if self.nonce.is_some() {
            bits |= HOP_NONCE;
        }
        if self.recipe.is_some() {
            bits |= HOP_RECIPE;
        }
        if matches!(self.destination, HopDestination::NextDomain(_)) {
            bits |= HOP_NEXT_DOMAIN;
        }
        w.u8(self.key_id)?;
        w.u8(bits)?;
        w.u64(self.timestamp)?;
        w.str8(self.domain)?;
        w.str8(self.selector)?;
        if let Some(n) = self.nonce {
            w.str8(n)?;
        }
        match self.destination {
            HopDestination::Envelope { mail_from, rcpt_to } => {
                w.str16(mail_from)?;
                rcpt_to.write(&mut w)?;
            }
            HopDestination::NextDomain(nd) => w.str8(nd)?,
        }
        self.flags.write(&mut w)?;
        if let Some(r) = self.recipe {
            w.bytes16(r)?;
        }
        Ok(w.len())
    }

    /// Decode a payload, within the bounds.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let key_id = r.u8()?;
        let bits = r.u8()?;
        if bits & !HOP_FLAGS_ALL != 0 {
            return Err(DecodeError::Invalid);
        }
        let timestamp = r.u64()?;
        let domain = r.str8()?;
        let selector = r.str8()?;
        let nonce = if bits & HOP_NONCE != 0 {
            Some(r.str8()?)
        } else {
            None
        };
        let destination = if bits & HOP_NEXT_DOMAIN != 0 {
            HopDestination::NextDomain(r.str8()?)
        } else {
            let mail_from = r.str16()?;
            let count = r.u8()?;
            if usize::from(count) > MAX_HOP_RECIPIENTS {
                return Err(DecodeError::TooMany);
            }
            let rcpt_to = Strings::read(&mut r, Width::Str16, count)?;
            if core::iter::once(mail_from)
                .chain(rcpt_to.iter())
                .any(|p| p.len() > MAX_PATH)
            {
                return Err(DecodeError::Invalid);
            }
            HopDestination::Envelope { mail_from, rcpt_to }
        };
        let count = r.u8()?;
        if usize::from(count) > MAX_HOP_FLAGS {
            return Err(DecodeError::TooMany);
        }
        let flags = Strings::read(&mut r, Width::Str8, count)?;
        let recipe = if bits & HOP_RECIPE != 0 {
            let json = r.bytes16()?;
            if json.len() > MAX_HOP_RECIPE_BYTES {
                return Err(DecodeError::TooMany);
            }
            Some(json)
        } else {
            None
        };
        r.end()?;
        Ok(Dkim2Begin {
            key_id,
            timestamp,
            domain,
            selector,
            nonce,
            destination,
            flags,
            recipe,
        })
    }
}

/// Lay out a DKIM2-HOP answer in place. `out` holds what
/// [`crate::dkim2::Dkim2Signer::finish`] wrote: the Message-Instance
/// (`instance_len` bytes, 0 when the hop adds none) and right after it the
/// DKIM2-Signature (`signature_len` bytes). They become the DKIM2-Signature,
/// then CRLF and the Message-Instance: the order in which a hop puts them
/// on top of the message. `out` needs 2 bytes of room past both fields.
/// Returns the answer's length.
pub fn hop_answer(
    out: &mut [u8],
    instance_len: usize,
    signature_len: usize,
) -> Result<usize, EncodeError> {
    let fields = instance_len.saturating_add(signature_len);
    if instance_len == 0 {
        return Ok(signature_len.min(out.len()));
    }
    let total = fields.saturating_add(2);
    let too_small = EncodeError { needed: total };
    if total > out.len() {
        return Err(too_small);
    }
    out.get_mut(..fields)
        .ok_or(too_small)?
        .rotate_left(instance_len);
    out.copy_within(signature_len..fields, signature_len.saturating_add(2));
    out.get_mut(signature_len..signature_len.saturating_add(2))
        .ok_or(too_small)?
        .copy_from_slice(b"\r\n");
    Ok(total)
}

/// The fields of a DKIM2-HOP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HopFields<'a> {
    /// `DKIM2-Signature: ...`, without a CRLF.
    pub signature: &'a [u8],
    /// `Message-Instance: ...`, when the hop added one.
    pub instance: Option<&'a [u8]>,
}

/// Split a DKIM2-HOP answer: a DKIM2-Signature and an optional
/// Message-Instance, joined by a CRLF that no whitespace follows.
pub fn split_hop_answer(payload: &[u8]) -> Result<HopFields<'_>, DecodeError> {
    let is = |field: &[u8], name: &str| field_name(field).eq_ignore_ascii_case(name.as_bytes());
    let end = payload
        .windows(3)
        .position(|w| matches!(w, [b'\r', b'\n', next] if *next != b' ' && *next != b'\t'));
    let (signature, instance) = match end {
        Some(at) => (
            payload.get(..at).unwrap_or_default(),
            Some(payload.get(at.saturating_add(2)..).unwrap_or_default()),
        ),
        None => (payload, None),
    };
    let single = |f: &[u8]| {
        !f.windows(3)
            .any(|w| matches!(w, [b'\r', b'\n', next] if *next != b' ' && *next != b'\t'))
    };
    if !is(signature, crate::dkim2::fields::SIGNATURE_FIELD)
        || instance.is_some_and(|i| !is(i, crate::dkim2::fields::INSTANCE_FIELD) || !single(i))
    {
        return Err(DecodeError::Invalid);
    }
    Ok(HopFields {
        signature,
        instance,
    })
}

/// The error a device answers when the DKIM2 signer refuses: an
/// [`ErrorCode::Dkim2`] error whose detail is 1 bad `d=` or `nd=`, 2 bad
/// envelope, 3 bad nonce, 4 bad flag, 5 bad selector, 6 bad keys, 7 the
/// message's DKIM2 fields are not a chain to add to, 8 a recipe but no
/// Message-Instance, 9 the hop would not fit a frame (nothing was signed),
/// 10 the key failed; [`DKIM2_REQUEST_TOO_LARGE`] (11) is the device's own.
/// A [`SignerError::Stream`] (intake, capacity) is an [`ErrorCode::Sign`]
/// error with [`signer_error_detail`].
pub fn dkim2_signer_error(e: &SignerError) -> DeviceError {
    let detail = match e {
        SignerError::Stream(e) => return DeviceError::from(*e),
        SignerError::BadDomain => 1,
        SignerError::BadEnvelope => 2,
        SignerError::BadNonce => 3,
        SignerError::BadFlag => 4,
        SignerError::BadSelector => 5,
        SignerError::BadKeys => 6,
        SignerError::BrokenChain => 7,
        SignerError::RecipeWithoutInstance => 8,
        SignerError::BufferTooSmall { .. } => 9,
        SignerError::Key => 10,
    };
    DeviceError {
        code: ErrorCode::Dkim2,
        detail,
    }
}

impl From<SignerError> for DeviceError {
    fn from(e: SignerError) -> Self {
        dkim2_signer_error(&e)
    }
}
