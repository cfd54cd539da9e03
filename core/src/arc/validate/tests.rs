//! Chains sealed by [`ArcSealer`] and read by [`ChainValidator`]: RFC 8617
//! §5.2 step by step, tampering, the bounds, and every split point of the
//! input for both streaming types.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::arc::sealer::{ArcSealer, SealRequest, SealerError};
use crate::crypto::{DigestSigner, Ed25519Signer, SigningAlgorithm};
use crate::test_support::b64;

type Validator = ChainValidator<16384, 256, 8>;
type Sealer = ArcSealer<65536, 256>;

const NOW: u64 = 1_700_000_000;

const MSG: &[u8] = b"From: Alice <alice@author.example>\r\n\
To: list@lists.example\r\n\
Subject: hello\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
DKIM-Signature: v=1; a=ed25519-sha256; d=author.example; s=x; h=from; bh=AAAA; b=AAAA\r\n\
\r\n\
Body line one.  \r\n\
\r\n";

fn key(hop: u8) -> Ed25519Signer {
    Ed25519Signer::from_seed(&[hop; 32])
}

/// The key records of hops `1..=hops`, by name.
fn dns(hops: u8) -> Vec<(String, String)> {
    (1..=hops)
        .map(|h| {
            (
                format!("s{h}._domainkey.hop{h}.example"),
                format!("v=DKIM1; k=ed25519; p={}", b64(&key(h).public_key())),
            )
        })
        .collect()
}

fn answer_keys(v: &mut Validator, records: &[(String, String)]) {
    let wanted: Vec<(usize, String)> = v.key_requests().map(|r| (r.id, format!("{r}"))).collect();
    for (id, name) in wanted {
        match records.iter().find(|(n, _)| *n == name) {
            Some((_, rec)) => v.provide_key(id, KeyAnswer::Records(&[rec.as_bytes()])),
            None => v.provide_key(id, KeyAnswer::NotFound),
        }
    }
}

fn validate_with(msg: &[u8], records: &[(String, String)], options: ValidateOptions) -> ArcResult {
    let mut v = Validator::new(options);
    v.update(msg).unwrap();
    v.end_of_input().unwrap();
    answer_keys(&mut v, records);
    v.finish().unwrap()
}

fn validate(msg: &[u8], hops: u8) -> ArcResult {
    validate_with(msg, &dns(hops), ValidateOptions::new(NOW))
}

fn request(hop: u8, domain: &str, selector: &str) -> SealRequest<'static> {
    // Leaked names are fine in a test: they keep the request 'static.
    let domain: &'static str = alloc::boxed::Box::leak(domain.into());
    let selector: &'static str = alloc::boxed::Box::leak(selector.into());
    let id: &'static str = alloc::boxed::Box::leak(format!("mx.hop{hop}.example").into());
    let mut req = SealRequest::new(domain, selector, SigningAlgorithm::Ed25519Sha256, id);
    req.timestamp = Some(NOW - 100);
    req
}

/// The sealer's output as header lines to prepend: AS, AMS, AAR.
fn prepend(out: &[u8], set: &crate::arc::SealedSet, msg: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::new();
    for span in [set.seal, set.message_signature, set.auth_results] {
        sealed.extend_from_slice(span.get(out).unwrap());
        sealed.extend_from_slice(b"\r\n");
    }
    sealed.extend_from_slice(msg);
    sealed
}

/// Seal `msg` as hop `hop` with chain status `chain`.
fn seal(msg: &[u8], hop: u8, chain: ChainStatus) -> Vec<u8> {
    let req = request(hop, &format!("hop{hop}.example"), &format!("s{hop}"));
    let mut sealer = Sealer::new(&req).unwrap();
    sealer.update(msg).unwrap();
    let mut out = vec![0u8; 4096];
    let results: [&[u8]; 2] = [b"dkim=pass header.d=author.example", b"spf=none"];
    let set = sealer
        .finish(&results, chain, &mut key(hop), &mut out)
        .unwrap();
    prepend(&out, &set, msg)
}

/// `msg` through `hops` hops, each validating what it got first.
fn chain(msg: &[u8], hops: u8) -> Vec<u8> {
    let mut m = msg.to_vec();
    for hop in 1..=hops {
        let status = validate(&m, hop - 1).status;
        m = seal(&m, hop, status);
    }
    m
}

fn replace(msg: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?} not in the message");
    text.replacen(from, to, 1).into_bytes()
}

