//! Signing keys behind one interface, [`DigestSigner`]: both algorithms
//! sign a finished SHA-256 hash (RFC 6376 §3.7; RFC 8463 §3 signs the
//! hash with pure Ed25519).
//!
//! RSA signing is always blinded: rsa 0.10 blinds only through
//! `sign_with_rng`, so that is the only path used, with an RNG the caller
//! owns (OsRng on a host, a seeded ChaCha20 on a device). Everything RSA
//! here is behind the `rsa` feature.

use crate::error::Error;
#[cfg(feature = "rsa")]
use core::borrow::Borrow;
#[cfg(feature = "rsa")]
use rsa::traits::PublicKeyParts;
#[cfg(feature = "rsa")]
use sha2::Sha256;

/// The signing algorithms mass signs with (RFC 6376 §3.3, RFC 8463 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SigningAlgorithm {
    /// `rsa-sha256`, RSASSA-PKCS1-v1_5 with SHA-256.
    RsaSha256,
    /// `ed25519-sha256`, Ed25519 over the SHA-256 hash.
    Ed25519Sha256,
}

impl SigningAlgorithm {
    /// The name used in `a=`.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RsaSha256 => "rsa-sha256",
            SigningAlgorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The key type used in a key record's `k=` (RFC 6376 §3.6.1).
    pub fn key_type(self) -> &'static str {
        match self {
            SigningAlgorithm::RsaSha256 => "rsa",
            SigningAlgorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

/// Something that signs a SHA-256 hash: a key in memory, a device, an HSM.
pub trait DigestSigner {
    /// The algorithm this signer produces.
    fn algorithm(&self) -> SigningAlgorithm;
    /// The length of its signatures in bytes.
    fn signature_len(&self) -> usize;
    /// Sign `digest` into `out`; return the signature length.
    fn sign_digest(&mut self, digest: &[u8; 32], out: &mut [u8]) -> Result<usize, Error>;
}

impl<T: DigestSigner + ?Sized> DigestSigner for &mut T {
    fn algorithm(&self) -> SigningAlgorithm {
        (**self).algorithm()
    }
    fn signature_len(&self) -> usize {
        (**self).signature_len()
    }
    fn sign_digest(&mut self, digest: &[u8; 32], out: &mut [u8]) -> Result<usize, Error> {
        (**self).sign_digest(digest, out)
    }
}

/// The smallest RSA modulus mass signs with (RFC 8301 §3.2).
#[cfg(feature = "rsa")]
pub const MIN_RSA_BITS: usize = 1024;
/// The largest RSA modulus mass signs or verifies with.
#[cfg(feature = "rsa")]
pub const MAX_RSA_BITS: usize = 8192;

/// rsa-sha256 with a private key in memory, always blinded.
///
/// `K` is the key or anything that lends it (`&PrivateKey`, a `Box`, an
/// `Arc`), so a daemon can sign with a shared key without copying it.
#[cfg(feature = "rsa")]
pub struct RsaSha256Signer<K, R> {
    key: K,
    rng: R,
}

#[cfg(feature = "rsa")]
impl<K: Borrow<rsa::PrivateKey>, R> core::fmt::Debug for RsaSha256Signer<K, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.debug_struct("RsaSha256Signer")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "rsa")]
impl<K: Borrow<rsa::PrivateKey>, R: rand_core::TryCryptoRng> RsaSha256Signer<K, R> {
    /// Use `key`, blinding every signature with randomness from `rng`.
    /// Keys under [`MIN_RSA_BITS`] or over [`MAX_RSA_BITS`] are refused.
    pub fn new(key: K, rng: R) -> Result<Self, Error> {
        let bits = key.borrow().size().saturating_mul(8);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(Error::Key);
        }
        Ok(RsaSha256Signer { key, rng })
    }

    /// The public key, for publishing.
    pub fn public_key(&self) -> rsa::PublicKey {
        self.key.borrow().to_public_key()
    }

    /// The public key as a key record's `p=` carries it: SubjectPublicKeyInfo
    /// DER (RFC 6376 §3.6.1, `k=rsa`), allocated by the rsa crate.
    pub fn public_key_der(&self) -> Result<rsa::pkcs8::Document, Error> {
        use rsa::pkcs8::EncodePublicKey;
        self.public_key()
            .to_public_key_der()
            .map_err(|_| Error::Key)
    }
}

