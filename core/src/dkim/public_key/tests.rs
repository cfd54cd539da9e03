//! Tests for the RSA and Ed25519 key loaders.

use alloc::vec::Vec;

use super::rsa_key::{BIT_STRING, INTEGER, NULL, OBJECT_IDENTIFIER, RSA_ENCRYPTION_OID, SEQUENCE};
use super::*;
use crate::dkim::key_record::KeyRecord;

fn rfc8463_rsa_spki() -> Vec<u8> {
    let rec = KeyRecord::parse(crate::dkim::key_record::tests::RFC8463_RSA_RECORD).unwrap();
    rec.public_key_bytes().to_vec()
}

/// DER length bytes.
fn der_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => alloc::vec![len as u8],
        0x80..=0xff => alloc::vec![0x81, len as u8],
        _ => alloc::vec![0x82, (len >> 8) as u8, len as u8],
    }
}

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = alloc::vec![tag];
    out.extend(der_len(contents.len()));
    out.extend_from_slice(contents);
    out
}

/// A PKCS#1 RSAPublicKey from magnitudes (a leading zero is added when the
/// top bit is set).
fn pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    let int = |m: &[u8]| {
        let mut c = Vec::new();
        if m.first().is_some_and(|b| b & 0x80 != 0) {
            c.push(0);
        }
        c.extend_from_slice(m);
        tlv(INTEGER, &c)
    };
    let mut body = int(n);
    body.extend(int(e));
    tlv(SEQUENCE, &body)
}

/// A SubjectPublicKeyInfo around a PKCS#1 key.
fn spki(pkcs1: &[u8]) -> Vec<u8> {
    let mut alg = tlv(OBJECT_IDENTIFIER, RSA_ENCRYPTION_OID);
    alg.extend_from_slice(&[NULL, 0]);
    let mut bits = alloc::vec![0u8];
    bits.extend_from_slice(pkcs1);
    let mut body = tlv(SEQUENCE, &alg);
    body.extend(tlv(BIT_STRING, &bits));
    tlv(SEQUENCE, &body)
}

/// An odd modulus of exactly `bits` bits.
fn modulus(bits: usize) -> Vec<u8> {
    let mut n = alloc::vec![0xffu8; bits / 8];
    n[0] = 0xc3;
    n
}

#[test]
fn rfc8463_appendix_a_2_rsa_key_loads_as_spki_and_as_pkcs1() {
    let spki = rfc8463_rsa_spki();
    let key = load_rsa(&spki).unwrap();
    assert_eq!(key.bits(), 1024);
    assert!(!key.is_weak());
    // The PKCS#1 RSAPublicKey inside: the BIT STRING contents after 22 bytes
    // of SPKI framing.
    let key2 = load_rsa(&spki[22..]).unwrap();
    assert_eq!(key2.key(), key.key());
    assert!(matches!(
        PublicKey::load(KeyType::Rsa, &spki).unwrap(),
        PublicKey::Rsa(_)
    ));
}

#[test]
fn rfc8463_appendix_a_2_ed25519_key_loads() {
    let rec = KeyRecord::parse(crate::dkim::key_record::tests::RFC8463_ED25519_RECORD).unwrap();
    let key = load_ed25519(rec.public_key_bytes()).unwrap();
    assert_eq!(key.as_bytes(), rec.public_key_bytes());
    assert!(matches!(
        PublicKey::load(KeyType::Ed25519, rec.public_key_bytes()).unwrap(),
        PublicKey::Ed25519(_)
    ));
    assert_eq!(
        load_ed25519(&[0; 31]).unwrap_err(),
        PublicKeyError::Ed25519Length
    );
    assert_eq!(
        load_ed25519(&[0; 33]).unwrap_err(),
        PublicKeyError::Ed25519Length
    );
    // The RSA key's bytes are not an Ed25519 key.
    assert_eq!(
        PublicKey::load(KeyType::Ed25519, &rfc8463_rsa_spki()).unwrap_err(),
        PublicKeyError::Ed25519Length
    );
}

#[test]
fn row_16_modulus_over_8192_bits_is_refused() {
    let der = spki(&pkcs1(&modulus(16384), &[1, 0, 1]));
    assert_eq!(
        load_rsa(&der).unwrap_err(),
        PublicKeyError::ModulusTooLarge { bits: 16384 }
    );
    let der = pkcs1(&modulus(8200), &[1, 0, 1]);
    assert_eq!(
        load_rsa(&der).unwrap_err(),
        PublicKeyError::ModulusTooLarge { bits: 8200 }
    );
    // 8192 is the ceiling, inclusive.
    let key = load_rsa(&spki(&pkcs1(&modulus(8192), &[1, 0, 1]))).unwrap();
    assert_eq!(key.bits(), 8192);
}

