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

/// A slot's public key, for INFO.
pub enum PublicKey {
    /// The slot is empty.
    None,
    /// RSA: SubjectPublicKeyInfo DER.
    Der(rsa::pkcs8::Document),
    /// Ed25519: the key bytes.
    Raw([u8; 32]),
}

impl PublicKey {
    /// The bytes, as `p=` carries them.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            PublicKey::None => &[],
            PublicKey::Der(d) => d.as_bytes(),
            PublicKey::Raw(k) => k,
        }
    }
}

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

    /// The public key as a key record's `p=` carries it (SubjectPublicKeyInfo
    /// DER for RSA, made on the RSA arena for this call; the 32 key bytes for
    /// Ed25519); empty when the slot is.
    pub fn public_key(&self) -> Result<PublicKey, DeviceError> {
        match self {
            KeySlot::Empty => Ok(PublicKey::None),
            KeySlot::Rsa(k) => k
                .public_key_der()
                .map(PublicKey::Der)
                .map_err(|_| DeviceError::new(ErrorCode::OutOfMemory)),
            KeySlot::Ed25519(k) => Ok(PublicKey::Raw(k.public_key())),
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
