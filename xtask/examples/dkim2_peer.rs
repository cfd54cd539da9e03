//! The DKIM2 test peer: signs and verifies DKIM2 (draft-ietf-dkim-dkim2-spec-03) with
//! mail-auth 0.13.3, for checking mass against an independent implementation.
//!
//! ```text
//! dkim2_peer sign --domain D --selector S --key FILE.pem [--selector S2 --key FILE2.pem] \
//!     --mail-from ADDR --rcpt ADDR [--rcpt ADDR ...] --now UNIX_SECONDS [--original FILE] \
//!     < message > signed
//! dkim2_peer verify (--dns FILE.json | --zone FILE) --mail-from ADDR --rcpt ADDR [...] \
//!     --now UNIX_SECONDS < message
//! dkim2_peer corpus DIR
//! ```
//!
//! `sign` prepends a DKIM2-Signature (and a Message-Instance when one is due) to the
//! message on stdin, with line ends made CRLF. With `--original FILE`, stdin is the
//! modified message and FILE the message as received: mail-auth diffs them and writes
//! the recipe (`r=`) into the new Message-Instance. `verify` prints `result<TAB>error`
//! and exits 0 whatever the result. `corpus` runs every case of DIR/cases.json (mail-auth's
//! resources/dkim2) through `verify`. Exit status 2: usage or I/O error.
//!
//! mail-auth takes the time from the system clock; `--now` is applied by re-executing
//! under libfaketime (see `clock.rs`). Build: `cargo build -p xtask --example dkim2_peer`.

#[path = "dkim2_peer/clock.rs"]
mod clock;
#[path = "dkim2_peer/dns.rs"]
mod dns;

use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim2::{Dkim2Signer, Envelope, Hop};
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::{AuthenticatedMessage, Dkim2Result, MessageAuthenticator};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage:
  dkim2_peer sign --domain D --selector S --key FILE.pem [--selector S2 --key FILE2.pem]
      --mail-from ADDR --rcpt ADDR [--rcpt ADDR ...] --now UNIX_SECONDS [--original FILE]
      < message > signed
  dkim2_peer verify (--dns FILE.json | --zone FILE) --mail-from ADDR --rcpt ADDR [...]
      --now UNIX_SECONDS < message
  dkim2_peer corpus DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("sign") => sign(&args[1..]),
        Some("verify") => verify(&args[1..]),
        Some("corpus") if args.len() == 2 => corpus(Path::new(&args[1])),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dkim2_peer: {err}");
            ExitCode::from(2)
        }
    }
}

/// The options of `sign` and `verify`, in the order given.
#[derive(Debug, Default)]
struct Options {
    domain: Option<String>,
    selectors: Vec<String>,
    keys: Vec<String>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
    now: Option<u64>,
    original: Option<String>,
    dns: Option<String>,
    zone: Option<String>,
}

impl Options {
    fn parse(args: &[String], allowed: &[&str]) -> Result<Options, String> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if !allowed.contains(&flag.as_str()) {
                return Err(format!("unknown option {flag}\n{USAGE}"));
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone();
            let once = |slot: &mut Option<String>| match slot.replace(value.clone()) {
                None => Ok(()),
                Some(_) => Err(format!("{flag} given twice")),
            };
            match flag.as_str() {
                "--domain" => once(&mut options.domain)?,
                "--selector" => options.selectors.push(value),
                "--key" => options.keys.push(value),
                "--mail-from" => once(&mut options.mail_from)?,
                "--rcpt" => options.rcpts.push(value),
                "--original" => once(&mut options.original)?,
                "--dns" => once(&mut options.dns)?,
                "--zone" => once(&mut options.zone)?,
                "--now" => {
                    let now = value
                        .parse()
                        .map_err(|_| format!("--now {value}: not UNIX seconds"))?;
                    if options.now.replace(now).is_some() {
                        return Err("--now given twice".into());
                    }
                }
                _ => unreachable!("option list and match disagree"),
            }
        }
        Ok(options)
    }

    fn mail_from(&self) -> Result<&str, String> {
        self.mail_from
            .as_deref()
            .ok_or_else(|| "--mail-from is required".into())
    }

    fn now(&self) -> Result<u64, String> {
        self.now.ok_or_else(|| "--now is required".into())
    }

    fn rcpts(&self) -> Result<&[String], String> {
        match self.rcpts.is_empty() {
            true => Err("at least one --rcpt is required".into()),
            false => Ok(&self.rcpts),
        }
    }
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

