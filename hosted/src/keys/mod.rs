//! Signing keys for `mass serve`, read from PEM files named in the config.
//!
//! Accepted forms: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or Ed25519, as
//! `mass keygen` and `openssl genpkey` write) and PKCS#1
//! (`BEGIN RSA PRIVATE KEY`, as older `opendkim-genkey` writes).

pub mod record;

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

/// RSA signing through the system OpenSSL: about 9 times the rsa crate's
/// speed on the hosts measured (DESIGN.md), and able to sign a SHA-256
/// prehash, which is what core's [`DigestSigner`] hands over. OpenSSL blinds
/// RSA private-key operations by default.
#[cfg(feature = "openssl")]
pub struct OpensslRsa(openssl::pkey::PKey<openssl::pkey::Private>);

#[cfg(feature = "openssl")]
impl OpensslRsa {
    fn new(key: &rsa::PrivateKey) -> Result<Self, String> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| format!("cannot encode the RSA key for OpenSSL: {e}"))?;
        openssl::rsa::Rsa::private_key_from_der(der.as_bytes())
            .and_then(openssl::pkey::PKey::from_rsa)
            .map(OpensslRsa)
            .map_err(|e| format!("OpenSSL cannot read the RSA key: {e}"))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over a finished digest (RFC 8017 §8.2).
    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&self.0)?;
        ctx.sign_init()?;
        ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1)?;
        ctx.set_signature_md(openssl::md::Md::sha256())?;
        let mut sig = Vec::new();
        ctx.sign_to_vec(digest, &mut sig)?;
        Ok(sig)
    }
}

#[cfg(feature = "openssl")]
impl fmt::Debug for OpensslRsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpensslRsa")
    }
}

/// core's [`DigestSigner`] over a shared key. RSA goes through OpenSSL
/// when the `openssl` feature is on (the default), else through the rsa
/// crate's blinded `sign_with_rng` with fresh OS randomness (DESIGN.md).
/// Neither needs a lock, so many connections sign with one key at once.
#[derive(Debug)]
pub struct KeySigner<'a> {
    key: &'a SigningKey,
}

impl<'a> KeySigner<'a> {
    /// A signer for one message.
    pub fn new(key: &'a SigningKey) -> Self {
        KeySigner { key }
    }
}

impl DigestSigner for KeySigner<'_> {
    fn algorithm(&self) -> SigningAlgorithm {
        self.key.material.algorithm()
    }

    fn signature_len(&self) -> usize {
        match &self.key.material {
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
        let sig: Vec<u8> = match &self.key.material {
            #[cfg(feature = "openssl")]
            KeyMaterial::Rsa(_) => self
                .key
                .openssl
                .as_ref()
                .ok_or(mass_core::Error::Key)?
                .sign_digest(digest)
                .map_err(|_| mass_core::Error::Key)?,
            #[cfg(not(feature = "openssl"))]
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
    /// The same RSA key, loaded into OpenSSL.
    #[cfg(feature = "openssl")]
    openssl: Option<OpensslRsa>,
}

impl SigningKey {
    /// A key for `domain` and `selector`.
    pub fn new(domain: String, selector: String, material: KeyMaterial) -> Result<Self, String> {
        #[cfg(feature = "openssl")]
        let openssl = match &material {
            KeyMaterial::Rsa(k) => Some(OpensslRsa::new(k)?),
            KeyMaterial::Ed25519(_) => None,
        };
        Ok(SigningKey {
            domain,
            selector,
            material,
            #[cfg(feature = "openssl")]
            openssl,
        })
    }

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

    /// PKCS#1 v1.5 signatures are deterministic: OpenSSL must give the
    /// same bytes as the rsa crate for the same key and digest.
    #[cfg(feature = "openssl")]
    #[test]
    fn openssl_rsa_signs_as_the_rsa_crate_does() {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let generated = openssl::rsa::Rsa::generate(2048).unwrap();
        let der = generated.private_key_to_der().unwrap();
        let key = rsa::PrivateKey::from_pkcs1_der(&der).unwrap();
        let reference = {
            let padding = rsa::Pkcs1v15Sign::new::<sha2::Sha256>();
            key.sign_with_rng(&mut getrandom::SysRng, padding, &[7u8; 32])
                .unwrap()
        };
        let signing =
            SigningKey::new("d".into(), "s".into(), KeyMaterial::Rsa(Box::new(key))).unwrap();
        let mut out = [0u8; 512];
        let n = KeySigner::new(&signing)
            .sign_digest(&[7u8; 32], &mut out)
            .unwrap();
        assert_eq!(&out[..n], &reference[..]);
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
