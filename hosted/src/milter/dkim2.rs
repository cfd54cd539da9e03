//! DKIM2 in `mass serve` (draft-ietf-dkim-dkim2-spec-03, issue 12).
//!
//! ```text
//!  arrival (verify path) ─► core Dkim2Verifier, for the MAIL FROM and RCPT TO of this
//!                           transaction ─► dkim2= in our Authentication-Results
//!                        └► [dkim2] record_changes: the message kept by Message-ID
//!  a list or forwarder changes it
//!  exit (internal client, MAIL FROM within a [[key]] with "dkim2")
//!                        ─► recipe back to the kept arrival (if it changed)
//!                        ─► core Dkim2Signer ─► Message-Instance, DKIM2-Signature on top
//! ```
//!
//! The hop's `d=` is the domain of the `[[key]]`s whose domain the MAIL
//! FROM lies within (one or two keys, one per algorithm), since a DKIM2
//! verifier requires the newest hop's `mf=` within its `d=`; a null MAIL
//! FROM (a bounce) is signed with the key of the From domain. The hop is
//! bound to this transaction's envelope: every RCPT TO is in `rt=`.
//!
//! A hop that is not signed (no key, a message over `max_message_bytes`)
//! is logged and the message goes on: DKIM2 is added next to DKIM, and
//! its failure never holds mail back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mass_core::dkim2::HopRequest;
use mass_core::dkim2::sign::Destination;
use mass_core::syntax::dns_name::is_same_or_subdomain;

use super::Signature;
use super::headers::HeaderBuf;
use crate::config::{Dkim2Config, KeyConfig, Scheme};
use crate::dkim2::{HopError, recipe_between, sign_hop};
use crate::keys::SigningKey;

/// The SMTP envelope of one transaction, as the MTA gave it.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// MAIL FROM (`<...>`, `<>` for a bounce).
    pub mail_from: String,
    /// Every RCPT TO.
    pub rcpt_to: Vec<String>,
}

impl Envelope {
    /// The domain of MAIL FROM, if it has one.
    fn sender_domain(&self) -> Option<&str> {
        let path = self.mail_from.trim();
        let path = path.strip_prefix('<').unwrap_or(path);
        let path = path.strip_suffix('>').unwrap_or(path);
        path.rsplit_once('@')
            .map(|(_, d)| d)
            .filter(|d| !d.is_empty())
    }
}

/// Arrivals kept by Message-ID, for the recipes of their exits: at most
/// `keep`, each for `keep_seconds`, oldest dropped first. One arrival may
/// leave many times (a list fans out), so an exit reads it without
/// taking it.
#[derive(Debug, Default)]
pub struct Arrivals {
    kept: Mutex<VecDeque<Kept>>,
}

/// One kept arrival: its Message-ID, when it came, the message.
type Kept = (String, Instant, Arc<Vec<u8>>);

impl Arrivals {
    /// Keep `message` under `message_id`.
    pub fn keep(&self, config: &Dkim2Config, message_id: String, message: Vec<u8>) {
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        let max_age = Duration::from_secs(config.keep_seconds);
        kept.retain(|(id, at, _)| at.elapsed() < max_age && *id != message_id);
        while kept.len() >= config.keep.max(1) {
            kept.pop_front();
        }
        kept.push_back((message_id, Instant::now(), Arc::new(message)));
    }

    /// The arrival kept under `message_id`, if it is still there.
    pub fn get(&self, config: &Dkim2Config, message_id: &str) -> Option<Arc<Vec<u8>>> {
        let kept = self.kept.lock().ok()?;
        let max_age = Duration::from_secs(config.keep_seconds);
        kept.iter()
            .rev()
            .find(|(id, at, _)| id == message_id && at.elapsed() < max_age)
            .map(|(_, _, m)| m.clone())
    }
}

/// The Message-ID of a header block, trimmed.
pub fn message_id(headers: &HeaderBuf) -> Option<String> {
    headers
        .values("Message-ID")
        .next()
        .map(|v| String::from_utf8_lossy(v).trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A whole message gathered from its header fields and body chunks, up to
/// a size.
#[derive(Debug)]
pub struct Gathered {
    bytes: Vec<u8>,
    max: usize,
    over: bool,
}

impl Gathered {
    /// Start from the header block.
    pub fn new(headers: &HeaderBuf, max: usize) -> Self {
        let mut bytes = Vec::with_capacity(8192);
        for (_, field) in headers.fields() {
            bytes.extend_from_slice(field);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        let over = bytes.len() > max;
        Gathered { bytes, max, over }
    }

    /// Add a body chunk; false once the message is over the size.
    pub fn body(&mut self, chunk: &[u8]) -> bool {
        if self.over || self.bytes.len().saturating_add(chunk.len()) > self.max {
            self.over = true;
            self.bytes = Vec::new();
            return false;
        }
        self.bytes.extend_from_slice(chunk);
        true
    }

    /// The message, unless it went over the size.
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.over).then_some(self.bytes)
    }
}

/// Why a hop was not signed.
#[derive(Debug)]
pub enum Dkim2ExitError {
    /// The message is over `[dkim2] max_message_bytes`.
    TooLarge,
    /// The recipe could not be written.
    Recipe(crate::dkim2::ReviseError),
    /// The signer refused.
    Hop(HopError),
    /// The signed fields are not text.
    NotText,
}

impl std::fmt::Display for Dkim2ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dkim2ExitError::TooLarge => f.write_str("DKIM2: over [dkim2] max_message_bytes"),
            Dkim2ExitError::Recipe(e) => write!(f, "DKIM2: {e}"),
            Dkim2ExitError::Hop(e) => write!(f, "DKIM2: {e}"),
            Dkim2ExitError::NotText => f.write_str("DKIM2: the signed fields are not text"),
        }
    }
}

