//! `mass verify [--zone FILE] [--now UNIX] [--json] [--authserv-id ID] [FILE|-]`
//! (DESIGN.md, issue 3).
//!
//! ```text
//!  FILE|stdin ──64 KiB reads──► LineEndings (bare LF → CRLF, as `mass sign`)
//!      ──► mass_core verifier ◄── key records ◄── KeySource (DNS | --zone FILE)
//!      ──► verdicts ──► one Authentication-Results field (RFC 8601) | JSON lines
//! ```
//!
//! The message is streamed: memory does not grow with its size. Exit status:
//! 0 if a signature passed, 1 if none did, 2 on a usage or input error.
//!
//! DomainKey-Signature fields (RFC 4870) are checked too, by core's
//! DomainKeys verifier over the same chunks ([`crate::auth_results::domainkeys`]), and
//! reported as `domainkeys=` results with a comment that they are legacy
//! SHA-1 results: they never count as a pass for the exit status.

use mass_core::arc::{ArcResult, ChainStatus, ValidateOptions};

use crate::cli::arc::HostValidator;
use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use mass_core::dkim::verify::{MessageVerifier, VerifyOptions};

use crate::auth_results::{self, DkimResult, SignatureResult};
use crate::cli::sign::{HEADER_BYTES, HEADER_FIELDS};
use crate::dns::{self, DnsKeySource, KeySource, LookupError, TxtRecord, ZoneKeySource};

/// The most signatures `--max-signatures` may ask to check.
pub const MAX_SIGNATURES_CAP: usize = 32;

/// The verifier the CLI runs: the same header caps as `mass sign`.
type HostMessageVerifier = MessageVerifier<HEADER_BYTES, HEADER_FIELDS, MAX_SIGNATURES_CAP>;

/// `mass verify`: check the DKIM signatures of a message.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Read key records from this zone file (`name [ttl] [IN] TXT "s1" "s2"`)
    /// instead of DNS.
    #[arg(long, value_name = "FILE")]
    zone: Option<PathBuf>,
    /// The time to check t= and x= against, unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
    /// Print one JSON object per signature instead of Authentication-Results.
    #[arg(long)]
    json: bool,
    /// The authserv-id to write (default: this host's name).
    #[arg(long, value_name = "ID")]
    authserv_id: Option<String>,
    /// Look up keys for and check at most this many signatures; the rest are
    /// not evaluated. Fields that do not parse, and signatures decided
    /// without a key (rsa-sha1, expired), cost nothing; at most 50
    /// DKIM-Signature fields are read.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=MAX_SIGNATURES_CAP as i64))]
    max_signatures: u16,
    /// Give up on a DNS key lookup after this many seconds (temperror).
    #[arg(long, value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    dns_timeout: u64,
    /// The message; `-` or nothing for standard input.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Why `mass verify` could not give a verdict (exit status 2).
#[derive(Debug)]
#[non_exhaustive]
pub enum VerifyCliError {
    /// The message file could not be opened.
    Open(PathBuf, io::Error),
    /// The message could not be read.
    Read(io::Error),
    /// The message is not one the verifier can take (for example its
    /// header block passes the cap).
    Message(mass_core::Error),
    /// The clock cannot be read; `--now` gives the time instead.
    Clock(crate::clock::ClockError),
    /// The zone file could not be read or parsed.
    Zone(PathBuf, dns::ZoneReadError),
    /// The async runtime for key lookups could not be started.
    Runtime(io::Error),
    /// Writing the result failed.
    Output(io::Error),
}

impl fmt::Display for VerifyCliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(path, e) => write!(f, "{}: {e}", path.display()),
            Self::Read(e) => write!(f, "read error: {e}"),
            Self::Message(e) => write!(f, "cannot verify this message: {e}"),
            Self::Clock(e) => write!(f, "{e}; give the time with --now"),
            Self::Zone(path, e) => write!(f, "{}: {e}", path.display()),
            Self::Runtime(e) => write!(f, "cannot start the runtime: {e}"),
            Self::Output(e) => write!(f, "cannot write the result: {e}"),
        }
    }
}

impl std::error::Error for VerifyCliError {}

impl From<io::Error> for VerifyCliError {
    /// A read error: the one `io::stream` passes on.
    fn from(e: io::Error) -> Self {
        VerifyCliError::Read(e)
    }
}

/// This host's name, for the default authserv-id (RFC 8601 §2.5 suggests the
/// host name of the verifier).
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// What a verification run is told.
#[derive(Debug, Clone, Copy)]
pub struct VerifySettings {
    /// The time for `t=` and `x=`, unix seconds.
    pub now: u64,
    /// Check at most this many signatures (capped at [`MAX_SIGNATURES_CAP`]);
    /// also the most key lookups made.
    pub max_signatures: usize,
}

