//! `mass sign`: sign one message read from a file or standard input.
//!
//! The input streams through core in 64 KiB chunks, so memory stays small
//! whatever the message size. Bare LF line ends are converted to CRLF
//! first (RFC 6376 §5.3); the message written out is the converted one,
//! which is what the signature covers.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use mass_core::canon::normalize::LineEndings;
use mass_core::{BodyLength, Canon, Canonicalization, HeaderSelection, MessageSigner, SignRequest};

use crate::clock::Clock;
use crate::keys::record::{KeySigner, key_algorithm};
use crate::keys::{KeyMaterial, load_key};

/// Header bytes kept per message on a host (the signed fields only).
pub const HEADER_BYTES: usize = 64 * 1024;
/// Header fields kept per message on a host.
pub const HEADER_FIELDS: usize = 1024;
/// The signer used on hosts.
pub type HostMessageSigner = MessageSigner<HEADER_BYTES, HEADER_FIELDS>;

pub(crate) const CHUNK: usize = 64 * 1024;

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
    pub fn check_key(self, key: &KeyMaterial, path: &Path) -> Result<(), String> {
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
            return Err(format!(
                "--algorithm {} does not fit {}, which holds {holds}",
                self.as_str(),
                path.display()
            ));
        }
        Ok(())
    }
}

/// Parse `--canon`.
pub fn parse_canon(s: &str) -> Result<Canonicalization, String> {
    let (h, b) = s
        .split_once('/')
        .ok_or_else(|| format!("--canon `{s}`: expected header/body, e.g. relaxed/relaxed"))?;
    let one = |v: &str| {
        Canon::from_name(v.as_bytes())
            .ok_or_else(|| format!("--canon: `{v}` is neither simple nor relaxed"))
    };
    Ok(Canonicalization {
        header: one(h)?,
        body: one(b)?,
    })
}

/// Read and check the key file (permissions first, then the key).
pub fn read_key(path: &Path, insecure: bool) -> Result<KeyMaterial, String> {
    if !insecure {
        crate::config::check_key_permissions(path).map_err(|e| e.to_string())?;
    }
    load_key(path).map_err(|e| e.to_string())
}

/// The input source: a file that can be read twice, or standard input
/// spooled to an unlinked temporary file when the message must be written
/// out after its signature.
pub(crate) enum Input {
    File(File),
    Stdin(io::Stdin),
}

impl Input {
    pub(crate) fn open(path: Option<&Path>) -> Result<Self, String> {
        match path {
            None => Ok(Input::Stdin(io::stdin())),
            Some(p) if p == Path::new("-") => Ok(Input::Stdin(io::stdin())),
            Some(p) => File::open(p)
                .map(Input::File)
                .map_err(|e| format!("{}: {e}", p.display())),
        }
    }
}

pub(crate) use crate::spool::spool_file;

/// Stream `reader` through line-ending conversion into `each`.
pub(crate) fn stream(
    mut reader: impl Read,
    mut each: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK];
    let mut lines = LineEndings::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read error: {e}")),
        };
        lines.update(&buf[..n], &mut each)?;
    }
}

