//! DKIM2: the fields' tag rules, signing and verifying one and several
//! hops (every split point), replay, tampering, and hostile chains.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::fields::{Binding, Dkim2Signature, FieldError, MessageInstance};
use super::sign::{Destination, HopRequest, SignerError};
use super::verify::{Dkim2Result, Dkim2Verifier, Envelope, Reason, Status, VerifyOptions};
use super::{Dkim2Signer, MAX_HOPS};
use crate::crypto::{DigestSigner, Ed25519Signer};
use crate::dkim::verify::KeyAnswer;
use crate::test_support::b64;

type Signer<'r> = Dkim2Signer<'r, 8192, 64>;
type Verifier = Dkim2Verifier<8192, 256, 8, 2048>;

const NOW: u64 = 1_740_000_000;
const MESSAGE: &[u8] = b"From: Alice <alice@a.example>\r\nTo: list@l.example\r\nSubject: Hello\r\nDate: Sat, 01 Mar 2026 12:00:00 +0000\r\nMessage-ID: <1@a.example>\r\n\r\nHello, list.\r\n";

fn key(seed: u8) -> Ed25519Signer {
    Ed25519Signer::from_seed(&[seed; 32])
}

fn record(seed: u8) -> String {
    format!("v=DKIM1; k=ed25519; p={}", b64(&key(seed).public_key()))
}

/// Sign one hop of `message` as `domain` (key seed `seed`) for the
/// envelope; return the message with the new fields on top.
fn hop(message: &[u8], domain: &str, seed: u8, mail_from: &str, rcpt: &[&str]) -> Vec<u8> {
    hop_with(
        message,
        &HopRequest::new(domain, mail_from, rcpt, NOW),
        seed,
    )
}

fn hop_with(message: &[u8], req: &HopRequest<'_>, seed: u8) -> Vec<u8> {
    let mut signer = Signer::new(req).unwrap();
    signer.update(message).unwrap();
    let mut k = key(seed);
    let mut keys: [(&str, &mut dyn DigestSigner); 1] = [("ed", &mut k)];
    let mut out = vec![0u8; 16384];
    let signed = signer.finish(&mut keys, &mut out).unwrap();
    let mut result = Vec::new();
    for span in [Some(signed.signature), signed.instance]
        .into_iter()
        .flatten()
    {
        result.extend_from_slice(span.get(&out).unwrap());
        result.extend_from_slice(b"\r\n");
    }
    result.extend_from_slice(message);
    result
}

/// Verify with every key at `ed._domainkey.<domain>` made from seed
/// `seed_of(domain)`.
fn verify_split(
    message: &[u8],
    mail_from: &str,
    rcpt: &[&str],
    split: Option<usize>,
) -> Dkim2Result {
    let mut v = Verifier::new(VerifyOptions::new(NOW + 60));
    match split {
        Some(n) => {
            v.update(&message[..n]).unwrap();
            v.update(&message[n..]).unwrap();
        }
        None => {
            v.update(message).unwrap();
        }
    }
    v.end_of_input().unwrap();
    let requests: Vec<(usize, String)> = v
        .key_requests()
        .map(|r| (r.id, String::from(r.domain)))
        .collect();
    for (id, domain) in requests {
        let rec = record(seed_of(&domain));
        v.provide_key(id, KeyAnswer::Records(&[rec.as_bytes()]));
    }
    v.finish(&Envelope {
        mail_from,
        rcpt_to: rcpt,
    })
    .unwrap()
}

fn verify(message: &[u8], mail_from: &str, rcpt: &[&str]) -> Dkim2Result {
    verify_split(message, mail_from, rcpt, None)
}

fn seed_of(domain: &str) -> u8 {
    domain
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b))
}

/// The first header fields of `message`, unfolded into whole fields.
fn top_fields(message: &str) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in message.split("\r\n") {
        if line.is_empty() {
            break;
        }
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push_str("\r\n");
                last.push_str(line);
            }
            _ => fields.push(line.into()),
        }
    }
    fields
}

fn three_hops() -> Vec<u8> {
    let one = hop(
        MESSAGE,
        "a.example",
        seed_of("a.example"),
        "alice@a.example",
        &["list@l.example"],
    );
    let two = hop(
        &one,
        "l.example",
        seed_of("l.example"),
        "bounce@l.example",
        &["bob@b.example"],
    );
    hop(
        &two,
        "b.example",
        seed_of("b.example"),
        "<fwd@b.example>",
        &["<carol@c.example>"],
    )
}

