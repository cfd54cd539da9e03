//! Signing keys for `mass serve`, read from PEM files named in the config.
//!
//! Accepted forms: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or Ed25519, as
//! `mass keygen` and `openssl genpkey` write) and PKCS#1
//! (`BEGIN RSA PRIVATE KEY`, as older `opendkim-genkey` writes).

use std::fmt;
use std::path::Path;

use base64ct::{Base64, Encoding};
use mass_core::{DigestSigner, SigningAlgorithm};
use zeroize::Zeroizing;

/// The private key material.
pub enum KeyMaterial {
    /// RSA (rsa-sha256, RFC 6376 §3.3.1); at least 1024 bits (RFC 8301 §3.2).
    Rsa(Box<rsa::PrivateKey>),
    /// Ed25519 (ed25519-sha256, RFC 8463).
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key itself.
        match self {
            KeyMaterial::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                write!(f, "rsa-{}", k.n().bit_width())
            }
            KeyMaterial::Ed25519(k) => {
                write!(f, "ed25519 {:02x?}", &k.verifying_key().as_bytes()[..4])
            }
        }
    }
}

impl KeyMaterial {
    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self {
            KeyMaterial::Rsa(_) => SigningAlgorithm::RsaSha256,
            KeyMaterial::Ed25519(_) => SigningAlgorithm::Ed25519Sha256,
        }
    }

    /// The DKIM `a=` value this key signs with.
    pub fn algorithm_name(&self) -> &'static str {
        self.algorithm().as_str()
    }
}

/// core's [`DigestSigner`] over a shared key: RSA signatures are blinded
/// with fresh OS randomness each time (`sign_with_rng`, DESIGN.md), so
/// many connections can sign with one key at once without a lock.
#[derive(Debug)]
pub struct KeySigner<'a> {
    material: &'a KeyMaterial,
}

impl<'a> KeySigner<'a> {
    /// A signer for one message.
    pub fn new(material: &'a KeyMaterial) -> Self {
        KeySigner { material }
    }
}

impl DigestSigner for KeySigner<'_> {
    fn algorithm(&self) -> SigningAlgorithm {
        self.material.algorithm()
    }

    fn signature_len(&self) -> usize {
        match self.material {
            KeyMaterial::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                k.size()
            }
            KeyMaterial::Ed25519(_) => 64,
        }
    }

    fn sign_digest(
        &mut self,
        digest: &[u8; 32],
        out: &mut [u8],
    ) -> Result<usize, mass_core::Error> {
        let sig: Vec<u8> = match self.material {
            KeyMaterial::Rsa(k) => {
                let padding = rsa::Pkcs1v15Sign::new::<sha2::Sha256>();
                k.sign_with_rng(&mut getrandom::SysRng, padding, digest)
                    .map_err(|_| mass_core::Error::Key)?
            }
            KeyMaterial::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(digest).to_bytes().to_vec()
            }
        };
        let dst = out
            .get_mut(..sig.len())
            .ok_or(mass_core::Error::BufferTooSmall {
                required: sig.len(),
            })?;
        dst.copy_from_slice(&sig);
        Ok(sig.len())
    }
}

/// A key with the domain and selector it signs for.
#[derive(Debug)]
pub struct SigningKey {
    /// `d=`, lower case.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The private key.
    pub material: KeyMaterial,
}

impl SigningKey {
    /// `domain/selector (algorithm)`, for logs.
    pub fn label(&self) -> String {
        format!(
            "{}/{}({})",
            self.domain,
            self.selector,
            self.material.algorithm_name()
        )
    }
}

/// Read a PEM private key; the error names the file.
pub fn load_key(file: &Path) -> Result<KeyMaterial, String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file).map_err(|e| format!("key file {}: {e}", file.display()))?,
    );
    parse_pem(&text).map_err(|e| format!("key file {}: {e}", file.display()))
}

/// Parse one PEM private key.
pub fn parse_pem(text: &str) -> Result<KeyMaterial, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    let (label, der) = pem_body(text)?;
    match label.as_str() {
        "RSA PRIVATE KEY" => {
            let key = rsa::PrivateKey::from_pkcs1_der(&der)
                .map_err(|e| format!("not a PKCS#1 RSA key: {e}"))?;
            check_rsa(key)
        }
        "PRIVATE KEY" => {
            if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(&der) {
                return check_rsa(key);
            }
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(&der)
                .map_err(|_| "PKCS#8 key is neither RSA nor Ed25519".to_string())?;
            Ok(KeyMaterial::Ed25519(Box::new(key)))
        }
        other => Err(format!(
            "PEM block `{other}` is not a private key (PRIVATE KEY or RSA PRIVATE KEY)"
        )),
    }
}

fn check_rsa(key: rsa::PrivateKey) -> Result<KeyMaterial, String> {
    use rsa::traits::PublicKeyParts;
    let bits = key.n().bit_width();
    if bits < 1024 {
        return Err(format!(
            "RSA key of {bits} bits is too small (RFC 8301 §3.2 wants 1024 or more)"
        ));
    }
    Ok(KeyMaterial::Rsa(Box::new(key)))
}

/// The label and DER bytes of the first PEM block in `text`.
fn pem_body(text: &str) -> Result<(String, Zeroizing<Vec<u8>>), String> {
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|l| {
            l.strip_prefix("-----BEGIN ")
                .and_then(|l| l.strip_suffix("-----"))
        })
        .ok_or("no PEM `-----BEGIN` line")?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut b64 = Zeroizing::new(String::new());
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if line.contains(':') {
            return Err("encrypted PEM keys are not supported".into());
        }
        b64.push_str(line);
    }
    if !ended {
        return Err(format!("no `{end}` line"));
    }
    let der = Base64::decode_vec(&b64).map_err(|_| "bad base64 in PEM".to_string())?;
    Ok((label, Zeroizing::new(der)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8463 Appendix A.1 Ed25519 key, as PKCS#8 (the 32-byte seed
    // nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A= behind the fixed prefix).
    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
-----END PRIVATE KEY-----
";

    #[test]
    fn reads_an_ed25519_pkcs8_key() {
        let key = parse_pem(ED25519_PEM).unwrap();
        assert_eq!(key.algorithm_name(), "ed25519-sha256");
    }

    #[test]
    fn rejects_what_is_not_a_key() {
        assert!(parse_pem("hello").unwrap_err().contains("BEGIN"));
        assert!(
            parse_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .unwrap_err()
                .contains("not a private key")
        );
        assert!(
            parse_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n")
                .unwrap_err()
                .contains("END")
        );
        assert!(
            parse_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err()
        );
    }
}