/// The header lines of `msg` that start with `prefix`, in order.
fn lines_with(msg: &[u8], prefix: &str) -> Vec<String> {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    let head = text.split("\r\n\r\n").next().unwrap().to_string();
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = fields.last_mut().unwrap();
            last.push_str("\r\n");
            last.push_str(line);
        } else {
            fields.push(line.into());
        }
    }
    fields
        .into_iter()
        .filter(|f| f.starts_with(prefix))
        .collect()
}

#[test]
fn no_arc_fields_is_none() {
    let r = validate(MSG, 0);
    assert_eq!(r.status, ChainStatus::None);
    assert_eq!((r.instances, r.reason), (0, Reason::NoChain));
}

#[test]
fn one_and_three_hops_pass() {
    let one = chain(MSG, 1);
    assert!(one.starts_with(b"ARC-Seal: a=ed25519-sha256; b="));
    let r = validate(&one, 1);
    assert_eq!(
        (r.status, r.instances, r.reason),
        (ChainStatus::Pass, 1, Reason::Verified)
    );
    let three = chain(MSG, 3);
    let r = validate(&three, 3);
    assert_eq!(
        (r.status, r.instances, r.oldest_pass),
        (ChainStatus::Pass, 3, 0)
    );
    // i=1 has cv=none, the others cv=pass (§5.1.1).
    let seals = lines_with(&three, "ARC-Seal");
    assert!(seals[2].contains("cv=none") && seals[2].contains("i=1"));
    assert!(seals[0].contains("cv=pass") && seals[0].contains("i=3"));
}

#[test]
fn the_aar_records_the_results_under_the_authserv_id() {
    let one = chain(MSG, 1);
    let aar = &lines_with(&one, "ARC-Authentication-Results")[0];
    assert_eq!(
        aar,
        "ARC-Authentication-Results: i=1; mx.hop1.example;\r\n dkim=pass header.d=author.example; spf=none"
    );
}

#[test]
fn a_change_after_the_last_seal_fails() {
    let sealed = chain(MSG, 2);
    let body = replace(&sealed, "Body line one.", "Body line 1.");
    let r = validate(&body, 2);
    assert_eq!(r.status, ChainStatus::Fail);
    assert_eq!(
        r.reason,
        Reason::MessageSignatureCheck {
            instance: 2,
            failure: CheckFailure::BodyHash
        }
    );
    let header = replace(&sealed, "Subject: hello", "Subject: bye");
    assert_eq!(
        validate(&header, 2).reason,
        Reason::MessageSignatureCheck {
            instance: 2,
            failure: CheckFailure::Signature
        }
    );
}

#[test]
fn a_list_change_between_hops_sets_oldest_pass() {
    // Hop 1 seals; the list tags the subject; hop 2 seals what it got.
    let one = chain(MSG, 1);
    let tagged = replace(&one, "Subject: hello", "Subject: [list] hello");
    let status = validate(&tagged, 1).status;
    assert_eq!(status, ChainStatus::Fail, "the tag breaks AMS(1)");
    // A list that trusts hop 1's seals records pass anyway (its policy).
    let two = seal(&tagged, 2, ChainStatus::Pass);
    let r = validate(&two, 2);
    // The seals still hold; AMS(1) no longer does (§5.2 step 6).
    assert_eq!((r.status, r.oldest_pass), (ChainStatus::Pass, 2));
}

#[test]
fn a_changed_aar_breaks_its_seal() {
    let sealed = chain(MSG, 2);
    let tampered = replace(
        &sealed,
        "mx.hop1.example;\r\n dkim=pass",
        "mx.hop1.example;\r\n dkim=fail",
    );
    assert_eq!(
        validate(&tampered, 2).reason,
        Reason::SealCheck {
            instance: 2,
            failure: CheckFailure::Signature
        }
    );
}

