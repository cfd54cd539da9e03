//! Signing one message with every key of its From domain, streamed into
//! core's `MessageSigner` (RFC 6376 §5).

use std::sync::Arc;

use super::headers::HeaderBuf;
use super::keys::SigningKey;

/// One finished signature, ready for `SMFIR_INSHEADER`.
#[derive(Debug)]
pub struct Signature {
    /// `domain/selector(algorithm)`, for logs.
    pub label: String,
    /// The DKIM-Signature value after the colon, folded with LF + tab.
    pub value: String,
}

/// The signers for one message.
#[derive(Debug)]
pub struct SignJob {
    keys: Vec<Arc<SigningKey>>,
}

impl SignJob {
    /// Start signing with `keys` (all for the From domain); the header
    /// fields are fed at once.
    pub fn start(
        keys: Vec<Arc<SigningKey>>,
        _headers: &HeaderBuf,
        _now: u64,
        _ttl: Option<u64>,
    ) -> Result<SignJob, String> {
        let labels: Vec<String> = keys.iter().map(|k| k.label()).collect();
        Err(format!(
            "the signing core is not wired in yet ({})",
            labels.join(" ")
        ))
    }

    /// Feed a body chunk; false when no signer needs more of the body.
    pub fn body(&mut self, _chunk: &[u8]) -> Result<bool, String> {
        Ok(!self.keys.is_empty())
    }

    /// Finish every signer.
    pub fn finish(self) -> Result<Vec<Signature>, String> {
        Err("the signing core is not wired in yet".into())
    }
}
