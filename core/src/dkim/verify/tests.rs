//! Verifier tests: RFC 8463 Appendix A, streaming and key lookups here;
//! one test per verification row of `security-cases.md` in [`rows`].

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use rsa::traits::PublicKeyParts;

use super::*;
use crate::canon::Canonicalization;
use crate::crypto::{DigestSigner, Ed25519Signer, RsaSha256Signer, SigningAlgorithm};
use crate::dkim::key_record::{KeyRecordError, KeyUseError};
use crate::dkim::public_key::PublicKeyError;
use crate::dkim::sign::{BodyLength, HeaderSelection, MessageSigner, SignRequest, header_hash};
use crate::dkim::signature_field::MAX_SIGNED_HEADERS;
use crate::test_support::{
    RFC8463_RSA_PEM_BODY, WEAK_RSA_PEM_BODY, b64, rng, rsa_p_value, rsa_private,
};

type Signer = MessageSigner<8192, 64>;
type Verifier = MessageVerifier<16384, 256, 8>;

const NOW: u64 = 1_700_000_100;

const MSG: &[u8] = b"From: Alice <alice@legit.com>\r\n\
To: bob@example.net\r\n\
Subject: hello\r\n  world\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
Content-Type: text/plain\r\n\
\r\n\
Body line one.  \r\n\
\r\n";

fn ed_key() -> Ed25519Signer {
    Ed25519Signer::from_seed(&[7u8; 32])
}

fn ed_record() -> String {
    format!("v=DKIM1; k=ed25519; p={}", b64(&ed_key().public_key()))
}

fn rsa_record(key: &rsa::PrivateKey) -> String {
    format!("v=DKIM1; k=rsa; p={}", rsa_p_value(key))
}

/// An RSA signer with no size floor, to make the signatures RFC 8301
/// forbids accepting.
struct AnyRsa(rsa::PrivateKey);

impl DigestSigner for AnyRsa {
    fn algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::RsaSha256
    }
    fn signature_len(&self) -> usize {
        self.0.size()
    }
    fn sign_digest(&mut self, digest: &[u8; 32], out: &mut [u8]) -> Result<usize, Error> {
        let sig = self
            .0
            .sign_with_rng(
                &mut rng(9),
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                digest,
            )
            .unwrap();
        out[..sig.len()].copy_from_slice(&sig);
        Ok(sig.len())
    }
}

fn request() -> SignRequest<'static> {
    let mut r = SignRequest::new("legit.com", "sel", SigningAlgorithm::Ed25519Sha256);
    r.timestamp = Some(NOW - 100);
    r
}

/// Sign `msg` and return the signed message (the field prepended).
fn sign_with(req: &SignRequest<'_>, msg: &[u8], key: &mut dyn DigestSigner) -> Vec<u8> {
    let mut s = Signer::new(req).unwrap();
    s.update(msg).unwrap();
    let mut out = [0u8; 4096];
    let n = s.finish(&mut *key, &mut out).unwrap();
    let mut signed = out[..n].to_vec();
    signed.extend_from_slice(b"\r\n");
    signed.extend_from_slice(msg);
    signed
}

fn ed_signed(msg: &[u8], edit: impl FnOnce(&mut SignRequest<'static>)) -> Vec<u8> {
    let mut req = request();
    edit(&mut req);
    sign_with(&req, msg, &mut ed_key())
}

type Found = (Verdict, Reason);

/// Verify `message` (fed in `chunks`), answering key requests from `zone`
/// (name, TXT records); names not in it are NXDOMAIN. Returns the results
/// and the names asked for.
fn verify_full(
    chunks: &[&[u8]],
    zone: &[(&str, &[&str])],
    options: VerifyOptions,
) -> (Vec<Found>, Vec<String>) {
    let mut v = Verifier::new(options);
    for c in chunks {
        v.update(c).unwrap();
    }
    // The input may end inside the header block (no blank line).
    v.end_of_input().unwrap();
    let mut asked = Vec::new();
    let requests: Vec<(usize, String)> = v.key_requests().map(|r| (r.id, r.to_string())).collect();
    for (id, name) in requests {
        let answer: Vec<&[u8]> = zone
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, txts)| txts.iter().map(|t| t.as_bytes()).collect())
            .unwrap_or_default();
        if answer.is_empty() {
            v.provide_key(id, KeyAnswer::NotFound);
        } else {
            v.provide_key(id, KeyAnswer::Records(&answer));
        }
        asked.push(name);
    }
    let verification = v.finish().unwrap();
    let found = verification
        .results()
        .map(|r| (r.verdict, r.reason))
        .collect();
    (found, asked)
}

