//! `cargo xtask bench`: throughput and memory figures, each next to a
//! baseline measured in the same run, printed as ratios (the machines are
//! shared and noisy; absolute numbers mean little).
//!
//! - body canonicalization + SHA-256 against bare `sha2` over one 64 MiB
//!   buffer (targets: simple >= 0.95, relaxed >= 0.85);
//! - signed (and verified) messages per second for 4 KiB messages, next
//!   to `openssl speed` for RSA-2048 in the same run;
//! - `sign_dual` (also under `sign`): dual-key signing (RSA-2048 +
//!   Ed25519, as `mass serve --dev` signs) of 4 KiB and 1 MiB messages,
//!   two single-key signers against one `MultiSigner` that hashes the body
//!   once, interleaved over 7 rounds: the median msg/s of each, and the
//!   median ratio shared/separate with its range;
//! - `normalize`: LF-to-CRLF conversion of a 64 MiB body with bare LF
//!   line ends, alone (core's scan, and `memchr` for comparison) and in
//!   front of relaxed body hashing, against bare `sha2`;
//! - `header`: relaxed header hashing of the fields a 4 KiB message's
//!   signature covers, against bare `sha2` of the same bytes;
//! - `arc`: validating a 3-hop ARC chain (RFC 8617 §5.2) on a 4 KiB
//!   message next to verifying one DKIM signature on it, Ed25519 and
//!   RSA-2048, interleaved: msg/s of each and the ratio;
//! - `dkim2` ([`dkim2`]): DKIM2 sign and verify of 4 KiB messages, mass-core
//!   against mail-auth 0.13.3 in one process (`xtask/examples/dkim2_bench.rs`);
//! - `cli` ([`cli`]): `mass sign --header-only` and `mass verify` (release
//!   build; `MASS_BIN` picks another binary) on a 64 MiB message with LF
//!   line ends against `openssl dgst -sha256` on the same file, wall time
//!   (targets <= 1.3x), and the peak RSS of `mass` (target < 16 MiB);
//! - `milter` (filter `milter`, or no filter; needs root and
//!   `../shared/harness`): Postfix with no milter, with `mass serve` and
//!   with OpenDKIM, 2,000 messages of 4 KiB ([`crate::e2e::bench`]).
//!
//! Times in the bench program are the CPU time of the measuring thread:
//! `canon`, `normalize` and `header` take the best of 3 within each of
//! several interleaved rounds and print the median of the rounds' figures
//! with their range; `sign` and `verify` count for a few seconds; the
//! `cli` section times whole processes in wall time.

mod cli;
mod dkim2;

use std::collections::BTreeMap;
use std::process::Command;

use crate::util;

/// Sections this task runs itself, not the bench program.
const OWN_SECTIONS: [&str; 3] = ["cli", "dkim2", "milter"];

