//! One milter connection's state and the per-message decision: sign,
//! verify, refuse. Sans-IO: commands in, reply bytes out.
//!
//! The decision follows OpenDKIM (and DESIGN.md): a message is signed when
//! its client is internal (a configured network, `{auth_authen}` set, or the
//! `{daemon_name}` seen at connect time is a signing daemon) and the From
//! domain has a key; otherwise it is verified. A message with several
//! From fields or authors is never signed (RFC 6376 §5.3, §6.1.1 would let
//! the wrong author be vouched for); `on_refuse` says what happens to it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::State;
use super::arc::{ArcSealJob, ArcStart};
use super::codec::{ClientAddress, CodecError, Command, Negotiated, Reply, action, protocol};
use super::device_signing::DeviceJob;
use super::headers::{HeaderBuf, from_domain};
use super::signing::{SignError, SignJob};
use super::verifying::VerifyJob;
use crate::clock::ClockError;
use crate::config::{OnError, OnRefuse};

/// Actions we ask for: header changes for signing and verifying, envelope
/// changes for BATV.
pub const WANTED_ACTIONS: u32 =
    action::ADDHDRS | action::CHGHDRS | action::CHGFROM | action::ADDRCPT | action::DELRCPT;

/// Protocol flags we ask for: skip the body once core has enough, keep
/// header values byte-exact, and no HELO/unknown commands.
///
/// The `SMFIP_NR_*` (no reply) flags are left out on purpose: measured
/// through Postfix (1,000 x 4 KiB, 8 sessions, signing) they cost
/// throughput on loopback TCP (105 and 101 against 147 and 83 msg/s, and
/// 233/181 against 310 earlier in verify mode) and on a unix socket too
/// (202, 251, 245 against 257, 330, 325 msg/s, alternating runs). Postfix
/// does not set TCP_NODELAY, so a command that gets no reply leaves its
/// next write waiting for our ACK; a reply carries that ACK at once.
pub const WANTED_PROTOCOL: u32 =
    protocol::SKIP | protocol::HDR_LEADSPC | protocol::NOHELO | protocol::NOUNKNOWN;

/// What the server should do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Close the connection (`SMFIC_QUIT` or a protocol error).
    Close,
    /// End of message needs I/O first (key records for verify mode, or the
    /// signing device): call [`Session::finish_message`] for the replies.
    Finish,
}

/// Where a message stands.
/// Why an internal message cannot be signed.
#[derive(Debug)]
enum Failure {
    /// The header section passed `max_header_bytes`.
    HeaderTooLarge,
    /// A signer or the device failed.
    Sign(SignError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::HeaderTooLarge => f.write_str("header section above max_header_bytes"),
            Failure::Sign(e) => e.fmt(f),
        }
    }
}

enum Phase {
    /// Collecting header fields until EOH.
    Headers,
    /// Streaming into one signer per key.
    Signing(Box<SignJob>),
    /// Streaming into the verifier.
    Verifying(Box<VerifyJob>),
    /// Internal mail the signer refuses (several From fields).
    Refused(&'static str),
    /// Signing failed; `on_error` applies.
    Failed(Failure),
    /// The clock could not be read when the message started: it is neither
    /// signed nor verified (never at time 0); `on_error` applies.
    NoClock(ClockError),
}

struct Message {
    started: Instant,
    /// Unix seconds, read from the clock once when the message started:
    /// `t=` and `x=`, the verifier's time and BATV days all use it. A
    /// clock failure is kept, and the message gets `on_error`.
    now: Result<u64, ClockError>,
    state: Arc<State>,
    headers: HeaderBuf,
    phase: Phase,
    /// The MTA has been told to skip the rest of the body.
    skipped: bool,
    /// BATV envelope changes for this message.
    batv: super::batv::Envelope,
    /// The ARC set this message gets as it leaves (`[arc]`).
    arc: Option<Box<ArcSealJob>>,
    /// MAIL FROM and RCPT TO.
    envelope: super::dkim2::Envelope,
    /// The DKIM2 hop this message gets as it leaves.
    dkim2_exit: Option<Box<super::dkim2::Dkim2Exit>>,
    /// The message as it arrived, kept for DKIM2 recipes
    /// (`[dkim2] record_changes`).
    arrival: Option<super::dkim2::Gathered>,
}

/// One milter connection.
pub struct Session {
    shared: Arc<super::Shared>,
    negotiated: Option<Negotiated>,
    client_ip: Option<IpAddr>,
    daemon_name: Option<String>,
    auth_authen: Option<String>,
    queue_id: Option<String>,
    message: Option<Message>,
    peer: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("client_ip", &self.client_ip)
            .field("in_message", &self.message.is_some())
            .finish()
    }
}

