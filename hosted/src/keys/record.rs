//! A loaded private key as core's [`DigestSigner`]: RSA always blinded
//! with the operating system's RNG (DESIGN.md), Ed25519 as it is.

use mass_core::{DigestSigner, Ed25519Signer, Error, RsaSha256Signer, SigningAlgorithm};
use zeroize::Zeroizing;

use crate::keys::{KeyError, KeyMaterial};

/// A signer that borrows a loaded key.
#[derive(Debug)]
pub enum KeySigner<'k> {
    /// rsa-sha256, blinded through `sign_with_rng` with the OS RNG.
    Rsa(RsaSha256Signer<&'k rsa::PrivateKey, getrandom::SysRng>),
    /// ed25519-sha256.
    Ed25519(Box<Ed25519Signer>),
}

impl<'k> KeySigner<'k> {
    /// A signer for `key`.
    pub fn new(key: &'k KeyMaterial) -> Result<Self, Error> {
        Ok(match key {
            KeyMaterial::Rsa(k) => KeySigner::Rsa(RsaSha256Signer::new(&**k, getrandom::SysRng)?),
            KeyMaterial::Ed25519(k) => {
                let seed = Zeroizing::new(k.to_bytes());
                KeySigner::Ed25519(Box::new(Ed25519Signer::from_seed(&seed)))
            }
        })
    }
}

impl DigestSigner for KeySigner<'_> {
    fn algorithm(&self) -> SigningAlgorithm {
        match self {
            KeySigner::Rsa(s) => s.algorithm(),
            KeySigner::Ed25519(s) => s.algorithm(),
        }
    }

    fn signature_len(&self) -> usize {
        match self {
            KeySigner::Rsa(s) => s.signature_len(),
            KeySigner::Ed25519(s) => s.signature_len(),
        }
    }

    fn sign_digest(&mut self, digest: &[u8; 32], out: &mut [u8]) -> Result<usize, Error> {
        match self {
            KeySigner::Rsa(s) => s.sign_digest(digest, out),
            KeySigner::Ed25519(s) => s.sign_digest(digest, out),
        }
    }
}

/// The algorithm a key signs with.
pub fn key_algorithm(key: &KeyMaterial) -> SigningAlgorithm {
    match key {
        KeyMaterial::Rsa(_) => SigningAlgorithm::RsaSha256,
        KeyMaterial::Ed25519(_) => SigningAlgorithm::Ed25519Sha256,
    }
}

/// The base64 `p=` value of a key record for `key` (RFC 6376 §3.6.1:
/// SubjectPublicKeyInfo for RSA; RFC 8463 §4: the raw 32 bytes for Ed25519).
pub fn public_key_record_value(key: &KeyMaterial) -> Result<String, KeyError> {
    use base64ct::{Base64, Encoding};
    match key {
        KeyMaterial::Rsa(k) => {
            use rsa::pkcs8::EncodePublicKey;
            let der = k
                .to_public_key()
                .to_public_key_der()
                .map_err(|_| KeyError::EncodePublic)?;
            Ok(Base64::encode_string(der.as_bytes()))
        }
        KeyMaterial::Ed25519(k) => Ok(Base64::encode_string(k.verifying_key().as_bytes())),
    }
}

/// The DNS record to publish, in zone-file form, with the TXT data split
/// into strings of at most 255 bytes (RFC 1035 §3.3.14, RFC 6376 §3.6.2.2).
pub fn dns_record(selector: &str, domain: &str, key: &KeyMaterial) -> Result<String, KeyError> {
    let p = public_key_record_value(key)?;
    let data = format!("v=DKIM1; k={}; p={p}", key_algorithm(key).key_type());
    let strings: Vec<String> = data
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    let domain = domain.trim_end_matches('.');
    Ok(format!(
        "{selector}._domainkey.{domain}. IN TXT {}",
        strings.join(" ")
    ))
}
