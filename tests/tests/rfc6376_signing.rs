//! The signer against RFC 6376 §3.5, §5 and the signer rows of
//! ../shared/security-cases.md (22, 23, 25, 27–29).

use crate::common::{CountingRng, at_every_split};
use mass_core::dkim::sign::DEFAULT_SIGNED_HEADERS;
use mass_core::{
    BodyLength, Canonicalization, Ed25519Signer, Error, HeaderSelection, MessageSigner,
    RsaSha256Signer, SignRequest, SigningAlgorithm,
};

type Signer = MessageSigner<8192, 64>;

const MSG: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.net\r\n\
Subject: hello\r\n  world\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
X-Other: not signed\r\n\
\r\n\
Body line one.  \r\n\
\r\n\
\r\n";

fn key() -> Ed25519Signer {
    Ed25519Signer::from_seed(&[7u8; 32])
}

fn request() -> SignRequest<'static> {
    let mut r = SignRequest::new("example.com", "sel", SigningAlgorithm::Ed25519Sha256);
    r.timestamp = Some(1_700_000_000);
    r
}

fn sign_chunks(req: &SignRequest<'_>, chunks: &[&[u8]]) -> Result<String, Error> {
    let mut s = Signer::new(req)?;
    for c in chunks {
        s.update(c)?;
    }
    let mut out = [0u8; 2048];
    let n = s.finish(&mut key(), &mut out)?;
    Ok(String::from_utf8(out[..n].to_vec()).unwrap())
}

#[test]
fn signature_is_the_same_at_every_split_point() {
    let req = request();
    let sig = at_every_split(MSG, |chunks| sign_chunks(&req, chunks)).unwrap();
    assert!(sig.replace("\r\n ", " ").starts_with(
        "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=sel;"
    ));
}

#[test]
fn milter_style_intake_equals_raw_intake() {
    let req = request();
    let raw = sign_chunks(&req, &[MSG]).unwrap();
    let mut s = Signer::new(&req).unwrap();
    for f in [
        &b"From: Alice <alice@example.com>"[..],
        b"To: bob@example.net",
        b"Subject: hello\r\n  world",
        b"Date: Sat, 28 Nov 2026 10:00:00 +0000",
        b"X-Other: not signed",
    ] {
        s.header_field(f).unwrap();
    }
    s.end_of_headers().unwrap();
    s.body(b"Body line one.  \r\n").unwrap();
    s.body(b"\r\n\r\n").unwrap();
    let mut out = [0u8; 2048];
    let n = s.finish(&mut key(), &mut out).unwrap();
    assert_eq!(std::str::from_utf8(&out[..n]).unwrap(), raw);
}

#[test]
fn row_23_defaults_oversign_and_omit_l() {
    let sig = sign_chunks(&request(), &[MSG]).unwrap();
    let unfolded = sig.replace("\r\n ", " ");
    assert!(unfolded.replace(' ', "").contains(
        "h=from:from:to:to:cc:subject:subject:date:date:reply-to:message-id:mime-version:content-type;"
    ), "{unfolded}");
    assert!(!unfolded.contains(" l="));
    assert!(unfolded.contains(" t=1700000000;"));
    assert_eq!(DEFAULT_SIGNED_HEADERS.len(), 9);
}

#[test]
fn lines_are_folded_at_78() {
    let mut req = request();
    req.canonicalization = Canonicalization::SIMPLE;
    req.identity = Some("alice@mail.example.com");
    req.expiration = Some(1_700_086_400);
    req.body_length = BodyLength::Whole;
    req.copied_headers = true;
    let sig = sign_chunks(&req, &[MSG]).unwrap();
    for line in sig.split("\r\n") {
        assert!(line.len() <= 78, "line of {}: {line:?}", line.len());
    }
    let unfolded = sig.replace("\r\n ", "");
    assert!(unfolded.contains("i=alice@mail.example.com;"));
    assert!(unfolded.contains("x=1700086400;"));
    assert!(unfolded.contains("l=18;"), "{unfolded}");
    assert!(
        unfolded.contains("z=From:=20Alice=20<alice@example.com>|"),
        "{unfolded}"
    );
}

#[test]
fn row_22_refuses_several_from_fields_or_none() {
    // Security case 22 (and the signer side of case 1).
    let two = b"From: a@example.com\r\nFrom: b@example.com\r\n\r\nx\r\n";
    assert_eq!(
        sign_chunks(&request(), &[two]),
        Err(Error::MultipleFromFields)
    );
    let none = b"To: a@example.com\r\n\r\nx\r\n";
    assert_eq!(sign_chunks(&request(), &[none]), Err(Error::NoFromField));
}