#[test]
fn row_16_exponent_over_2_pow_33_is_refused() {
    let n = modulus(2048);
    // 2^33 + 1 (odd).
    assert_eq!(
        load_rsa(&pkcs1(&n, &[0x02, 0, 0, 0, 0x01])).unwrap_err(),
        PublicKeyError::ExponentTooLarge
    );
    // A 1000-byte exponent: refused on its length.
    let mut huge = alloc::vec![0xffu8; 1000];
    huge[0] = 0x7f;
    assert_eq!(
        load_rsa(&pkcs1(&n, &huge)).unwrap_err(),
        PublicKeyError::ExponentTooLarge
    );
    // 2^33 - 1 is the ceiling.
    assert!(load_rsa(&pkcs1(&n, &[0x01, 0xff, 0xff, 0xff, 0xff])).is_ok());
}

#[test]
fn rfc8301_small_keys_are_flagged_or_refused() {
    let key = load_rsa(&spki(&pkcs1(&modulus(512), &[1, 0, 1]))).unwrap();
    assert_eq!(key.bits(), 512);
    assert!(key.is_weak());
    let key = load_rsa(&spki(&pkcs1(&modulus(1016), &[1, 0, 1]))).unwrap();
    assert!(key.is_weak());
    assert_eq!(
        load_rsa(&pkcs1(&modulus(256), &[1, 0, 1])).unwrap_err(),
        PublicKeyError::ModulusTooSmall { bits: 256 }
    );
}

#[test]
fn bad_keys() {
    let n = modulus(1024);
    assert_eq!(
        load_rsa(&pkcs1(&n, &[2])).unwrap_err(),
        PublicKeyError::BadExponent
    );
    assert_eq!(
        load_rsa(&pkcs1(&n, &[1])).unwrap_err(),
        PublicKeyError::BadExponent
    );
    let mut even = n.clone();
    *even.last_mut().unwrap() = 0xfe;
    assert_eq!(
        load_rsa(&pkcs1(&even, &[1, 0, 1])).unwrap_err(),
        PublicKeyError::BadModulus
    );
    // Negative modulus (no leading zero before a set top bit).
    let mut body = tlv(INTEGER, &n);
    body.extend(tlv(INTEGER, &[1, 0, 1]));
    assert_eq!(
        load_rsa(&tlv(SEQUENCE, &body)).unwrap_err(),
        PublicKeyError::BadModulus
    );
    // Another algorithm's OID (id-ecPublicKey).
    let mut alg = tlv(
        OBJECT_IDENTIFIER,
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
    );
    alg.extend_from_slice(&[NULL, 0]);
    let mut body = tlv(SEQUENCE, &alg);
    body.extend(tlv(BIT_STRING, &[0, 1, 2, 3]));
    assert_eq!(
        load_rsa(&tlv(SEQUENCE, &body)).unwrap_err(),
        PublicKeyError::NotRsa
    );
    // Trailing bytes, truncation, empty.
    let mut trailing = rfc8463_rsa_spki();
    trailing.push(0);
    assert_eq!(load_rsa(&trailing).unwrap_err(), PublicKeyError::BadDer);
    assert_eq!(load_rsa(&[]).unwrap_err(), PublicKeyError::BadDer);
    assert_eq!(load_rsa(&[0x30, 0x80]).unwrap_err(), PublicKeyError::BadDer);
}

#[test]
fn every_prefix_and_random_changes_are_handled_without_panic() {
    let spki = rfc8463_rsa_spki();
    for end in 0..spki.len() {
        assert!(load_rsa(&spki[..end]).is_err());
    }
    let mut rng = crate::test_support::XorShift::new(0x5eed_0003);
    let mut buf = spki.clone();
    for _ in 0..3_000 {
        buf.copy_from_slice(&spki);
        // Mostly hit the framing, where the interesting bugs are.
        for _ in 0..=rng.below(3) {
            let at = if rng.below(2) == 0 {
                rng.below(30)
            } else {
                rng.below(buf.len())
            };
            buf[at] = rng.next() as u8;
        }
        let _ = load_rsa(&buf);
    }
    for _ in 0..3_000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = load_rsa(&bytes);
        let _ = PublicKey::load(KeyType::Ed25519, &bytes);
    }
}
