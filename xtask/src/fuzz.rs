//! `cargo xtask fuzz`: the cargo-fuzz targets in `fuzz/`.
//!
//! ```text
//! cargo xtask fuzz [SECONDS] [TARGET...]  every target (or those named) for SECONDS each (default 60)
//! cargo xtask fuzz --runs N [--no-sanitizer] [SECONDS] [TARGET...]
//!                                         each target until N executions (SECONDS, if given, caps it)
//! cargo xtask fuzz --ci                   every target for a few seconds: a regression check for CI
//! cargo xtask fuzz merge [TARGET...]      minimize committed and found inputs into the committed corpora
//! ```
//!
//! Every run starts from the committed corpus `fuzz/corpus/TARGET` and writes
//! what it finds to `fuzz/target/corpus/TARGET` (not committed; under `--ci`,
//! `fuzz/target/ci/corpus/TARGET`); `merge` replaces the committed corpus
//! with the smallest set of inputs from both that keeps their edge coverage
//! (libFuzzer `-merge=1 -use_counters=0` into an empty directory, as
//! `cargo fuzz cmin` does). The targets are built once, with optimizations
//! and debug assertions (so integer overflow panics), then run one after
//! another; `--ci` builds unoptimized and without the sanitizer. The log of
//! each run is `fuzz/target/logs/TARGET.log`; the summary table gives, per
//! target, the executions, seconds, coverage (`cov:` and `ft:` of libFuzzer's
//! last status line) and the outcome. A crash leaves its input in
//! `fuzz/artifacts/TARGET/`.
//!
//! cargo-fuzz wants nightly `-Z` flags; `RUSTC_BOOTSTRAP=1` lets the stable
//! toolchain accept them. cargo-fuzz itself is installed with
//! `cargo install cargo-fuzz --locked` when it is missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::util;

/// Every target, with the longest input libFuzzer makes for it (`None`:
/// libFuzzer's default, 4096 bytes or the longest corpus input). The link
/// targets need room for whole frames of up to 4 KiB of payload.
const TARGETS: &[(&str, Option<usize>)] = &[
    // mass-core parsers
    ("tag_list", None),
    ("signature_field", None),
    ("key_record", None),
    ("public_key", None),
    ("dk_signature", None),
    ("batv", None),
    ("body_canon", None),
    // mass-core whole paths
    ("verify", None),
    ("sign_message", None),
    ("domainkeys", None),
    ("arc", None),
    ("dkim2", None),
    ("dkim2_recipe", None),
    // the device link (mass-core `link`)
    ("link_frames", Some(16384)),
    ("link_messages", Some(16384)),
    ("link_roundtrip", Some(16384)),
    // mass-hosted
    ("milter_decoder", None),
    ("zone_file", None),
    ("config", None),
    ("auth_results", None),
    ("dns_records", None),
    ("batv_policy", None),
    // differential
    ("sign_verify", None),
    ("verify_split", None),
];

/// Seconds per target under `--ci` (a target whose corpus takes longer to
/// replay runs until it is replayed). With 21 targets and an unoptimized
/// build: about 2 minutes of runs.
const CI_SECONDS: u64 = 5;

