//! ARC (RFC 8617): the three field parsers, the chain validator on any
//! message, and a differential: a message without ARC fields that the
//! sealer seals must then validate as a passing chain.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use mass_core::arc::{
    ArcAuthResults, ArcMessageSignature, ArcResult, ArcSeal, ArcSealer, ChainStatus,
    ChainValidator, SealRequest, ValidateOptions,
};
use mass_core::dkim::verify::KeyAnswer;
use mass_core::SigningAlgorithm;

type Validator = ChainValidator<16384, 128, 8>;

/// Validate `pieces` (the message in order), answering every key request
/// with `record` and a junk record; `None` on an intake error.
fn validate(pieces: &[&[u8]], record: &[u8]) -> Option<ArcResult> {
    let mut v = Validator::new(ValidateOptions::new(common::NOW));
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
    let result = v.finish().ok()?;
    assert!(usize::from(result.instances) <= mass_core::arc::MAX_INSTANCES);
    Some(result)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    // The parsers alone, on the input as a field value.
    for name in ["ARC-Seal:", "ARC-Message-Signature:", "ARC-Authentication-Results:"] {
        let field = [name.as_bytes(), rest].concat();
        if let Ok(seal) = ArcSeal::parse_field(&field) {
            let (before, after) = seal.hash_parts();
            assert!(before.len() + after.len() <= field.len());
            assert!((1..=50).contains(&seal.instance));
        }
        if let Ok(ams) = ArcMessageSignature::parse_field(&field) {
            assert!((1..=50).contains(&ams.instance));
            assert!(
                !ams.signature
                    .signed_headers()
                    .any(|h| h.eq_ignore_ascii_case("arc-seal"))
            );
        }
        if let Ok(aar) = ArcAuthResults::parse_field(&field) {
            assert!((1..=50).contains(&aar.instance));
            assert!(!aar.authserv_id.is_empty());
        }
    }

    // The validator on the input as a message, in pieces.
    let cuts = common::cuts(rest.len(), &[control], 1);
    let pieces = common::pieces(rest, &cuts);
    let record = common::key_record();
    let Some(before) = validate(&pieces, &record) else {
        return;
    };
    let whole = validate(&[rest], &record);
    assert_eq!(whole, Some(before), "the result depends on the cut");

    // Differential: seal a message with no chain, then validate it.
    if before.status != ChainStatus::None || control & 1 == 0 {
        return;
    }
    let mut req = SealRequest::new(
        common::DOMAIN,
        common::SELECTOR,
        SigningAlgorithm::Ed25519Sha256,
        "mx.example.com",
    );
    req.timestamp = Some(common::NOW);
    let Ok(mut sealer) = ArcSealer::<16384, 128>::new(&req) else {
        return;
    };
    for p in &pieces {
        if sealer.update(p).is_err() {
            return;
        }
    }
    let mut out = vec![0u8; 8192];
    let results: [&[u8]; 1] = [b"dkim=pass"];
    let Ok(set) = sealer.finish(&results, ChainStatus::None, &mut common::signer(), &mut out)
    else {
        return;
    };
    let mut sealed = Vec::new();
    for span in [set.seal, set.message_signature, set.auth_results] {
        sealed.extend_from_slice(span.get(&out).unwrap_or_default());
        sealed.extend_from_slice(b"\r\n");
    }
    sealed.extend_from_slice(rest);
    if let Some(after) = validate(&[&sealed], &record) {
        assert_eq!(after.status, ChainStatus::Pass, "{:?}", after.reason);
    }
});
