//! Little-endian field writer and reader for message payloads.

use super::*;

/// Appends little-endian values to a caller's buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// Write from the start of `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.out.get(..self.len).unwrap_or(&[])
    }

    /// Append raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        match crate::bytes::copy_at(self.out, self.len, b) {
            Some(end) => {
                self.len = end;
                Ok(())
            }
            None => Err(EncodeError {
                needed: self.len.saturating_add(b.len()),
            }),
        }
    }

    /// Append a byte.
    pub fn u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.bytes(&[v])
    }

    /// Append a u16, little-endian.
    pub fn u16(&mut self, v: u16) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Append a u32, little-endian.
    pub fn u32(&mut self, v: u32) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Append a u64, little-endian.
    pub fn u64(&mut self, v: u64) -> Result<(), EncodeError> {
        self.bytes(&v.to_le_bytes())
    }

    /// Append a string of at most 255 bytes, length first.
    pub fn str8(&mut self, s: &str) -> Result<(), EncodeError> {
        let n = u8::try_from(s.len()).map_err(|_| EncodeError {
            needed: self.len.saturating_add(s.len()).saturating_add(1),
        })?;
        self.u8(n)?;
        self.bytes(s.as_bytes())
    }

    /// Append bytes after their length as a u16.
    pub fn bytes16(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        let n = u16::try_from(b.len()).map_err(|_| EncodeError {
            needed: self.len.saturating_add(b.len()).saturating_add(2),
        })?;
        self.u16(n)?;
        self.bytes(b)
    }
}

/// Reads little-endian values from a payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Read from the start of `payload`.
    pub fn new(payload: &'a [u8]) -> Self {
        Reader { rest: payload }
    }

    /// Take `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(DecodeError::Truncated)?;
        self.rest = tail;
        Ok(head)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    /// Read a byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.take(1)? {
            [b] => Ok(*b),
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Read a u16, little-endian.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    /// Read a u32, little-endian.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    /// Read a u64, little-endian.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(
            b.try_into().map_err(|_| DecodeError::Truncated)?,
        ))
    }

    /// Read a length-prefixed UTF-8 string.
    pub fn str8(&mut self) -> Result<&'a str, DecodeError> {
        let n = usize::from(self.u8()?);
        core::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::Invalid)
    }

    /// Read bytes after their length as a u16.
    pub fn bytes16(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }

    /// Fail if bytes are left.
    pub fn end(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing)
        }
    }
}

/// The byte that names a key algorithm on the wire: 1 rsa-sha256 (the key
/// is PKCS#8 or PKCS#1 DER), 2 ed25519-sha256 (the key is the 32-byte seed).
pub const fn algorithm_to_u8(a: SigningAlgorithm) -> u8 {
    match a {
        SigningAlgorithm::RsaSha256 => 1,
        SigningAlgorithm::Ed25519Sha256 => 2,
    }
}

/// The algorithm a wire byte names.
pub const fn algorithm_from_u8(b: u8) -> Option<SigningAlgorithm> {
    match b {
        1 => Some(SigningAlgorithm::RsaSha256),
        2 => Some(SigningAlgorithm::Ed25519Sha256),
        _ => None,
    }
}