/// A single input taking longer than this is a failure (a hang).
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// What one run reported.
#[derive(Debug, Default, PartialEq)]
struct Stats {
    runs: Option<u64>,
    cov: Option<u64>,
    ft: Option<u64>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut run = util::Run::new("fuzz");
    let Args {
        merge,
        ci,
        seconds,
        runs,
        sanitizer,
        only,
    } = parse_args(args)?;
    let targets: Vec<(&str, Option<usize>)> = if only.is_empty() {
        TARGETS.to_vec()
    } else {
        let mut chosen = Vec::new();
        for name in &only {
            match TARGETS.iter().find(|(t, _)| t == name) {
                Some(t) => chosen.push(*t),
                None => return Err(format!("fuzz: no target `{name}`")),
            }
        }
        chosen
    };
    let have_cargo_fuzz = Command::new(util::cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_cargo_fuzz && !run.cargo(&["install", "cargo-fuzz", "--locked"]) {
        return run.finish();
    }
    let fuzz_dir = util::root().join("fuzz");
    // CI builds unoptimized (debug assertions and overflow checks are on)
    // and without AddressSanitizer, into a target directory of its own:
    // half the build time of an optimized build, which dominates a short
    // run, and the targets are safe Rust (`unsafe_code` is forbidden in
    // mass-core and mass-hosted), where the sanitizer has little to find.
    // Long runs build optimized, with debug assertions and the sanitizer.
    let (target_dir, build_flags, profile): (PathBuf, &[&str], &str) = if ci {
        (
            fuzz_dir.join("target/ci"),
            &["--dev", "-s", "none"],
            "debug",
        )
    } else if sanitizer {
        (fuzz_dir.join("target"), &["-O", "-a"], "release")
    } else {
        // The 10^7-execution runs: optimized with debug assertions, without
        // the sanitizer (about three times the executions per second).
        (
            fuzz_dir.join("target/nosan"),
            &["-O", "-a", "-s", "none"],
            "release",
        )
    };
    let started = Instant::now();
    let mut build = cargo_fuzz(&fuzz_dir, &target_dir);
    build.arg("build").args(build_flags);
    let build_label = format!(
        "RUSTC_BOOTSTRAP=1 cargo fuzz build {}",
        build_flags.join(" ")
    );
    if !run.command(&build_label, build) {
        return run.finish();
    }
    let build_seconds = started.elapsed().as_secs_f64();
    eprintln!("xtask[fuzz]: built every target in {build_seconds:.0} s");
    // The binaries are run directly rather than through `cargo fuzz run`, so
    // that a source edit during a long session does not rebuild mid-way.
    let bin_dir = target_dir.join(host_triple()).join(profile);

    let logs = fuzz_dir.join("target/logs");
    let _ = fs::create_dir_all(&logs);
    let mut rows = Vec::new();
    for (target, max_len) in targets {
        let committed = fuzz_dir.join("corpus").join(target);
        // Under `--ci` only the committed corpus is replayed, as on a fresh
        // clone; what the short run finds is kept apart.
        let found = target_dir.join("corpus").join(target);
        let artifacts = fuzz_dir.join("artifacts").join(target);
        for dir in [&committed, &found, &artifacts] {
            let _ = fs::create_dir_all(dir);
        }
        let mut cmd = Command::new(bin_dir.join(target));
        cmd.current_dir(&fuzz_dir)
            .env("ASAN_OPTIONS", "detect_odr_violation=0")
            .arg(format!("-artifact_prefix={}/", artifacts.display()));
        let merged = fuzz_dir.join("target/merged").join(target);
        let label = if merge {
            // The smallest set of inputs from both that keeps their
            // coverage, into an empty directory that then replaces
            // `committed` (what `cargo fuzz cmin` does).
            let _ = fs::remove_dir_all(&merged);
            let _ = fs::create_dir_all(&merged);
            // Edges only (`-use_counters=0`), not hit counts: a fifth of
            // the files for about the same `cov:`, so the committed corpora
            // stay around 200 KB.
            cmd.args(["-merge=1", "-use_counters=0"])
                .arg(&merged)
                .arg(&committed)
                .arg(&found);
            format!("{target} -merge=1 (corpus/{target} + target/corpus/{target}, minimized)")
        } else {
            let seconds = match (ci, runs, seconds) {
                (true, _, _) => CI_SECONDS,
                (false, Some(_), None) => 0,
                (false, _, s) => s.unwrap_or(DEFAULT_SECONDS),
            };
            if let Some(n) = runs {
                cmd.arg(format!("-runs={n}"));
            }
            cmd.arg(format!("-max_total_time={seconds}"))
                .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
                .arg("-print_final_stats=1");
            if let Some(n) = max_len {
                cmd.arg(format!("-max_len={n}"));
            }
            cmd.arg(&found).arg(&committed);
            match runs {
                Some(n) => {
                    format!("{target} -runs={n} -max_total_time={seconds} (corpus/{target})")
                }
                None => format!("{target} -max_total_time={seconds} (corpus/{target})"),
            }
        };
        let log_path = logs.join(format!("{target}.log"));
        let Ok(log) = fs::File::create(&log_path) else {
            run.fail(format!("{target}: cannot write {}", log_path.display()));
            continue;
        };
        let Ok(log_err) = log.try_clone() else {
            run.fail(format!("{target}: cannot write {}", log_path.display()));
            continue;
        };
        cmd.stdout(Stdio::from(log)).stderr(Stdio::from(log_err));
        eprintln!("xtask[fuzz]: running {label} (log: fuzz/target/logs/{target}.log)");
        let t0 = Instant::now();
        let status = cmd.status();
        let secs = t0.elapsed().as_secs_f64();
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        let stats = parse_log(&text);
        let outcome = match &status {
            Ok(s) if s.success() => "ok".to_string(),
            Ok(s) => {
                let artifact = text.lines().find_map(|l| {
                    l.split_once("Test unit written to ")
                        .map(|(_, p)| p.trim().to_string())
                });
                eprintln!("xtask[fuzz]: {target} FAILED ({s}); the end of its log:");
                let lines: Vec<&str> = text.lines().collect();
                for l in &lines[lines.len().saturating_sub(40)..] {
                    eprintln!("  | {l}");
                }
                match artifact {
                    Some(a) => format!("CRASH {a}"),
                    None => format!("FAILED ({s})"),
                }
            }
            Err(e) => format!("could not start: {e}"),
        };
        if outcome == "ok" {
            let replaced = if merge {
                replace_corpus(&committed, &merged)
            } else {
                Ok(())
            };
            run.check(&label, replaced);
        } else {
            run.fail(format!("{label}: {outcome}"));
        }
        let (files, bytes) = corpus_size(&committed);
        rows.push((target, stats, secs, outcome, files, bytes));
    }

    eprintln!();
    eprintln!(
        "build {build_seconds:.0} s; run from fuzz/corpus/TARGET, new inputs in fuzz/target/corpus/TARGET"
    );
    eprintln!(
        "{:<16} {:>12} {:>7} {:>9} {:>6} {:>7} {:>15}  outcome",
        "target", "executions", "seconds", "exec/s", "cov", "ft", "corpus"
    );
    let show = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    for (target, stats, secs, outcome, files, bytes) in &rows {
        let rate = stats.runs.map_or("?".to_string(), |r| {
            format!("{:.0}", r as f64 / secs.max(0.001))
        });
        eprintln!(
            "{:<16} {:>12} {:>7.0} {:>9} {:>6} {:>7} {:>15}  {}",
            target,
            show(stats.runs),
            secs,
            rate,
            show(stats.cov),
            show(stats.ft),
            format!("{files} / {} KB", bytes.div_ceil(1024)),
            outcome
        );
    }
    eprintln!("total {:.0} s", started.elapsed().as_secs_f64());
    run.finish()
}

/// Seconds per target when neither SECONDS nor `--runs` is given.
const DEFAULT_SECONDS: u64 = 60;

/// The command line of `cargo xtask fuzz`.
#[derive(Debug, PartialEq)]
struct Args {
    merge: bool,
    ci: bool,
    seconds: Option<u64>,
    /// `--runs N`: stop each target after N executions.
    runs: Option<u64>,
    /// False with `--no-sanitizer`.
    sanitizer: bool,
    only: Vec<String>,
}

const USAGE: &str = "usage: cargo xtask fuzz [--ci | [--runs N] [--no-sanitizer] [SECONDS]] [TARGET...] | merge [TARGET...]";

/// `[merge | --ci | --runs N | --no-sanitizer] [SECONDS] [TARGET...]`.
fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        merge: false,
        ci: false,
        seconds: None,
        runs: None,
        sanitizer: true,
        only: Vec::new(),
    };
    let number = |s: &str, what: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("fuzz: {what} must be a number, not `{s}`\n{USAGE}"))
    };
    let mut args = args.iter().enumerate();
    while let Some((i, a)) = args.next() {
        match a.as_str() {
            "merge" if i == 0 => parsed.merge = true,
            "--ci" => parsed.ci = true,
            "--no-sanitizer" => parsed.sanitizer = false,
            "--runs" => {
                let Some((_, n)) = args.next() else {
                    return Err(format!("fuzz: --runs needs a number\n{USAGE}"));
                };
                parsed.runs = Some(number(n, "--runs")?);
            }
            s if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() => {
                parsed.seconds = Some(number(s, "SECONDS")?);
            }
            s if s.starts_with('-') => {
                return Err(format!("fuzz: unknown option `{s}`\n{USAGE}"));
            }
            s => parsed.only.push(s.to_string()),
        }
    }
    Ok(parsed)
}

