//! Differential: whatever core's `MessageSigner` signs, core's verifier
//! passes. Any message, any canonicalization, header selection, `l=`, `t=`
//! and `x=`, `i=` and `z=`, with the message cut into up to three pieces for
//! the signer and differently for the verifier. The key is a fixed Ed25519
//! key; the verifier is given its key record and a fixed `now`.
//!
//! The signature goes on top of the message, so it is the verifier's first
//! result. It must pass, with two exceptions the signer cannot help: the
//! verifier's own header capacity (an error from `update`, checked to be a
//! capacity error), and with an exact `h=` list, a single-instance field
//! with an unsigned instance above the signed one (policy, security case 3).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, Reason, Verdict, VerifyOptions};
use mass_core::{
    BodyLength, Canon, Canonicalization, Error, HeaderSelection, MessageSigner, SignRequest,
    SigningAlgorithm,
};

const EXACT_SHORT: [&str; 1] = ["from"];
const EXACT_LONG: [&str; 5] = ["from", "to", "subject", "date", "x-missing"];
const OVERSIGN: [&str; 3] = ["from", "subject", "message-id"];
const IDENTITIES: [&str; 4] = [
    "@example.com",
    "user@example.com",
    "a.b@mail.example.com",
    "@sub.example.com",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (opts, message) = data.split_at(12);
    let canon = |bit: u8| {
        if opts[0] & bit != 0 {
            Canon::Relaxed
        } else {
            Canon::Simple
        }
    };
    let exact = opts[0] & 0x0c == 0x04 || opts[0] & 0x0c == 0x08;
    let mut req = SignRequest::new(
        common::DOMAIN,
        common::SELECTOR,
        SigningAlgorithm::Ed25519Sha256,
    );
    req.canonicalization = Canonicalization {
        header: canon(1),
        body: canon(2),
    };
    req.headers = match (opts[0] >> 2) & 3 {
        0 => HeaderSelection::default(),
        1 => HeaderSelection::Exact(&EXACT_SHORT),
        2 => HeaderSelection::Exact(&EXACT_LONG),
        _ => HeaderSelection::Oversign(&OVERSIGN),
    };
    req.body_length = match (opts[0] >> 4) & 3 {
        0 | 3 => BodyLength::Omit,
        1 => BodyLength::Whole,
        _ => BodyLength::Limit(u64::from(opts[1])),
    };
    if opts[0] & 0x40 != 0 {
        req.timestamp = Some(common::NOW - u64::from(opts[2]));
        req.expiration = Some(common::NOW + 1 + u64::from(opts[2]));
    }
    req.copied_headers = opts[0] & 0x80 != 0;
    if opts[3] & 4 != 0 {
        req.identity = Some(IDENTITIES[usize::from(opts[3] & 3)]);
    }

    // Sign, in up to three pieces.
    let Ok(mut signer) = MessageSigner::<8192, 64>::new(&req) else {
        panic!("a fixed, valid request is accepted: {req:?}");
    };
    let sign_cuts = common::cuts(message.len(), &opts[4..8], 2);
    for piece in common::pieces(message, &sign_cuts) {
        if signer.update(piece).is_err() {
            return;
        }
    }
    let mut field = vec![0u8; 16 * 1024];
    let n = match signer.finish(&mut common::signer(), &mut field) {
        Ok(n) => n,
        Err(_) => return,
    };
    let mut signed = field[..n].to_vec();
    signed.extend_from_slice(b"\r\n");
    signed.extend_from_slice(message);

    // Verify, cut elsewhere.
    let mut options = VerifyOptions::new(common::NOW);
    options.allow_body_length = true;
    options.max_signatures = 1;
    let mut v: Box<MessageVerifier<32768, 512, 1>> = Box::new(MessageVerifier::new(options));
    let verify_cuts = common::cuts(signed.len(), &opts[8..12], 2);
    for piece in common::pieces(&signed, &verify_cuts) {
        if let Err(e) = v.update(piece) {
            assert!(
                matches!(
                    e,
                    Error::HeaderBytesCapacity { .. } | Error::HeaderFieldsCapacity { .. }
                ),
                "the signer took a message the verifier refuses: {e:?}"
            );
            return;
        }
    }
    if let Err(e) = v.end_of_input() {
        assert!(
            matches!(
                e,
                Error::HeaderBytesCapacity { .. } | Error::HeaderFieldsCapacity { .. }
            ),
            "the signer took a message the verifier refuses: {e:?}"
        );
        return;
    }
    let record = common::key_record();
    let records = [&record[..]];
    let ids: Vec<(usize, bool)> = v
        .key_requests()
        .map(|r| {
            (
                r.id,
                r.domain == common::DOMAIN && r.selector == common::SELECTOR,
            )
        })
        .collect();
    for (id, ours) in ids {
        let answer = if ours {
            KeyAnswer::Records(&records)
        } else {
            KeyAnswer::NotFound
        };
        v.provide_key(id, answer);
    }
    let verification = v.finish().expect("verifier finishes");
    let first = verification
        .results()
        .next()
        .expect("our signature is checked");
    let ok = first.verdict == Verdict::Pass
        || (exact && matches!(first.reason, Reason::UnsignedDuplicate { .. }));
    assert!(
        ok,
        "signed but {:?} ({:?}); field {:?}",
        first.verdict,
        first.reason,
        String::from_utf8_lossy(&field[..n])
    );
});
