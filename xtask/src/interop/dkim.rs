//! DKIM against dkimpy, Mail::DKIM and OpenDKIM over the generated corpus:
//! `mass sign` checked by the peers (issue 2), the peers' signatures checked by
//! `mass verify` (issue 3), each also tampered in body and header.

use super::message::{milter_safe, quote_txt, tamper_all, wire_form};
use super::{Env, Expect, Peer, Tally, corpus, on_two_threads, peer_verify, vectors};
use crate::util;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DOMAIN: &str = "example.com";
const CANONS: [&str; 4] = [
    "relaxed/relaxed",
    "simple/simple",
    "relaxed/simple",
    "simple/relaxed",
];

// ---------------------------------------------------------------- signing (issue 2)

/// Two keys from `mass keygen`, every message signed under every c=, every
/// signature checked by dkimpy and Mail::DKIM.
pub(super) fn signing(run: &mut util::Run, tally: &mut Tally, env: &Env) {
    let (peers, mass, work) = (env.peers, env.mass, env.work);
    let keys = work.join("mass-keys");
    let _ = fs::create_dir_all(&keys);
    let mut zone = String::new();
    let algs = [
        ("rsa-2048", "rsa-sha256", "massrsa"),
        ("ed25519", "ed25519-sha256", "massed"),
    ];
    for (keygen_alg, _, selector) in algs {
        match util::mass_keygen(mass, keygen_alg, DOMAIN, selector, &keys) {
            Ok(record) => {
                zone.push_str(&record);
                zone.push('\n');
                run.check(&format!("mass keygen --algorithm {keygen_alg}"), Ok(()));
            }
            Err(e) => {
                run.fail(e);
                return;
            }
        }
    }
    let zone_path = work.join("mass.zone");
    let _ = fs::write(&zone_path, &zone);

    for (_, alg, selector) in algs {
        let key = keys.join(format!("{selector}.{DOMAIN}.pem"));
        for canon in CANONS {
            let dir = work
                .join("mass-signed")
                .join(alg)
                .join(canon.replace('/', "-"));
            let _ = fs::create_dir_all(&dir);
            let mut signed = Vec::new();
            let mut sign_failures = Vec::new();
            let results = on_two_threads(env.corpus, |msg| {
                let out_path = dir.join(msg.file_name().unwrap_or_default());
                let result = Command::new(mass)
                    .args(["sign", "--key"])
                    .arg(&key)
                    .args(["--domain", DOMAIN, "--selector", selector])
                    .args(["--algorithm", alg, "--canon", canon])
                    .arg(msg)
                    .output();
                match result {
                    Ok(o) if o.status.success() && !o.stdout.is_empty() => {
                        fs::write(&out_path, &o.stdout)
                            .map(|()| out_path)
                            .map_err(|e| format!("{}: {e}", msg.display()))
                    }
                    Ok(o) => Err(format!(
                        "{}: {} {}",
                        msg.display(),
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                    Err(e) => Err(format!("{}: {e}", msg.display())),
                }
            });
            for r in results {
                match r {
                    Ok(p) => signed.push(p),
                    Err(e) => sign_failures.push(e),
                }
            }
            tally.add(("mass sign", alg, canon), signed.len(), sign_failures.len());
            run.fail_first(&format!("mass sign {alg} {canon}"), &sign_failures, 5);
            if signed.is_empty() {
                continue;
            }
            for (peer, check) in [
                (Peer::Dkimpy, "dkimpy verifies mass sign"),
                (Peer::MailDkim, "Mail::DKIM verifies mass sign"),
            ] {
                if peer == Peer::MailDkim && alg == "ed25519-sha256" && !peers.maildkim_ed25519 {
                    continue;
                }
                let key = (check, alg, canon);
                peer_verify(
                    run,
                    tally,
                    peers,
                    peer,
                    &zone_path,
                    &signed,
                    Expect::Pass,
                    key,
                );
            }
        }
    }
    tally.notes.push(
        "the peers read each message as SMTP delivers it (CRLF line ends, a final CRLF); \
         dkimpy 1.1.8 alone would keep the whitespace of an unterminated last line in a \
         relaxed body, and Mail::DKIM would not add the CRLF to a simple body"
            .into(),
    );
    if peers.maildkim && !peers.maildkim_ed25519 {
        tally.notes.push(
            "Mail::DKIM here has no ed25519-sha256 (Debian's version lacks \
             Mail::DKIM::Algorithm::ed25519_sha256): its Ed25519 checks were skipped"
                .into(),
        );
    }

    vectors::rfc8463_signing(run, tally, env);
}

// ---------------------------------------------------------------- verifying (issue 3)

pub(super) fn verifying(run: &mut util::Run, tally: &mut Tally, env: &Env) {
    // The peers' keys come from openssl; a missing one was said at set-up.
    if env.peers.openssl {
        peers_sign(run, tally, env);
    }
    vectors::mail_auth_corpus(run, tally, env.mass, env.work);
    vectors::rfc8463_verifying(run, tally, env.mass, env.work);
}

/// Every peer there signs the corpus (each message under one c=) with keys of
/// its own; `mass verify` passes them, and fails copies tampered in body and
/// header. dkimpy checks each peer's signatures too.
fn peers_sign(run: &mut util::Run, tally: &mut Tally, env: &Env) {
    let (peers, mass, work, corpus) = (env.peers, env.mass, env.work, env.corpus);
    // Independent peer keys, made by openssl.
    let keys = work.join("peer-keys");
    let _ = fs::create_dir_all(&keys);
    let rsa_key = keys.join("peer-rsa.pem");
    let ed_key = keys.join("peer-ed.pem");
    let made = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&rsa_key)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        && Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&ed_key)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !made {
        run.fail("openssl could not make the peer keys".into());
        return;
    }
    let rsa_spki = openssl_der(&["rsa", "-pubout", "-outform", "DER", "-in"], &rsa_key);
    let ed_spki = openssl_der(&["pkey", "-pubout", "-outform", "DER", "-in"], &ed_key);
    let (Some(rsa_spki), Some(ed_spki)) = (rsa_spki, ed_spki) else {
        run.fail("openssl could not print the peer public keys".into());
        return;
    };
    let ed_raw = &ed_spki[ed_spki.len().saturating_sub(32)..];
    let mut zone = String::new();
    for (selector, k, p) in [
        ("peerrsa", "rsa", util::base64(&rsa_spki)),
        ("peered", "ed25519", util::base64(ed_raw)),
    ] {
        let data = format!("v=DKIM1; k={k}; p={p}");
        let _ = writeln!(
            zone,
            "{selector}._domainkey.{DOMAIN}. IN TXT {}",
            quote_txt(&data)
        );
    }
    let zone_path = work.join("peers.zone");
    let _ = fs::write(&zone_path, &zone);

    // Message i is signed with canonicalization i % 4, so each peer covers all four.
    // OpenDKIM's test mode hands each field to the milter code as name and value and
    // rebuilds it as "Name: value", so simple header canonicalization can only match
    // fields already written that way; other messages get relaxed headers from it.
    let assign = |signer: &str| -> Vec<(&'static str, Vec<PathBuf>)> {
        let mut groups: Vec<(&'static str, Vec<PathBuf>)> =
            CANONS.iter().map(|c| (*c, Vec::new())).collect();
        for (i, path) in corpus.iter().enumerate() {
            let mut c = i % CANONS.len();
            if signer == "OpenDKIM"
                && CANONS[c].starts_with("simple/")
                && !fs::read(path).map(|b| milter_safe(&b)).unwrap_or(false)
            {
                c = if CANONS[c] == "simple/simple" { 2 } else { 0 };
            }
            groups[c].1.push(path.clone());
        }
        groups
    };

    let signers: [(&str, &str); 4] = [
        ("dkimpy", "rsa-sha256"),
        ("dkimpy", "ed25519-sha256"),
        ("Mail::DKIM", "rsa-sha256"),
        ("OpenDKIM", "rsa-sha256"),
    ];
    for (signer, alg) in signers {
        let present = match signer {
            "dkimpy" => peers.dkimpy,
            "Mail::DKIM" => peers.maildkim,
            _ => peers.opendkim,
        };
        if !present {
            continue;
        }
        for (canon, files) in &assign(signer) {
            let dir = work
                .join("peer-signed")
                .join(signer.replace("::", "-").to_ascii_lowercase())
                .join(alg)
                .join(canon.replace('/', "-"));
            let _ = fs::create_dir_all(&dir);
            let (key, selector) = if alg == "rsa-sha256" {
                (&rsa_key, "peerrsa")
            } else {
                (&ed_key, "peered")
            };
            let signed = if signer == "OpenDKIM" {
                opendkim_sign(run, key, selector, canon, &dir, files)
            } else {
                let mut cmd = if signer == "dkimpy" {
                    let mut c = peers.command(Peer::Dkimpy, "sign");
                    c.args(["--algorithm", alg]);
                    c
                } else {
                    peers.command(Peer::MailDkim, "sign")
                };
                script_sign(run, &mut cmd, key, selector, canon, &dir, files, signer)
            };
            tally.add(
                (&format!("{signer} signs (corpus)"), alg, canon),
                signed.len(),
                files.len() - signed.len(),
            );
            // Peers write CRLF; give LF-only messages back their LF line ends.
            for path in &signed {
                let lf = path
                    .file_name()
                    .map(|n| env.lf_only.iter().any(|l| n.to_string_lossy() == *l))
                    .unwrap_or(false);
                if let (true, Ok(b)) = (lf, fs::read(path)) {
                    let _ = fs::write(path, corpus::crlf_to_lf(&b));
                }
            }
            if signed.is_empty() {
                continue;
            }
            let (body_t, head_t) = match tamper_all(&signed, &dir) {
                Ok(t) => t,
                Err(e) => {
                    run.fail(format!("{signer} {alg} {canon}: {e}"));
                    continue;
                }
            };
            // The peer's own signatures must verify with dkimpy, or the checks
            // of mass below mean nothing.
            let tampered = [body_t.clone(), head_t.clone()].concat();
            for (files, expect, check) in [
                (
                    &signed,
                    Expect::Pass,
                    format!("dkimpy checks {signer}'s signatures"),
                ),
                (
                    &tampered,
                    Expect::Fail,
                    format!("dkimpy rejects tampered {signer}"),
                ),
            ] {
                let key = (check.as_str(), alg, *canon);
                peer_verify(
                    run,
                    tally,
                    peers,
                    Peer::Dkimpy,
                    &zone_path,
                    files,
                    expect,
                    key,
                );
            }
            for (files, expect, how) in [
                (&signed, Expect::Pass, "untouched"),
                (&body_t, Expect::Fail, "body tampered"),
                (&head_t, Expect::Fail, "header tampered"),
            ] {
                let check = format!("mass verify: {signer}, {how}");
                let key = (check.as_str(), alg, *canon);
                mass_verify_all(run, tally, mass, &zone_path, files, expect, key);
            }
        }
    }
}

/// Run a peer script's `sign` on a batch; return the files it wrote.
#[allow(clippy::too_many_arguments)]
fn script_sign(
    run: &mut util::Run,
    cmd: &mut Command,
    key: &Path,
    selector: &str,
    canon: &str,
    dir: &Path,
    files: &[PathBuf],
    signer: &str,
) -> Vec<PathBuf> {
    let out = cmd
        .arg("--key")
        .arg(key)
        .args(["--domain", DOMAIN, "--selector", selector, "--canon", canon])
        .arg("--out-dir")
        .arg(dir)
        .args(files)
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            for l in text.lines().filter(|l| l.starts_with("FAIL")).take(5) {
                run.fail(format!("{signer} sign {canon}: {l}"));
            }
            if !o.status.success() && !text.contains("FAIL") {
                run.fail(format!(
                    "{signer} sign {canon}: {} {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
        }
        Err(e) => run.fail(format!("cannot run {signer}: {e}")),
    }
    files
        .iter()
        .filter_map(|f| f.file_name().map(|n| dir.join(n)))
        .filter(|p| p.exists())
        .collect()
}

/// OpenDKIM signs through its own test mode (`opendkim -t`), which runs the
/// milter code path on a file and prints the field it would insert.
/// (`opendkim-testmsg` from Debian 12 fails every message with "dkim_chunk():
/// Syntax error" and would sign rsa-sha1 anyway.)
fn opendkim_sign(
    run: &mut util::Run,
    key: &Path,
    selector: &str,
    canon: &str,
    dir: &Path,
    files: &[PathBuf],
) -> Vec<PathBuf> {
    let conf = dir.join("opendkim.conf");
    let text = format!(
        "Domain {DOMAIN}\nSelector {selector}\nKeyFile {}\nCanonicalization {canon}\n\
         SignatureAlgorithm rsa-sha256\nMode sv\nSyslog no\nRequireSafeKeys no\n",
        key.display()
    );
    if fs::write(&conf, text).is_err() {
        run.fail("cannot write opendkim.conf".into());
        return Vec::new();
    }
    let mut signed = Vec::new();
    let mut failures = Vec::new();
    let wire_dir = dir.join("wire");
    let _ = fs::create_dir_all(&wire_dir);
    for msg in files {
        let (Some(name), Ok(original)) = (msg.file_name(), fs::read(msg)) else {
            continue;
        };
        // OpenDKIM's test mode signs nothing for a relaxed body without a
        // final CRLF.
        let wire = wire_form(&original);
        let wire_path = wire_dir.join(name);
        if fs::write(&wire_path, &wire).is_err() {
            continue;
        }
        let out = Command::new("opendkim")
            .arg("-x")
            .arg(&conf)
            .arg("-t")
            .arg(&wire_path)
            .args(["-vv"])
            .output();
        let o = match out {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("cannot run opendkim: {e}"));
                continue;
            }
        };
        let stdout = String::from_utf8_lossy(&o.stdout);
        let Some(value) = opendkim_inserted_signature(&stdout) else {
            failures.push(format!(
                "{}: no DKIM-Signature from opendkim ({}) {}",
                msg.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
            continue;
        };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"DKIM-Signature: ");
        bytes.extend_from_slice(value.replace('\n', "\r\n").as_bytes());
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&wire);
        let path = dir.join(name);
        if fs::write(&path, bytes).is_ok() {
            signed.push(path);
        }
    }
    run.fail_first(&format!("OpenDKIM sign {canon}"), &failures, 5);
    signed
}