fn verify(message: &[u8], zone: &[(&str, &[&str])]) -> Vec<Found> {
    verify_full(&[message], zone, VerifyOptions::new(NOW)).0
}

fn verify_ed(message: &[u8]) -> Vec<Found> {
    let record = ed_record();
    verify(message, &[("sel._domainkey.legit.com", &[record.as_str()])])
}

fn prepend(field: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = field.to_vec();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(message);
    out
}

const PASS: Found = (Verdict::Pass, Reason::Verified);

// ---------------------------------------------------------------------------
// Standards

const RFC8463_MESSAGE: &[u8] = b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n \
d=football.example.com; i=@football.example.com;\r\n \
q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n \
subject : date : message-id : from : subject : date;\r\n \
bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n \
b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n \
Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n \
d=football.example.com; i=@football.example.com;\r\n \
q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n \
date : message-id : from : subject : date;\r\n \
bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n \
b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n \
DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n \
dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n\
From: Joe SixPack <joe@football.example.com>\r\n\
To: Suzie Q <suzie@shopping.example.net>\r\n\
Subject: Is dinner ready?\r\n\
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n\
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n\
\r\n\
Hi.\r\n\
\r\n\
We lost the game.  Are you hungry yet?\r\n\
\r\n\
Joe.\r\n";

const RFC8463_ZONE: &[(&str, &[&str])] = &[
    (
        "brisbane._domainkey.football.example.com",
        &["v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
    ),
    (
        "test._domainkey.football.example.com",
        &[
            "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
        ],
    ),
];

#[test]
fn rfc8463_appendix_a_both_signatures_pass() {
    let (found, asked) = verify_full(
        &[RFC8463_MESSAGE],
        RFC8463_ZONE,
        VerifyOptions::new(1_528_637_909 + 60),
    );
    assert_eq!(found, [PASS, PASS]);
    assert_eq!(
        asked,
        [
            "brisbane._domainkey.football.example.com",
            "test._domainkey.football.example.com"
        ]
    );
}

#[test]
fn rfc8463_appendix_a_results_for_authentication_results() {
    let mut v = Verifier::new(VerifyOptions::new(1_528_637_909));
    v.update(RFC8463_MESSAGE).unwrap();
    let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
    for (id, (_, txt)) in ids.into_iter().zip(RFC8463_ZONE) {
        v.provide_key(id, KeyAnswer::Records(&[txt[0].as_bytes()]));
    }
    let verification = v.finish().unwrap();
    assert!(verification.any_pass());
    let results: Vec<SignatureResult<'_>> = verification.results().collect();
    assert_eq!(results[0].domain, Some("football.example.com"));
    assert_eq!(results[0].selector, Some("brisbane"));
    assert_eq!(
        results[0].algorithm,
        Some(SignatureAlgorithm::Ed25519Sha256)
    );
    assert_eq!(results[0].b_prefix.as_str(), "/gCrinpc");
    assert_eq!(results[0].identity, Some("@football.example.com"));
    assert_eq!(results[1].b_prefix.as_str(), "F45dVWDf");
    assert_eq!(results[1].key_bits, Some(1024));
}

#[test]
fn rfc8463_appendix_a_tampered_body_and_header_fail() {
    let tampered = String::from_utf8(RFC8463_MESSAGE.to_vec())
        .unwrap()
        .replace("We lost", "We won");
    let (found, _) = verify_full(
        &[tampered.as_bytes()],
        RFC8463_ZONE,
        VerifyOptions::new(1_528_637_909),
    );
    assert_eq!(
        found,
        [
            (Verdict::Fail, Reason::BodyHashMismatch),
            (Verdict::Fail, Reason::BodyHashMismatch)
        ]
    );
    let tampered = String::from_utf8(RFC8463_MESSAGE.to_vec())
        .unwrap()
        .replace("dinner ready", "lunch ready");
    let (found, _) = verify_full(
        &[tampered.as_bytes()],
        RFC8463_ZONE,
        VerifyOptions::new(1_528_637_909),
    );
    assert_eq!(
        found,
        [
            (Verdict::Fail, Reason::SignatureMismatch),
            (Verdict::Fail, Reason::SignatureMismatch)
        ]
    );
}

#[test]
fn same_results_at_every_split_point() {
    let whole = verify_full(
        &[RFC8463_MESSAGE],
        RFC8463_ZONE,
        VerifyOptions::new(1_528_637_909),
    );
    for at in (0..=RFC8463_MESSAGE.len()).step_by(17) {
        let (a, b) = RFC8463_MESSAGE.split_at(at);
        assert_eq!(
            verify_full(&[a, b], RFC8463_ZONE, VerifyOptions::new(1_528_637_909)),
            whole,
            "split at {at}"
        );
    }
}

#[test]
fn milter_style_intake_gives_the_same_results() {
    let signed = ed_signed(MSG, |_| {});
    let record = ed_record();
    let mut v = Verifier::new(VerifyOptions::new(NOW));
    let text = core::str::from_utf8(&signed).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    // Split the header block into fields at CRLFs not followed by WSP.
    let mut field = String::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            field.push_str("\r\n");
            field.push_str(line);
        } else {
            if !field.is_empty() {
                v.header_field(field.as_bytes()).unwrap();
            }
            field = line.to_string();
        }
    }
    v.header_field(field.as_bytes()).unwrap();
    v.end_of_headers().unwrap();
    let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
    assert_eq!(ids.len(), 1);
    v.provide_key(ids[0], KeyAnswer::Records(&[record.as_bytes()]));
    v.body(body.as_bytes()).unwrap();
    let found: Vec<Found> = v
        .finish()
        .unwrap()
        .results()
        .map(|r| (r.verdict, r.reason))
        .collect();
    assert_eq!(found, [PASS]);
}

