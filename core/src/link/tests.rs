use super::*;
extern crate std;
use std::vec::Vec;

fn frame(seq: u8, kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME];
    let n = encode_frame(seq, kind, payload, &mut out).unwrap();
    out[..n].to_vec()
}

/// Feed `wire` to a decoder in chunks of `step` bytes; collect events.
type Decoded = Result<(u8, u8, Vec<u8>), FrameError>;

fn decode_all(wire: &[u8], step: usize) -> Vec<Decoded> {
    let mut d: FrameDecoder<MAX_FRAME> = FrameDecoder::new();
    let mut out = Vec::new();
    let mut rest = wire;
    loop {
        while let Some(ev) = d.next_event() {
            out.push(match ev {
                Event::Frame(f) => Ok((f.seq, f.kind, f.payload.to_vec())),
                Event::Error(e) => Err(e),
            });
        }
        if rest.is_empty() {
            break;
        }
        let n = step.min(rest.len());
        let pushed = d.push(&rest[..n]);
        assert!(pushed > 0);
        rest = &rest[pushed..];
    }
    out
}

#[test]
fn crc32_check_value() {
    // The CRC-32 check value from the catalogue: "123456789" -> CBF43926.
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}

#[test]
fn frames_round_trip_at_every_split() {
    let mut wire = frame(1, Kind::Info, b"");
    wire.extend(frame(2, Kind::Body, &[7u8; 300]));
    wire.extend(frame(3, Kind::Header, b"From: a@example.com"));
    for step in 1..wire.len() {
        let ev = decode_all(&wire, step);
        assert_eq!(ev.len(), 3, "step {step}");
        assert_eq!(ev[0], Ok((1, 0x01, Vec::new())));
        assert_eq!(ev[1], Ok((2, 0x05, [7u8; 300].to_vec())));
        assert_eq!(ev[2], Ok((3, 0x04, b"From: a@example.com".to_vec())));
    }
}

#[test]
fn junk_is_reported_once_then_frames_decode() {
    let mut wire = b"hello, this is junk \xA5 junk".to_vec();
    wire.extend(frame(9, Kind::Info, b""));
    let ev = decode_all(&wire, 5);
    assert_eq!(ev, [Err(FrameError::Junk), Ok((9, 1, Vec::new()))]);
}

#[test]
fn bad_crc_then_resync() {
    let mut bad = frame(4, Kind::Body, b"abcdef");
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    let mut wire = bad;
    wire.extend(frame(5, Kind::Info, b""));
    let ev = decode_all(&wire, 7);
    assert_eq!(ev, [Err(FrameError::BadCrc), Ok((5, 1, Vec::new()))]);
}

#[test]
fn truncated_frame_costs_only_itself() {
    let full = frame(4, Kind::Body, &[b'x'; 100]);
    let mut wire = full[..40].to_vec();
    // The next good frame is swallowed into the truncated one's payload,
    // then found again by the rescan after the CRC fails.
    wire.extend(frame(6, Kind::Info, b""));
    wire.extend([0u8; 100]);
    wire.extend(frame(7, Kind::Info, b""));
    let ev = decode_all(&wire, 13);
    assert_eq!(ev[0], Err(FrameError::BadCrc));
    assert!(ev.contains(&Ok((6, 1, Vec::new()))), "{ev:?}");
    assert_eq!(ev.last(), Some(&Ok((7, 1, Vec::new()))));
}

#[test]
fn oversized_length_is_refused() {
    let mut wire = MAGIC.to_vec();
    wire.extend([1, 0x05, 0xFF, 0xFF]);
    wire.extend([0u8; 64]);
    wire.extend(frame(8, Kind::Info, b""));
    let ev = decode_all(&wire, 64);
    assert_eq!(ev, [Err(FrameError::Oversized), Ok((8, 1, Vec::new()))]);
}

