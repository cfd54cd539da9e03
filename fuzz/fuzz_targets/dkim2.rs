//! DKIM2 (draft-ietf-dkim-dkim2-spec-03): the two field parsers, the chain
//! verifier on any message at any cut, and a differential: a message the
//! signer signs as a first hop (or as the next hop of a chain that
//! verified) must then verify for the envelope it was signed for, and
//! must not for another recipient.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::verify::KeyAnswer;
use mass_core::dkim2::{
    Dkim2Result, Dkim2Signature, Dkim2Signer, Dkim2Verifier, Envelope, HopRequest,
    MessageInstance, Status, VerifyOptions, MAX_HOPS,
};
use mass_core::DigestSigner;

type Verifier = Dkim2Verifier<16384, 128, 8, 4096>;

const MAIL_FROM: &str = "<a@example.com>";
const RCPT: &str = "<b@example.net>";

/// Verify `pieces` for the envelope, answering every key request with
/// `record` and a junk record; `None` on an intake error.
fn verify(pieces: &[&[u8]], record: &[u8], rcpt: &str) -> Option<Dkim2Result> {
    let mut v = Box::new(Verifier::new(VerifyOptions::new(common::NOW)));
    for p in pieces {
        v.update(p).ok()?;
    }
    v.end_of_input().ok()?;
    let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
    // The lookup bound holds.
    assert!(ids.len() <= 8);
    for id in ids {
        v.provide_key(id, KeyAnswer::Records(&[record, b"v=DKIM1; p="]));
    }
    let result = v
        .finish(&Envelope {
            mail_from: MAIL_FROM,
            rcpt_to: &[rcpt],
        })
        .ok()?;
    assert!(result.hops as usize <= MAX_HOPS || result.status != Status::Pass);
    Some(result)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    // The parsers alone, on the input as a field value.
    if let Ok(sig) = Dkim2Signature::parse(rest) {
        assert!(sig.instance >= 1 && sig.revision >= 1);
        assert!(sig.s_span.end <= rest.len());
        assert!(sig.signatures.len() <= 4);
    }
    if let Ok(mi) = MessageInstance::parse(rest) {
        assert!(mi.revision >= 1);
    }

    // The verifier on the input as a message, in pieces.
    let cuts = common::cuts(rest.len(), &[control], 1);
    let pieces = common::pieces(rest, &cuts);
    let record = common::key_record();
    let Some(before) = verify(&pieces, &record, RCPT) else {
        return;
    };
    let whole = verify(&[rest], &record, RCPT);
    assert_eq!(whole, Some(before), "the result depends on the cut");

    // Differential: sign the next hop (the first, or after a chain that
    // verified), then verify it.
    if !matches!(before.status, Status::None | Status::Pass) || control & 1 == 0 {
        return;
    }
    let req = HopRequest::new(common::DOMAIN, MAIL_FROM, &[RCPT], common::NOW);
    let Ok(mut signer) = Dkim2Signer::<16384, 128>::new(&req) else {
        return;
    };
    for p in &pieces {
        if signer.update(p).is_err() {
            return;
        }
    }
    let mut key = common::signer();
    let mut keys: [(&str, &mut dyn DigestSigner); 1] = [(common::SELECTOR, &mut key)];
    let mut out = vec![0u8; 8192];
    let Ok(hop) = signer.finish(&mut keys, &mut out) else {
        return;
    };
    let mut signed = Vec::new();
    for span in [Some(hop.signature), hop.instance].into_iter().flatten() {
        signed.extend_from_slice(span.get(&out).unwrap_or_default());
        signed.extend_from_slice(b"\r\n");
    }
    signed.extend_from_slice(rest);
    // Checked on a message with no chain: on a chain, custody to the new
    // hop holds only if the chain's last recipient was in this domain.
    if before.status == Status::None {
        if let Some(after) = verify(&[&signed], &record, RCPT) {
            assert_eq!(after.status, Status::Pass, "{:?}", after.reason);
        }
        if let Some(replay) = verify(&[&signed], &record, "<c@example.org>") {
            assert_ne!(replay.status, Status::Pass);
        }
    }
});
