//! Helpers the unit tests share: a deterministic PRNG for random inputs,
//! base64 both ways, and the RSA keys of the DKIM and DomainKeys tests.
// Without `rsa` the tests that use the base64 helpers and keys are gated off.
#![cfg_attr(not(feature = "rsa"), allow(dead_code, unused_imports))]

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};

/// xorshift64*: the core has no RNG of its own, and tests must repeat.
#[derive(Debug)]
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `choices`.
    pub(crate) fn byte_from(&mut self, choices: &[u8]) -> u8 {
        choices[self.below(choices.len())]
    }
}

/// Standard base64 with padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    let mut buf = vec![0u8; bytes.len().div_ceil(3) * 4];
    Base64::encode(bytes, &mut buf).unwrap().to_string()
}

/// Base64 as a tag value has it (FWS skipped), decoded.
pub(crate) fn unb64(text: &str) -> Vec<u8> {
    let mut out = vec![0u8; text.len()];
    let n = crate::syntax::tag_list::decode_base64(text.as_bytes(), &mut out).unwrap();
    out.truncate(n);
    out
}

/// A seeded RNG, for RSA blinding.
#[cfg(feature = "rsa")]
pub(crate) fn rng(seed: u8) -> chacha20::ChaCha20Rng {
    use rand_core::SeedableRng;
    chacha20::ChaCha20Rng::from_seed([seed; 32])
}

/// RFC 8463 §A.1, the RSA-1024 key (PKCS#1).
pub(crate) const RFC8463_RSA_PEM_BODY: &str =
    "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
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
uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL";

/// A 512-bit RSA key made for these tests (`openssl genrsa 512`), PKCS#1.
pub(crate) const WEAK_RSA_PEM_BODY: &str =
    "MIIBPAIBAAJBANxqiplbSTUG+q9oCDyo9/FkNrTU6cwOgvmA4Bn867qsI/YOxHo/
7gbLQ9v489AnZR8gNLLH8xvVjj9mY1SMmZECAwEAAQJAVQagWpI1Rkhf8cQe0U+Y
/bxbwhwT6Ex8x8SoLj47rPE9Q/1+mZ7cBuC9ks/km7UzKUB+m3XH5GkriM/x+hcS
8QIhAPQgWqbUkRaBqC1+eD/mVUt36dcKb9etWstYyoAj6zgNAiEA5yL4AYFgPvtf
aiIwYK4g+W/tSWAUbikYJJvIHunwYpUCIQCsB1iaE1SiTX+bf3FxZfhZFAkeVeZ2
T1yZytn37lfEyQIhAMr7aLVZuv5Un1yDndypzwd/hfFUUVzU9gDgVgTgCV1pAiEA
lSZ7Xgt48Fq8O4Wn4n2W1+oUSH1l/+RWYp+Igu2I9ww=";

/// A PKCS#1 private key from the base64 body of its PEM.
#[cfg(feature = "rsa")]
pub(crate) fn rsa_private(pem_body: &str) -> rsa::PrivateKey {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    rsa::PrivateKey::from_pkcs1_der(&unb64(pem_body)).unwrap()
}

/// The `p=` value of a key record for `key`: its SubjectPublicKeyInfo.
#[cfg(feature = "rsa")]
pub(crate) fn rsa_p_value(key: &rsa::PrivateKey) -> String {
    use rsa::pkcs8::EncodePublicKey;
    b64(key.to_public_key().to_public_key_der().unwrap().as_bytes())
}
