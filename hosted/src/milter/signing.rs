//! Signing one message with every key of its From domain, streamed into
//! core's [`MessageSigner`] (RFC 6376 §5): header fields one at a time at
//! EOH, then body chunks as the MTA sends them. Nothing here
//! canonicalizes or hashes; the whole message is never held.

use std::sync::Arc;

use mass_core::{BodyInterest, MessageSigner, SignRequest};

use super::headers::HeaderBuf;
use super::keys::{KeySigner, SigningKey};

/// Room for the header fields a signer keeps (only those its `h=` names:
/// From, To, Cc, Subject, ...). Past it signing fails with a typed error
/// and `on_error` applies.
const HEADER_BYTES: usize = 32 * 1024;
/// The most kept header fields.
const HEADER_FIELDS: usize = 64;
/// Room for one DKIM-Signature field: an RSA-8192 signature (1,368
/// base64 bytes) with a full `h=` list and its folding fits.
const FIELD_ROOM: usize = 8 * 1024;

type Signer = MessageSigner<HEADER_BYTES, HEADER_FIELDS>;

/// One finished signature, ready for `SMFIR_INSHEADER`.
#[derive(Debug)]
pub struct Signature {
    /// `domain/selector(algorithm)`, for logs.
    pub label: String,
    /// The DKIM-Signature value after the colon, folded with LF + tab
    /// (the MTA writes its own line ends).
    pub value: String,
}

#[derive(Debug)]
struct Running {
    key: Arc<SigningKey>,
    signer: Box<Signer>,
    body_done: bool,
}

/// The signers for one message, one per key.
#[derive(Debug)]
pub struct SignJob {
    running: Vec<Running>,
}

fn describe(key: &SigningKey, e: mass_core::Error) -> String {
    format!("{}: {e}", key.label())
}

impl SignJob {
    /// Start signing with `keys` (all for the From domain) and feed the
    /// header fields. `now` is `t=`; `ttl` adds `x=` that much later.
    pub fn start(
        keys: Vec<Arc<SigningKey>>,
        headers: &HeaderBuf,
        now: u64,
        ttl: Option<u64>,
    ) -> Result<SignJob, String> {
        let mut running = Vec::with_capacity(keys.len());
        for key in keys {
            let mut req = SignRequest::new(&key.domain, &key.selector, key.material.algorithm());
            req.timestamp = Some(now);
            req.expiration = ttl.map(|t| now.saturating_add(t));
            let mut signer = Box::new(Signer::new(&req).map_err(|e| describe(&key, e))?);
            for (_, field) in headers.fields() {
                signer.header_field(field).map_err(|e| describe(&key, e))?;
            }
            signer.end_of_headers().map_err(|e| describe(&key, e))?;
            running.push(Running {
                key,
                signer,
                body_done: false,
            });
        }
        Ok(SignJob { running })
    }

    /// Feed a body chunk; false once no signer needs more of the body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<bool, String> {
        let mut wants_more = false;
        for r in self.running.iter_mut().filter(|r| !r.body_done) {
            match r.signer.body(chunk).map_err(|e| describe(&r.key, e))? {
                BodyInterest::Done => r.body_done = true,
                _ => wants_more = true,
            }
        }
        Ok(wants_more)
    }

    /// Finish every signer; each gives one DKIM-Signature.
    pub fn finish(self) -> Result<Vec<Signature>, String> {
        let mut out = Vec::with_capacity(self.running.len());
        for r in self.running {
            let mut buf = vec![0u8; FIELD_ROOM];
            let mut key = KeySigner::new(&r.key);
            let n = r
                .signer
                .finish(&mut key, &mut buf)
                .map_err(|e| describe(&r.key, e))?;
            let field = buf.get(..n).unwrap_or_default();
            let field = std::str::from_utf8(field)
                .map_err(|_| format!("{}: signature field is not UTF-8", r.key.label()))?;
            let (name, value) = field
                .split_once(':')
                .ok_or_else(|| format!("{}: signature field has no colon", r.key.label()))?;
            debug_assert!(name.eq_ignore_ascii_case("DKIM-Signature"));
            out.push(Signature {
                label: r.key.label(),
                value: value.replace("\r\n", "\n"),
            });
        }
        Ok(out)
    }
}