#[test]
fn tag_names_are_case_insensitive_and_each_may_occur_once() {
    let v =
        b"I=1; M=1; T=5; D=a.example; Mf=PGFAYi5jPg==; Rt=PGNAZC5lPg==; S=s:ed25519-sha256:QUFB";
    let sig = Dkim2Signature::parse(v).unwrap();
    assert_eq!((sig.instance, sig.revision, sig.timestamp), (1, 1, 5));
    assert!(matches!(sig.binding, Binding::Envelope { .. }));
    for dup in [
        &b"i=1; I=1; m=1; t=5; d=a.example; nd=b.example; s=s:ed25519-sha256:QUFB"[..],
        b"i=1; m=1; t=5; d=a.example; nd=b.example; s=s:ed25519-sha256:QUFB; x=1; X=2",
    ] {
        assert_eq!(Dkim2Signature::parse(dup), Err(FieldError::DuplicateTag));
    }
}

#[test]
fn every_tag_rule_has_its_error() {
    let base = |over: &str| {
        let mut tags = [
            ("i", "1"),
            ("m", "1"),
            ("t", "5"),
            ("d", "a.example"),
            ("mf", "PGFAYi5jPg=="),
            ("rt", "PGNAZC5lPg=="),
            ("s", "s:ed25519-sha256:QUFB"),
        ];
        let mut extra = String::new();
        for item in over.split(';').filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').unwrap();
            match tags.iter_mut().find(|(n, _)| *n == k) {
                Some(t) if v == "-" => t.1 = "\u{0}",
                Some(t) => t.1 = v,
                None => extra.push_str(&format!("; {k}={v}")),
            }
        }
        let mut s: Vec<String> = tags
            .iter()
            .filter(|(_, v)| *v != "\u{0}")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push(extra.trim_start_matches("; ").into());
        s.retain(|x| !x.is_empty());
        Dkim2Signature::parse(s.join("; ").as_bytes()).map(|_| ())
    };
    assert_eq!(base(""), Ok(()));
    assert_eq!(base("i=0"), Err(FieldError::BadInstance));
    assert_eq!(base("i=x"), Err(FieldError::BadInstance));
    assert_eq!(base("m=0"), Err(FieldError::BadRevision));
    assert_eq!(base("t=soon"), Err(FieldError::BadTimestamp));
    assert_eq!(base("d=-"), Err(FieldError::MissingTag("d")));
    assert_eq!(base("d=a..b"), Err(FieldError::BadDomain));
    assert_eq!(base("nd=b.example"), Err(FieldError::BindingConflict));
    assert_eq!(base("rt=-"), Err(FieldError::MissingTag("rt")));
    assert_eq!(base("s=-"), Err(FieldError::MissingTag("s")));
    assert_eq!(base("s=nocolons"), Err(FieldError::BadSignatureValue));
    assert_eq!(
        base("s=a:ed25519-sha256:QUFB,b:ed25519-sha256:QUFB"),
        Err(FieldError::DuplicateAlgorithm)
    );
    assert_eq!(
        base("s=a:w:QUFB,b:x:QUFB,c:y:QUFB,d:z:QUFB,e:v:QUFB"),
        Err(FieldError::TooManySignatures)
    );
    let long = "n".repeat(65);
    assert_eq!(base(&format!("n={long}")), Err(FieldError::NonceTooLong));
    assert_eq!(base(&format!("n={}", &long[..64])), Ok(()));
    // Unknown algorithms and rsa-sha1 are skipped, not refused.
    let sig = Dkim2Signature::parse(
        b"i=1; m=1; t=5; d=a.example; nd=b.example; s=x:banana:QUFB,y:rsa-sha1:QUFB",
    )
    .unwrap();
    assert!(sig.signatures.is_empty());
}

#[test]
fn message_instance_rules() {
    let h = format!("sha256:{}:{}", b64(&[1; 32]), b64(&[2; 32]));
    let text = format!("m=2; h={h}; r=e30=");
    let mi = MessageInstance::parse(text.as_bytes()).unwrap();
    assert_eq!(mi.revision, 2);
    assert_eq!(mi.sha256, Some(([1; 32], [2; 32])));
    assert_eq!(mi.recipe, Some("e30="));
    let other = format!("sha512:{}:{},{h}", b64(&[3; 64]), b64(&[4; 64]));
    assert!(MessageInstance::parse(format!("m=1; h={other}").as_bytes()).is_ok());
    for (value, error) in [
        (format!("m=1; h={h},{h}"), FieldError::DuplicateHash),
        (
            format!("m=1; h=sha256:{}:AAAA", b64(&[1; 32])),
            FieldError::BadHashes,
        ),
        ("m=1; h=sha256".into(), FieldError::BadHashes),
        (format!("h={h}"), FieldError::MissingTag("m")),
        ("m=1".into(), FieldError::MissingTag("h")),
        (format!("m=1; h={h}; r=e30%"), FieldError::BadRecipe),
        (format!("m=1; M=2; h={h}"), FieldError::DuplicateTag),
    ] {
        assert_eq!(
            MessageInstance::parse(value.as_bytes()),
            Err(error),
            "{value}"
        );
    }
}

