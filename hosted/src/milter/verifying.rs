//! Verifying one message and writing our Authentication-Results
//! (RFC 8601): incoming fields that claim our authserv-id are deleted
//! (RFC 8601 §5; security case 7) and ours goes on top.
//!
//! Until core's verifier is wired in, a message without signatures gets
//! `dkim=none` (true: nothing to check) and one with signatures gets
//! `dkim=neutral` with a reason, never a pass.

use crate::auth_results::{self, DkimResult, SignatureResult};

use super::State;
use super::headers::HeaderBuf;

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
    signatures: usize,
}

impl VerifyJob {
    /// Start verifying (the header fields are all known at this point).
    pub fn start(_state: &State, headers: &HeaderBuf) -> VerifyJob {
        VerifyJob {
            signatures: headers.values("DKIM-Signature").count(),
        }
    }

    /// Feed a body chunk; false when the body is no longer needed.
    pub fn body(&mut self, _chunk: &[u8]) -> bool {
        false
    }

    /// The verdicts and the header changes.
    pub fn finish(self, state: &State, headers: &HeaderBuf) -> VerifyOutcome {
        let id = &state.config.authserv_id;
        let fields = headers
            .fields()
            .map(|(name, field)| (name, field.get(name.len() + 1..).unwrap_or_default()));
        let delete_auth_results = auth_results::own_fields_to_delete(fields, id);
        let results: Vec<SignatureResult> = (0..self.signatures)
            .map(|_| SignatureResult {
                result: Some(DkimResult::Neutral),
                reason: Some("not verified by this build".into()),
                ..SignatureResult::default()
            })
            .collect();
        let field = auth_results::write_field(id, &results, "\n\t");
        let value = field
            .split_once(':')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let summary = if results.is_empty() {
            "none".to_string()
        } else {
            format!("{} signature(s) not verified", results.len())
        };
        VerifyOutcome {
            delete_auth_results,
            auth_results: value,
            summary,
        }
    }
}
