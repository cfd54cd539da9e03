//! `mass batv sign|check` as a user runs it: output, and exit codes 0 (valid),
//! 1 (invalid, expired, missing, or left untagged) and 2 (usage or secret file).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::ScratchDir;

/// Unix day 20_785 (2026-11-28), the day the Exim vectors below were made.
const EXIM_DAY: u64 = 20_785 * 86_400;

/// A secret file of `mode` in its own scratch directory, removed on drop.
struct SecretFile {
    _dir: ScratchDir,
    path: PathBuf,
}

impl std::ops::Deref for SecretFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

fn secret_file(name: &str, text: &str, mode: u32) -> SecretFile {
    let dir = ScratchDir::new("batv-cli", name);
    let path = dir.join("secret");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    SecretFile { _dir: dir, path }
}

/// (exit code, stdout trimmed, stderr)
fn batv(args: &[&str], secret: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mass"))
        .arg("batv")
        .args(&args[..1])
        .arg("--secret-file")
        .arg(secret)
        .args(&args[1..])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn signs_like_exim_and_checks_exims_tags() {
    let s = secret_file("exim", "secret\n", 0o600);
    let now = EXIM_DAY.to_string();
    // ${prvs{Foo.Bar+x@Example.COM}{secret}{3}} from Exim 4.96 on that day.
    let (code, out, _) = batv(
        &[
            "sign",
            "--keynum",
            "3",
            "--now",
            &now,
            "Foo.Bar+x@Example.COM",
        ],
        &s,
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "prvs=3792bf1249=Foo.Bar+x@Example.COM")
    );
    let (code, out, _) = batv(
        &[
            "check",
            "--now",
            &now,
            "prvs=0792d48f5e=Foo.Bar+x@Example.COM",
        ],
        &s,
    );
    assert_eq!((code, out.as_str()), (0, "Foo.Bar+x@Example.COM"));
    // Angle brackets are accepted.
    let (code, out, _) = batv(&["sign", "--now", &now, "<a@b.example>"], &s);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("prvs=0792") && out.ends_with("=a@b.example"),
        "{out}"
    );
}

#[test]
fn invalid_expired_and_missing_tags_exit_1() {
    let s = secret_file("invalid", "secret", 0o600);
    let now = EXIM_DAY.to_string();
    for (tag, why) in [
        (
            "prvs=3792bf1248=Foo.Bar+x@Example.COM",
            "hash does not match",
        ),
        (
            "prvs=3792bf1249=foo.bar+x@example.com",
            "hash does not match",
        ),
        ("Foo.Bar+x@Example.COM", "no prvs= tag"),
        (
            "prvs=3792bf12zz=Foo.Bar+x@Example.COM",
            "not six hex digits",
        ),
        ("prvs=A792bf1249=Foo.Bar+x@Example.COM", "key number"),
        ("prvs=37x2bf1249=Foo.Bar+x@Example.COM", "not three digits"),
    ] {
        let (code, out, err) = batv(&["check", "--now", &now, tag], &s);
        assert_eq!(code, 1, "{tag}: {err}");
        assert!(out.is_empty(), "{tag}: {out}");
        assert!(err.contains(why), "{tag}: {err}");
    }
    // Valid through its expiry day (7 days on), expired the day after; --grace-days 1
    // gives one more day.
    let tag = "prvs=3792bf1249=Foo.Bar+x@Example.COM";
    let last = (EXIM_DAY + 8 * 86_400 - 1).to_string();
    let after = (EXIM_DAY + 8 * 86_400).to_string();
    assert_eq!(batv(&["check", "--now", &last, tag], &s).0, 0);
    let (code, _, err) = batv(&["check", "--now", &after, tag], &s);
    assert_eq!(code, 1);
    assert!(err.contains("expired 1 day"), "{err}");
    assert_eq!(
        batv(&["check", "--now", &after, "--grace-days", "1", tag], &s).0,
        0
    );
}

#[test]
fn a_local_part_that_would_pass_64_octets_is_left_untagged() {
    let s = secret_file("long", "secret", 0o600);
    let address = format!("{}@example.com", "a".repeat(49));
    let (code, out, err) = batv(&["sign", &address], &s);
    assert_eq!((code, out.as_str()), (1, address.as_str()));
    assert!(
        err.contains("not tagged") && err.contains("65 octets"),
        "{err}"
    );
    let address = format!("{}@example.com", "a".repeat(48));
    assert_eq!(batv(&["sign", &address], &s).0, 0);
}

#[test]
fn usage_and_secret_file_errors_exit_2() {
    let s = secret_file("usage", "secret", 0o600);
    assert_eq!(batv(&["sign", "--keynum", "10", "a@b"], &s).0, 2);
    assert_eq!(batv(&["sign", "--days", "500", "a@b"], &s).0, 2);
    assert_eq!(batv(&["sign", "no-at-sign"], &s).0, 2);
    let open = secret_file("open", "secret", 0o644);
    let (code, _, err) = batv(&["sign", "a@b"], &open);
    assert_eq!(code, 2);
    assert!(err.contains("0644"), "{err}");
    assert_eq!(batv(&["sign", "--insecure-secret-file", "a@b"], &open).0, 0);
    let empty = secret_file("empty", "\n", 0o600);
    assert_eq!(batv(&["check", "prvs=0792d48f5e=a@b"], &empty).0, 2);
    let missing = s.with_file_name("none");
    assert_eq!(batv(&["check", "prvs=0792d48f5e=a@b"], &missing).0, 2);
}
