//! `mass`: the command-line tool and milter daemon.

use mass_hosted::cli::{
    arc as arc_cli, batv, device as device_cli, dkim2 as dkim2_cli, keygen, sign as sign_cli,
    verify as verify_cli,
};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "mass",
    version,
    about = "DKIM, DomainKeys and BATV signing and verification"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// BATV prvs= bounce address tags: sign an envelope sender, check a bounce recipient.
    Batv(batv::BatvArgs),
    /// Sign a message: print it with a DKIM-Signature (or, with --scheme
    /// domainkeys, a DomainKey-Signature) field on top.
    Sign(sign_cli::SignArgs),
    /// Make a signing key; print the DNS record to publish.
    Keygen(keygen::KeygenArgs),
    /// Verify a message's DKIM signatures; print one Authentication-Results field.
    Verify(verify_cli::VerifyArgs),
    /// ARC (RFC 8617): validate a message's chain, or seal it with the next set.
    Arc(arc_cli::ArcArgs),
    /// DKIM2 (draft-ietf-dkim-dkim2-spec-03): sign one hop for an SMTP
    /// envelope, or verify a whole chain.
    Dkim2(dkim2_cli::Dkim2Args),
    /// A signing device: show its slots, provision a key (never read back).
    Device(device_cli::DeviceArgs),
    /// Run the milter daemon: sign or verify each message (config in TOML).
    Serve {
        /// The configuration file.
        #[arg(long, required_unless_present = "dev")]
        config: Option<std::path::PathBuf>,
        /// Development set-up: make keys and a config in --dev-dir on the
        /// first run, print the DNS records and Postfix lines, and serve.
        #[arg(long, conflicts_with = "config")]
        dev: bool,
        /// Where --dev keeps its keys and config.
        #[arg(long, default_value = "mass-dev")]
        dev_dir: std::path::PathBuf,
        /// The signing domain for --dev.
        #[arg(long, default_value = "example.com")]
        domain: String,
    },
}

fn main() -> ExitCode {
    let code = run();
    // Tests and benchmarks read the peak memory of a whole run from here.
    if std::env::var_os("MASS_REPORT_PEAK_RSS").is_some() {
        report_peak_rss();
    }
    code
}

/// Print the process's peak resident set size (VmHWM) to stderr.
fn report_peak_rss() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        let kib = line.split_whitespace().nth(1).unwrap_or("?");
        eprintln!("mass: peak RSS {kib} KiB");
    }
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Batv(args) => batv::run(&args),
        Command::Sign(args) => report("sign", sign_cli::run(&args)),
        Command::Keygen(args) => report("keygen", keygen::run(&args)),
        Command::Verify(args) => verify_cli::run(&args),
        Command::Device(args) => report("device", device_cli::run(&args)),
        Command::Arc(args) => arc_cli::run(&args),
        Command::Dkim2(args) => dkim2_cli::run(&args),
        Command::Serve {
            config: Some(config),
            ..
        } => mass_hosted::milter::server::main(&config),
        Command::Serve {
            dev_dir, domain, ..
        } => match mass_hosted::cli::dev::prepare(&dev_dir, &domain) {
            Ok(config) => mass_hosted::milter::server::main(&config),
            Err(e) => report("serve --dev", Err(e)),
        },
    }
}

/// Print a command's error and pick its exit code (2: usage or input error).
fn report<E: std::fmt::Display>(what: &str, result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mass {what}: {e}");
            ExitCode::from(2)
        }
    }
}
