//! The signature in progress between SIGN-BEGIN and SIGN-END: the core
//! `MessageSigner`, fed field by field and chunk by chunk, so the device's
//! signature is byte for byte the host's.

use mass_core::MessageSigner;
use mass_core::link::{DeviceError, ErrorCode, SignBegin};

use crate::keys::KeySlot;

/// Signed header bytes the signer can hold (the board sets it).
pub const HEADER_BYTES: usize = crate::board::HEADER_BYTES;
/// Signed header fields the signer can hold.
pub const HEADER_FIELDS: usize = crate::board::HEADER_FIELDS;
/// Most header names a SIGN-BEGIN may list.
const MAX_NAMES: usize = 64;

/// One signature in progress.
pub struct Session {
    key_id: u8,
    signer: MessageSigner<HEADER_BYTES, HEADER_FIELDS>,
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
            signer: MessageSigner::new(&request)?,
            in_body: false,
        });
        Ok(())
    }

    /// The key slot this signature uses.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// One raw header field.
    pub fn header(&mut self, field: &[u8]) -> Result<(), DeviceError> {
        if self.in_body {
            return Err(mass_core::Error::OutOfOrder.into());
        }
        Ok(self.signer.header_field(field)?)
    }

    fn end_of_headers(&mut self) -> Result<(), DeviceError> {
        if !self.in_body {
            self.in_body = true;
            self.signer.end_of_headers()?;
        }
        Ok(())
    }

    /// A body chunk. The first one ends the header.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), DeviceError> {
        self.end_of_headers()?;
        self.signer.body(chunk)?;
        Ok(())
    }

    /// Sign with the slot's key; writes the whole DKIM-Signature field into `out`.
    pub fn finish(mut self, slot: &mut KeySlot, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.end_of_headers()?;
        let key = slot
            .signer()
            .ok_or(DeviceError::new(ErrorCode::NoSuchKey))?;
        Ok(self.signer.finish(key, out)?)
    }
}