impl VerifySettings {
    /// Defaults: the core verifier's (5 signatures).
    pub fn new(now: u64) -> Self {
        Self {
            now,
            max_signatures: mass_core::dkim::verify::DEFAULT_MAX_SIGNATURES,
        }
    }
}

/// What verifying one message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReport {
    /// One result per checked signature, top first.
    pub results: Vec<SignatureResult>,
    /// DKIM-Signature fields in the message, checked or not.
    pub signatures_seen: usize,
    /// One result per DomainKey-Signature checked (legacy; never a pass).
    pub domainkeys: Vec<crate::auth_results::domainkeys::DkReport>,
    /// The ARC chain's result (RFC 8617 §5.2), when the message has ARC
    /// fields (`arc=none` is not reported).
    pub arc: Option<ArcReport>,
}

/// What the ARC validation of a message that has ARC fields found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArcReport {
    /// The chain was validated.
    Validated(ArcResult),
    /// The chain could not be validated (a header over the validator's
    /// capacity, say): `arc=fail` (§5.2). DKIM is verified all the same.
    NotValidatable(mass_core::Error),
}

impl ArcReport {
    /// The Authentication-Results entry.
    fn entry(&self) -> String {
        match self {
            ArcReport::Validated(r) => auth_results::arc_entry(r),
            ArcReport::NotValidatable(e) => {
                auth_results::arc_fail_entry(&format!("not validatable: {e}"))
            }
        }
    }
}

impl MessageReport {
    /// True if a signature passed (exit status 0).
    pub fn any_pass(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.result == Some(DkimResult::Pass))
    }
}

/// Verifies the message read from `input` (bare LF line ends are turned into
/// CRLF first, as `mass sign` does), asking `keys` for the key records.
///
/// The input is read with blocking reads: this is for a CLI on a
/// current-thread runtime, not for a server. The message is streamed; the
/// key lookups (DKIM's, at most `max_signatures`, and DomainKeys') run side
/// by side through [`dns::provide_keys`] once the whole input has been read.
pub async fn verify_reader<K: KeySource>(
    input: impl Read,
    keys: &K,
    settings: &VerifySettings,
) -> Result<MessageReport, VerifyCliError> {
    let mut options = VerifyOptions::new(settings.now);
    options.max_signatures = settings.max_signatures.min(MAX_SIGNATURES_CAP);
    let mut verifier = Box::new(HostMessageVerifier::new(options));
    // DomainKeys (RFC 4870) runs beside it over the same chunks.
    let mut domainkeys = crate::auth_results::domainkeys::new_verifier();
    // So does the ARC chain validator (`arc=` beside `dkim=`).
    let mut arc = Box::new(HostValidator::new(ValidateOptions::new(settings.now)));
    let mut arc_error = None;
    crate::cli::io::stream(input, |chunk| {
        domainkeys.update(chunk).map_err(VerifyCliError::Message)?;
        // An ARC failure never stops DKIM: it is kept and reported.
        if arc_error.is_none()
            && let Err(e) = arc.update(chunk)
        {
            arc_error = Some(e);
        }
        verifier
            .update(chunk)
            .map(drop)
            .map_err(VerifyCliError::Message)
    })?;
    verifier.end_of_input().map_err(VerifyCliError::Message)?;
    domainkeys.end_of_input().map_err(VerifyCliError::Message)?;
    if arc_error.is_none()
        && let Err(e) = arc.end_of_input()
    {
        arc_error = Some(e);
    }
    // The one key lookup the milter uses too: DKIM's, DomainKeys' and
    // ARC's names side by side, each once.
    let mut verifiers: Vec<&mut (dyn dns::WantsKeys + Send)> =
        vec![&mut *verifier, &mut *domainkeys];
    if arc_error.is_none() {
        verifiers.push(&mut *arc);
    }
    dns::provide_keys(verifiers, keys).await;
    let arc = match arc_error {
        // Only a message with ARC fields gets an arc= result.
        Some(e) => arc.saw_arc_fields().then_some(ArcReport::NotValidatable(e)),
        None => match arc.finish() {
            Ok(r) if r.status == ChainStatus::None => None,
            Ok(r) => Some(ArcReport::Validated(r)),
            Err(e) => Some(ArcReport::NotValidatable(e)),
        },
    };
    let domainkeys =
        crate::auth_results::domainkeys::reports(domainkeys).map_err(VerifyCliError::Message)?;

    let verification = verifier.finish().map_err(VerifyCliError::Message)?;
    let results = auth_results::signature_results(&verification);
    Ok(MessageReport {
        results,
        signatures_seen: verification.signatures_seen(),
        domainkeys,
        arc,
    })
}

