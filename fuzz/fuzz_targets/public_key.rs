//! RSA SubjectPublicKeyInfo / PKCS#1 DER and Ed25519 key bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::public_key::{MAX_RSA_MODULUS_BITS, load_ed25519, load_rsa};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = load_rsa(data) {
        assert!(key.bits() <= MAX_RSA_MODULUS_BITS);
    }
    let _ = load_ed25519(data);
});
