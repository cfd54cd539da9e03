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

    /// A new RSA key of `bits` from the operating system's RNG.
    pub fn generate_rsa(bits: usize) -> Result<KeyMaterial, KeyError> {
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map_err(KeyError::Generate)?;
        Ok(KeyMaterial::Rsa(Box::new(key)))
    }

    /// A new Ed25519 key from the operating system's RNG.
    pub fn generate_ed25519() -> Result<KeyMaterial, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut seed[..]).map_err(|_| KeyError::Randomness)?;
        Ok(KeyMaterial::Ed25519(Box::new(
            ed25519_dalek::SigningKey::from_bytes(&seed),
        )))
    }

    /// The PKCS#8 PEM form, as `mass keygen` writes it.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let pem = match self {
            KeyMaterial::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
            KeyMaterial::Ed25519(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|_| KeyError::EncodePrivate)?;
        Ok(Zeroizing::new(pem.as_str().to_owned()))
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
    fn new(key: &rsa::PrivateKey) -> Result<Self, KeyError> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| KeyError::Openssl(e.to_string()))?;
        openssl::rsa::Rsa::private_key_from_der(der.as_bytes())
            .and_then(openssl::pkey::PKey::from_rsa)
            .map(OpensslRsa)
            .map_err(|e| KeyError::Openssl(e.to_string()))
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
            KeyMaterial::Rsa(_) if self.key.openssl.is_some() => self
                .key
                .openssl
                .as_ref()
                .ok_or(mass_core::Error::Key)?
                .sign_digest(digest)
                .map_err(|_| mass_core::Error::Key)?,
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
    /// A key for one signature, as `mass sign` uses it: RSA through the
    /// rsa crate's blinded `sign_with_rng`, without loading OpenSSL (which
    /// costs a one-off process more memory than the signature saves time).
    pub fn for_one_signature(domain: String, selector: String, material: KeyMaterial) -> Self {
        SigningKey {
            domain,
            selector,
            material,
            #[cfg(feature = "openssl")]
            openssl: None,
        }
    }

    /// A key for `domain` and `selector`, for many signatures: RSA goes
    /// through OpenSSL when the `openssl` feature is on.
    pub fn new(domain: String, selector: String, material: KeyMaterial) -> Result<Self, KeyError> {
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

    /// The selector (`s=`) this key is published under.
    pub fn selector(&self) -> &str {
        &self.selector
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

/// Why a key cannot be read or used.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read.
    Read(std::path::PathBuf, std::io::Error),
    /// The key file's contents are not a usable key.
    File(std::path::PathBuf, Box<KeyError>),
    /// No `-----BEGIN` line.
    NoPemBlock,
    /// A PEM block that ends without its `-----END` line.
    UnterminatedPem(String),
    /// `Proc-Type`/`DEK-Info` headers: an encrypted key.
    EncryptedPem,
    /// The PEM body is not base64.
    BadBase64,
    /// A PEM block of another kind (a certificate, a public key).
    NotAPrivateKey(String),
    /// `RSA PRIVATE KEY` whose DER is not PKCS#1.
    BadPkcs1,
    /// `PRIVATE KEY` whose DER is neither RSA nor Ed25519 PKCS#8.
    UnknownPkcs8,
    /// RSA under 1024 bits (RFC 8301 §3.2).
    RsaTooSmall(u32),
    /// The public key could not be encoded for a record.
    EncodePublic,
    /// The private key could not be re-encoded (for a device's PROVISION).
    EncodePrivate,
    /// OpenSSL refused the key.
    Openssl(String),
    /// RSA key generation failed.
    Generate(rsa::Error),
    /// The operating system gave no randomness.
    Randomness,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read(p, e) => write!(f, "key file {}: {e}", p.display()),
            KeyError::File(p, e) => write!(f, "key file {}: {e}", p.display()),
            KeyError::NoPemBlock => f.write_str("no PEM `-----BEGIN` line"),
            KeyError::UnterminatedPem(label) => write!(f, "no `-----END {label}-----` line"),
            KeyError::EncryptedPem => f.write_str("encrypted PEM keys are not supported"),
            KeyError::BadBase64 => f.write_str("bad base64 in PEM"),
            KeyError::NotAPrivateKey(label) => write!(
                f,
                "PEM block `{label}` is not a private key (PRIVATE KEY or RSA PRIVATE KEY)"
            ),
            KeyError::BadPkcs1 => f.write_str("not a PKCS#1 RSA key"),
            KeyError::UnknownPkcs8 => f.write_str("PKCS#8 key is neither RSA nor Ed25519"),
            KeyError::RsaTooSmall(bits) => write!(
                f,
                "RSA key of {bits} bits is too small (RFC 8301 §3.2 wants 1024 or more)"
            ),
            KeyError::EncodePublic => f.write_str("cannot encode the public key"),
            KeyError::EncodePrivate => f.write_str("cannot re-encode the private key"),
            KeyError::Openssl(e) => write!(f, "OpenSSL cannot use the RSA key: {e}"),
            KeyError::Generate(e) => write!(f, "RSA key generation failed: {e}"),
            KeyError::Randomness => f.write_str("the operating system gave no randomness"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Read a PEM private key; the error names the file.
pub fn load_key(file: &Path) -> Result<KeyMaterial, KeyError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(file).map_err(|e| KeyError::Read(file.to_path_buf(), e))?,
    );
    parse_pem(&text).map_err(|e| KeyError::File(file.to_path_buf(), Box::new(e)))
}

/// Parse one PEM private key: the one key-reading path of `mass sign`,
/// `mass serve` and `mass device provision`. Text around the PEM block
/// (OpenSSL's progress dots, comments) is ignored.
pub fn parse_pem(text: &str) -> Result<KeyMaterial, KeyError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    let (label, der) = pem_body(text)?;
    match label.as_str() {
        "RSA PRIVATE KEY" => {
            let key = rsa::PrivateKey::from_pkcs1_der(&der).map_err(|_| KeyError::BadPkcs1)?;
            check_rsa(key)
        }
        "PRIVATE KEY" => {
            if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(&der) {
                return check_rsa(key);
            }
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(&der)
                .map_err(|_| KeyError::UnknownPkcs8)?;
            Ok(KeyMaterial::Ed25519(Box::new(key)))
        }
        _ => Err(KeyError::NotAPrivateKey(label)),
    }
}

