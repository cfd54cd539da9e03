//! Key slots. PROVISION fills an empty slot once; nothing reads a key back.
//!
//! RSA signatures are always blinded: core's `RsaSha256Signer` signs with
//! `sign_with_rng`, here with a ChaCha20 RNG seeded by PROVISION (rsa 0.10
//! skips blinding on every path without an RNG).

use chacha20::ChaCha20Rng;
use mass_core::link::{DeviceError, ErrorCode, SEED_LEN};
use mass_core::{DigestSigner, Ed25519Signer, RsaSha256Signer, SigningAlgorithm};
use rand_core::SeedableRng;
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
    /// An RSA key (on the heap arena) and the RNG that blinds it.
    Rsa(RsaSha256Signer<rsa::PrivateKey, ChaCha20Rng>),
    /// An Ed25519 key.
    Ed25519(Ed25519Signer),
}

impl KeySlot {
    /// Parse key bytes into a slot. The caller wipes the bytes it passed.
    pub fn load(
        algorithm: SigningAlgorithm,
        key: &[u8],
        seed: &[u8; SEED_LEN],
    ) -> Result<KeySlot, DeviceError> {
        let bad = DeviceError::new(ErrorCode::BadKey);
        match algorithm {
            SigningAlgorithm::RsaSha256 => {
                let signer = RsaSha256Signer::from_der(key, ChaCha20Rng::from_seed(*seed))
                    .map_err(|_| bad)?;
                Ok(KeySlot::Rsa(signer))
            }
            SigningAlgorithm::Ed25519Sha256 => {
                let mut secret: [u8; 32] = key.try_into().map_err(|_| bad)?;
                let signer = Ed25519Signer::from_seed(&secret);
                secret.zeroize();
                Ok(KeySlot::Ed25519(signer))
            }
        }
    }

    /// The slot's algorithm, `None` when empty.
    pub fn algorithm(&self) -> Option<SigningAlgorithm> {
        match self {
            KeySlot::Empty => None,
            KeySlot::Rsa(_) => Some(SigningAlgorithm::RsaSha256),
            KeySlot::Ed25519(_) => Some(SigningAlgorithm::Ed25519Sha256),
        }
    }

    /// The key as the core signer uses it.
    pub fn signer(&mut self) -> Option<&mut dyn DigestSigner> {
        match self {
            KeySlot::Empty => None,
            KeySlot::Rsa(k) => Some(k),
            KeySlot::Ed25519(k) => Some(k),
        }
    }

    /// Key size in bits, 0 when empty.
    pub fn bits(&self) -> u16 {
        match self {
            KeySlot::Empty => 0,
            KeySlot::Rsa(k) => k.bits() as u16,
            KeySlot::Ed25519(_) => 256,
        }
    }
}
