//! Public keys from a key record's `p=` bytes.
//!
//! - RSA (RFC 6376 §3.6.1): SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7),
//!   which is what `p=` holds, or a bare PKCS#1 `RSAPublicKey` (RFC 8017
//!   §A.1.1), which some publishers put there instead. The DER is read here,
//!   and the modulus size (at most [`MAX_RSA_MODULUS_BITS`]) and public
//!   exponent (at most [`MAX_RSA_EXPONENT`]) are checked on the raw bytes
//!   *before* any big-number arithmetic, so a 16384-bit modulus or a huge
//!   exponent costs nothing (RFC 8301 §3.2; security case 16). Keys under
//!   [`WEAK_RSA_MODULUS_BITS`] load but are flagged: RFC 8301 §3.2 says they
//!   must not pass.
//! - Ed25519 (RFC 8463 §4): 32 raw bytes.

use core::fmt;

use rsa::{BoxedUint, PublicKey as RsaPublicKey};

use crate::dkim::signature_field::KeyType;

/// Largest RSA modulus accepted (RFC 8301 §3.2: verifiers need not go past
/// 4096; the rsa crate's own ceiling is 8192).
pub const MAX_RSA_MODULUS_BITS: u32 = 8192;

/// RSA keys below this are weak: a signature made with one is never a
/// pass (RFC 8301 §3.2).
pub const WEAK_RSA_MODULUS_BITS: u32 = 1024;

/// Smallest RSA modulus loaded at all (a PKCS#1 v1.5 SHA-256 signature
/// needs 62 bytes; below 512 bits the key is refused outright).
pub const MIN_RSA_MODULUS_BITS: u32 = 512;

/// Largest public exponent accepted (2^33 - 1, as in the rsa crate and
/// *ring*; larger ones are a denial-of-service vector).
pub const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// Why `p=` bytes are not a usable key; a verifier reports permerror.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PublicKeyError {
    /// Not well-formed DER of the expected shape.
    BadDer,
    /// A SubjectPublicKeyInfo for an algorithm other than rsaEncryption.
    NotRsa,
    /// The modulus is larger than [`MAX_RSA_MODULUS_BITS`].
    ModulusTooLarge {
        /// Its size in bits (saturating).
        bits: u32,
    },
    /// The modulus is smaller than [`MIN_RSA_MODULUS_BITS`].
    ModulusTooSmall {
        /// Its size in bits.
        bits: u32,
    },
    /// The modulus is negative, even, or otherwise not an RSA modulus.
    BadModulus,
    /// The public exponent is larger than [`MAX_RSA_EXPONENT`].
    ExponentTooLarge,
    /// The public exponent is negative, even, or below 3.
    BadExponent,
    /// An Ed25519 key that is not 32 bytes.
    Ed25519Length,
    /// 32 bytes that are not an Ed25519 curve point.
    Ed25519Point,
}

impl fmt::Display for PublicKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicKeyError::BadDer => f.write_str("malformed RSA public key DER"),
            PublicKeyError::NotRsa => f.write_str("public key is not rsaEncryption"),
            PublicKeyError::ModulusTooLarge { bits } => {
                write!(
                    f,
                    "RSA modulus of {bits} bits is over {MAX_RSA_MODULUS_BITS}"
                )
            }
            PublicKeyError::ModulusTooSmall { bits } => {
                write!(
                    f,
                    "RSA modulus of {bits} bits is under {MIN_RSA_MODULUS_BITS}"
                )
            }
            PublicKeyError::BadModulus => f.write_str("invalid RSA modulus"),
            PublicKeyError::ExponentTooLarge => f.write_str("RSA public exponent too large"),
            PublicKeyError::BadExponent => f.write_str("invalid RSA public exponent"),
            PublicKeyError::Ed25519Length => f.write_str("Ed25519 key is not 32 bytes"),
            PublicKeyError::Ed25519Point => f.write_str("Ed25519 key is not a curve point"),
        }
    }
}

impl core::error::Error for PublicKeyError {}

/// An RSA public key that passed the size checks.
#[derive(Debug, Clone)]
pub struct RsaKey {
    key: RsaPublicKey,
    bits: u32,
}

impl RsaKey {
    /// The key, for `rsa`'s verification functions.
    pub fn key(&self) -> &RsaPublicKey {
        &self.key
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// True if the modulus is under [`WEAK_RSA_MODULUS_BITS`]: signatures
    /// made with it must not pass (RFC 8301 §3.2).
    pub fn is_weak(&self) -> bool {
        self.bits < WEAK_RSA_MODULUS_BITS
    }
}

/// A verification key of either type.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// RSA (`k=rsa`).
    Rsa(RsaKey),
    /// Ed25519 (`k=ed25519`).
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Load the `p=` bytes of a key record of type `key_type`.
    pub fn load(key_type: KeyType, p: &[u8]) -> Result<Self, PublicKeyError> {
        match key_type {
            KeyType::Rsa => load_rsa(p).map(PublicKey::Rsa),
            KeyType::Ed25519 => load_ed25519(p).map(PublicKey::Ed25519),
        }
    }
}

/// Load an Ed25519 public key: exactly 32 raw bytes (RFC 8463 §4).
pub fn load_ed25519(p: &[u8]) -> Result<ed25519_dalek::VerifyingKey, PublicKeyError> {
    let bytes: &[u8; 32] = p.try_into().map_err(|_| PublicKeyError::Ed25519Length)?;
    ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| PublicKeyError::Ed25519Point)
}

