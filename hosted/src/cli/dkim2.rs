//! `mass dkim2 sign` and `mass dkim2 verify` (draft-ietf-dkim-dkim2-spec-03,
//! issue 12).
//!
//! ```text
//!  FILE|stdin ──► LineEndings ──► [revise: subject tag, footer ─► recipe]
//!                                   ├─► core Dkim2Signer ──► Message-Instance, DKIM2-Signature on top
//!                                   └─► core Dkim2Verifier ◄── keys (DNS | --zone) ─► dkim2=
//! ```
//!
//! `sign` signs one hop for the SMTP envelope given (`--mail-from`,
//! `--rcpt`), with one or two keys, or on a signing device with the key in
//! one of its slots (`--device`, `--slot`). With `--subject-tag` or
//! `--footer`, mass makes the change itself (as a list host would) and
//! records the recipe that undoes it, so the chain still verifies. `verify` checks the
//! whole chain for the envelope given and prints one Authentication-Results
//! field with `dkim2=` (exit 0 pass, 1 otherwise, 2 on an error).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mass_core::dkim2::VerifyOptions;
use mass_core::dkim2::sign::{Destination, SignerError};
use mass_core::dkim2::{Dkim2Result, Dkim2Verifier, Envelope, HopRequest, Status};

use crate::auth_results;
use crate::cli::CliError;
use crate::cli::arc::{Lookup, look_up};
use crate::cli::io::read_message;
use crate::cli::sign::{HEADER_BYTES, HEADER_FIELDS, read_key};
use crate::clock::Clock;
use crate::device::{Device, DeviceAddr, split_message};
use crate::dkim2::{HopError, Revision, revise, sign_hop};
use crate::keys::SigningKey;

/// The most distinct keys a DKIM2 verification looks up.
pub const DKIM2_KEYS: usize = 16;
/// Decoded recipe bytes a verification holds.
pub const DKIM2_RECIPE_BYTES: usize = 16 * 1024;

/// The verifier hosts run.
pub type HostDkim2Verifier =
    Dkim2Verifier<HEADER_BYTES, HEADER_FIELDS, DKIM2_KEYS, DKIM2_RECIPE_BYTES>;

/// `mass dkim2`: DKIM2 chains.
#[derive(clap::Args, Debug)]
pub struct Dkim2Args {
    #[command(subcommand)]
    command: Dkim2Command,
}

#[derive(clap::Subcommand, Debug)]
enum Dkim2Command {
    /// Sign one hop: print the message with a DKIM2-Signature (and a
    /// Message-Instance when this hop is the first or changed it) on top.
    Sign(SignArgs),
    /// Verify the chain for an SMTP envelope; print the dkim2=
    /// Authentication-Results entry (exit 0 pass, 1 otherwise, 2 error).
    Verify(VerifyArgs),
}