fn macro_name(name: &[u8]) -> &[u8] {
    name.strip_prefix(b"{")
        .and_then(|n| n.strip_suffix(b"}"))
        .unwrap_or(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Session {
    /// A session for a connection from `peer` (for logs).
    pub fn new(shared: Arc<super::Shared>, peer: String) -> Self {
        Session {
            shared,
            negotiated: None,
            client_ip: None,
            daemon_name: None,
            auth_authen: None,
            queue_id: None,
            message: None,
            peer,
        }
    }

    /// True while a message is between MAIL and end of message: a drain
    /// on shutdown waits for these.
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    fn reply(&self, command: &Command<'_>, reply: Reply<'_>, out: &mut Vec<u8>) {
        if self.negotiated.is_none_or(|n| n.expects_reply(command)) {
            reply.encode(out);
        }
    }

    fn reset_message(&mut self) {
        self.message = None;
        self.auth_authen = None;
        self.queue_id = None;
    }

    fn message(&mut self) -> &mut Message {
        let shared = &self.shared;
        self.message.get_or_insert_with(|| Message {
            started: Instant::now(),
            now: shared.clock().now(),
            state: shared.current(),
            headers: HeaderBuf::default(),
            phase: Phase::Headers,
            skipped: false,
            batv: Default::default(),
            arc: None,
            envelope: Default::default(),
            dkim2_exit: None,
            arrival: None,
        })
    }

    /// Handle one command; replies (if any) are appended to `out`, which the
    /// server sends in one write.
    pub fn handle(&mut self, command: &Command<'_>, out: &mut Vec<u8>) -> Result<Flow, CodecError> {
        match *command {
            Command::OptNeg {
                version,
                actions,
                protocol,
            } => {
                let n = Negotiated::from_offer(
                    version,
                    actions,
                    protocol,
                    WANTED_ACTIONS,
                    WANTED_PROTOCOL,
                )?;
                n.reply().encode(out);
                self.negotiated = Some(n);
            }
            Command::Macro { stage, macros } => {
                if stage == b'M' {
                    self.auth_authen = None;
                }
                for (name, value) in macros.iter() {
                    match macro_name(name) {
                        b"i" if !value.is_empty() => self.queue_id = Some(text(value)),
                        b"daemon_name" if stage == b'C' => self.daemon_name = Some(text(value)),
                        b"auth_authen" if !value.is_empty() => self.auth_authen = Some(text(value)),
                        _ => {}
                    }
                }
            }
            Command::Connect { address, .. } => {
                self.client_ip = match address {
                    ClientAddress::Inet(ip, _) => Some(ip),
                    ClientAddress::Unix(_) | ClientAddress::Unknown => None,
                };
                self.reply(command, Reply::Continue, out);
            }
            Command::Mail(args) => {
                self.message = None;
                let state = self.message().state.clone();
                let internal = self.internal(&state);
                self.message().batv = super::batv::Envelope::mail(args.first(), internal);
                self.message().envelope.mail_from = text(args.first().unwrap_or_default());
                self.reply(command, Reply::Continue, out);
            }
            Command::Rcpt(args) => {
                let queue_id = self.queue_id.clone().unwrap_or_else(|| "-".into());
                let m = self.message();
                m.envelope
                    .rcpt_to
                    .push(text(args.first().unwrap_or_default()));
                let policy = m.state.config.batv_policy.clone();
                // Without a clock no tag can be checked; the message gets
                // `on_error` at its end.
                let refusal = match m.now {
                    Ok(now) => m.batv.rcpt(policy.as_deref(), args.first(), now, &queue_id),
                    Err(_) => None,
                };
                match refusal {
                    Some(refusal) => self.reply(command, Reply::SmtpCode(&refusal), out),
                    None => self.reply(command, Reply::Continue, out),
                }
            }
            Command::Helo(_) | Command::Data | Command::Unknown(_) => {
                self.reply(command, Reply::Continue, out);
            }
            Command::Header { name, value } => {
                let leading_space = self
                    .negotiated
                    .is_some_and(|n| n.has(protocol::HDR_LEADSPC));
                let m = self.message();
                if let Phase::Headers = m.phase {
                    let limit = m.state.config.max_header_bytes;
                    m.headers.push(name, value, leading_space, limit);
                }
                self.reply(command, Reply::Continue, out);
            }
            Command::EndOfHeaders => {
                self.decide();
                self.reply(command, Reply::Continue, out);
            }
            Command::Body(chunk) => {
                let skip_ok = self.negotiated.is_some_and(|n| n.has(protocol::SKIP));
                let wants_more = self.body(chunk);
                let m = self.message();
                if !wants_more && skip_ok && !m.skipped {
                    m.skipped = true;
                    self.reply(command, Reply::Skip, out);
                } else {
                    self.reply(command, Reply::Continue, out);
                }
            }
            Command::EndOfMessage(chunk) => {
                if matches!(self.message().phase, Phase::Headers) {
                    self.decide();
                }
                if !chunk.is_empty() {
                    self.body(chunk);
                }
                let needs_io = self.message.as_ref().is_some_and(|m| match &m.phase {
                    Phase::Verifying(j) => j.needs_keys(),
                    Phase::Signing(j) => j.needs_device(),
                    _ => false,
                });
                if needs_io {
                    return Ok(Flow::Finish);
                }
                self.end_of_message(out);
                self.reset_message();
            }
            Command::Abort => {
                if let Some(m) = &self.message {
                    tracing::debug!(
                        queue_id = self.queue_id.as_deref().unwrap_or("-"),
                        ms = m.started.elapsed().as_millis() as u64,
                        "message aborted by the MTA"
                    );
                }
                self.reset_message();
            }
            Command::QuitNewConnection => {
                self.reset_message();
                self.client_ip = None;
                self.daemon_name = None;
            }
            Command::Quit => return Ok(Flow::Close),
        }
        Ok(Flow::Continue)
    }

    /// After [`Flow::Finish`]: look the keys up (DNS or the zone file of
    /// the configuration) or have the signing device sign, then append the
    /// end-of-message replies to `out`.
    pub async fn finish_message(&mut self, out: &mut Vec<u8>) {
        if let Some(m) = self.message.as_mut() {
            let source = m.state.key_source.clone();
            match &mut m.phase {
                Phase::Verifying(job) => job.fetch_keys(&*source).await,
                Phase::Signing(job) => job.sign_on_device(&m.headers).await,
                _ => {}
            }
        }
        self.end_of_message(out);
        self.reset_message();
    }

    /// True when the client counts as internal (its mail may be signed).
    fn internal(&self, state: &State) -> bool {
        self.client_ip.is_some_and(|ip| {
            state
                .config
                .internal_networks
                .iter()
                .any(|n| n.contains(ip))
        }) || self.auth_authen.is_some()
            || self.daemon_name.as_deref().is_some_and(|d| {
                state
                    .config
                    .signing_daemons
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(d))
            })
    }

    /// At EOH: sign, verify or refuse.
    fn decide(&mut self) {
        let internal = {
            let state = self.message().state.clone();
            self.internal(&state)
        };
        let m = self.message();
        if !matches!(m.phase, Phase::Headers) {
            return;
        }
        let state = m.state.clone();
        let now = match m.now {
            Ok(now) => now,
            Err(e) => {
                m.phase = Phase::NoClock(e);
                return;
            }
        };
        m.phase = if internal {
            match from_domain(&m.headers) {
                Err(why) => Phase::Refused(why),
                Ok(domain) => {
                    let keys: Vec<_> = state
                        .keys
                        .iter()
                        .filter(|k| {
                            domain
                                .as_deref()
                                .is_some_and(|d| k.domain.eq_ignore_ascii_case(d))
                                && super::signing::signs_dkim_or_domainkeys(&state.config.keys, k)
                        })
                        .cloned()
                        .collect();
                    let device_keys: Vec<_> = match (&state.config.device, domain.as_deref()) {
                        (Some(dc), Some(d)) => dc.keys_for(d).cloned().collect(),
                        _ => Vec::new(),
                    };
                    if keys.is_empty() && device_keys.is_empty() {
                        Phase::Verifying(Box::new(VerifyJob::start(&state, &m.headers, now)))
                    } else if m.headers.overflowed() {
                        Phase::Failed(Failure::HeaderTooLarge)
                    } else {
                        let (keys, dk_keys) =
                            super::signing::split_schemes(&state.config.keys, keys);
                        let device = match (&state.device, &state.config.device) {
                            (Some(d), Some(dc)) if !device_keys.is_empty() => {
                                Some(DeviceJob::start(
                                    d.clone(),
                                    device_keys,
                                    dc.max_body,
                                    now,
                                    state.config.signature_ttl,
                                ))
                            }
                            _ => None,
                        };
                        match SignJob::start(
                            keys,
                            dk_keys,
                            device,
                            &m.headers,
                            now,
                            state.config.signature_ttl,
                        ) {
                            Ok(job) => Phase::Signing(Box::new(job)),
                            Err(e) => Phase::Failed(Failure::Sign(e)),
                        }
                    }
                }
            }
        } else {
            Phase::Verifying(Box::new(VerifyJob::start(&state, &m.headers, now)))
        };
        let dkim2 = &state.config.dkim2;
        if internal && let Phase::Verifying(job) = &mut m.phase {
            job.skip_dkim2();
        }
        if internal {
            let from = super::headers::from_domain(&m.headers).ok().flatten();
            let keys = super::dkim2::hop_keys(
                &state.config.keys,
                &state.keys,
                &m.envelope,
                from.as_deref(),
            );
            if !keys.is_empty() && !m.headers.overflowed() {
                m.dkim2_exit = Some(Box::new(super::dkim2::Dkim2Exit::start(
                    keys,
                    m.envelope.clone(),
                    &m.headers,
                    dkim2.max_message_bytes,
                )));
            }
        } else if dkim2.record_changes && super::dkim2::message_id(&m.headers).is_some() {
            m.arrival = Some(super::dkim2::Gathered::new(
                &m.headers,
                dkim2.max_message_bytes,
            ));
        }
        if internal && let Some(key) = state.arc_key.clone() {
            let also_dkim = matches!(m.phase, Phase::Signing(_));
            match ArcSealJob::start(key, &m.headers, &state.config.authserv_id, now, also_dkim) {
                Ok(ArcStart::Sealing(job)) => m.arc = Some(job),
                Ok(ArcStart::NotOurs) => {}
                Ok(ArcStart::ChainNotValidated) => tracing::info!(
                    "not ARC-sealed: the message carries ARC sets whose validation was not recorded on arrival"
                ),
                Err(e) => tracing::warn!(error = %e, "not ARC-sealed"),
            }
        }
    }

    /// Feed a body chunk; false when nothing more of the body is wanted.
    fn body(&mut self, chunk: &[u8]) -> bool {
        if matches!(self.message().phase, Phase::Headers) {
            // No EOH seen (SMFIP_NOEOH or a confused MTA): decide now.
            self.decide();
        }
        let m = self.message();
        let dkim2_wants_more = m.dkim2_exit.as_mut().is_some_and(|job| job.body(chunk))
            | m.arrival.as_mut().is_some_and(|a| a.body(chunk));
        let arc_wants_more = match m.arc.as_mut().map(|job| job.body(chunk)) {
            Some(Ok(more)) => more,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "not ARC-sealed");
                m.arc = None;
                false
            }
            None => false,
        };
        arc_wants_more
            | dkim2_wants_more
            | match &mut m.phase {
                Phase::Signing(job) => match job.body(chunk) {
                    Ok(more) => more,
                    Err(e) => {
                        m.phase = Phase::Failed(Failure::Sign(e));
                        false
                    }
                },
                Phase::Verifying(job) => job.body(chunk),
                Phase::Headers | Phase::Refused(_) | Phase::Failed(_) | Phase::NoClock(_) => false,
            }
    }

    fn end_of_message(&mut self, out: &mut Vec<u8>) {
        if matches!(self.message().phase, Phase::Headers) {
            self.decide();
        }
        let queue_id = self.queue_id.clone().unwrap_or_else(|| "-".into());
        let Some(m) = self.message.take() else {
            return;
        };
        let state = m.state.clone();
        let batv_policy = state.config.batv_policy.as_deref();
        if let Ok(now) = m.now {
            m.batv.end_of_message(batv_policy, now, &queue_id, out);
        }
        // The ARC set goes on top of everything else this message gets.
        // Sealing is added value: a failure is logged and the message goes
        // on as it would without `[arc]`.
        let arc_set = match m.arc.map(|job| job.finish()) {
            Some(Ok(set)) => set,
            Some(Err(e)) => {
                tracing::warn!(queue_id, error = %e, "not ARC-sealed");
                Vec::new()
            }
            None => Vec::new(),
        };
        // The DKIM2 hop, like ARC, is added value: a failure is logged.
        let dkim2_hop = match (m.dkim2_exit, &m.now) {
            (Some(job), Ok(now)) => {
                match job.finish(*now, self.shared.arrivals(), &state.config.dkim2) {
                    Ok(fields) => fields,
                    Err(e) => {
                        tracing::warn!(queue_id, error = %e, "no DKIM2 hop signed");
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        };
        if let (Some(arrival), Some(id)) = (
            m.arrival.and_then(super::dkim2::Gathered::finish),
            super::dkim2::message_id(&m.headers),
        ) {
            self.shared
                .arrivals()
                .keep(&state.config.dkim2, id, arrival);
        }
        let insert_dkim2 = |out: &mut Vec<u8>| {
            for field in &dkim2_hop {
                Reply::InsertHeader {
                    index: 0,
                    name: field.name,
                    value: &field.value,
                }
                .encode(out);
            }
            if let Some(sig) = dkim2_hop.last() {
                tracing::info!(queue_id, hop = sig.label, "DKIM2 hop signed");
            }
        };
        let insert_arc = |out: &mut Vec<u8>| {
            for field in &arc_set {
                Reply::InsertHeader {
                    index: 0,
                    name: field.name,
                    value: &field.value,
                }
                .encode(out);
            }
            if let Some(seal) = arc_set.last() {
                tracing::info!(queue_id, set = seal.label, "ARC-sealed");
            }
        };
        let ms = m.started.elapsed().as_secs_f64() * 1000.0;
        let on_error = |out: &mut Vec<u8>, why: &dyn std::fmt::Display| match state.config.on_error
        {
            OnError::Tempfail => {
                tracing::warn!(
                    queue_id,
                    action = "tempfail",
                    reason = %why,
                    ms,
                    "signing failed"
                );
                Reply::SmtpCode("451 4.3.0 Message could not be signed, try again later")
                    .encode(out);
            }
            OnError::Accept => {
                tracing::warn!(
                    queue_id,
                    action = "accept-unsigned",
                    reason = %why,
                    ms,
                    "signing failed"
                );
                Reply::Continue.encode(out);
            }
        };
        match m.phase {
            Phase::Signing(job) => match job.finish() {
                Ok(signatures) => {
                    let labels: Vec<&str> = signatures.iter().map(|s| s.label.as_str()).collect();
                    for sig in &signatures {
                        Reply::InsertHeader {
                            index: 0,
                            name: sig.name,
                            value: &sig.value,
                        }
                        .encode(out);
                    }
                    insert_dkim2(out);
                    insert_arc(out);
                    Reply::Continue.encode(out);
                    tracing::info!(
                        queue_id,
                        action = "sign",
                        signatures = labels.join(" "),
                        ms,
                        "signed"
                    );
                }
                Err(why) => on_error(out, &why),
            },
            Phase::Failed(why) => on_error(out, &why),
            Phase::NoClock(e) => match state.config.on_error {
                OnError::Tempfail => {
                    tracing::error!(
                        queue_id,
                        action = "tempfail",
                        reason = %e,
                        ms,
                        "no clock: message neither signed nor verified"
                    );
                    Reply::SmtpCode("451 4.3.0 Temporary local problem, try again later")
                        .encode(out);
                }
                OnError::Accept => {
                    tracing::error!(
                        queue_id,
                        action = "accept-unhandled",
                        reason = %e,
                        ms,
                        "no clock: message neither signed nor verified"
                    );
                    Reply::Continue.encode(out);
                }
            },
            Phase::Refused(why) => match state.config.on_refuse {
                OnRefuse::Accept => {
                    tracing::info!(
                        queue_id,
                        action = "accept-unsigned",
                        reason = why,
                        ms,
                        "not signed"
                    );
                    Reply::Continue.encode(out);
                }
                OnRefuse::Tempfail => {
                    tracing::info!(
                        queue_id,
                        action = "tempfail",
                        reason = why,
                        ms,
                        "not signed"
                    );
                    Reply::SmtpCode("451 4.7.1 Message not signed: several From authors")
                        .encode(out);
                }
                OnRefuse::Reject => {
                    tracing::info!(queue_id, action = "reject", reason = why, ms, "not signed");
                    Reply::SmtpCode("550 5.7.1 Message not signed: several From authors")
                        .encode(out);
                }
            },
            Phase::Verifying(job) => {
                let outcome = job.finish(&state, &m.headers, &m.envelope);
                for &index in &outcome.delete_auth_results {
                    Reply::ChangeHeader {
                        index: u32::try_from(index).unwrap_or(u32::MAX),
                        name: "Authentication-Results",
                        value: "",
                    }
                    .encode(out);
                }
                Reply::InsertHeader {
                    index: 0,
                    name: "Authentication-Results",
                    value: &outcome.auth_results,
                }
                .encode(out);
                insert_dkim2(out);
                insert_arc(out);
                Reply::Continue.encode(out);
                tracing::info!(
                    queue_id,
                    action = "verify",
                    verdicts = outcome.summary,
                    removed_auth_results = outcome.delete_auth_results.len(),
                    ms,
                    "verified"
                );
            }
            Phase::Headers => Reply::Continue.encode(out),
        }
        let _ = &self.peer;
    }
}

#[cfg(test)]
mod tests;
