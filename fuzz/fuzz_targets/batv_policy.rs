//! The milter's BATV decisions (mass-hosted `batv`): `outgoing_mail_from`
//! for mail we sign and `bounce_recipient` for bounces to us, under a
//! `[batv]` policy built from the input.
//!
//! Input: a line of policy bytes (key number, days, action, secret), a
//! local domain line, then MAIL FROM and RCPT TO lines. Checked: nothing
//! panics; a sender we tag is in angle brackets and checks back, on the same
//! day, to a `Replace` that restores the sender as it was; a recipient is only
//! ever checked for a bounce (MAIL FROM `<>`) to one of our domains; a
//! `Replace` gives back an address the recipient ends with.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use mass_hosted::batv::{
    BatvAction, BatvConfig, BatvPolicy, MailFromDecision, RcptDecision, bounce_recipient,
    outgoing_mail_from, strip_angle_brackets,
};
use zeroize::Zeroizing;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let head = lines.next().unwrap_or_default();
    let [k, v, g, m, a, n0, n1, n2, secret @ ..] = head else {
        return;
    };
    let text = |l: Option<&[u8]>| String::from_utf8_lossy(l.unwrap_or_default()).into_owned();
    let domain = text(lines.next());
    let mail_from = text(lines.next());
    let rcpt = text(lines.next());
    let cfg = BatvConfig {
        secret_file: PathBuf::from("/nonexistent"),
        insecure_secret_file: false,
        key_number: k % 12,
        local_domains: if domain.is_empty() {
            Vec::new()
        } else {
            vec![domain.clone()]
        },
        action: if a & 1 == 0 {
            BatvAction::Reject
        } else {
            BatvAction::Tag
        },
        validity_days: u16::from(*v) * 2,
        grace_days: u16::from(*g) * 2,
        max_validity_days: u16::from(*m) * 2,
    };
    let Ok(policy) = BatvPolicy::new(Zeroizing::new(secret.to_vec()), &cfg) else {
        return;
    };
    // Up to 2^24 days from the epoch, and any second of the day.
    let now = u64::from_le_bytes([*n0, *n1, *n2, 0, 0, 0, 0, 0]) * 86_400 + u64::from(*a) * 300;

    match outgoing_mail_from(&policy, &mail_from, now) {
        MailFromDecision::Rewrite(tagged) => {
            assert!(tagged.starts_with('<') && tagged.ends_with('>'), "{tagged}");
            let back = bounce_recipient(&policy, "<>", &tagged, now);
            let original = strip_angle_brackets(&mail_from);
            assert_eq!(
                back,
                RcptDecision::Replace {
                    tagged: tagged.clone(),
                    untagged: format!("<{original}>")
                },
                "{mail_from} -> {tagged}"
            );
        }
        MailFromDecision::Keep | MailFromDecision::Untagged(_) => {}
    }
    match bounce_recipient(&policy, &mail_from, &rcpt, now) {
        RcptDecision::Accept => {}
        decision => {
            assert!(strip_angle_brackets(&mail_from).is_empty(), "{decision:?}");
            assert!(
                policy.is_local_domain(strip_angle_brackets(&rcpt)),
                "{decision:?}"
            );
            if let RcptDecision::Replace { untagged, .. } = &decision {
                let inner = untagged.trim_start_matches('<').trim_end_matches('>');
                assert!(strip_angle_brackets(&rcpt).ends_with(inner), "{decision:?}");
            }
        }
    }
});