/// The value in `### INSHEADER: idx=0 hname='DKIM-Signature' hvalue='...'`.
fn opendkim_inserted_signature(stdout: &str) -> Option<String> {
    let start = stdout.find("hname='DKIM-Signature' hvalue='")?;
    let rest = &stdout[start + "hname='DKIM-Signature' hvalue='".len()..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_string())
}

/// `mass verify --zone Z FILE` for each file. `Expect::Pass`: exit 0 and a
/// `dkim=pass` in the Authentication-Results field; `Expect::Fail`: exit 1,
/// `dkim=fail` and no `dkim=pass`.
fn mass_verify_all(
    run: &mut util::Run,
    tally: &mut Tally,
    mass: &Path,
    zone: &Path,
    files: &[PathBuf],
    expect: Expect,
    key: (&str, &str, &str),
) {
    let (mut passed, mut failed) = (0, 0);
    let results = on_two_threads(files, |f| {
        let o = Command::new(mass)
            .arg("verify")
            .arg("--zone")
            .arg(zone)
            .arg(f)
            .output()
            .map_err(|e| format!("cannot run mass verify: {e}"))?;
        let stdout = String::from_utf8_lossy(&o.stdout);
        let ok = match expect {
            Expect::Pass => o.status.code() == Some(0) && stdout.contains("dkim=pass"),
            Expect::Fail => {
                o.status.code() == Some(1)
                    && stdout.contains("dkim=fail")
                    && !stdout.contains("dkim=pass")
            }
        };
        if ok {
            return Ok(());
        }
        Err(format!(
            "{} ({} {}): {}: {} (want {}): {} {}",
            key.0,
            key.1,
            key.2,
            f.display(),
            o.status,
            match expect {
                Expect::Pass => "exit 0, dkim=pass",
                Expect::Fail => "exit 1, dkim=fail",
            },
            stdout.trim(),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    });
    for r in results {
        match r {
            Ok(()) => passed += 1,
            Err(e) => {
                failed += 1;
                if failed <= 5 {
                    run.fail(e);
                }
            }
        }
    }
    if failed > 5 {
        run.fail(format!(
            "{} ({} {}): {failed} failures in all",
            key.0, key.1, key.2
        ));
    }
    tally.add(key, passed, failed);
}

fn openssl_der(args: &[&str], key: &Path) -> Option<Vec<u8>> {
    let o = Command::new("openssl")
        .args(args)
        .arg(key)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    (o.status.success() && !o.stdout.is_empty()).then_some(o.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_opendkim_test_mode_output() {
        let out =
            "### INSHEADER: idx=0 hname='DKIM-Signature' hvalue='v=1; a=rsa-sha256;\n\tb=abc'\n";
        assert_eq!(
            opendkim_inserted_signature(out).as_deref(),
            Some("v=1; a=rsa-sha256;\n\tb=abc")
        );
    }
}
