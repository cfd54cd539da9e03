//! SEAL-BEGIN (protocol 3): what the device needs to seal the next ARC set
//! of a message (RFC 8617 §5.1) with a provisioned key, so the host never
//! holds the sealing key. The HEADER, BODY and SIGN-END frames that follow
//! are DKIM's; SIGN-END answers with [`Kind::ArcSet`].

use super::messages::{CANON_BODY_RELAXED, CANON_HEADER_RELAXED, FLAG_OVERSIGN, FLAG_TIMESTAMP};
use super::*;
use crate::arc::{ChainStatus, SealRequest, SealerError};

/// Most bytes of AAR results text a SEAL-BEGIN carries, all texts together.
pub const MAX_AAR_RESULTS_BYTES: usize = 1024;
/// Most AAR results texts (resinfo entries) a SEAL-BEGIN carries.
pub const MAX_AAR_RESULTS: usize = 16;
/// The room the encoded results take at most (each text has a u16 length).
pub const AAR_RESULTS_ENCODED_CAP: usize = MAX_AAR_RESULTS_BYTES + 2 * MAX_AAR_RESULTS;

const SEAL_FLAGS_ALL: u8 = FLAG_TIMESTAMP | FLAG_OVERSIGN;

/// Why a SEAL-BEGIN cannot be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SealBeginError {
    /// The AAR results texts are longer than [`MAX_AAR_RESULTS_BYTES`] in all.
    ResultsTooLong {
        /// Their length.
        len: usize,
    },
    /// More than [`MAX_AAR_RESULTS`] texts.
    TooManyResults {
        /// How many.
        count: usize,
    },
    /// A name, a string or the whole payload does not fit.
    Encode(EncodeError),
}

impl fmt::Display for SealBeginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealBeginError::ResultsTooLong { len } => write!(
                f,
                "AAR results of {len} bytes (a device seal takes at most {MAX_AAR_RESULTS_BYTES})"
            ),
            SealBeginError::TooManyResults { count } => write!(
                f,
                "{count} AAR results (a device seal takes at most {MAX_AAR_RESULTS})"
            ),
            SealBeginError::Encode(e) => write!(f, "SEAL-BEGIN: {e}"),
        }
    }
}

impl core::error::Error for SealBeginError {}

impl From<EncodeError> for SealBeginError {
    fn from(e: EncodeError) -> Self {
        SealBeginError::Encode(e)
    }
}

/// The AAR results texts of a [`SealBegin`] as they travel: each a u16
/// length and its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AarResults<'a> {
    count: u8,
    encoded: &'a [u8],
}

impl fmt::Debug for AarResults<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|t| core::str::from_utf8(t).unwrap_or("<8-bit>")),
            )
            .finish()
    }
}

impl<'a> AarResults<'a> {
    /// Encode `texts` into `out` and view them, within the bounds.
    pub fn encode_into(
        texts: &[&[u8]],
        out: &'a mut [u8],
    ) -> Result<AarResults<'a>, SealBeginError> {
        if texts.len() > MAX_AAR_RESULTS {
            return Err(SealBeginError::TooManyResults { count: texts.len() });
        }
        let len = texts
            .iter()
            .map(|t| t.len())
            .fold(0usize, usize::saturating_add);
        if len > MAX_AAR_RESULTS_BYTES {
            return Err(SealBeginError::ResultsTooLong { len });
        }
        let mut w = Writer::new(out);
        for t in texts {
            w.bytes16(t)?;
        }
        let n = w.len();
        Ok(AarResults {
            // At most MAX_AAR_RESULTS, checked above.
            count: texts.len() as u8,
            encoded: out.get(..n).unwrap_or(&[]),
        })
    }

    /// View `count` texts encoded in `encoded`, checking the bounds and
    /// that nothing follows them.
    pub fn from_encoded(count: u8, encoded: &'a [u8]) -> Result<AarResults<'a>, DecodeError> {
        if usize::from(count) > MAX_AAR_RESULTS {
            return Err(DecodeError::TooMany);
        }
        let mut r = Reader::new(encoded);
        let mut len = 0usize;
        for _ in 0..count {
            len = len.saturating_add(r.bytes16()?.len());
        }
        r.end()?;
        if len > MAX_AAR_RESULTS_BYTES {
            return Err(DecodeError::TooMany);
        }
        Ok(AarResults { count, encoded })
    }

    /// How many texts.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True when there are none (the AAR then says `none`).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded form ([`from_encoded`](Self::from_encoded) takes it back).
    pub fn encoded(&self) -> &'a [u8] {
        self.encoded
    }

    /// The texts in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut r = Reader::new(self.encoded);
        (0..self.count).map_while(move |_| r.bytes16().ok())
    }

    /// The texts as [`crate::arc::ArcSealer::finish`] takes them.
    pub fn collect<const N: usize>(&self) -> Result<heapless::Vec<&'a [u8], N>, DecodeError> {
        let mut out = heapless::Vec::new();
        for t in self.iter() {
            out.push(t).map_err(|_| DecodeError::TooMany)?;
        }
        Ok(out)
    }
}

/// The byte that carries a chain status: 0 none, 1 pass, 2 fail.
pub const fn chain_to_u8(c: ChainStatus) -> u8 {
    match c {
        ChainStatus::None => 0,
        ChainStatus::Pass => 1,
        ChainStatus::Fail => 2,
    }
}

/// The chain status a byte names.
pub const fn chain_from_u8(b: u8) -> Option<ChainStatus> {
    match b {
        0 => Some(ChainStatus::None),
        1 => Some(ChainStatus::Pass),
        2 => Some(ChainStatus::Fail),
        _ => None,
    }
}

