//! The verifier against the signer (RFC 6376 §3.4, §3.7, §6): every
//! canonicalization pair, both algorithms, awkward bodies, and every split
//! point of the input.

use crate::common::at_every_split;
use crate::rfc8463::RSA_KEY_PEM;
use base64ct::{Base64, Encoding};
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, Reason, Verdict, VerifyOptions};
use mass_core::{
    Canon, Canonicalization, DigestSigner, Ed25519Signer, HeaderSelection, MessageSigner,
    RsaSha256Signer, SignRequest,
};
use rand_core::SeedableRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;

type Signer = MessageSigner<8192, 64>;
type Verifier = MessageVerifier<16384, 256, 5>;

const NOW: u64 = 1_764_000_000;

const MSG: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.net\r\n\
Subject:  hello \t\r\n\t world  \r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
X-Other: not signed\r\n\
\r\n\
Body  line \t one.  \r\n\
\r\n\
  indented\r\n\
\r\n\
\r\n";

fn ed_key() -> Ed25519Signer {
    Ed25519Signer::from_seed(&[3u8; 32])
}

fn ed_record() -> String {
    format!(
        "v=DKIM1; k=ed25519; p={}",
        Base64::encode_string(&ed_key().public_key())
    )
}

fn rsa_key() -> rsa::PrivateKey {
    let body: String = RSA_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    rsa::PrivateKey::from_pkcs1_der(&Base64::decode_vec(&body).unwrap()).unwrap()
}

fn rsa_record() -> String {
    let der = rsa_key().to_public_key().to_public_key_der().unwrap();
    format!(
        "v=DKIM1; k=rsa; p={}",
        Base64::encode_string(der.as_bytes())
    )
}

fn sign(msg: &[u8], canon: Canonicalization, key: &mut dyn DigestSigner) -> Vec<u8> {
    sign_with(msg, canon, HeaderSelection::default(), key)
}

fn sign_with(
    msg: &[u8],
    canon: Canonicalization,
    headers: HeaderSelection<'_>,
    key: &mut dyn DigestSigner,
) -> Vec<u8> {
    let mut req = SignRequest::new("example.com", "sel", key.algorithm());
    req.canonicalization = canon;
    req.headers = headers;
    req.timestamp = Some(NOW - 60);
    let mut s = Signer::new(&req).unwrap();
    s.update(msg).unwrap();
    let mut out = [0u8; 4096];
    let n = s.finish(&mut *key, &mut out).unwrap();
    let mut signed = out[..n].to_vec();
    signed.extend_from_slice(b"\r\n");
    signed.extend_from_slice(msg);
    signed
}

fn verify_chunks(chunks: &[&[u8]], record: &str) -> Vec<(Verdict, Reason)> {
    let mut v = Verifier::new(VerifyOptions::new(NOW));
    for c in chunks {
        v.update(c).unwrap();
    }
    v.end_of_input().unwrap();
    let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
    for id in ids {
        v.provide_key(id, KeyAnswer::Records(&[record.as_bytes()]));
    }
    v.finish()
        .unwrap()
        .results()
        .map(|r| (r.verdict, r.reason))
        .collect()
}

const PASS: (Verdict, Reason) = (Verdict::Pass, Reason::Verified);

fn all_canons() -> [Canonicalization; 4] {
    [
        Canonicalization::SIMPLE,
        Canonicalization::RELAXED,
        Canonicalization {
            header: Canon::Simple,
            body: Canon::Relaxed,
        },
        Canonicalization {
            header: Canon::Relaxed,
            body: Canon::Simple,
        },
    ]
}

#[test]
fn signer_output_verifies_for_every_canonicalization_and_algorithm() {
    let ed = ed_record();
    let rsa = rsa_record();
    for canon in all_canons() {
        let signed = sign(MSG, canon, &mut ed_key());
        assert_eq!(verify_chunks(&[&signed], &ed), [PASS], "ed25519 {canon}");
        let mut key =
            RsaSha256Signer::new(rsa_key(), chacha20::ChaCha20Rng::from_seed([4; 32])).unwrap();
        let signed = sign(MSG, canon, &mut key);
        assert_eq!(verify_chunks(&[&signed], &rsa), [PASS], "rsa {canon}");
    }
}

#[test]
fn awkward_bodies_verify() {
    let record = ed_record();
    let head = b"From: a@example.com\r\nSubject: x\r\n\r\n";
    for body in [
        &b""[..],
        b"\r\n",
        b"\r\n\r\n\r\n",
        b" \t \r\n\t\r\n",
        b"no final line break",
        b"trailing space \r\n \r\n",
        b"bare\rcr and bare\nlf\r\n",
        b"\0nul\0\r\n\xff\xfe 8-bit\r\n",
    ] {
        let mut msg = head.to_vec();
        msg.extend_from_slice(body);
        for canon in all_canons() {
            let signed = sign(&msg, canon, &mut ed_key());
            assert_eq!(
                verify_chunks(&[&signed], &record),
                [PASS],
                "{canon} {body:?}"
            );
        }
    }
}

#[test]
fn results_are_the_same_at_every_split_point() {
    // A short message keeps this to a few hundred Ed25519 verifications.
    let record = ed_record();
    let msg = b"From: a@example.com\r\nSubject:  x \r\n\r\nBody  \t line\r\n\r\n";
    let signed = sign_with(
        msg,
        Canonicalization::RELAXED,
        HeaderSelection::Exact(&["from", "subject"]),
        &mut ed_key(),
    );
    let whole = at_every_split(&signed, |chunks| verify_chunks(chunks, &record));
    assert_eq!(whole, [PASS]);
}

#[test]
fn tampering_anywhere_in_the_signed_part_fails() {
    let record = ed_record();
    let signed = sign(MSG, Canonicalization::RELAXED, &mut ed_key());
    let text = String::from_utf8(signed).unwrap();
    for (from, to) in [
        ("Body  line", "Body  lime"),
        ("indented", "indentex"),
        ("hello", "jello"),
        ("bob@example.net", "eve@example.net"),
        ("alice@example.com", "alice@example.org"),
    ] {
        let tampered = text.replacen(from, to, 1);
        let found = verify_chunks(&[tampered.as_bytes()], &record);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Verdict::Fail, "{from} -> {to}");
    }
    // An unsigned field may change freely.
    let changed = text.replacen("not signed", "changed", 1);
    assert_eq!(verify_chunks(&[changed.as_bytes()], &record), [PASS]);
}
