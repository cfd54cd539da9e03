//! Signing one message with every key of its From domain, streamed into
//! core's [`MultiSigner`] (RFC 6376 §5): header fields one at a time at
//! EOH, then body chunks as the MTA sends them. Nothing here
//! canonicalizes or hashes; the whole message is never held. One
//! `MultiSigner` takes the DKIM keys (up to [`KEYS_PER_SIGNER`] of them),
//! so the body is canonicalized and hashed once per distinct body
//! canonicalization and `l=`, not once per key: `--dev` signs with
//! RSA-2048 and Ed25519 over one body hash.
//!
//! Keys whose `[[key]]` has `schemes = [..., "domainkeys"]` also feed a
//! core [`DkSigner`] (RFC 4870, `c=nofws`, `h=` naming the default signed
//! fields present, so that fields added below later do not break it). Its
//! DomainKey-Signature is inserted first, so that the DKIM-Signature ends
//! up above it: DomainKeys covers only the fields below its own.

use std::sync::Arc;

use mass_core::canon::DkCanon;
use mass_core::domainkeys::{DkSignRequest, DkSigner};
use mass_core::{BodyInterest, MultiSigner, RsaSha256Signer, SignRequest};

use crate::config::{KeyConfig, Scheme};

use super::Signature;
use super::device_signing::{DeviceJob, DeviceJobError};
use super::headers::HeaderBuf;
use crate::keys::{KeyMaterial, KeySigner, SigningKey};

/// The fields a DomainKey-Signature from the milter names in `h=` (those
/// present; Sender and From are always added): DKIM's default set.
const DK_SIGNED_HEADERS: [&str; 9] = mass_core::dkim::sign::DEFAULT_SIGNED_HEADERS;

/// Room for the header fields a signer keeps (only those its `h=` names:
/// From, To, Cc, Subject, ...). Past it signing fails with a typed error
/// and `on_error` applies.
const HEADER_BYTES: usize = 32 * 1024;
/// The most kept header fields.
const HEADER_FIELDS: usize = 64;
/// The most DKIM keys one [`MultiSigner`] takes; a domain with more keys
/// gets another signer for the rest.
const KEYS_PER_SIGNER: usize = 4;
/// Room for a distinct body hash per key (the milter signs every key
/// relaxed/relaxed without `l=` today, which needs one).
const BODIES_PER_SIGNER: usize = KEYS_PER_SIGNER;

type Signer = MultiSigner<HEADER_BYTES, HEADER_FIELDS, KEYS_PER_SIGNER, BODIES_PER_SIGNER>;

/// One signer for up to [`KEYS_PER_SIGNER`] DKIM keys: `keys[i]` signs its
/// signature `i`.
#[derive(Debug)]
struct Running {
    keys: Vec<Arc<SigningKey>>,
    signer: Box<Signer>,
    body_done: bool,
}

/// The signers for one message (the DKIM keys share one, DomainKeys has
/// one per key), and the keys a signing device holds.
#[derive(Debug)]
pub struct SignJob {
    running: Vec<Running>,
    domainkeys: Vec<(Arc<SigningKey>, Box<DkSigner>)>,
    device: Option<DeviceJob>,
    /// What the device signed, once [`SignJob::sign_on_device`] ran.
    device_signatures: Option<Result<Vec<Signature>, DeviceJobError>>,
}

/// Why a message cannot be signed (`on_error` applies; never an unsigned
/// pass).
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// Core refused: `keys` names the keys concerned, for the log.
    Core {
        keys: String,
        error: mass_core::Error,
    },
    /// The signing device.
    Device(DeviceJobError),
    /// End of message came before the device was asked to sign (a bug).
    DeviceNotAsked,
    /// A field core wrote is not the DKIM-Signature expected (a bug).
    BadField { key: String, why: &'static str },
}

impl std::fmt::Display for SignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignError::Core { keys, error } => write!(f, "{keys}: {error}"),
            SignError::Device(e) => e.fmt(f),
            SignError::DeviceNotAsked => f.write_str("the signing device was not asked to sign"),
            SignError::BadField { key, why } => write!(f, "{key}: signature field {why}"),
        }
    }
}

impl std::error::Error for SignError {}

impl From<DeviceJobError> for SignError {
    fn from(e: DeviceJobError) -> Self {
        SignError::Device(e)
    }
}

