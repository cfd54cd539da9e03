//! BATV in the milter (issue 6): the per-message envelope state and the replies it
//! turns into. The decisions are `crate::batv`'s pure functions.
//!
//! ```text
//!  MAIL  ─► Envelope::mail (sender, internal?)
//!  RCPT  ─► Envelope::rcpt ─► bounce from outside to a BATV domain?
//!                               valid tag ─► remember (tagged, untagged)
//!                               bad tag   ─► 550 5.7.1 for this RCPT, or remember a header
//!  EOM   ─► Envelope::end_of_message ─► SMFIR_CHGFROM <prvs=...> (internal senders)
//!                                       SMFIR_DELRCPT + SMFIR_ADDRCPT per valid tag
//!                                       SMFIR_ADDHEADER X-BATV per bad tag (action = "tag")
//! ```
//!
//! Bounces are checked only from clients that are not internal: a local autoresponder
//! sending with `MAIL FROM:<>` to a local user is not a forged bounce.

use super::codec::Reply;
use crate::batv::{
    BATV_HEADER, BatvPolicy, MailFromDecision, REJECT_REPLY, RcptDecision, bounce_recipient,
    outgoing_mail_from,
};

/// BATV state of one message.
#[derive(Debug, Default)]
pub(super) struct Envelope {
    mail_from: String,
    internal: bool,
    /// (tagged, untagged) recipients to swap at end of message.
    replace: Vec<(String, String)>,
    /// `X-BATV` field values to add (`action = "tag"`).
    headers: Vec<String>,
}

impl Envelope {
    /// At MAIL: the sender as the MTA gave it, and whether the client is internal.
    pub(super) fn mail(sender: Option<&[u8]>, internal: bool) -> Self {
        Envelope {
            mail_from: sender
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_default(),
            internal,
            ..Envelope::default()
        }
    }

    /// At RCPT: `Some(reply)` refuses this recipient with that SMTP reply.
    pub(super) fn rcpt(
        &mut self,
        policy: Option<&BatvPolicy>,
        rcpt: Option<&[u8]>,
        now: u64,
        queue_id: &str,
    ) -> Option<String> {
        let policy = policy?;
        if self.internal {
            return None;
        }
        let rcpt = String::from_utf8_lossy(rcpt?);
        match bounce_recipient(policy, &self.mail_from, &rcpt, now) {
            RcptDecision::Accept => None,
            RcptDecision::Replace { tagged, untagged } => {
                tracing::info!(queue_id, rcpt = %tagged, to = %untagged, "BATV tag valid");
                // The same recipient given twice is swapped once.
                if !self.replace.iter().any(|(t, _)| *t == tagged) {
                    self.replace.push((tagged, untagged));
                }
                None
            }
            RcptDecision::Reject(reason) => {
                tracing::info!(queue_id, rcpt = %rcpt, reason = %reason, action = "reject", "BATV bounce refused");
                let (code, status, text) = REJECT_REPLY;
                Some(format!("{code} {status} {text}"))
            }
            RcptDecision::AddHeader { value, reason } => {
                tracing::info!(queue_id, rcpt = %rcpt, reason = %reason, action = "tag", "BATV bounce marked");
                self.headers.push(value);
                None
            }
        }
    }

