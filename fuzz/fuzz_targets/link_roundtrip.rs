//! Link messages round trip: message structs built from the input (PROVISION,
//! SIGN-BEGIN, SEAL-BEGIN, DKIM2-BEGIN, INFO-REPLY, STATS-REPLY, ERROR),
//! encoded, sealed in frames, decoded from the wire in pieces and decoded
//! again, come back equal. An encoding that does not fit fails with an
//! `EncodeError` that says at least how much room it needs. SIGN-BEGIN,
//! SEAL-BEGIN and DKIM2-BEGIN also go through `to_request` and
//! `from_request` and back; AAR results, recipients, flags, paths and
//! recipes over their bounds are refused with a typed error.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mass_core::arc::ChainStatus;
use mass_core::dkim2::MAX_PATH;
use mass_core::dkim2::sign::{Destination, HopRequest};
use mass_core::link::{
    AarResults, DeviceError, Dkim2Begin, Dkim2BeginError, ErrorCode, Event, FrameDecoder,
    HeaderNames, InfoReply, Kind, MAX_AAR_RESULTS, MAX_AAR_RESULTS_BYTES, MAX_FRAME, MAX_HOP_FLAGS,
    MAX_HOP_RECIPE_BYTES, MAX_HOP_RECIPIENTS, MAX_PAYLOAD, MAX_SLOTS, Provision, SEED_LEN,
    SealBegin, SealBeginError, SignBegin, SlotInfo, Stats, encode_frame,
};
use mass_core::{BodyLength, Canon, Canonicalization, SigningAlgorithm};

/// One message, as its kind and encoded payload, plus a way to check the decode.
struct Sent {
    kind: Kind,
    payload: Vec<u8>,
    debug: String,
}

fn algorithm(u: &mut Unstructured<'_>) -> Result<SigningAlgorithm> {
    Ok(if u.arbitrary()? {
        SigningAlgorithm::RsaSha256
    } else {
        SigningAlgorithm::Ed25519Sha256
    })
}

fn canon(u: &mut Unstructured<'_>) -> Result<Canon> {
    Ok(if u.arbitrary()? {
        Canon::Relaxed
    } else {
        Canon::Simple
    })
}

/// A string of up to 300 bytes: past 255 its encoding must fail.
fn text<'a>(u: &mut Unstructured<'a>) -> Result<&'a str> {
    let len = u.int_in_range(0..=300usize)?;
    let bytes = u.bytes(len.min(u.len()))?;
    Ok(match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    })
}

/// Encodes with `encode` into a payload buffer; `None` if it does not fit,
/// after checking the error.
fn encoded(
    encode: impl FnOnce(&mut [u8]) -> core::result::Result<usize, mass_core::link::EncodeError>,
) -> Option<Vec<u8>> {
    let mut out = vec![0u8; MAX_PAYLOAD];
    match encode(&mut out) {
        Ok(n) => Some(out[..n].to_vec()),
        Err(e) => {
            assert!(e.needed > 256, "{e:?}");
            None
        }
    }
}

