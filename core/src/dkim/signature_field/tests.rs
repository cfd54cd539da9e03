//! Tests for the DKIM-Signature parser: RFC 6376 and RFC 8463 examples and
//! the parser-level security cases of `security-cases.md`.

use super::*;
use crate::canon::Canon;

/// RFC 6376 §3.5, the example at the end of the section.
const RFC6376_3_5: &[u8] = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.net; s=brisbane;\r\n     c=simple; q=dns/txt; i=@eng.example.net;\r\n     t=1117574938; x=1118006938;\r\n     h=from:to:subject:date;\r\n     z=From:foo@eng.example.net|To:joe@example.com|\r\n       Subject:demo=20run|Date:July=205,=202005=203:44:08=20PM=20-0700;\r\n     bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=;\r\n     b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZ\r\n              VoG4ZHRNiYzR";

/// RFC 6376 Appendix A.2.
const RFC6376_A_2: &[u8] = b"DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n      h=Received : From : To : Subject : Date : Message-ID;\r\n      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n        4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n        KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n        4bmp/YzhwvcubU4=;";

/// RFC 8463 Appendix A.3, the Ed25519 signature.
const RFC8463_ED25519: &[u8] = b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n subject : date : message-id : from : subject : date;\r\n bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";

/// RFC 8463 Appendix A.3, the RSA signature.
const RFC8463_RSA: &[u8] = b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n date : message-id : from : subject : date;\r\n bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=";

/// A minimal valid value to which each test adds or changes one tag.
const BASE: &str = "v=1; a=rsa-sha256; d=legit.com; s=sel; h=from:to; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA";

fn parse_str(value: &str) -> Result<DkimSignature<'_>, SignatureFieldError> {
    DkimSignature::parse(value.as_bytes())
}

/// `BASE` with `tag=...` replaced by (or, if absent, extended with) `spec`.
fn with(spec: &str) -> &'static str {
    let name = spec.split('=').next().unwrap();
    let mut out = heapless::String::<4096>::new();
    let mut replaced = false;
    for part in BASE.split("; ") {
        let part_name = part.split('=').next().unwrap();
        if !out.is_empty() {
            out.push_str("; ").unwrap();
        }
        if part_name == name {
            out.push_str(spec).unwrap();
            replaced = true;
        } else {
            out.push_str(part).unwrap();
        }
    }
    if !replaced {
        out.push_str("; ").unwrap();
        out.push_str(spec).unwrap();
    }
    leak(&out)
}

/// Test values live for the whole test run.
fn leak(s: &str) -> &'static str {
    alloc::boxed::Box::leak(alloc::string::String::from(s).into_boxed_str())
}

/// `BASE` without the named tag.
fn without(name: &str) -> &'static str {
    let mut out = heapless::String::<4096>::new();
    for part in BASE.split("; ") {
        if part.split('=').next().unwrap() == name {
            continue;
        }
        if !out.is_empty() {
            out.push_str("; ").unwrap();
        }
        out.push_str(part).unwrap();
    }
    leak(&out)
}

#[test]
fn base_is_valid() {
    let sig = parse_str(BASE).unwrap();
    assert_eq!(sig.domain, "legit.com");
    assert_eq!(sig.signature(), &[0, 0, 0]);
}

#[test]
fn rfc6376_section_3_5_example() {
    let sig = DkimSignature::parse_field(RFC6376_3_5).unwrap();
    assert_eq!(sig.algorithm, SignatureAlgorithm::RsaSha256);
    assert_eq!(sig.domain, "example.net");
    assert_eq!(sig.selector, "brisbane");
    assert_eq!(sig.canonicalization, Canonicalization::SIMPLE);
    assert_eq!(sig.identity, Some("@eng.example.net"));
    assert_eq!(sig.identity_domain(), "eng.example.net");
    assert_eq!(sig.timestamp, Some(1117574938));
    assert_eq!(sig.expiration, Some(1118006938));
    assert_eq!(sig.body_length, None);
    assert!(
        sig.copied_headers
            .unwrap()
            .starts_with("From:foo@eng.example.net|")
    );
    let names: heapless::Vec<&str, 8> = sig.signed_headers().collect();
    assert_eq!(names.as_slice(), &["from", "to", "subject", "date"]);
    assert_eq!(sig.body_hash(), b"12345678901234567890123456789012");
    assert_eq!(sig.signature().len(), 48);
    assert_eq!(
        sig.b_value_span.get(RFC6376_3_5).unwrap(),
        b"dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZ\r\n              VoG4ZHRNiYzR"
    );
}

