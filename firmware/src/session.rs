//! The work in progress between SIGN-BEGIN (or SEAL-BEGIN) and SIGN-END:
//! the core `MessageSigner` for a DKIM signature, or the core `ArcSealer`
//! for the next ARC set (RFC 8617 §5.1), fed field by field and chunk by
//! chunk, so the device's output is byte for byte the host's.

use mass_core::arc::{ArcSealer, ChainStatus};
use mass_core::link::{
    AAR_RESULTS_ENCODED_CAP, AarResults, DeviceError, ErrorCode, MAX_AAR_RESULTS, SealBegin,
    SignBegin,
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

    /// The key slot this session uses.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// True for a seal (SIGN-END answers ARC-SET).
    pub fn is_seal(&self) -> bool {
        matches!(self.work, Work::Arc { .. })
    }

    /// One raw header field.
    pub fn header(&mut self, field: &[u8]) -> Result<(), DeviceError> {
        if self.in_body {
            return Err(mass_core::Error::OutOfOrder.into());
        }
        Ok(match &mut self.work {
            Work::Dkim(s) => s.header_field(field),
            Work::Arc { sealer, .. } => sealer.header_field(field),
        }?)
    }

    fn end_of_headers(&mut self) -> Result<(), DeviceError> {
        if !self.in_body {
            self.in_body = true;
            match &mut self.work {
                Work::Dkim(s) => s.end_of_headers(),
                Work::Arc { sealer, .. } => sealer.end_of_headers(),
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
        }?;
        Ok(())
    }

    /// Sign with the slot's key; writes the whole DKIM-Signature field, or
    /// the ARC set's three fields joined by CRLF, into `out`. A set longer
    /// than `out` is refused before anything is signed.
    pub fn finish(mut self, slot: &mut KeySlot, out: &mut [u8]) -> Result<usize, DeviceError> {
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
        }
    }
}
