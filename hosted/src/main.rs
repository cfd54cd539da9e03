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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Batv(args) => batv::run(&args),
    }
}