#[test]
fn rfc6376_appendix_a_2_example() {
    let sig = DkimSignature::parse_field(RFC6376_A_2).unwrap();
    assert_eq!(sig.domain, "example.com");
    assert_eq!(sig.identity_domain(), "football.example.com");
    let names: heapless::Vec<&str, 8> = sig.signed_headers().collect();
    assert_eq!(
        names.as_slice(),
        &["Received", "From", "To", "Subject", "Date", "Message-ID"]
    );
    assert_eq!(sig.signature().len(), 128, "RSA-1024 signature");
    // The deleted part runs from after "b=" to the final ';'.
    let (before, after) = sig.hash_parts();
    assert!(before.ends_with(b"\r\n      b="));
    assert_eq!(after, b";");
}

#[test]
fn rfc8463_appendix_a_ed25519_signature() {
    let sig = DkimSignature::parse_field(RFC8463_ED25519).unwrap();
    assert_eq!(sig.algorithm, SignatureAlgorithm::Ed25519Sha256);
    assert_eq!(sig.algorithm.key_type(), KeyType::Ed25519);
    assert_eq!(sig.canonicalization, Canonicalization::RELAXED);
    assert_eq!(sig.domain, "football.example.com");
    assert_eq!(sig.selector, "brisbane");
    assert_eq!(sig.timestamp, Some(1528637909));
    assert_eq!(sig.signature().len(), 64);
    let names: heapless::Vec<&str, 8> = sig.signed_headers().collect();
    assert_eq!(
        names.as_slice(),
        &[
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "from",
            "subject",
            "date"
        ]
    );
    assert_eq!(
        sig.body_hash(),
        &[
            0xda, 0x35, 0x12, 0x38, 0x7f, 0x4d, 0x86, 0xd5, 0x46, 0x09, 0x05, 0x8d, 0xaf, 0xd0,
            0x6b, 0x20, 0x03, 0xeb, 0x78, 0xa4, 0x23, 0x3b, 0xa4, 0xa7, 0xed, 0x72, 0x24, 0x7c,
            0x95, 0x4e, 0xce, 0xff
        ]
    );
    let (before, after) = sig.hash_parts();
    assert!(before.ends_with(b"\r\n b="));
    assert!(after.is_empty());
}

#[test]
fn rfc8463_appendix_a_rsa_signature() {
    let sig = DkimSignature::parse_field(RFC8463_RSA).unwrap();
    assert_eq!(sig.algorithm, SignatureAlgorithm::RsaSha256);
    assert_eq!(sig.selector, "test");
    assert_eq!(sig.signature().len(), 128);
    assert_eq!(sig.b_deleted_span.end, RFC8463_RSA.len());
}

#[test]
fn field_name_is_checked_case_insensitively() {
    assert!(DkimSignature::parse_field(b"dkim-signature :v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA").is_ok());
    assert_eq!(
        DkimSignature::parse_field(b"X-DKIM-Signature: v=1").unwrap_err(),
        SignatureFieldError::NotDkimSignature
    );
    assert_eq!(
        DkimSignature::parse_field(b"DKIM-Signature v=1").unwrap_err(),
        SignatureFieldError::NotDkimSignature
    );
}

#[test]
fn defaults() {
    let sig = parse_str(BASE).unwrap();
    assert_eq!(sig.canonicalization, Canonicalization::SIMPLE);
    assert_eq!(sig.identity, None);
    assert_eq!(sig.identity_domain(), "legit.com");
    assert_eq!(sig.timestamp, None);
    assert_eq!(sig.expiration, None);
    assert_eq!(sig.body_length, None);
    let sig = parse_str(with("c=relaxed")).unwrap();
    assert_eq!(sig.canonicalization.header, Canon::Relaxed);
    assert_eq!(sig.canonicalization.body, Canon::Simple);
}

#[test]
fn algorithms() {
    assert_eq!(
        parse_str(with("a=ed25519-sha256")).unwrap().algorithm,
        SignatureAlgorithm::Ed25519Sha256
    );
    // rsa-sha1 is recognised (so policy can refuse it) and its bh= is 20 bytes.
    let sha1 = with("a=rsa-sha1");
    assert_eq!(
        parse_str(sha1).unwrap_err(),
        SignatureFieldError::BodyHashLength
    );
    let sha1 = replace_bh(sha1, "bh=qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    assert_eq!(
        parse_str(sha1).unwrap().algorithm,
        SignatureAlgorithm::RsaSha1
    );
    assert_eq!(
        parse_str(with("a=rsa-md5")).unwrap_err(),
        SignatureFieldError::UnknownAlgorithm
    );
    assert_eq!(
        parse_str(with("c=relaxed/fancy")).unwrap_err(),
        SignatureFieldError::UnknownCanonicalization
    );
}