/// SEAL-BEGIN: a [`SealRequest`], the chain's status and the AAR results,
/// for the key in slot `key_id` (its algorithm gives `a=` of the AMS and AS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealBegin<'a> {
    /// The key slot.
    pub key_id: u8,
    /// `d=` of the AMS and AS.
    pub domain: &'a str,
    /// `s=` of both.
    pub selector: &'a str,
    /// The AMS `c=` (the AS is always relaxed, RFC 8617 §5.1.1).
    pub canonicalization: Canonicalization,
    /// The AMS `h=` names.
    pub headers: HeaderNames<'a>,
    /// Oversign the names (else exact).
    pub oversign: bool,
    /// `t=` of both.
    pub timestamp: Option<u64>,
    /// The authserv-id the AAR records (RFC 8601 §2.5).
    pub authserv_id: &'a str,
    /// The AS `cv=` (RFC 8617 §4.1.3): the chain's validation.
    pub chain: ChainStatus,
    /// The AAR results (resinfo texts, joined by `;` in the AAR).
    pub results: AarResults<'a>,
}

impl<'a> SealBegin<'a> {
    /// The link form of `req` for slot `key_id`; names and results are
    /// encoded into the buffers given.
    pub fn from_request(
        key_id: u8,
        req: &SealRequest<'a>,
        chain: ChainStatus,
        results: &[&[u8]],
        names_buf: &'a mut [u8],
        results_buf: &'a mut [u8],
    ) -> Result<SealBegin<'a>, SealBeginError> {
        let (names, oversign) = match req.headers {
            HeaderSelection::Oversign(n) => (n, true),
            HeaderSelection::Exact(n) => (n, false),
        };
        Ok(SealBegin {
            key_id,
            domain: req.domain,
            selector: req.selector,
            canonicalization: req.canonicalization,
            headers: HeaderNames::encode_into(names, names_buf)?,
            oversign,
            timestamp: req.timestamp,
            authserv_id: req.authserv_id,
            chain,
            results: AarResults::encode_into(results, results_buf)?,
        })
    }

    /// The sealer's request, for a key of `algorithm`; the header names are
    /// collected into `names` (up to its capacity).
    pub fn to_request<'n, const N: usize>(
        &self,
        algorithm: SigningAlgorithm,
        names: &'n mut heapless::Vec<&'a str, N>,
    ) -> Result<SealRequest<'n>, DecodeError>
    where
        'a: 'n,
    {
        Ok(SealRequest {
            domain: self.domain,
            selector: self.selector,
            algorithm,
            canonicalization: self.canonicalization,
            headers: self.headers.selection(self.oversign, names)?,
            timestamp: self.timestamp,
            authserv_id: self.authserv_id,
        })
    }

    /// Encode as a payload.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        let mut flags = 0;
        if self.timestamp.is_some() {
            flags |= FLAG_TIMESTAMP;
        }
        if self.oversign {
            flags |= FLAG_OVERSIGN;
        }
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
        w.u8(chain_to_u8(self.chain))?;
        if let Some(t) = self.timestamp {
            w.u64(t)?;
        }
        w.str8(self.domain)?;
        w.str8(self.selector)?;
        w.str8(self.authserv_id)?;
        w.u8(self.results.count)?;
        w.bytes16(self.results.encoded)?;
        self.headers.strings().write(&mut w)?;
        Ok(w.len())
    }

    /// Decode a payload.
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let key_id = r.u8()?;
        let canon = r.u8()?;
        let flags = r.u8()?;
        let chain = chain_from_u8(r.u8()?).ok_or(DecodeError::Invalid)?;
        if canon & !(CANON_HEADER_RELAXED | CANON_BODY_RELAXED) != 0 || flags & !SEAL_FLAGS_ALL != 0
        {
            return Err(DecodeError::Invalid);
        }
        let timestamp = if flags & FLAG_TIMESTAMP != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let domain = r.str8()?;
        let selector = r.str8()?;
        let authserv_id = r.str8()?;
        let count = r.u8()?;
        let results = AarResults::from_encoded(count, r.bytes16()?)?;
        let count = r.u8()?;
        let headers = HeaderNames::from_encoded(count, r.rest())?;
        let canon_of = |bit: u8| {
            if canon & bit != 0 {
                Canon::Relaxed
            } else {
                Canon::Simple
            }
        };
        Ok(SealBegin {
            key_id,
            domain,
            selector,
            canonicalization: Canonicalization {
                header: canon_of(CANON_HEADER_RELAXED),
                body: canon_of(CANON_BODY_RELAXED),
            },
            headers,
            oversign: flags & FLAG_OVERSIGN != 0,
            timestamp,
            authserv_id,
            chain,
            results,
        })
    }
}

/// The detail byte of an [`ErrorCode::Seal`] error: 1 the chain already
/// failed (RFC 8617 §5.1 step 1), 2 the chain has 50 sets, 3 the chain
/// status does not fit the message, 4 bad authserv-id, 5 `h=` names an
/// ARC field. A [`SealerError::Stream`] is an [`ErrorCode::Sign`] error
/// with [`signer_error_detail`].
pub fn sealer_error(e: &SealerError) -> DeviceError {
    let detail = match e {
        SealerError::Stream(e) => return DeviceError::from(*e),
        SealerError::ChainFailed => 1,
        SealerError::ChainFull => 2,
        SealerError::ChainMismatch => 3,
        SealerError::BadAuthservId => 4,
        SealerError::ArcFieldInHeaderList => 5,
    };
    DeviceError {
        code: ErrorCode::Seal,
        detail,
    }
}

impl From<SealerError> for DeviceError {
    fn from(e: SealerError) -> Self {
        sealer_error(&e)
    }
}
