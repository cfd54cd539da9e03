//! Tests for key records: RFC 8463 Appendix A.2, RFC 6376 §3.6.1 tags,
//! DomainKeys records, and the parser-level security cases.

use super::*;

/// RFC 8463 Appendix A.2, brisbane._domainkey.football.example.com.
pub(crate) const RFC8463_ED25519_RECORD: &[u8] =
    b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// RFC 8463 Appendix A.2, test._domainkey.football.example.com.
pub(crate) const RFC8463_RSA_RECORD: &[u8] = b"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

#[test]
fn rfc8463_appendix_a_2_ed25519_record() {
    let rec = KeyRecord::parse(RFC8463_ED25519_RECORD).unwrap();
    assert_eq!(rec.key_type, KeyType::Ed25519);
    assert_eq!(rec.public_key_bytes().len(), 32);
    assert_eq!(rec.public_key_bytes()[..4], [0xd7, 0x5a, 0x98, 0x01]);
    assert_eq!(rec.check_use(SignatureAlgorithm::Ed25519Sha256), Ok(()));
    assert_eq!(
        rec.check_use(SignatureAlgorithm::RsaSha256),
        Err(KeyUseError::KeyTypeMismatch)
    );
}

#[test]
fn rfc8463_appendix_a_2_rsa_record() {
    let rec = KeyRecord::parse(RFC8463_RSA_RECORD).unwrap();
    assert_eq!(rec.key_type, KeyType::Rsa);
    assert_eq!(rec.public_key_bytes().len(), 162);
    assert_eq!(rec.flags, KeyFlags::default());
    assert_eq!(rec.hashes, AcceptableHashes::ALL);
    assert!(rec.email_service);
    assert_eq!(rec.check_use(SignatureAlgorithm::RsaSha256), Ok(()));
}

#[test]
fn rfc6376_section_3_6_1_tags_and_defaults() {
    let rec = KeyRecord::parse(b"p=AAAA").unwrap();
    assert_eq!(rec.key_type, KeyType::Rsa);
    assert_eq!(rec.hashes, AcceptableHashes::ALL);
    assert!(rec.email_service);
    assert_eq!(rec.flags, KeyFlags::default());
    assert_eq!(rec.notes, None);

    let rec = KeyRecord::parse(
        b"v=DKIM1; h=sha256 : sha512; k=rsa; n=a=20note; s=email:other; t=y:s:x; p=AAAA",
    )
    .unwrap();
    assert_eq!(
        rec.hashes,
        AcceptableHashes {
            sha1: false,
            sha256: true
        }
    );
    assert!(rec.email_service);
    assert_eq!(
        rec.flags,
        KeyFlags {
            testing: true,
            strict: true
        }
    );
    assert_eq!(rec.notes, Some("a=20note"));
    assert_eq!(rec.granularity, None);

    let rec = KeyRecord::parse(b"s=*; p=AAAA").unwrap();
    assert!(rec.email_service);
    let rec = KeyRecord::parse(b"s=other; p=AAAA").unwrap();
    assert!(!rec.email_service);
    assert_eq!(
        rec.check_use(SignatureAlgorithm::RsaSha256),
        Err(KeyUseError::ServiceNotEmail)
    );
    // Unknown tags, and g= in a DKIM record, are ignored.
    assert!(KeyRecord::parse(b"v=DKIM1; g=*; zz=1; p=AAAA").is_ok());
    // Trailing ';' and whitespace as DNS publishers write them.
    assert!(KeyRecord::parse(b"v=DKIM1; k=rsa; p=AAAA; ").is_ok());
}

#[test]
fn missing_p_and_unknown_k_are_errors() {
    assert_eq!(
        KeyRecord::parse(b"v=DKIM1; k=rsa").unwrap_err(),
        KeyRecordError::MissingPublicKey
    );
    assert_eq!(
        KeyRecord::parse(b"k=dsa; p=AAAA").unwrap_err(),
        KeyRecordError::UnknownKeyType
    );
    assert_eq!(
        KeyRecord::parse(b"p=AA!A").unwrap_err(),
        KeyRecordError::BadBase64(Base64Error::InvalidByte { offset: 2 })
    );
    assert!(matches!(
        KeyRecord::parse(b"p=AAAA; p=AAAA").unwrap_err(),
        KeyRecordError::TagList(TagListError::DuplicateTag { .. })
    ));
}