fn replace_bh(value: &str, bh: &str) -> &'static str {
    let mut out = heapless::String::<4096>::new();
    for part in value.split("; ") {
        if !out.is_empty() {
            out.push_str("; ").unwrap();
        }
        out.push_str(if part.starts_with("bh=") { bh } else { part })
            .unwrap();
    }
    leak(&out)
}

#[test]
fn body_length_and_query_method() {
    assert_eq!(parse_str(with("l=200")).unwrap().body_length, Some(200));
    assert_eq!(parse_str(with("l=0")).unwrap().body_length, Some(0));
    for bad in ["l=", "l=-1", "l=1x", "l=99999999999999999999999"] {
        assert_eq!(
            parse_str(with(bad)).unwrap_err(),
            SignatureFieldError::BadBodyLength,
            "{bad}"
        );
    }
    assert!(parse_str(with("q=dns/txt")).is_ok());
    assert!(parse_str(with("q=other:dns/txt")).is_ok());
    assert_eq!(
        parse_str(with("q=http")).unwrap_err(),
        SignatureFieldError::UnsupportedQueryMethod
    );
}

#[test]
fn unknown_tags_are_ignored() {
    assert!(parse_str(with("zz=whatever")).is_ok());
}

#[test]
fn row_05_nul_in_selector_or_domain_is_permerror() {
    for v in [
        with("s=attack.com.\0.any"),
        with("d=legit.com\0.attack.com"),
    ] {
        assert!(matches!(
            parse_str(v).unwrap_err(),
            SignatureFieldError::TagList(TagListError::BadValueByte { .. })
        ));
    }
    // And the name check on its own, for callers that build names another way.
    assert_eq!(check_dns_name(b"attack.com.\0.any"), Err(NameError::Nul));
}

#[test]
fn row_06_parenthesis_quotes_and_semicolon_in_domain_are_permerror() {
    for (spec, err) in [
        (
            "d=legit.com(.attack.com",
            SignatureFieldError::BadDomain(NameError::ForbiddenByte),
        ),
        (
            "d=legit.com\".attack.com",
            SignatureFieldError::BadDomain(NameError::ForbiddenByte),
        ),
        (
            "d=legit.com'.attack.com",
            SignatureFieldError::BadDomain(NameError::ForbiddenByte),
        ),
        (
            "s=sel(.x",
            SignatureFieldError::BadSelector(NameError::ForbiddenByte),
        ),
        (
            "s=\"sel\"",
            SignatureFieldError::BadSelector(NameError::ForbiddenByte),
        ),
        (
            "d=legit.com..x",
            SignatureFieldError::BadDomain(NameError::EmptyLabel),
        ),
        (
            "d=-legit.com",
            SignatureFieldError::BadDomain(NameError::HyphenAtLabelEdge),
        ),
        (
            "d=a@b.com",
            SignatureFieldError::BadDomain(NameError::ForbiddenByte),
        ),
    ] {
        assert_eq!(parse_str(with(spec)).unwrap_err(), err, "{spec}");
    }
    // ';' ends the tag, so what follows is a bad tag-spec.
    assert!(matches!(
        parse_str(with("d=legit.com;.attack.com")).unwrap_err(),
        SignatureFieldError::TagList(TagListError::BadTagName { .. })
    ));
}

#[test]
fn row_08_identity_outside_domain_is_a_domain_mismatch() {
    assert_eq!(
        parse_str(with("i=@notlegit.com")).unwrap_err(),
        SignatureFieldError::IdentityNotInDomain
    );
    // A plain suffix is not enough: labels must match.
    assert_eq!(
        parse_str(with("i=user@evillegit.com")).unwrap_err(),
        SignatureFieldError::IdentityNotInDomain
    );
    assert_eq!(
        parse_str(with("i=@com")).unwrap_err(),
        SignatureFieldError::IdentityNotInDomain
    );
    let sig = parse_str(with("i=joe@sub.LEGIT.com")).unwrap();
    assert_eq!(sig.identity_domain(), "sub.LEGIT.com");
    assert!(parse_str(with("i=@legit.com")).is_ok());
    assert_eq!(
        parse_str(with("i=legit.com")).unwrap_err(),
        SignatureFieldError::BadIdentity
    );
}

