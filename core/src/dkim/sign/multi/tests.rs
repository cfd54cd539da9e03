use super::*;
use crate::canon::Canon;
use crate::crypto::Ed25519Signer;
use crate::dkim::sign::MessageSigner;

const MSG: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.net\r\n\
Subject: hello\r\n  world\r\n\
X-Other: not signed\r\n\
\r\n\
Body  line one.  \r\n\
\r\n";

fn req(selector: &str) -> SignRequest<'_> {
    let mut r = SignRequest::new("example.com", selector, SigningAlgorithm::Ed25519Sha256);
    r.timestamp = Some(1_700_000_000);
    r
}

fn key(seed: u8) -> Ed25519Signer {
    Ed25519Signer::from_seed(&[seed; 32])
}

fn one(r: &SignRequest<'_>, seed: u8) -> heapless::Vec<u8, 1024> {
    let mut s = MessageSigner::<2048, 16>::new(r).unwrap();
    s.update(MSG).unwrap();
    let mut out = [0u8; 1024];
    let n = s.finish(&mut key(seed), &mut out).unwrap();
    heapless::Vec::from_slice(&out[..n]).unwrap()
}

#[test]
fn shares_body_hashes_by_canonicalization_and_limit() {
    let mut simple = req("b");
    simple.canonicalization = Canonicalization::SIMPLE;
    let mut whole = req("c");
    whole.body_length = BodyLength::Whole;
    let mut limited = req("d");
    limited.body_length = BodyLength::Limit(4);
    let reqs = [req("a"), simple, whole, limited, req("e")];
    // relaxed/none (a, c, e), simple/none (b), relaxed/4 (d).
    let mut s = MultiSigner::<2048, 16, 5, 3>::new(&reqs).unwrap();
    assert_eq!((s.len(), s.body_hashes()), (5, 3));
    s.update(MSG).unwrap();
    let mut out = [0u8; 1024];
    for (i, r) in reqs.iter().enumerate() {
        let seed = i as u8;
        let n = s.finish(i, &mut key(seed), &mut out).unwrap();
        assert_eq!(&out[..n], one(r, seed).as_slice(), "signature {i}");
    }
}

#[test]
fn capacities_are_typed_errors() {
    let reqs = [req("a"), req("b"), req("c")];
    assert_eq!(
        MultiSigner::<2048, 16, 2, 2>::new(&reqs).err(),
        Some(Error::SignaturesCapacity { limit: 2 })
    );
    let mut other = req("b");
    other.canonicalization.body = Canon::Simple;
    assert_eq!(
        MultiSigner::<2048, 16, 2, 1>::new(&[req("a"), other]).err(),
        Some(Error::BodyHashesCapacity { limit: 1 })
    );
    let mut s = MultiSigner::<2048, 16, 2, 1>::new(&[req("a")]).unwrap();
    s.update(MSG).unwrap();
    assert_eq!(s.required_len(1, &key(1)), Err(Error::NoSuchSignature));
    let mut out = [0u8; 1024];
    assert_eq!(
        s.finish(1, &mut key(1), &mut out),
        Err(Error::NoSuchSignature)
    );
}

#[test]
fn a_limit_reached_by_every_hasher_says_done() {
    let mut a = req("a");
    a.body_length = BodyLength::Limit(3);
    let mut b = req("b");
    b.body_length = BodyLength::Limit(5);
    let mut s = MultiSigner::<2048, 16, 2, 2>::new(&[a, b]).unwrap();
    s.header_field(b"From: a@example.com").unwrap();
    s.end_of_headers().unwrap();
    assert_eq!(s.body(b"abcd"), Ok(BodyInterest::More));
    assert_eq!(s.body(b"efgh"), Ok(BodyInterest::Done));
}

#[test]
fn required_len_is_exact_and_retry_works() {
    let mut z = req("b");
    z.copied_headers = true;
    z.body_length = BodyLength::Whole;
    let mut s = MultiSigner::<2048, 16, 2, 1>::new(&[req("a"), z]).unwrap();
    for chunk in MSG.chunks(7) {
        s.update(chunk).unwrap();
    }
    for i in 0..2 {
        let need = s.required_len(i, &key(3)).unwrap();
        let mut small = [0u8; 64];
        assert_eq!(
            s.finish(i, &mut key(3), &mut small),
            Err(Error::BufferTooSmall { required: need })
        );
        let mut out = [0u8; 1024];
        assert_eq!(s.finish(i, &mut key(3), &mut out[..need]), Ok(need));
    }
    assert_eq!(s.update(b"x"), Err(Error::OutOfOrder));
}
