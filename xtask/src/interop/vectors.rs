//! DKIM against published vectors (`../shared`): RFC 8463 Appendix A both ways,
//! and the mail-auth corpus verified by `mass verify`.

use super::message::{
    count_signatures, lf_to_crlf, newest_timestamp, quote_txt, strip_dkim_signatures,
};
use super::{Env, Expect, Peer, Tally, peer_verify};
use crate::util;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The mail-auth corpus is checked at the time its own tests use, or at the
/// newest `t=` of the message when that is later (a verifier may refuse a
/// signature from the future, RFC 6376 §3.5 t=).
const MAIL_AUTH_NOW: u64 = 1_667_843_664;

/// RFC 8463 Appendix A: `mass sign` with the RFC's own keys makes signatures
/// dkimpy verifies against the RFC's key records (A.2).
pub(super) fn rfc8463_signing(run: &mut util::Run, tally: &mut Tally, env: &Env) {
    let (peers, mass, work) = (env.peers, env.mass, env.work);
    let dir = work.join("rfc8463");
    let (v, message, zone) = match Rfc8463::load(&dir) {
        Ok(loaded) => loaded,
        Err(e) => return run.fail(e),
    };
    let ed_key = dir.join("brisbane.pem");
    let rsa_key = dir.join("test.pem");
    // PKCS#8 (RFC 8410) around the 32-byte Ed25519 seed.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&v.ed25519_seed);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        util::base64(&der)
    );
    if util::write_private(&ed_key, pem.as_bytes()).is_err()
        || util::write_private(&rsa_key, v.rsa_pem.as_bytes()).is_err()
    {
        run.fail("cannot write the RFC 8463 keys".into());
        return;
    }
    // The message without its two signatures.
    let unsigned = strip_dkim_signatures(&message);
    let input = dir.join("message.eml");
    let _ = fs::write(&input, &unsigned);
    let mut signed = Vec::new();
    for (key, selector, alg) in [
        (&ed_key, "brisbane", "ed25519-sha256"),
        (&rsa_key, "test", "rsa-sha256"),
    ] {
        let out = Command::new(mass)
            .args(["sign", "--key"])
            .arg(key)
            .args(["--domain", "football.example.com", "--selector", selector])
            .args(["--algorithm", alg, "--canon", "relaxed/relaxed"])
            .args([
                "--headers",
                "from:to:subject:date:message-id:from:subject:date",
                "--exact-headers",
            ])
            .args(["--now", "1528637909"])
            .arg(&input)
            .output();
        let label = format!("mass sign with the RFC 8463 {selector} key");
        match out {
            Ok(o) if o.status.success() => {
                let path = dir.join(format!("signed-{selector}.eml"));
                let _ = fs::write(&path, &o.stdout);
                signed.push(path);
                run.check(&label, Ok(()));
            }
            Ok(o) => {
                tally.add(("RFC 8463 A: mass sign", alg, "relaxed/relaxed"), 0, 1);
                run.fail(format!(
                    "{label}: {} {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => run.fail(format!("{label}: {e}")),
        }
    }
    if !signed.is_empty() {
        let key = (
            "RFC 8463 A: dkimpy verifies mass sign",
            "both",
            "relaxed/relaxed",
        );
        peer_verify(
            run,
            tally,
            peers,
            Peer::Dkimpy,
            &zone,
            &signed,
            Expect::Pass,
            key,
        );
    }
}

/// `../shared/corpora/mail-auth/resources/dkim/*.txt`: each holds its key
/// records (`name value` lines), a blank line, then a message whose
/// signatures pass.
pub(super) fn mail_auth_corpus(run: &mut util::Run, tally: &mut Tally, mass: &Path, work: &Path) {
    let dir = util::shared_dir().join("corpora/mail-auth/resources/dkim");
    let Ok(entries) = fs::read_dir(&dir) else {
        run.fail(format!("cannot read {}", dir.display()));
        return;
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let out_dir = work.join("mail-auth");
    let _ = fs::create_dir_all(&out_dir);
    for f in files {
        let Some((records, message)) = read_txt_and_message(&f) else {
            run.fail(format!(
                "cannot split {} into records and message",
                f.display()
            ));
            continue;
        };
        let stem = f
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let zone = out_dir.join(format!("{stem}.zone"));
        let mut z = String::new();
        for (name, value) in &records {
            let _ = writeln!(z, "{name}. IN TXT {}", quote_txt(value));
        }
        let msg = out_dir.join(format!("{stem}.eml"));
        let _ = fs::write(&zone, z);
        let _ = fs::write(&msg, &message);
        let sigs = count_signatures(&message);
        let label = format!("mass verify: mail-auth {stem}");
        let now = newest_timestamp(&message)
            .unwrap_or(0)
            .max(MAIL_AUTH_NOW)
            .to_string();
        let out = Command::new(mass)
            .args(["verify", "--now", &now, "--zone"])
            .arg(&zone)
            .arg(&msg)
            .output();
        match out {
            Ok(o) => {
                let stdout = String::from_utf8_lossy(&o.stdout);
                let passes = stdout.matches("dkim=pass").count();
                eprintln!(
                    "xtask[interop]: mail-auth {stem} at {now}: {}, {passes}/{sigs} pass: {}",
                    o.status,
                    stdout.split_whitespace().collect::<Vec<_>>().join(" ")
                );
                // mail-auth's own test wants the last signature to pass; 001 is RFC 8463's
                // message, where both must.
                let want = if stem == "001" { sigs } else { 1 };
                if o.status.success() && passes >= want {
                    tally.add((&label, "corpus", "-"), 1, 0);
                } else {
                    tally.add((&label, "corpus", "-"), 0, 1);
                    run.fail(format!(
                        "{label}: {}, {passes} of {sigs} signatures passed (want {want}): {} {}",
                        o.status,
                        stdout.trim(),
                        String::from_utf8_lossy(&o.stderr).trim()
                    ));
                }
            }
            Err(e) => run.fail(format!("cannot run mass verify: {e}")),
        }
    }
}

/// RFC 8463 Appendix A: the published message, with the key records of A.2
/// as they appear in `../shared/vectors`, verifies with both signatures.
pub(super) fn rfc8463_verifying(run: &mut util::Run, tally: &mut Tally, mass: &Path, work: &Path) {
    let dir = work.join("rfc8463-verify");
    let (_, message, zone) = match Rfc8463::load(&dir) {
        Ok(loaded) => loaded,
        Err(e) => return run.fail(e),
    };
    let msg = dir.join("a3.eml");
    let _ = fs::write(&msg, &message);
    let label = "mass verify: RFC 8463 A.3 (both signatures)";
    match Command::new(mass)
        .args(["verify", "--now", "1528637909", "--zone"])
        .arg(&zone)
        .arg(&msg)
        .output()
    {
        Ok(o) => {
            let stdout = String::from_utf8_lossy(&o.stdout);
            let passes = stdout.matches("dkim=pass").count();
            if o.status.success() && passes == 2 {
                tally.add((label, "both", "relaxed/relaxed"), 1, 0);
            } else {
                tally.add((label, "both", "relaxed/relaxed"), 0, 1);
                run.fail(format!(
                    "{label}: {}, {passes} of 2 passed: {}",
                    o.status,
                    stdout.trim()
                ));
            }
        }
        Err(e) => run.fail(format!("cannot run mass verify: {e}")),
    }
}

// ---------------------------------------------------------------- reading the vectors

/// RFC 8463 Appendix A as `../shared/vectors/rfc8463-appendix-a.txt` lays it out.
#[derive(Debug)]
struct Rfc8463 {
    ed25519_seed: Vec<u8>,
    rsa_pem: String,
    zone: Vec<String>,
}

impl Rfc8463 {
    /// The vectors from `../shared/vectors/rfc8463-appendix-a.txt`, the
    /// signed message of A.3 as mail-auth's `001.txt` holds it, and the key
    /// records of A.2 written as a zone file into `dir` (created).
    fn load(dir: &Path) -> Result<(Self, Vec<u8>, PathBuf), String> {
        let shared = util::shared_dir();
        let path = shared.join("vectors/rfc8463-appendix-a.txt");
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v = Rfc8463::parse(&text)
            .ok_or("cannot find the keys and records in rfc8463-appendix-a.txt")?;
        let file = shared.join("corpora/mail-auth/resources/dkim/001.txt");
        let (_, message) =
            read_txt_and_message(&file).ok_or_else(|| format!("cannot read {}", file.display()))?;
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let zone = dir.join("rfc8463.zone");
        fs::write(&zone, v.zone.join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", zone.display()))?;
        Ok((v, message, zone))
    }

    fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let mut seed = None;
        let mut rsa = String::new();
        let mut zone = Vec::new();
        while let Some(l) = lines.next() {
            if l.starts_with("A.1 Ed25519 secret key") {
                seed = lines.next().and_then(|s| util::base64_decode(s.trim()));
            } else if l.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
                rsa.push_str(l);
                rsa.push('\n');
                for k in lines.by_ref() {
                    rsa.push_str(k);
                    rsa.push('\n');
                    if k.starts_with("-----END") {
                        break;
                    }
                }
            } else if l.contains("._domainkey.") && l.contains(" TXT ") {
                zone.push(l.to_string());
            }
        }
        let seed = seed.filter(|s| s.len() == 32)?;
        if rsa.is_empty() || zone.len() != 2 {
            return None;
        }
        Some(Rfc8463 {
            ed25519_seed: seed,
            rsa_pem: rsa,
            zone,
        })
    }
}

/// Key records as `(name, TXT data)`.
type Records = Vec<(String, String)>;

/// A mail-auth test file: `name value` record lines, a blank line, then the
/// message (LF in the file; sent as CRLF, as mail-auth's own test does).
fn read_txt_and_message(path: &Path) -> Option<(Records, Vec<u8>)> {
    let text = fs::read(path).ok()?;
    let at = text.windows(2).position(|w| w == b"\n\n")?;
    let head = String::from_utf8_lossy(&text[..at]).to_string();
    let records = head
        .lines()
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Some((records, lf_to_crlf(&text[at + 2..])))
}