impl std::error::Error for Dkim2ExitError {}

/// Signing the DKIM2 hop of one message as it leaves.
#[derive(Debug)]
pub struct Dkim2Exit {
    keys: Vec<Arc<SigningKey>>,
    envelope: Envelope,
    message_id: Option<String>,
    gathered: Gathered,
}

/// The `[[key]]`s that sign this hop: those with `dkim2` in `schemes`
/// whose domain MAIL FROM lies within (the From domain for a bounce), one
/// per algorithm, all of one domain.
pub fn hop_keys(
    configs: &[KeyConfig],
    keys: &[Arc<SigningKey>],
    envelope: &Envelope,
    from_domain: Option<&str>,
) -> Vec<Arc<SigningKey>> {
    let Some(sender) = envelope.sender_domain().or(from_domain) else {
        return Vec::new();
    };
    let dkim2 = |k: &SigningKey| {
        configs.iter().any(|c| {
            c.domain.eq_ignore_ascii_case(&k.domain)
                && c.selector == k.selector
                && c.schemes.contains(&Scheme::Dkim2)
        })
    };
    let mut chosen: Vec<Arc<SigningKey>> = Vec::new();
    for key in keys {
        let fits = dkim2(key) && is_same_or_subdomain(sender.as_bytes(), key.domain.as_bytes());
        let same_domain = chosen
            .first()
            .is_none_or(|c| c.domain.eq_ignore_ascii_case(&key.domain));
        let new_algorithm = chosen
            .iter()
            .all(|c| c.material.algorithm() != key.material.algorithm());
        if fits && same_domain && new_algorithm && chosen.len() < 2 {
            chosen.push(key.clone());
        }
    }
    chosen
}

impl Dkim2Exit {
    /// Start the hop for a message whose header block is complete.
    pub fn start(
        keys: Vec<Arc<SigningKey>>,
        envelope: Envelope,
        headers: &HeaderBuf,
        max: usize,
    ) -> Self {
        Dkim2Exit {
            keys,
            envelope,
            message_id: message_id(headers),
            gathered: Gathered::new(headers, max),
        }
    }

    /// Feed a body chunk; false once the rest is not needed.
    pub fn body(&mut self, chunk: &[u8]) -> bool {
        self.gathered.body(chunk)
    }

    /// Sign: the recipe back to the kept arrival if the message changed
    /// since, then the hop. The fields in the order to insert at the top
    /// (the signature ends up first).
    pub fn finish(
        self,
        now: u64,
        arrivals: &Arrivals,
        config: &Dkim2Config,
    ) -> Result<Vec<Signature>, Dkim2ExitError> {
        let message = self.gathered.finish().ok_or(Dkim2ExitError::TooLarge)?;
        let arrival = self
            .message_id
            .as_deref()
            .and_then(|id| arrivals.get(config, id));
        let recipe = match arrival {
            Some(arrival) => recipe_between(&arrival, &message).map_err(Dkim2ExitError::Recipe)?,
            None => None,
        };
        let rcpts: Vec<&str> = self.envelope.rcpt_to.iter().map(String::as_str).collect();
        let domain = self
            .keys
            .first()
            .map(|k| k.domain.clone())
            .unwrap_or_default();
        let request = HopRequest {
            domain: &domain,
            destination: Destination::Envelope {
                mail_from: &self.envelope.mail_from,
                rcpt_to: &rcpts,
            },
            timestamp: now,
            nonce: None,
            flags: &[],
            recipe: recipe.as_deref(),
        };
        let keys: Vec<&SigningKey> = self.keys.iter().map(|k| &**k).collect();
        let fields = sign_hop(&request, &message, &keys).map_err(Dkim2ExitError::Hop)?;
        let label = format!(
            "{}/{}(dkim2{})",
            domain,
            self.keys
                .iter()
                .map(|k| k.selector.as_str())
                .collect::<Vec<_>>()
                .join(","),
            if recipe.is_some() {
                ", with a recipe"
            } else {
                ""
            }
        );
        let mut out = Vec::new();
        // sign_hop gives the signature first, then the Message-Instance;
        // inserted at the top in reverse, the signature ends up on top.
        for field in fields.iter().rev() {
            let field = std::str::from_utf8(field).map_err(|_| Dkim2ExitError::NotText)?;
            let (name, value) = field.split_once(':').ok_or(Dkim2ExitError::NotText)?;
            let name = if name.eq_ignore_ascii_case("DKIM2-Signature") {
                "DKIM2-Signature"
            } else {
                "Message-Instance"
            };
            out.push(Signature {
                name,
                label: label.clone(),
                value: value.replace("\r\n", "\n"),
            });
        }
        Ok(out)
    }
}
