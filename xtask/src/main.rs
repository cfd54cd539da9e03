//! Every build and test recipe of mass: `cargo xtask <task>`.
//!
//! One module per task. Each task collects every failure before it exits and
//! prints what it ran.

mod bench;
mod e2e;
mod fuzz;
mod interop;
mod qemu;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test      fmt, clippy, workspace tests, no_std builds of mass-core (with RSA and Ed25519-only), firmware under QEMU
  interop   sign and verify against dkimpy, Mail::DKIM, OpenDKIM and Exim (reads ../shared)
  interop-batv  only the BATV part of interop: mass batv against Exim's prvs
  interop-dk    only the DomainKeys part of interop: mass against Mail::DKIM
  e2e-batv  only the BATV part of e2e: mass serve [batv] behind a real Postfix
  e2e       end to end through a real Postfix (reads ../shared/harness)
  soak      mass serve under a long mixed load through Postfix: nothing lost, resources flat
            [--messages N (100000)] [--minutes M (20)] [--sample-secs S (5)]
  bench     throughput and memory figures, as ratios against baselines from the same run
  qemu      build the firmware and boot it in QEMU with its UART on a TCP socket
  fuzz      run the fuzz targets for a while
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match task.as_str() {
        "test" => run_test(rest),
        "interop" => interop::run(rest),
        "bench" => bench::run(rest),
        "e2e-batv" => {
            let mut run = util::Run::new("e2e-batv");
            e2e::batv::run(&mut run);
            run.finish()
        }
        "interop-batv" => {
            let mut run = util::Run::new("interop-batv");
            interop::batv::run(&mut run);
            run.finish()
        }
        "interop-dk" => interop::domainkeys::run_alone(rest),
        "fuzz" => fuzz::run(rest),
        "e2e" => e2e::run(rest),
        "soak" => e2e::soak::run(rest),
        "qemu" => qemu::run_qemu(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_test(_args: &[String]) -> Result<(), String> {
    let mut run = util::Run::new("test");
    // mass-hosted signs RSA through the system OpenSSL: building it needs
    // the headers and pkg-config (installed here when running as root).
    let missing = util::ensure_apt(&["libssl-dev", "pkg-config"]);
    if !missing.is_empty() {
        run.fail(format!(
            "missing Debian packages {}: run `apt-get install {}` as root",
            missing.join(" "),
            missing.join(" ")
        ));
        return run.finish();
    }
    for component in ["rustfmt", "clippy"] {
        let _ = std::process::Command::new("rustup")
            .args(["component", "add", component])
            .output();
    }
    run.cargo(&["fmt", "--all", "--", "--check"]);
    run.cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run.cargo(&["test", "--workspace"]);
    // The Ed25519-only core (no `rsa` feature, no alloc) is linted and
    // tested on the host too, not only built for the no_std targets.
    run.cargo(&[
        "clippy",
        "--package",
        "mass-core",
        "--no-default-features",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run.cargo(&["test", "--package", "mass-core", "--no-default-features"]);
    for target in ["thumbv7m-none-eabi", "x86_64-unknown-none"] {
        if util::ensure_rust_target(target) {
            run.cargo(&["build", "--package", "mass-core", "--target", target]);
            // Ed25519 only: core without the `rsa` feature has no `alloc`
            // at all (lib.rs names it only under `rsa`), so an allocation
            // that creeps in fails this build.
            run.cargo(&[
                "build",
                "--package",
                "mass-core",
                "--no-default-features",
                "--target",
                target,
            ]);
        } else {
            run.fail(format!(
                "rust target {target} is missing: run `rustup target add {target}`"
            ));
        }
    }
    // The firmware is a workspace of its own (its .cargo/config.toml sets
    // the target), so fmt and clippy run in its directory.
    if util::ensure_rust_target(qemu::TARGET) {
        for (label, args) in [
            (
                "cargo fmt --check (firmware)",
                &["fmt", "--", "--check"][..],
            ),
            (
                "cargo clippy -D warnings (firmware)",
                &["clippy", "--release", "--", "-D", "warnings"][..],
            ),
        ] {
            let mut cmd = std::process::Command::new(util::cargo());
            cmd.current_dir(qemu::firmware_dir()).args(args);
            run.command(label, cmd);
        }
    }
    qemu::firmware_tests(&mut run);
    run.finish()
}
