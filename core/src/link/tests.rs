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

mod dkim2 {
    use super::*;
    use crate::Ed25519Signer;
    use crate::dkim2::sign::{Destination, HopRequest, SignerError};
    use crate::dkim2::{Dkim2Signer, MAX_PATH};
    use std::string::String;
    use std::vec::Vec;

    fn encode(begin: &Dkim2Begin<'_>) -> Vec<u8> {
        let mut out = std::vec![0u8; MAX_PAYLOAD];
        let n = begin.encode(&mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn dkim2_begin_round_trips() {
        let rcpts = ["<b@example.net>", "c@example.com", "<>"];
        let flags = ["feedback", "donotexplode"];
        let recipe = br#"{"h":{"subject":[{"d":["Hello"]}]}}"#;
        let envelope = Destination::Envelope {
            mail_from: "bounce@example.org",
            rcpt_to: &rcpts,
        };
        for (destination, nonce, f, r) in [
            (envelope, None, &flags[..0], None),
            (envelope, Some("n0nce"), &flags[..], Some(&recipe[..])),
            (
                Destination::NextDomain("next.example"),
                Some("x"),
                &flags[..1],
                None,
            ),
        ] {
            let req = HopRequest {
                domain: "example.org",
                destination,
                timestamp: u64::MAX,
                nonce,
                flags: f,
                recipe: r,
            };
            let (mut rb, mut fb) = ([0u8; 256], [0u8; 64]);
            let begin = Dkim2Begin::from_request(3, "sel", &req, &mut rb, &mut fb).unwrap();
            let wire = encode(&begin);
            let back = Dkim2Begin::decode(&wire).unwrap();
            assert_eq!(back, begin);
            assert_eq!(back.selector, "sel");
            let mut r_back: heapless::Vec<&str, 8> = heapless::Vec::new();
            let mut f_back: heapless::Vec<&str, 8> = heapless::Vec::new();
            assert_eq!(back.to_request(&mut r_back, &mut f_back).unwrap(), req);
            for cut in 0..wire.len() {
                assert!(Dkim2Begin::decode(&wire[..cut]).is_err(), "cut {cut}");
            }
            let mut longer = wire.clone();
            longer.push(0);
            assert!(Dkim2Begin::decode(&longer).is_err());
        }
    }

    #[test]
    fn dkim2_begin_is_bounded() {
        let path = "p".repeat(MAX_PATH + 1);
        let nine = ["<a@b.example>"; MAX_HOP_RECIPIENTS + 1];
        let flags = ["f"; MAX_HOP_FLAGS + 1];
        let recipe = [b'{'; MAX_HOP_RECIPE_BYTES + 1];
        let mut req = HopRequest::new("example.org", "", &nine, 1);
        let (mut rb, mut fb) = (std::vec![0u8; 8192], [0u8; 64]);
        let e = Dkim2Begin::from_request(0, "s", &req, &mut rb, &mut fb);
        assert_eq!(
            e,
            Err(Dkim2BeginError::TooManyRecipients {
                count: MAX_HOP_RECIPIENTS + 1
            })
        );
        req.destination = Destination::Envelope {
            mail_from: &path,
            rcpt_to: &nine[..1],
        };
        let e = Dkim2Begin::from_request(0, "s", &req, &mut rb, &mut fb);
        assert_eq!(e, Err(Dkim2BeginError::PathTooLong { len: MAX_PATH + 1 }));
        req.destination = Destination::NextDomain("n.example");
        req.flags = &flags;
        let e = Dkim2Begin::from_request(0, "s", &req, &mut rb, &mut fb);
        assert_eq!(
            e,
            Err(Dkim2BeginError::TooManyFlags {
                count: MAX_HOP_FLAGS + 1
            })
        );
        req.flags = &[];
        req.recipe = Some(&recipe);
        let e = Dkim2Begin::from_request(0, "s", &req, &mut rb, &mut fb);
        assert_eq!(
            e,
            Err(Dkim2BeginError::RecipeTooLong {
                len: MAX_HOP_RECIPE_BYTES + 1
            })
        );
        // At the bounds: 8 paths of 256 bytes, a 256-byte MAIL FROM, 8
        // flags, a 1 KiB recipe, a nonce of 64 and names of 64 fit a frame.
        let long = std::format!("<{}@example.org>", "l".repeat(MAX_PATH - 14));
        assert_eq!(long.len(), MAX_PATH);
        let eight = [long.as_str(); MAX_HOP_RECIPIENTS];
        let flags = ["donotmodify"; MAX_HOP_FLAGS];
        let name = std::format!("{}.example", "d".repeat(56));
        let nonce = "n".repeat(64);
        let req = HopRequest {
            domain: &name,
            destination: Destination::Envelope {
                mail_from: &long,
                rcpt_to: &eight,
            },
            timestamp: u64::MAX,
            nonce: Some(&nonce),
            flags: &flags,
            recipe: Some(&recipe[..MAX_HOP_RECIPE_BYTES]),
        };
        let (mut rb, mut fb) = (std::vec![0u8; 8192], [0u8; 256]);
        let begin = Dkim2Begin::from_request(0, &name, &req, &mut rb, &mut fb).unwrap();
        let wire = encode(&begin);
        std::eprintln!("the largest DKIM2-BEGIN: {} bytes", wire.len());
        assert!(wire.len() <= MAX_PAYLOAD);
        assert_eq!(Dkim2Begin::decode(&wire).unwrap(), begin);
        // A peer that sends past the bounds is refused when decoding.
        let mut bad = wire.clone();
        // key, bits, t (8), d (1 + 64), s (1 + 64), n (1 + 64), mf (2 + 256)
        let count_at = 2 + 8 + 65 + 65 + 65 + 258;
        assert_eq!(bad[count_at], MAX_HOP_RECIPIENTS as u8);
        bad[count_at] = MAX_HOP_RECIPIENTS as u8 + 1;
        assert_eq!(Dkim2Begin::decode(&bad), Err(DecodeError::TooMany));
        let mut bad = wire.clone();
        bad[1] |= 8;
        assert_eq!(Dkim2Begin::decode(&bad), Err(DecodeError::Invalid));
        let mut bad = wire;
        // The MAIL FROM's length, one more (the path reads one byte into
        // the count, and the rest no longer adds up).
        bad[count_at - 258] = 1;
        bad[count_at - 257] = 1;
        assert!(Dkim2Begin::decode(&bad).is_err());
    }

    /// Sign a hop with the core signer; lay the answer out as the device
    /// does and split it as the host does.
    fn answer(message: &[u8], recipe: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
        let rcpt = ["<b@example.net>"];
        let mut req = HopRequest::new("example.org", "a@example.org", &rcpt, 1_790_000_000);
        req.recipe = recipe;
        let mut signer: Dkim2Signer<'_, 4096, 32> = Dkim2Signer::new(&req).unwrap();
        signer.update(message).unwrap();
        let mut key = Ed25519Signer::from_seed(&[4; 32]);
        let mut keys: [(&str, &mut dyn crate::DigestSigner); 1] = [("ed", &mut key)];
        let mut out = std::vec![0u8; MAX_PAYLOAD];
        let room = out.len() - 2;
        let hop = signer.finish(&mut keys, &mut out[..room]).unwrap();
        // What the host puts on top: the signature, then the instance.
        let mut want = Vec::new();
        for span in [Some(hop.signature), hop.instance].into_iter().flatten() {
            want.extend_from_slice(span.get(&out).unwrap());
            want.extend_from_slice(b"\r\n");
        }
        let mi = hop.instance.map_or(0, |s| s.len());
        let n = hop_answer(&mut out, mi, hop.signature.len()).unwrap();
        out.truncate(n);
        (out, want)
    }

    #[test]
    fn the_hop_answer_is_the_fields_in_order() {
        let first = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
        let (wire, want) = answer(first, None);
        let fields = split_hop_answer(&wire).unwrap();
        let mut joined = fields.signature.to_vec();
        joined.extend_from_slice(b"\r\n");
        joined.extend_from_slice(fields.instance.unwrap());
        joined.extend_from_slice(b"\r\n");
        assert_eq!(joined, want);
        // A hop that changed nothing adds no instance.
        let mut second = want.clone();
        second.extend_from_slice(first);
        let (wire, want) = answer(&second, None);
        let fields = split_hop_answer(&wire).unwrap();
        assert_eq!(fields.instance, None);
        assert_eq!([fields.signature, b"\r\n"].concat(), want);
        assert!(String::from_utf8_lossy(fields.signature).contains("i=2;"));
        // With a recipe it adds one again.
        let (wire, _) = answer(&second, Some(b"{\"h\":{}}"));
        assert!(split_hop_answer(&wire).unwrap().instance.is_some());
        // Anything else is refused.
        for bad in [
            &b"Message-Instance: m=1"[..],
            b"DKIM2-Signature: i=1\r\nDKIM2-Signature: i=2",
            b"DKIM2-Signature: i=1\r\nMessage-Instance: m=1\r\nX: y",
            b"",
        ] {
            assert_eq!(split_hop_answer(bad), Err(DecodeError::Invalid));
        }
        // Folded fields stay whole.
        let folded = b"DKIM2-Signature: i=1;\r\n\td=x\r\nMessage-Instance: m=1;\r\n h=y";
        let f = split_hop_answer(folded).unwrap();
        assert_eq!(f.signature, b"DKIM2-Signature: i=1;\r\n\td=x");
        assert_eq!(f.instance, Some(&b"Message-Instance: m=1;\r\n h=y"[..]));
        // No room for the CRLF: a typed error.
        let mut tight = *b"MISIG";
        assert_eq!(hop_answer(&mut tight, 2, 3), Err(EncodeError { needed: 7 }));
    }

    #[test]
    fn dkim2_error_details_are_pinned() {
        let pinned = [
            (SignerError::BadDomain, 1),
            (SignerError::BadEnvelope, 2),
            (SignerError::BadNonce, 3),
            (SignerError::BadFlag, 4),
            (SignerError::BadSelector, 5),
            (SignerError::BadKeys, 6),
            (SignerError::BrokenChain, 7),
            (SignerError::RecipeWithoutInstance, 8),
            (SignerError::BufferTooSmall { required: 5000 }, 9),
            (SignerError::Key, 10),
        ];
        for (e, detail) in pinned {
            let d = DeviceError::from(e);
            assert_eq!((d.code, d.detail), (ErrorCode::Dkim2, detail), "{e:?}");
            assert_eq!(ErrorCode::from_u8(d.code.to_u8()), ErrorCode::Dkim2);
        }
        assert_eq!(DKIM2_REQUEST_TOO_LARGE, 11);
        let d = DeviceError::from(SignerError::Stream(Error::HeaderFieldsCapacity {
            limit: 1,
        }));
        assert_eq!((d.code, d.detail), (ErrorCode::Sign, 2));
        assert_eq!(Kind::from_u8(0x0A), Some(Kind::Dkim2Begin));
        assert_eq!(Kind::from_u8(0x85), Some(Kind::Dkim2Hop));
        assert_eq!(ErrorCode::Dkim2.to_u8(), 13);
        assert_eq!(PROTOCOL_VERSION, 4);
    }

    #[test]
    fn strings_round_trip_in_both_widths() {
        let items = ["", "a", &"w".repeat(300)];
        let mut buf = [0u8; 512];
        assert!(Strings::encode_into(Width::Str8, &items, &mut buf).is_err());
        let s = Strings::encode_into(Width::Str16, &items, &mut buf).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), items);
        let again = Strings::from_encoded(Width::Str16, 3, s.encoded()).unwrap();
        assert_eq!(again, s);
        assert!(Strings::from_encoded(Width::Str16, 2, s.encoded()).is_err());
        assert!(Strings::from_encoded(Width::Str16, 4, s.encoded()).is_err());
        let mut two: heapless::Vec<&str, 2> = heapless::Vec::new();
        assert_eq!(s.collect_into(&mut two), Err(DecodeError::TooMany));
    }
}