/// [`verify_reader`] on a runtime of its own, for callers that have none.
pub fn verify_message<K: KeySource>(
    input: impl Read,
    keys: &K,
    settings: &VerifySettings,
) -> Result<MessageReport, VerifyCliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(VerifyCliError::Runtime)?
        .block_on(verify_reader(input, keys, settings))
}

fn open_input(path: Option<&Path>) -> Result<Box<dyn Read>, VerifyCliError> {
    match path {
        None => Ok(Box::new(io::stdin().lock())),
        Some(p) if p == Path::new("-") => Ok(Box::new(io::stdin().lock())),
        Some(p) => std::fs::File::open(p)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| VerifyCliError::Open(p.to_path_buf(), e)),
    }
}

async fn run_async(args: &VerifyArgs) -> Result<MessageReport, VerifyCliError> {
    let settings = VerifySettings {
        now: crate::clock::Clock::System
            .now_or(args.now)
            .map_err(VerifyCliError::Clock)?,
        max_signatures: usize::from(args.max_signatures),
    };
    // The key source is set up before the input is read, so that a bad
    // zone file is reported without waiting for a message.
    if let Some(zone) = &args.zone {
        let keys = ZoneKeySource::read(zone).map_err(|e| VerifyCliError::Zone(zone.clone(), e))?;
        let input = open_input(args.input.as_deref())?;
        verify_reader(input, &keys, &settings).await
    } else {
        match DnsKeySource::system(Duration::from_secs(args.dns_timeout)) {
            Ok(keys) => {
                let input = open_input(args.input.as_deref())?;
                verify_reader(input, &keys, &settings).await
            }
            Err(e) => {
                // Without a resolver every key lookup is a temperror; a
                // message without signatures still gets its dkim=none.
                eprintln!("mass verify: cannot set up DNS ({e}); key lookups give temperror");
                let input = open_input(args.input.as_deref())?;
                verify_reader(input, &NoResolver, &settings).await
            }
        }
    }
}

/// Stands in for DNS when the system resolver cannot be set up.
struct NoResolver;

