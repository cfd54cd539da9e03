//! Signing with keys held by a signing device (`[signer]`, issue 5): the
//! body is spooled while the MTA sends it, and at end of message the
//! header fields and the body go to the device, which canonicalizes,
//! hashes and signs (`firmware/PROTOCOL.md`). The key never reaches this
//! process.
//!
//! ```text
//!  BODY chunks ─► Spool (64 KiB in memory, then an unlinked file)
//!  EOM ─► Device::sign_reading(slot, headers, spool) per device key ─► DKIM-Signature
//! ```
//!
//! A device that does not answer in time, is busy past `busy_timeout`, or
//! answers with an error fails the message: `on_error` applies, and the
//! device client reconnects (and resynchronizes the link) for the next one.
//!
//! Nothing the device returns goes into a message unchecked: the field must
//! parse as a DKIM-Signature for the domain and selector asked for, and its
//! signature must verify over this message (core's verifier, the same as
//! for mail received) under the public key the device's INFO reports for
//! the slot. A device that returns a bad signature (a fault, a wrong key, a
//! compromised link) fails the message with `on_error`, and the link is
//! dropped so that the next message starts from a fresh INFO.

use std::sync::Arc;
use std::time::Instant;

use mass_core::BodyInterest;
use mass_core::dkim::signature_field::DkimSignature;
use mass_core::dkim::verify::{KeyAnswer, Reason, VerifyOptions};
use mass_core::{SignRequest, SigningAlgorithm};

use crate::device::{Device, DeviceKey, SignedField};
use crate::keys::record::record_data;
use crate::spool::Spool;

use super::Signature;
use super::headers::HeaderBuf;
use super::verifying::Verifier;
use crate::device::DeviceError;

/// Body bytes kept in memory per message before the spool moves to a file.
const SPOOL_IN_MEMORY: usize = 64 * 1024;

/// The device keys for one message and its spooled body.
#[derive(Debug)]
pub struct DeviceJob {
    device: Arc<Device>,
    keys: Vec<DeviceKey>,
    now: u64,
    ttl: Option<u64>,
    max_body: u64,
    spool: Spool,
    /// The body could not be kept: the message cannot be signed.
    broken: Option<SpoolFailure>,
}

/// Why the body could not be kept for the device.
#[derive(Debug, Clone)]
pub enum SpoolFailure {
    /// Over `[signer] max_body` bytes.
    OverMaxBody(u64),
    /// Writing the spool failed (a full disk, say).
    Write(Arc<std::io::Error>),
}

/// Why the device did not sign a message (`on_error` applies).
#[derive(Debug)]
#[non_exhaustive]
pub enum DeviceJobError {
    /// The body could not be kept for the device.
    Spool(SpoolFailure),
    /// The spooled body could not be read back.
    ReadSpool { key: String, error: std::io::Error },
    /// The device failed, timed out or refused.
    Device {
        key: String,
        addr: String,
        error: DeviceError,
    },
    /// The device returned a field that is not the signature asked for.
    BadField { key: String, why: String },
    /// The device's signature does not verify under the slot's public key.
    BadSignature { key: String, why: String },
}

impl std::fmt::Display for DeviceJobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceJobError::Spool(SpoolFailure::OverMaxBody(max)) => write!(
                f,
                "body over [signer] max_body ({max} bytes) for the signing device"
            ),
            DeviceJobError::Spool(SpoolFailure::Write(e)) => {
                write!(f, "spooling the body for the signing device: {e}")
            }
            DeviceJobError::ReadSpool { key, error } => {
                write!(f, "{key}: reading the spooled body: {error}")
            }
            DeviceJobError::Device { key, addr, error } => write!(f, "{key} at {addr}: {error}"),
            DeviceJobError::BadField { key, why } => write!(f, "{key}: the device returned {why}"),
            DeviceJobError::BadSignature { key, why } => write!(
                f,
                "{key}: the device's signature does not verify under its slot's public key ({why})"
            ),
        }
    }
}

impl std::error::Error for DeviceJobError {}

impl DeviceJob {
    /// Start spooling for `keys` (all for the From domain), at most
    /// `max_body` bytes. `now` is `t=`; `ttl` adds `x=` that much later.
    pub fn start(
        device: Arc<Device>,
        keys: Vec<DeviceKey>,
        max_body: u64,
        now: u64,
        ttl: Option<u64>,
    ) -> Self {
        DeviceJob {
            device,
            keys,
            now,
            ttl,
            max_body,
            spool: Spool::new(SPOOL_IN_MEMORY),
            broken: None,
        }
    }

