//! `cargo xtask fuzz [SECONDS]`: run every cargo-fuzz target in `fuzz/` for
//! SECONDS each (default 60).
//!
//! cargo-fuzz wants nightly `-Z` flags; `RUSTC_BOOTSTRAP=1` lets the stable
//! toolchain accept them. cargo-fuzz itself is installed with
//! `cargo install cargo-fuzz --locked` when it is missing.

use std::process::Command;

use crate::util;

const TARGETS: &[&str] = &[
    "tag_list",
    "signature_field",
    "key_record",
    "public_key",
    "verify",
    "batv",
    "sign_message",
    "body_canon",
    "domainkeys",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let seconds: u64 = match args.first() {
        None => 60,
        Some(s) => s
            .parse()
            .map_err(|_| format!("fuzz: SECONDS must be a number, not `{s}`"))?,
    };
    let mut run = util::Run::new("fuzz");
    let have_cargo_fuzz = Command::new(util::cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_cargo_fuzz && !run.cargo(&["install", "cargo-fuzz", "--locked"]) {
        return run.finish();
    }
    let fuzz_dir = util::root().join("fuzz");
    for target in TARGETS {
        let mut cmd = Command::new(util::cargo());
        cmd.current_dir(&fuzz_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", fuzz_dir.join("target"))
            .args(["fuzz", "run", "-O", target, "--"])
            .arg(format!("-max_total_time={seconds}"));
        run.command(
            &format!("RUSTC_BOOTSTRAP=1 cargo fuzz run -O {target} -- -max_total_time={seconds}"),
            cmd,
        );
    }
    run.finish()
}
