//! Several keys over one message (RFC 6376 §5 for each signature): a
//! `MultiSigner` takes the header fields and the body once, hashes the
//! body once per distinct (body canonicalization, `l=`), and writes, for
//! each key, the field a lone `MessageSigner` writes, byte for byte.

use crate::common::{CountingRng, at_every_split};
use base64ct::{Base64, Encoding};
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, Verdict, VerifyOptions};
use mass_core::{
    BodyLength, Canon, Canonicalization, DigestSigner, Ed25519Signer, Error, HeaderSelection,
    MessageSigner, MultiSigner, RsaSha256Signer, SignRequest, SigningAlgorithm,
};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};

type Single = MessageSigner<8192, 64>;
type Multi = MultiSigner<8192, 64, 4, 4>;

const NOW: u64 = 1_764_000_000;

const MSG: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.net\r\n\
Subject:  hello \t\r\n\t world  \r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
X-Other: not signed\r\n\
\r\n\
Body  line \t one.  \r\n\
\r\n\
\x20 indented\r\n\
\r\n\
\r\n";

const RSA_2048_PEM: &str = include_str!("../data/device-test-rsa2048.pem");

fn rsa_key() -> rsa::PrivateKey {
    rsa::PrivateKey::from_pkcs8_pem(RSA_2048_PEM).unwrap()
}

fn ed_key() -> Ed25519Signer {
    Ed25519Signer::from_seed(&[5u8; 32])
}

fn request(selector: &str, algorithm: SigningAlgorithm) -> SignRequest<'_> {
    let mut r = SignRequest::new("example.com", selector, algorithm);
    r.timestamp = Some(NOW - 60);
    r
}

/// The field a lone signer writes for `req`, fed `chunks`.
fn separate(req: &SignRequest<'_>, key: &mut dyn DigestSigner, chunks: &[&[u8]]) -> Vec<u8> {
    let mut s = Single::new(req).unwrap();
    for c in chunks {
        s.update(c).unwrap();
    }
    let mut out = vec![0u8; s.required_len(&*key)];
    let n = s.finish(key, &mut out).unwrap();
    out.truncate(n);
    out
}