mod dkim2_sizes {
    use super::*;
    use crate::dkim2::Dkim2Signer;
    use crate::dkim2::sign::{Destination, HopRequest, SignerError};

    /// Sign a second hop that changed the message (so with a
    /// Message-Instance, `m=2`) with an RSA-4096-sized key, `t=` of 20
    /// digits, `d=` of 64 bytes, a MAIL FROM and `rcpts` RCPT TO paths of
    /// `path_len` bytes, a 64-byte nonce, 2 flags and a recipe of
    /// `recipe_len` bytes, into a frame's payload less the CRLF of the
    /// answer.
    fn hop_len(
        rcpts: usize,
        path_len: usize,
        recipe_len: usize,
    ) -> (Result<usize, SignerError>, usize) {
        let domain = std::format!("{}.example", "d".repeat(56));
        let path = std::format!("<{}@x.example>", "p".repeat(path_len - 13));
        let paths = std::vec![path.as_str(); rcpts];
        let recipe = std::vec![b'r'; recipe_len];
        let nonce = "n".repeat(64);
        let req = HopRequest {
            domain: &domain,
            destination: Destination::Envelope {
                mail_from: &path,
                rcpt_to: &paths,
            },
            timestamp: u64::MAX,
            nonce: Some(&nonce),
            flags: &["feedback", "donotmodify"],
            recipe: (recipe_len > 0).then_some(&recipe[..]),
        };
        // The message after a first hop (by the originator, Ed25519).
        let message = b"From: a@b.example\r\n\r\nbody\r\n";
        let first = HopRequest::new("b.example", "a@b.example", &["<l@x.example>"], 1);
        let mut signer: Dkim2Signer<'_, 4096, 32> = Dkim2Signer::new(&first).unwrap();
        signer.update(message).unwrap();
        let mut ed = crate::Ed25519Signer::from_seed(&[1; 32]);
        let mut keys: [(&str, &mut dyn crate::DigestSigner); 1] = [("s", &mut ed)];
        let mut out = std::vec![0u8; MAX_PAYLOAD];
        let hop = signer.finish(&mut keys, &mut out).unwrap();
        let mut signed = std::vec::Vec::new();
        for span in [Some(hop.signature), hop.instance].into_iter().flatten() {
            signed.extend_from_slice(span.get(&out).unwrap());
            signed.extend_from_slice(b"\r\n");
        }
        signed.extend_from_slice(message);
        let mut signer: Dkim2Signer<'_, 4096, 32> = Dkim2Signer::new(&req).unwrap();
        signer.update(&signed).unwrap();
        let mut key = Wide(0);
        let mut keys: [(&str, &mut dyn crate::DigestSigner); 1] = [(&domain, &mut key)];
        let mut out = std::vec![0u8; MAX_PAYLOAD - 2];
        let r = signer
            .finish(&mut keys, &mut out)
            .map(|h| h.signature.end + 2);
        (r, key.0)
    }

    /// What PROTOCOL.md says fits one DKIM2-HOP frame, and that a hop
    /// past it is refused before anything is signed.
    #[test]
    fn a_hop_fits_a_frame_or_is_refused_unsigned() {
        // 8 recipients of 120 bytes, a 1 KiB recipe, RSA-4096: fits.
        let (len, signed) = hop_len(8, 120, 1024);
        std::eprintln!("DKIM2 hop, 8 x 120-byte paths, 1 KiB recipe, RSA-4096: {len:?}");
        assert!(len.unwrap() <= MAX_PAYLOAD);
        assert_eq!(signed, 1);
        // 8 recipients of 256 bytes and a 1 KiB recipe do not.
        let (len, signed) = hop_len(8, 256, 1024);
        assert!(
            matches!(len, Err(SignerError::BufferTooSmall { required }) if required > MAX_PAYLOAD - 2),
            "{len:?}"
        );
        assert_eq!(signed, 0);
    }
}
