//! `mass serve --dev`: a development set-up in one command. The first run
//! makes a directory with an RSA-2048 and an Ed25519 key and a config
//! file; every run prints the DNS records to publish and the Postfix lines
//! that hook the milter in, then serves with that config.

use std::path::{Path, PathBuf};

use crate::cli::CliError;
use crate::cli::keygen::{KeyAlgorithm, check_name, generate, write_key_file};
use crate::keys::load_key;
use crate::keys::record::dns_record;

/// The listen address of the development set-up.
pub const DEV_LISTEN: &str = "inet:127.0.0.1:8891";

/// Make (or reuse) the development directory `dir` for `domain`; print the
/// DNS records and Postfix lines; return the config file to serve.
pub fn prepare(dir: &Path, domain: &str) -> Result<PathBuf, CliError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    check_name("domain", domain)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(CliError::io(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(CliError::io(dir))?;
    let keys = [
        ("dev-rsa", KeyAlgorithm::Rsa2048),
        ("dev-ed25519", KeyAlgorithm::Ed25519),
    ];
    let mut records = Vec::new();
    for (selector, algorithm) in keys {
        let path = dir.join(format!("{selector}.{domain}.pem"));
        if !path.exists() {
            let key = generate(algorithm)?;
            write_key_file(&path, &key.to_pkcs8_pem()?, false)?;
            eprintln!("mass serve --dev: made {}", path.display());
        }
        let key = load_key(&path)?;
        records.push(dns_record(selector, domain, &key)?);
    }
    let config = dir.join("mass.toml");
    if !config.exists() {
        let text = format!(
            "# mass serve development config, made by `mass serve --dev`.\n\
             listen = \"{DEV_LISTEN}\"\n\
             authserv_id = \"localhost\"\n\
             internal_networks = [\"127.0.0.0/8\", \"::1/128\"]\n\
             signing_daemons = [\"ORIGINATING\"]\n\
             on_error = \"tempfail\"\n\
             on_refuse = \"accept\"\n\n\
             [[key]]\ndomain = \"{domain}\"\nselector = \"dev-rsa\"\nfile = \"dev-rsa.{domain}.pem\"\n\n\
             [[key]]\ndomain = \"{domain}\"\nselector = \"dev-ed25519\"\nfile = \"dev-ed25519.{domain}.pem\"\n"
        );
        std::fs::write(&config, text).map_err(CliError::io(&config))?;
    }
    println!("; Publish these DNS records:");
    for r in &records {
        println!("{r}");
    }
    println!();
    println!("# Add these lines to Postfix's main.cf, then `postfix reload`:");
    println!("smtpd_milters = {DEV_LISTEN}");
    println!("non_smtpd_milters = $smtpd_milters");
    println!("milter_default_action = tempfail");
    println!();
    println!("# Serving with {} (stop with Ctrl-C)", config.display());
    Ok(config)
}
