//! Verifying one message with core's [`MessageVerifier`] (RFC 6376 §6,
//! RFC 8301 policy) and writing our Authentication-Results (RFC 8601):
//! incoming fields that claim our authserv-id are deleted (RFC 8601 §5;
//! security case 7) and ours goes on top.
//!
//! Header fields go in at EOH, body chunks as they come; once core needs
//! no more body (or there is no signature) the MTA is told to skip the
//! rest. Key records are fetched at end of message, through the
//! [`KeySource`] of the configuration (DNS, or a zone file for tests).

use std::time::{SystemTime, UNIX_EPOCH};

use mass_core::BodyInterest;
use mass_core::verify::{KeyAnswer, MessageVerifier, Verdict, VerifyOptions};

use crate::auth_results::{self, DkimResult, SignatureResult};
use crate::dns::{KeySource, LookupError};

use super::State;
use super::headers::HeaderBuf;

/// Room for the header fields the verifier keeps (signed ones and the
/// DKIM-Signature fields themselves).
const HEADER_BYTES: usize = 64 * 1024;
/// The most kept header fields.
const HEADER_FIELDS: usize = 128;
/// The most signatures checked (the default `max_signatures` is 5).
const SIGNATURES: usize = 8;

type Verifier = MessageVerifier<HEADER_BYTES, HEADER_FIELDS, SIGNATURES>;

/// What to do to the message at its end.
#[derive(Debug)]
pub struct VerifyOutcome {
    /// 1-based indices among Authentication-Results fields to delete, in
    /// the order to delete them (highest first).
    pub delete_auth_results: Vec<usize>,
    /// The value of our Authentication-Results field (after the colon),
    /// folded with LF + tab.
    pub auth_results: String,
    /// The verdicts, for the log line.
    pub summary: String,
}

/// The verifier for one message.
#[derive(Debug)]
pub struct VerifyJob {
    verifier: Option<Box<Verifier>>,
    /// Why the message could not be verified, when it could not.
    broken: Option<String>,
    body_done: bool,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn result_of(verdict: Verdict) -> DkimResult {
    match verdict {
        Verdict::Pass => DkimResult::Pass,
        Verdict::Fail => DkimResult::Fail,
        Verdict::Neutral => DkimResult::Neutral,
        Verdict::Policy => DkimResult::Policy,
        Verdict::TempError => DkimResult::Temperror,
        _ => DkimResult::Permerror,
    }
}

impl VerifyJob {
    /// Start verifying; the header fields are all known at this point.
    pub fn start(_state: &State, headers: &HeaderBuf) -> VerifyJob {
        let mut job = VerifyJob {
            verifier: None,
            broken: None,
            body_done: false,
        };
        if headers.values("DKIM-Signature").next().is_none() {
            // Nothing to check: dkim=none, and no body needed.
            job.body_done = true;
            return job;
        }
        let mut verifier = Box::new(Verifier::new(VerifyOptions::new(now())));
        let fed = headers
            .fields()
            .try_for_each(|(_, field)| verifier.header_field(field))
            .and_then(|()| verifier.end_of_headers());
        match fed {
            Ok(()) => job.verifier = Some(verifier),
            Err(e) => {
                job.broken = Some(format!("header section not verifiable: {e}"));
                job.body_done = true;
            }
        }
        job
    }

    /// Feed a body chunk; false when the body is no longer needed.
    pub fn body(&mut self, chunk: &[u8]) -> bool {
        if self.body_done {
            return false;
        }
        let Some(v) = self.verifier.as_mut() else {
            return false;
        };
        match v.body(chunk) {
            Ok(BodyInterest::Done) => self.body_done = true,
            Ok(_) => {}
            Err(e) => {
                self.broken = Some(format!("body not verifiable: {e}"));
                self.body_done = true;
            }
        }
        !self.body_done
    }

    /// True when key records must be fetched before [`VerifyJob::finish`].
    pub fn needs_keys(&self) -> bool {
        self.broken.is_none()
            && self
                .verifier
                .as_ref()
                .is_some_and(|v| v.key_requests().next().is_some())
    }

    /// Fetch every key record the verifier asks for.
    pub async fn fetch_keys<K: KeySource>(&mut self, source: &K) {
        let Some(v) = self.verifier.as_mut() else {
            return;
        };
        let requests: Vec<(usize, String)> =
            v.key_requests().map(|r| (r.id, r.to_string())).collect();
        for (id, name) in requests {
            match source.txt_records(&name).await {
                Ok(records) => {
                    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                    v.provide_key(id, KeyAnswer::Records(&refs));
                }
                Err(e) if e.is_temporary() => v.provide_key(id, KeyAnswer::TempFail),
                Err(LookupError::NoRecord) | Err(_) => v.provide_key(id, KeyAnswer::NotFound),
            }
        }
    }

    /// The verdicts and the header changes.
    pub fn finish(self, state: &State, headers: &HeaderBuf) -> VerifyOutcome {
        let id = &state.config.authserv_id;
        let fields = headers
            .fields()
            .map(|(name, field)| (name, field.get(name.len() + 1..).unwrap_or_default()));
        let delete_auth_results = auth_results::own_fields_to_delete(fields, id);
        let mut results = Vec::new();
        let mut broken = self.broken;
        if let (Some(v), None) = (self.verifier, &broken) {
            match v.finish() {
                Ok(verification) => {
                    for r in verification.results() {
                        results.push(SignatureResult {
                            result: Some(result_of(r.verdict)),
                            reason: (r.verdict != Verdict::Pass).then(|| r.reason.to_string()),
                            domain: r.domain.map(String::from),
                            selector: r.selector.map(String::from),
                            algorithm: r.algorithm.map(|a| a.as_str().to_string()),
                            signature: (!r.b_prefix.is_empty()).then(|| r.b_prefix.to_string()),
                        });
                    }
                }
                Err(e) => broken = Some(format!("not verifiable: {e}")),
            }
        }
        if let Some(why) = &broken {
            results.push(SignatureResult {
                result: Some(DkimResult::Permerror),
                reason: Some(why.clone()),
                ..SignatureResult::default()
            });
        }
        let field = auth_results::write_field(id, &results, "\n\t");
        let value = field
            .split_once(':')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let summary = if results.is_empty() {
            "none".to_string()
        } else {
            results
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}/{}",
                        r.result.map(|x| x.as_str()).unwrap_or("permerror"),
                        r.domain.as_deref().unwrap_or("-"),
                        r.selector.as_deref().unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        VerifyOutcome {
            delete_auth_results,
            auth_results: value,
            summary,
        }
    }
}
