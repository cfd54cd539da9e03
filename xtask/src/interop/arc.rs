//! The ARC part of `cargo xtask interop` (also `cargo xtask interop arc`):
//! mass-core's ARC validator and sealer (issue 11) against the ARC test
//! suite and mail-auth's ARC messages, read from `../shared` at run time.
//!
//! 1. `corpora/arc/arc-draft-validation-tests.yml`: every message through
//!    `ChainValidator`, keys from the document's `txt-records`; the `cv=`
//!    must be the expected one. Cases whose expectation is blank are
//!    counted apart. Two cases expect `a=rsa-sha1` to pass; mass applies
//!    RFC 8301 §3.1 (never a pass), so they are reported as deliberate
//!    deviations, not failures.
//! 2. `corpora/arc/arc-draft-sign-tests.yml`: every message validated, then
//!    sealed by `ArcSealer` with the document's key, the test's `t=`,
//!    `sig-headers` and `srv-id`, the AAR recording the results of the
//!    message's Authentication-Results fields for `srv-id`. The AMS and AS
//!    must equal the expected ones with whitespace removed (the suite's
//!    folding is its generator's; the signed bytes are what count, and the
//!    signatures inside them are compared exactly). A case with no
//!    expected set must be refused.
//! 3. `corpora/mail-auth/resources/arc/*.txt` (key records, a blank line,
//!    the message) must give cv=pass.
//!
//! It drives the core directly: the suites pass fixed times and DNS
//! records, which the core takes as arguments.

use crate::util;
use mass_core::arc::auth_results::results_of;
use mass_core::arc::{ArcResult, ArcSealer, ChainStatus, ChainValidator, SealRequest, SealerError};
use mass_core::dkim::verify::KeyAnswer;
use mass_core::header::{FieldSink, HeaderSplitter, field_value};
use mass_core::{HeaderSelection, RsaSha256Signer, SigningAlgorithm};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

/// The validator's capacities here: a roomy header block.
type Validator = ChainValidator<65536, 512, 16>;
type Sealer = ArcSealer<65536, 512>;

/// The time validation runs at: after every `t=` of the suites.
const NOW: u64 = 1_700_000_000;

/// Cases of the validation suite that expect rsa-sha1 to pass.
const SHA1_CASES: [&str; 2] = ["ams_fields_a_sha1", "as_fields_a_sha1"];

/// Counts of one suite.
#[derive(Debug, Default)]
struct Count {
    passed: usize,
    failed: Vec<String>,
    deviations: Vec<String>,
    unspecified: Vec<String>,
}