#[test]
fn one_hop_verifies_at_every_split_point() {
    let signed = hop(
        MESSAGE,
        "a.example",
        seed_of("a.example"),
        "alice@a.example",
        &["list@l.example"],
    );
    for n in 0..=signed.len() {
        let r = verify_split(&signed, "<alice@a.example>", &["<list@l.example>"], Some(n));
        assert_eq!(r.status, Status::Pass, "split {n}: {r:?}");
    }
}

#[test]
fn signing_gives_the_same_fields_at_every_split_point() {
    let whole = hop(
        MESSAGE,
        "a.example",
        1,
        "alice@a.example",
        &["list@l.example"],
    );
    for n in 0..=MESSAGE.len() {
        let req = HopRequest::new("a.example", "alice@a.example", &["list@l.example"], NOW);
        let mut signer = Signer::new(&req).unwrap();
        signer.update(&MESSAGE[..n]).unwrap();
        signer.update(&MESSAGE[n..]).unwrap();
        let mut k = key(1);
        let mut keys: [(&str, &mut dyn DigestSigner); 1] = [("ed", &mut k)];
        let mut out = vec![0u8; 4096];
        let s = signer.finish(&mut keys, &mut out).unwrap();
        let sig = s.signature.get(&out).unwrap();
        assert!(whole.starts_with(sig), "split {n}");
    }
}

#[test]
fn three_hops_verify_and_each_hop_only_for_its_own_envelope() {
    let chain = three_hops();
    let r = verify(&chain, "fwd@b.example", &["carol@c.example"]);
    assert_eq!((r.status, r.hops), (Status::Pass, 3), "{r:?}");
    // Replay: the same message to another recipient, or from another sender.
    let r = verify(&chain, "fwd@b.example", &["mallory@m.example"]);
    assert_eq!(r.reason, Reason::RcptToMismatch { instance: 3 });
    assert_eq!(r.status, Status::PermError);
    let r = verify(&chain, "other@b.example", &["carol@c.example"]);
    assert_eq!(r.reason, Reason::MailFromMismatch { instance: 3 });
}

#[test]
fn replay_to_another_recipient_fails_and_the_original_passes() {
    let signed = hop(
        MESSAGE,
        "x.example",
        seed_of("x.example"),
        "s@x.example",
        &["a@x.example"],
    );
    assert_eq!(
        verify(&signed, "s@x.example", &["a@x.example"]).status,
        Status::Pass
    );
    let replay = verify(&signed, "s@x.example", &["b@y.example"]);
    assert_eq!(replay.status, Status::PermError);
    assert_eq!(replay.reason, Reason::RcptToMismatch { instance: 1 });
}

#[test]
fn tampering_after_the_last_hop_fails() {
    let chain = three_hops();
    let text = String::from_utf8(chain).unwrap();
    let body = text.replace("Hello, list.", "Hello, world");
    let r = verify(body.as_bytes(), "fwd@b.example", &["carol@c.example"]);
    assert_eq!(r.reason, Reason::BodyHashMismatch { revision: 1 });
    assert_eq!(r.status, Status::Fail);
    let header = text.replace("Subject: Hello", "Subject: Hullo");
    let r = verify(header.as_bytes(), "fwd@b.example", &["carol@c.example"]);
    assert_eq!(r.reason, Reason::HeaderHashMismatch { revision: 1 });
    // A trace field added in transit changes nothing.
    let traced = format!("Received: from somewhere\r\n{text}");
    assert_eq!(
        verify(traced.as_bytes(), "fwd@b.example", &["carol@c.example"]).status,
        Status::Pass
    );
    // A signature's own bytes.
    let sig = text.replacen("i=3;", "i=3; x=1;", 1);
    let r = verify(sig.as_bytes(), "fwd@b.example", &["carol@c.example"]);
    assert_eq!(r.reason, Reason::SignatureMismatch { instance: 3 });
}

