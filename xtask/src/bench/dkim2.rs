//! `cargo xtask bench dkim2 [ROUNDS [SECONDS]]`: DKIM2 (draft-03) signing and
//! verification of 4 KiB messages, mass-core against mail-auth 0.13.3, in one
//! process.
//!
//! mail-auth is a dev-dependency of xtask only, so the measuring program is
//! the example `xtask/examples/dkim2_bench.rs`: built here in release and
//! run; it prints its table (see its documentation for what is measured).

use std::process::Command;

use crate::util;

/// Build the example in release and run it with `args`.
pub fn figures(run: &mut util::Run, args: &[String]) {
    let build = [
        "build",
        "--release",
        "-p",
        "xtask",
        "--example",
        "dkim2_bench",
    ];
    if !run.cargo(&build) {
        return;
    }
    let exe = util::target_dir().join("release/examples/dkim2_bench");
    let mut cmd = Command::new(&exe);
    cmd.args(args).current_dir(util::root());
    run.command(&format!("{} {}", exe.display(), args.join(" ")), cmd);
}