#[test]
fn structure_faults_fail_before_any_key() {
    let sealed = chain(MSG, 2);
    let seal1 = lines_with(&sealed, "ARC-Seal").pop().unwrap();
    let ams1 = lines_with(&sealed, "ARC-Message-Signature").pop().unwrap();
    // A duplicate instance.
    let dup = [seal1.as_bytes(), b"\r\n", &sealed].concat();
    let mut v = Validator::new(ValidateOptions::new(NOW));
    v.update(&dup).unwrap();
    v.end_of_input().unwrap();
    assert_eq!(v.key_requests().count(), 0);
    assert_eq!(
        v.early_result().unwrap().reason,
        Reason::Duplicate {
            instance: 1,
            member: Member::Seal
        }
    );
    // A missing member.
    let missing = replace(&sealed, &format!("{ams1}\r\n"), "");
    assert_eq!(
        validate(&missing, 2).reason,
        Reason::Missing {
            instance: 1,
            member: Member::MessageSignature
        }
    );
    // A gap: the only set is i=2.
    let one = chain(MSG, 1);
    let gap = String::from_utf8(one)
        .unwrap()
        .replace("i=1", "i=2")
        .into_bytes();
    assert_eq!(
        validate(&gap, 1).reason,
        Reason::Missing {
            instance: 1,
            member: Member::AuthResults
        }
    );
    // An AS with h=.
    let with_h = replace(&sealed, "ARC-Seal: a=", "ARC-Seal: h=from; a=");
    assert!(matches!(
        validate(&with_h, 2).reason,
        Reason::Seal {
            instance: 2,
            error: SealFieldError::HasHeaderList
        }
    ));
    // The newest AS says cv=fail (step 2).
    let failed = replace(&sealed, "cv=pass", "cv=fail");
    assert_eq!(validate(&failed, 2).reason, Reason::LatestSealFailed);
    // cv=pass at i=1 (step 3).
    let wrong = replace(&sealed, "cv=none", "cv=pass");
    assert_eq!(
        validate(&wrong, 2).reason,
        Reason::WrongChainStatus { instance: 1 }
    );
}

#[test]
fn fifty_sets_pass_and_the_51st_is_refused() {
    let mut m = MSG.to_vec();
    for hop in 1..=50u8 {
        let status = if hop == 1 {
            ChainStatus::None
        } else {
            ChainStatus::Pass
        };
        m = seal(&m, hop, status);
    }
    let mut v = ChainValidator::<65536, 256, 64>::new(ValidateOptions {
        now: NOW,
        max_key_lookups: 64,
    });
    v.update(&m).unwrap();
    let wanted: Vec<(usize, String)> = v.key_requests().map(|r| (r.id, format!("{r}"))).collect();
    assert_eq!(wanted.len(), 50);
    let records = dns(50);
    for (id, name) in wanted {
        let rec = &records.iter().find(|(n, _)| *n == name).unwrap().1;
        v.provide_key(id, KeyAnswer::Records(&[rec.as_bytes()]));
    }
    let r = v.finish().unwrap();
    assert_eq!((r.status, r.instances), (ChainStatus::Pass, 50));
    let mut sealer = ArcSealer::<65536, 256>::new(&request(51, "hop51.example", "s51")).unwrap();
    sealer.update(&m).unwrap();
    let err = sealer
        .finish(&[], ChainStatus::Pass, &mut key(51), &mut [0u8; 4096])
        .unwrap_err();
    assert_eq!(err, SealerError::ChainFull);
}

#[test]
fn instance_51_and_a_thousand_arc_fields_fail_in_bounded_memory() {
    let over = [
        &b"ARC-Seal: i=51; a=rsa-sha256; cv=pass; d=x.example; s=s; b=AAAA\r\n"[..],
        MSG,
    ]
    .concat();
    assert_eq!(
        validate(&over, 0).reason,
        Reason::Instance {
            member: Member::Seal,
            error: InstanceError::TooHigh
        }
    );
    // 1,000 ARC fields: the store (256 fields) would overflow if they were
    // kept; only the first two are.
    let mut flood = Vec::new();
    for _ in 0..1000 {
        flood.extend_from_slice(b"ARC-Message-Signature: i=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\n");
    }
    flood.extend_from_slice(MSG);
    let r = validate(&flood, 0);
    assert_eq!(
        r.reason,
        Reason::Duplicate {
            instance: 1,
            member: Member::MessageSignature
        }
    );
}

#[test]
fn key_lookups_are_bounded() {
    let sealed = chain(MSG, 3);
    let options = ValidateOptions {
        now: NOW,
        max_key_lookups: 2,
    };
    let mut v = Validator::new(options);
    v.update(&sealed).unwrap();
    v.end_of_input().unwrap();
    // AMS(3) and AS(3) share hop 3's key; AS(2) takes the second lookup.
    assert_eq!(v.key_requests().count(), 2);
    answer_keys(&mut v, &dns(3));
    assert_eq!(
        v.finish().unwrap().reason,
        Reason::SealCheck {
            instance: 1,
            failure: CheckFailure::NoKeyBudget
        }
    );
}