#[test]
fn rsa_signature_from_the_signer_passes() {
    let key = rsa_private(RFC8463_RSA_PEM_BODY);
    let record = rsa_record(&key);
    let mut signer = RsaSha256Signer::new(key, rng(1)).unwrap();
    let mut req = request();
    req.algorithm = SigningAlgorithm::RsaSha256;
    let signed = sign_with(&req, MSG, &mut signer);
    assert_eq!(
        verify(&signed, &[("sel._domainkey.legit.com", &[record.as_str()])]),
        [PASS]
    );
}

#[test]
fn signatures_sharing_body_canonicalization_share_one_body_hash() {
    let once = ed_signed(MSG, |_| {});
    let mut req = request();
    req.selector = "sel2";
    let mut s = Signer::new(&req).unwrap();
    s.update(&once).unwrap();
    let mut out = [0u8; 4096];
    let n = s.finish(&mut ed_key(), &mut out).unwrap();
    let twice = prepend(&out[..n], &once);
    let mut simple = request();
    simple.selector = "sel3";
    simple.canonicalization = Canonicalization::SIMPLE;
    let thrice = sign_with(&simple, &twice, &mut ed_key());

    let mut v = Verifier::new(VerifyOptions::new(NOW));
    v.update(&thrice).unwrap();
    assert_eq!(v.hashers.len(), 2, "relaxed twice, simple once");
    let record = ed_record();
    let zone: &[(&str, &[&str])] = &[
        ("sel._domainkey.legit.com", &[record.as_str()]),
        ("sel2._domainkey.legit.com", &[record.as_str()]),
        ("sel3._domainkey.legit.com", &[record.as_str()]),
    ];
    assert_eq!(verify(&thrice, zone), [PASS, PASS, PASS]);
}