    /// Keep a body chunk for the device.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), DeviceJobError> {
        if let Some(why) = &self.broken {
            return Err(DeviceJobError::Spool(why.clone()));
        }
        if self.spool.len().saturating_add(chunk.len() as u64) > self.max_body {
            let why = SpoolFailure::OverMaxBody(self.max_body);
            self.broken = Some(why.clone());
            return Err(DeviceJobError::Spool(why));
        }
        self.spool.write(chunk).map_err(|e| {
            let why = SpoolFailure::Write(Arc::new(e));
            self.broken = Some(why.clone());
            DeviceJobError::Spool(why)
        })
    }

    /// Sign with every device key, one after the other; the first failure
    /// fails the message.
    pub async fn sign(&mut self, headers: &HeaderBuf) -> Result<Vec<Signature>, DeviceJobError> {
        if let Some(why) = &self.broken {
            return Err(DeviceJobError::Spool(why.clone()));
        }
        // Collected first: a closure over borrowed fields held across the
        // awaits below would keep the future from being Send.
        let fields: Vec<&[u8]> = headers.fields().map(|(_, field)| field).collect();
        let mut out = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            let started = Instant::now();
            // The device signs with its slot's algorithm; this one is not sent.
            let mut req = SignRequest::new(&key.domain, &key.selector, SigningAlgorithm::RsaSha256);
            req.timestamp = Some(self.now);
            req.expiration = self.ttl.map(|t| self.now.saturating_add(t));
            // A link that the other end closed while idle is found only
            // when this message uses it; nothing reached the device, so the
            // message goes once more, on a new connection.
            let field = match sign_once(&self.device, &mut self.spool, key, &req, &fields).await {
                Err(DeviceJobError::Device {
                    error: DeviceError::LinkClosed(e),
                    ..
                }) => {
                    tracing::info!(
                        device = %self.device.addr(),
                        error = %e,
                        "the link to the signing device was closed while idle; signing again on a new one"
                    );
                    sign_once(&self.device, &mut self.spool, key, &req, &fields).await?
                }
                r => r?,
            };
            let signature = check_field(key, &field.field)?;
            let checked = check_signature(key, &field, &fields, &mut self.spool, self.now);
            if checked.is_err() {
                // The link or the device is in doubt: the next message
                // starts from a new connection and a fresh INFO.
                self.device.close().await;
            }
            checked?;
            tracing::debug!(
                key = signature.label,
                body_bytes = self.spool.len(),
                ms = started.elapsed().as_secs_f64() * 1000.0,
                "signed by the device"
            );
            out.push(signature);
        }
        Ok(out)
    }
}

/// One signature by the device over the spooled body.
async fn sign_once(
    device: &Device,
    spool: &mut Spool,
    key: &DeviceKey,
    req: &SignRequest<'_>,
    fields: &[&[u8]],
) -> Result<SignedField, DeviceJobError> {
    let body = spool.chunks().map_err(|error| DeviceJobError::ReadSpool {
        key: key.label(),
        error,
    })?;
    device
        .sign_reading(key.key_id, req, fields.iter(), body)
        .await
        .map_err(|error| DeviceJobError::Device {
            key: key.label(),
            addr: device.addr().to_string(),
            error,
        })
}