/// Split the keys for a message by the schemes their `[[key]]` names:
/// (DKIM keys, DomainKeys keys). A key not found in `configs` signs DKIM.
/// Whether `key` signs DKIM or DomainKeys (a `dkim2`-only key signs DKIM2
/// hops alone, chosen by MAIL FROM, not by From).
pub fn signs_dkim_or_domainkeys(configs: &[KeyConfig], key: &SigningKey) -> bool {
    configs
        .iter()
        .find(|c| c.domain.eq_ignore_ascii_case(&key.domain) && c.selector == key.selector)
        .is_none_or(|c| {
            c.schemes.contains(&Scheme::Dkim) || c.schemes.contains(&Scheme::Domainkeys)
        })
}

pub fn split_schemes(
    configs: &[KeyConfig],
    keys: Vec<Arc<SigningKey>>,
) -> (Vec<Arc<SigningKey>>, Vec<Arc<SigningKey>>) {
    let mut dkim = Vec::new();
    let mut dk = Vec::new();
    for key in keys {
        let schemes = configs
            .iter()
            .find(|c| c.domain.eq_ignore_ascii_case(&key.domain) && c.selector == key.selector)
            .map_or(&[Scheme::Dkim][..], |c| c.schemes.as_slice());
        if schemes.contains(&Scheme::Domainkeys) {
            dk.push(key.clone());
        }
        if schemes.contains(&Scheme::Dkim) {
            dkim.push(key);
        }
    }
    (dkim, dk)
}

fn describe(key: &SigningKey, error: mass_core::Error) -> SignError {
    SignError::Core {
        keys: key.label(),
        error,
    }
}

/// An error that concerns every key of a signer.
fn describe_all(keys: &[Arc<SigningKey>], error: mass_core::Error) -> SignError {
    let labels: Vec<String> = keys.iter().map(|k| k.label()).collect();
    SignError::Core {
        keys: labels.join(", "),
        error,
    }
}

impl SignJob {
    /// Start signing with `keys` (all for the From domain) and feed the
    /// header fields. `now` is `t=`; `ttl` adds `x=` that much later.
    /// Keys in `dk_keys` sign a DomainKey-Signature as well; `device`
    /// spools the body for the device's keys.
    pub fn start(
        keys: Vec<Arc<SigningKey>>,
        dk_keys: Vec<Arc<SigningKey>>,
        device: Option<DeviceJob>,
        headers: &HeaderBuf,
        now: u64,
        ttl: Option<u64>,
    ) -> Result<SignJob, SignError> {
        let mut running = Vec::with_capacity(keys.len().div_ceil(KEYS_PER_SIGNER));
        for keys in keys.chunks(KEYS_PER_SIGNER) {
            let requests: Vec<SignRequest<'_>> = keys
                .iter()
                .map(|key| {
                    let mut req =
                        SignRequest::new(&key.domain, &key.selector, key.material.algorithm());
                    req.timestamp = Some(now);
                    req.expiration = ttl.map(|t| now.saturating_add(t));
                    req
                })
                .collect();
            let fail = |e| describe_all(keys, e);
            let mut signer = Box::new(Signer::new(&requests).map_err(fail)?);
            for (_, field) in headers.fields() {
                signer.header_field(field).map_err(fail)?;
            }
            signer.end_of_headers().map_err(fail)?;
            running.push(Running {
                keys: keys.to_vec(),
                signer,
                body_done: false,
            });
        }
        let mut domainkeys = Vec::with_capacity(dk_keys.len());
        for key in dk_keys {
            // A legacy DomainKeys refusal never holds up the DKIM signatures:
            // it is logged and that DomainKey-Signature is left out.
            let started = (|| {
                let mut req = DkSignRequest::new(&key.domain, &key.selector, DkCanon::Nofws);
                req.headers = Some(&DK_SIGNED_HEADERS);
                let mut signer = Box::new(DkSigner::new(&req)?);
                for (_, field) in headers.fields() {
                    signer.header_field(field)?;
                }
                signer.end_of_headers()?;
                Ok::<_, mass_core::Error>(signer)
            })();
            match started {
                Ok(signer) => domainkeys.push((key, signer)),
                Err(e) => skip_domainkeys(&key, &e.to_string()),
            }
        }
        Ok(SignJob {
            running,
            domainkeys,
            device,
            device_signatures: None,
        })
    }

    /// True when a signing device must sign before [`SignJob::finish`].
    pub fn needs_device(&self) -> bool {
        self.device.is_some() && self.device_signatures.is_none()
    }

