//! `cargo xtask bench arc`: validating a 3-hop ARC chain (RFC 8617 §5.2) on
//! a 4 KiB message, next to verifying one DKIM signature on the same
//! message with the same key type, interleaved over the rounds: msg/s of
//! each, and the median ratio ARC ÷ DKIM with its range.
//!
//! The chain is sealed three times by core's `ArcSealer` (the same key for
//! each hop, as a cached key would be); validation checks the newest AMS,
//! every AS, and the older AMSs for the oldest pass, with every key record
//! in hand, as a key cache would give it.

use std::hint::black_box;

use mass_core::DigestSigner;
use mass_core::arc::{ArcSealer, ChainStatus, ChainValidator, SealRequest, ValidateOptions};
use mass_core::dkim::verify::KeyAnswer;

use super::{median, rate};

/// The time the chain is sealed and checked at.
const NOW: u64 = 1_764_000_000;

/// `msg` with `hops` ARC sets sealed on top by `key` (hop i records a
/// `dkim=pass` of its own).
fn chained(msg: &[u8], key: &mut dyn DigestSigner, hops: usize) -> Vec<u8> {
    let mut message = msg.to_vec();
    for hop in 0..hops {
        let mut req = SealRequest::new("example.org", "bench", key.algorithm(), "mx.example.org");
        req.timestamp = Some(NOW);
        let mut sealer = Box::new(ArcSealer::<16384, 256>::new(&req).expect("request"));
        sealer.update(&message).expect("message");
        let results = format!("dkim=pass header.d=hop{hop}.example");
        let results = [results.as_bytes()];
        let chain = if hop == 0 {
            ChainStatus::None
        } else {
            ChainStatus::Pass
        };
        let room = sealer.required_len(&results, &*key).expect("room");
        let mut out = vec![0u8; room];
        let set = sealer.finish(&results, chain, key, &mut out).expect("seal");
        let mut next = out[..set.len].to_vec();
        next.extend_from_slice(b"\r\n");
        next.extend_from_slice(&message);
        message = next;
    }
    message
}

/// Validate `chained` once; it must pass with 3 instances.
fn validate(chained: &[u8], record: &[u8]) {
    let mut v = Box::new(ChainValidator::<16384, 256, 8>::new(ValidateOptions::new(
        NOW,
    )));
    v.update(chained).expect("message");
    v.end_of_input().expect("message");
    let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
    for id in ids {
        v.provide_key(id, KeyAnswer::Records(&[record]));
    }
    let result = v.finish().expect("validate");
    assert_eq!(result.status, ChainStatus::Pass, "{result:?}");
    assert_eq!(result.instances, 3);
    black_box(result);
}

/// Validation of a 3-hop chain against DKIM verification, for one key.
pub fn figures(name: &str, msg: &[u8], key: &mut dyn DigestSigner, record: &[u8]) {
    let chain = chained(msg, key, 3);
    let signed = super::signed_message(msg, key);
    let (mut arc, mut dkim, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..super::ROUNDS {
        let run_arc = || rate(1.0, || validate(black_box(&chain), record));
        let run_dkim = || rate(1.0, || super::verify_once(black_box(&signed), record));
        let (a, d) = if round % 2 == 0 {
            let a = run_arc();
            (a, run_dkim())
        } else {
            let d = run_dkim();
            (run_arc(), d)
        };
        arc.push(a);
        dkim.push(d);
        ratio.push(a / d);
    }
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.3}..{hi:.3}")
    };
    let ratio_range = range(&ratio);
    println!(
        "arc_validate_3hop_{name}_4k {:.0} msg/s (median of {})",
        median(&mut arc),
        super::ROUNDS
    );
    println!(
        "dkim_verify_{name}_4k {:.0} msg/s (median of {})",
        median(&mut dkim),
        super::ROUNDS
    );
    println!(
        "ratio_arc_3hop_vs_dkim_{name} {:.3} x (median of {}; {ratio_range})",
        median(&mut ratio),
        super::ROUNDS
    );
}