#[test]
fn one_lookup_per_distinct_key_name() {
    let once = ed_signed(MSG, |_| {});
    let twice = ed_signed(&once, |r| r.canonicalization = Canonicalization::SIMPLE);
    let record = ed_record();
    let (found, asked) = verify_full(
        &[&twice],
        &[("sel._domainkey.legit.com", &[record.as_str()])],
        VerifyOptions::new(NOW),
    );
    assert_eq!(found, [PASS, PASS]);
    assert_eq!(asked, ["sel._domainkey.legit.com"]);
}

#[test]
fn unanswered_key_request_is_temperror() {
    let signed = ed_signed(MSG, |_| {});
    let mut v = Verifier::new(VerifyOptions::new(NOW));
    v.update(&signed).unwrap();
    let found: Vec<Found> = v
        .finish()
        .unwrap()
        .results()
        .map(|r| (r.verdict, r.reason))
        .collect();
    assert_eq!(found, [(Verdict::TempError, Reason::KeyNotProvided)]);
}

#[test]
fn unsigned_message_has_no_results() {
    assert_eq!(verify_ed(MSG), []);
}

// ---------------------------------------------------------------------------
// Real mail that other verifiers pass (the robustness issue)

/// The RFC 8463 Appendix A message without its two signatures.
fn rfc8463_unsigned() -> &'static [u8] {
    &RFC8463_MESSAGE[find(RFC8463_MESSAGE, b"From: Joe SixPack")..]
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

/// RFC 6376 §3.5 `l=`: "the number of octets in the body of the email
/// after canonicalization included in the cryptographic hash". When that
/// is every octet, nothing is unsigned (§8.2 is about what follows the
/// signed part). The RFC 8463 message signed with `l=` equal to its whole
/// canonical body passes; with a line appended it is policy again.
#[test]
fn rfc6376_l_equal_to_the_whole_body_passes() {
    let mut req = request();
    req.domain = "football.example.com";
    req.body_length = BodyLength::Whole;
    let signed = sign_with(&req, rfc8463_unsigned(), &mut ed_key());
    let field_end = find(&signed, b"\r\nFrom:");
    let field = core::str::from_utf8(&signed[..field_end]).unwrap();
    // "Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n"
    // (relaxed: one space for two): 54 octets.
    assert!(field.contains("l=54;"), "{field}");
    let record = ed_record();
    let zone: &[(&str, &[&str])] = &[("sel._domainkey.football.example.com", &[record.as_str()])];
    assert_eq!(verify(&signed, zone), [PASS]);
    let mut appended = signed.clone();
    appended.extend_from_slice(b"P.S. Wire the money.\r\n");
    assert_eq!(
        verify(&appended, zone),
        [(Verdict::Policy, Reason::BodyLengthLimit)]
    );
}

/// A whole-body `l=` of mass's own signer passes; changes that leave the
/// canonical body as it was (trailing blank lines, trailing whitespace
/// under relaxed) still pass, and anything that lengthens it is policy.
/// The verifier reads on past `l=` until it knows whether the body ends
/// there, and only then says the rest of the body cannot matter.
#[test]
fn whole_body_l_is_not_a_partial_signature() {
    let signed = ed_signed(MSG, |r| r.body_length = BodyLength::Whole);
    assert_eq!(verify_ed(&signed), [PASS]);
    let mut blank_lines = signed.clone();
    blank_lines.extend_from_slice(b"\r\n\r\n  \r\n");
    assert_eq!(verify_ed(&blank_lines), [PASS]);
    let mut more = signed.clone();
    more.extend_from_slice(b"x\r\n");
    assert_eq!(
        verify_ed(&more),
        [(Verdict::Policy, Reason::BodyLengthLimit)]
    );

    // Body interest: not done at exactly l= octets, done once one more
    // canonical octet has been seen.
    let body_at = find(&more, b"\r\n\r\n") + 4;
    let mut v = Verifier::new(VerifyOptions::new(NOW));
    assert_eq!(v.update(&more[..body_at]).unwrap(), BodyInterest::More);
    let signed_body = &signed[body_at..];
    assert_eq!(v.body(signed_body).unwrap(), BodyInterest::More);
    assert_eq!(v.body(b"x").unwrap(), BodyInterest::Done);
}