/// Runs the ARC steps into `run`.
pub fn run(run: &mut util::Run) {
    let dir = util::shared_dir().join("corpora");
    let validation = dir.join("arc/arc-draft-validation-tests.yml");
    let signing = dir.join("arc/arc-draft-sign-tests.yml");
    for (label, path, step) in [
        (
            "arc validation suite",
            &validation,
            validation_suite as fn(&[Yaml]) -> Count,
        ),
        ("arc signing suite", &signing, signing_suite),
    ] {
        let docs = match fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| YamlLoader::load_from_str(&unique_names(&t)).map_err(|e| e.to_string()))
        {
            Ok(d) => d,
            Err(e) => {
                run.fail(format!("{label}: cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let count = step(&docs);
        report(run, label, &count);
    }
    let count = mail_auth(&dir.join("mail-auth/resources/arc"));
    report(run, "mail-auth ARC messages", &count);
}

fn report(run: &mut util::Run, label: &str, count: &Count) {
    let total = count.passed + count.failed.len() + count.deviations.len();
    let cases = total + count.unspecified.len();
    eprintln!(
        "xtask[interop]: {label}: {} of {total} cases with an expectation as expected \
         ({cases} cases in all)",
        count.passed
    );
    for d in &count.deviations {
        eprintln!("  deviation (RFC 8301): {d}");
    }
    for u in &count.unspecified {
        eprintln!("  no expectation: {u}");
    }
    if count.failed.is_empty() {
        run.check(
            &format!(
                "{label}: {}/{total} as expected ({} RFC 8301 deviations, {} without expectation)",
                count.passed,
                count.deviations.len(),
                count.unspecified.len()
            ),
            Ok(()),
        );
    } else {
        run.fail_first(label, &count.failed, 20);
    }
    // The plain closing line for this suite.
    println!(
        "{label}: {} passed, {} failed",
        count.passed,
        count.failed.len()
    );
}

/// The suite names some tests twice in one document (a YAML error): the
/// second one becomes `NAME#2`, in memory, so that both run.
fn unique_names(text: &str) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        if line.starts_with("---") {
            seen.clear();
        }
        let name = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.trim_end().strip_suffix(':'))
            .filter(|n| n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        match name {
            Some(n) if !seen.insert(n.to_string()) => {
                out.push_str(&format!("  \"{n}#2\":\n"));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The chain status an Authentication-Results entry `arc=...` among
/// `results` reports: what the suite's sealer records as `cv=`.
fn reported_status(results: &[Vec<u8>]) -> Option<ChainStatus> {
    results.iter().find_map(|r| {
        let text = String::from_utf8_lossy(r);
        text.split(';').find_map(|part| {
            let word = part.trim().strip_prefix("arc=")?;
            let word: String = word.chars().take_while(char::is_ascii_alphabetic).collect();
            ChainStatus::from_name(&word.to_ascii_lowercase())
        })
    })
}

/// A YAML block scalar as a message: CRLF line ends.
fn message_bytes(text: &str) -> Vec<u8> {
    text.replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

/// `txt-records`: name → record, the block's lines joined.
fn records(doc: &Yaml) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Some(map) = doc["txt-records"].as_hash() {
        for (k, v) in map {
            if let (Some(name), Some(rec)) = (k.as_str(), v.as_str()) {
                let joined: String = rec.lines().map(str::trim).collect();
                out.insert(name.to_ascii_lowercase(), joined.into_bytes());
            }
        }
    }
    out
}

/// Validate `message` with keys from `keys`, in one chunk.
fn validate(message: &[u8], keys: &BTreeMap<String, Vec<u8>>) -> Result<ArcResult, String> {
    let mut v = Validator::new(mass_core::arc::ValidateOptions::new(NOW));
    v.update(message).map_err(|e| e.to_string())?;
    v.end_of_input().map_err(|e| e.to_string())?;
    let wanted: Vec<(usize, String)> = v
        .key_requests()
        .map(|r| (r.id, r.to_string().to_ascii_lowercase()))
        .collect();
    for (id, name) in wanted {
        match keys.get(&name) {
            Some(rec) => v.provide_key(id, KeyAnswer::Records(&[rec.as_slice()])),
            None => v.provide_key(id, KeyAnswer::NotFound),
        }
    }
    v.finish().map_err(|e| e.to_string())
}

fn validation_suite(docs: &[Yaml]) -> Count {
    let mut count = Count::default();
    for doc in docs {
        let keys = records(doc);
        let Some(tests) = doc["tests"].as_hash() else {
            continue;
        };
        for (name, test) in tests {
            let name = name.as_str().unwrap_or("?");
            let message = message_bytes(test["message"].as_str().unwrap_or(""));
            let expected = test["cv"]
                .as_str()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let got = match validate(&message, &keys) {
                Ok(r) => r,
                Err(e) => {
                    count.failed.push(format!("{name}: error {e}"));
                    continue;
                }
            };
            let line = format!("{name}: cv={} ({})", got.status, got.reason);
            if expected.is_empty() {
                count.unspecified.push(line);
            } else if got.status.as_str() == expected {
                count.passed += 1;
            } else if SHA1_CASES.contains(&name) && got.status == ChainStatus::Fail {
                count
                    .deviations
                    .push(format!("{line}; the suite expects {expected}"));
            } else {
                count.failed.push(format!("{line}; expected {expected}"));
            }
        }
    }
    count
}

/// Collects the values of a message's Authentication-Results fields.
#[derive(Default)]
struct ArFields {
    fields: Vec<Vec<u8>>,
    keep: bool,
}

impl FieldSink for ArFields {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, mass_core::Error> {
        self.keep = name.eq_ignore_ascii_case(b"Authentication-Results");
        if self.keep {
            self.fields.push(Vec::new());
        }
        Ok(self.keep)
    }
    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), mass_core::Error> {
        if let Some(f) = self.fields.last_mut() {
            f.extend_from_slice(bytes);
        }
        Ok(())
    }
    fn end_field(&mut self) -> Result<(), mass_core::Error> {
        Ok(())
    }
}

/// The results the message's Authentication-Results fields record for
/// `authserv_id`, in order.
fn recorded_results(message: &[u8], authserv_id: &str) -> Vec<Vec<u8>> {
    let mut sink = ArFields::default();
    let mut splitter = HeaderSplitter::new();
    let _ = splitter.push(message, &mut sink);
    let _ = splitter.finish(&mut sink);
    sink.fields
        .iter()
        .filter_map(|f| results_of(field_value(f), authserv_id.as_bytes()))
        .filter(|r| !r.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The PEM's DER.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    util::base64_decode(&body)
}

fn squeeze(s: &[u8]) -> String {
    String::from_utf8_lossy(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn signing_suite(docs: &[Yaml]) -> Count {
    let mut count = Count::default();
    for doc in docs {
        let keys = records(doc);
        let (Some(domain), Some(selector)) = (doc["domain"].as_str(), doc["sel"].as_str()) else {
            continue;
        };
        let Some(der) = doc["privatekey"].as_str().and_then(pem_der) else {
            count
                .failed
                .push("a document's private key does not decode".into());
            continue;
        };
        let Some(tests) = doc["tests"].as_hash() else {
            continue;
        };
        for (name, test) in tests {
            let name = name.as_str().unwrap_or("?");
            match seal_case(test, &keys, &der, domain, selector) {
                Ok(()) => count.passed += 1,
                Err(e) => count.failed.push(format!("{name}: {e}")),
            }
        }
    }
    count
}

fn seal_case(
    test: &Yaml,
    keys: &BTreeMap<String, Vec<u8>>,
    der: &[u8],
    domain: &str,
    selector: &str,
) -> Result<(), String> {
    use rand_core::SeedableRng;
    let message = message_bytes(test["message"].as_str().unwrap_or(""));
    let srv_id = test["srv-id"].as_str().unwrap_or("");
    let t = test["t"].as_i64().and_then(|t| u64::try_from(t).ok());
    let names: Vec<&str> = test["sig-headers"]
        .as_str()
        .unwrap_or("")
        .split(':')
        .collect();
    let results = recorded_results(&message, srv_id);
    // The suite's sealer records the chain status its receiving server
    // reported (`arc=` in Authentication-Results), as a sealer behind a
    // separate validator does; mass's own validation decides otherwise.
    let validated = validate(&message, keys)?;
    let chain = reported_status(&results).unwrap_or(validated.status);
    let parts: Vec<&[u8]> = results.iter().map(Vec::as_slice).collect();
    let mut req = SealRequest::new(domain, selector, SigningAlgorithm::RsaSha256, srv_id);
    req.headers = HeaderSelection::Exact(&names);
    req.timestamp = t;
    let mut sealer = Sealer::new(&req).map_err(|e| e.to_string())?;
    sealer.update(&message).map_err(|e| e.to_string())?;
    let rng = chacha20::ChaCha20Rng::from_seed([7; 32]);
    let mut key = RsaSha256Signer::from_der(der, rng).map_err(|e| e.to_string())?;
    let mut out = vec![0u8; 8192];
    let expected_as = test["AS"].as_str().unwrap_or("").trim();
    let expected_ams = test["AMS"].as_str().unwrap_or("").trim();
    let set = match sealer.finish(&parts, chain, &mut key, &mut out) {
        Err(SealerError::ChainFailed) if expected_as.is_empty() => return Ok(()),
        Err(e) => return Err(format!("sealing failed: {e} (chain {})", validated.reason)),
        Ok(_) if expected_as.is_empty() => return Err("sealed a failed chain".into()),
        Ok(set) => set,
    };
    let value = |span: mass_core::syntax::tag_list::Span| {
        span.get(&out)
            .map(field_value)
            .map(squeeze)
            .unwrap_or_default()
    };
    let (ams, seal) = (value(set.message_signature), value(set.seal));
    if ams != squeeze(expected_ams.as_bytes()) {
        return Err(format!(
            "AMS differs:\n  got      {ams}\n  expected {}",
            squeeze(expected_ams.as_bytes())
        ));
    }
    if seal != squeeze(expected_as.as_bytes()) {
        return Err(format!(
            "AS differs (AAR {}):\n  got      {seal}\n  expected {}",
            value(set.auth_results),
            squeeze(expected_as.as_bytes())
        ));
    }
    Ok(())
}

/// mail-auth's ARC messages: `name record` lines, a blank line, the
/// message; each must pass.
fn mail_auth(dir: &Path) -> Count {
    let mut count = Count::default();
    let mut files: Vec<_> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        count
            .failed
            .push(format!("no messages in {}", dir.display()));
    }
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let Ok(text) = fs::read(&path) else {
            count.failed.push(format!("{name}: unreadable"));
            continue;
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        let (zone, message) = text.split_once("\n\n").unwrap_or(("", &text));
        let mut keys = BTreeMap::new();
        for line in zone.lines() {
            if let Some((n, rec)) = line.split_once(' ') {
                keys.insert(n.to_ascii_lowercase(), rec.trim().as_bytes().to_vec());
            }
        }
        match validate(&message_bytes(message), &keys) {
            Ok(r) if r.status == ChainStatus::Pass => count.passed += 1,
            Ok(r) => count.failed.push(format!(
                "{name}: cv={} ({}), expected pass",
                r.status, r.reason
            )),
            Err(e) => count.failed.push(format!("{name}: error {e}")),
        }
    }
    count
}
