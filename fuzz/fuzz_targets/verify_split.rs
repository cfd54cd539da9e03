//! Differential: the verifier's verdicts do not depend on how the message
//! is cut. The message goes in whole, then in two and in three pieces at
//! points the input picks; the errors, the key requests and every result
//! (verdict, reason, d=, s=, a=, i=, header.b prefix) must be the same.
//!
//! When the first byte says so, the message is first signed with the fixed
//! Ed25519 key of `common` (so that passing signatures are common), and the
//! key records given for every request are that key's, RFC 8463's and junk.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, VerifyOptions};
use mass_core::{MessageSigner, SignRequest, SigningAlgorithm};

const RFC8463: &[u8] = b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const JUNK: &[u8] = b"v=DKIM1; p=";

fn verify(pieces: &[&[u8]], record: &[u8], allow_l: bool) -> String {
    let mut options = VerifyOptions::new(common::NOW);
    options.allow_body_length = allow_l;
    let mut v: Box<MessageVerifier<8192, 128, 4>> = Box::new(MessageVerifier::new(options));
    let mut log = String::new();
    for piece in pieces {
        if let Err(e) = v.update(piece) {
            return format!("update: {e:?}");
        }
    }
    if let Err(e) = v.end_of_input() {
        return format!("end: {e:?}");
    }
    let requests: Vec<(usize, String)> = v.key_requests().map(|r| (r.id, r.to_string())).collect();
    log.push_str(&format!("requests {requests:?}\n"));
    let records = [record, RFC8463, JUNK];
    for (id, _) in requests {
        v.provide_key(id, KeyAnswer::Records(&records));
    }
    match v.finish() {
        Ok(verification) => {
            for r in verification.results() {
                log.push_str(&format!("{r:?}\n"));
            }
        }
        Err(e) => log.push_str(&format!("finish: {e:?}")),
    }
    log
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let (opts, input) = data.split_at(5);
    let mut message = input.to_vec();
    if opts[0] & 1 != 0 {
        let mut req = SignRequest::new(
            common::DOMAIN,
            common::SELECTOR,
            SigningAlgorithm::Ed25519Sha256,
        );
        if opts[0] & 2 != 0 {
            req.canonicalization = mass_core::Canonicalization::SIMPLE;
        }
        if let Ok(mut s) = MessageSigner::<4096, 32>::new(&req)
            && s.update(input).is_ok()
        {
            let mut field = vec![0u8; 8192];
            if let Ok(n) = s.finish(&mut common::signer(), &mut field) {
                message = field[..n].to_vec();
                message.extend_from_slice(b"\r\n");
                message.extend_from_slice(input);
            }
        }
    }
    let record = common::key_record();
    let allow_l = opts[0] & 4 != 0;
    let whole = verify(&[&message], &record, allow_l);
    let two = common::cuts(message.len(), &opts[1..3], 1);
    assert_eq!(
        verify(&common::pieces(&message, &two), &record, allow_l),
        whole,
        "cut at {two:?}"
    );
    let three = common::cuts(message.len(), &opts[1..5], 2);
    assert_eq!(
        verify(&common::pieces(&message, &three), &record, allow_l),
        whole,
        "cut at {three:?}"
    );
});