/// The SMTP envelope of the hop.
#[derive(clap::Args, Debug)]
struct EnvelopeArgs {
    /// MAIL FROM (angle brackets optional; "" or "<>" for a bounce).
    #[arg(long, value_name = "ADDR")]
    mail_from: String,
    /// RCPT TO, once per recipient.
    #[arg(long = "rcpt", value_name = "ADDR", required = true)]
    rcpt_to: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct SignArgs {
    /// d=.
    #[arg(long)]
    domain: String,
    /// The selector of each --key, in the same order.
    #[arg(long = "selector", required = true)]
    selectors: Vec<String>,
    /// A private key (PEM, PKCS#8 or PKCS#1); one or two (RSA and Ed25519).
    #[arg(long = "key", value_name = "FILE", required_unless_present = "device")]
    keys: Vec<PathBuf>,
    /// Sign on this signing device (`tcp:HOST:PORT` or a serial device
    /// path) with the key in --slot instead of a --key file: the key never
    /// leaves the device, and the hop is checked under the slot's public
    /// key before it is printed. One --selector.
    #[arg(long, value_name = "ADDR", requires = "slot", conflicts_with = "keys")]
    device: Option<String>,
    /// The device's key slot (`mass device info` lists them).
    #[arg(long, value_name = "N", requires = "device")]
    slot: Option<u8>,
    /// Seconds to wait for each read or write on the device link.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    device_timeout: u64,
    #[command(flatten)]
    envelope: EnvelopeArgs,
    /// t= (seconds since the epoch); default now.
    #[arg(long)]
    now: Option<u64>,
    /// n=, a nonce of up to 64 printable characters.
    #[arg(long)]
    nonce: Option<String>,
    /// f= flags (feedback, feedhere, exploded, ...), once each.
    #[arg(long = "flag", value_name = "FLAG")]
    flags: Vec<String>,
    /// Put this tag in front of the Subject (a list host's change), and
    /// record the recipe that takes it off.
    #[arg(long, value_name = "TAG")]
    subject_tag: Option<String>,
    /// Append this file to the body as a footer (a list host's change),
    /// and record the recipe that takes it off.
    #[arg(long, value_name = "FILE")]
    footer: Option<PathBuf>,
    /// Accept key files that group or others can read.
    #[arg(long)]
    insecure_key_permissions: bool,
    /// The message; `-` or nothing for standard input.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    #[command(flatten)]
    envelope: EnvelopeArgs,
    #[command(flatten)]
    lookup: Lookup,
    /// Accept mf= and rt= without angle brackets, as early interop
    /// signers wrote them.
    #[arg(long)]
    lax: bool,
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

/// Run `mass dkim2`.
pub fn run(args: &Dkim2Args) -> ExitCode {
    let (what, result) = match &args.command {
        Dkim2Command::Sign(a) => ("dkim2 sign", run_sign(a)),
        Dkim2Command::Verify(a) => ("dkim2 verify", run_verify(a)),
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

fn run_sign(args: &SignArgs) -> Result<bool, CliError> {
    let keys_given = if args.device.is_some() {
        1
    } else {
        args.keys.len()
    };
    if args.selectors.len() != keys_given {
        return Err(CliError::Usage(
            "give one --selector for each --key (one with --device)".to_owned(),
        ));
    }
    let now = Clock::System.now_or(args.now)?;
    let mut keys = Vec::new();
    for (selector, path) in args.selectors.iter().zip(&args.keys) {
        let material = read_key(path, args.insecure_key_permissions)?;
        keys.push(SigningKey::for_one_signature(
            args.domain.clone(),
            selector.clone(),
            material,
        ));
    }
    let mut message = Vec::new();
    read_message(args.input.as_deref(), false, |c| {
        message.extend_from_slice(c);
        Ok(())
    })?;
    let footer = match &args.footer {
        Some(path) => Some(std::fs::read(path).map_err(CliError::io(path))?),
        None => None,
    };
    let revision = Revision {
        subject_tag: args.subject_tag.as_deref(),
        footer: footer.as_deref(),
    };
    let (message, recipe) = if revision.is_empty() {
        (message, None)
    } else {
        let revised = revise(&message, &revision).map_err(|e| CliError::Usage(e.to_string()))?;
        (revised.message, Some(revised.recipe))
    };
    let rcpts: Vec<&str> = args.envelope.rcpt_to.iter().map(String::as_str).collect();
    let flags: Vec<&str> = args.flags.iter().map(String::as_str).collect();
    let request = HopRequest {
        domain: &args.domain,
        destination: Destination::Envelope {
            mail_from: &args.envelope.mail_from,
            rcpt_to: &rcpts,
        },
        timestamp: now,
        nonce: args.nonce.as_deref(),
        flags: &flags,
        recipe: recipe.as_deref(),
    };
    let key_refs: Vec<&SigningKey> = keys.iter().collect();
    let fields = match &args.device {
        Some(addr) => device_hop(args, addr, &request, &message)?,
        None => sign_hop(&request, &message, &key_refs).map_err(|e| match e {
            HopError::Signer(e) => signer_error(e),
            HopError::Stream(e) => CliError::Sign(e),
        })?,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    fields
        .iter()
        .try_for_each(|f| out.write_all(f).and_then(|()| out.write_all(b"\r\n")))
        .and_then(|()| out.write_all(&message))
        .and_then(|()| out.flush())
        .map_err(CliError::Write)?;
    Ok(true)
}

/// `--device`: the hop signed on the signing device with the key in
/// `--slot`, and checked by the device client under the slot's public key
/// (the chain's numbering, the tags asked for, the new instance's hashes,
/// the signature over its input) before it goes on top of the message.
fn device_hop(
    args: &SignArgs,
    addr: &str,
    request: &HopRequest<'_>,
    message: &[u8],
) -> Result<Vec<Vec<u8>>, CliError> {
    let (Some(slot), [selector]) = (args.slot, args.selectors.as_slice()) else {
        return Err(CliError::Usage(
            "--device needs --slot and one --selector".to_owned(),
        ));
    };
    let device = Device::new(
        addr.parse::<DeviceAddr>()?,
        Duration::from_secs(args.device_timeout.max(1)),
    );
    let (fields, body_at) = split_message(message).map_err(CliError::Sign)?;
    let body = message.get(body_at..).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let hop = runtime.block_on(device.dkim2_hop(slot, selector, request, &fields, [body]))?;
    Ok(hop.fields())
}

fn signer_error(e: SignerError) -> CliError {
    match e {
        SignerError::Stream(e) => CliError::Sign(e),
        other => CliError::Usage(format!("cannot sign: {other}")),
    }
}

fn run_verify(args: &VerifyArgs) -> Result<bool, CliError> {
    let now = Clock::System.now_or(args.lookup.now)?;
    let mut options = VerifyOptions::new(now);
    options.strict = !args.lax;
    let rcpts: Vec<&str> = args.envelope.rcpt_to.iter().map(String::as_str).collect();
    let envelope = Envelope {
        mail_from: &args.envelope.mail_from,
        rcpt_to: &rcpts,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let result = runtime.block_on(async {
        let mut verifier = Box::new(HostDkim2Verifier::new(options));
        read_message(args.input.as_deref(), false, |c| {
            verifier.update(c).map(drop).map_err(CliError::Sign)
        })?;
        verifier.end_of_input().map_err(CliError::Sign)?;
        look_up(&args.lookup, vec![&mut *verifier]).await?;
        verifier.finish(&envelope).map_err(CliError::Sign)
    })?;
    let authserv_id = args
        .authserv_id
        .clone()
        .unwrap_or_else(crate::cli::verify::host_name);
    let text = if args.json {
        auth_results::dkim2_json(&authserv_id, &result)
    } else {
        format!(
            "{}: {authserv_id};\n\t{}\n",
            auth_results::FIELD_NAME,
            auth_results::dkim2_entry(&result)
        )
    };
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(CliError::Write)?;
    Ok(passed(&result))
}

fn passed(result: &Dkim2Result) -> bool {
    result.status == Status::Pass
}
