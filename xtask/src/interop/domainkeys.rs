//! The DomainKeys part of `cargo xtask interop` (also `cargo xtask interop-dk`):
//! `mass` against Mail::DKIM (Debian `libmail-dkim-perl`), RFC 4870 both ways.
//!
//! Over the generated corpus, in wire form (CRLF line ends, ending in CRLF, as SMTP
//! carries it), under `c=simple` and `c=nofws`, each with and without `h=`:
//! 1. `mass sign --scheme domainkeys` signs every message, and Mail::DKIM verifies every
//!    signature (`tests/interop/maildkim_peer.pl verify`, which checks every signature
//!    Mail::DKIM's verifier finds, DomainKeys ones included);
//! 2. Mail::DKIM signs every message through a signer policy that adds a
//!    `Mail::DKIM::DkSignature` (`tests/interop/maildkim_dk_peer.pl`), and
//!    `mass verify --zone` reports `domainkeys=pass` for each;
//! 3. copies tampered in the body and in From give fail on both sides.
//!
//! Counts are printed per direction, canonicalization and `h=`; any failure fails the
//! step.

use super::message::{tamper_all, wire_form};
use crate::util;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const DOMAIN: &str = "example.com";
const SELECTOR: &str = "massdk";
const CANONS: [&str; 2] = ["simple", "nofws"];
/// Fields named in `h=` for the listed variant (From is always added).
const LISTED: &str = "from:to:subject:date:message-id";
/// The peer, as a missing one is named.
const MAILDKIM: &str = "Mail::DKIM (DomainKeys peer)";

/// One row of the printed table.
#[derive(Debug)]
struct Row {
    check: String,
    canon: &'static str,
    h: &'static str,
    passed: usize,
    failed: usize,
}

#[derive(Debug, Default)]
struct Report {
    rows: Vec<Row>,
}

impl Report {
    fn add(&mut self, check: &str, canon: &'static str, h: &'static str, ok: usize, bad: usize) {
        self.rows.push(Row {
            check: check.to_string(),
            canon,
            h,
            passed: ok,
            failed: bad,
        });
    }

    fn print(&self) {
        eprintln!("xtask[interop]: DomainKeys results");
        eprintln!(
            "  {:<52} {:<7} {:<7} {:>7} {:>7}",
            "check", "c=", "h=", "passed", "failed"
        );
        for r in &self.rows {
            eprintln!(
                "  {:<52} {:<7} {:<7} {:>7} {:>7}",
                r.check, r.canon, r.h, r.passed, r.failed
            );
        }
    }
}

/// `cargo xtask interop-dk`: only this step, on its own corpus.
pub fn run_alone(args: &[String]) -> Result<(), String> {
    let mut count = 300usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--count" => {
                count = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--count needs a number")?
            }
            other => return Err(format!("interop-dk: unknown option `{other}`")),
        }
    }
    let mut run = util::Run::new("interop-dk");
    if !util::need_apt_peer(&mut run, MAILDKIM, &["libmail-dkim-perl"]) {
        return run.finish();
    }
    let Some((work, mass)) = util::scratch_with_mass(&mut run, "dk-interop", true) else {
        return run.finish();
    };
    let corpus_dir = work.join("corpus");
    if let Err(e) = fs::create_dir_all(&corpus_dir) {
        run.fail(format!("cannot create {}: {e}", corpus_dir.display()));
        let _ = fs::remove_dir_all(&work);
        return run.finish();
    }
    let mut files = Vec::new();
    for m in super::corpus::generate(count, 0x6d61_7373) {
        let path = corpus_dir.join(&m.name);
        if fs::write(&path, &m.bytes).is_ok() {
            files.push(path);
        }
    }
    run_step(&mut run, &mass, &work, &files, &util::root());
    let _ = fs::remove_dir_all(&work);
    run.finish()
}

/// Runs the DomainKeys interop into `run`, with the `mass` binary at `mass`, temporary
/// files under `work` and the corpus `corpus`. The caller has made sure Mail::DKIM is
/// installed.
pub fn run_step(run: &mut util::Run, mass: &Path, work: &Path, corpus: &[PathBuf], root: &Path) {
    let mut report = Report::default();
    let result = exercise(
        run,
        &mut report,
        mass,
        &work.join("domainkeys"),
        corpus,
        root,
    );
    report.print();
    match result {
        Ok(()) => {
            let bad: usize = report.rows.iter().map(|r| r.failed).sum();
            let good: usize = report.rows.iter().map(|r| r.passed).sum();
            run.check(
                &format!("domainkeys: {good} checks against Mail::DKIM"),
                if bad == 0 {
                    Ok(())
                } else {
                    Err(format!("{bad} failed"))
                },
            );
        }
        Err(e) => run.fail(format!("domainkeys: {e}")),
    }
}