/// Check the device's signature over the message: core's verifier is fed
/// the new field above the message's header fields, then the spooled body,
/// with the slot's public key as the only key record.
fn check_signature(
    key: &DeviceKey,
    signed: &SignedField,
    fields: &[&[u8]],
    spool: &mut Spool,
    now: u64,
) -> Result<(), DeviceJobError> {
    let bad = |why: String| DeviceJobError::BadSignature {
        key: key.label(),
        why,
    };
    let Some(algorithm) = signed.slot.algorithm else {
        return Err(bad("the slot is empty".into()));
    };
    let record = record_data(algorithm, &signed.slot.public_key);
    let mut verifier = Box::new(Verifier::new(VerifyOptions::new(now)));
    std::iter::once(signed.field.as_slice())
        .chain(fields.iter().copied())
        .try_for_each(|f| verifier.header_field(f))
        .and_then(|()| verifier.end_of_headers())
        .map_err(|e| bad(format!("header not verifiable: {e}")))?;
    let body = spool.chunks().map_err(|error| DeviceJobError::ReadSpool {
        key: key.label(),
        error,
    })?;
    for chunk in body {
        let chunk = chunk.map_err(|error| DeviceJobError::ReadSpool {
            key: key.label(),
            error,
        })?;
        match verifier.body(chunk.as_ref()) {
            Ok(BodyInterest::Done) => break,
            Ok(_) => {}
            Err(e) => return Err(bad(format!("body not verifiable: {e}"))),
        }
    }
    verifier
        .end_of_input()
        .map_err(|e| bad(format!("message not verifiable: {e}")))?;
    // Only requests for the slot's name get its key; the message's own
    // signatures get none (they are not ours to check). The new field is
    // the top one, so its result is the first.
    let requests: Vec<(usize, bool)> = verifier
        .key_requests()
        .map(|r| {
            let ours = r.domain.eq_ignore_ascii_case(&key.domain) && r.selector == key.selector;
            (r.id, ours)
        })
        .collect();
    let records = [record.as_bytes()];
    for (id, ours) in requests {
        let answer = if ours {
            KeyAnswer::Records(&records)
        } else {
            KeyAnswer::NotFound
        };
        verifier.provide_key(id, answer);
    }
    let verification = verifier
        .finish()
        .map_err(|e| bad(format!("verification failed: {e}")))?;
    let Some(result) = verification.results().next() else {
        return Err(bad("no result".into()));
    };
    // The crypto must verify; policy about the message itself (From
    // count, unsigned duplicates) is the receiver's to judge.
    match result.reason {
        Reason::Verified
        | Reason::FromCount { .. }
        | Reason::UnsignedDuplicate { .. }
        | Reason::BodyLengthLimit => Ok(()),
        other => Err(bad(format!("{other:?}"))),
    }
}

/// Check what the device returned before it goes into the message: a
/// DKIM-Signature that parses, for the domain and selector asked for.
fn check_field(key: &DeviceKey, field: &[u8]) -> Result<Signature, DeviceJobError> {
    let bad = |why: &str| DeviceJobError::BadField {
        key: key.label(),
        why: why.to_string(),
    };
    let parsed = DkimSignature::parse_field(field)
        .map_err(|e| bad(&format!("a field that does not parse ({e:?})")))?;
    if !parsed.domain.eq_ignore_ascii_case(&key.domain) || parsed.selector != key.selector {
        return Err(bad(&format!(
            "a signature for {}/{}",
            parsed.domain, parsed.selector
        )));
    }
    let text = std::str::from_utf8(field).map_err(|_| bad("a field that is not UTF-8"))?;
    let (_, value) = text
        .split_once(':')
        .ok_or_else(|| bad("a field without a colon"))?;
    Ok(Signature {
        name: "DKIM-Signature",
        label: format!(
            "{}/{}({}, device slot {})",
            key.domain,
            key.selector,
            parsed.algorithm.as_str(),
            key.key_id
        ),
        value: value.replace("\r\n", "\n"),
    })
}

/// At start and after a reload: ask the device what it holds and log it,
/// warning about `[[signer.key]]` slots that are empty. Messages are
/// accepted meanwhile; one that needs an absent device gets `on_error`.
pub async fn check_device(device: Arc<Device>, config: crate::device::DeviceConfig) {
    match device.info().await {
        Ok(info) => {
            let slots: Vec<String> = info
                .slots
                .iter()
                .map(|s| match s.algorithm {
                    Some(a) => format!("{}={}/{}", s.key_id, a.as_str(), s.bits),
                    None => format!("{}=empty", s.key_id),
                })
                .collect();
            tracing::info!(
                device = %device.addr(),
                firmware = info.firmware,
                board = info.board,
                slots = slots.join(" "),
                "signing device ready"
            );
            for key in &config.keys {
                let held = info
                    .slots
                    .iter()
                    .any(|s| s.key_id == key.key_id && s.algorithm.is_some());
                if !held {
                    tracing::warn!(
                        key = key.label(),
                        "the signing device holds no key in this slot; provision it with \
                         `mass device provision`"
                    );
                }
            }
        }
        Err(e) => tracing::warn!(
            device = %device.addr(),
            error = %e,
            "signing device not reachable yet; messages it should sign get on_error until it is"
        ),
    }
}
