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
use super::codec::{ClientAddress, CodecError, Command, Negotiated, Reply, action, protocol};
use super::device_signing::DeviceJob;
use super::headers::{HeaderBuf, from_domain};
use super::signing::SignJob;
use super::verifying::VerifyJob;
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
    Failed(String),
}

struct Message {
    started: Instant,
    state: Arc<State>,
    headers: HeaderBuf,
    phase: Phase,
    /// The MTA has been told to skip the rest of the body.
    skipped: bool,
    /// BATV envelope changes for this message.
    batv: super::batv::Envelope,
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
            state: shared.current(),
            headers: HeaderBuf::default(),
            phase: Phase::Headers,
            skipped: false,
            batv: Default::default(),
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
                self.reply(command, Reply::Continue, out);
            }
            Command::Rcpt(args) => {
                let queue_id = self.queue_id.clone().unwrap_or_else(|| "-".into());
                let m = self.message();
                let policy = m.state.config.batv_policy.clone();
                let now = super::now();
                match m.batv.rcpt(policy.as_deref(), args.first(), now, &queue_id) {
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
                        })
                        .cloned()
                        .collect();
                    let device_keys: Vec<_> = match (&state.config.device, domain.as_deref()) {
                        (Some(dc), Some(d)) => dc.keys_for(d).cloned().collect(),
                        _ => Vec::new(),
                    };
                    if keys.is_empty() && device_keys.is_empty() {
                        Phase::Verifying(Box::new(VerifyJob::start(&state, &m.headers)))
                    } else if m.headers.overflowed() {
                        Phase::Failed("header section above max_header_bytes".into())
                    } else {
                        let now = super::now();
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
                            Err(e) => Phase::Failed(e),
                        }
                    }
                }
            }
        } else {
            Phase::Verifying(Box::new(VerifyJob::start(&state, &m.headers)))
        };
    }

    /// Feed a body chunk; false when nothing more of the body is wanted.
    fn body(&mut self, chunk: &[u8]) -> bool {
        if matches!(self.message().phase, Phase::Headers) {
            // No EOH seen (SMFIP_NOEOH or a confused MTA): decide now.
            self.decide();
        }
        let m = self.message();
        match &mut m.phase {
            Phase::Signing(job) => match job.body(chunk) {
                Ok(more) => more,
                Err(e) => {
                    m.phase = Phase::Failed(e);
                    false
                }
            },
            Phase::Verifying(job) => job.body(chunk),
            Phase::Headers | Phase::Refused(_) | Phase::Failed(_) => false,
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
        m.batv
            .end_of_message(batv_policy, super::now(), &queue_id, out);
        let ms = m.started.elapsed().as_secs_f64() * 1000.0;
        let on_error = |out: &mut Vec<u8>, why: &str| match state.config.on_error {
            OnError::Tempfail => {
                tracing::warn!(
                    queue_id,
                    action = "tempfail",
                    reason = why,
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
                    reason = why,
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
                let outcome = job.finish(&state, &m.headers);
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
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::milter::codec::{Decoder, encode_command};
    use crate::milter::keys::{SigningKey, parse_pem};

    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
-----END PRIVATE KEY-----
";

    /// RFC 8463 Appendix A.2: the public key of the brisbane selector.
    const ZONE: &[u8] = b"brisbane._domainkey.football.example.com. IN TXT \
        \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n";

    fn shared(extra: &str) -> Arc<super::super::Shared> {
        let text = format!(
            "listen = \"inet:127.0.0.1:1\"\nauthserv_id = \"mx.example.net\"\n\
             internal_networks = [\"10.0.0.0/8\"]\nsigning_daemons = [\"ORIGINATING\"]\n\
             on_refuse = \"reject\"\n{extra}"
        );
        let config = Config::parse(&text, "test", std::path::Path::new(".")).unwrap();
        let key = SigningKey::new(
            "football.example.com".into(),
            "brisbane".into(),
            parse_pem(ED25519_PEM).unwrap(),
        )
        .unwrap();
        Arc::new(super::super::Shared::new(State {
            keys: vec![Arc::new(key)],
            key_source: Arc::new(super::super::KeySources::Zone(
                crate::dns::ZoneKeySource::parse(ZONE).unwrap(),
            )),
            device: config_device(&config),
            config,
        }))
    }

    fn config_device(config: &Config) -> Option<Arc<crate::device::Device>> {
        config
            .device
            .as_ref()
            .map(|dc| Arc::new(crate::device::Device::from_config(dc)))
    }

    fn optneg() -> Vec<u8> {
        let mut d = 6u32.to_be_bytes().to_vec();
        d.extend_from_slice(&0x1ffu32.to_be_bytes());
        d.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
        d
    }

    /// Postfix-like conversation; `ip` is the client, `from` the From value.
    fn conversation(ip: &[u8], from: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_command(b'O', &optneg(), &mut out);
        let mut connect = b"client\x004\x00\x19".to_vec();
        connect.extend_from_slice(ip);
        connect.push(0);
        encode_command(b'C', &connect, &mut out);
        encode_command(b'D', b"Mi\0QID1\0", &mut out);
        encode_command(b'M', b"<joe@football.example.com>\0", &mut out);
        encode_command(b'R', b"<jdoe@example.net>\0", &mut out);
        encode_command(b'T', b"", &mut out);
        let mut h = b"From\0".to_vec();
        h.extend_from_slice(from);
        h.push(0);
        encode_command(b'L', &h, &mut out);
        encode_command(b'L', b"Subject\0 Is dinner ready?\n\tfolded\0", &mut out);
        encode_command(
            b'L',
            b"Authentication-Results\0 mx.example.net; dkim=pass\0",
            &mut out,
        );
        encode_command(b'N', b"", &mut out);
        for chunk in body.chunks(7) {
            encode_command(b'B', chunk, &mut out);
        }
        encode_command(b'E', b"", &mut out);
        encode_command(b'Q', b"", &mut out);
        out
    }

    /// Run bytes split at `at` through decoder and session; the replies.
    fn run(shared: &Arc<super::super::Shared>, input: &[u8], at: usize) -> Vec<(u8, Vec<u8>)> {
        let mut d = Decoder::new(crate::milter::codec::DEFAULT_MAX_PACKET);
        let mut s = Session::new(shared.clone(), "test".into());
        let mut out = Vec::new();
        let (a, b) = input.split_at(at);
        'outer: for part in [a, b] {
            d.feed(part);
            while let Some(c) = d.decode().unwrap() {
                match s.handle(&c, &mut out).unwrap() {
                    Flow::Close => break 'outer,
                    Flow::Finish => tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(s.finish_message(&mut out)),
                    Flow::Continue => {}
                }
            }
        }
        let mut replies = Vec::new();
        let mut rest = &out[..];
        while rest.len() >= 5 {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            replies.push((rest[4], rest[5..4 + len].to_vec()));
            rest = &rest[4 + len..];
        }
        assert!(rest.is_empty());
        replies
    }

    fn tag<'a>(value: &'a str, name: &str) -> &'a str {
        value
            .split(';')
            .map(str::trim)
            .find_map(|t| t.strip_prefix(name).and_then(|t| t.strip_prefix('=')))
            .unwrap_or("")
    }

    #[test]
    fn internal_mail_is_signed_the_same_at_every_split_point() {
        let shared = shared("");
        let body = b"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
        let input = conversation(
            b"10.1.2.3",
            b" Joe SixPack <joe@football.example.com>",
            body,
        );
        let mut first_bh = None;
        for at in 0..=input.len() {
            let replies = run(&shared, &input, at);
            let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
            // O, C, M, R, T, L x3, N, B x n, then i (signature) and c.
            assert_eq!(codes.first(), Some(&b'O'));
            assert_eq!(&codes[codes.len() - 2..], b"ic", "split at {at}");
            let (_, ins) = &replies[replies.len() - 2];
            assert_eq!(&ins[..4], &[0, 0, 0, 0], "inserted at index 0");
            let text = String::from_utf8_lossy(&ins[4..]).into_owned();
            let (name, value) = text.split_once('\0').unwrap();
            assert_eq!(name, "DKIM-Signature");
            assert!(!value.contains('\r'), "LF folding only");
            assert_eq!(tag(value, "d"), "football.example.com");
            assert_eq!(tag(value, "s"), "brisbane");
            assert_eq!(tag(value, "a"), "ed25519-sha256");
            let bh = tag(value, "bh").replace(['\n', '\t', ' '], "");
            // RFC 8463 Appendix A: the relaxed body hash of this body.
            assert_eq!(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
            if let Some(first) = &first_bh {
                assert_eq!(first, &bh);
            }
            first_bh = Some(bh);
        }
    }

    #[test]
    fn external_mail_gets_our_auth_results_and_loses_forged_ones() {
        let shared = shared("");
        let input = conversation(b"192.0.2.1", b" joe@football.example.com", b"x\r\n");
        let replies = run(&shared, &input, 0);
        let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
        // No signatures to check: the body is skipped after one chunk.
        assert!(codes.contains(&b's'));
        assert_eq!(&codes[codes.len() - 3..], b"mic");
        let (_, chg) = &replies[replies.len() - 3];
        assert_eq!(chg, b"\0\0\0\x01Authentication-Results\0\0");
        let (_, ins) = &replies[replies.len() - 2];
        let text = String::from_utf8_lossy(&ins[4..]).into_owned();
        assert!(
            text.starts_with("Authentication-Results\0 mx.example.net;"),
            "{text}"
        );
        assert!(text.contains("dkim=none"), "{text}");
    }

    #[test]
    fn several_from_fields_follow_on_refuse() {
        let shared = shared("");
        let mut input = conversation(b"10.0.0.1", b" a@football.example.com", b"x\r\n");
        // A second From, inserted before EOH.
        let eoh = {
            let mut p = Vec::new();
            encode_command(b'N', b"", &mut p);
            p
        };
        let at = input.windows(eoh.len()).position(|w| w == eoh).unwrap();
        let mut extra = Vec::new();
        encode_command(b'L', b"From\0 b@football.example.com\0", &mut extra);
        input.splice(at..at, extra);
        let replies = run(&shared, &input, 0);
        let last = replies.last().unwrap();
        assert_eq!(last.0, b'y');
        assert!(last.1.starts_with(b"550 5.7.1"));
    }

    #[test]
    fn daemon_name_and_auth_authen_make_mail_internal() {
        let shared = shared("");
        let base = conversation(b"192.0.2.1", b" joe@football.example.com", b"x\r\n");
        let connect_at = 4 + 13; // after OPTNEG
        for macro_packet in [
            &b"C{daemon_name}\0ORIGINATING\0"[..],
            b"M{auth_authen}\0joe\0",
        ] {
            let mut input = base.clone();
            let mut p = Vec::new();
            encode_command(b'D', macro_packet, &mut p);
            let at = if macro_packet[0] == b'C' {
                connect_at
            } else {
                // Just before MAIL.
                let mut mail = Vec::new();
                encode_command(b'M', b"<joe@football.example.com>\0", &mut mail);
                input.windows(mail.len()).position(|w| w == mail).unwrap()
            };
            input.splice(at..at, p);
            let replies = run(&shared, &input, 0);
            let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
            assert_eq!(&codes[codes.len() - 2..], b"ic", "{macro_packet:?}");
        }
    }

    #[test]
    fn verify_mode_passes_our_signature_and_fails_a_tampered_body() {
        let shared = shared("");
        let body = b"Hi.\r\n\r\nWe lost the game.\r\n";
        let signed = run(
            &shared,
            &conversation(b"10.1.2.3", b" Joe <joe@football.example.com>", body),
            0,
        );
        let (_, ins) = &signed[signed.len() - 2];
        let text = String::from_utf8_lossy(&ins[4..]).into_owned();
        let (_, sig) = text.split_once('\0').unwrap();
        let sig = sig.trim_end_matches('\0');
        for (body, want) in [
            (&body[..], "dkim=pass"),
            (b"Hi.\r\n\r\nWe won.\r\n", "dkim=fail"),
        ] {
            let mut input = conversation(b"192.0.2.1", b" Joe <joe@football.example.com>", body);
            // The signature goes first among the header fields.
            let mut field = b"DKIM-Signature\0".to_vec();
            field.extend_from_slice(sig.as_bytes());
            field.push(0);
            let mut p = Vec::new();
            encode_command(b'L', &field, &mut p);
            let mut first_header = Vec::new();
            encode_command(
                b'L',
                b"From\0 Joe <joe@football.example.com>\0",
                &mut first_header,
            );
            let at = input
                .windows(first_header.len())
                .position(|w| w == first_header)
                .unwrap();
            input.splice(at..at, p);
            let replies = run(&shared, &input, 0);
            let ar = replies
                .iter()
                .filter(|r| r.0 == b'i')
                .map(|r| String::from_utf8_lossy(&r.1[4..]).into_owned())
                .find(|t| t.starts_with("Authentication-Results"))
                .unwrap();
            assert!(ar.contains(want), "{ar}");
            assert!(ar.contains("header.d=football.example.com"), "{ar}");
            // The forged A-R claiming our authserv-id is deleted.
            assert!(replies.iter().any(|r| r.0 == b'm'));
        }
    }

    /// A device that accepts the connection and never answers: the message
    /// gets `on_error` (never passes unsigned under tempfail), in time.
    #[test]
    fn a_silent_signing_device_gives_on_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept() {
                held.push(s);
                if held.len() == 2 {
                    std::thread::sleep(std::time::Duration::from_secs(3));
                    return;
                }
            }
        });
        let signer = format!(
            "[signer]\ndevice = \"tcp:127.0.0.1:{port}\"\ntimeout = 0.3\n\
             [[signer.key]]\ndomain = \"Football.Example.com\"\nselector = \"hw\"\nkey_id = 0\n"
        );
        let input = conversation(b"10.1.2.3", b" joe@football.example.com", b"Hi.\r\n");
        for (on_error, want) in [("tempfail", b'y'), ("accept", b'c')] {
            let shared = shared(&format!("on_error = \"{on_error}\"\n{signer}"));
            let started = std::time::Instant::now();
            let replies = run(&shared, &input, 0);
            let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
            assert_eq!(codes.last(), Some(&want), "{on_error}: {codes:?}");
            assert!(!codes.contains(&b'i'), "{on_error}: nothing inserted");
            if want == b'y' {
                assert!(replies.last().unwrap().1.starts_with(b"451 4.3.0"));
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(3));
        }
        hold.join().unwrap();
    }

    /// A body over `[signer] max_body` is not spooled further: the rest of
    /// the body is skipped and the message gets `on_error`.
    #[test]
    fn a_body_over_max_body_is_not_spooled() {
        let signer = "[signer]\ndevice = \"tcp:127.0.0.1:9\"\ntimeout = 0.3\nmax_body = 10\n\
             [[signer.key]]\ndomain = \"football.example.com\"\nselector = \"hw\"\nkey_id = 0\n";
        let shared = shared(signer);
        let input = conversation(
            b"10.1.2.3",
            b" joe@football.example.com",
            b"more than ten bytes of body\r\n",
        );
        let replies = run(&shared, &input, 0);
        let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
        assert!(codes.contains(&b's'), "{codes:?}");
        let last = replies.last().unwrap();
        assert_eq!(last.0, b'y');
        assert!(last.1.starts_with(b"451 4.3.0"));
    }
}
