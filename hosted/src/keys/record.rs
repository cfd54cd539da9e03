//! The DNS key record a loaded key publishes (RFC 6376 §3.6.1, RFC 8463 §4).

use crate::keys::{KeyError, KeyMaterial};

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
    let data = format!("v=DKIM1; k={}; p={p}", key.algorithm().key_type());
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
