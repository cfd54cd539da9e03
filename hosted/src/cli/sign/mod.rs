//! `mass sign`: sign one message read from a file or standard input, with
//! a DKIM-Signature ([`dkim`]) or a legacy DomainKey-Signature
//! ([`domainkeys`]).
//!
//! The input streams through core in 64 KiB chunks ([`crate::cli::io`]),
//! so memory stays small whatever the message size. Bare LF line ends are
//! converted to CRLF first (RFC 6376 §5.3); the message written out is the
//! converted one, which is what the signature covers.

pub mod dkim;
pub mod domainkeys;

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use mass_core::{Canon, Canonicalization, MessageSigner};

use crate::cli::CliError;
use crate::keys::{KeyMaterial, load_key};

/// Header bytes kept per message on a host (the signed fields only).
pub const HEADER_BYTES: usize = 64 * 1024;
/// Header fields kept per message on a host.
pub const HEADER_FIELDS: usize = 1024;
/// The signer used on hosts.
pub type HostMessageSigner = MessageSigner<HEADER_BYTES, HEADER_FIELDS>;

/// `mass sign` arguments.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The private key (PKCS#8 or PKCS#1 PEM), readable by its owner only.
    #[arg(long)]
    pub key: PathBuf,
    /// The signing domain (d=).
    #[arg(long)]
    pub domain: String,
    /// The selector (s=).
    #[arg(long)]
    pub selector: String,
    /// The algorithm, by its a= name or by the name `mass keygen` gives
    /// the key; by default the key's own. A key-size name (rsa-2048,
    /// rsa-3072, rsa-4096) must match the key's size: another size is
    /// refused, not treated as any RSA key.
    #[arg(long, value_enum)]
    pub algorithm: Option<AlgorithmName>,
    /// dkim (default) writes a DKIM-Signature; domainkeys writes a legacy
    /// DomainKey-Signature (RFC 4870, rsa-sha1, RSA keys only).
    #[arg(long, default_value = "dkim")]
    pub scheme: String,
    /// Canonicalization. DKIM: header/body, relaxed/relaxed (default),
    /// simple/simple, relaxed/simple or simple/relaxed. DomainKeys: simple
    /// (default) or nofws.
    #[arg(long)]
    pub canon: Option<String>,
    /// Header fields to sign, colon-separated; each is oversigned once.
    /// Default: from:to:cc:subject:date:reply-to:message-id:mime-version:content-type.
    #[arg(long)]
    pub headers: Option<String>,
    /// Use --headers as the exact h= list (no oversigning).
    #[arg(long)]
    pub exact_headers: bool,
    /// The signing time t= (seconds since the epoch); default now.
    #[arg(long)]
    pub now: Option<u64>,
    /// Set x= this many seconds after t=.
    #[arg(long)]
    pub expire: Option<u64>,
    /// The agent or user identifier i= (e.g. user@example.com or @example.com).
    #[arg(long)]
    pub identity: Option<String>,
    /// Add l=: with no value the whole body's length; with N, sign only
    /// the first N canonical body bytes (RFC 6376 §8.2 warns against it).
    #[arg(long, num_args = 0..=1, default_missing_value = "whole")]
    pub body_length: Option<String>,
    /// Add z= with copies of the signed header fields.
    #[arg(long)]
    pub copy_headers: bool,
    /// Print only the DKIM-Signature field, not the signed message.
    #[arg(long)]
    pub header_only: bool,
    /// Accept a key file that group or others can read.
    #[arg(long)]
    pub insecure_key_permissions: bool,
    /// The message; `-` or nothing for standard input.
    pub input: Option<PathBuf>,
}