fn message(u: &mut Unstructured<'_>) -> Result<Option<Sent>> {
    let which: u8 = u.int_in_range(0..=6)?;
    Ok(match which {
        0 => {
            let mut seed = [0u8; SEED_LEN];
            u.fill_buffer(&mut seed)?;
            let len = u.int_in_range(0..=u.len().min(MAX_PAYLOAD))?;
            let p = Provision {
                key_id: u.arbitrary()?,
                algorithm: algorithm(u)?,
                seed: &seed,
                key: u.bytes(len)?,
            };
            encoded(|o| p.encode(o)).map(|payload| {
                let back = Provision::decode(&payload).expect("own PROVISION decodes");
                assert_eq!(back, p);
                Sent {
                    kind: Kind::Provision,
                    debug: format!("{:?} {:?} {:?}", back, back.seed, back.key),
                    payload,
                }
            })
        }
        1 => {
            let count = u.int_in_range(0..=20usize)?;
            let mut names = Vec::with_capacity(count);
            for _ in 0..count {
                names.push(text(u)?);
            }
            let mut names_buf = vec![0u8; 8192];
            let Ok(headers) = HeaderNames::encode_into(&names, &mut names_buf) else {
                return Ok(None);
            };
            assert_eq!(headers.iter().collect::<Vec<_>>(), names);
            let body_length = match u.int_in_range(0..=2)? {
                0 => BodyLength::Omit,
                1 => BodyLength::Whole,
                _ => BodyLength::Limit(u.arbitrary()?),
            };
            let sb = SignBegin {
                key_id: u.arbitrary()?,
                domain: text(u)?,
                selector: text(u)?,
                canonicalization: Canonicalization {
                    header: canon(u)?,
                    body: canon(u)?,
                },
                headers,
                oversign: u.arbitrary()?,
                timestamp: u.arbitrary()?,
                expiration: u.arbitrary()?,
                identity: if u.arbitrary()? { Some(text(u)?) } else { None },
                body_length,
                copied_headers: u.arbitrary()?,
            };
            let alg = algorithm(u)?;
            let mut collected: heapless::Vec<&str, 16> = heapless::Vec::new();
            if let Ok(req) = sb.to_request(alg, &mut collected) {
                assert_eq!(req.algorithm, alg);
                let mut buf = vec![0u8; 8192];
                let again = SignBegin::from_request(sb.key_id, &req, &mut buf).expect("names fit");
                assert_eq!(again, sb);
            } else {
                assert!(names.len() > 16);
            }
            encoded(|o| sb.encode(o)).map(|payload| {
                let back = SignBegin::decode(&payload).expect("own SIGN-BEGIN decodes");
                assert_eq!(back, sb);
                Sent {
                    kind: Kind::SignBegin,
                    debug: format!("{back:?}"),
                    payload,
                }
            })
        }
        2 => {
            let n = u.int_in_range(0..=MAX_SLOTS)?;
            let mut slots = heapless::Vec::new();
            for _ in 0..n {
                let algorithm = if u.arbitrary()? {
                    Some(algorithm(u)?)
                } else {
                    None
                };
                let len = u.int_in_range(0..=600)?;
                let _ = slots.push(SlotInfo {
                    key_id: u.arbitrary()?,
                    algorithm,
                    bits: u.arbitrary()?,
                    public_key: u.bytes(len)?,
                });
            }
            let i = InfoReply {
                protocol: u.arbitrary()?,
                firmware: text(u)?,
                board: text(u)?,
                max_payload: u.arbitrary()?,
                header_bytes: u.arbitrary()?,
                header_fields: u.arbitrary()?,
                slots,
            };
            encoded(|o| i.encode(o)).map(|payload| {
                // INFO-REPLY borrows the public keys from the payload.
                let debug = {
                    let back = InfoReply::decode(&payload).expect("own INFO-REPLY decodes");
                    assert_eq!(back, i);
                    format!("{back:?}")
                };
                Sent {
                    kind: Kind::InfoReply,
                    debug,
                    payload,
                }
            })
        }
        3 => {
            let s = Stats {
                heap_peak: u.arbitrary()?,
                heap_used: u.arbitrary()?,
                heap_size: u.arbitrary()?,
                stack_peak: u.arbitrary()?,
                stack_size: u.arbitrary()?,
                body_bytes: u.arbitrary()?,
                body_ticks: u.arbitrary()?,
                last_sign_ticks: u.arbitrary()?,
                ticks_per_mega_instruction: u.arbitrary()?,
            };
            encoded(|o| s.encode(o)).map(|payload| {
                assert_eq!(Stats::decode(&payload), Ok(s));
                Sent {
                    kind: Kind::StatsReply,
                    debug: format!("{s:?}"),
                    payload,
                }
            })
        }
        5 => {
            let count = u.int_in_range(0..=20usize)?;
            let mut names = Vec::with_capacity(count);
            for _ in 0..count {
                names.push(text(u)?);
            }
            let mut names_buf = vec![0u8; 8192];
            let Ok(headers) = HeaderNames::encode_into(&names, &mut names_buf) else {
                return Ok(None);
            };
            let texts_count = u.int_in_range(0..=MAX_AAR_RESULTS + 1)?;
            let mut texts: Vec<&[u8]> = Vec::with_capacity(texts_count);
            for _ in 0..texts_count {
                let len = u.int_in_range(0..=400usize)?;
                texts.push(u.bytes(len.min(u.len()))?);
            }
            let total: usize = texts.iter().map(|t| t.len()).sum();
            let mut results_buf = vec![0u8; 8192];
            let results = match AarResults::encode_into(&texts, &mut results_buf) {
                Ok(r) => r,
                Err(SealBeginError::TooManyResults { count }) => {
                    assert!(count > MAX_AAR_RESULTS);
                    return Ok(None);
                }
                Err(SealBeginError::ResultsTooLong { len }) => {
                    assert!(len > MAX_AAR_RESULTS_BYTES && len == total);
                    return Ok(None);
                }
                Err(e) => panic!("results within bounds fit 8192 bytes: {e:?}"),
            };
            assert_eq!(results.iter().collect::<Vec<_>>(), texts);
            let chain = *u.choose(&[ChainStatus::None, ChainStatus::Pass, ChainStatus::Fail])?;
            let sb = SealBegin {
                key_id: u.arbitrary()?,
                domain: text(u)?,
                selector: text(u)?,
                canonicalization: Canonicalization {
                    header: canon(u)?,
                    body: canon(u)?,
                },
                headers,
                oversign: u.arbitrary()?,
                timestamp: u.arbitrary()?,
                authserv_id: text(u)?,
                chain,
                results,
            };
            let alg = algorithm(u)?;
            let mut collected: heapless::Vec<&str, 16> = heapless::Vec::new();
            if let Ok(req) = sb.to_request(alg, &mut collected) {
                assert_eq!(req.algorithm, alg);
                let (mut nb, mut rb) = (vec![0u8; 8192], vec![0u8; 8192]);
                let again =
                    SealBegin::from_request(sb.key_id, &req, chain, &texts, &mut nb, &mut rb)
                        .expect("names and results fit");
                assert_eq!(again, sb);
            } else {
                assert!(names.len() > 16);
            }
            encoded(|o| sb.encode(o)).map(|payload| {
                let back = SealBegin::decode(&payload).expect("own SEAL-BEGIN decodes");
                assert_eq!(back, sb);
                Sent {
                    kind: Kind::SealBegin,
                    debug: format!("{back:?}"),
                    payload,
                }
            })
        }
        6 => {
            let count = u.int_in_range(0..=MAX_HOP_RECIPIENTS + 1)?;
            let mut rcpts = Vec::with_capacity(count);
            for _ in 0..count {
                rcpts.push(text(u)?);
            }
            let count = u.int_in_range(0..=MAX_HOP_FLAGS + 1)?;
            let mut flags = Vec::with_capacity(count);
            for _ in 0..count {
                flags.push(text(u)?);
            }
            let recipe = if u.arbitrary()? {
                let len = u.int_in_range(0..=MAX_HOP_RECIPE_BYTES + 64)?;
                Some(u.bytes(len.min(u.len()))?)
            } else {
                None
            };
            let destination = if u.arbitrary()? {
                Destination::NextDomain(text(u)?)
            } else {
                Destination::Envelope {
                    mail_from: text(u)?,
                    rcpt_to: &rcpts,
                }
            };
            let req = HopRequest {
                domain: text(u)?,
                destination,
                timestamp: u.arbitrary()?,
                nonce: if u.arbitrary()? { Some(text(u)?) } else { None },
                flags: &flags,
                recipe,
            };
            let selector = text(u)?;
            let (mut rb, mut fb) = (vec![0u8; 8192], vec![0u8; 8192]);
            let begin =
                match Dkim2Begin::from_request(u.arbitrary()?, selector, &req, &mut rb, &mut fb) {
                    Ok(b) => b,
                    Err(Dkim2BeginError::TooManyRecipients { count }) => {
                        assert!(count > MAX_HOP_RECIPIENTS);
                        return Ok(None);
                    }
                    Err(Dkim2BeginError::TooManyFlags { count }) => {
                        assert!(count > MAX_HOP_FLAGS);
                        return Ok(None);
                    }
                    Err(Dkim2BeginError::RecipeTooLong { len }) => {
                        assert!(len > MAX_HOP_RECIPE_BYTES);
                        return Ok(None);
                    }
                    Err(Dkim2BeginError::PathTooLong { len }) => {
                        assert!(len > MAX_PATH);
                        return Ok(None);
                    }
                    // A flag past 255 bytes.
                    Err(Dkim2BeginError::Encode(e)) => {
                        assert!(e.needed > 256, "{e:?}");
                        return Ok(None);
                    }
                    Err(e) => panic!("{e:?}"),
                };
            let mut r: heapless::Vec<&str, MAX_HOP_RECIPIENTS> = heapless::Vec::new();
            let mut f: heapless::Vec<&str, MAX_HOP_FLAGS> = heapless::Vec::new();
            let back = begin
                .to_request(&mut r, &mut f)
                .expect("within the bounds it was built with");
            assert_eq!(back, req);
            encoded(|o| begin.encode(o)).map(|payload| {
                let back = Dkim2Begin::decode(&payload).expect("own DKIM2-BEGIN decodes");
                assert_eq!(back, begin);
                Sent {
                    kind: Kind::Dkim2Begin,
                    debug: format!("{back:?}"),
                    payload,
                }
            })
        }
        _ => {
            let e = DeviceError {
                code: ErrorCode::from_u8(u.arbitrary()?),
                detail: u.arbitrary()?,
            };
            assert_eq!(ErrorCode::from_u8(e.code.to_u8()), e.code);
            encoded(|o| e.encode(o)).map(|payload| {
                assert_eq!(DeviceError::decode(&payload), Ok(e));
                Sent {
                    kind: Kind::Error,
                    debug: format!("{e:?}"),
                    payload,
                }
            })
        }
    })
}