    /// At end of message: encode the envelope changes (before the final reply).
    pub(super) fn end_of_message(
        &self,
        policy: Option<&BatvPolicy>,
        now: u64,
        queue_id: &str,
        out: &mut Vec<u8>,
    ) {
        let Some(policy) = policy else {
            return;
        };
        if self.internal {
            match outgoing_mail_from(policy, &self.mail_from, now) {
                MailFromDecision::Keep => {}
                MailFromDecision::Rewrite(sender) => {
                    Reply::ChangeFrom {
                        sender: &sender,
                        args: "",
                    }
                    .encode(out);
                    tracing::info!(queue_id, from = %sender, "BATV sender tagged");
                }
                MailFromDecision::Untagged(e) => {
                    // RFC 5321 §4.5.3.1.1: leave it untagged, and say why.
                    tracing::warn!(queue_id, from = %self.mail_from, reason = %e, "BATV sender left untagged");
                }
            }
        }
        for (tagged, untagged) in &self.replace {
            Reply::DeleteRecipient(tagged).encode(out);
            Reply::AddRecipient(untagged).encode(out);
        }
        for value in &self.headers {
            Reply::AddHeader {
                name: BATV_HEADER,
                value,
            }
            .encode(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batv::{BatvAction, BatvConfig};
    use zeroize::Zeroizing;

    const NOW: u64 = 20_785 * 86_400 + 600;

    fn policy(action: BatvAction) -> BatvPolicy {
        let cfg = BatvConfig {
            secret_file: "unused".into(),
            insecure_secret_file: false,
            key_number: 1,
            local_domains: vec!["example.com".into()],
            action,
            validity_days: 7,
            grace_days: 0,
            max_validity_days: 30,
        };
        BatvPolicy::new(Zeroizing::new(b"secret".to_vec()), &cfg).unwrap()
    }

    /// (command byte, payload) of each encoded reply.
    fn replies(out: &[u8]) -> Vec<(u8, String)> {
        let mut v = Vec::new();
        let mut rest = out;
        while rest.len() >= 5 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            v.push((
                rest[4],
                String::from_utf8_lossy(&rest[5..4 + len]).into_owned(),
            ));
            rest = &rest[4 + len..];
        }
        v
    }

    #[test]
    fn internal_sender_is_rewritten() {
        let p = policy(BatvAction::Reject);
        let e = Envelope::mail(Some(b"<Joe@Example.com>"), true);
        let mut out = Vec::new();
        e.end_of_message(Some(&p), NOW, "Q", &mut out);
        let r = replies(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, b'e', "SMFIR_CHGFROM");
        // Exim 4.96: ${prvs{Joe@Example.com}{secret}{1}} on this day.
        assert!(r[0].1.starts_with("<prvs=1792"), "{}", r[0].1);
        assert!(r[0].1.contains("=Joe@Example.com>\0"), "{}", r[0].1);
        // Outside clients, no policy, or a foreign domain: nothing.
        let mut out = Vec::new();
        Envelope::mail(Some(b"<Joe@Example.com>"), false).end_of_message(
            Some(&p),
            NOW,
            "Q",
            &mut out,
        );
        e.end_of_message(None, NOW, "Q", &mut out);
        Envelope::mail(Some(b"<joe@other.example>"), true).end_of_message(
            Some(&p),
            NOW,
            "Q",
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn bounces_from_outside_are_checked() {
        let p = policy(BatvAction::Reject);
        let MailFromDecision::Rewrite(tagged) = outgoing_mail_from(&p, "<ann@example.com>", NOW)
        else {
            panic!()
        };
        let mut e = Envelope::mail(Some(b"<>"), false);
        assert_eq!(e.rcpt(Some(&p), Some(tagged.as_bytes()), NOW, "Q"), None);
        assert_eq!(e.rcpt(Some(&p), Some(tagged.as_bytes()), NOW, "Q"), None);
        assert_eq!(
            e.rcpt(Some(&p), Some(b"<ann@example.com>"), NOW, "Q")
                .as_deref(),
            Some("550 5.7.1 bounce to an address this domain did not send from (BATV)")
        );
        let forged = tagged.replace("=1", "=2");
        assert!(
            e.rcpt(Some(&p), Some(forged.as_bytes()), NOW, "Q")
                .is_some()
        );
        assert_eq!(
            e.rcpt(Some(&p), Some(b"<x@elsewhere.example>"), NOW, "Q"),
            None
        );
        let mut out = Vec::new();
        e.end_of_message(Some(&p), NOW, "Q", &mut out);
        let r = replies(&out);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].0, r[0].1.as_str()),
            (b'-', format!("{tagged}\0").as_str())
        );
        assert_eq!((r[1].0, r[1].1.as_str()), (b'+', "<ann@example.com>\0"));
        // Not a bounce, or from an internal client: not checked.
        let mut e = Envelope::mail(Some(b"<bob@else.example>"), false);
        assert_eq!(e.rcpt(Some(&p), Some(b"<ann@example.com>"), NOW, "Q"), None);
        let mut e = Envelope::mail(Some(b"<>"), true);
        assert_eq!(e.rcpt(Some(&p), Some(b"<ann@example.com>"), NOW, "Q"), None);
        assert_eq!(e.rcpt(None, Some(b"<ann@example.com>"), NOW, "Q"), None);
    }

    #[test]
    fn tag_action_adds_a_header_and_accepts() {
        let p = policy(BatvAction::Tag);
        let mut e = Envelope::mail(Some(b"<>"), false);
        assert_eq!(e.rcpt(Some(&p), Some(b"<ann@example.com>"), NOW, "Q"), None);
        let mut out = Vec::new();
        e.end_of_message(Some(&p), NOW, "Q", &mut out);
        let r = replies(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, b'h', "SMFIR_ADDHEADER");
        assert_eq!(
            r[0].1,
            "X-BATV\0fail (no prvs= tag) rcpt=<ann@example.com>\0"
        );
    }

    /// Through a whole session, as Postfix would talk to it: config with `[batv]`,
    /// a bounce from outside with one forged and one valid tagged recipient.
    #[test]
    fn session_rejects_forged_and_swaps_valid_recipients() {
        use super::super::session::{Flow, Session};
        use crate::config::Config;
        use crate::milter::codec::{Decoder, encode_command};
        use std::os::unix::fs::PermissionsExt as _;
        use std::sync::Arc;

        let dir = std::env::temp_dir().join(format!("mass-batv-session-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("batv.secret");
        std::fs::write(&secret, "secret\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = "listen = \"inet:127.0.0.1:1\"\nauthserv_id = \"mx.example.net\"\n\
                    internal_networks = [\"10.0.0.0/8\"]\n\
                    [batv]\nsecret_file = \"batv.secret\"\nlocal_domains = [\"example.com\"]\n";
        let config = Config::parse(text, "test", &dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let policy = config.batv_policy.clone().unwrap();
        let shared = Arc::new(super::super::Shared::with_clock(
            super::super::State {
                config,
                keys: Vec::new(),
                key_source: Arc::new(super::super::KeySources::Zone(Default::default())),
                device: None,
                arc_key: None,
            },
            crate::clock::Clock::Fixed(NOW),
        ));

        let MailFromDecision::Rewrite(valid) =
            outgoing_mail_from(&policy, "<ann@example.com>", NOW)
        else {
            panic!()
        };
        let mut input = Vec::new();
        let mut optneg = 6u32.to_be_bytes().to_vec();
        optneg.extend_from_slice(&0x1ffu32.to_be_bytes());
        optneg.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
        encode_command(b'O', &optneg, &mut input);
        encode_command(b'C', b"client\x004\x00\x19192.0.2.1\0", &mut input);
        encode_command(b'M', b"<>\0", &mut input);
        encode_command(b'R', b"<prvs=0123abcdef=ann@example.com>\0", &mut input);
        let mut r = valid.clone().into_bytes();
        r.push(0);
        encode_command(b'R', &r, &mut input);
        encode_command(b'T', b"", &mut input);
        encode_command(b'N', b"", &mut input);
        encode_command(b'E', b"", &mut input);
        encode_command(b'Q', b"", &mut input);

        let mut d = Decoder::new(crate::milter::codec::DEFAULT_MAX_PACKET);
        let mut s = Session::new(shared, "test".into());
        let mut out = Vec::new();
        d.feed(&input);
        while let Some(c) = d.decode().unwrap() {
            if s.handle(&c, &mut out).unwrap() == Flow::Close {
                break;
            }
        }
        let r = replies(&out);
        let codes: Vec<u8> = r.iter().map(|x| x.0).collect();
        // O, C, M, R (refused), R, T, N, then at EOM: -, +, the A-R header, c.
        assert_eq!(&codes[..7], b"Occyccc", "{r:?}");
        assert_eq!(
            r[3].1,
            "550 5.7.1 bounce to an address this domain did not send from (BATV)\0"
        );
        assert_eq!(r[7], (b'-', format!("{valid}\0")));
        assert_eq!(r[8], (b'+', "<ann@example.com>\0".to_string()));
        assert_eq!(codes.last(), Some(&b'c'));
    }
}