/// A DKIM-Signature field with these tags and no `h=` or `b=`: it does not
/// parse.
fn junk_field(i: usize) -> Vec<u8> {
    format!("DKIM-Signature: v=1; a=ed25519-sha256; d=junk{i}.example; s=s; bh={BH}").into_bytes()
}

const BH: &str = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

/// RFC 6376 §6.1.1: a field with unexpected values "MUST cause the header
/// field to be completely ignored and the verifier to return PERMFAIL".
/// Ignored, it costs no part of the budget of key lookups and checks: the
/// RFC 8463 message under five malformed DKIM-Signature fields (one per
/// §6.1.1 reason) still has both its signatures pass.
#[test]
fn rfc6376_malformed_fields_use_no_budget() {
    let malformed = [
        "v=2; a=ed25519-sha256; d=football.example.com; s=brisbane; h=from; bh=AAAA; b=AAAA",
        "v=1; a=ed25519-sha256; d=football.example.com; s=brisbane; bh=AAAA; b=AAAA",
        "v=1; a=ed25519-sha256; d=football.example.com; s=brisbane; h=to; bh=AAAA; b=AAAA",
        "v=1; a=ed25519-sha256; d=football.example.com; s=brisbane; h=from; bh=AAAA",
        "v=1; a=ed25519-sha256; d=football.example.com; i=@evil.example; s=brisbane; h=from; bh=AAAA; b=AAAA",
    ];
    let mut message = Vec::new();
    for m in malformed {
        message.extend_from_slice(format!("DKIM-Signature: {m}\r\n").as_bytes());
    }
    message.extend_from_slice(RFC8463_MESSAGE);
    let (found, asked) = verify_full(
        &[&message],
        RFC8463_ZONE,
        VerifyOptions::new(1_528_637_909 + 60),
    );
    assert_eq!(found.len(), 7, "{found:?}");
    assert!(
        found[..5]
            .iter()
            .all(|(v, r)| matches!(r, Reason::Signature(_)) && *v != Verdict::Pass)
    );
    assert_eq!(found[5..], [PASS, PASS]);
    assert_eq!(asked.len(), 2);
}

/// Five DKIM-Signature fields with no `h=` or `b=` (added in transit),
/// then five rsa-sha1 signatures (decided without a key), then a good
/// one: the good one passes.
#[test]
fn junk_fields_do_not_hide_a_good_signature() {
    let mut message = Vec::new();
    for i in 0..5 {
        message.extend_from_slice(&junk_field(i));
        message.extend_from_slice(b"\r\n");
    }
    for i in 0..5 {
        message.extend_from_slice(
            format!(
                "DKIM-Signature: v=1; a=rsa-sha1; d=sha1-{i}.example; s=s; h=from; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA\r\n"
            )
            .as_bytes(),
        );
    }
    let signed = ed_signed(MSG, |_| {});
    message.extend_from_slice(&signed);
    let (found, asked) = verify_full(
        &[&message],
        &[("sel._domainkey.legit.com", &[ed_record().as_str()])],
        VerifyOptions::new(NOW),
    );
    assert_eq!(found.last(), Some(&PASS), "{found:?}");
    assert_eq!(asked, ["sel._domainkey.legit.com"]);
    // A budget of one key lookup is enough.
    let mut options = VerifyOptions::new(NOW);
    options.max_signatures = 1;
    let (found, _) = verify_full(
        &[&message],
        &[("sel._domainkey.legit.com", &[ed_record().as_str()])],
        options,
    );
    assert_eq!(found.last(), Some(&PASS), "{found:?}");
}