/// The fields one MultiSigner writes for `reqs` (key `i` signs `reqs[i]`).
fn shared(
    reqs: &[SignRequest<'_>],
    keys: &mut [&mut dyn DigestSigner],
    chunks: &[&[u8]],
) -> Vec<Vec<u8>> {
    let mut s = Multi::new(reqs).unwrap();
    for c in chunks {
        s.update(c).unwrap();
    }
    keys.iter_mut()
        .enumerate()
        .map(|(i, key)| {
            let mut out = vec![0u8; s.required_len(i, &**key).unwrap()];
            let n = s.finish(i, &mut **key, &mut out).unwrap();
            out.truncate(n);
            out
        })
        .collect()
}

fn check_against_separate(reqs: &[SignRequest<'_>; 2]) {
    let rsa = rsa_key();
    let mut rsa_signer = RsaSha256Signer::new(&rsa, CountingRng::new(1)).unwrap();
    let mut ed = ed_key();
    let want = vec![
        separate(&reqs[0], &mut rsa_signer, &[MSG]),
        separate(&reqs[1], &mut ed, &[MSG]),
    ];
    // RSA is slow in a debug build: every split point with Ed25519 twice,
    // a few with RSA.
    let ed_reqs = [
        SignRequest {
            algorithm: SigningAlgorithm::Ed25519Sha256,
            ..reqs[0]
        },
        reqs[1],
    ];
    let mut ed2 = ed_key();
    let ed_want = vec![separate(&ed_reqs[0], &mut ed2, &[MSG]), want[1].clone()];
    at_every_split(MSG, |chunks| {
        let (mut a, mut b) = (ed_key(), ed_key());
        let got = shared(&ed_reqs, &mut [&mut a, &mut b], chunks);
        assert_eq!(got, ed_want);
        got
    });
    for at in [0, 20, 100, MSG.len() - 30, MSG.len()] {
        let (a, b) = MSG.split_at(at);
        let got = shared(reqs, &mut [&mut rsa_signer, &mut ed], &[a, b]);
        assert_eq!(got, want, "split at {at}");
    }
}

#[test]
fn rsa_and_ed25519_with_the_same_canonicalization_equal_separate_signers() {
    let reqs = [
        request("rsa", SigningAlgorithm::RsaSha256),
        request("ed", SigningAlgorithm::Ed25519Sha256),
    ];
    assert_eq!(Multi::new(&reqs).unwrap().body_hashes(), 1);
    check_against_separate(&reqs);
}

#[test]
fn rsa_and_ed25519_with_different_canonicalizations_equal_separate_signers() {
    let mut rsa = request("rsa", SigningAlgorithm::RsaSha256);
    rsa.canonicalization = Canonicalization::SIMPLE;
    rsa.copied_headers = true;
    rsa.body_length = BodyLength::Whole;
    let mut ed = request("ed", SigningAlgorithm::Ed25519Sha256);
    ed.canonicalization = Canonicalization {
        header: Canon::Simple,
        body: Canon::Relaxed,
    };
    ed.headers = HeaderSelection::Exact(&["from", "subject", "x-other"]);
    ed.identity = Some("alice@example.com");
    let reqs = [rsa, ed];
    assert_eq!(Multi::new(&reqs).unwrap().body_hashes(), 2);
    check_against_separate(&reqs);

    // Same body canonicalization, different l=: two body hashes.
    let mut limited = request("ed", SigningAlgorithm::Ed25519Sha256);
    limited.body_length = BodyLength::Limit(10);
    let reqs = [request("rsa", SigningAlgorithm::RsaSha256), limited];
    assert_eq!(Multi::new(&reqs).unwrap().body_hashes(), 2);
    check_against_separate(&reqs);
}

#[test]
fn milter_style_intake_signs_the_same_and_both_signatures_verify() {
    let reqs = [
        request("rsa", SigningAlgorithm::RsaSha256),
        request("ed", SigningAlgorithm::Ed25519Sha256),
    ];
    let rsa = rsa_key();
    let mut rsa_signer = RsaSha256Signer::new(&rsa, CountingRng::new(2)).unwrap();
    let mut ed = ed_key();
    let raw = shared(&reqs, &mut [&mut rsa_signer, &mut ed], &[MSG]);

    let mut s = Multi::new(&reqs).unwrap();
    for f in [
        &b"From: Alice <alice@example.com>"[..],
        b"To: bob@example.net",
        b"Subject:  hello \t\r\n\t world  ",
        b"Date: Sat, 28 Nov 2026 10:00:00 +0000",
        b"X-Other: not signed",
    ] {
        s.header_field(f).unwrap();
    }
    s.end_of_headers().unwrap();
    let body_at = MSG.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let (first, rest) = MSG[body_at..].split_at(9);
    s.body(first).unwrap();
    s.body(rest).unwrap();
    let mut out = [0u8; 2048];
    let n = s.finish(1, &mut ed, &mut out).unwrap();
    assert_eq!(&out[..n], raw[1].as_slice());
    let n = s.finish(0, &mut rsa_signer, &mut out).unwrap();
    assert_eq!(&out[..n], raw[0].as_slice());

    // Both fields above the message, each checked with its own key.
    let mut signed = Vec::new();
    for field in &raw {
        signed.extend_from_slice(field);
        signed.extend_from_slice(b"\r\n");
    }
    signed.extend_from_slice(MSG);
    let rsa_der = rsa.to_public_key().to_public_key_der().unwrap();
    let rsa_record = format!(
        "v=DKIM1; k=rsa; p={}",
        Base64::encode_string(rsa_der.as_bytes())
    );
    let ed_record = format!(
        "v=DKIM1; k=ed25519; p={}",
        Base64::encode_string(&ed_key().public_key())
    );
    let mut v = MessageVerifier::<16384, 256, 5>::new(VerifyOptions::new(NOW));
    v.update(&signed).unwrap();
    v.end_of_input().unwrap();
    let requests: Vec<(usize, String)> = v
        .key_requests()
        .map(|r| (r.id, r.selector.to_string()))
        .collect();
    assert_eq!(requests.len(), 2);
    for (id, selector) in requests {
        let record = if selector == "rsa" {
            &rsa_record
        } else {
            &ed_record
        };
        v.provide_key(id, KeyAnswer::Records(&[record.as_bytes()]));
    }
    let verdicts: Vec<Verdict> = v.finish().unwrap().results().map(|r| r.verdict).collect();
    assert_eq!(verdicts, [Verdict::Pass, Verdict::Pass]);
}

#[test]
fn a_refused_message_is_refused_for_every_key() {
    let reqs = [
        request("a", SigningAlgorithm::Ed25519Sha256),
        request("b", SigningAlgorithm::Ed25519Sha256),
    ];
    let mut s = Multi::new(&reqs).unwrap();
    s.update(b"From: a@example.com\r\nFrom: b@example.com\r\n\r\nx\r\n")
        .unwrap();
    let mut out = [0u8; 2048];
    for i in 0..2 {
        assert_eq!(
            s.finish(i, &mut ed_key(), &mut out),
            Err(Error::MultipleFromFields)
        );
    }
}
