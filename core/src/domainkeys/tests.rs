//! DomainKeys tests: the field, signing against a canonical form written
//! out by hand, verification at every split point, and one test per typed
//! error the issue names (a= other than rsa-sha1, a missing q=, a
//! Sender/From mismatch) and per key-record rule (g=, k=, t=y).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use rsa::traits::PublicKeyParts;

use super::*;
use crate::crypto::RsaSha256Signer;
use crate::test_support::{
    RFC8463_RSA_PEM_BODY, WEAK_RSA_PEM_BODY, b64, rng, rsa_p_value, rsa_private,
};

type Verifier = DkMessageVerifier<4>;

const MSG: &[u8] = b"From: Alice <alice@legit.com>\r\n\
To: bob@example.net\r\n\
Subject: hello\r\n  world\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
\r\n\
Body  line one.  \r\n\
\tsecond\r\n\
\r\n\
\r\n";

fn key() -> rsa::PrivateKey {
    rsa_private(RFC8463_RSA_PEM_BODY)
}

fn record(extra: &str) -> String {
    format!("{extra}k=rsa; p={}", rsa_p_value(&key()))
}

/// An RSA-SHA1 signer with no size floor (for the weak-key test).
struct AnyRsa(rsa::PrivateKey);

impl Sha1DigestSigner for AnyRsa {
    fn signature_len(&self) -> usize {
        self.0.size()
    }
    fn sign_sha1_digest(&mut self, digest: &[u8; 20], out: &mut [u8]) -> Result<usize, Error> {
        let sig = self
            .0
            .sign_with_rng(&mut rng(9), rsa::Pkcs1v15Sign::new::<Sha1>(), digest)
            .unwrap();
        out[..sig.len()].copy_from_slice(&sig);
        Ok(sig.len())
    }
}

fn request(canon: DkCanon) -> DkSignRequest<'static> {
    DkSignRequest::new("legit.com", "sel", canon)
}

