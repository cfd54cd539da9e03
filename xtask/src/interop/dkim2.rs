//! The DKIM2 part of `cargo xtask interop` (also `cargo xtask interop
//! dkim2`), issue 12.
//!
//! 1. **The corpus**: every case of
//!    `../shared/corpora/mail-auth/resources/dkim2/cases.json` through
//!    mass-core's `Dkim2Verifier`, at the case's own `now`, with its own
//!    MAIL FROM and RCPT TO, `strict` honoured, keys from `dns.json`. The
//!    result word must be the expected one.
//! 2. **mail-auth both ways** (`dkim2_peers.rs`): chains of 1 to 3 hops
//!    signed by mass and by mail-auth 0.13.3 mixed, verified by both.

use crate::util;
use mass_core::dkim::verify::KeyAnswer;
use mass_core::dkim2::{Dkim2Verifier, Envelope, VerifyOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// The verifier's capacities here: those of `mass dkim2 verify`.
type Verifier = Dkim2Verifier<65536, 1024, 16, 16384>;

/// Key records by lower-case name (`sel._domainkey.domain`).
pub type Zone = BTreeMap<String, Vec<Vec<u8>>>;

/// Read `dns.json`: `{domain: {"sel._domainkey": [["txt", record], ...]}}`.
pub fn read_dns(path: &Path) -> Result<Zone, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut zone = Zone::new();
    for (domain, names) in json.as_object().into_iter().flatten() {
        for (name, records) in names.as_object().into_iter().flatten() {
            let full = format!("{name}.{domain}").to_ascii_lowercase();
            for record in records.as_array().into_iter().flatten() {
                if let (Some("txt"), Some(txt)) = (
                    record.get(0).and_then(Value::as_str),
                    record.get(1).and_then(Value::as_str),
                ) {
                    zone.entry(full.clone())
                        .or_default()
                        .push(txt.as_bytes().to_vec());
                }
            }
        }
    }
    Ok(zone)
}

/// Verify `message` with core for an envelope, keys from `zone`.
pub fn verify(
    message: &[u8],
    mail_from: &str,
    rcpt_to: &[&str],
    now: u64,
    strict: bool,
    zone: &Zone,
) -> Result<mass_core::dkim2::Dkim2Result, String> {
    let mut options = VerifyOptions::new(now);
    options.strict = strict;
    let mut verifier = Box::new(Verifier::new(options));
    let crlf = super::message::lf_to_crlf(message);
    verifier.update(&crlf).map_err(|e| e.to_string())?;
    verifier.end_of_input().map_err(|e| e.to_string())?;
    let requests: Vec<(usize, String)> = verifier
        .key_requests()
        .map(|r| (r.id, r.to_string().to_ascii_lowercase()))
        .collect();
    for (id, name) in requests {
        match zone.get(&name) {
            Some(records) => {
                let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                verifier.provide_key(id, KeyAnswer::Records(&refs));
            }
            None => verifier.provide_key(id, KeyAnswer::NotFound),
        }
    }
    let envelope = Envelope { mail_from, rcpt_to };
    verifier.finish(&envelope).map_err(|e| e.to_string())
}

/// Run the corpus step into `run`.
pub fn run(run: &mut util::Run) {
    let dir = util::shared_dir().join("corpora/mail-auth/resources/dkim2");
    let zone = match read_dns(&dir.join("dns.json")) {
        Ok(z) => z,
        Err(e) => {
            run.fail(format!("dkim2 corpus: {e}"));
            return;
        }
    };
    let cases: Value = match fs::read_to_string(dir.join("cases.json"))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            run.fail(format!("dkim2 corpus: cases.json: {e}"));
            return;
        }
    };
    let mut passed = 0;
    let mut failed = Vec::new();
    let cases = cases.as_array().cloned().unwrap_or_default();
    for case in &cases {
        let field = |k: &str| case.get(k).and_then(Value::as_str).unwrap_or_default();
        let name = field("name");
        let expected = field("expected");
        let now = case.get("now").and_then(Value::as_u64).unwrap_or(0);
        let strict = case.get("strict").and_then(Value::as_bool).unwrap_or(true);
        let rcpts: Vec<&str> = case
            .get("rcpt_to")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let got = fs::read(dir.join("expected").join(field("file")))
            .map_err(|e| e.to_string())
            .and_then(|m| verify(&m, field("mail_from"), &rcpts, now, strict, &zone));
        match got {
            Ok(r) if r.status.as_str() == expected => passed += 1,
            Ok(r) => failed.push(format!(
                "{name}: expected {expected}, got {} ({})",
                r.status, r.reason
            )),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    let label = "dkim2 corpus (mail-auth cases.json)";
    eprintln!(
        "xtask[interop]: {label}: {passed} of {} cases as expected",
        cases.len()
    );
    if failed.is_empty() {
        run.check(&format!("{label}: {passed}/{}", cases.len()), Ok(()));
    } else {
        run.fail_first(label, &failed, 50);
    }
    println!("{label}: {passed} passed, {} failed", failed.len());
}