#[test]
fn custody_must_pass_from_each_recipient_to_the_next_signer() {
    let one = hop(
        MESSAGE,
        "a.example",
        seed_of("a.example"),
        "alice@a.example",
        &["list@l.example"],
    );
    // The next hop signs as a domain the first never sent to.
    let two = hop(
        &one,
        "z.example",
        seed_of("z.example"),
        "x@z.example",
        &["bob@b.example"],
    );
    let r = verify(&two, "x@z.example", &["bob@b.example"]);
    assert_eq!(r.reason, Reason::CustodyBreak { instance: 2 });
}

#[test]
fn hostile_chains_get_typed_results() {
    // A hundred hops: refused by number, without a key lookup.
    let mut chain = MESSAGE.to_vec();
    let sig = hop(
        MESSAGE,
        "a.example",
        1,
        "alice@a.example",
        &["list@l.example"],
    );
    let text = String::from_utf8(sig.clone()).unwrap();
    let fields = top_fields(&text);
    for i in (1..=100).rev() {
        let f = fields[0].replacen("i=1;", &format!("i={i};"), 1);
        let mut top = f.into_bytes();
        top.extend_from_slice(b"\r\n");
        top.extend_from_slice(&chain);
        chain = top;
    }
    // Fifty fields are kept before the fifty-first breaks the chain.
    let mut v = Box::new(Dkim2Verifier::<65536, 256, 8, 2048>::new(
        VerifyOptions::new(NOW),
    ));
    v.update(&chain).unwrap();
    v.end_of_input().unwrap();
    assert_eq!(v.key_requests().count(), 0);
    let r = v
        .finish(&Envelope {
            mail_from: "a",
            rcpt_to: &["b"],
        })
        .unwrap();
    assert_eq!(
        (r.status, r.reason),
        (Status::PermError, Reason::TooManyHops)
    );
    const { assert!(MAX_HOPS < 100) };

    // Two signatures with one i=.
    let dup = format!("{}\r\n{text}", fields[0]);
    let r = verify(dup.as_bytes(), "alice@a.example", &["list@l.example"]);
    assert_eq!(r.reason, Reason::DuplicateHop { instance: 1 });

    // A Message-Instance without its signature.
    let bare = format!(
        "{}\r\n{}",
        fields[1],
        core::str::from_utf8(MESSAGE).unwrap()
    );
    let r = verify(bare.as_bytes(), "alice@a.example", &["list@l.example"]);
    assert_eq!(
        (r.status, r.reason),
        (Status::PermError, Reason::UnsignedInstance)
    );

    // No DKIM2 at all.
    assert_eq!(verify(MESSAGE, "a@b", &["c@d"]).status, Status::None);
}

#[test]
fn two_keys_sign_one_hop_and_both_must_verify() {
    let req = HopRequest::new("a.example", "alice@a.example", &["list@l.example"], NOW);
    let mut signer = Signer::new(&req).unwrap();
    signer.update(MESSAGE).unwrap();
    // Two keys with one algorithm are refused.
    let (mut k1, mut k2) = (key(1), key(2));
    let mut keys: [(&str, &mut dyn DigestSigner); 2] = [("one", &mut k1), ("two", &mut k2)];
    let mut out = vec![0u8; 4096];
    assert_eq!(
        signer.finish(&mut keys, &mut out),
        Err(SignerError::BadKeys)
    );
}

#[test]
fn requests_are_checked() {
    let bad_rcpt: [&str; 0] = [];
    for (req, error) in [
        (
            HopRequest::new("a..example", "a@a.example", &["b@b.example"], NOW),
            SignerError::BadDomain,
        ),
        (
            HopRequest::new("a.example", "a@a.example", &bad_rcpt, NOW),
            SignerError::BadEnvelope,
        ),
        (
            HopRequest {
                nonce: Some("has space"),
                ..HopRequest::new("a.example", "a@a.example", &["b@b.example"], NOW)
            },
            SignerError::BadNonce,
        ),
        (
            HopRequest {
                destination: Destination::NextDomain("-"),
                ..HopRequest::new("a.example", "a@a.example", &["b@b.example"], NOW)
            },
            SignerError::BadDomain,
        ),
    ] {
        assert_eq!(Signer::new(&req).err(), Some(error));
    }
}