#[cfg(feature = "rsa")]
impl<R: rand_core::TryCryptoRng> RsaSha256Signer<rsa::PrivateKey, R> {
    /// Parse a PKCS#8 or PKCS#1 DER private key.
    pub fn from_der(der: &[u8], rng: R) -> Result<Self, Error> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::PrivateKey::from_pkcs8_der(der)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_der(der))
            .map_err(|_| Error::Key)?;
        Self::new(key, rng)
    }
}

#[cfg(feature = "rsa")]
impl<K: Borrow<rsa::PrivateKey>, R: rand_core::TryCryptoRng> RsaSha256Signer<K, R> {
    /// RSASSA-PKCS1-v1_5 over `digest` into `out`, for both hashes. The
    /// blinded path, `sign_with_rng`, is the only one: the RNG-less one
    /// skips blinding.
    fn sign_blinded(
        &mut self,
        padding: rsa::Pkcs1v15Sign,
        digest: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let sig = self
            .key
            .borrow()
            .sign_with_rng(&mut self.rng, padding, digest)
            .map_err(|_| Error::Key)?;
        crate::bytes::copy_at(out, 0, &sig).ok_or(Error::BufferTooSmall {
            required: sig.len(),
        })
    }
}

#[cfg(feature = "rsa")]
impl<K: Borrow<rsa::PrivateKey>, R> RsaSha256Signer<K, R> {
    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.borrow().size().saturating_mul(8)
    }
}

#[cfg(feature = "rsa")]
impl<K: Borrow<rsa::PrivateKey>, R: rand_core::TryCryptoRng> DigestSigner
    for RsaSha256Signer<K, R>
{
    fn algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::RsaSha256
    }

    fn signature_len(&self) -> usize {
        self.key.borrow().size()
    }

    fn sign_digest(&mut self, digest: &[u8; 32], out: &mut [u8]) -> Result<usize, Error> {
        self.sign_blinded(rsa::Pkcs1v15Sign::new::<Sha256>(), digest, out)
    }
}

/// Something that signs a SHA-1 hash with RSA (RSASSA-PKCS1-v1_5): the
/// only algorithm of DomainKeys (RFC 4870 §3.2.1, `a=rsa-sha1`).
///
/// It is a trait of its own, apart from [`DigestSigner`], so that no DKIM
/// path can ever produce an rsa-sha1 signature (RFC 8301 §3.1).
#[cfg(feature = "rsa")]
pub trait Sha1DigestSigner {
    /// The length of its signatures in bytes.
    fn signature_len(&self) -> usize;
    /// Sign the SHA-1 `digest` into `out`; return the signature length.
    fn sign_sha1_digest(&mut self, digest: &[u8; 20], out: &mut [u8]) -> Result<usize, Error>;
}

#[cfg(feature = "rsa")]
impl<T: Sha1DigestSigner + ?Sized> Sha1DigestSigner for &mut T {
    fn signature_len(&self) -> usize {
        (**self).signature_len()
    }
    fn sign_sha1_digest(&mut self, digest: &[u8; 20], out: &mut [u8]) -> Result<usize, Error> {
        (**self).sign_sha1_digest(digest, out)
    }
}

#[cfg(feature = "rsa")]
impl<K: Borrow<rsa::PrivateKey>, R: rand_core::TryCryptoRng> Sha1DigestSigner
    for RsaSha256Signer<K, R>
{
    fn signature_len(&self) -> usize {
        self.key.borrow().size()
    }

    fn sign_sha1_digest(&mut self, digest: &[u8; 20], out: &mut [u8]) -> Result<usize, Error> {
        self.sign_blinded(rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), digest, out)
    }
}

/// ed25519-sha256 (RFC 8463) with a private key in memory.
pub struct Ed25519Signer {
    key: ed25519_dalek::SigningKey,
}

impl core::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ed25519Signer").finish_non_exhaustive()
    }
}

impl Ed25519Signer {
    /// A signer from the 32-byte seed (RFC 8032 §5.1.5 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Ed25519Signer {
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte public key, as published in `p=` (RFC 8463 §4).
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
}

impl DigestSigner for Ed25519Signer {
    fn algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::Ed25519Sha256
    }

    fn signature_len(&self) -> usize {
        64
    }

    fn sign_digest(&mut self, digest: &[u8; 32], out: &mut [u8]) -> Result<usize, Error> {
        use ed25519_dalek::Signer;
        // `try_sign`: `sign` unwraps the result of `try_sign`, a panic path.
        let sig = self
            .key
            .try_sign(digest)
            .map_err(|_| Error::Key)?
            .to_bytes();
        crate::bytes::copy_at(out, 0, &sig).ok_or(Error::BufferTooSmall { required: 64 })
    }
}