#[test]
fn row_17_timestamps() {
    // x <= t is permerror.
    assert_eq!(
        parse_str(with("t=100; x=100")).unwrap_err(),
        SignatureFieldError::ExpiresBeforeSigned
    );
    assert_eq!(
        parse_str(with("t=100; x=99")).unwrap_err(),
        SignatureFieldError::ExpiresBeforeSigned
    );
    let sig = parse_str(with("t=100; x=101")).unwrap();
    assert_eq!((sig.timestamp, sig.expiration), (Some(100), Some(101)));
    // 25 digits: infinite, no overflow.
    let sig = parse_str(with("x=9999999999999999999999999")).unwrap();
    assert_eq!(sig.expiration, Some(FAR_FUTURE));
    let sig = parse_str(with("t=1528637909; x=1000000000000000000000000")).unwrap();
    assert_eq!(sig.expiration, Some(FAR_FUTURE));
    // A t= of 25 digits is in the infinite future too; with a smaller x=
    // that is x <= t.
    assert_eq!(
        parse_str(with("t=1000000000000000000000000; x=1528637909")).unwrap_err(),
        SignatureFieldError::ExpiresBeforeSigned
    );
    // Leading zeros do not count.
    let sig = parse_str(with("t=00000000000000000000042")).unwrap();
    assert_eq!(sig.timestamp, Some(42));
    // Exactly 12 digits is a plain number.
    let sig = parse_str(with("x=999999999999")).unwrap();
    assert_eq!(sig.expiration, Some(999_999_999_999));
    for bad in ["t=", "t=-1", "t=12a", "t=1 2"] {
        assert_eq!(
            parse_str(with(bad)).unwrap_err(),
            SignatureFieldError::BadTimestamp(SignatureTag::T),
            "{bad}"
        );
    }
    assert_eq!(
        parse_str(with("x=+5")).unwrap_err(),
        SignatureFieldError::BadTimestamp(SignatureTag::X)
    );
}

#[test]
fn row_18_duplicate_missing_and_version() {
    // Duplicate d=.
    let dup = alloc::format!("{BASE}; d=attack.com");
    assert!(matches!(
        parse_str(&dup),
        Err(SignatureFieldError::TagList(
            TagListError::DuplicateTag { .. }
        ))
    ));
    // Every required tag.
    for (name, tag) in [
        ("v", SignatureTag::V),
        ("a", SignatureTag::A),
        ("b", SignatureTag::B),
        ("bh", SignatureTag::Bh),
        ("d", SignatureTag::D),
        ("h", SignatureTag::H),
        ("s", SignatureTag::S),
    ] {
        assert_eq!(
            parse_str(without(name)).unwrap_err(),
            SignatureFieldError::MissingTag(tag),
            "{name}"
        );
    }
    // h= without From.
    assert_eq!(
        parse_str(with("h=to:subject")).unwrap_err(),
        SignatureFieldError::FromNotSigned
    );
    assert!(parse_str(with("h=To : FROM")).is_ok());
    for bad in ["h=from::to", "h=from:", "h=:from", "h=fr om"] {
        assert_eq!(
            parse_str(with(bad)).unwrap_err(),
            SignatureFieldError::BadSignedHeaderName,
            "{bad}"
        );
    }
    // A hostile h= of thousands of names.
    let mut h = alloc::string::String::from("h=from");
    for _ in 0..MAX_SIGNED_HEADERS {
        h.push_str(":x");
    }
    assert_eq!(
        parse_str(with(&h)).unwrap_err(),
        SignatureFieldError::TooManySignedHeaders
    );
    h.truncate(h.len() - 2);
    assert!(parse_str(with(&h)).is_ok());
    // v=2, and other versions.
    for v in ["v=2", "v=", "v=01", "v=1.0", "v=DKIM1"] {
        assert_eq!(
            parse_str(with(v)).unwrap_err(),
            SignatureFieldError::UnsupportedVersion,
            "{v}"
        );
    }
}

