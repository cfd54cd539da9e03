//! The DNS key record a loaded key publishes (RFC 6376 §3.6.1, RFC 8463 §4).

use base64ct::{Base64, Encoding};
use mass_core::SigningAlgorithm;

use crate::keys::{KeyError, KeyMaterial};

/// The public key bytes a key record's `p=` carries for `key` (RFC 6376
/// §3.6.1: SubjectPublicKeyInfo DER for RSA; RFC 8463 §4: the raw 32 bytes
/// for Ed25519).
pub fn public_key_bytes(key: &KeyMaterial) -> Result<Vec<u8>, KeyError> {
    match key {
        KeyMaterial::Rsa(k) => {
            use rsa::pkcs8::EncodePublicKey;
            let der = k
                .to_public_key()
                .to_public_key_der()
                .map_err(|_| KeyError::EncodePublic)?;
            Ok(der.into_vec())
        }
        KeyMaterial::Ed25519(k) => Ok(k.verifying_key().as_bytes().to_vec()),
    }
}

/// The TXT data of a key record: `v=DKIM1; k=...; p=...` for the public
/// key bytes `p=` carries (`public_key`, not yet base64).
pub fn record_data(algorithm: SigningAlgorithm, public_key: &[u8]) -> String {
    format!(
        "v=DKIM1; k={}; p={}",
        algorithm.key_type(),
        Base64::encode_string(public_key)
    )
}

/// The DNS record to publish, in zone-file form, with the TXT data split
/// into strings of at most 255 bytes (RFC 1035 §3.3.14, RFC 6376 §3.6.2.2).
pub fn dns_record(selector: &str, domain: &str, key: &KeyMaterial) -> Result<String, KeyError> {
    let data = record_data(key.algorithm(), &public_key_bytes(key)?);
    Ok(zone_line(selector, domain, &data))
}

/// `selector._domainkey.domain. IN TXT "..." "..."` for the TXT data `data`.
pub fn zone_line(selector: &str, domain: &str, data: &str) -> String {
    let strings: Vec<String> = data
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    let domain = domain.trim_end_matches('.');
    format!(
        "{selector}._domainkey.{domain}. IN TXT {}",
        strings.join(" ")
    )
}
