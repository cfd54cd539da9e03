//! ARC sealing in `mass serve` (RFC 8617 §5.1), for list hosts and
//! forwarders: mail that arrived through us and was verified (our
//! Authentication-Results field records what we saw) gets the next ARC set
//! when it leaves through us again, after the list or forwarder changed it.
//!
//! ```text
//!  arrival (verify path)   ─► Authentication-Results: <authserv-id>; dkim=pass ...
//!  list host changes the message (subject tag, footer)
//!  exit (internal client)  ─► ArcSealJob: core ArcSealer over the message as it leaves
//!                             ─► ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results
//! ```
//!
//! The AAR records the results of our own topmost Authentication-Results
//! field (the one the verify path wrote on arrival; the verify path removes
//! any that claim our authserv-id from outside). The chain status `cv=`
//! comes from the `arc=` result in it: a message with no ARC sets is sealed
//! as i=1 with `cv=none`; one with sets is sealed only when its arrival
//! recorded `arc=pass` or `arc=fail` (a chain we did not see validated is
//! left alone, and logged). The sealing key is `[arc]`'s, signed on this
//! host; a message that also gets our DKIM-Signature is sealed without
//! `dkim-signature` in the AMS `h=`, since that field is added beside the
//! set, after the AMS is computed.

use std::sync::Arc;

use mass_core::BodyInterest;
use mass_core::arc::auth_results::results_of;
use mass_core::arc::sealer::DEFAULT_SEALED_HEADERS;
use mass_core::arc::{ArcSealer, ChainStatus, SealRequest, SealerError};
use mass_core::dkim::sign::HeaderSelection;

use super::Signature;
use super::headers::HeaderBuf;
use crate::keys::{KeySigner, SigningKey};

/// Room for the header fields the sealer keeps: the ones `h=` names and
/// the ARC fields (at most 3 × 50 of a chain that can pass).
const HEADER_BYTES: usize = 64 * 1024;
/// The most kept header fields.
const HEADER_FIELDS: usize = 192;

type Sealer = ArcSealer<HEADER_BYTES, HEADER_FIELDS>;

/// Why a message was not sealed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ArcSealError {
    /// The core sealer refused (capacity, a chain that already failed, 50
    /// sets, a chain status that does not fit the message).
    Sealer(SealerError),
    /// The sealed set is not text.
    NotText,
}

impl std::fmt::Display for ArcSealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArcSealError::Sealer(e) => write!(f, "ARC sealing: {e}"),
            ArcSealError::NotText => f.write_str("ARC sealing: the set is not text"),
        }
    }
}

impl std::error::Error for ArcSealError {}

impl From<SealerError> for ArcSealError {
    fn from(e: SealerError) -> Self {
        ArcSealError::Sealer(e)
    }
}

impl From<mass_core::Error> for ArcSealError {
    fn from(e: mass_core::Error) -> Self {
        ArcSealError::Sealer(SealerError::Stream(e))
    }
}

/// Sealing one message.
#[derive(Debug)]
pub struct ArcSealJob {
    key: Arc<SigningKey>,
    sealer: Box<Sealer>,
    /// The AAR's results: our Authentication-Results field's, unfolded.
    results: String,
    chain: ChainStatus,
    body_done: bool,
}

/// What [`ArcSealJob::start`] decided.
#[derive(Debug)]
pub enum ArcStart {
    /// The message did not arrive through us (no Authentication-Results of
    /// our authserv-id): nothing to seal.
    NotOurs,
    /// It carries ARC sets whose validation we did not record: left alone.
    ChainNotValidated,
    /// Sealing.
    Sealing(Box<ArcSealJob>),
}

impl ArcSealJob {
    /// Look at the header: seal when our Authentication-Results is there.
    /// `also_dkim`: the message gets our DKIM-Signature too (so `h=` leaves
    /// out `dkim-signature`). `now` is `t=`.
    pub fn start(
        key: Arc<SigningKey>,
        headers: &HeaderBuf,
        authserv_id: &str,
        now: u64,
        also_dkim: bool,
    ) -> Result<ArcStart, ArcSealError> {
        let Some(results) = headers
            .values("Authentication-Results")
            .find_map(|value| results_of(value, authserv_id.as_bytes()))
        else {
            return Ok(ArcStart::NotOurs);
        };
        let results = unfold(results);
        let has_sets = headers.values("ARC-Seal").next().is_some();
        let chain = if has_sets {
            match recorded_arc(&results) {
                Some(status) => status,
                None => return Ok(ArcStart::ChainNotValidated),
            }
        } else {
            ChainStatus::None
        };
        let without_dkim: Vec<&str> = DEFAULT_SEALED_HEADERS
            .iter()
            .copied()
            .filter(|n| !also_dkim || *n != "dkim-signature")
            .collect();
        let mut req = SealRequest::new(
            &key.domain,
            &key.selector,
            key.material.algorithm(),
            authserv_id,
        );
        req.headers = HeaderSelection::Oversign(&without_dkim);
        req.timestamp = Some(now);
        let mut sealer = Box::new(Sealer::new(&req)?);
        for (_, field) in headers.fields() {
            sealer.header_field(field)?;
        }
        sealer.end_of_headers()?;
        Ok(ArcStart::Sealing(Box::new(ArcSealJob {
            key,
            sealer,
            results,
            chain,
            body_done: false,
        })))
    }