#[test]
fn row_19_base64_with_fws_is_decoded_and_bad_base64_is_permerror() {
    let sig = parse_str(with("b=AA\r\n A A")).unwrap();
    assert_eq!(sig.signature(), &[0, 0, 0]);
    // Plain WSP inside a value is FWS too, even before the padding.
    let sig = parse_str(with("bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8 =")).unwrap();
    assert_eq!(sig.body_hash().len(), 32);
    let sig = parse_str(with(
        "bh=2jUSOH9NhtVGCQWNr9Br\r\n\tIAPreKQjO6Sn7XIkfJVOzv8=",
    ))
    .unwrap();
    assert_eq!(sig.body_hash().len(), 32);
    for (spec, tag) in [
        ("b=AA!A", SignatureTag::B),
        ("b=AAA", SignatureTag::B),
        ("b=A===", SignatureTag::B),
        (
            "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8",
            SignatureTag::Bh,
        ),
        (
            "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=AAAA",
            SignatureTag::Bh,
        ),
        (
            "bh=*jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
            SignatureTag::Bh,
        ),
    ] {
        assert!(
            matches!(
                parse_str(with(spec)).unwrap_err(),
                SignatureFieldError::BadBase64 { tag: t, .. } if t == tag
            ),
            "{spec}"
        );
    }
    // Empty values are missing values.
    assert_eq!(
        parse_str(with("b=")).unwrap_err(),
        SignatureFieldError::MissingTag(SignatureTag::B)
    );
    assert_eq!(
        parse_str(with("bh=")).unwrap_err(),
        SignatureFieldError::MissingTag(SignatureTag::Bh)
    );
    // A short bh= for the algorithm.
    assert_eq!(
        parse_str(with("bh=AAAA")).unwrap_err(),
        SignatureFieldError::BodyHashLength
    );
    // A b= longer than RSA-8192 is refused, not truncated.
    let mut long = heapless::String::<4096>::new();
    long.push_str("b=").unwrap();
    for _ in 0..(MAX_SIGNATURE_BYTES / 3 + 1) {
        long.push_str("AAAA").unwrap();
    }
    let mut value = heapless::String::<2600>::new();
    value.push_str(without("b")).unwrap();
    value.push_str("; ").unwrap();
    value.push_str(&long).unwrap();
    assert!(matches!(
        parse_str(&value).unwrap_err(),
        SignatureFieldError::BadBase64 {
            tag: SignatureTag::B,
            reason: Base64Error::OutputTooSmall
        }
    ));
}

#[test]
fn row_21_non_utf8_and_u_labels_are_permerror() {
    for value in [
        &b"v=1; a=rsa-sha256; d=b\xc3\xbccher.example; s=sel; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA"[..],
        b"v=1; a=rsa-sha256; d=legit.com; s=sel\xff; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
        b"v=1; a=rsa-sha256; d=legit.com; s=sel; h=from; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA\x80",
        b"v=1; a=rsa-sha256; d=legit.com; s=sel; h=fr\xe9m; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA",
        b"\xfe\xff",
    ] {
        assert!(matches!(
            DkimSignature::parse(value).unwrap_err(),
            SignatureFieldError::TagList(_)
        ));
    }
    // U-labels are refused by the name check too.
    assert_eq!(
        check_dns_name("bücher.example".as_bytes()),
        Err(NameError::NonAscii)
    );
    // A-labels are fine.
    assert!(parse_str(with("d=xn--bcher-kva.example")).is_ok());
}

#[test]
fn every_prefix_is_handled_without_panic() {
    for field in [RFC6376_3_5, RFC6376_A_2, RFC8463_ED25519, RFC8463_RSA] {
        for end in 0..=field.len() {
            let _ = DkimSignature::parse_field(field.get(..end).unwrap());
        }
    }
}

#[test]
fn random_changes_and_random_bytes_are_handled_without_panic() {
    let mut rng = crate::test_support::XorShift::new(0x5eed_0001);
    let mut buf = [0u8; 600];
    for _ in 0..4_000 {
        let base = [RFC6376_3_5, RFC6376_A_2, RFC8463_ED25519, RFC8463_RSA][rng.below(4)];
        let len = base.len();
        let buf = &mut buf[..len];
        buf.copy_from_slice(base);
        for _ in 0..=rng.below(4) {
            let at = rng.below(len);
            buf[at] = rng.byte_from(b"\0;=: \t\r\nAa/+\x80\xff(\"'@.-1");
        }
        let cut = len - rng.below(len / 4 + 1);
        if let Ok(sig) = DkimSignature::parse_field(&buf[..cut]) {
            let (before, after) = sig.hash_parts();
            assert_eq!(before.len() + sig.b_deleted_span.len() + after.len(), cut);
        }
    }
    for _ in 0..2_000 {
        let len = rng.below(300);
        for b in buf[..len].iter_mut() {
            *b = rng.next() as u8;
        }
        let _ = DkimSignature::parse_field(&buf[..len]);
        let _ = DkimSignature::parse(&buf[..len]);
    }
}
