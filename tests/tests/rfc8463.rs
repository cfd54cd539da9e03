//! RFC 8463 Appendix A: the published Ed25519 and RSA signatures,
//! reproduced byte for byte from the RFC's keys, message and t=.

use crate::common::CountingRng;
use base64ct::{Base64, Encoding};
use mass_core::canon::body_hash::BodyHasher;
use mass_core::dkim::sign::header_hash;
use mass_core::header::{FieldSink, HeaderSplitter, HeaderStore};
use mass_core::{Canon, DigestSigner, Ed25519Signer, RsaSha256Signer};

/// RFC 8463 §A.1: the Ed25519 secret key (RFC 8032 §7.1 test 1).
pub const ED25519_SEED_B64: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
/// RFC 8463 §A.2: the Ed25519 public key.
pub const ED25519_PUBLIC_B64: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// RFC 8463 §A.1: the RSA secret key.
pub const RSA_KEY_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
-----END RSA PRIVATE KEY-----
";

/// RFC 8463 §A.3: the message that was signed.
pub const MESSAGE: &[u8] = b"From: Joe SixPack <joe@football.example.com>\r\n\
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

const BH: &str = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";
const ED25519_B: &str =
    "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";
const RSA_B: &str = "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2JzdA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=";

/// The RFC's h= list.
const H: [&[u8]; 8] = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"from",
    b"subject",
    b"date",
];

/// Keep every field: the store the core uses, filled by its own splitter.
struct KeepAll(HeaderStore<4096, 32>);
impl FieldSink for KeepAll {
    fn begin_field(&mut self, _: &[u8]) -> Result<bool, mass_core::Error> {
        self.0.begin()?;
        Ok(true)
    }
    fn field_bytes(&mut self, b: &[u8]) -> Result<(), mass_core::Error> {
        self.0.extend(b)
    }
    fn end_field(&mut self) -> Result<(), mass_core::Error> {
        self.0.end();
        Ok(())
    }
}

/// The unsigned signature field, laid out tag for tag and space for space
/// as the RFC prints it, with b= empty (RFC 6376 §3.7).
fn unsigned_field(alg: &str, selector: &str, h_fold_after: usize) -> Vec<u8> {
    let h_names = [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "from",
        "subject",
        "date",
    ];
    let mut h = String::new();
    for (i, n) in h_names.iter().enumerate() {
        if i > 0 {
            h.push_str(if i == h_fold_after { " :\r\n " } else { " : " });
        }
        h.push_str(n);
    }
    format!(
        "DKIM-Signature: v=1; a={alg}; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n q=dns/txt; s={selector}; t=1528637909; h={h};\r\n bh={BH};\r\n b="
    )
    .into_bytes()
}

fn signed_b(
    key: &mut dyn DigestSigner,
    alg: &str,
    selector: &str,
    h_fold_after: usize,
) -> (String, String) {
    let mut splitter = HeaderSplitter::new();
    let mut keep = KeepAll(HeaderStore::new());
    let n = splitter.push(MESSAGE, &mut keep).unwrap().unwrap();
    let mut body = BodyHasher::new(Canon::Relaxed, None);
    body.update(&MESSAGE[n..]);
    let bh = Base64::encode_string(&body.finish().digest);
    let field = unsigned_field(alg, selector, h_fold_after);
    let digest = header_hash(&keep.0, Canon::Relaxed, H.iter().copied(), &[&field]);
    let mut sig = [0u8; 512];
    let len = key.sign_digest(&digest, &mut sig).unwrap();
    (bh, Base64::encode_string(&sig[..len]))
}

#[test]
fn rfc8463_ed25519_signature_is_reproduced() {
    let seed: [u8; 32] = Base64::decode_vec(ED25519_SEED_B64)
        .unwrap()
        .try_into()
        .unwrap();
    let mut key = Ed25519Signer::from_seed(&seed);
    assert_eq!(Base64::encode_string(&key.public_key()), ED25519_PUBLIC_B64);
    // The RFC folds the Ed25519 h= after "to" (the second name).
    let (bh, b) = signed_b(&mut key, "ed25519-sha256", "brisbane", 2);
    assert_eq!(bh, BH);
    assert_eq!(b, ED25519_B);
}

#[test]
fn rfc8463_rsa_signature_is_reproduced_with_blinding() {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let key = rsa::PrivateKey::from_pkcs1_pem(RSA_KEY_PEM).unwrap();
    let mut rng = CountingRng::new(7);
    let mut signer = RsaSha256Signer::new(key, &mut rng).unwrap();
    // The RFC folds the RSA h= after "subject" (the third name).
    let (bh, b) = signed_b(&mut signer, "rsa-sha256", "test", 3);
    drop(signer);
    assert_eq!(bh, BH);
    assert_eq!(b, RSA_B);
    // Blinding drew randomness: the unblinded path would draw none.
    assert!(
        rng.drawn > 0,
        "RSA signing did not use the RNG: it was not blinded"
    );
}