fn redecode(kind: u8, payload: &[u8]) -> String {
    match Kind::from_u8(kind).expect("a kind we sent") {
        Kind::Provision => {
            let p = Provision::decode(payload).expect("decodes");
            format!("{:?} {:?} {:?}", p, p.seed, p.key)
        }
        Kind::SignBegin => format!("{:?}", SignBegin::decode(payload).expect("decodes")),
        Kind::SealBegin => format!("{:?}", SealBegin::decode(payload).expect("decodes")),
        Kind::Dkim2Begin => format!("{:?}", Dkim2Begin::decode(payload).expect("decodes")),
        Kind::InfoReply => format!("{:?}", InfoReply::decode(payload).expect("decodes")),
        Kind::StatsReply => format!("{:?}", Stats::decode(payload).expect("decodes")),
        Kind::Error => format!("{:?}", DeviceError::decode(payload).expect("decodes")),
        k => panic!("unexpected kind {k:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(piece) = u.int_in_range(1usize..=700) else {
        return;
    };
    let mut sent = Vec::new();
    let mut wire = Vec::new();
    let mut frame = vec![0u8; MAX_FRAME];
    while let Ok(Some(m)) = message(&mut u) {
        let seq = sent.len() as u8;
        let n = encode_frame(seq, m.kind, &m.payload, &mut frame).expect("a payload fits a frame");
        wire.extend_from_slice(&frame[..n]);
        sent.push(m);
        if sent.len() >= 32 {
            break;
        }
    }
    let mut decoder: FrameDecoder<MAX_FRAME> = FrameDecoder::new();
    let mut got = 0usize;
    for chunk in wire.chunks(piece) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let n = decoder.push(rest);
            assert!(n > 0, "no room after draining");
            rest = &rest[n..];
            while let Some(e) = decoder.next_event() {
                let Event::Frame(f) = e else {
                    panic!("error on a clean wire: {e:?}");
                };
                let m = &sent[got];
                assert_eq!(
                    (f.seq, f.kind, f.payload),
                    (got as u8, m.kind.to_u8(), &m.payload[..])
                );
                assert_eq!(redecode(f.kind, f.payload), m.debug);
                got += 1;
            }
        }
    }
    assert_eq!(got, sent.len());
});
