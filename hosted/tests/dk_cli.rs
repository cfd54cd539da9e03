//! `mass sign --scheme domainkeys` as a user runs it: the signed message
//! verifies with core's DomainKeys verifier under both canonicalizations,
//! and options DomainKeys has no use for are refused.

use std::io::Write;
use std::process::Stdio;

use mass_core::dkim::verify::{KeyAnswer, Verdict};
use mass_core::domainkeys::{DkMessageVerifier, DkReason};

mod support;
use support::{ScratchDir, mass};

fn tempdir(name: &str) -> ScratchDir {
    ScratchDir::new("dkcli", name)
}

/// Make a key; return the TXT data of its record (strings joined).
fn keygen(dir: &std::path::Path, alg: &str, selector: &str) -> String {
    let out = mass()
        .args(["keygen", "--algorithm", alg, "--domain", "example.com"])
        .args(["--selector", selector, "--out-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    text.split('"').skip(1).step_by(2).collect()
}

const MSG: &[u8] =
    b"From: Alice <alice@example.com>\nTo: bob@example.net\nSubject: hi  there\n\nHello  world\n\n";

fn sign(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut child = mass()
        .args(["sign", "--scheme", "domainkeys", "--key"])
        .arg(dir.join("dk.example.com.pem"))
        .args(["--domain", "example.com", "--selector", "dk"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal may come before the input is read.
    let _ = child.stdin.take().unwrap().write_all(MSG);
    child.wait_with_output().unwrap()
}

fn verify(message: &[u8], record: &str) -> (Verdict, DkReason) {
    let mut v = DkMessageVerifier::<4>::new(4);
    v.update(message).unwrap();
    v.end_of_input().unwrap();
    let ids: Vec<usize> = v.key_requests().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 1);
    v.provide_key(ids[0], KeyAnswer::Records(&[record.as_bytes()]));
    let r = v.finish().unwrap();
    (r[0].verdict, r[0].reason)
}

#[test]
fn domainkeys_signatures_verify_under_both_canonicalizations() {
    let dir = tempdir("sign");
    let record = keygen(&dir, "rsa-2048", "dk");
    for canon in [None, Some("simple"), Some("nofws")] {
        let args: Vec<&str> = canon.map(|c| vec!["--canon", c]).unwrap_or_default();
        let out = sign(&dir, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = format!("c={};", canon.unwrap_or("simple"));
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        assert!(
            text.starts_with("DomainKey-Signature: a=rsa-sha1; q=dns; "),
            "{text}"
        );
        assert!(text.contains(&want), "{text}");
        assert_eq!(
            verify(&out.stdout, &record),
            (Verdict::Pass, DkReason::Verified)
        );
        let tampered = text.replace("Hello", "Jello");
        assert_eq!(
            verify(tampered.as_bytes(), &record),
            (Verdict::Fail, DkReason::SignatureMismatch)
        );
    }
    // With --headers, h= lists the signed fields.
    let out = sign(&dir, &["--headers", "subject"]);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.contains("h=From:Subject;"), "{text}");
    assert_eq!(
        verify(&out.stdout, &record),
        (Verdict::Pass, DkReason::Verified)
    );
    // --header-only prints the field alone.
    let out = sign(&dir, &["--header-only"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("DomainKey-Signature:") && !text.contains("Hello"));
}

#[test]
fn domainkeys_refuses_what_it_cannot_do() {
    let dir = tempdir("refuse");
    keygen(&dir, "rsa-2048", "dk");
    for args in [
        &["--canon", "relaxed/relaxed"][..],
        &["--identity", "a@example.com"],
        &["--body-length"],
        &["--algorithm", "rsa-sha256"],
    ] {
        let out = sign(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = mass()
        .args(["sign", "--scheme", "domainkeys", "--key"])
        .arg(dir.join("dk.example.com.pem"))
        .args(["--domain", "other.org", "--selector", "dk", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            let _ = c.stdin.take().unwrap().write_all(MSG);
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signing domain"));
    keygen(&dir, "ed25519", "ed");
    let out = mass()
        .args(["sign", "--scheme", "domainkeys", "--key"])
        .arg(dir.join("ed.example.com.pem"))
        .args(["--domain", "example.com", "--selector", "ed", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("RSA key"));
    let out = mass()
        .args([
            "sign",
            "--scheme",
            "arc",
            "--key",
            "x",
            "--domain",
            "a.b",
            "--selector",
            "s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn mass_verify_reports_domainkeys_as_a_legacy_result() {
    let dir = tempdir("verify");
    // mass keygen prints the zone line; the DomainKeys key is the same
    // record as a DKIM key.
    let out = mass()
        .args([
            "keygen",
            "--algorithm",
            "rsa-2048",
            "--domain",
            "example.com",
        ])
        .args(["--selector", "dk", "--out-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let zone = dir.join("zone");
    std::fs::write(&zone, &out.stdout).unwrap();

    let signed = sign(&dir, &["--canon", "nofws"]);
    let path = dir.join("signed.eml");
    let verify = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        let out = mass()
            .args(["verify", "--authserv-id", "mx.test", "--zone"])
            .arg(&zone)
            .arg(&path)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, text) = verify(&signed.stdout);
    // A DomainKeys pass alone is no DKIM pass: exit status 1.
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("dkim=none;"), "{text}");
    assert!(
        text.replace("\n\t", " ").contains(
            "domainkeys=pass (legacy DomainKeys SHA-1 result, never a DKIM pass) \
             header.d=example.com header.from=alice@example.com"
        ),
        "{text}"
    );
    let tampered = String::from_utf8(signed.stdout)
        .unwrap()
        .replace("Hello", "Jello");
    let (code, text) = verify(tampered.as_bytes());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("domainkeys=fail"), "{text}");
}
