//! The messages carried in frames: PROVISION, SIGN-BEGIN, INFO and statistics.

use super::*;

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

pub(super) const FLAG_TIMESTAMP: u8 = 1;
const FLAG_EXPIRATION: u8 = 2;
const FLAG_IDENTITY: u8 = 4;
pub(super) const FLAG_OVERSIGN: u8 = 8;
const FLAG_COPIED_HEADERS: u8 = 16;
const FLAG_LENGTH_WHOLE: u8 = 32;
const FLAG_LENGTH_LIMIT: u8 = 64;
const FLAGS_ALL: u8 = 127;
pub(super) const CANON_HEADER_RELAXED: u8 = 1;
pub(super) const CANON_BODY_RELAXED: u8 = 2;

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

/// The header names of a [`SignBegin`] or [`super::SealBegin`], as they
/// travel: a count, then each name a str8.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderNames<'a>(Strings<'a>);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'a> HeaderNames<'a> {
    /// The names, collected into `names` (up to its capacity), as an `h=`
    /// selection: oversigned or exact.
    pub fn selection<'n, const N: usize>(
        &self,
        oversign: bool,
        names: &'n mut heapless::Vec<&'a str, N>,
    ) -> Result<HeaderSelection<'n>, DecodeError>
    where
        'a: 'n,
    {
        let names: &'n [&'n str] = self.0.collect_into(names)?;
        Ok(if oversign {
            HeaderSelection::Oversign(names)
        } else {
            HeaderSelection::Exact(names)
        })
    }

    /// Encode `names` into `out` and view them; at most 255 names of at most 255 bytes.
    pub fn encode_into(names: &[&str], out: &'a mut [u8]) -> Result<HeaderNames<'a>, EncodeError> {
        Strings::encode_into(Width::Str8, names, out).map(HeaderNames)
    }

    /// View `count` names encoded in `encoded` (each a str8), checking
    /// that exactly `count` names are there and nothing after them.
    pub fn from_encoded(count: u8, encoded: &'a [u8]) -> Result<HeaderNames<'a>, DecodeError> {
        Strings::from_encoded(Width::Str8, count, encoded).map(HeaderNames)
    }

    /// The names as they travel.
    pub(super) fn strings(&self) -> &Strings<'a> {
        &self.0
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter()
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
        Ok(SignRequest {
            domain: self.domain,
            selector: self.selector,
            algorithm,
            canonicalization: self.canonicalization,
            headers: self.headers.selection(self.oversign, names)?,
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
        self.headers.strings().write(&mut w)?;
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
        // Exactly `count` names, nothing after them.
        let headers = HeaderNames::from_encoded(count, r.rest())?;
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
            headers,
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
pub struct SlotInfo<'a> {
    /// The key id SIGN-BEGIN names.
    pub key_id: u8,
    /// The key's algorithm, or `None` while the slot is empty.
    pub algorithm: Option<SigningAlgorithm>,
    /// Key size in bits (RSA modulus; 256 for Ed25519; 0 when empty).
    pub bits: u16,
    /// The public key as a key record's `p=` carries it (RFC 6376 §3.6.1):
    /// SubjectPublicKeyInfo DER for RSA, the 32 key bytes for Ed25519
    /// (RFC 8463 §4); empty when the slot is. The host checks every
    /// signature the device returns against it before the signature goes
    /// into a message.
    pub public_key: &'a [u8],
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
    pub slots: heapless::Vec<SlotInfo<'a>, MAX_SLOTS>,
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
            w.bytes16(s.public_key)?;
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
            let public_key = r.bytes16()?;
            slots
                .push(SlotInfo {
                    key_id,
                    algorithm,
                    bits,
                    public_key,
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
