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

    /// Append a string of at most 65,535 bytes, its length first as a u16.
    pub fn str16(&mut self, s: &str) -> Result<(), EncodeError> {
        self.bytes16(s.as_bytes())
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

    /// Read a UTF-8 string after its length as a u16.
    pub fn str16(&mut self) -> Result<&'a str, DecodeError> {
        core::str::from_utf8(self.bytes16()?).map_err(|_| DecodeError::Invalid)
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

/// How the strings of a [`Strings`] list travel: each after its length
/// as one byte (`str8`) or two (`str16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// A length byte: at most 255 bytes a string.
    Str8,
    /// A u16 length: at most 65,535 bytes a string.
    Str16,
}

/// A list of at most 255 strings as it travels in a payload: the count
/// goes before it (where the message puts it), then each string with its
/// length. A view: the strings stay in the payload or in the buffer they
/// were encoded into.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Strings<'a> {
    width: Width,
    count: u8,
    encoded: &'a [u8],
}

impl fmt::Debug for Strings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> Strings<'a> {
    /// No strings.
    pub const fn empty(width: Width) -> Strings<'a> {
        Strings {
            width,
            count: 0,
            encoded: &[],
        }
    }

    /// Encode `items` into `out` and view them; at most 255 items, each
    /// within the width.
    pub fn encode_into(
        width: Width,
        items: &[&str],
        out: &'a mut [u8],
    ) -> Result<Strings<'a>, EncodeError> {
        let count = u8::try_from(items.len()).map_err(|_| EncodeError { needed: usize::MAX })?;
        let mut w = Writer::new(out);
        for s in items {
            match width {
                Width::Str8 => w.str8(s)?,
                Width::Str16 => w.str16(s)?,
            }
        }
        let len = w.len();
        Ok(Strings {
            width,
            count,
            encoded: out.get(..len).unwrap_or(&[]),
        })
    }

    /// View `count` strings encoded in `encoded`, checking that exactly
    /// `count` are there, each UTF-8, and nothing after them.
    pub fn from_encoded(
        width: Width,
        count: u8,
        encoded: &'a [u8],
    ) -> Result<Strings<'a>, DecodeError> {
        let mut check = Reader::new(encoded);
        for _ in 0..count {
            read_one(&mut check, width)?;
        }
        check.end()?;
        Ok(Strings {
            width,
            count,
            encoded,
        })
    }

    /// Read `count` strings from `r`; the rest of the payload may follow.
    pub fn read(r: &mut Reader<'a>, width: Width, count: u8) -> Result<Strings<'a>, DecodeError> {
        let before: &'a [u8] = r.rest;
        for _ in 0..count {
            read_one(r, width)?;
        }
        let used = before.len().saturating_sub(r.rest.len());
        Ok(Strings {
            width,
            count,
            encoded: before.get(..used).unwrap_or(&[]),
        })
    }

    /// Write the count and then the strings.
    pub fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.count)?;
        w.bytes(self.encoded)
    }

    /// The count as it travels.
    pub fn count(&self) -> u8 {
        self.count
    }

    /// The encoded strings, without the count.
    pub fn encoded(&self) -> &'a [u8] {
        self.encoded
    }

    /// How many strings.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The strings in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut r = Reader::new(self.encoded);
        let width = self.width;
        (0..self.count).map_while(move |_| read_one(&mut r, width).ok())
    }

    /// The strings, collected into `into` (cleared first), as a slice.
    pub fn collect_into<'n, const N: usize>(
        &self,
        into: &'n mut heapless::Vec<&'a str, N>,
    ) -> Result<&'n [&'a str], DecodeError> {
        into.clear();
        for s in self.iter() {
            into.push(s).map_err(|_| DecodeError::TooMany)?;
        }
        Ok(into.as_slice())
    }
}

fn read_one<'a>(r: &mut Reader<'a>, width: Width) -> Result<&'a str, DecodeError> {
    match width {
        Width::Str8 => r.str8(),
        Width::Str16 => r.str16(),
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