#[test]
fn a_missing_key_fails() {
    let sealed = chain(MSG, 2);
    let r = validate_with(&sealed, &dns(1), ValidateOptions::new(NOW));
    assert_eq!(
        r.reason,
        Reason::MessageSignatureCheck {
            instance: 2,
            failure: CheckFailure::Key(DkimReason::KeyNotFound)
        }
    );
}

/// The header fields of `msg` (each without its CRLF) and its body.
fn fields_and_body(msg: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let text = String::from_utf8(msg.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut fields = lines_with(format!("{head}\r\n\r\n").as_bytes(), "");
    fields.retain(|f| !f.is_empty());
    (
        fields.into_iter().map(String::into_bytes).collect(),
        body.as_bytes().to_vec(),
    )
}

#[test]
fn validation_is_the_same_at_every_split_point() {
    // One hop keeps it to two signature checks per split.
    let sealed = chain(MSG, 1);
    let whole = validate(&sealed, 1);
    assert_eq!(whole.status, ChainStatus::Pass);
    let records = dns(1);
    for cut in 0..=sealed.len() {
        let mut v = Validator::new(ValidateOptions::new(NOW));
        v.update(&sealed[..cut]).unwrap();
        v.update(&sealed[cut..]).unwrap();
        v.end_of_input().unwrap();
        answer_keys(&mut v, &records);
        assert_eq!(v.finish().unwrap(), whole, "split at {cut}");
    }
    // As a milter hands it over: field by field, then the body in pieces.
    let (fields, body) = fields_and_body(&sealed);
    for cut in 0..=body.len() {
        let mut v = Validator::new(ValidateOptions::new(NOW));
        for f in &fields {
            v.header_field(f).unwrap();
        }
        v.end_of_headers().unwrap();
        answer_keys(&mut v, &records);
        v.body(&body[..cut]).unwrap();
        v.body(&body[cut..]).unwrap();
        assert_eq!(v.finish().unwrap(), whole, "body split at {cut}");
    }
}

#[test]
fn sealing_is_the_same_at_every_split_point() {
    let one = chain(MSG, 1);
    let whole = seal(&one, 2, ChainStatus::Pass);
    let req = request(2, "hop2.example", "s2");
    let results: [&[u8]; 2] = [b"dkim=pass header.d=author.example", b"spf=none"];
    for cut in 0..=one.len() {
        let mut sealer = Sealer::new(&req).unwrap();
        sealer.update(&one[..cut]).unwrap();
        sealer.update(&one[cut..]).unwrap();
        let mut out = vec![0u8; 4096];
        let set = sealer
            .finish(&results, ChainStatus::Pass, &mut key(2), &mut out)
            .unwrap();
        assert_eq!(prepend(&out, &set, &one), whole, "split at {cut}");
    }
    let (fields, body) = fields_and_body(&one);
    let mut sealer = Sealer::new(&req).unwrap();
    for f in &fields {
        sealer.header_field(f).unwrap();
    }
    sealer.end_of_headers().unwrap();
    sealer.body(&body).unwrap();
    let mut out = vec![0u8; 4096];
    let set = sealer
        .finish(&results, ChainStatus::Pass, &mut key(2), &mut out)
        .unwrap();
    assert_eq!(prepend(&out, &set, &one), whole);
}

#[test]
fn sealer_says_what_room_it_needs_and_signs_nothing_before() {
    /// Counts its signatures.
    struct Counting(Ed25519Signer, usize);
    impl DigestSigner for Counting {
        fn algorithm(&self) -> SigningAlgorithm {
            self.0.algorithm()
        }
        fn signature_len(&self) -> usize {
            self.0.signature_len()
        }
        fn sign_digest(&mut self, d: &[u8; 32], out: &mut [u8]) -> Result<usize, Error> {
            self.1 += 1;
            self.0.sign_digest(d, out)
        }
    }
    let mut sealer = Sealer::new(&request(1, "hop1.example", "s1")).unwrap();
    sealer.update(MSG).unwrap();
    let mut k = Counting(key(1), 0);
    let need = sealer.required_len(&[b"dkim=pass"], &k).unwrap();
    let err = sealer
        .finish(
            &[b"dkim=pass"],
            ChainStatus::None,
            &mut k,
            &mut vec![0; need - 1],
        )
        .unwrap_err();
    assert_eq!(
        err,
        SealerError::Stream(Error::BufferTooSmall { required: need })
    );
    assert_eq!(k.1, 0);
    let mut out = vec![0u8; need];
    let set = sealer
        .finish(&[b"dkim=pass"], ChainStatus::None, &mut k, &mut out)
        .unwrap();
    assert_eq!((set.len, k.1), (need, 2));
    assert_eq!(
        validate(&prepend(&out, &set, MSG), 1).status,
        ChainStatus::Pass
    );
}

#[test]
fn sealer_refusals() {
    // §5.1 step 1: a chain whose newest AS says cv=fail is not sealed.
    let failed = seal(&chain(MSG, 1), 2, ChainStatus::Fail);
    let mut sealer = Sealer::new(&request(3, "hop3.example", "s3")).unwrap();
    sealer.update(&failed).unwrap();
    let mut out = vec![0u8; 4096];
    assert_eq!(
        sealer
            .finish(&[], ChainStatus::Fail, &mut key(3), &mut out)
            .unwrap_err(),
        SealerError::ChainFailed
    );
    // cv=none for a message that has sets; pass for an incomplete chain.
    let one = chain(MSG, 1);
    let mut sealer = Sealer::new(&request(2, "hop2.example", "s2")).unwrap();
    sealer.update(&one).unwrap();
    assert_eq!(
        sealer
            .finish(&[], ChainStatus::None, &mut key(2), &mut out)
            .unwrap_err(),
        SealerError::ChainMismatch
    );
    let broken = replace(&one, "ARC-Seal:", "X-Old-Seal:");
    let mut sealer = Sealer::new(&request(2, "hop2.example", "s2")).unwrap();
    sealer.update(&broken).unwrap();
    assert_eq!(
        sealer
            .finish(&[], ChainStatus::Pass, &mut key(2), &mut out)
            .unwrap_err(),
        SealerError::ChainMismatch
    );
    // Requests it will not take.
    let mut req = request(1, "hop1.example", "s1");
    req.authserv_id = "two words";
    assert_eq!(Sealer::new(&req).unwrap_err(), SealerError::BadAuthservId);
    let mut req = request(1, "hop1.example", "s1");
    req.headers = crate::dkim::sign::HeaderSelection::Exact(&["from", "ARC-Seal"]);
    assert_eq!(
        Sealer::new(&req).unwrap_err(),
        SealerError::ArcFieldInHeaderList
    );
    // A key for another algorithm.
    let req = SealRequest::new("a.example", "s", SigningAlgorithm::RsaSha256, "mx");
    let mut sealer = Sealer::new(&req).unwrap();
    sealer.update(MSG).unwrap();
    assert_eq!(
        sealer
            .finish(&[], ChainStatus::None, &mut key(1), &mut out)
            .unwrap_err(),
        SealerError::Stream(Error::AlgorithmMismatch)
    );
}

#[test]
fn a_failed_chain_is_sealed_over_the_new_set_alone() {
    // §5.1.2: with cv=fail the AS covers only its own set, so it verifies
    // whatever the older sets hold; validation still says fail (step 2).
    let one = chain(MSG, 1);
    let two = seal(&one, 2, ChainStatus::Fail);
    let r = validate(&two, 2);
    assert_eq!(r.reason, Reason::LatestSealFailed);
    // Checked by hand: drop set 1 and mark set 2 as the first.
    let seal2 = lines_with(&two, "ARC-Seal").remove(0);
    assert!(seal2.contains("cv=fail"));
}

#[test]
fn random_edits_never_panic_and_never_depend_on_the_cut() {
    use crate::test_support::XorShift;
    let sealed = chain(MSG, 2);
    let records = dns(2);
    let mut rng = XorShift::new(0x00a2_c0de);
    for _ in 0..60 {
        let mut m = sealed.clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(m.len());
            match rng.below(3) {
                0 => m[at] = rng.byte_from(b"i=0123456789;:ab \r\n\t"),
                1 => {
                    m.remove(at);
                }
                _ => m.insert(at, rng.byte_from(b"=;i1 \r\n")),
            }
        }
        let run = |cut: usize| {
            let mut v = Validator::new(ValidateOptions::new(NOW));
            v.update(&m[..cut])?;
            v.update(&m[cut..])?;
            v.end_of_input()?;
            answer_keys(&mut v, &records);
            v.finish()
        };
        let whole = run(m.len());
        let cut = rng.below(m.len() + 1);
        assert_eq!(run(cut), whole, "cut at {cut}");
    }
}
