//! The work in progress between SIGN-BEGIN (SEAL-BEGIN, DKIM2-BEGIN) and
//! SIGN-END: the core `MessageSigner` for a DKIM signature, the core
//! `ArcSealer` for the next ARC set (RFC 8617 §5.1), or the core
//! `Dkim2Signer` for the next DKIM2 hop, fed field by field and chunk by
//! chunk, so the device's output is byte for byte the host's.

use mass_core::arc::{ArcSealer, ChainStatus};
use mass_core::dkim2::Dkim2Signer;
use mass_core::dkim2::sign::SignerError;
use mass_core::link::{
    AAR_RESULTS_ENCODED_CAP, AarResults, DKIM2_REQUEST_TOO_LARGE, DeviceError, Dkim2Begin,
    ErrorCode, HOP_STAND_IN, Kind, MAX_AAR_RESULTS, SealBegin, SignBegin, hop_answer,
};
use mass_core::{BodyInterest, MessageSigner};

use crate::keys::KeySlot;

/// Header bytes the signer or sealer can hold (the board sets it): the
/// signed fields, and for a seal every ARC field of the earlier sets too.
pub const HEADER_BYTES: usize = crate::board::HEADER_BYTES;
/// Header fields the signer or sealer can hold.
pub const HEADER_FIELDS: usize = crate::board::HEADER_FIELDS;
/// Most header names a SIGN-BEGIN or SEAL-BEGIN may list.
const MAX_NAMES: usize = 64;
/// The most bytes of DKIM2-BEGIN the session keeps until SIGN-END (the
/// board sets it).
pub const HOP_REQUEST_BYTES: usize = crate::board::HOP_REQUEST_BYTES;

/// What the session makes.
// One of the two lives in a static; the larger sizes it either way.
#[allow(clippy::large_enum_variant)]
enum Work {
    /// A DKIM-Signature.
    Dkim(MessageSigner<HEADER_BYTES, HEADER_FIELDS>),
    /// An ARC set, with what SEAL-BEGIN gave for the AAR and the AS.
    Arc {
        sealer: ArcSealer<HEADER_BYTES, HEADER_FIELDS>,
        chain: ChainStatus,
        results_count: u8,
        results: heapless::Vec<u8, AAR_RESULTS_ENCODED_CAP>,
    },
    /// A DKIM2 hop, with the DKIM2-BEGIN payload that asked for it.
    Dkim2 {
        signer: Dkim2Signer<'static, HEADER_BYTES, HEADER_FIELDS>,
        begin: heapless::Vec<u8, HOP_REQUEST_BYTES>,
    },
}

/// One signature or seal in progress.
pub struct Session {
    key_id: u8,
    work: Work,
    in_body: bool,
}

impl Session {
    /// Start from a SIGN-BEGIN, for the key in `slot`, straight into
    /// `place` (the signer is large: it is not passed around by value).
    #[inline(never)]
    pub fn start(
        place: &mut Option<Session>,
        req: &SignBegin<'_>,
        slot: &KeySlot,
    ) -> Result<(), DeviceError> {
        *place = None;
        let algorithm = slot
            .algorithm()
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        let mut names: heapless::Vec<&str, MAX_NAMES> = heapless::Vec::new();
        let request = req
            .to_request(algorithm, &mut names)
            .map_err(|_| DeviceError::new(ErrorCode::Malformed))?;
        *place = Some(Session {
            key_id: req.key_id,
            work: Work::Dkim(MessageSigner::new(&request)?),
            in_body: false,
        });
        Ok(())
    }

    /// Start from a SEAL-BEGIN, for the key in `slot`, into `place`. The
    /// AAR results are copied: the frame that carried them is gone by
    /// SIGN-END.
    #[inline(never)]
    pub fn start_seal(
        place: &mut Option<Session>,
        req: &SealBegin<'_>,
        slot: &KeySlot,
    ) -> Result<(), DeviceError> {
        *place = None;
        let algorithm = slot
            .algorithm()
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        let mut names: heapless::Vec<&str, MAX_NAMES> = heapless::Vec::new();
        let request = req
            .to_request(algorithm, &mut names)
            .map_err(|_| DeviceError::new(ErrorCode::Malformed))?;
        // Bounded by SealBegin::decode to the capacity.
        let results = heapless::Vec::from_slice(req.results.encoded())
            .map_err(|_| DeviceError::new(ErrorCode::Malformed))?;
        *place = Some(Session {
            key_id: req.key_id,
            work: Work::Arc {
                sealer: ArcSealer::new(&request)?,
                chain: req.chain,
                results_count: req.results.len() as u8,
                results,
            },
            in_body: false,
        });
        Ok(())
    }