/// DER tags used here.
const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OBJECT_IDENTIFIER: u8 = 0x06;
const NULL: u8 = 0x05;

/// 1.2.840.113549.1.1.1, rsaEncryption (RFC 8017 §A.1).
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// Read one DER TLV with the expected tag: returns (contents, rest).
/// Lengths of up to two bytes are enough for any key accepted here; longer
/// or indefinite lengths are [`PublicKeyError::BadDer`].
fn read_tlv(input: &[u8], expected_tag: u8) -> Result<(&[u8], &[u8]), PublicKeyError> {
    let (&tag, rest) = input.split_first().ok_or(PublicKeyError::BadDer)?;
    if tag != expected_tag {
        return Err(PublicKeyError::BadDer);
    }
    let (&first, rest) = rest.split_first().ok_or(PublicKeyError::BadDer)?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&b, rest) = rest.split_first().ok_or(PublicKeyError::BadDer)?;
            (usize::from(b), rest)
        }
        0x82 => match rest {
            [hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
            _ => return Err(PublicKeyError::BadDer),
        },
        _ => return Err(PublicKeyError::BadDer),
    };
    if rest.len() < len {
        return Err(PublicKeyError::BadDer);
    }
    Ok(rest.split_at(len))
}

/// The magnitude of a DER INTEGER: its bytes without leading zeros.
/// Negative integers are refused with `negative`.
fn unsigned_integer(contents: &[u8], negative: PublicKeyError) -> Result<&[u8], PublicKeyError> {
    match contents.first() {
        None => Err(PublicKeyError::BadDer),
        Some(b) if b & 0x80 != 0 => Err(negative),
        Some(_) => {
            let start = contents
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(contents.len());
            Ok(contents.get(start..).unwrap_or_default())
        }
    }
}

/// Size in bits of a big-endian magnitude without leading zeros.
fn bit_length(magnitude: &[u8]) -> u32 {
    match magnitude.first() {
        None => 0,
        Some(&top) => {
            let len = u32::try_from(magnitude.len()).unwrap_or(u32::MAX);
            len.saturating_sub(1)
                .saturating_mul(8)
                .saturating_add(8u32.saturating_sub(top.leading_zeros()))
        }
    }
}

/// Load an RSA public key from SubjectPublicKeyInfo DER, or from a bare
/// PKCS#1 RSAPublicKey. Size and exponent limits are checked on the DER
/// bytes before any arithmetic on them.
pub fn load_rsa(der: &[u8]) -> Result<RsaKey, PublicKeyError> {
    let (outer, trailing) = read_tlv(der, SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(PublicKeyError::BadDer);
    }
    let rsa_public_key = match outer.first() {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        Some(&INTEGER) => outer,
        // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
        //                                     subjectPublicKey BIT STRING }
        Some(&SEQUENCE) => {
            let (algorithm, rest) = read_tlv(outer, SEQUENCE)?;
            let (oid, params) = read_tlv(algorithm, OBJECT_IDENTIFIER)?;
            if oid != RSA_ENCRYPTION_OID {
                return Err(PublicKeyError::NotRsa);
            }
            // Parameters: NULL, or (leniently) absent.
            if !params.is_empty() && params != [NULL, 0] {
                return Err(PublicKeyError::BadDer);
            }
            let (bits, rest) = read_tlv(rest, BIT_STRING)?;
            if !rest.is_empty() {
                return Err(PublicKeyError::BadDer);
            }
            let inner = match bits.split_first() {
                Some((0, inner)) => inner,
                _ => return Err(PublicKeyError::BadDer),
            };
            let (inner, trailing) = read_tlv(inner, SEQUENCE)?;
            if !trailing.is_empty() {
                return Err(PublicKeyError::BadDer);
            }
            inner
        }
        _ => return Err(PublicKeyError::BadDer),
    };

    let (n, rest) = read_tlv(rsa_public_key, INTEGER)?;
    let (e, rest) = read_tlv(rest, INTEGER)?;
    if !rest.is_empty() {
        return Err(PublicKeyError::BadDer);
    }
    let n = unsigned_integer(n, PublicKeyError::BadModulus)?;
    let e = unsigned_integer(e, PublicKeyError::BadExponent)?;

    let bits = bit_length(n);
    if bits > MAX_RSA_MODULUS_BITS {
        return Err(PublicKeyError::ModulusTooLarge { bits });
    }
    if bits < MIN_RSA_MODULUS_BITS {
        return Err(PublicKeyError::ModulusTooSmall { bits });
    }
    if e.len() > 8 {
        return Err(PublicKeyError::ExponentTooLarge);
    }
    let e = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if e > MAX_RSA_EXPONENT {
        return Err(PublicKeyError::ExponentTooLarge);
    }
    if e < 3 || e % 2 == 0 {
        return Err(PublicKeyError::BadExponent);
    }
    if n.last().is_none_or(|low| low % 2 == 0) {
        return Err(PublicKeyError::BadModulus);
    }

    let key = RsaPublicKey::new_with_size_limits(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from(e),
        (MIN_RSA_MODULUS_BITS as usize)..=(MAX_RSA_MODULUS_BITS as usize),
    )
    .map_err(|_| PublicKeyError::BadModulus)?;
    Ok(RsaKey { key, bits })
}

#[cfg(test)]
mod tests;
