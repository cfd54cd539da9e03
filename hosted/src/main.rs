//! `mass`: the command-line tool and milter daemon.

use mass_hosted::batv;

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
    /// Run the milter daemon: sign or verify each message (config in TOML).
    Serve {
        /// The configuration file.
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Batv(args) => batv::run(&args),
        Command::Serve { config } => mass_hosted::milter::server::main(&config),
    }
}
