//! `mass batv sign|check`: BATV `prvs=` tags from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use mass_core::batv::{self as core_batv, CheckPolicy, KeyNumber, KeyRing, TagError};

use crate::batv::*;
use crate::clock::Clock;

/// `mass batv`: sign or check BATV `prvs=` envelope sender tags.
#[derive(clap::Args, Debug)]
pub struct BatvArgs {
    #[command(subcommand)]
    command: BatvCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BatvCommand {
    /// Print the prvs= form of ADDRESS (exit 1 and the address unchanged if it cannot
    /// be tagged, e.g. a local part that would pass 64 octets).
    Sign(SignArgs),
    /// Print the original address of a prvs= ADDRESS; exit 0 if the tag is valid,
    /// 1 if it is invalid, expired or missing.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
struct SecretArgs {
    /// File holding the secret (its bytes, without a final newline). Must not be
    /// readable by group or others.
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// Use the secret file even if group or others may read it.
    #[arg(long)]
    insecure_secret_file: bool,
    /// The time to use, unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct SignArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// Key number K, 0-9.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=9))]
    keynum: u8,
    /// Days until the tag expires, 0-499.
    #[arg(long, default_value_t = core_batv::DEFAULT_VALIDITY_DAYS,
          value_parser = clap::value_parser!(u16).range(0..=499))]
    days: u16,
    /// The address to tag, local@domain (angle brackets are removed).
    address: String,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// Days after expiry that a tag is still accepted, 0-499.
    #[arg(long, default_value_t = CheckPolicy::default().grace_days,
          value_parser = clap::value_parser!(u16).range(0..=499))]
    grace_days: u16,
    /// The furthest ahead an expiry day may be, 0-499.
    #[arg(long, default_value_t = CheckPolicy::default().max_validity_days,
          value_parser = clap::value_parser!(u16).range(0..=499))]
    max_days: u16,
    /// The tagged address, prvs=KDDDSSSSSS=local@domain.
    address: String,
}

/// Exit status of `mass batv check` for a valid tag / anything else / usage error.
const EXIT_VALID: u8 = 0;
const EXIT_INVALID: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Runs `mass batv ...`.
pub fn run(args: &BatvArgs) -> ExitCode {
    match &args.command {
        BatvCommand::Sign(a) => sign_command(a),
        BatvCommand::Check(a) => check_command(a),
    }
}

/// `--now`, or the system clock read once. A clock that cannot be read is
/// a usage error (exit 2), never day 0.
fn now(what: &str, given: Option<u64>) -> Result<u64, ExitCode> {
    Clock::System.now_or(given).map_err(|e| {
        eprintln!("mass batv {what}: {e}; give the time with --now");
        ExitCode::from(EXIT_USAGE)
    })
}

fn sign_command(a: &SignArgs) -> ExitCode {
    let now = match now("sign", a.secret.now) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let secret = match read_secret_file(&a.secret.secret_file, a.secret.insecure_secret_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mass batv sign: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let Ok(key) = KeyNumber::new(a.keynum) else {
        eprintln!("mass batv sign: key number above 9");
        return ExitCode::from(EXIT_USAGE);
    };
    let params = core_batv::TagParams {
        key,
        validity_days: a.days,
        now,
    };
    let address = strip_angle_brackets(&a.address);
    match tag_address(address, &secret, &params) {
        Ok(tagged) => {
            println!("{tagged}");
            ExitCode::from(EXIT_VALID)
        }
        Err(e @ (TagError::LocalPartTooLong { .. } | TagError::AddressTooLong { .. })) => {
            // RFC 5321 §4.5.3.1: leave the address untagged, and say so.
            eprintln!("mass batv sign: not tagged: {e}");
            println!("{address}");
            ExitCode::from(EXIT_INVALID)
        }
        Err(e) => {
            eprintln!("mass batv sign: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn check_command(a: &CheckArgs) -> ExitCode {
    let now = match now("check", a.secret.now) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let secret = match read_secret_file(&a.secret.secret_file, a.secret.insecure_secret_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mass batv check: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let policy = CheckPolicy {
        grace_days: a.grace_days,
        max_validity_days: a.max_days,
    };
    let address = strip_angle_brackets(&a.address);
    let ring = KeyRing::all(&secret);
    match core_batv::check(address.as_bytes(), &ring, now, &policy) {
        Ok(c) => {
            println!("{}", String::from_utf8_lossy(c.original));
            ExitCode::from(EXIT_VALID)
        }
        Err(e) => {
            eprintln!("mass batv check: invalid: {e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