#[test]
fn sign_begin_round_trips() {
    let names = ["From", "To", "Subject"];
    let mut req = SignRequest::new("example.com", "sel", SigningAlgorithm::Ed25519Sha256);
    req.headers = HeaderSelection::Exact(&names);
    req.canonicalization = Canonicalization {
        header: Canon::Relaxed,
        body: Canon::Simple,
    };
    req.timestamp = Some(1_700_000_000);
    req.expiration = Some(1_700_086_400);
    req.identity = Some("@example.com");
    for length in [BodyLength::Omit, BodyLength::Whole, BodyLength::Limit(77)] {
        req.body_length = length;
        let mut names_buf = [0u8; 64];
        let begin = SignBegin::from_request(3, &req, &mut names_buf).unwrap();
        let mut out = [0u8; 256];
        let n = begin.encode(&mut out).unwrap();
        let back = SignBegin::decode(&out[..n]).unwrap();
        assert_eq!(back, begin);
        let mut names_back: heapless::Vec<&str, 8> = heapless::Vec::new();
        let r = back
            .to_request(SigningAlgorithm::Ed25519Sha256, &mut names_back)
            .unwrap();
        assert_eq!(r.headers, HeaderSelection::Exact(&names));
        assert_eq!(
            (r.domain, r.selector, r.timestamp, r.expiration, r.identity),
            (
                "example.com",
                "sel",
                req.timestamp,
                req.expiration,
                req.identity
            )
        );
        assert_eq!(r.body_length, length);
        assert_eq!(r.canonicalization, req.canonicalization);
        for cut in 0..n {
            assert!(SignBegin::decode(&out[..cut]).is_err(), "cut {cut}");
        }
    }
}

#[test]
fn info_and_stats_round_trip() {
    let mut slots = heapless::Vec::new();
    slots
        .push(SlotInfo {
            key_id: 0,
            algorithm: Some(SigningAlgorithm::RsaSha256),
            bits: 2048,
            public_key: &[0x30, 0x82, 0x01, 0x22],
        })
        .unwrap();
    slots
        .push(SlotInfo {
            key_id: 1,
            algorithm: None,
            bits: 0,
            public_key: &[],
        })
        .unwrap();
    let info = InfoReply {
        protocol: PROTOCOL_VERSION,
        firmware: "mass-firmware 0.1.0",
        board: "mps2-an385",
        max_payload: 4096,
        header_bytes: 8192,
        header_fields: 64,
        slots,
    };
    let mut out = [0u8; 256];
    let n = info.encode(&mut out).unwrap();
    assert_eq!(InfoReply::decode(&out[..n]).unwrap(), info);
    let stats = Stats {
        heap_peak: 1,
        body_ticks: 99,
        ..Stats::default()
    };
    let n = stats.encode(&mut out).unwrap();
    assert_eq!(Stats::decode(&out[..n]).unwrap(), stats);
}

#[test]
fn seal_matches_encode() {
    let payload = b"DKIM-Signature: v=1";
    let mut a = [0u8; 64];
    let n = encode_frame(3, Kind::Signature, payload, &mut a).unwrap();
    let mut b = [0u8; 64];
    b[FRAME_HEADER_LEN..FRAME_HEADER_LEN + payload.len()].copy_from_slice(payload);
    let m = seal_frame(3, Kind::Signature, payload.len(), &mut b).unwrap();
    assert_eq!(a[..n], b[..m]);
}

#[test]
fn signer_error_details_are_pinned() {
    // The bytes are wire format: a device and a host of different versions
    // must agree on them, so they never move.
    let pinned = [
        (Error::HeaderBytesCapacity { limit: 1 }, 1),
        (Error::OutOfOrder, 4),
        (Error::MultipleFromFields, 6),
        (Error::BufferTooSmall { required: 9 }, 11),
        (Error::Key, 14),
        (Error::MultipleSenderFields, 15),
        (Error::NoSuchSignature, 18),
    ];
    for (e, detail) in pinned {
        assert_eq!(signer_error_detail(&e), detail, "{e:?}");
        let d = DeviceError::from(e);
        assert_eq!((d.code, d.detail), (ErrorCode::Sign, detail));
    }
}

mod seal {
    use super::*;
    use crate::arc::{ArcSealer, ChainStatus, SealRequest, SealerError};

