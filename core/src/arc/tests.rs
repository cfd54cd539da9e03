//! RFC 8617 facts about the three ARC fields, one test each; the chain
//! tests are in `validate/tests.rs`.

use super::auth_results::{results_of, split_authserv_id};
use super::*;
use crate::dkim::signature_field::SignatureFieldError;
use crate::syntax::tag_list::TagListError;

const SEAL: &[u8] =
    b"ARC-Seal: i=1; a=ed25519-sha256; cv=none; d=example.org;\r\n s=sel; t=12345; b=AAAA";
const AMS: &[u8] = b"ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/simple;\r\n d=example.org; s=sel; h=subject:date; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; b=AAAA";

#[test]
fn instance_is_1_to_50_without_leading_zero() {
    // §4.2.1: instance = %x31-35 *1DIGIT, at most 50.
    assert_eq!(parse_instance("1"), Ok(1));
    assert_eq!(parse_instance("50"), Ok(50));
    assert_eq!(parse_instance("51"), Err(InstanceError::TooHigh));
    assert_eq!(
        parse_instance("99999999999999999999999"),
        Err(InstanceError::Invalid)
    );
    for bad in ["0", "01", "", "a", "1a", "-1", " 1"] {
        assert_eq!(parse_instance(bad), Err(InstanceError::Invalid), "{bad:?}");
    }
}

#[test]
fn member_names_are_case_insensitive() {
    assert_eq!(Member::from_field_name(b"arc-seal"), Some(Member::Seal));
    assert_eq!(
        Member::from_field_name(b"ARC-MESSAGE-SIGNATURE"),
        Some(Member::MessageSignature)
    );
    assert_eq!(
        Member::from_field_name(b"Arc-Authentication-Results"),
        Some(Member::AuthResults)
    );
    assert_eq!(Member::from_field_name(b"Authentication-Results"), None);
}

#[test]
fn seal_parses_every_tag() {
    let seal = ArcSeal::parse_field(SEAL).unwrap();
    assert_eq!(seal.instance, 1);
    assert_eq!(seal.chain, ChainStatus::None);
    assert_eq!((seal.domain, seal.selector), ("example.org", "sel"));
    assert_eq!(seal.timestamp, Some(12345));
    assert_eq!(seal.signature(), &[0, 0, 0]);
    let (before, after) = seal.hash_parts();
    assert!(before.ends_with(b"b="));
    assert!(after.is_empty());
}

#[test]
fn seal_with_h_is_refused() {
    // §4.1.3: the AS has no h=; the suite's as_fields_h makes it a fail.
    let field = b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s; h=from; b=AAAA";
    assert_eq!(
        ArcSeal::parse_field(field).unwrap_err(),
        SealFieldError::HasHeaderList
    );
}

#[test]
fn seal_cv_is_case_sensitive_and_required() {
    let upper = b"ARC-Seal: i=1; a=rsa-sha256; cv=Pass; d=example.org; s=s; b=AAAA";
    assert_eq!(
        ArcSeal::parse_field(upper).unwrap_err(),
        SealFieldError::BadChainStatus
    );
    let none = b"ARC-Seal: i=1; a=rsa-sha256; d=example.org; s=s; b=AAAA";
    assert_eq!(
        ArcSeal::parse_field(none).unwrap_err(),
        SealFieldError::MissingTag("cv")
    );
}

#[test]
fn seal_refuses_bad_tags() {
    let cases: [(&[u8], SealFieldError); 7] = [
        (b"DKIM-Signature: i=1", SealFieldError::NotArcSeal),
        (
            b"ARC-Seal: a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA",
            SealFieldError::MissingTag("i"),
        ),
        (
            b"ARC-Seal: i=0; a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA",
            SealFieldError::Instance(InstanceError::Invalid),
        ),
        (
            b"ARC-Seal: i=1; a=rsa-md5; cv=none; d=example.org; s=s; b=AAAA",
            SealFieldError::UnknownAlgorithm,
        ),
        (
            b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=",
            SealFieldError::MissingTag("b"),
        ),
        (
            b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s; t=; b=AAAA",
            SealFieldError::BadTimestamp,
        ),
        (
            b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=ex..org; s=s; b=AAAA",
            SealFieldError::BadDomain(crate::syntax::dns_name::NameError::EmptyLabel),
        ),
    ];
    for (field, error) in cases {
        assert_eq!(ArcSeal::parse_field(field).unwrap_err(), error);
    }
    let dup = b"ARC-Seal: i=1; i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA";
    assert!(matches!(
        ArcSeal::parse_field(dup),
        Err(SealFieldError::TagList(TagListError::DuplicateTag { .. }))
    ));
}