#[test]
fn request_values_are_checked() {
    let mut r = request();
    r.domain = "exa mple.com";
    assert_eq!(
        Signer::new(&r).err(),
        Some(Error::InvalidTagValue { tag: "d" })
    );
    let mut r = request();
    r.selector = "sel;x=1";
    assert_eq!(
        Signer::new(&r).err(),
        Some(Error::InvalidTagValue { tag: "s" })
    );
    let mut r = request();
    r.identity = Some("a@notexample.com");
    assert_eq!(
        Signer::new(&r).err(),
        Some(Error::InvalidTagValue { tag: "i" })
    );
    let mut r = request();
    r.identity = Some("a@badexample.com");
    assert_eq!(
        Signer::new(&r).err(),
        Some(Error::InvalidTagValue { tag: "i" })
    );
    let mut r = request();
    r.expiration = Some(1_600_000_000);
    assert_eq!(
        Signer::new(&r).err(),
        Some(Error::ExpirationBeforeTimestamp)
    );
    let mut r = request();
    r.headers = HeaderSelection::Exact(&["to", "subject"]);
    assert_eq!(
        Signer::new(&r).err(),
        Some(Error::InvalidTagValue { tag: "h" })
    );
}

#[test]
fn algorithm_mismatch_is_refused() {
    let mut r = request();
    r.algorithm = SigningAlgorithm::RsaSha256;
    assert_eq!(sign_chunks(&r, &[MSG]), Err(Error::AlgorithmMismatch));
}

#[test]
fn small_output_buffer_says_how_much_is_needed() {
    let mut s = Signer::new(&request()).unwrap();
    s.update(MSG).unwrap();
    let mut out = [0u8; 100];
    let Err(Error::BufferTooSmall { required }) = s.finish(&mut key(), &mut out) else {
        panic!("expected BufferTooSmall");
    };
    assert_eq!(required, s.required_len(&key()));
}

fn rsa_2048() -> rsa::PrivateKey {
    use rsa::pkcs8::DecodePrivateKey;
    rsa::PrivateKey::from_pkcs8_pem(RSA_2048_PEM).unwrap()
}

const RSA_2048_PEM: &str = include_str!("../data/device-test-rsa2048.pem");

#[test]
fn a_too_small_buffer_can_be_retried_without_cloning_the_signer() {
    // finish works by reference: a buffer that is too small costs no
    // signature and leaves the signer as it was, so the caller retries
    // with the size the error names.
    let whole = sign_chunks(&request(), &[MSG]).unwrap();
    let mut s = Signer::new(&request()).unwrap();
    s.update(MSG).unwrap();
    let mut small = [0u8; 100];
    let Err(Error::BufferTooSmall { required }) = s.finish(&mut key(), &mut small) else {
        panic!("expected BufferTooSmall");
    };
    let mut out = vec![0u8; required];
    assert_eq!(s.finish(&mut key(), &mut out), Ok(required));
    assert_eq!(std::str::from_utf8(&out).unwrap(), whole);
    // Once finish was called the message is closed.
    assert_eq!(s.update(b"more body\r\n"), Err(Error::OutOfOrder));
    assert_eq!(s.body(b"more body\r\n"), Err(Error::OutOfOrder));

    // With RSA the key is not touched until the field fits: no blinding
    // randomness is drawn for the refused attempt.
    let rsa = rsa_2048();
    let mut rng = CountingRng::new(11);
    let mut req = request();
    req.algorithm = SigningAlgorithm::RsaSha256;
    let mut s = Signer::new(&req).unwrap();
    s.update(MSG).unwrap();
    let mut small = [0u8; 400];
    let mut key = RsaSha256Signer::new(&rsa, &mut rng).unwrap();
    let Err(Error::BufferTooSmall { required }) = s.finish(&mut key, &mut small) else {
        panic!("expected BufferTooSmall");
    };
    assert_eq!(rng.drawn, 0);
    let mut key = RsaSha256Signer::new(&rsa, &mut rng).unwrap();
    let mut out = vec![0u8; required];
    assert_eq!(s.finish(&mut key, &mut out), Ok(required));
    assert!(rng.drawn > 0);
}