fn exercise(
    run: &mut util::Run,
    report: &mut Report,
    mass: &Path,
    dir: &Path,
    corpus: &[PathBuf],
    root: &Path,
) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // The key, from mass keygen; its record serves both sides.
    let keys = dir.join("keys");
    fs::create_dir_all(&keys).map_err(|e| e.to_string())?;
    let record = util::mass_keygen(mass, "rsa-2048", DOMAIN, SELECTOR, &keys)?;
    let zone = dir.join("dk.zone");
    fs::write(&zone, record).map_err(|e| e.to_string())?;
    let key = keys.join(format!("{SELECTOR}.{DOMAIN}.pem"));

    // The corpus in wire form.
    let wire_dir = dir.join("wire");
    fs::create_dir_all(&wire_dir).map_err(|e| e.to_string())?;
    let mut wire = Vec::new();
    for path in corpus {
        let (Some(name), Ok(bytes)) = (path.file_name(), fs::read(path)) else {
            continue;
        };
        let p = wire_dir.join(name);
        if fs::write(&p, wire_form(&bytes)).is_ok() {
            wire.push(p);
        }
    }
    let has_verify = has_mass_verify(mass);
    if !has_verify {
        // As the DKIM verifying half does: said loudly, not a failure of DomainKeys.
        eprintln!(
            "xtask[interop]: SKIPPED mass verifying Mail::DKIM's DomainKey-Signatures: this \
             build of mass has no `verify` command"
        );
    }

    for canon in CANONS {
        for h in ["none", "listed"] {
            // 1. mass signs, Mail::DKIM verifies.
            let signed_dir = dir.join(format!("mass-{canon}-{h}"));
            fs::create_dir_all(&signed_dir).map_err(|e| e.to_string())?;
            let mut signed = Vec::new();
            let mut failures = Vec::new();
            for msg in &wire {
                let mut cmd = Command::new(mass);
                cmd.args(["sign", "--scheme", "domainkeys", "--canon", canon, "--key"])
                    .arg(&key)
                    .args(["--domain", DOMAIN, "--selector", SELECTOR]);
                if h == "listed" {
                    cmd.args(["--headers", LISTED]);
                }
                match cmd.arg(msg).output() {
                    Ok(o) if o.status.success() => {
                        let p = signed_dir.join(msg.file_name().unwrap_or_default());
                        if fs::write(&p, &o.stdout).is_ok() {
                            signed.push(p);
                        }
                    }
                    Ok(o) => failures.push(format!(
                        "{}: {}",
                        msg.display(),
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                    Err(e) => failures.push(format!("{}: {e}", msg.display())),
                }
            }
            report.add(
                "mass sign --scheme domainkeys",
                canon,
                h,
                signed.len(),
                failures.len(),
            );
            for f in failures.iter().take(3) {
                run.fail(format!("domainkeys: mass sign c={canon} h={h}: {f}"));
            }
            let (ok, bad) = maildkim_verify(run, root, &zone, &signed, "pass")?;
            report.add(
                "Mail::DKIM verifies mass's DomainKey-Signature",
                canon,
                h,
                ok,
                bad,
            );
            let (body, from) = tamper_all(&signed, &signed_dir)?;
            let (ok, bad) = maildkim_verify(run, root, &zone, &body, "fail")?;
            report.add("Mail::DKIM fails mass's, body tampered", canon, h, ok, bad);
            let (ok, bad) = maildkim_verify(run, root, &zone, &from, "fail")?;
            report.add("Mail::DKIM fails mass's, From tampered", canon, h, ok, bad);

            // 2. Mail::DKIM signs, mass verifies.
            let peer_dir = dir.join(format!("maildkim-{canon}-{h}"));
            let mut cmd = Command::new("perl");
            cmd.arg(root.join("tests/interop/maildkim_dk_peer.pl"))
                .args(["sign", "--key"])
                .arg(&key)
                .args(["--domain", DOMAIN, "--selector", SELECTOR, "--canon", canon]);
            if h == "listed" {
                cmd.arg("--h");
            }
            cmd.arg("--out-dir").arg(&peer_dir).args(&wire);
            let out = cmd.output().map_err(|e| format!("cannot run perl: {e}"))?;
            let peer_signed: Vec<PathBuf> = wire
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| peer_dir.join(n))
                .filter(|p| p.is_file())
                .collect();
            let sign_failed = wire.len() - peer_signed.len();
            report.add(
                "Mail::DKIM signs DomainKeys",
                canon,
                h,
                peer_signed.len(),
                sign_failed,
            );
            if !out.status.success() || sign_failed > 0 {
                run.fail(format!(
                    "domainkeys: Mail::DKIM sign c={canon} h={h}: {}",
                    String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .filter(|l| l.starts_with("FAIL"))
                        .take(3)
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            // The peer's own signatures must verify with Mail::DKIM, or the check below
            // means nothing.
            let (ok, bad) = maildkim_verify(run, root, &zone, &peer_signed, "pass")?;
            report.add("Mail::DKIM verifies its own DomainKeys", canon, h, ok, bad);
            if has_verify {
                let (ok, bad) = mass_verify(run, mass, &zone, &peer_signed, "pass");
                report.add(
                    "mass verify: domainkeys=pass on Mail::DKIM's",
                    canon,
                    h,
                    ok,
                    bad,
                );
                let (body, from) = tamper_all(&peer_signed, &peer_dir)?;
                let (ok, bad) = mass_verify(run, mass, &zone, &body, "fail");
                report.add(
                    "mass verify: domainkeys=fail, body tampered",
                    canon,
                    h,
                    ok,
                    bad,
                );
                let (ok, bad) = mass_verify(run, mass, &zone, &from, "fail");
                report.add(
                    "mass verify: domainkeys=fail, From tampered",
                    canon,
                    h,
                    ok,
                    bad,
                );
            }
        }
    }
    Ok(())
}

fn has_mass_verify(mass: &Path) -> bool {
    Command::new(mass)
        .args(["verify", "--help"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `maildkim_peer.pl verify --zone Z --expect E FILES`: (ok, not ok).
fn maildkim_verify(
    run: &mut util::Run,
    root: &Path,
    zone: &Path,
    files: &[PathBuf],
    expect: &str,
) -> Result<(usize, usize), String> {
    if files.is_empty() {
        return Ok((0, 0));
    }
    let out = Command::new("perl")
        .arg(root.join("tests/interop/maildkim_peer.pl"))
        .args(["verify", "--zone"])
        .arg(zone)
        .args(["--expect", expect])
        .args(files)
        .output()
        .map_err(|e| format!("cannot run perl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ok = text.lines().filter(|l| l.starts_with("ok ")).count();
    let bad: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL ")).collect();
    for line in bad.iter().take(3) {
        run.fail(format!("domainkeys: Mail::DKIM (expect {expect}): {line}"));
    }
    if ok + bad.len() != files.len() {
        run.fail(format!(
            "domainkeys: Mail::DKIM verify gave {} answers for {} files: {}",
            ok + bad.len(),
            files.len(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok((ok, files.len() - ok))
}

/// `mass verify --zone Z FILE` for each file; the Authentication-Results must say
/// `domainkeys=<expect>` and no DKIM pass may come of it (exit status 1: DomainKeys
/// never counts as a DKIM pass).
fn mass_verify(
    run: &mut util::Run,
    mass: &Path,
    zone: &Path,
    files: &[PathBuf],
    expect: &str,
) -> (usize, usize) {
    let (mut ok, mut bad) = (0, 0);
    let want = format!("domainkeys={expect}");
    for f in files {
        let out = Command::new(mass)
            .args(["verify", "--zone"])
            .arg(zone)
            .arg(f)
            .output();
        match out {
            Ok(o)
                if String::from_utf8_lossy(&o.stdout).contains(&want)
                    && o.status.code() == Some(1) =>
            {
                ok += 1
            }
            Ok(o) => {
                bad += 1;
                if bad <= 3 {
                    run.fail(format!(
                        "domainkeys: mass verify {} (want {want}, exit 1): {} {} {}",
                        f.display(),
                        o.status,
                        String::from_utf8_lossy(&o.stdout).trim(),
                        String::from_utf8_lossy(&o.stderr).trim()
                    ));
                }
            }
            Err(e) => {
                bad += 1;
                run.fail(format!("domainkeys: cannot run mass verify: {e}"));
            }
        }
    }
    (ok, bad)
}