/// `cargo fuzz` in `fuzz/`, on the stable toolchain, building into `target_dir`.
fn cargo_fuzz(fuzz_dir: &Path, target_dir: &Path) -> Command {
    let mut cmd = Command::new(util::cargo());
    cmd.current_dir(fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir)
        .arg("fuzz");
    cmd
}

/// The triple cargo-fuzz builds for: the host's (`rustc -vV`).
fn host_triple() -> String {
    Command::new("rustc")
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        })
        .unwrap_or_else(|| "x86_64-unknown-linux-gnu".to_string())
}

/// Executions and coverage from a libFuzzer log: `stat::number_of_executed_units`
/// of `-print_final_stats=1` (else the last `#N` status line), and `cov:` and
/// `ft:` of the last status line that has them (`#N DONE cov: X ft: Y ...`).
fn parse_log(text: &str) -> Stats {
    let mut stats = Stats::default();
    let number = |s: &str| s.trim().parse::<u64>().ok();
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("stat::number_of_executed_units:")
            .or_else(|| line.strip_prefix("stat::number_of_executed_runs:"))
        {
            stats.runs = number(rest).or(stats.runs);
        } else if let Some(rest) = line.strip_prefix('#') {
            let mut words = rest.split_whitespace();
            let Some(n) = words.next().and_then(number) else {
                continue;
            };
            let words: Vec<&str> = words.collect();
            let after = |key: &str| {
                words
                    .iter()
                    .position(|w| *w == key)
                    .and_then(|i| words.get(i + 1))
                    .and_then(|w| number(w))
            };
            if let Some(cov) = after("cov:") {
                stats.cov = Some(cov);
                stats.ft = after("ft:");
            }
            if !text.contains("stat::number_of_executed_") {
                stats.runs = Some(n);
            }
        }
    }
    stats
}