/// Fields merely parsed are bounded too: at most
/// [`MAX_SIGNATURE_FIELDS_EXAMINED`] DKIM-Signature fields are parsed, at
/// most `SIGS` of those decided without a key are reported, and the rest
/// are counted and dropped. 100,000 junk fields cost bounded memory (no
/// store capacity error) and time; a good signature below the first
/// [`MAX_SIGNATURE_FIELDS_EXAMINED`] fields is past the bound and not
/// checked, one within it passes.
#[test]
fn junk_fields_cost_bounded_memory_and_time() {
    let signed = ed_signed(MSG, |_| {});
    let record = ed_record();
    let zone: &[(&str, &[&str])] = &[("sel._domainkey.legit.com", &[record.as_str()])];
    let mut within = Vec::new();
    for i in 0..MAX_SIGNATURE_FIELDS_EXAMINED - 1 {
        within.extend_from_slice(&junk_field(i));
        within.extend_from_slice(b"\r\n");
    }
    within.extend_from_slice(&signed);
    let found = verify(&within, zone);
    assert_eq!(found.len(), 9, "8 reported junk fields and the good one");
    assert_eq!(found.last(), Some(&PASS));

    let mut v = Verifier::new(VerifyOptions::new(NOW));
    for i in 0..100_000 {
        v.update(&junk_field(i)).unwrap();
        v.update(b"\r\n").unwrap();
    }
    v.update(&signed).unwrap();
    assert_eq!(v.signatures_seen(), 100_001);
    assert_eq!(v.key_requests().count(), 0);
    let verification = v.finish().unwrap();
    assert_eq!(verification.results().count(), 8);
    assert!(!verification.any_pass());
}

/// A signature built here by hand (the signer keeps at most 64 names):
/// relaxed/relaxed Ed25519 over `message` with this `h=`.
fn ed_signed_with_h(message: &[u8], h: &str) -> Vec<u8> {
    use crate::canon::{Canon, body_hash::BodyHasher};
    use crate::header::HeaderStore;
    let body_at = find(message, b"\r\n\r\n") + 4;
    let mut hasher = BodyHasher::new(Canon::Relaxed, None);
    hasher.update(&message[body_at..]);
    let bh = b64(&hasher.finish().digest);
    let mut store: HeaderStore<16384, 64> = HeaderStore::new();
    let head = core::str::from_utf8(&message[..body_at - 2]).unwrap();
    for line in head.split_inclusive("\r\n") {
        let line = line.strip_suffix("\r\n").unwrap();
        if line.starts_with([' ', '\t']) {
            store.extend(b"\r\n").unwrap();
        } else {
            store.end();
            store.begin().unwrap();
        }
        store.extend(line.as_bytes()).unwrap();
    }
    store.end();
    let unsigned = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=legit.com; s=sel;\r\n h={h};\r\n bh={bh}; b="
    );
    let digest = header_hash(
        &store,
        Canon::Relaxed,
        h.split(':').map(str::as_bytes),
        &[unsigned.as_bytes()],
    );
    let mut sig = [0u8; 64];
    let n = ed_key().sign_digest(&digest, &mut sig).unwrap();
    let mut field = unsigned.into_bytes();
    field.extend_from_slice(b64(&sig[..n]).as_bytes());
    prepend(&field, message)
}

/// RFC 6376 §3.5 `h=`: "The field MAY contain multiple instances of a
/// header field name", and §5.4.2 / §8.15 sign a field's absence by
/// naming it once more than it occurs (oversigning). A signer that
/// oversigns many names makes a long list: 300 names here, MSG's five
/// fields and each of them 59 times more. It passes; one over the limit
/// ([`MAX_SIGNED_HEADERS`]) is still refused before any work.
#[test]
fn rfc6376_h_with_hundreds_of_oversigned_names_passes() {
    let names = ["from", "to", "subject", "date", "content-type"];
    let mut h: Vec<&str> = names.to_vec();
    for _ in 0..59 {
        h.extend(names);
    }
    assert_eq!(h.len(), 300);
    let signed = ed_signed_with_h(MSG, &h.join(":"));
    assert_eq!(verify_ed(&signed), [PASS]);
    // An instance added above the signed ones breaks it.
    assert_eq!(
        verify_ed(&prepend(b"Subject: pay now", &signed))[0].0,
        Verdict::Fail
    );

    let mut too_many: Vec<&str> = vec!["from"];
    too_many.extend(core::iter::repeat_n("x", MAX_SIGNED_HEADERS));
    let refused = ed_signed_with_h(MSG, &too_many.join(":"));
    assert_eq!(
        verify_ed(&refused),
        [(
            Verdict::PermError,
            Reason::Signature(SignatureFieldError::TooManySignedHeaders)
        )]
    );
}

// ---------------------------------------------------------------------------
// Security cases

mod rows;
