//! Verifying one message and writing our Authentication-Results
//! (RFC 8601). Until the verifier is wired in, the result is `none` (no
//! method applied, RFC 8601 §2.2), and forged fields claiming our
//! authserv-id are still removed (RFC 8601 §5).

use super::State;
use super::headers::{HeaderBuf, our_auth_results};

/// What to do to the message at its end.
#[derive(Debug)]
pub struct VerifyOutcome {
    /// 1-based indices among Authentication-Results fields to delete.
    pub delete_auth_results: Vec<u32>,
    /// The value of our Authentication-Results field (after the colon).
    pub auth_results: String,
    /// The verdicts, for the log line.
    pub summary: String,
}

/// The verifier for one message.
#[derive(Debug)]
pub struct VerifyJob {
    _private: (),
}

impl VerifyJob {
    /// Start verifying (the header fields are all known at this point).
    pub fn start(_state: &State, _headers: &HeaderBuf) -> VerifyJob {
        VerifyJob { _private: () }
    }

    /// Feed a body chunk; false when the body is no longer needed.
    pub fn body(&mut self, _chunk: &[u8]) -> bool {
        false
    }

    /// The verdicts and the header changes.
    pub fn finish(self, state: &State, headers: &HeaderBuf) -> VerifyOutcome {
        let id = &state.config.authserv_id;
        VerifyOutcome {
            delete_auth_results: our_auth_results(headers, id),
            auth_results: format!(" {id}; none"),
            summary: "none".into(),
        }
    }
}