    /// Start from a DKIM2-BEGIN payload, for the key in `slot`, into
    /// `place`. The payload is checked and kept: the signer reads its
    /// request again at SIGN-END.
    #[inline(never)]
    pub fn start_dkim2(
        place: &mut Option<Session>,
        payload: &[u8],
        slot: &KeySlot,
    ) -> Result<(), DeviceError> {
        *place = None;
        let key_id = Dkim2Begin::decode_with(payload, |begin, request| {
            slot.algorithm()
                .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
            request.check()?;
            Ok::<_, DeviceError>(begin.key_id)
        })
        .map_err(|_| DeviceError::new(ErrorCode::Malformed))??;
        let begin = heapless::Vec::from_slice(payload).map_err(|_| DeviceError {
            code: ErrorCode::Dkim2,
            detail: DKIM2_REQUEST_TOO_LARGE,
        })?;
        *place = Some(Session {
            key_id,
            work: Work::Dkim2 {
                signer: Dkim2Signer::new(&HOP_STAND_IN)?,
                begin,
            },
            in_body: false,
        });
        Ok(())
    }

    /// The key slot this session uses.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// The kind SIGN-END answers with.
    pub fn answer_kind(&self) -> Kind {
        match self.work {
            Work::Dkim(_) => Kind::Signature,
            Work::Arc { .. } => Kind::ArcSet,
            Work::Dkim2 { .. } => Kind::Dkim2Hop,
        }
    }

    /// One raw header field.
    pub fn header(&mut self, field: &[u8]) -> Result<(), DeviceError> {
        if self.in_body {
            return Err(mass_core::Error::OutOfOrder.into());
        }
        Ok(match &mut self.work {
            Work::Dkim(s) => s.header_field(field),
            Work::Arc { sealer, .. } => sealer.header_field(field),
            Work::Dkim2 { signer, .. } => signer.header_field(field),
        }?)
    }

    fn end_of_headers(&mut self) -> Result<(), DeviceError> {
        if !self.in_body {
            self.in_body = true;
            match &mut self.work {
                Work::Dkim(s) => s.end_of_headers(),
                Work::Arc { sealer, .. } => sealer.end_of_headers(),
                Work::Dkim2 { signer, .. } => signer.end_of_headers(),
            }?;
        }
        Ok(())
    }

    /// A body chunk. The first one ends the header.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), DeviceError> {
        self.end_of_headers()?;
        let _: BodyInterest = match &mut self.work {
            Work::Dkim(s) => s.body(chunk),
            Work::Arc { sealer, .. } => sealer.body(chunk),
            Work::Dkim2 { signer, .. } => signer.body(chunk),
        }?;
        Ok(())
    }

    /// Sign with the slot's key; writes the whole DKIM-Signature field, the
    /// ARC set's three fields joined by CRLF, or the DKIM2 hop's
    /// DKIM2-Signature and Message-Instance joined by CRLF, into `out`. A
    /// set or hop longer than `out` is refused before anything is signed.
    /// The session is finished in place (it is large; the caller drops
    /// it after).
    pub fn finish(&mut self, slot: &mut KeySlot, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.end_of_headers()?;
        let key = slot
            .signer()
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        match &mut self.work {
            Work::Dkim(s) => Ok(s.finish(key, out)?),
            Work::Arc {
                sealer,
                chain,
                results_count,
                results,
            } => {
                let texts = AarResults::from_encoded(*results_count, results)
                    .and_then(|r| r.collect::<MAX_AAR_RESULTS>())
                    .map_err(|_| DeviceError::new(ErrorCode::Malformed))?;
                Ok(sealer.finish(&texts, *chain, key, out)?.len)
            }
            Work::Dkim2 { signer, begin } => Dkim2Begin::decode_with(begin, |begin, request| {
                // The CRLF between the two fields needs 2 bytes more.
                let room = out.len().saturating_sub(2);
                let fields = out
                    .get_mut(..room)
                    .ok_or(DeviceError::new(ErrorCode::Malformed))?;
                let hop = signer.finish_for(request, &mut [(begin.selector, key)], fields)?;
                let instance = hop.instance.map_or(0, |s| s.len());
                hop_answer(out, instance, hop.signature.len())
                    .map_err(|_| DeviceError::from(SignerError::BufferTooSmall { required: 0 }))
            })
            .map_err(|_| DeviceError::new(ErrorCode::Malformed))?,
        }
    }
}