/// Make `committed` hold exactly the files of `merged`.
fn replace_corpus(committed: &Path, merged: &Path) -> Result<(), String> {
    let files = |dir: &Path| -> Result<Vec<PathBuf>, String> {
        let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect())
    };
    let new = files(merged)?;
    if new.is_empty() {
        return Err(format!("{}: the merge kept nothing", merged.display()));
    }
    for old in files(committed)? {
        fs::remove_file(&old).map_err(|e| format!("{}: {e}", old.display()))?;
    }
    for f in new {
        let to = committed.join(f.file_name().unwrap_or_default());
        fs::copy(&f, &to).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(())
}

/// Files and bytes in a corpus directory.
fn corpus_size(dir: &Path) -> (usize, u64) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, 0);
    };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fuzz_target_is_run() {
        let manifest = fs::read_to_string(util::root().join("fuzz/Cargo.toml")).unwrap();
        let mut bins: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "mass-fuzz")
            .collect();
        let mut listed: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
        bins.sort_unstable();
        listed.sort_unstable();
        assert_eq!(bins, listed, "fuzz/Cargo.toml [[bin]]s and TARGETS differ");
    }

    #[test]
    fn libfuzzer_log_is_read() {
        let log = "INFO: Seed: 1\n#2\tINITED cov: 10 ft: 12 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #4096\tpulse  cov: 40 ft: 80 corp: 5/20b lim: 40 exec/s: 2048 rss: 31Mb\n\
                   #123456\tDONE   cov: 55 ft: 99 corp: 9/99b lim: 4096 exec/s: 6172 rss: 40Mb\n\
                   Done 123456 runs in 20 second(s)\n\
                   stat::number_of_executed_units: 123457\nstat::average_exec_per_sec:     6172\n";
        assert_eq!(
            parse_log(log),
            Stats {
                runs: Some(123_457),
                cov: Some(55),
                ft: Some(99)
            }
        );
        let crashed = "#2\tINITED cov: 10 ft: 12 corp: 1/1b\n#77\tNEW    cov: 11 ft: 13 corp: 2/3b\n\
                       thread '<unnamed>' panicked at x.rs:1:1\n";
        assert_eq!(
            parse_log(crashed),
            Stats {
                runs: Some(77),
                cov: Some(11),
                ft: Some(13)
            }
        );
    }

    #[test]
    fn arguments() {
        let a = |s: &[&str]| parse_args(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&[]), Ok(plain_args()));
        assert_eq!(
            a(&["120", "verify"]),
            Ok(Args {
                seconds: Some(120),
                only: vec!["verify".to_string()],
                ..plain_args()
            })
        );
        assert_eq!(
            a(&["--ci"]),
            Ok(Args {
                ci: true,
                ..plain_args()
            })
        );
        assert_eq!(
            a(&["merge", "zone_file"]),
            Ok(Args {
                merge: true,
                only: vec!["zone_file".to_string()],
                ..plain_args()
            })
        );
        assert_eq!(
            a(&["--runs", "10000000", "--no-sanitizer", "tag_list"]),
            Ok(Args {
                runs: Some(10_000_000),
                sanitizer: false,
                only: vec!["tag_list".to_string()],
                ..plain_args()
            })
        );
        assert!(a(&["--runs"]).is_err());
        assert!(a(&["--runs", "many"]).is_err());
        assert!(a(&["--fast"]).is_err());
    }

    fn plain_args() -> Args {
        Args {
            merge: false,
            ci: false,
            seconds: None,
            runs: None,
            sanitizer: true,
            only: vec![],
        }
    }
}
