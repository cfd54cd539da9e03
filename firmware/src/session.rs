//! The signature in progress between SIGN-BEGIN and SIGN-END.
//!
//! STUB until mass-core's `MessageSigner` lands: it checks the request and
//! counts, hashes the body with SHA-256, and SIGN-END signs that hash.

use mass_core::link::{DeviceError, ErrorCode, KeyAlgorithm, SignBegin};
use sha2::{Digest, Sha256};

use crate::keys::KeySlot;

/// Signed header bytes the signer can hold.
pub const HEADER_BYTES: usize = 8 * 1024;
/// Signed header fields the signer can hold.
pub const HEADER_FIELDS: usize = 64;

/// One signature in progress.
pub struct Session {
    key_id: u8,
    header_bytes: usize,
    body: Sha256,
}

impl Session {
    /// Start from a SIGN-BEGIN.
    pub fn begin(req: &SignBegin<'_>, _algorithm: KeyAlgorithm) -> Result<Session, DeviceError> {
        Ok(Session {
            key_id: req.key_id,
            header_bytes: 0,
            body: Sha256::new(),
        })
    }

    /// The key slot this signature uses.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// One raw header field.
    pub fn header(&mut self, field: &[u8]) -> Result<(), DeviceError> {
        self.header_bytes += field.len();
        if self.header_bytes > HEADER_BYTES {
            return Err(DeviceError {
                code: ErrorCode::Sign,
                detail: 1,
            });
        }
        Ok(())
    }

    /// A body chunk.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), DeviceError> {
        self.body.update(chunk);
        Ok(())
    }

    /// Sign; writes the signature field into `out`.
    pub fn finish(self, slot: &mut KeySlot, out: &mut [u8]) -> Result<usize, DeviceError> {
        let digest: [u8; 32] = self.body.finalize().into();
        let mut sig = [0u8; 512];
        let n = slot.sign_digest(&digest, &mut sig)?;
        let prefix = b"X-Stub-Signature: ";
        let total = prefix.len() + 2 * n;
        let dst = out
            .get_mut(..total)
            .ok_or(DeviceError::new(ErrorCode::Sign))?;
        dst[..prefix.len()].copy_from_slice(prefix);
        for (i, b) in sig[..n].iter().enumerate() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            dst[prefix.len() + 2 * i] = HEX[usize::from(b >> 4)];
            dst[prefix.len() + 2 * i + 1] = HEX[usize::from(b & 15)];
        }
        Ok(total)
    }
}