/// Run the bench program and the baselines; print the figures.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut run = util::Run::new("bench");
    let filter = args.first().cloned();
    if let Some(f) = filter.as_deref()
        && OWN_SECTIONS.contains(&f)
    {
        match f {
            "cli" => cli::figures(&mut run),
            "dkim2" => dkim2::figures(&mut run, &args[1..]),
            _ => milter_figures(&mut run),
        }
        return run.finish();
    }
    let mut cmd = Command::new(util::cargo());
    cmd.args([
        "bench",
        "--package",
        "mass-tests",
        "--bench",
        "throughput",
        "--",
    ]);
    if let Some(f) = &filter {
        cmd.arg(f);
    }
    cmd.current_dir(util::root());
    eprintln!("xtask[bench]: running cargo bench --package mass-tests --bench throughput");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        run.fail("cargo bench failed".into());
        return run.finish();
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut figures: BTreeMap<String, (f64, String)> = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if let (Some(name), Some(value), Some(unit)) = (parts.next(), parts.next(), parts.next())
            && let Ok(v) = value.parse::<f64>()
        {
            figures.insert(name.to_string(), (v, unit.to_string()));
        }
    }
    print!("{text}");

    // `sign_dual` alone prints its own ratio; openssl is not its baseline.
    if filter
        .as_deref()
        .is_none_or(|f| f.starts_with("sign") && !f.starts_with("sign_dual"))
    {
        match openssl_rsa2048_signs_per_sec() {
            Ok(v) => {
                println!("openssl_rsa2048_sign {v:.0} sign/s");
                if let Some((m, _)) = figures.get("sign_rsa2048_4k") {
                    println!("ratio_mass_rsa2048_4k_vs_openssl_sign {:.3} x", m / v);
                }
            }
            Err(e) => run.fail(format!("openssl speed rsa2048: {e}")),
        }
    }
    for (name, target) in [
        ("ratio_simple_vs_sha256", 0.95),
        ("ratio_relaxed_vs_sha256", 0.85),
    ] {
        if let Some((v, _)) = figures.get(name) {
            let verdict = if *v >= target { "meets" } else { "BELOW" };
            println!("target {name} >= {target}: {v:.3} {verdict}");
        }
    }
    run.check("bench figures printed", Ok(()));
    if filter.is_none() {
        cli::figures(&mut run);
        milter_figures(&mut run);
    }
    run.finish()
}

/// The milter throughput through a real Postfix, as ratios to Postfix
/// without a milter and to OpenDKIM, measured in the same run.
fn milter_figures(run: &mut util::Run) {
    if !util::is_root() {
        println!("milter: skipped (Postfix needs root; run `cargo xtask bench milter` as root)");
        return;
    }
    if !util::shared_dir().join("harness/mta-harness.sh").exists() {
        println!("milter: skipped (no ../shared/harness/mta-harness.sh)");
        return;
    }
    let Some(f) = crate::e2e::bench(run) else {
        return;
    };
    println!("milter_none {:.1} msg/s", f.none);
    println!(
        "milter_mass_tcp {:.1} msg/s ({:.2} ms CPU/msg)",
        f.mass_tcp, f.mass_tcp_cpu_ms
    );
    println!(
        "milter_mass_unix {:.1} msg/s ({:.2} ms CPU/msg)",
        f.mass_unix, f.mass_unix_cpu_ms
    );
    println!("milter_opendkim_tcp {:.1} msg/s", f.opendkim_tcp);
    println!("milter_opendkim_unix {:.1} msg/s", f.opendkim_unix);
    for (name, a, b, target) in [
        ("ratio_mass_tcp_vs_no_milter", f.mass_tcp, f.none, 0.85),
        ("ratio_mass_unix_vs_no_milter", f.mass_unix, f.none, 0.85),
        (
            "ratio_mass_tcp_vs_opendkim",
            f.mass_tcp,
            f.opendkim_tcp,
            1.5,
        ),
        (
            "ratio_mass_unix_vs_opendkim",
            f.mass_unix,
            f.opendkim_unix,
            1.5,
        ),
    ] {
        let v = if b > 0.0 { a / b } else { 0.0 };
        let verdict = if v >= target { "meets" } else { "BELOW" };
        println!("target {name} >= {target}: {v:.3} {verdict}");
    }
}

/// RSA-2048 private-key operations per second by `openssl speed` on one core.
fn openssl_rsa2048_signs_per_sec() -> Result<f64, String> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa2048"])
        .output()
        .map_err(|e| {
            format!("cannot run openssl ({e}); install it with `apt-get install openssl`")
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "rsa 2048 bits 0.000266s 0.000008s   3761.0 120481.9"
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("rsa 2048 bits") || t.starts_with("rsa  2048 bits") {
            let nums: Vec<f64> = t
                .split_whitespace()
                .filter_map(|w| w.parse::<f64>().ok())
                .collect();
            // 2048, sign time, verify time, sign/s, verify/s
            if nums.len() >= 5 {
                return Ok(nums[3]);
            }
        }
    }
    Err(format!("no rsa 2048 line in openssl output:\n{text}"))
}