#[test]
fn ams_is_a_dkim_signature_with_an_instance() {
    // §4.1.2: no v=, i= is the instance, the rest is DKIM-Signature.
    let ams = ArcMessageSignature::parse_field(AMS).unwrap();
    assert_eq!(ams.instance, 2);
    assert_eq!(ams.signature.identity, None);
    assert_eq!(ams.signature.domain, "example.org");
    assert_eq!(
        ams.signature.canonicalization.body,
        crate::canon::Canon::Simple
    );
    // h= need not name From (that is DKIM's §5.4 rule, not ARC's).
    assert_eq!(
        ams.signature
            .signed_headers()
            .collect::<alloc::vec::Vec<_>>(),
        ["subject", "date"]
    );
}

#[test]
fn ams_ignores_v_and_allows_an_empty_h() {
    let field = b"ARC-Message-Signature: v=9; i=1; a=rsa-sha256; d=example.org; s=s; h=; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; b=AAAA";
    let ams = ArcMessageSignature::parse_field(field).unwrap();
    assert_eq!(ams.signature.signed_headers().count(), 0);
}

#[test]
fn ams_refuses_arc_seal_in_h_and_a_bad_instance() {
    let seal_in_h = b"ARC-Message-Signature: i=1; a=rsa-sha256; d=example.org; s=s; h=from:ARC-Seal; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; b=AAAA";
    assert_eq!(
        ArcMessageSignature::parse_field(seal_in_h).unwrap_err(),
        AmsError::SignsArcSeal
    );
    let no_i = b"ARC-Message-Signature: a=rsa-sha256; d=example.org; s=s; h=from; bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; b=AAAA";
    assert_eq!(
        ArcMessageSignature::parse_field(no_i).unwrap_err(),
        AmsError::Instance(InstanceError::Missing)
    );
    let no_bh = b"ARC-Message-Signature: i=1; a=rsa-sha256; d=example.org; s=s; h=from; b=AAAA";
    assert!(matches!(
        ArcMessageSignature::parse_field(no_bh),
        Err(AmsError::Signature(SignatureFieldError::MissingTag(_)))
    ));
    assert_eq!(
        ArcMessageSignature::parse_field(SEAL).unwrap_err(),
        AmsError::NotAms
    );
}

#[test]
fn aar_starts_with_the_instance() {
    // §4.1.1: arc-info = instance ";" authres-payload.
    let aar = ArcAuthResults::parse_field(
        b"ARC-Authentication-Results: i=3; (c) mx.example.org 1;\r\n dkim=pass header.d=a.example",
    )
    .unwrap();
    assert_eq!(aar.instance, 3);
    assert_eq!(aar.authserv_id, b"mx.example.org");
    assert_eq!(aar.results, b"\r\n dkim=pass header.d=a.example");
    let cases: [(&[u8], AarError); 4] = [
        (
            b"ARC-Authentication-Results: mx.example.org; i=1",
            AarError::Instance(InstanceError::Missing),
        ),
        (
            b"ARC-Authentication-Results: i=1 mx.example.org; none",
            AarError::Instance(InstanceError::Invalid),
        ),
        (
            b"ARC-Authentication-Results: i=0; mx.example.org; none",
            AarError::Instance(InstanceError::Invalid),
        ),
        (b"ARC-Authentication-Results: i=1; ", AarError::NoAuthservId),
    ];
    for (field, error) in cases {
        assert_eq!(ArcAuthResults::parse_field(field).unwrap_err(), error);
    }
}

#[test]
fn results_of_matches_the_authserv_id_past_comments() {
    let value = b" (first) lists.example.org (test); arc=none;\r\n  spf=pass;  ";
    assert_eq!(
        results_of(value, b"LISTS.example.org"),
        Some(&b"arc=none;\r\n  spf=pass"[..])
    );
    assert_eq!(results_of(value, b"example.org"), None);
    assert_eq!(
        split_authserv_id(b" \"quoted id\" ; none"),
        Some((&b"\"quoted id\""[..], &b" none"[..]))
    );
    assert_eq!(split_authserv_id(b"  (only a comment)"), None);
}

#[test]
fn instance_of_reads_i_without_parsing_the_rest() {
    assert_eq!(instance_of(Member::Seal, b"ARC-Seal: junk=; i=7"), Ok(7));
    assert_eq!(
        instance_of(Member::MessageSignature, b"ARC-Message-Signature: a=b"),
        Err(InstanceError::Missing)
    );
    assert_eq!(
        instance_of(
            Member::AuthResults,
            b"ARC-Authentication-Results: i = 2 ; x"
        ),
        Ok(2)
    );
}
