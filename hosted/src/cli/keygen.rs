//! `mass keygen`: a new signing key and the DNS record to publish.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::cli::CliError;
use crate::keys::record::dns_record;
use crate::keys::{KeyError, KeyMaterial};

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
pub fn generate(algorithm: KeyAlgorithm) -> Result<KeyMaterial, KeyError> {
    match algorithm {
        KeyAlgorithm::Rsa2048 => KeyMaterial::generate_rsa(2048),
        KeyAlgorithm::Rsa3072 => KeyMaterial::generate_rsa(3072),
        KeyAlgorithm::Ed25519 => KeyMaterial::generate_ed25519(),
    }
}

/// Check `--domain` and `--selector`: names that go into the key's DNS
/// name (core's one DNS-name check).
pub fn check_name(what: &str, v: &str) -> Result<(), CliError> {
    mass_core::syntax::dns_name::check_dns_name(v.trim_end_matches('.').as_bytes())
        .map_err(|e| CliError::Usage(format!("--{what} `{v}` is not a valid domain name: {e}")))
}

/// Write `pem` to a new file at `path`, mode 0600 (`force`: replace one).
pub fn write_key_file(path: &Path, pem: &str, force: bool) -> Result<(), CliError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).mode(0o600);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Usage(format!(
                "{}: {e} (use --force to replace it)",
                path.display()
            ))
        } else {
            CliError::io(path)(e)
        }
    })?;
    // The mode of an existing file is not changed by open(): set it.
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(CliError::io(path))?;
    file.write_all(pem.as_bytes()).map_err(CliError::io(path))?;
    file.sync_all().map_err(CliError::io(path))
}

/// Run `mass keygen`: write the key file, print the DNS record.
pub fn run(args: &KeygenArgs) -> Result<(), CliError> {
    check_name("domain", &args.domain)?;
    check_name("selector", &args.selector)?;
    let key = generate(args.algorithm)?;
    let pem = key.to_pkcs8_pem()?;
    std::fs::create_dir_all(&args.out_dir).map_err(CliError::io(&args.out_dir))?;
    let path = args.out_dir.join(format!(
        "{}.{}.pem",
        args.selector,
        args.domain.trim_end_matches('.')
    ));
    write_key_file(&path, &pem, args.force)?;
    println!("{}", dns_record(&args.selector, &args.domain, &key)?);
    eprintln!("mass keygen: wrote {}", path.display());
    Ok(())
}