    fn request<'a>(names: &'a [&'a str]) -> SealRequest<'a> {
        let mut req = SealRequest::new(
            "example.org",
            "arc",
            SigningAlgorithm::Ed25519Sha256,
            "mx.example.org",
        );
        req.headers = HeaderSelection::Exact(names);
        req.timestamp = Some(1_790_000_000);
        req
    }

    #[test]
    fn seal_begin_round_trips() {
        let names = ["From", "To", "Subject", "DKIM-Signature"];
        let results: [&[u8]; 2] = [b"dkim=pass header.d=example.com", b"spf=pass"];
        for (chain, oversign, timestamp) in [
            (ChainStatus::None, false, Some(7)),
            (ChainStatus::Pass, true, None),
            (ChainStatus::Fail, true, Some(u64::MAX)),
        ] {
            let mut req = request(&names);
            if oversign {
                req.headers = HeaderSelection::Oversign(&names);
            }
            req.timestamp = timestamp;
            req.canonicalization.body = Canon::Simple;
            let (mut nb, mut rb) = ([0u8; 128], [0u8; 128]);
            let begin =
                SealBegin::from_request(1, &req, chain, &results, &mut nb, &mut rb).unwrap();
            let mut out = [0u8; 512];
            let n = begin.encode(&mut out).unwrap();
            let back = SealBegin::decode(&out[..n]).unwrap();
            assert_eq!(back, begin);
            assert_eq!(back.results.iter().collect::<std::vec::Vec<_>>(), results);
            let mut names_back: heapless::Vec<&str, 8> = heapless::Vec::new();
            let r = back
                .to_request(SigningAlgorithm::RsaSha256, &mut names_back)
                .unwrap();
            assert_eq!(r.headers, req.headers);
            assert_eq!(
                (r.domain, r.selector, r.authserv_id, r.timestamp),
                (req.domain, req.selector, req.authserv_id, req.timestamp)
            );
            assert_eq!(r.canonicalization, req.canonicalization);
            assert_eq!(r.algorithm, SigningAlgorithm::RsaSha256);
            for cut in 0..n {
                assert!(SealBegin::decode(&out[..cut]).is_err(), "cut {cut}");
            }
            let mut longer = out[..n].to_vec();
            longer.push(0);
            assert!(SealBegin::decode(&longer).is_err());
        }
    }

    #[test]
    fn seal_begin_rejects_bad_bytes() {
        let names = ["From"];
        let req = request(&names);
        let (mut nb, mut rb) = ([0u8; 64], [0u8; 64]);
        let begin =
            SealBegin::from_request(0, &req, ChainStatus::None, &[], &mut nb, &mut rb).unwrap();
        let mut out = [0u8; 256];
        let n = begin.encode(&mut out).unwrap();
        for (at, value) in [(1, 4), (2, 2), (2, 0x80), (3, 3)] {
            let mut bad = out[..n].to_vec();
            bad[at] = value;
            assert_eq!(
                SealBegin::decode(&bad),
                Err(DecodeError::Invalid),
                "byte {at}"
            );
        }
    }

    #[test]
    fn aar_results_are_bounded() {
        let long = [b'x'; MAX_AAR_RESULTS_BYTES + 1];
        let mut buf = [0u8; 2 * AAR_RESULTS_ENCODED_CAP];
        assert_eq!(
            AarResults::encode_into(&[&long[..]], &mut buf),
            Err(SealBeginError::ResultsTooLong {
                len: MAX_AAR_RESULTS_BYTES + 1
            })
        );
        let many = [&b"a=b"[..]; MAX_AAR_RESULTS + 1];
        assert_eq!(
            AarResults::encode_into(&many, &mut buf),
            Err(SealBeginError::TooManyResults {
                count: MAX_AAR_RESULTS + 1
            })
        );
        // Exactly at the bounds fits the encoded capacity.
        let texts = [&long[..MAX_AAR_RESULTS_BYTES / MAX_AAR_RESULTS]; MAX_AAR_RESULTS];
        let mut exact = [0u8; AAR_RESULTS_ENCODED_CAP];
        let r = AarResults::encode_into(&texts, &mut exact).unwrap();
        assert_eq!(r.len(), MAX_AAR_RESULTS);
        assert_eq!(r.encoded().len(), AAR_RESULTS_ENCODED_CAP);
        // A peer that sends more is refused when decoding.
        let mut w = Writer::new(&mut buf);
        w.bytes16(&long).unwrap();
        let n = w.len();
        assert_eq!(
            AarResults::from_encoded(1, &buf[..n]),
            Err(DecodeError::TooMany)
        );
        assert_eq!(
            AarResults::from_encoded(MAX_AAR_RESULTS as u8 + 1, &[0; 34]),
            Err(DecodeError::TooMany)
        );
    }

    #[test]
    fn sealer_error_details_are_pinned() {
        let pinned = [
            (SealerError::ChainFailed, 1),
            (SealerError::ChainFull, 2),
            (SealerError::ChainMismatch, 3),
            (SealerError::BadAuthservId, 4),
            (SealerError::ArcFieldInHeaderList, 5),
        ];
        for (e, detail) in pinned {
            let d = DeviceError::from(e);
            assert_eq!((d.code, d.detail), (ErrorCode::Seal, detail), "{e:?}");
            assert_eq!(ErrorCode::from_u8(d.code.to_u8()), ErrorCode::Seal);
        }
        let d = DeviceError::from(SealerError::Stream(Error::HeaderBytesCapacity { limit: 1 }));
        assert_eq!((d.code, d.detail), (ErrorCode::Sign, 1));
        assert_eq!(Kind::from_u8(0x09), Some(Kind::SealBegin));
        assert_eq!(Kind::from_u8(0x84), Some(Kind::ArcSet));
    }

    /// A signer as long as RSA-4096, for sizes only; counts its signatures.
    struct Wide(usize);
    impl crate::DigestSigner for Wide {
        fn algorithm(&self) -> SigningAlgorithm {
            SigningAlgorithm::RsaSha256
        }
        fn signature_len(&self) -> usize {
            512
        }
        fn sign_digest(&mut self, _: &[u8; 32], out: &mut [u8]) -> Result<usize, Error> {
            self.0 += 1;
            out.get_mut(..512).ok_or(Error::Key)?.fill(0xA5);
            Ok(512)
        }
    }

    /// Seal at instance 50 with RSA-4096-sized signatures, `t=` of 20
    /// digits, 1024 bytes of results in 16 texts, an `h=` of 599 bytes,
    /// and `d=`, `s=` and authserv-id of `name_len` bytes, into a frame's
    /// payload.
    fn seal_largest(name_len: usize) -> (usize, Result<usize, SealerError>, usize) {
        let label = "a".repeat(63);
        let long = std::format!("{label}.{label}.{label}.{}", "b".repeat(61));
        let domain = &long[long.len() - name_len..];
        let authserv = "m".repeat(name_len);
        // 30 names of 9 bytes, each present and oversigned: 60 in h=.
        let names: std::vec::Vec<std::string::String> =
            (0..30).map(|i| std::format!("x-hdr-{i:03}")).collect();
        let names: std::vec::Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let mut req = SealRequest::new(domain, domain, SigningAlgorithm::RsaSha256, &authserv);
        req.headers = HeaderSelection::Oversign(&names);
        req.timestamp = Some(u64::MAX);
        let mut sealer: ArcSealer<65536, 256> = ArcSealer::new(&req).unwrap();
        for n in &names {
            sealer
                .header_field(std::format!("{n}: v").as_bytes())
                .unwrap();
        }
        // Instance 50: 49 sets before (only their instances matter here).
        for i in 1..50 {
            sealer
                .header_field(std::format!("ARC-Seal: i={i}; cv=pass").as_bytes())
                .unwrap();
        }
        sealer.end_of_headers().unwrap();
        let text = [b'r'; MAX_AAR_RESULTS_BYTES / MAX_AAR_RESULTS];
        let results = [&text[..]; MAX_AAR_RESULTS];
        let mut key = Wide(0);
        let len = sealer.required_len(&results, &key).unwrap();
        let mut out = std::vec![0u8; MAX_PAYLOAD];
        let set = sealer.finish(&results, ChainStatus::Fail, &mut key, &mut out);
        (len, set.map(|s| s.len), key.0)
    }

    /// The bound PROTOCOL.md states: names of up to 64 bytes give a set
    /// that fits one frame however long the rest is; past the frame the
    /// sealer refuses before it signs anything.
    #[test]
    fn the_largest_set_fits_a_frame() {
        let (len, sealed, signatures) = seal_largest(64);
        std::eprintln!("largest set with 64-byte names: {len} bytes");
        assert!(len <= MAX_PAYLOAD, "{len}");
        assert_eq!((sealed, signatures), (Ok(len), 2));
        let (len, sealed, signatures) = seal_largest(253);
        std::eprintln!("largest set with 253-byte names: {len} bytes");
        assert!(len > MAX_PAYLOAD);
        assert_eq!(
            (sealed, signatures),
            (
                Err(SealerError::Stream(Error::BufferTooSmall { required: len })),
                0
            )
        );
    }
}
