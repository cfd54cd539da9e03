//! `mass keygen`: a new signing key and the DNS record to publish.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use zeroize::Zeroizing;

use crate::keys::KeyMaterial;
use crate::keys::record::dns_record;

/// Key algorithms `mass keygen` makes. `mass sign --algorithm` takes these
/// names too; here the a= names are accepted as well (rsa-sha256 makes the
/// default RSA-2048 key), so one word works in both commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    /// RSA with a 2048-bit modulus; signs a=rsa-sha256. Also spelled rsa-sha256.
    #[value(name = "rsa-2048", alias = "rsa-sha256")]
    Rsa2048,
    /// RSA with a 3072-bit modulus; signs a=rsa-sha256.
    #[value(name = "rsa-3072")]
    Rsa3072,
    /// Ed25519 (RFC 8463); signs a=ed25519-sha256. Also spelled ed25519-sha256.
    #[value(name = "ed25519", alias = "ed25519-sha256")]
    Ed25519,
}

/// `mass keygen` arguments.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key algorithm (`mass sign --algorithm` takes these names too).
    #[arg(long, value_enum, default_value = "rsa-2048")]
    pub algorithm: KeyAlgorithm,
    /// The signing domain (d=).
    #[arg(long)]
    pub domain: String,
    /// The selector (s=).
    #[arg(long)]
    pub selector: String,
    /// Where to write SELECTOR.DOMAIN.pem (mode 0600).
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Replace an existing key file.
    #[arg(long)]
    pub force: bool,
}

/// Make a key of `algorithm`.
pub fn generate(algorithm: KeyAlgorithm) -> Result<KeyMaterial, String> {
    let mut rng = getrandom::SysRng;
    Ok(match algorithm {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => {
            let bits = if algorithm == KeyAlgorithm::Rsa2048 {
                2048
            } else {
                3072
            };
            let key = rsa::PrivateKey::new(&mut rng, bits)
                .map_err(|e| format!("RSA key generation failed: {e}"))?;
            KeyMaterial::Rsa(Box::new(key))
        }
        KeyAlgorithm::Ed25519 => {
            let mut seed = Zeroizing::new([0u8; 32]);
            getrandom::fill(&mut seed[..]).map_err(|e| format!("no randomness: {e}"))?;
            KeyMaterial::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
        }
    })
}

/// The PKCS#8 PEM form of a key.
pub fn to_pkcs8_pem(key: &KeyMaterial) -> Result<Zeroizing<String>, String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let pem = match key {
        KeyMaterial::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
        KeyMaterial::Ed25519(k) => k.to_pkcs8_pem(LineEnding::LF),
    }
    .map_err(|e| format!("cannot encode the key: {e}"))?;
    Ok(Zeroizing::new(pem.as_str().to_owned()))
}

/// Run `mass keygen`: write the key file, print the DNS record.
pub fn run(args: &KeygenArgs) -> Result<(), String> {
    for (what, v) in [("domain", &args.domain), ("selector", &args.selector)] {
        let ok = !v.is_empty()
            && v.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !ok {
            return Err(format!("--{what} `{v}` is not a valid domain name"));
        }
    }
    let key = generate(args.algorithm)?;
    let pem = to_pkcs8_pem(&key)?;
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| format!("{}: {e}", args.out_dir.display()))?;
    let path = args.out_dir.join(format!(
        "{}.{}.pem",
        args.selector,
        args.domain.trim_end_matches('.')
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(0o600);
    if args.force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut file = opts.open(&path).map_err(|e| {
        format!(
            "{}: {e}{}",
            path.display(),
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                " (use --force to replace it)"
            } else {
                ""
            }
        )
    })?;
    // The mode of an existing file is not changed by open(): set it.
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.sync_all()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "{}",
        dns_record(&args.selector, &args.domain, &key).map_err(|e| e.to_string())?
    );
    eprintln!("mass keygen: wrote {}", path.display());
    Ok(())
}