    /// Feed a body chunk; false once the sealer needs no more of it.
    pub fn body(&mut self, chunk: &[u8]) -> Result<bool, ArcSealError> {
        if self.body_done {
            return Ok(false);
        }
        if self.sealer.body(chunk)? == BodyInterest::Done {
            self.body_done = true;
        }
        Ok(!self.body_done)
    }

    /// The set, in the order to insert at the top (AAR, AMS, AS: the seal
    /// ends up first).
    pub fn finish(mut self) -> Result<Vec<Signature>, ArcSealError> {
        let mut signer = KeySigner::new(&self.key);
        let results = [self.results.as_bytes()];
        let room = self.sealer.required_len(&results, &signer)?;
        let mut out = vec![0u8; room];
        let set = self
            .sealer
            .finish(&results, self.chain, &mut signer, &mut out)?;
        let field = |span: mass_core::syntax::tag_list::Span, name: &'static str| {
            let text = out.get(span.start..span.end).ok_or(ArcSealError::NotText)?;
            let text = std::str::from_utf8(text).map_err(|_| ArcSealError::NotText)?;
            let (_, value) = text.split_once(':').ok_or(ArcSealError::NotText)?;
            Ok::<_, ArcSealError>(Signature {
                name,
                label: format!(
                    "{}/{}(arc i={}, cv={})",
                    self.key.domain,
                    self.key.selector,
                    set.instance,
                    self.chain.as_str()
                ),
                value: value.replace("\r\n", "\n"),
            })
        };
        Ok(vec![
            field(set.auth_results, "ARC-Authentication-Results")?,
            field(set.message_signature, "ARC-Message-Signature")?,
            field(set.seal, "ARC-Seal")?,
        ])
    }
}

/// Results text on one line: folding (CR, LF and the whitespace after)
/// becomes one space.
fn unfold(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let mut out = String::with_capacity(text.len());
    let mut in_break = false;
    for c in text.chars() {
        match c {
            '\r' | '\n' => in_break = true,
            ' ' | '\t' if in_break => {}
            c => {
                if in_break && !out.ends_with(' ') {
                    out.push(' ');
                }
                in_break = false;
                out.push(c);
            }
        }
    }
    out
}

/// The `arc=` result our arrival recorded, as a chain status.
fn recorded_arc(results: &str) -> Option<ChainStatus> {
    results.split(';').find_map(|resinfo| {
        let method = resinfo.trim().strip_prefix("arc=")?;
        let verdict: String = method
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        ChainStatus::from_name(&verdict.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_becomes_one_space() {
        assert_eq!(
            unfold(b"dkim=pass header.d=example.com;\n\tspf=pass"),
            "dkim=pass header.d=example.com; spf=pass"
        );
        assert_eq!(unfold(b"a\r\n  b"), "a b");
    }

    /// Security: an ARC-Authentication-Results that claims our authserv-id
    /// (forged upstream, under someone else's seal) is never taken for our
    /// arrival results: only our own Authentication-Results is, so such a
    /// message is not sealed with results we never saw.
    #[test]
    fn a_forged_aar_claiming_our_authserv_id_is_not_our_results() {
        let key = Arc::new(
            SigningKey::new(
                "list.example".into(),
                "arc".into(),
                crate::keys::KeyMaterial::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(
                    &[5u8; 32],
                ))),
            )
            .unwrap(),
        );
        let mut headers = HeaderBuf::default();
        for (name, value) in [
            (
                "ARC-Authentication-Results",
                " i=1; mx.example.net; dkim=pass",
            ),
            ("From", " a@example.test"),
            ("Authentication-Results", " other.example; dkim=pass"),
        ] {
            headers.push(name.as_bytes(), value.as_bytes(), true, 1 << 20);
        }
        let start = ArcSealJob::start(key, &headers, "mx.example.net", 1, false).unwrap();
        assert!(matches!(start, ArcStart::NotOurs), "{start:?}");
    }

    #[test]
    fn the_recorded_arc_result_is_the_chain_status() {
        assert_eq!(
            recorded_arc("dkim=pass header.d=a.example; arc=pass smtp.remote-ip=1.2.3.4"),
            Some(ChainStatus::Pass)
        );
        assert_eq!(recorded_arc(" arc=fail"), Some(ChainStatus::Fail));
        assert_eq!(recorded_arc("dkim=pass"), None);
    }
}