#[test]
fn a_too_small_buffer_says_how_much_and_signs_nothing() {
    let req = HopRequest::new("a.example", "alice@a.example", &["list@l.example"], NOW);
    let mut signer = Signer::new(&req).unwrap();
    signer.update(MESSAGE).unwrap();
    let mut k = key(1);
    let mut keys: [(&str, &mut dyn DigestSigner); 1] = [("ed", &mut k)];
    let mut small = vec![0u8; 40];
    let Err(SignerError::BufferTooSmall { required }) = signer.finish(&mut keys, &mut small) else {
        panic!("expected BufferTooSmall");
    };
    let mut out = vec![0u8; required];
    let s = signer.finish(&mut keys, &mut out).unwrap();
    assert_eq!(s.signature.end, required);
}

/// A hop that changed the message, with `recipe` as its `r=`.
fn list_hop(message: &[u8], recipe: &[u8]) -> Vec<u8> {
    let req = HopRequest {
        recipe: Some(recipe),
        ..HopRequest::new("l.example", "bounce@l.example", &["bob@b.example"], NOW)
    };
    hop_with(message, &req, seed_of("l.example"))
}

#[test]
fn a_list_hop_with_its_recipe_verifies_and_a_wrong_recipe_fails() {
    let one = hop(
        MESSAGE,
        "a.example",
        seed_of("a.example"),
        "alice@a.example",
        &["list@l.example"],
    );
    // The list tags the subject and adds a footer.
    let changed = String::from_utf8(one.clone())
        .unwrap()
        .replace("Subject: Hello", "Subject: [l] Hello")
        + "-- \r\nThe list\r\n";
    let good = list_hop(
        changed.as_bytes(),
        br#"{"h":{"subject":[{"d":["Hello"]}]},"b":[{"c":[1,1]}]}"#,
    );
    for n in [0, good.len() / 2, good.len()] {
        let r = verify_split(&good, "bounce@l.example", &["bob@b.example"], Some(n));
        assert_eq!((r.status, r.hops), (Status::Pass, 2), "{r:?}");
    }
    // A recipe that forgets the footer: instance 1's body does not match.
    let no_body = list_hop(
        changed.as_bytes(),
        br#"{"h":{"subject":[{"d":["Hello"]}]}}"#,
    );
    let r = verify(&no_body, "bounce@l.example", &["bob@b.example"]);
    assert_eq!(
        (r.status, r.reason),
        (Status::Fail, Reason::BodyHashMismatch { revision: 1 })
    );
    // One that forgets the subject: instance 1's header does not match.
    let no_subject = list_hop(changed.as_bytes(), br#"{"b":[{"c":[1,1]}]}"#);
    let r = verify(&no_subject, "bounce@l.example", &["bob@b.example"]);
    assert_eq!(r.reason, Reason::HeaderHashMismatch { revision: 1 });
}

#[test]
fn hostile_recipes_get_typed_results() {
    let one = hop(
        MESSAGE,
        "a.example",
        seed_of("a.example"),
        "alice@a.example",
        &["list@l.example"],
    );
    let envelope = ("bounce@l.example", ["bob@b.example"]);
    let check = |recipe: &[u8]| {
        let signed = list_hop(&one, recipe);
        verify(&signed, envelope.0, &envelope.1)
    };
    use super::recipe::RecipeError;
    // A range past the end of the body.
    let r = check(br#"{"b":[{"c":[1,1000000]}]}"#);
    assert_eq!(r.status, Status::Fail);
    assert!(
        matches!(
            r.reason,
            Reason::Recipe {
                revision: 2,
                error: RecipeError::RangeOutsideBody { .. }
            }
        ),
        "{r:?}"
    );
    // Ranges out of order cannot stream: refused before any body.
    let r = check(br#"{"b":[{"c":[2,2]},{"c":[1,1]}]}"#);
    assert_eq!(r.status, Status::PermError);
    assert!(
        matches!(
            r.reason,
            Reason::Recipe {
                revision: 2,
                error: RecipeError::NotStreamable
            }
        ),
        "{r:?}"
    );
    // A recipe larger than the verifier's arena (2 KiB here): the growth a
    // recipe can ask for is bounded by what the verifier holds.
    let big = format!(r#"{{"b":[{{"d":["{}"]}}]}}"#, "x".repeat(4000));
    let r = check(big.as_bytes());
    assert_eq!(
        (r.status, r.reason),
        (Status::PermError, Reason::RecipesTooLarge { revision: 2 })
    );
    // The body cannot be rebuilt.
    let r = check(br#"{"b":null}"#);
    assert_eq!(r.reason, Reason::Unreconstructable { revision: 2 });
}