#[test]
fn required_len_is_enough_for_the_field() {
    // For each request style, at every split point of the message and for
    // both key types, the field written takes exactly required_len bytes
    // (asked before finishing, without signing).
    let mut styles = Vec::new();
    styles.push(request());
    let mut r = request();
    r.canonicalization = Canonicalization::SIMPLE;
    r.identity = Some("alice@mail.example.com");
    r.expiration = Some(1_700_086_400);
    r.body_length = BodyLength::Whole;
    r.copied_headers = true;
    styles.push(r);
    let mut r = request();
    r.body_length = BodyLength::Limit(7);
    r.headers = HeaderSelection::Exact(&["from", "subject", "date", "x-other"]);
    styles.push(r);
    let mut r = request();
    r.timestamp = None;
    r.copied_headers = true;
    r.headers = HeaderSelection::Oversign(&["from", "to", "subject", "date", "x-other"]);
    styles.push(r);

    let rsa_key = rsa_2048();
    let mut rsa = RsaSha256Signer::new(&rsa_key, CountingRng::new(5)).unwrap();
    for style in &styles {
        for algorithm in [SigningAlgorithm::Ed25519Sha256, SigningAlgorithm::RsaSha256] {
            let mut req = *style;
            req.algorithm = algorithm;
            let sizes = at_every_split(MSG, |chunks| {
                let mut s = Signer::new(&req).unwrap();
                for c in chunks {
                    s.update(c).unwrap();
                }
                let required = match algorithm {
                    SigningAlgorithm::RsaSha256 => s.required_len(&rsa),
                    _ => s.required_len(&key()),
                };
                // Ed25519 signs at every split; RSA (slow in a debug
                // build) once, below, as the sizes are all equal.
                if algorithm == SigningAlgorithm::Ed25519Sha256 {
                    let mut out = vec![0u8; required];
                    assert_eq!(s.finish(&mut key(), &mut out), Ok(required));
                }
                required
            });
            let mut s = Signer::new(&req).unwrap();
            s.update(MSG).unwrap();
            let mut out = vec![0u8; sizes];
            let n = match algorithm {
                SigningAlgorithm::RsaSha256 => s.finish(&mut rsa, &mut out),
                _ => s.finish(&mut key(), &mut out),
            };
            assert_eq!(n, Ok(sizes), "{req:?}");
        }
    }
}

#[test]
fn a_one_mebibyte_signed_field_is_a_capacity_error() {
    // Security case 25.
    let mut msg = b"From: a@example.com\r\nSubject: ".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 1 << 20));
    msg.extend_from_slice(b"\r\n\r\nbody\r\n");
    assert_eq!(
        sign_chunks(&request(), &[&msg]),
        Err(Error::HeaderBytesCapacity { limit: 8192 })
    );
}

#[test]
fn a_one_mebibyte_unsigned_field_is_signed() {
    let mut msg = b"From: a@example.com\r\nX-Junk: ".to_vec();
    msg.extend(std::iter::repeat_n(b'x', 1 << 20));
    msg.extend_from_slice(b"\r\n\r\nbody\r\n");
    assert!(sign_chunks(&request(), &[&msg]).is_ok());
}

#[test]
fn a_hundred_thousand_fields() {
    // Unsigned fields cost nothing; signed ones hit the field capacity.
    let mut unsigned = b"From: a@example.com\r\n".to_vec();
    let mut signed = unsigned.clone();
    for i in 0..100_000 {
        unsigned.extend_from_slice(format!("X-N: {i}\r\n").as_bytes());
        signed.extend_from_slice(format!("To: {i}\r\n").as_bytes());
    }
    unsigned.extend_from_slice(b"\r\nbody\r\n");
    signed.extend_from_slice(b"\r\nbody\r\n");
    assert!(sign_chunks(&request(), &[&unsigned]).is_ok());
    assert!(matches!(
        sign_chunks(&request(), &[&signed]),
        Err(Error::HeaderFieldsCapacity { limit: 64 } | Error::HeaderBytesCapacity { .. })
    ));
    // A field folded over 100,000 lines is linear and bounded too.
    let mut folded = b"From: a@example.com\r\nX-Folded: a".to_vec();
    for _ in 0..100_000 {
        folded.extend_from_slice(b"\r\n b");
    }
    folded.extend_from_slice(b"\r\n\r\n");
    assert!(sign_chunks(&request(), &[&folded]).is_ok());
}

#[test]
fn nul_bare_cr_and_missing_separator_sign() {
    // Security cases 27-29: exact bytes are hashed, nothing is truncated.
    let with_nul = sign_chunks(
        &request(),
        &[b"From: a@example.com\r\nSubject: a\x00b\r\n\r\nx\x00y\r\n"],
    )
    .unwrap();
    let without = sign_chunks(
        &request(),
        &[b"From: a@example.com\r\nSubject: a\x00c\r\n\r\nx\x00y\r\n"],
    )
    .unwrap();
    assert_ne!(with_nul, without);
    assert!(
        sign_chunks(
            &request(),
            &[b"From: a@example.com\r\nSubject: a\rb\r\n\r\nbare\rcr\r\n"]
        )
        .is_ok()
    );
    assert!(sign_chunks(&request(), &[b"From: a@example.com\r\nSubject: no body"]).is_ok());
}

#[test]
fn malformed_header_is_a_typed_error() {
    assert_eq!(
        sign_chunks(&request(), &[b"From a@example.com\r\n\r\nbody"]),
        Err(Error::MalformedHeaderField)
    );
    let mut s = Signer::new(&request()).unwrap();
    assert_eq!(
        s.header_field(b"Subject: x\r\nBcc: smuggled"),
        Err(Error::MalformedHeaderField)
    );
}
