//! The whole verifier on arbitrary messages: never panics, whatever the
//! header block, signature fields, key records or body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, VerifyOptions};

/// An Ed25519 key record (RFC 8463 Appendix A.2) and a junk one.
const RECORDS: [&[u8]; 2] = [
    b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    b"v=DKIM1; p=",
];

fuzz_target!(|data: &[u8]| {
    // The first byte picks a split point, so streaming is exercised too.
    let Some((&split, message)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(message.len());
    let mut v: MessageVerifier<8192, 128, 4> =
        MessageVerifier::new(VerifyOptions::new(1_600_000_000));
    let (a, b) = message.split_at(at);
    if v.update(a).is_err() || v.update(b).is_err() || v.end_of_input().is_err() {
        return;
    }
    let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
    for id in ids {
        v.provide_key(id, KeyAnswer::Records(&RECORDS));
    }
    if let Ok(verification) = v.finish() {
        for r in verification.results() {
            let _ = (r.verdict, r.reason, r.domain, r.b_prefix);
        }
    }
});