#[test]
fn row_10_key_hash_or_type_not_matching_the_signature() {
    let rec = KeyRecord::parse(b"v=DKIM1; h=sha1; p=AAAA").unwrap();
    assert_eq!(
        rec.check_use(SignatureAlgorithm::RsaSha256),
        Err(KeyUseError::HashNotAllowed)
    );
    assert_eq!(rec.check_use(SignatureAlgorithm::RsaSha1), Ok(()));
    let rec = KeyRecord::parse(b"v=DKIM1; k=ed25519; p=AAAA").unwrap();
    assert_eq!(
        rec.check_use(SignatureAlgorithm::RsaSha256),
        Err(KeyUseError::KeyTypeMismatch)
    );
    // An h= of only unknown algorithms allows nothing.
    let rec = KeyRecord::parse(b"h=md5; p=AAAA").unwrap();
    assert_eq!(
        rec.check_use(SignatureAlgorithm::RsaSha256),
        Err(KeyUseError::HashNotAllowed)
    );
}

#[test]
fn row_11_empty_p_is_revoked() {
    for txt in [&b"v=DKIM1; p="[..], b"v=DKIM1; k=rsa; p=; n=gone", b"p= "] {
        let rec = KeyRecord::parse(txt).unwrap();
        assert!(rec.is_revoked());
        assert_eq!(
            rec.check_use(SignatureAlgorithm::RsaSha256),
            Err(KeyUseError::Revoked)
        );
    }
}

#[test]
fn row_14_version_must_be_dkim1_and_first() {
    assert_eq!(
        KeyRecord::parse(b"v=DKIM2; p=AAAA").unwrap_err(),
        KeyRecordError::UnsupportedVersion
    );
    for v in [
        &b"v=dkim1; p=AAAA"[..],
        b"v=DKIM; p=AAAA",
        b"v=; p=AAAA",
        b"v=1; p=AAAA",
    ] {
        assert_eq!(
            KeyRecord::parse(v).unwrap_err(),
            KeyRecordError::UnsupportedVersion
        );
    }
    assert_eq!(
        KeyRecord::parse(b"k=rsa; v=DKIM1; p=AAAA").unwrap_err(),
        KeyRecordError::VersionNotFirst
    );
    assert!(KeyRecord::parse(b" v = DKIM1 ; p=AAAA").is_ok());
}

#[test]
fn row_16_oversized_key_is_refused_at_the_record() {
    // 16384 bits of p= do not fit the buffer: refused before any key
    // arithmetic. (public_key's tests check the loader's own limit.)
    let mut txt = alloc::string::String::from("v=DKIM1; p=");
    for _ in 0..(2100 / 3) {
        txt.push_str("AAAA");
    }
    assert_eq!(
        KeyRecord::parse(txt.as_bytes()).unwrap_err(),
        KeyRecordError::KeyTooLarge
    );
}

#[test]
fn domainkeys_records() {
    // RFC 4870 §3.2.3 tags.
    let rec = KeyRecord::parse_domainkeys(b"g=*; k=rsa; n=note; t=y; p=AAAA").unwrap();
    assert_eq!(rec.syntax, RecordSyntax::DomainKeys);
    assert_eq!(rec.granularity, Some("*"));
    assert!(rec.flags.testing);
    assert_eq!(rec.notes, Some("note"));
    // DomainKeys knows only t=y and k=rsa.
    let rec = KeyRecord::parse_domainkeys(b"t=s; p=AAAA").unwrap();
    assert!(!rec.flags.strict);
    assert_eq!(
        KeyRecord::parse_domainkeys(b"k=ed25519; p=AAAA").unwrap_err(),
        KeyRecordError::UnknownKeyType
    );
    assert!(KeyRecord::parse_domainkeys(b"p=").unwrap().is_revoked());
}

#[test]
fn every_prefix_and_random_bytes_are_handled_without_panic() {
    for record in [RFC8463_ED25519_RECORD, RFC8463_RSA_RECORD] {
        for end in 0..=record.len() {
            let _ = KeyRecord::parse(&record[..end]);
            let _ = KeyRecord::parse_domainkeys(&record[..end]);
        }
    }
    let mut rng = crate::test_support::XorShift::new(0x5eed_0002);
    let mut buf = [0u8; 300];
    for _ in 0..4_000 {
        let base = [RFC8463_ED25519_RECORD, RFC8463_RSA_RECORD][rng.below(2)];
        let buf = &mut buf[..base.len()];
        buf.copy_from_slice(base);
        for _ in 0..=rng.below(4) {
            let at = rng.below(buf.len());
            buf[at] = rng.byte_from(b"\0;=: \t\r\nAa/+\x80\xffvpk");
        }
        let _ = KeyRecord::parse(buf);
    }
    for _ in 0..2_000 {
        let len = rng.below(300);
        for b in buf[..len].iter_mut() {
            *b = rng.next() as u8;
        }
        let _ = KeyRecord::parse(&buf[..len]);
    }
}