/// Run `mass sign`.
pub fn run(args: &SignArgs) -> Result<(), String> {
    match args.scheme.as_str() {
        "dkim" => {}
        "domainkeys" => return crate::cli::sign_dk::run(args),
        other => return Err(format!("--scheme `{other}`: expected dkim or domainkeys")),
    }
    if args.algorithm == Some(AlgorithmName::RsaSha1) {
        return Err(
            "--algorithm rsa-sha1 is for --scheme domainkeys; DKIM signs RSA keys with rsa-sha256 (RFC 8301)"
                .into(),
        );
    }
    let key = read_key(&args.key, args.insecure_key_permissions)?;
    if let Some(name) = args.algorithm {
        name.check_key(&key, &args.key)?;
    }
    let algorithm = key_algorithm(&key);
    let now = Clock::System
        .now_or(args.now)
        .map_err(|e| format!("{e}; give the signing time with --now"))?;
    let names: Vec<&str> = match &args.headers {
        Some(h) => h
            .split(':')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect(),
        None => mass_core::dkim::sign::DEFAULT_SIGNED_HEADERS.to_vec(),
    };
    let mut req = SignRequest::new(&args.domain, &args.selector, algorithm);
    req.canonicalization = parse_canon(args.canon.as_deref().unwrap_or("relaxed/relaxed"))?;
    req.headers = if args.exact_headers {
        HeaderSelection::Exact(&names)
    } else {
        HeaderSelection::Oversign(&names)
    };
    req.timestamp = Some(now);
    req.expiration = match args.expire {
        Some(secs) => Some(now.checked_add(secs).ok_or("--expire is too large")?),
        None => None,
    };
    req.identity = args.identity.as_deref();
    req.body_length = match args.body_length.as_deref() {
        None => BodyLength::Omit,
        Some("whole") => BodyLength::Whole,
        Some(n) => BodyLength::Limit(
            n.parse()
                .map_err(|_| format!("--body-length `{n}` is not a number"))?,
        ),
    };
    req.copied_headers = args.copy_headers;

    let mut signer =
        Box::new(HostMessageSigner::new(&req).map_err(|e| format!("cannot sign: {e}"))?);
    let replay = read_message(args, |c| {
        signer
            .update(c)
            .map(drop)
            .map_err(|e| format!("cannot sign: {e}"))
    })?;
    let mut key_signer = KeySigner::new(&key).map_err(|e| format!("cannot use the key: {e}"))?;
    let required = signer.required_len(&key_signer);
    let field = finish_into_field(required, |buf| signer.finish(&mut key_signer, buf))?;
    write_signed(args, &field, replay)
}

/// Read the message of `args` (a file, or standard input) through bare-LF
/// conversion into `each`. Unless `--header-only`, returns where it can be
/// read again: the file itself, or stdin spooled to an unlinked file (which
/// then holds the converted message).
pub(crate) fn read_message(
    args: &SignArgs,
    mut each: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<Option<File>, String> {
    match Input::open(args.input.as_deref())? {
        Input::File(mut f) => {
            stream(&mut f, each)?;
            Ok(Some(f))
        }
        Input::Stdin(stdin) => {
            let mut spool = if args.header_only {
                None
            } else {
                Some(io::BufWriter::new(
                    spool_file().map_err(|e| e.to_string())?,
                ))
            };
            stream(stdin.lock(), |c| {
                if let Some(s) = spool.as_mut() {
                    s.write_all(c)
                        .map_err(|e| format!("spool write error: {e}"))?;
                }
                each(c)
            })?;
            spool
                .map(|s| {
                    s.into_inner()
                        .map_err(|e| format!("spool write error: {e}"))
                })
                .transpose()
        }
    }
}

/// The signature field `finish` writes, in a buffer of the size the
/// signer asked for beforehand (`required_len`), so nothing is guessed.
pub(crate) fn finish_into_field(
    required: usize,
    finish: impl FnOnce(&mut [u8]) -> Result<usize, mass_core::Error>,
) -> Result<Vec<u8>, String> {
    let mut field = vec![0u8; required];
    let n = finish(&mut field).map_err(|e| format!("cannot sign: {e}"))?;
    field.truncate(n);
    Ok(field)
}

/// Write `field` and a CRLF, then (unless `--header-only`) the message
/// again from `replay`.
pub(crate) fn write_signed(
    args: &SignArgs,
    field: &[u8],
    replay: Option<File>,
) -> Result<(), String> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(CHUNK, stdout.lock());
    let write_err = |e: io::Error| format!("write error: {e}");
    out.write_all(field).map_err(write_err)?;
    out.write_all(b"\r\n").map_err(write_err)?;
    if !args.header_only {
        let mut f = replay.ok_or("internal error: nothing to replay")?;
        f.rewind()
            .map_err(|e| format!("cannot re-read the input: {e}"))?;
        if matches!(args.input.as_deref(), Some(p) if p != Path::new("-")) {
            stream(f, |c| out.write_all(c).map_err(write_err))?;
        } else {
            // The spool already holds the converted message.
            io::copy(&mut f, &mut out).map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)
}
