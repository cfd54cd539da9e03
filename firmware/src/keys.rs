//! Key slots. PROVISION fills an empty slot once; nothing reads a key back.
//!
//! RSA signatures are always blinded: `sign_with_rng` with a ChaCha20 RNG
//! seeded by PROVISION (rsa 0.10 skips blinding on every path without an RNG).

use chacha20::ChaCha20Rng;
use mass_core::link::{DeviceError, ErrorCode, KeyAlgorithm, SEED_LEN};
use rand_core::SeedableRng;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey};
use sha2::Sha256;
use zeroize::Zeroize;

/// How many key slots the device has.
pub const SLOTS: usize = 2;

/// One slot.
// Slots live in a static array, so the size difference costs nothing at run
// time; boxing the RSA variant would move it onto the RSA arena.
#[allow(clippy::large_enum_variant)]
pub enum KeySlot {
    /// Nothing provisioned yet.
    Empty,
    /// An RSA key and the RNG that blinds it.
    Rsa {
        /// The key, on the heap arena.
        key: PrivateKey,
        /// Blinding randomness.
        rng: ChaCha20Rng,
    },
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::SigningKey),
}

impl KeySlot {
    /// Parse key bytes into a slot. The caller wipes the bytes it passed.
    pub fn load(
        algorithm: KeyAlgorithm,
        key: &[u8],
        seed: &[u8; SEED_LEN],
    ) -> Result<KeySlot, DeviceError> {
        let bad = DeviceError::new(ErrorCode::BadKey);
        match algorithm {
            KeyAlgorithm::RsaSha256 => {
                let key = PrivateKey::from_pkcs8_der(key).map_err(|_| bad)?;
                let bits = key.n().bit_width_vartime();
                if !(1024..=4096).contains(&bits) {
                    return Err(bad);
                }
                Ok(KeySlot::Rsa {
                    key,
                    rng: ChaCha20Rng::from_seed(*seed),
                })
            }
            KeyAlgorithm::Ed25519Sha256 => {
                let mut secret: [u8; 32] = key.try_into().map_err(|_| bad)?;
                let k = ed25519_dalek::SigningKey::from_bytes(&secret);
                secret.zeroize();
                Ok(KeySlot::Ed25519(k))
            }
            _ => Err(bad),
        }
    }

    /// The slot's algorithm, `None` when empty.
    pub fn algorithm(&self) -> Option<KeyAlgorithm> {
        match self {
            KeySlot::Empty => None,
            KeySlot::Rsa { .. } => Some(KeyAlgorithm::RsaSha256),
            KeySlot::Ed25519(_) => Some(KeyAlgorithm::Ed25519Sha256),
        }
    }

    /// Key size in bits, 0 when empty.
    pub fn bits(&self) -> u16 {
        match self {
            KeySlot::Empty => 0,
            KeySlot::Rsa { key, .. } => key.n().bit_width_vartime() as u16,
            KeySlot::Ed25519(_) => 256,
        }
    }

    /// Sign a SHA-256 digest: RSASSA-PKCS1-v1_5 with blinding (RFC 6376
    /// section 3.3.1), or Ed25519 over the digest (RFC 8463 section 3).
    /// Returns the signature length written to `out`.
    pub fn sign_digest(&mut self, digest: &[u8; 32], out: &mut [u8]) -> Result<usize, DeviceError> {
        match self {
            KeySlot::Empty => Err(DeviceError::new(ErrorCode::NoSuchKey)),
            KeySlot::Rsa { key, rng } => {
                let sig = key
                    .sign_with_rng(rng, Pkcs1v15Sign::new::<Sha256>(), digest)
                    .map_err(|_| DeviceError::new(ErrorCode::Sign))?;
                let dst = out
                    .get_mut(..sig.len())
                    .ok_or(DeviceError::new(ErrorCode::Sign))?;
                dst.copy_from_slice(&sig);
                Ok(sig.len())
            }
            KeySlot::Ed25519(k) => {
                use ed25519_dalek::Signer;
                let sig = k.sign(digest).to_bytes();
                let dst = out
                    .get_mut(..sig.len())
                    .ok_or(DeviceError::new(ErrorCode::Sign))?;
                dst.copy_from_slice(&sig);
                Ok(sig.len())
            }
        }
    }
}
