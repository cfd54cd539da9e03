//! `mass arc verify` and `mass arc seal` (RFC 8617, issue 11).
//!
//! ```text
//!  FILE|stdin ──64 KiB reads──► LineEndings ──► core ChainValidator ◄── keys (DNS | --zone)
//!                                   │             └─► arc=pass|fail|none (RFC 8617 §10.1)
//!                                   ├─► core MessageVerifier (seal, unless --results)
//!                                   └─► core ArcSealer ──► AS, AMS, AAR on top of the message
//! ```
//!
//! `verify` prints one Authentication-Results field with the `arc=` result
//! (or a JSON object with `--json`) and exits 0 on pass, 1 on none or fail,
//! 2 on an error. `seal` validates the chain, records the results (its own
//! DKIM verification and the chain's `arc=`, or `--results`) in the AAR,
//! and prints the message with the new set on top; a chain whose newest
//! seal says `cv=fail` is passed on unsealed (§5.1), with exit status 1.
//! Keys are looked up through [`dns::provide_keys`], the lookup `mass
//! verify` and the milter use.

use std::io::{self, Seek, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mass_core::arc::auth_results::results_of;
use mass_core::arc::{
    ArcResult, ArcSealer, ChainStatus, ChainValidator, SealRequest, SealerError, ValidateOptions,
};
use mass_core::dkim::verify::{MessageVerifier, VerifyOptions};
use mass_core::header::field_value;
use mass_core::{HeaderSelection, canon::Canonicalization};

use crate::auth_results::{self, arc_entry};
use crate::cli::CliError;
use crate::cli::io::{read_message, stream, write_signed};
use crate::cli::sign::{HEADER_BYTES, HEADER_FIELDS, parse_canon, read_key};
use crate::clock::Clock;
use crate::dns::{self, DnsKeySource, KeySource, ZoneKeySource};
use crate::keys::{KeySigner, SigningKey};

/// The most distinct keys an ARC validation looks up (the core's `KEYS`;
/// the default budget is [`mass_core::arc::validate::DEFAULT_MAX_KEY_LOOKUPS`]).
pub const ARC_KEYS: usize = 16;

/// The validator the CLI runs: the header caps of `mass sign`.
pub(crate) type HostValidator = ChainValidator<HEADER_BYTES, HEADER_FIELDS, ARC_KEYS>;
/// The sealer the CLI runs.
type HostSealer = ArcSealer<HEADER_BYTES, HEADER_FIELDS>;
/// The DKIM verifier `seal` runs to fill the AAR.
type HostVerifier = MessageVerifier<HEADER_BYTES, HEADER_FIELDS, 8>;

/// `mass arc`: ARC chains (RFC 8617).
#[derive(clap::Args, Debug)]
pub struct ArcArgs {
    #[command(subcommand)]
    command: ArcCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ArcCommand {
    /// Validate a message's ARC chain; print the arc= Authentication-Results
    /// entry (exit 0 pass, 1 none or fail, 2 error).
    Verify(VerifyArgs),
    /// Seal a message: print it with its next ARC set on top.
    Seal(SealArgs),
}

/// Where keys come from and when it is.
#[derive(clap::Args, Debug)]
pub(crate) struct Lookup {
    /// Read key records from this zone file instead of DNS.
    #[arg(long, value_name = "FILE")]
    pub(crate) zone: Option<PathBuf>,
    /// The time to verify at, unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    pub(crate) now: Option<u64>,
    /// Give up on a DNS key lookup after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub(crate) dns_timeout: u64,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    lookup: Lookup,
    /// Print a JSON object instead of Authentication-Results.
    #[arg(long)]
    json: bool,
    /// The authserv-id to write (default: this host's name).
    #[arg(long, value_name = "ID")]
    authserv_id: Option<String>,
    /// The message; `-` or nothing for standard input.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct SealArgs {
    #[command(flatten)]
    lookup: Lookup,
    /// The private key (PEM, PKCS#8 or PKCS#1).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// d= of the AMS and AS.
    #[arg(long)]
    domain: String,
    /// s= of the AMS and AS.
    #[arg(long)]
    selector: String,
    /// The authserv-id the AAR records the results under.
    #[arg(long, value_name = "ID")]
    authserv_id: String,
    /// The results to record, `;`-separated (default: this command's own
    /// DKIM verification and the chain's arc= result).
    #[arg(long, value_name = "TEXT")]
    results: Option<String>,
    /// The AMS c= (the AS is always relaxed).
    #[arg(long, value_name = "HEADER/BODY")]
    canon: Option<String>,
    /// Accept a key file that group or others can read.
    #[arg(long)]
    insecure_key_permissions: bool,
    /// The message; `-` or nothing for standard input.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Run `mass arc`.
pub fn run(args: &ArcArgs) -> ExitCode {
    let (what, result) = match &args.command {
        ArcCommand::Verify(a) => ("arc verify", run_verify(a)),
        ArcCommand::Seal(a) => ("arc seal", run_seal(a)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("mass {what}: {e}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Answer the key requests of `verifiers` from the zone file or DNS.
pub(crate) async fn look_up(
    lookup: &Lookup,
    verifiers: Vec<&mut (dyn dns::WantsKeys + Send)>,
) -> Result<(), CliError> {
    match &lookup.zone {
        Some(zone) => {
            let keys = ZoneKeySource::read(zone)
                .map_err(|e| CliError::Usage(format!("{}: {e}", zone.display())))?;
            dns::provide_keys(verifiers, &keys).await;
        }
        None => {
            let keys = DnsKeySource::system(Duration::from_secs(lookup.dns_timeout))
                .map_err(|e| CliError::Usage(format!("cannot set up DNS: {e}")))?;
            dns::provide_keys(verifiers, &keys).await;
        }
    }
    Ok(())
}

/// Validate the chain of the message read from `input` with keys from
/// `keys` (the core's bound: at most 8 distinct key names by default).
pub async fn validate_reader<K: KeySource>(
    input: impl io::Read,
    keys: &K,
    now: u64,
) -> Result<ArcResult, CliError> {
    let mut validator = Box::new(HostValidator::new(ValidateOptions::new(now)));
    stream(input, |c| {
        validator.update(c).map(drop).map_err(CliError::Sign)
    })?;
    validator.end_of_input().map_err(CliError::Sign)?;
    dns::provide_keys(vec![&mut *validator], keys).await;
    validator.finish().map_err(CliError::Sign)
}

fn run_verify(args: &VerifyArgs) -> Result<bool, CliError> {
    let now = Clock::System.now_or(args.lookup.now)?;
    let result = runtime()?.block_on(async {
        let mut validator = Box::new(HostValidator::new(ValidateOptions::new(now)));
        read_message(args.input.as_deref(), false, |c| {
            validator.update(c).map(drop).map_err(CliError::Sign)
        })?;
        validator.end_of_input().map_err(CliError::Sign)?;
        look_up(&args.lookup, vec![&mut *validator]).await?;
        validator.finish().map_err(CliError::Sign)
    })?;
    let authserv_id = args
        .authserv_id
        .clone()
        .unwrap_or_else(crate::cli::verify::host_name);
    let text = if args.json {
        auth_results::arc_json(&authserv_id, &result)
    } else {
        format!(
            "{}: {authserv_id};\n\t{}\n",
            auth_results::FIELD_NAME,
            arc_entry(&result)
        )
    };
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(CliError::Write)?;
    Ok(result.status == ChainStatus::Pass)
}

fn run_seal(args: &SealArgs) -> Result<bool, CliError> {
    let material = read_key(&args.key, args.insecure_key_permissions)?;
    let now = Clock::System.now_or(args.lookup.now)?;
    let mut req = SealRequest::new(
        &args.domain,
        &args.selector,
        material.algorithm(),
        &args.authserv_id,
    );
    req.canonicalization = match &args.canon {
        Some(c) => parse_canon(c)?,
        None => Canonicalization::RELAXED,
    };
    req.headers = HeaderSelection::Oversign(&mass_core::arc::sealer::DEFAULT_SEALED_HEADERS);
    req.timestamp = Some(now);
    let mut sealer = Box::new(HostSealer::new(&req).map_err(seal_error)?);
    let mut validator = Box::new(HostValidator::new(ValidateOptions::new(now)));
    let mut dkim = Box::new(HostVerifier::new(VerifyOptions::new(now)));
    let own_results = args.results.is_none();
    let rt = runtime()?;
    let (replay, chain, dkim) = rt.block_on(async {
        let replay = read_message(args.input.as_deref(), true, |c| {
            sealer.update(c).map_err(CliError::Sign)?;
            validator.update(c).map_err(CliError::Sign)?;
            if own_results {
                dkim.update(c).map_err(CliError::Sign)?;
            }
            Ok(())
        })?;
        validator.end_of_input().map_err(CliError::Sign)?;
        dkim.end_of_input().map_err(CliError::Sign)?;
        if own_results {
            look_up(&args.lookup, vec![&mut *validator, &mut *dkim]).await?;
        } else {
            look_up(&args.lookup, vec![&mut *validator]).await?;
        }
        let chain = validator.finish().map_err(CliError::Sign)?;
        Ok::<_, CliError>((replay, chain, dkim))
    })?;
    let results = match &args.results {
        Some(text) => text
            .split(';')
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect(),
        None => {
            let verification = dkim.finish().map_err(CliError::Sign)?;
            let field = auth_results::write_field(
                &args.authserv_id,
                &auth_results::signature_results(&verification),
                " ",
            );
            let mut own: Vec<String> =
                results_of(field_value(field.as_bytes()), args.authserv_id.as_bytes())
                    .map(|r| vec![String::from_utf8_lossy(r).into_owned()])
                    .unwrap_or_default();
            own.push(format!("arc={}", chain.status));
            own
        }
    };
    let parts: Vec<&[u8]> = results.iter().map(|r| r.as_bytes()).collect();
    let key = SigningKey::for_one_signature(args.domain.clone(), args.selector.clone(), material);
    let mut signer = KeySigner::new(&key);
    let need = sealer.required_len(&parts, &signer).map_err(seal_error)?;
    let mut out = vec![0u8; need];
    match sealer.finish(&parts, chain.status, &mut signer, &mut out) {
        Ok(set) => {
            let mut fields = Vec::with_capacity(out.len() + 4);
            for (n, span) in [set.seal, set.message_signature, set.auth_results]
                .into_iter()
                .enumerate()
            {
                if n > 0 {
                    fields.extend_from_slice(b"\r\n");
                }
                fields.extend_from_slice(span.get(&out).unwrap_or_default());
            }
            write_signed(&fields, replay)?;
            Ok(true)
        }
        Err(SealerError::ChainFailed) => {
            eprintln!(
                "mass arc seal: the newest ARC-Seal says cv=fail (RFC 8617 §5.1); passed on unsealed"
            );
            write_unchanged(replay)?;
            Ok(false)
        }
        Err(e) => Err(seal_error(e)),
    }
}

/// The message as it came, when it is not sealed.
fn write_unchanged(replay: Option<crate::cli::io::Replay>) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match replay {
        Some(crate::cli::io::Replay::File(mut f)) => {
            f.rewind().map_err(CliError::Read)?;
            stream(f, |c| out.write_all(c).map_err(CliError::Write))?;
        }
        Some(crate::cli::io::Replay::Spooled(mut f)) => {
            f.rewind().map_err(CliError::Spool)?;
            io::copy(&mut f, &mut out).map_err(CliError::Write)?;
        }
        None => {}
    }
    out.flush().map_err(CliError::Write)
}

fn seal_error(e: SealerError) -> CliError {
    match e {
        SealerError::Stream(e) => CliError::Sign(e),
        other => CliError::Usage(format!("cannot seal: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::Encoding;
    use mass_core::{Ed25519Signer, SigningAlgorithm};

    const MESSAGE: &[u8] = b"From: a@example.test\r\nSubject: arc\r\n\r\nHello.\r\n";
    const NOW: u64 = 1_700_000_000;

    fn key() -> Ed25519Signer {
        Ed25519Signer::from_seed(&[5; 32])
    }

    fn zone() -> ZoneKeySource {
        let p = base64ct::Base64::encode_string(&key().public_key());
        let text = format!("arc._domainkey.example.test. IN TXT \"v=DKIM1; k=ed25519; p={p}\"\n");
        ZoneKeySource::parse(text.as_bytes()).unwrap()
    }

    fn sealed() -> Vec<u8> {
        let mut req = SealRequest::new(
            "example.test",
            "arc",
            SigningAlgorithm::Ed25519Sha256,
            "mx.example.test",
        );
        req.timestamp = Some(NOW);
        let mut sealer = HostSealer::new(&req).unwrap();
        sealer.update(MESSAGE).unwrap();
        let mut out = vec![0u8; 2048];
        let set = sealer
            .finish(&[b"dkim=none"], ChainStatus::None, &mut key(), &mut out)
            .unwrap();
        let mut message = Vec::new();
        for span in [set.seal, set.message_signature, set.auth_results] {
            message.extend_from_slice(span.get(&out).unwrap());
            message.extend_from_slice(b"\r\n");
        }
        message.extend_from_slice(MESSAGE);
        message
    }

    /// The chain's keys come through the one key lookup (`provide_keys`).
    #[tokio::test]
    async fn validates_through_the_shared_lookup() {
        let result = validate_reader(&sealed()[..], &zone(), NOW).await.unwrap();
        assert_eq!(result.status, ChainStatus::Pass);
        assert_eq!(
            arc_entry(&result),
            "arc=pass (chain verified, 1 set(s)) header.oldest-pass=0"
        );
        let plain = validate_reader(MESSAGE, &zone(), NOW).await.unwrap();
        assert_eq!(arc_entry(&plain), "arc=none (no ARC sets)");
        let tampered: Vec<u8> = String::from_utf8(sealed())
            .unwrap()
            .replace("Hello.", "Hello!")
            .into_bytes();
        let failed = validate_reader(&tampered[..], &zone(), NOW).await.unwrap();
        assert_eq!(failed.status, ChainStatus::Fail);
    }
}