fn read_stdin() -> Result<Vec<u8>, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("stdin: {e}"))?;
    Ok(input)
}

/// A bare LF becomes CRLF; everything else is kept.
fn crlf(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32);
    for (i, &byte) in input.iter().enumerate() {
        if byte == b'\n' && (i == 0 || input[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

/// A PEM private key: PKCS#8 (RSA or Ed25519) or PKCS#1 RSA.
fn load_key(path: &str) -> Result<DkimKey, String> {
    let pem = read_file(path)?;
    let bad = |e: &dyn std::fmt::Display| format!("{path}: {e}");
    match PrivateKeyDer::from_pem_slice(&pem).map_err(|e| bad(&e))? {
        PrivateKeyDer::Pkcs8(der) => match Ed25519Key::from_pkcs8_der(der.secret_pkcs8_der()) {
            Ok(key) => Ok(key.into()),
            Err(_) => RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(der))
                .map(Into::into)
                .map_err(|e| bad(&e)),
        },
        der @ PrivateKeyDer::Pkcs1(_) => RsaKey::<Sha256>::from_key_der(der)
            .map(Into::into)
            .map_err(|e| bad(&e)),
        _ => Err(bad(&"not an RSA or Ed25519 private key (PKCS#8 or PKCS#1)")),
    }
}

fn sign(args: &[String]) -> Result<(), String> {
    let options = Options::parse(
        args,
        &[
            "--domain",
            "--selector",
            "--key",
            "--mail-from",
            "--rcpt",
            "--now",
            "--original",
        ],
    )?;
    let domain = options.domain.as_deref().ok_or("--domain is required")?;
    let (mail_from, rcpts, now) = (options.mail_from()?, options.rcpts()?, options.now()?);
    if options.selectors.len() != options.keys.len() || !(1..=2).contains(&options.keys.len()) {
        return Err("give one or two --selector S --key FILE pairs".into());
    }
    let mut keys = Vec::new();
    for path in &options.keys {
        keys.push(load_key(path)?);
    }
    let original = options.original.as_deref().map(read_file).transpose()?;
    // Before stdin is read: this may re-execute the program.
    clock::freeze_at(now)?;
    let message = crlf(&read_stdin()?);

    let mut keys = keys.into_iter().zip(&options.selectors);
    let (key, selector) = keys.next().ok_or("no key")?;
    let mut signer = Dkim2Signer::from_key(key).domain(domain).selector(selector);
    for (key, selector) in keys {
        signer = signer.additional_key(key, selector);
    }
    let hop = Hop::real(mail_from, rcpts.iter().map(String::as_str));
    let signed = match &original {
        None => signer.sign(message.as_slice(), hop),
        Some(original) => {
            let original = crlf(original);
            signer.sign_revised(original.as_slice(), message.as_slice(), hop)
        }
    }
    .map_err(|e| format!("mail-auth cannot sign: {e}"))?;

    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(signed.to_header().as_bytes())
        .and_then(|()| stdout.write_all(&message))
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("stdout: {e}"))
}

fn verify(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args, &["--dns", "--zone", "--mail-from", "--rcpt", "--now"])?;
    let zone = match (&options.dns, &options.zone) {
        (Some(json), None) => {
            let text = String::from_utf8(read_file(json)?).map_err(|e| format!("{json}: {e}"))?;
            dns::Zone::from_json(&text)?
        }
        (None, Some(zone)) => dns::Zone::from_master_file(&read_file(zone)?)?,
        _ => return Err("give one of --dns FILE.json and --zone FILE".into()),
    };
    let (mail_from, rcpts, now) = (options.mail_from()?, options.rcpts()?, options.now()?);
    // Before stdin is read: this may re-execute the program.
    clock::freeze_at(now)?;
    let raw = crlf(&read_stdin()?);

    let server = dns::serve(zone).map_err(|e| format!("cannot start the DNS server: {e}"))?;
    let mut name_server = NameServerConfig::tcp(server.ip());
    name_server.connections[0].port = server.port();
    let resolver = MessageAuthenticator::new(
        ResolverConfig::from_parts(None, Vec::new(), vec![name_server]),
        ResolverOpts::default(),
    )
    .map_err(|e| format!("cannot build the resolver: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;

    let (word, error) = match AuthenticatedMessage::parse(&raw) {
        None => (
            "permerror",
            "mail-auth cannot parse the message".to_string(),
        ),
        Some(message) => {
            let envelope = Envelope::new(mail_from, rcpts.iter().map(String::as_str));
            let output = runtime.block_on(resolver.verify_dkim2(&message, envelope));
            let word = match output.result() {
                Dkim2Result::Pass => "pass",
                Dkim2Result::Fail(_) => "fail",
                Dkim2Result::PermError(_) => "permerror",
                Dkim2Result::TempError(_) => "temperror",
                Dkim2Result::None => "none",
            };
            (word, output.failure_reason().unwrap_or_default())
        }
    };
    println!("{word}\t{error}");
    Ok(())
}

/// Runs every case of DIR/cases.json through `verify`, each in its own process (the
/// clock is per process), with the DNS records of DIR/dns.json.
fn corpus(dir: &Path) -> Result<(), String> {
    let cases_path = dir.join("cases.json");
    let text = std::fs::read_to_string(&cases_path)
        .map_err(|e| format!("{}: {e}", cases_path.display()))?;
    let cases: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", cases_path.display()))?;
    let cases = cases.as_array().ok_or("cases.json: not an array")?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let dns = dir.join("dns.json");

    let mut as_expected = 0;
    for case in cases {
        let field = |name: &str| {
            case[name]
                .as_str()
                .ok_or_else(|| format!("cases.json: a case without {name}"))
        };
        let (name, expected, file) = (field("name")?, field("expected")?, field("file")?);
        let now = case["now"]
            .as_u64()
            .ok_or("cases.json: a case without now")?;
        let strict = case["strict"].as_bool().unwrap_or(true);
        let message = std::fs::File::open(dir.join("expected").join(file))
            .map_err(|e| format!("{file}: {e}"))?;

        let mut command = Command::new(&exe);
        command.arg("verify").arg("--dns").arg(&dns);
        command.args(["--mail-from", field("mail_from")?]);
        for rcpt in case["rcpt_to"].as_array().into_iter().flatten() {
            command.args(["--rcpt", rcpt.as_str().ok_or("cases.json: bad rcpt_to")?]);
        }
        command.args(["--now", &now.to_string()]);
        let output = command
            .stdin(Stdio::from(message))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run verify: {e}"))?;
        let line = String::from_utf8_lossy(&output.stdout);
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let (got, error) = line.split_once('\t').unwrap_or(("(no output)", ""));
        if !output.status.success() {
            return Err(format!("{name}: verify failed ({})", output.status));
        }
        if got == expected {
            as_expected += 1;
            println!("{name} {expected} {got}");
        } else {
            // mail-auth's test_vectors relaxes the <...> requirement on mf=/rt= for the
            // cases marked strict=false; that switch exists only in its #[cfg(test)] build.
            let note = match strict {
                true => String::new(),
                false => "; case has strict=false, mail-auth is strict outside its tests".into(),
            };
            println!("{name} {expected} {got}\t{error}{note}");
        }
    }
    println!("corpus: {as_expected}/{} as expected", cases.len());
    Ok(())
}