    /// Have the device sign (end of message: header fields and the spooled
    /// body go to it now).
    pub async fn sign_on_device(&mut self, headers: &HeaderBuf) {
        if let Some(job) = &mut self.device {
            self.device_signatures = Some(job.sign(headers).await);
        }
    }

    /// Feed a body chunk; false once no signer needs more of the body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<bool, SignError> {
        self.domainkeys
            .retain_mut(|(key, signer)| match signer.body(chunk) {
                Ok(()) => true,
                Err(e) => {
                    skip_domainkeys(key, &e.to_string());
                    false
                }
            });
        if let Some(device) = &mut self.device {
            device.body(chunk)?;
        }
        let mut wants_more = !self.domainkeys.is_empty() || self.device.is_some();
        for r in self.running.iter_mut().filter(|r| !r.body_done) {
            match r.signer.body(chunk).map_err(|e| describe_all(&r.keys, e))? {
                BodyInterest::Done => r.body_done = true,
                _ => wants_more = true,
            }
        }
        Ok(wants_more)
    }

    /// Finish every signer: the DomainKey-Signatures first, then one
    /// DKIM-Signature per DKIM key, then the device's (inserted at the top
    /// in this order, the DKIM-Signatures end up above the
    /// DomainKey-Signatures). A device failure fails the message.
    pub fn finish(self) -> Result<Vec<Signature>, SignError> {
        let from_device = match (self.device.is_some(), self.device_signatures) {
            (false, _) => Vec::new(),
            (true, Some(signed)) => signed?,
            (true, None) => return Err(SignError::DeviceNotAsked),
        };
        let dkim_count: usize = self.running.iter().map(|r| r.keys.len()).sum();
        let mut out = Vec::with_capacity(dkim_count + self.domainkeys.len() + from_device.len());
        for (key, signer) in self.domainkeys {
            match finish_domainkeys(&key, *signer) {
                Ok(value) => out.push(Signature {
                    name: "DomainKey-Signature",
                    label: format!("{} (domainkeys)", key.label()),
                    value,
                }),
                Err(why) => skip_domainkeys(&key, &why.to_string()),
            }
        }
        for mut r in self.running {
            for (i, key) in r.keys.iter().enumerate() {
                let mut signer = KeySigner::new(key);
                // The exact size, asked before signing: nothing is guessed.
                let room = r
                    .signer
                    .required_len(i, &signer)
                    .map_err(|e| describe(key, e))?;
                let mut buf = vec![0u8; room];
                let n = r
                    .signer
                    .finish(i, &mut signer, &mut buf)
                    .map_err(|e| describe(key, e))?;
                let field = buf.get(..n).unwrap_or_default();
                let bad = |why| SignError::BadField {
                    key: key.label(),
                    why,
                };
                let field = std::str::from_utf8(field).map_err(|_| bad("is not UTF-8"))?;
                let (name, value) = field.split_once(':').ok_or_else(|| bad("has no colon"))?;
                debug_assert!(name.eq_ignore_ascii_case("DKIM-Signature"));
                out.push(Signature {
                    name: "DKIM-Signature",
                    label: key.label(),
                    value: value.replace("\r\n", "\n"),
                });
            }
        }
        out.extend(from_device);
        Ok(out)
    }
}

fn skip_domainkeys(key: &SigningKey, why: &str) {
    tracing::warn!(
        key = key.label(),
        reason = why,
        "no DomainKey-Signature for this message"
    );
}

/// Sign with rsa-sha1 (blinded, through core's [`RsaSha256Signer`]) and
/// return the field value after the colon, folded with LF + space.
fn finish_domainkeys(key: &SigningKey, mut signer: DkSigner) -> Result<String, SignError> {
    let KeyMaterial::Rsa(rsa_key) = &key.material else {
        return Err(describe(key, mass_core::Error::AlgorithmMismatch));
    };
    let mut sha1_signer =
        RsaSha256Signer::new(&**rsa_key, getrandom::SysRng).map_err(|e| describe(key, e))?;
    let mut buf = vec![0u8; signer.required_len(&sha1_signer)];
    let n = signer
        .finish(&mut sha1_signer, &mut buf)
        .map_err(|e| describe(key, e))?;
    let bad = |why| SignError::BadField {
        key: key.label(),
        why,
    };
    let field =
        std::str::from_utf8(buf.get(..n).unwrap_or_default()).map_err(|_| bad("is not UTF-8"))?;
    let (_, value) = field.split_once(':').ok_or_else(|| bad("has no colon"))?;
    Ok(value.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests;