/// What `--algorithm` may name: the `a=` value, or the key as `mass keygen`
/// names it, so that one word can be copied from one command to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgorithmName {
    /// a=rsa-sha256 with any RSA key (DKIM).
    #[value(name = "rsa-sha256")]
    RsaSha256,
    /// A 2048-bit RSA key: a=rsa-sha256 (DKIM), a=rsa-sha1 (DomainKeys).
    #[value(name = "rsa-2048")]
    Rsa2048,
    /// A 3072-bit RSA key: a=rsa-sha256 (DKIM), a=rsa-sha1 (DomainKeys).
    #[value(name = "rsa-3072")]
    Rsa3072,
    /// A 4096-bit RSA key: a=rsa-sha256 (DKIM), a=rsa-sha1 (DomainKeys).
    #[value(name = "rsa-4096")]
    Rsa4096,
    /// Any RSA key: a=rsa-sha256 (DKIM), a=rsa-sha1 (DomainKeys).
    #[value(name = "rsa")]
    Rsa,
    /// a=ed25519-sha256 (RFC 8463), with an Ed25519 key.
    #[value(name = "ed25519-sha256")]
    Ed25519Sha256,
    /// An Ed25519 key: a=ed25519-sha256.
    #[value(name = "ed25519")]
    Ed25519,
    /// a=rsa-sha1 with any RSA key: --scheme domainkeys only.
    #[value(name = "rsa-sha1")]
    RsaSha1,
}

/// The key types an [`AlgorithmName`] can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Rsa,
    Ed25519,
}

impl AlgorithmName {
    /// The name as the user wrote it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlgorithmName::RsaSha256 => "rsa-sha256",
            AlgorithmName::Rsa2048 => "rsa-2048",
            AlgorithmName::Rsa3072 => "rsa-3072",
            AlgorithmName::Rsa4096 => "rsa-4096",
            AlgorithmName::Rsa => "rsa",
            AlgorithmName::Ed25519Sha256 => "ed25519-sha256",
            AlgorithmName::Ed25519 => "ed25519",
            AlgorithmName::RsaSha1 => "rsa-sha1",
        }
    }

    fn family(self) -> KeyFamily {
        match self {
            AlgorithmName::Ed25519Sha256 | AlgorithmName::Ed25519 => KeyFamily::Ed25519,
            _ => KeyFamily::Rsa,
        }
    }

    /// The RSA modulus size the name asks for, if it names one.
    fn rsa_bits(self) -> Option<u32> {
        match self {
            AlgorithmName::Rsa2048 => Some(2048),
            AlgorithmName::Rsa3072 => Some(3072),
            AlgorithmName::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// Check that `key` is the key this name asks for (its type, and its
    /// size for a key-size name). `path` names the key file in the error.
    pub fn check_key(self, key: &KeyMaterial, path: &Path) -> Result<(), CliError> {
        let (family, bits) = match key {
            KeyMaterial::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                (KeyFamily::Rsa, Some(k.n().bit_width()))
            }
            KeyMaterial::Ed25519(_) => (KeyFamily::Ed25519, None),
        };
        let holds = match bits {
            Some(b) => format!("a {b}-bit RSA key"),
            None => "an Ed25519 key".to_string(),
        };
        if family != self.family() || self.rsa_bits().is_some_and(|want| Some(want) != bits) {
            return Err(CliError::Usage(format!(
                "--algorithm {} does not fit {}, which holds {holds}",
                self.as_str(),
                path.display()
            )));
        }
        Ok(())
    }
}

/// Parse `--canon`.
pub fn parse_canon(s: &str) -> Result<Canonicalization, CliError> {
    let (h, b) = s.split_once('/').ok_or_else(|| {
        CliError::Usage(format!(
            "--canon `{s}`: expected header/body, e.g. relaxed/relaxed"
        ))
    })?;
    let one = |v: &str| {
        Canon::from_name(v.as_bytes())
            .ok_or_else(|| CliError::Usage(format!("--canon: `{v}` is neither simple nor relaxed")))
    };
    Ok(Canonicalization {
        header: one(h)?,
        body: one(b)?,
    })
}

/// Read and check the key file (permissions first, then the key).
pub fn read_key(path: &Path, insecure: bool) -> Result<KeyMaterial, CliError> {
    if !insecure {
        crate::config::check_key_permissions(path)?;
    }
    Ok(load_key(path)?)
}

/// Run `mass sign`.
pub fn run(args: &SignArgs) -> Result<(), CliError> {
    match args.scheme.as_str() {
        "dkim" => dkim::run(args),
        "domainkeys" => domainkeys::run(args),
        other => Err(CliError::Usage(format!(
            "--scheme `{other}`: expected dkim or domainkeys"
        ))),
    }
}

/// The header names of `--headers`, colon-separated.
fn header_names(headers: &str) -> Vec<&str> {
    headers
        .split(':')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect()
}
