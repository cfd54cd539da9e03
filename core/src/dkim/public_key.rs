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
//!
//! RSA keys need the `rsa` feature; without it an RSA record's key is
//! [`PublicKeyError::RsaNotSupported`] (permerror).

use core::fmt;

#[cfg(feature = "rsa")]
mod rsa_key;
#[cfg(feature = "rsa")]
pub use rsa_key::{RsaKey, load_rsa};

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
    /// An RSA key, and mass-core was built without the `rsa` feature.
    RsaNotSupported,
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
            PublicKeyError::RsaNotSupported => {
                f.write_str("RSA keys are not supported (no rsa feature)")
            }
        }
    }
}

impl core::error::Error for PublicKeyError {}

/// A verification key of either type.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// RSA (`k=rsa`).
    #[cfg(feature = "rsa")]
    Rsa(RsaKey),
    /// Ed25519 (`k=ed25519`).
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Load the `p=` bytes of a key record of type `key_type`.
    pub fn load(key_type: KeyType, p: &[u8]) -> Result<Self, PublicKeyError> {
        match key_type {
            #[cfg(feature = "rsa")]
            KeyType::Rsa => load_rsa(p).map(PublicKey::Rsa),
            #[cfg(not(feature = "rsa"))]
            KeyType::Rsa => Err(PublicKeyError::RsaNotSupported),
            KeyType::Ed25519 => load_ed25519(p).map(PublicKey::Ed25519),
        }
    }

    /// The modulus size in bits, for an RSA key.
    pub fn rsa_bits(&self) -> Option<u32> {
        match self {
            #[cfg(feature = "rsa")]
            PublicKey::Rsa(k) => Some(k.bits()),
            PublicKey::Ed25519(_) => None,
        }
    }

    /// Does `signature` verify over the SHA-256 `digest`: RSASSA-PKCS1-v1_5
    /// for rsa-sha256 (RFC 6376 §3.3.1), pure Ed25519 over the hash with
    /// the strict checks for ed25519-sha256 (RFC 8463 §3)?
    pub fn verify_sha256(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        match self {
            #[cfg(feature = "rsa")]
            PublicKey::Rsa(k) => k.verify_sha256(digest, signature),
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(digest, &s).is_ok()),
        }
    }
}

/// Load an Ed25519 public key: exactly 32 raw bytes (RFC 8463 §4).
pub fn load_ed25519(p: &[u8]) -> Result<ed25519_dalek::VerifyingKey, PublicKeyError> {
    let bytes: &[u8; 32] = p.try_into().map_err(|_| PublicKeyError::Ed25519Length)?;
    ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| PublicKeyError::Ed25519Point)
}

// The tests sign and verify with RSA keys as well as Ed25519 ones.
#[cfg(all(test, feature = "rsa"))]
mod tests;

#[cfg(all(test, not(feature = "rsa")))]
mod no_rsa_tests {
    use super::*;

    #[test]
    fn rsa_keys_are_refused_without_the_rsa_feature() {
        assert_eq!(
            PublicKey::load(KeyType::Rsa, &[0x30, 0x00]).unwrap_err(),
            PublicKeyError::RsaNotSupported
        );
    }
}