fn try_sign(req: &DkSignRequest<'_>, msg: &[u8]) -> Result<Vec<u8>, Error> {
    let mut signer = DkSigner::new(req)?;
    signer.update(msg)?;
    let mut key = RsaSha256Signer::new(key(), rng(1)).unwrap();
    let mut out = vec![0u8; 2048];
    let n = signer.finish(&mut key, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// The signed message: the new field on top.
fn sign(req: &DkSignRequest<'_>, msg: &[u8]) -> Vec<u8> {
    let field = try_sign(req, msg).unwrap();
    prepend(&field, msg)
}

fn prepend(field: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut out = field.to_vec();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(msg);
    out
}

type Found = (Verdict, DkReason);

fn verify_chunks(msg: &[u8], cuts: &[usize], answer: KeyAnswer<'_>) -> Vec<DkResult> {
    let mut v = Verifier::default();
    let mut at = 0;
    for &cut in cuts {
        v.update(&msg[at..cut]).unwrap();
        at = cut;
    }
    v.update(&msg[at..]).unwrap();
    v.end_of_input().unwrap();
    let ids: Vec<usize> = v.key_requests().map(|(id, _)| id).collect();
    for id in ids {
        v.provide_key(id, answer);
    }
    v.finish().unwrap().into_iter().collect()
}

fn verify_with(msg: &[u8], records: &[&str]) -> Vec<Found> {
    let recs: Vec<&[u8]> = records.iter().map(|r| r.as_bytes()).collect();
    verify_chunks(msg, &[], KeyAnswer::Records(&recs))
        .into_iter()
        .map(|r| (r.verdict, r.reason))
        .collect()
}

fn verify(msg: &[u8]) -> Vec<Found> {
    verify_with(msg, &[&record("")])
}

const PASS: Found = (Verdict::Pass, DkReason::Verified);

/// The canonical form of MSG, written out from RFC 4870 §3.4.
fn canonical_by_hand(canon: DkCanon) -> Vec<u8> {
    match canon {
        DkCanon::Simple => b"From: Alice <alice@legit.com>\r\n\
To: bob@example.net\r\n\
Subject: hello\r\n  world\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
\r\n\
Body  line one.  \r\n\
\tsecond\r\n"
            .to_vec(),
        DkCanon::Nofws => b"From:Alice<alice@legit.com>\r\n\
To:bob@example.net\r\n\
Subject:helloworld\r\n\
Date:Sat,28Nov202610:00:00+0000\r\n\
\r\n\
Bodylineone.\r\n\
second\r\n"
            .to_vec(),
    }
}

#[test]
fn signature_covers_the_canonical_form_written_by_hand() {
    for canon in [DkCanon::Simple, DkCanon::Nofws] {
        let field = try_sign(&request(canon), MSG).unwrap();
        let sig = DkSignature::parse_field(&field).unwrap();
        assert_eq!(sig.canonicalization, canon);
        assert_eq!(sig.domain, "legit.com");
        assert_eq!(sig.selector, "sel");
        assert_eq!(sig.headers, None);
        let digest: [u8; 20] = Sha1::digest(canonical_by_hand(canon)).into();
        key()
            .to_public_key()
            .verify(rsa::Pkcs1v15Sign::new::<Sha1>(), &digest, sig.signature())
            .unwrap();
    }
}

#[test]
fn signed_field_shape() {
    let field = try_sign(&request(DkCanon::Nofws), MSG).unwrap();
    let text = core::str::from_utf8(&field).unwrap();
    assert!(
        text.starts_with("DomainKey-Signature: a=rsa-sha1; q=dns; c=nofws; s=sel; d=legit.com;"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.len() <= 78), "{text}");
    assert!(!text.contains(" h="));
}

#[test]
fn signature_verifies_at_every_split_point() {
    for canon in [DkCanon::Simple, DkCanon::Nofws] {
        let signed = sign(&request(canon), MSG);
        let rec = record("");
        let recs = [rec.as_bytes()];
        for cut in 0..=signed.len() {
            let r = verify_chunks(&signed, &[cut], KeyAnswer::Records(&recs));
            assert_eq!(r.len(), 1);
            assert_eq!(
                (r[0].verdict, r[0].reason),
                PASS,
                "{canon:?} split at {cut}"
            );
            let (kind, mailbox) = r[0].sending.as_ref().unwrap();
            assert_eq!(*kind, SendingField::From);
            assert_eq!(mailbox.as_bytes(), b"alice@legit.com");
        }
    }
}

#[test]
fn signer_gives_the_same_field_at_every_split_point() {
    let whole = try_sign(&request(DkCanon::Nofws), MSG).unwrap();
    for cut in 0..=MSG.len() {
        let mut signer = DkSigner::new(&request(DkCanon::Nofws)).unwrap();
        signer.update(&MSG[..cut]).unwrap();
        signer.update(&MSG[cut..]).unwrap();
        let mut key = RsaSha256Signer::new(key(), rng(1)).unwrap();
        let mut out = vec![0u8; 2048];
        let n = signer.finish(&mut key, &mut out).unwrap();
        // RSA PKCS#1 v1.5 is deterministic; blinding does not change it.
        assert_eq!(&out[..n], &whole[..], "split at {cut}");
    }
}

#[test]
fn milter_style_intake_gives_the_same_results() {
    let signed = sign(&request(DkCanon::Simple), MSG);
    let text = signed.split(|&b| b == 0).next().unwrap();
    let header_end = text.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let header = &signed[..header_end + 2];
    let body = &signed[header_end + 4..];
    // Fields: split at CRLF not followed by whitespace.
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < header.len() {
        if header[i..].starts_with(b"\r\n") {
            if matches!(header.get(i + 2), Some(b' ' | b'\t')) {
                cur.extend_from_slice(b"\r\n");
            } else {
                fields.push(core::mem::take(&mut cur));
            }
            i += 2;
        } else {
            cur.push(header[i]);
            i += 1;
        }
    }
    let mut v = Verifier::default();
    for f in &fields {
        v.header_field(f).unwrap();
    }
    v.end_of_headers().unwrap();
    for chunk in body.chunks(5) {
        v.body(chunk).unwrap();
    }
    let rec = record("");
    let recs = [rec.as_bytes()];
    v.provide_key(0, KeyAnswer::Records(&recs));
    let r = v.finish().unwrap();
    assert_eq!((r[0].verdict, r[0].reason), PASS);

    // And the signer, fed the same way, makes a field that verifies.
    let mut s = DkSigner::new(&request(DkCanon::Nofws)).unwrap();
    for f in &fields[1..] {
        s.header_field(f).unwrap();
    }
    s.end_of_headers().unwrap();
    s.body(body).unwrap();
    let mut k = RsaSha256Signer::new(key(), rng(2)).unwrap();
    let mut out = vec![0u8; 2048];
    let n = s.finish(&mut k, &mut out).unwrap();
    let resigned = prepend(&out[..n], &signed[fields[0].len() + 2..]);
    assert_eq!(verify(&resigned), [PASS]);
}

#[test]
fn tampering_fails_and_nofws_forgives_whitespace() {
    for canon in [DkCanon::Simple, DkCanon::Nofws] {
        let signed = sign(&request(canon), MSG);
        let text = String::from_utf8(signed.clone()).unwrap();
        let body_changed = text.replace("second", "Second");
        assert_eq!(
            verify(body_changed.as_bytes()),
            [(Verdict::Fail, DkReason::SignatureMismatch)]
        );
        let header_changed = text.replace("hello", "jello");
        assert_eq!(
            verify(header_changed.as_bytes()),
            [(Verdict::Fail, DkReason::SignatureMismatch)]
        );
        // Trailing empty lines are ignored by both.
        let mut more_lines = signed.clone();
        more_lines.extend_from_slice(b"\r\n\r\n");
        assert_eq!(verify(&more_lines), [PASS]);
        // Whitespace inside lines and refolding: only nofws forgives it.
        let respaced = text
            .replace("Body  line", "Body line")
            .replace("hello\r\n  world", "hello world");
        let want = match canon {
            DkCanon::Nofws => PASS,
            DkCanon::Simple => (Verdict::Fail, DkReason::SignatureMismatch),
        };
        assert_eq!(verify(respaced.as_bytes()), [want], "{canon:?}");
    }
}

#[test]
fn fields_above_the_signature_are_not_covered() {
    let signed = sign(&request(DkCanon::Simple), MSG);
    let with_received = prepend(b"Received: from relay by mx", &signed);
    assert_eq!(verify(&with_received), [PASS]);
    // A field added below the signature is covered when there is no h=.
    let mut below = signed.clone();
    let at = (0..below.len())
        .find(|&i| below[i..].starts_with(b"\r\n") && !matches!(below.get(i + 2), Some(b' ')))
        .unwrap()
        + 2;
    below.splice(at..at, b"X-Added: 1\r\n".iter().copied());
    assert_eq!(
        verify(&below),
        [(Verdict::Fail, DkReason::SignatureMismatch)]
    );
}

#[test]
fn h_lists_the_signed_fields_in_message_order() {
    let names = ["subject", "to"];
    let mut req = request(DkCanon::Nofws);
    req.headers = Some(&names);
    let field = try_sign(&req, MSG).unwrap();
    let sig = DkSignature::parse_field(&field).unwrap();
    // Message order, one entry per field, From added.
    assert_eq!(
        sig.header_names().collect::<Vec<_>>(),
        ["From", "To", "Subject"]
    );
    let signed = prepend(&field, MSG);
    assert_eq!(verify(&signed), [PASS]);

    // Fields not in h= may be added or changed below the signature.
    let text = String::from_utf8(signed.clone()).unwrap();
    let changed = text.replace("Date: Sat", "Date: Sun");
    assert_eq!(verify(changed.as_bytes()), [PASS]);
    let added = text.replace("To: bob", "X-Mailer: x\r\nTo: bob");
    assert_eq!(verify(added.as_bytes()), [PASS]);
    // Another instance of a listed field is covered and breaks it.
    let second_to = text.replace("To: bob", "To: eve@evil.com\r\nTo: bob");
    assert_eq!(
        verify(second_to.as_bytes()),
        [(Verdict::Fail, DkReason::SignatureMismatch)]
    );
}

#[test]
fn sending_field_outside_h_is_policy() {
    // h= that leaves From out, written by another signer.
    let mut v = Vec::new();
    v.extend_from_slice(
        b"DomainKey-Signature: a=rsa-sha1; q=dns; c=simple; s=sel; d=legit.com; h=To; b=",
    );
    // Sign the canonical form of the To field and the body by hand.
    let mut hash = Sha1::new();
    hash.write(b"To: bob@example.net\r\n\r\nhi\r\n");
    let digest: [u8; 20] = hash.finalize().into();
    let mut k = RsaSha256Signer::new(key(), rng(3)).unwrap();
    let mut sig = [0u8; 128];
    let n = k.sign_sha1_digest(&digest, &mut sig).unwrap();
    v.extend_from_slice(b64(&sig[..n]).as_bytes());
    v.extend_from_slice(b"\r\nFrom: alice@legit.com\r\nTo: bob@example.net\r\n\r\nhi\r\n");
    assert_eq!(
        verify(&v),
        [(Verdict::Policy, DkReason::SendingFieldNotSigned)]
    );
}

#[test]
fn a_other_than_rsa_sha1_is_a_typed_permerror() {
    let field = try_sign(&request(DkCanon::Simple), MSG).unwrap();
    let text = String::from_utf8(field).unwrap();
    // An empty a= names no algorithm; it is not the default (that is an
    // absent a=, see rfc4870_a_is_optional_and_defaults_to_rsa_sha1).
    for bad in ["a=rsa-sha256;", "a=ed25519-sha256;", "a=;"] {
        let changed = text.replace("a=rsa-sha1;", bad);
        let want = DkSignatureError::UnsupportedAlgorithm;
        assert_eq!(
            DkSignature::parse_field(changed.as_bytes()).unwrap_err(),
            want
        );
        let msg = prepend(changed.as_bytes(), MSG);
        assert_eq!(
            verify(&msg),
            [(Verdict::PermError, DkReason::Signature(want))]
        );
    }
    // The algorithm name is case-insensitive.
    let upper = text.replace("a=rsa-sha1;", "a=RSA-SHA1;");
    assert_eq!(verify(&prepend(upper.as_bytes(), MSG)), [PASS]);
}

#[test]
fn missing_q_is_a_typed_permerror() {
    let field = try_sign(&request(DkCanon::Simple), MSG).unwrap();
    let text = String::from_utf8(field).unwrap();
    let no_q = text.replace(" q=dns;", "");
    let err = DkSignatureError::MissingTag(DkTag::Q);
    assert_eq!(DkSignature::parse_field(no_q.as_bytes()).unwrap_err(), err);
    assert_eq!(
        verify(&prepend(no_q.as_bytes(), MSG)),
        [(Verdict::PermError, DkReason::Signature(err))]
    );
    let other_q = text.replace("q=dns;", "q=ldap;");
    assert_eq!(
        DkSignature::parse_field(other_q.as_bytes()).unwrap_err(),
        DkSignatureError::UnsupportedQueryMethod
    );
}

#[test]
fn field_parse_errors() {
    use DkSignatureError as E;
    let ok = "a=rsa-sha1; q=dns; c=nofws; s=sel; d=legit.com; h=From:To; b=AAAA";
    let sig = DkSignature::parse(ok.as_bytes()).unwrap();
    assert_eq!(sig.header_names().collect::<Vec<_>>(), ["From", "To"]);
    let cases: [(&str, E); 9] = [
        (
            "a=rsa-sha1; q=dns; s=sel; d=legit.com",
            E::MissingTag(DkTag::B),
        ),
        ("a=rsa-sha1; q=dns; s=sel; b=AAAA", E::MissingTag(DkTag::D)),
        (
            "a=rsa-sha1; q=dns; d=legit.com; b=AAAA",
            E::MissingTag(DkTag::S),
        ),
        (
            "a=rsa-sha1; s=sel; d=legit.com; b=AAAA",
            E::MissingTag(DkTag::Q),
        ),
        (
            "a=rsa-sha1; q=dns; c=relaxed; s=sel; d=legit.com; b=AAAA",
            E::UnknownCanonicalization,
        ),
        (
            "a=rsa-sha1; q=dns; s=sel; d=legit.com; h=From::To; b=AAAA",
            E::BadHeaderName,
        ),
        (
            "a=rsa-sha1; q=dns; s=sel; d=le(git.com; b=AAAA",
            E::BadDomain(NameError::ForbiddenByte),
        ),
        (
            "a=rsa-sha1; q=dns; s=se\0l; d=legit.com; b=AAAA",
            E::TagList(TagListError::BadValueByte { offset: 25 }),
        ),
        (
            "a=rsa-sha1; q=dns; s=sel; d=legit.com; b=A",
            E::BadBase64(Base64Error::BadLength),
        ),
    ];
    for (value, want) in cases {
        let got = DkSignature::parse(value.as_bytes());
        match (got, want) {
            (Err(E::TagList(_)), E::TagList(_)) => {}
            (Err(E::BadBase64(_)), E::BadBase64(_)) => {}
            (got, want) => assert_eq!(got.unwrap_err(), want, "{value}"),
        }
    }
    assert_eq!(
        DkSignature::parse_field(b"DKIM-Signature: a=rsa-sha1").unwrap_err(),
        E::NotDomainKeySignature
    );
}

#[test]
fn sender_from_mismatch_is_refused_by_the_signer() {
    let from_elsewhere = String::from_utf8(MSG.to_vec())
        .unwrap()
        .replace("alice@legit.com", "alice@evil-legit.com");
    assert_eq!(
        try_sign(&request(DkCanon::Simple), from_elsewhere.as_bytes()).unwrap_err(),
        Error::FromDomainMismatch
    );
    // Sender is the sending address when present (§3.1).
    let with_sender = prepend(b"Sender: list@lists.other.org", MSG);
    assert_eq!(
        try_sign(&request(DkCanon::Simple), &with_sender).unwrap_err(),
        Error::FromDomainMismatch
    );
    let mut req = request(DkCanon::Simple);
    req.domain = "other.org";
    assert!(try_sign(&req, &with_sender).is_ok());
    // A subdomain of d= is fine.
    let sub = String::from_utf8(MSG.to_vec())
        .unwrap()
        .replace("alice@legit.com", "alice@mail.legit.com");
    assert!(try_sign(&request(DkCanon::Simple), sub.as_bytes()).is_ok());
}

#[test]
fn sender_from_mismatch_is_a_typed_fail_in_the_verifier() {
    // Signed by legit.com for list@lists.other.org's mail: d= mismatch.
    let mut req = request(DkCanon::Simple);
    req.domain = "other.org";
    let with_sender = prepend(b"Sender: list@lists.other.org", MSG);
    let signed = sign(&req, &with_sender);
    let text = String::from_utf8(signed).unwrap();
    let forged = text.replace("d=other.org", "d=legit.com");
    assert_eq!(
        verify(forged.as_bytes()),
        [(Verdict::Fail, DkReason::DomainMismatch)]
    );
    // A Sender added above the signature takes over the sending address,
    // and it is not signed.
    let plain = sign(&request(DkCanon::Simple), MSG);
    let sender_above = prepend(b"Sender: mallory@evil.com", &plain);
    assert_eq!(
        verify(&sender_above),
        [(Verdict::Policy, DkReason::SendingFieldNotSigned)]
    );
    // A second From above: policy (security case 1).
    let from_above = prepend(b"From: mallory@evil.com", &plain);
    assert_eq!(
        verify(&from_above),
        [(
            Verdict::Policy,
            DkReason::SeveralSendingFields {
                field: SendingField::From
            }
        )]
    );
}

#[test]
fn signer_refuses_missing_or_several_from_fields() {
    let no_from = b"To: bob@example.net\r\n\r\nhi\r\n";
    assert_eq!(
        try_sign(&request(DkCanon::Simple), no_from).unwrap_err(),
        Error::NoFromField
    );
    let two = prepend(b"From: alice@legit.com", MSG);
    assert_eq!(
        try_sign(&request(DkCanon::Simple), &two).unwrap_err(),
        Error::MultipleFromFields
    );
    let two_senders = prepend(b"Sender: a@legit.com\r\nSender: b@legit.com", MSG);
    assert_eq!(
        try_sign(&request(DkCanon::Simple), &two_senders).unwrap_err(),
        Error::MultipleSenderFields
    );
    let unparsable = b"From: nobody\r\n\r\nhi\r\n";
    assert_eq!(
        try_sign(&request(DkCanon::Simple), unparsable).unwrap_err(),
        Error::UnparsableFrom
    );
    assert_eq!(
        DkSigner::new(&DkSignRequest::new("le git.com", "sel", DkCanon::Simple)).unwrap_err(),
        Error::InvalidTagValue { tag: "d" }
    );
}

#[test]
fn granularity_g() {
    let signed = sign(&request(DkCanon::Simple), MSG);
    for (g, want) in [
        ("g=alice; ", PASS),
        ("g=; ", PASS),
        ("g=*; ", PASS),
        ("g=al*; ", PASS),
        ("g=*ice; ", PASS),
        ("g=a*e; ", PASS),
        ("g=bob; ", (Verdict::Fail, DkReason::GranularityMismatch)),
        ("g=Alice; ", (Verdict::Fail, DkReason::GranularityMismatch)),
        (
            "g=alice*x; ",
            (Verdict::Fail, DkReason::GranularityMismatch),
        ),
        ("g=bob; t=y; ", (Verdict::Neutral, DkReason::TestingKey)),
    ] {
        assert_eq!(verify_with(&signed, &[&record(g)]), [want], "{g}");
    }
}

#[test]
fn key_record_rules_k_t_and_revocation() {
    let signed = sign(&request(DkCanon::Simple), MSG);
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("second", "Second");
    // t=y: a failure is neutral, a pass is a pass (flagged).
    let testing = record("t=y; ");
    assert_eq!(
        verify_with(tampered.as_bytes(), &[&testing]),
        [(Verdict::Neutral, DkReason::TestingKey)]
    );
    let r = verify_chunks(&signed, &[], KeyAnswer::Records(&[testing.as_bytes()]));
    assert_eq!((r[0].verdict, r[0].reason), PASS);
    assert!(r[0].testing);
    assert_eq!(r[0].key_bits, Some(1024));
    // k= other than rsa.
    assert_eq!(
        verify_with(&signed, &["k=ed25519; p=AAAA"]),
        [(
            Verdict::PermError,
            DkReason::KeyRecord(KeyRecordError::UnknownKeyType)
        )]
    );
    // Revoked.
    assert_eq!(
        verify_with(&signed, &["k=rsa; p="]),
        [(Verdict::Fail, DkReason::KeyRevoked)]
    );
    // A DKIM record (v=DKIM1) is the same key record and serves.
    let dkim = format!("v=DKIM1; k=rsa; p={}", rsa_p_value(&key()));
    assert_eq!(verify_with(&signed, &[&dkim]), [PASS]);
    // A bad record first, a good one second: the good one is used.
    assert_eq!(verify_with(&signed, &["p=!!", &record("")]), [PASS]);
    // The wrong key.
    let other = format!("p={}", rsa_p_value(&rsa_private(WEAK_RSA_PEM_BODY)));
    assert_eq!(
        verify_with(&signed, &[&other]),
        [(Verdict::Fail, DkReason::SignatureMismatch)]
    );
}

#[test]
fn key_lookup_outcomes() {
    let signed = sign(&request(DkCanon::Simple), MSG);
    let r = verify_chunks(&signed, &[], KeyAnswer::NotFound);
    assert_eq!(
        (r[0].verdict, r[0].reason),
        (Verdict::PermError, DkReason::KeyNotFound)
    );
    let r = verify_chunks(&signed, &[], KeyAnswer::TempFail);
    assert_eq!(
        (r[0].verdict, r[0].reason),
        (Verdict::TempError, DkReason::KeyLookupFailed)
    );
    let mut v = Verifier::default();
    v.update(&signed).unwrap();
    v.end_of_input().unwrap();
    let names: Vec<String> = v.key_requests().map(|(_, n)| n.to_string()).collect();
    assert_eq!(names, ["sel._domainkey.legit.com"]);
    let r = v.finish().unwrap();
    assert_eq!(
        (r[0].verdict, r[0].reason),
        (Verdict::TempError, DkReason::KeyNotProvided)
    );
}

#[test]
fn weak_key_is_policy() {
    let weak = rsa_private(WEAK_RSA_PEM_BODY);
    let mut signer = DkSigner::new(&request(DkCanon::Simple)).unwrap();
    signer.update(MSG).unwrap();
    let mut out = vec![0u8; 2048];
    let n = signer.finish(&mut AnyRsa(weak.clone()), &mut out).unwrap();
    let signed = prepend(&out[..n], MSG);
    let rec = format!("p={}", rsa_p_value(&weak));
    assert_eq!(
        verify_with(&signed, &[&rec]),
        [(Verdict::Policy, DkReason::WeakKey { bits: 512 })]
    );
}

#[test]
fn several_signatures_and_the_limit() {
    let once = sign(&request(DkCanon::Simple), MSG);
    let twice = sign(&request(DkCanon::Nofws), &once);
    // The top one covers the one below it, the lower one is unaffected.
    assert_eq!(verify(&twice), [PASS, PASS]);
    let mut v = DkMessageVerifier::<4>::new(1);
    v.update(&twice).unwrap();
    assert_eq!(v.signatures_seen(), 2);
    assert_eq!(v.finish().unwrap().len(), 1);
    // No signature: no result.
    assert!(verify(MSG).is_empty());
}

#[test]
fn header_block_without_blank_line() {
    let msg = b"From: alice@legit.com\r\nSubject: x";
    let signed = sign(&request(DkCanon::Nofws), msg);
    assert_eq!(verify(&signed), [PASS]);
}

#[test]
fn mailbox_parsing() {
    for (value, want) in [
        (
            &b" Alice <alice@legit.com>"[..],
            Some(&b"alice@legit.com"[..]),
        ),
        (b" alice@legit.com (Alice)", Some(b"alice@legit.com")),
        (b" \"Smith, A\" <a@x.org>, b@y.org", Some(b"a@x.org")),
        (b" \"a b\"@x.org", Some(b"\"a b\"@x.org")),
        (b" (c) a @ x.org.", Some(b"a@x.org.")),
        (b" Alice <alice@legit.com", None),
        (b" nobody", None),
        (b" a@bad(x).org", Some(b"a@bad.org")),
        (b" a@b_ad!.org", None),
        (b" @x.org", None),
    ] {
        let got = Mailbox::parse(value);
        assert_eq!(
            got.as_ref().map(|m| m.as_bytes()),
            want,
            "{:?}",
            core::str::from_utf8(value)
        );
    }
    let m = Mailbox::parse(b"a@Mail.Legit.COM.").unwrap();
    assert_eq!(m.local(), b"a");
    assert_eq!(m.domain(), "Mail.Legit.COM");
}

#[test]
fn random_fields_never_panic() {
    let good = try_sign(&request(DkCanon::Nofws), MSG).unwrap();
    let mut rng = crate::test_support::XorShift::new(0xd0_6e75);
    let mut buf = good.clone();
    for _ in 0..3_000 {
        buf.copy_from_slice(&good);
        for _ in 0..=rng.below(4) {
            let at = rng.below(buf.len());
            buf[at] = rng.byte_from(b"\0;=: \t\r\nAa/+\x80\xff*@<>(\"");
        }
        let _ = DkSignature::parse_field(&buf);
        let _ = Mailbox::parse(&buf);
        let mut v = Verifier::default();
        let _ = v.update(&prepend(&buf, MSG));
        let _ = v.finish();
    }
}

// ---------------------------------------------------------------------------
// Real mail that other verifiers pass (the robustness issue)

/// A message as another signer makes it: the field `DomainKey-Signature:
/// {tags} b=...` on top of `below`, signed over `presented`, the
/// canonical bytes that signer presented to the signing algorithm,
/// written out here by hand.
fn signed_by_hand(tags: &str, presented: &[u8], below: &[u8]) -> Vec<u8> {
    let digest: [u8; 20] = Sha1::digest(presented).into();
    let mut k = RsaSha256Signer::new(key(), rng(3)).unwrap();
    let mut sig = [0u8; 128];
    let n = k.sign_sha1_digest(&digest, &mut sig).unwrap();
    let field = format!("DomainKey-Signature: {tags}\r\n b={}", b64(&sig[..n]));
    prepend(field.as_bytes(), below)
}

/// RFC 4870 §3.3: "a = The algorithm used to generate the signature. The
/// default is "rsa-sha1"". The example field of the RFC (§3.5), with its
/// a= and without, gives the same signature.
#[test]
fn rfc4870_a_is_optional_and_defaults_to_rsa_sha1() {
    let example = "a=rsa-sha1; s=brisbane; d=example.net; c=simple; q=dns;\r\n \
                   b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZ\r\n   VoG4ZHRNiYzR;";
    let without_a = example.replace("a=rsa-sha1; ", "");
    let with = DkSignature::parse(example.as_bytes()).unwrap();
    let without = DkSignature::parse(without_a.as_bytes()).unwrap();
    assert_eq!(without.domain, "example.net");
    assert_eq!(without.selector, "brisbane");
    assert_eq!(without.canonicalization, DkCanon::Simple);
    assert_eq!(without.signature(), with.signature());
    assert_eq!(without.signature().len(), 48);
    // An a= that is there must still name rsa-sha1.
    for bad in ["a=rsa-sha256; ", "a=; "] {
        let changed = format!("{bad}{without_a}");
        assert_eq!(
            DkSignature::parse(changed.as_bytes()).unwrap_err(),
            DkSignatureError::UnsupportedAlgorithm,
            "{bad}"
        );
    }
}

/// Yahoo's DomainKeys signatures (2006) have no a= tag:
/// `DomainKey-Signature: s=s1024; d=yahoo.com; c=nofws; q=dns; h=...; b=...`.
/// One of that shape, made here over nofws by hand, passes; so does
/// mass's own field with its a= taken out.
#[test]
fn signature_without_a_passes() {
    let below = b"Received: (qmail 1 invoked by uid 60001); 27 Mar 2006 18:00:00 -0000\r\n\
From: Alice <alice@legit.com>\r\n\
Subject: hi there\r\n\
To: bob@example.net\r\n\
\r\n\
Hello,  Bob.\r\n\
\r\n";
    let presented = b"Received:(qmail1invokedbyuid60001);27Mar200618:00:00-0000\r\n\
From:Alice<alice@legit.com>\r\n\
Subject:hithere\r\n\
To:bob@example.net\r\n\
\r\n\
Hello,Bob.\r\n";
    let yahoo = signed_by_hand(
        "s=sel; d=legit.com; c=nofws; q=dns;\r\n h=Received:From:Subject:To;",
        presented,
        below,
    );
    assert_eq!(verify(&yahoo), [PASS]);

    let field = try_sign(&request(DkCanon::Nofws), MSG).unwrap();
    let no_a = String::from_utf8(field)
        .unwrap()
        .replace("a=rsa-sha1; ", "");
    assert!(!no_a.contains("a="), "{no_a}");
    assert_eq!(verify(&prepend(no_a.as_bytes(), MSG)), [PASS]);
}

/// RFC 4870 §3.3 h=: "the value MUST contain the complete list of
/// headers in the order presented to the signing algorithm", and "if a
/// header is included in this list, a verifier must include all
/// occurrences of that header, subsequent to the "DomainKey-Signature:"
/// header". A signer that presented Subject, From, To (the h= order, not
/// the message order) passes; the same h= over message order fails.
#[test]
fn rfc4870_h_gives_the_order_presented_to_the_signing_algorithm() {
    let body = b"\r\nBody  line one.  \r\n\tsecond\r\n";
    let mut presented = b"Subject: hello\r\n  world\r\n\
From: Alice <alice@legit.com>\r\n\
To: bob@example.net\r\n"
        .to_vec();
    presented.extend_from_slice(body);
    let tags = "a=rsa-sha1; s=sel; d=legit.com; c=simple; q=dns; h=subject:from:to;";
    assert_eq!(verify(&signed_by_hand(tags, &presented, MSG)), [PASS]);

    let mut message_order = b"From: Alice <alice@legit.com>\r\n\
To: bob@example.net\r\n\
Subject: hello\r\n  world\r\n"
        .to_vec();
    message_order.extend_from_slice(body);
    assert_eq!(
        verify(&signed_by_hand(tags, &message_order, MSG)),
        [(Verdict::Fail, DkReason::SignatureMismatch)]
    );
}

/// Mail::DKIM's note on RFC 4870 h= (`doc/dk_headers.txt`): with
/// `h=a:a:b:c:b:d` over `C: 4, D: 6, B: 3, B: 5, A: 0, A: 1, A: 2`, a name
/// listed more often takes its instances one by one from the bottom, and
/// its first mention plays back all the instances left, in message order:
/// A0 A1 A2 B3 C4 B5 D6.
#[test]
fn h_names_listed_once_play_back_every_instance_together() {
    let below = b"C: 4\r\nD: 6\r\nB: 3\r\nB: 5\r\nA: 0\r\nA: 1\r\nA: 2\r\n\
From: alice@legit.com\r\n\r\nhi\r\n";
    let presented = b"A: 0\r\nA: 1\r\nA: 2\r\nB: 3\r\nC: 4\r\nB: 5\r\nD: 6\r\n\
From: alice@legit.com\r\n\r\nhi\r\n";
    let tags = "a=rsa-sha1; s=sel; d=legit.com; c=simple; q=dns; h=a:a:b:c:b:d:from;";
    assert_eq!(verify(&signed_by_hand(tags, presented, below)), [PASS]);
}

/// Gmail's DomainKeys signatures (2006) list
/// `h=received:message-id:date:from:to:subject:mime-version:content-type`
/// whatever order the fields come in. A message of that shape whose
/// Received fields are apart and whose Date comes before Message-ID:
/// both Received fields are presented first, together.
#[test]
fn gmail_style_h_order_passes() {
    let below = b"Received: by 10.54.1.1 with SMTP id x; Mon, 27 Mar 2006 10:00:01 -0800 (PST)\r\n\
Date: Mon, 27 Mar 2006 10:00:00 -0800\r\n\
From: Alice <alice@legit.com>\r\n\
Received: by 10.54.2.2 with HTTP; Mon, 27 Mar 2006 10:00:00 -0800 (PST)\r\n\
Message-ID: <e2a1@mail.legit.com>\r\n\
To: bob@example.net\r\n\
Subject: lunch\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\n\
\r\n\
Noon?\r\n";
    let presented =
        b"Received: by 10.54.1.1 with SMTP id x; Mon, 27 Mar 2006 10:00:01 -0800 (PST)\r\n\
Received: by 10.54.2.2 with HTTP; Mon, 27 Mar 2006 10:00:00 -0800 (PST)\r\n\
Message-ID: <e2a1@mail.legit.com>\r\n\
Date: Mon, 27 Mar 2006 10:00:00 -0800\r\n\
From: Alice <alice@legit.com>\r\n\
To: bob@example.net\r\n\
Subject: lunch\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\n\
\r\n\
Noon?\r\n";
    let tags = "a=rsa-sha1; q=dns; c=simple; s=sel; d=legit.com;\r\n \
                h=received:message-id:date:from:to:subject:mime-version:content-type;";
    let signed = signed_by_hand(tags, presented, below);
    assert_eq!(verify(&signed), [PASS]);
    // Fields above the signature are not presented, whatever h= says.
    assert_eq!(
        verify(&prepend(b"Received: by mx.example.net", &signed)),
        [PASS]
    );
    // Every split point, through the milter-style intake too.
    let rec = record("");
    let recs = [rec.as_bytes()];
    for cut in 0..=signed.len() {
        let r = verify_chunks(&signed, &[cut], KeyAnswer::Records(&recs));
        assert_eq!((r[0].verdict, r[0].reason), PASS, "split at {cut}");
    }
}

/// The fields h= names are kept until the header block ends, in a store
/// of fixed capacity. Past it the signature is a typed permerror, never a
/// verdict on part of the header; a signature without h= (hashed as the
/// fields stream by) is not affected.
#[test]
fn h_fields_past_the_store_capacity_are_a_permerror() {
    let mut below = Vec::new();
    for i in 0..2_000 {
        below.extend_from_slice(format!("X-Junk: {i}\r\n").as_bytes());
    }
    below.extend_from_slice(MSG);
    let listed = signed_by_hand(
        "a=rsa-sha1; s=sel; d=legit.com; c=simple; q=dns; h=from:x-junk;",
        b"not what the verifier hashes",
        &below,
    );
    assert_eq!(
        verify(&listed),
        [(Verdict::PermError, DkReason::HeaderCapacity)]
    );
    // The same junk below a signature without h=: it is hashed, not kept.
    let whole = sign(&request(DkCanon::Simple), &below);
    assert_eq!(verify(&whole), [PASS]);
}

/// mass's signer writes an h= that both readings agree on: one entry per
/// field, in message order, so repeated names are listed where each
/// instance is.
#[test]
fn signer_h_with_repeated_names_passes_under_the_h_order_reading() {
    let msg = b"Received: from a by b\r\n\
From: Alice <alice@legit.com>\r\n\
Received: from c by d\r\n\
To: bob@example.net\r\n\
\r\n\
hi\r\n";
    let names = ["received", "to"];
    let mut req = request(DkCanon::Simple);
    req.headers = Some(&names);
    let field = try_sign(&req, msg).unwrap();
    let sig = DkSignature::parse_field(&field).unwrap();
    assert_eq!(
        sig.header_names().collect::<Vec<_>>(),
        ["Received", "From", "Received", "To"]
    );
    assert_eq!(verify(&prepend(&field, msg)), [PASS]);
}

/// As for DKIM, the budget counts key lookups and checks, not fields:
/// DomainKey-Signature fields that do not parse cost nothing, so five of
/// them above a good signature do not hide it (the budget here is one).
/// They are reported while there is room among the results.
#[test]
fn fields_that_do_not_parse_use_no_budget() {
    let signed = sign(&request(DkCanon::Simple), MSG);
    let mut message = Vec::new();
    for i in 0..5 {
        message.extend_from_slice(
            format!("DomainKey-Signature: a=rsa-sha1; q=dns; d=junk{i}.example; s=s\r\n")
                .as_bytes(),
        );
    }
    message.extend_from_slice(&signed);
    let rec = record("");
    let recs = [rec.as_bytes()];
    let mut v = DkMessageVerifier::<4>::new(1);
    v.update(&message).unwrap();
    v.end_of_input().unwrap();
    let ids: Vec<usize> = v.key_requests().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 1);
    v.provide_key(ids[0], KeyAnswer::Records(&recs));
    assert_eq!(v.signatures_seen(), 6);
    let found: Vec<Found> = v
        .finish()
        .unwrap()
        .into_iter()
        .map(|r| (r.verdict, r.reason))
        .collect();
    let missing_b = (
        Verdict::PermError,
        DkReason::Signature(DkSignatureError::MissingTag(DkTag::B)),
    );
    // Four results: room for three of the five refused fields, then the
    // pass, top first.
    assert_eq!(found, [missing_b, missing_b, missing_b, PASS]);

    // 100,000 of them: parsed at most MAX_SIGNATURE_FIELDS_EXAMINED times,
    // nothing kept, nothing looked up.
    let mut v = Verifier::default();
    for i in 0..100_000 {
        v.update(format!("DomainKey-Signature: d=junk{i}.example; s=s\r\n").as_bytes())
            .unwrap();
    }
    v.update(&signed).unwrap();
    v.end_of_input().unwrap();
    assert_eq!(v.signatures_seen(), 100_001);
    assert_eq!(v.dispatch.examined, MAX_SIGNATURE_FIELDS_EXAMINED);
    assert_eq!(v.key_requests().count(), 0);
    assert_eq!(v.finish().unwrap().len(), 4);
}