fn check_rsa(key: rsa::PrivateKey) -> Result<KeyMaterial, KeyError> {
    use rsa::traits::PublicKeyParts;
    let bits = key.n().bit_width();
    if bits < 1024 {
        return Err(KeyError::RsaTooSmall(bits));
    }
    Ok(KeyMaterial::Rsa(Box::new(key)))
}

/// The label and DER bytes of the first PEM block in `text`.
fn pem_body(text: &str) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|l| {
            l.strip_prefix("-----BEGIN ")
                .and_then(|l| l.strip_suffix("-----"))
        })
        .ok_or(KeyError::NoPemBlock)?
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
            return Err(KeyError::EncryptedPem);
        }
        b64.push_str(line);
    }
    if !ended {
        return Err(KeyError::UnterminatedPem(label));
    }
    let der = Base64::decode_vec(&b64).map_err(|_| KeyError::BadBase64)?;
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

    /// Security case 24: a key under 1024 bits is refused at load
    /// (RFC 8301 §3.2).
    #[cfg(feature = "openssl")]
    #[test]
    fn row_24_an_rsa_key_under_1024_bits_is_refused() {
        // The rsa crate will not make such a key; OpenSSL still does.
        let small = openssl::rsa::Rsa::generate(768).unwrap();
        let pem = String::from_utf8(small.private_key_to_pem().unwrap()).unwrap();
        assert!(matches!(parse_pem(&pem), Err(KeyError::RsaTooSmall(768))));
    }

    #[test]
    fn rejects_what_is_not_a_key() {
        assert!(matches!(parse_pem("hello"), Err(KeyError::NoPemBlock)));
        assert!(matches!(
            parse_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(KeyError::NotAPrivateKey(label)) if label == "CERTIFICATE"
        ));
        assert!(matches!(
            parse_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n"),
            Err(KeyError::UnterminatedPem(_))
        ));
        assert!(matches!(
            parse_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(KeyError::UnknownPkcs8)
        ));
    }
}
