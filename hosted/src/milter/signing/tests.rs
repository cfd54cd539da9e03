use super::*;
use mass_core::MessageSigner;

const NOW: u64 = 1_764_000_000;
const RSA_2048_PEM: &str = include_str!("../../../../tests/data/device-test-rsa2048.pem");

fn key(selector: &str, material: KeyMaterial) -> Arc<SigningKey> {
    Arc::new(SigningKey::new("example.com".into(), selector.into(), material).unwrap())
}

fn headers() -> HeaderBuf {
    let mut h = HeaderBuf::default();
    for (name, value) in [
        ("From", "Alice <alice@example.com>"),
        ("To", "bob@example.net"),
        ("Subject", "two keys,\n\tone body hash"),
        ("X-Other", "not signed"),
    ] {
        h.push(name.as_bytes(), value.as_bytes(), false, 1 << 20);
    }
    h
}

/// What a lone single-key signer writes for `key` over the same input,
/// as the milter inserts it (after the colon, LF folding).
fn alone(key: &SigningKey, headers: &HeaderBuf, body: &[&[u8]], ttl: Option<u64>) -> String {
    let mut req = SignRequest::new(&key.domain, &key.selector, key.material.algorithm());
    req.timestamp = Some(NOW);
    req.expiration = ttl.map(|t| NOW + t);
    let mut s = MessageSigner::<HEADER_BYTES, HEADER_FIELDS>::new(&req).unwrap();
    for (_, field) in headers.fields() {
        s.header_field(field).unwrap();
    }
    s.end_of_headers().unwrap();
    for chunk in body {
        s.body(chunk).unwrap();
    }
    let mut signer = KeySigner::new(key);
    let mut out = vec![0u8; s.required_len(&signer)];
    let n = s.finish(&mut signer, &mut out).unwrap();
    let field = std::str::from_utf8(&out[..n]).unwrap();
    field.split_once(':').unwrap().1.replace("\r\n", "\n")
}

#[test]
fn rsa_and_ed25519_share_one_signer_and_sign_as_separate_signers_do() {
    let keys = vec![
        key("rsa", crate::keys::parse_pem(RSA_2048_PEM).unwrap()),
        key("ed", KeyMaterial::generate_ed25519().unwrap()),
    ];
    let headers = headers();
    let body: [&[u8]; 2] = [b"Hello,  world. \r\n\r\n", b"Second chunk.\r\n\r\n\r\n"];
    let mut job = SignJob::start(keys.clone(), Vec::new(), None, &headers, NOW, Some(600)).unwrap();
    assert_eq!(job.running.len(), 1, "one signer for both keys");
    assert_eq!(job.running[0].signer.body_hashes(), 1, "one body hash");
    for chunk in body {
        assert!(job.body(chunk).unwrap());
    }
    let signatures = job.finish().unwrap();
    assert_eq!(signatures.len(), 2);
    for (sig, key) in signatures.iter().zip(&keys) {
        assert_eq!(sig.name, "DKIM-Signature");
        assert_eq!(sig.label, key.label());
        assert_eq!(sig.value, alone(key, &headers, &body, Some(600)));
    }
}

#[test]
fn more_keys_than_one_signer_holds_get_another_signer() {
    let keys: Vec<_> = (0..KEYS_PER_SIGNER + 1)
        .map(|i| key(&format!("s{i}"), KeyMaterial::generate_ed25519().unwrap()))
        .collect();
    let headers = headers();
    let mut job = SignJob::start(keys.clone(), Vec::new(), None, &headers, NOW, None).unwrap();
    assert_eq!(job.running.len(), 2);
    job.body(b"body\r\n").unwrap();
    let signatures = job.finish().unwrap();
    assert_eq!(signatures.len(), keys.len());
    for (sig, key) in signatures.iter().zip(&keys) {
        assert_eq!(sig.value, alone(key, &headers, &[b"body\r\n"], None));
    }
}