impl KeySource for NoResolver {
    fn txt_records(
        &self,
        _name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send {
        std::future::ready(Err(LookupError::ServerFailure))
    }
}

fn run_inner(args: &VerifyArgs) -> Result<bool, VerifyCliError> {
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(VerifyCliError::Runtime)?
        .block_on(run_async(args))?;
    let authserv_id = args.authserv_id.clone().unwrap_or_else(host_name);
    let text = if args.json {
        let mut lines = auth_results::write_json(&authserv_id, &report.results);
        lines.push_str(&crate::auth_results::domainkeys::json_lines(
            &authserv_id,
            &report.domainkeys,
        ));
        match &report.arc {
            Some(ArcReport::Validated(arc)) => {
                lines.push_str(&auth_results::arc_json(&authserv_id, arc));
            }
            Some(ArcReport::NotValidatable(e)) => lines.push_str(&format!(
                "{{\"authserv_id\":{},\"method\":\"arc\",\"result\":\"fail\",\"reason\":{}}}\n",
                serde_json::Value::from(authserv_id.as_str()),
                serde_json::Value::from(format!("not validatable: {e}"))
            )),
            None => {}
        }
        lines
    } else {
        let mut field = auth_results::write_field(&authserv_id, &report.results, "\n\t");
        crate::auth_results::domainkeys::append_to_field(&mut field, &report.domainkeys, "\n\t");
        if let Some(arc) = &report.arc {
            auth_results::append_resinfo(&mut field, &arc.entry(), "\n\t");
        }
        field.push('\n');
        field
    };
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(VerifyCliError::Output)?;
    Ok(report.any_pass())
}

/// Runs `mass verify`: exit 0 if a signature passed, 1 if none did, 2 on a
/// usage or input error.
pub fn run(args: &VerifyArgs) -> ExitCode {
    match run_inner(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("mass verify: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::test_server::{self, Reply};
    use base64ct::Encoding;
    use mass_core::{Ed25519Signer, MessageSigner, SignRequest, SigningAlgorithm};

    const MESSAGE: &[u8] = b"From: a@example.test\r\nSubject: dns\r\n\r\nHello.\r\n";

    fn key() -> Ed25519Signer {
        Ed25519Signer::from_seed(&[3; 32])
    }

    /// MESSAGE signed once per selector, top first.
    fn signed(selectors: &[&str]) -> Vec<u8> {
        let mut message = MESSAGE.to_vec();
        for selector in selectors.iter().rev() {
            let mut req =
                SignRequest::new("example.test", selector, SigningAlgorithm::Ed25519Sha256);
            req.timestamp = Some(1_700_000_000);
            let mut signer = MessageSigner::<4096, 32>::new(&req).unwrap();
            signer.update(&message).unwrap();
            let mut out = [0u8; 1024];
            let n = signer.finish(&mut key(), &mut out).unwrap();
            let mut next = out[..n].to_vec();
            next.extend_from_slice(b"\r\n");
            next.extend_from_slice(&message);
            message = next;
        }
        message
    }

    /// The whole path through real DNS on a local socket: a key split into
    /// several strings passes (row 12), junk beside it is skipped (row 13),
    /// SERVFAIL and no answer give temperror and NXDOMAIN permerror
    /// (row 14); the lookups run side by side.
    #[tokio::test]
    async fn verifies_with_keys_from_dns() {
        let p = base64ct::Base64::encode_string(&key().public_key());
        let server = test_server::start(vec![
            (
                "split._domainkey.example.test",
                Reply::Records(vec![vec![
                    "v=DKIM1; k=ed25519; ".into(),
                    format!("p={}", &p[..10]),
                    p[10..].to_string(),
                ]]),
            ),
            (
                "junk._domainkey.example.test",
                Reply::Records(vec![
                    vec!["v=spf1 -all".into()],
                    vec![format!("v=DKIM1; k=ed25519; p={p}")],
                ]),
            ),
            ("servfail._domainkey.example.test", Reply::ServFail),
            ("silent._domainkey.example.test", Reply::Silent),
        ])
        .await;
        let dns = DnsKeySource::with_server(server.addr, Duration::from_millis(700)).unwrap();
        let message = signed(&["split", "junk", "servfail", "silent", "missing"]);
        let started = std::time::Instant::now();
        let report = verify_reader(&message[..], &dns, &VerifySettings::new(1_700_000_100))
            .await
            .unwrap();
        let verdicts: Vec<_> = report.results.iter().map(|r| r.result.unwrap()).collect();
        assert_eq!(
            verdicts,
            [
                DkimResult::Pass,
                DkimResult::Pass,
                DkimResult::Temperror,
                DkimResult::Temperror,
                DkimResult::Permerror
            ]
        );
        assert!(report.any_pass());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    /// `arc=` beside `dkim=`: a message DKIM-signed, then ARC-sealed by the
    /// same key, passes both through the one lookup; without ARC fields
    /// there is no `arc=`.
    #[tokio::test]
    async fn an_arc_chain_is_reported_beside_dkim() {
        use mass_core::arc::{ArcSealer, SealRequest};
        let dkim_signed = signed(&["s"]);
        let mut req = SealRequest::new(
            "example.test",
            "s",
            SigningAlgorithm::Ed25519Sha256,
            "mx.example.test",
        );
        req.timestamp = Some(1_700_000_000);
        let mut sealer = Box::new(ArcSealer::<4096, 32>::new(&req).unwrap());
        sealer.update(&dkim_signed).unwrap();
        let mut out = [0u8; 2048];
        let set = sealer
            .finish(&[b"dkim=pass"], ChainStatus::None, &mut key(), &mut out)
            .unwrap();
        let mut sealed = out[..set.len].to_vec();
        sealed.extend_from_slice(b"\r\n");
        sealed.extend_from_slice(&dkim_signed);
        let zone = format!(
            "s._domainkey.example.test. IN TXT \"v=DKIM1; k=ed25519; p={}\"\n",
            base64ct::Base64::encode_string(&key().public_key())
        );
        let keys = ZoneKeySource::parse(zone.as_bytes()).unwrap();
        let settings = VerifySettings::new(1_700_000_100);
        let report = verify_reader(&sealed[..], &keys, &settings).await.unwrap();
        assert!(report.any_pass());
        let Some(ArcReport::Validated(arc)) = report.arc else {
            panic!("no arc= result");
        };
        assert_eq!((arc.status, arc.instances), (ChainStatus::Pass, 1));
        let plain = verify_reader(&dkim_signed[..], &keys, &settings)
            .await
            .unwrap();
        assert_eq!(plain.arc, None);
    }

    #[tokio::test]
    async fn no_resolver_gives_temperror() {
        let report = verify_reader(
            &signed(&["any"])[..],
            &NoResolver,
            &VerifySettings::new(1_700_000_100),
        )
        .await
        .unwrap();
        assert_eq!(report.results[0].result, Some(DkimResult::Temperror));
        assert!(!report.any_pass());
    }
}
