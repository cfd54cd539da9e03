//! The device link, structure-aware: what a compromised host can send to the
//! key holder. The input is a script of steps; each step seals a frame of its
//! own with `encode_frame` (so the CRC never stops the payload), or puts junk,
//! a truncated frame or a corrupted frame on the wire. The wire is decoded in
//! pieces, and every frame goes to a model of the device's command handler
//! (`firmware/src/device.rs`): PROVISION (Ed25519 seeds, RSA DER parsed with
//! the device's ChaCha20 RNG), SIGN-BEGIN into core's `MessageSigner`,
//! SEAL-BEGIN into core's `ArcSealer` (protocol 3), DKIM2-BEGIN into core's
//! `Dkim2Signer` with the payload kept as the device keeps it (protocol 4),
//! HEADER, BODY, SIGN-END signing, sealing or signing the hop with the
//! slot's key, ABORT, and the decoders of the answers (INFO-REPLY,
//! STATS-REPLY, DKIM2-HOP, ERROR) for the host's side.
//!
//! Checked: nothing panics; a payload that decodes encodes back to the same
//! bytes (the encodings are canonical); a signature fits one frame, and an
//! ARC set or a DKIM2 hop does or is refused before signing (a hop laid
//! out as DKIM2-HOP splits back into its fields); and when
//! the script put only clean junk between whole frames, exactly the sealed
//! frames come out, in order.
#![no_main]

use chacha20::ChaCha20Rng;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mass_core::arc::{ArcSealer, ChainStatus};
use mass_core::dkim2::Dkim2Signer;
use mass_core::dkim2::sign::SignerError;
use mass_core::link::{
    AAR_RESULTS_ENCODED_CAP, AarResults, DeviceError, Dkim2Begin, Event, FrameDecoder,
    HOP_STAND_IN, InfoReply, Kind, MAX_AAR_RESULTS, MAX_FRAME, MAX_PAYLOAD, Provision, SealBegin,
    SignBegin, Stats, encode_frame, hop_answer, split_hop_answer,
};
use mass_core::{DigestSigner, Ed25519Signer, MessageSigner, RsaSha256Signer, SigningAlgorithm};
use rand_core::SeedableRng;

const KINDS: [Kind; 17] = [
    Kind::Info,
    Kind::Provision,
    Kind::SignBegin,
    Kind::SealBegin,
    Kind::Dkim2Begin,
    Kind::Dkim2Hop,
    Kind::Header,
    Kind::Body,
    Kind::SignEnd,
    Kind::Abort,
    Kind::Stats,
    Kind::Ok,
    Kind::InfoReply,
    Kind::Signature,
    Kind::StatsReply,
    Kind::ArcSet,
    Kind::Error,
];

const SLOTS: usize = 4;

enum Slot {
    Empty,
    Ed25519(Ed25519Signer),
    /// RSA keys are parsed as the device parses them, but not used: one RSA
    /// signature costs more than thousands of runs.
    Rsa,
}

/// What a session makes, as `firmware/src/session.rs` holds it (the budget
/// board's capacities).
enum Work {
    Dkim(Box<MessageSigner<4096, 32>>),
    Arc {
        sealer: Box<ArcSealer<4096, 32>>,
        chain: ChainStatus,
        count: u8,
        results: heapless::Vec<u8, AAR_RESULTS_ENCODED_CAP>,
    },
    /// Started for a stand-in and finished for the kept request, as the
    /// firmware's session does (the budget board keeps 2 KiB of it).
    Dkim2 {
        signer: Box<Dkim2Signer<'static, 4096, 32>>,
        begin: heapless::Vec<u8, 2048>,
    },
}

impl Work {
    fn header_field(&mut self, field: &[u8]) -> core::result::Result<(), mass_core::Error> {
        match self {
            Work::Dkim(s) => s.header_field(field),
            Work::Arc { sealer, .. } => sealer.header_field(field),
            Work::Dkim2 { signer, .. } => signer.header_field(field),
        }
    }

    fn end_of_headers(&mut self) -> core::result::Result<(), mass_core::Error> {
        match self {
            Work::Dkim(s) => s.end_of_headers(),
            Work::Arc { sealer, .. } => sealer.end_of_headers(),
            Work::Dkim2 { signer, .. } => signer.end_of_headers(),
        }
    }

    fn body(&mut self, chunk: &[u8]) -> core::result::Result<(), mass_core::Error> {
        match self {
            Work::Dkim(s) => s.body(chunk).map(drop),
            Work::Arc { sealer, .. } => sealer.body(chunk).map(drop),
            Work::Dkim2 { signer, .. } => signer.body(chunk).map(drop),
        }
    }
}

/// The device's command handler, minus the board.
struct Device {
    slots: [Slot; SLOTS],
    session: Option<(u8, Work, bool)>,
}

fn reencodes<E: core::fmt::Debug>(
    payload: &[u8],
    encode: impl FnOnce(&mut [u8]) -> core::result::Result<usize, E>,
) {
    let mut out = vec![0u8; MAX_PAYLOAD];
    let n = encode(&mut out).expect("a decoded payload encodes");
    assert_eq!(&out[..n], payload, "decode then encode changed the payload");
}

impl Device {
    fn handle(&mut self, kind: u8, payload: &[u8]) -> core::result::Result<(), &'static str> {
        match Kind::from_u8(kind) {
            Some(Kind::Provision) => {
                let p = Provision::decode(payload).map_err(|_| "malformed")?;
                reencodes(payload, |o| p.encode(o));
                let slot = self
                    .slots
                    .get_mut(usize::from(p.key_id))
                    .ok_or("no such key")?;
                if !matches!(slot, Slot::Empty) {
                    return Err("occupied");
                }
                *slot = match p.algorithm {
                    SigningAlgorithm::Ed25519Sha256 => {
                        let seed: [u8; 32] = p.key.try_into().map_err(|_| "bad key")?;
                        Slot::Ed25519(Ed25519Signer::from_seed(&seed))
                    }
                    SigningAlgorithm::RsaSha256 => {
                        let signer =
                            RsaSha256Signer::from_der(p.key, ChaCha20Rng::from_seed(*p.seed))
                                .map_err(|_| "bad key")?;
                        assert!((1024..=8192).contains(&signer.bits()));
                        Slot::Rsa
                    }
                };
                Ok(())
            }
            Some(Kind::SignBegin) => {
                self.session = None;
                let req = SignBegin::decode(payload).map_err(|_| "malformed")?;
                reencodes(payload, |o| req.encode(o));
                let algorithm = match self.slots.get(usize::from(req.key_id)) {
                    Some(Slot::Ed25519(_)) => SigningAlgorithm::Ed25519Sha256,
                    Some(Slot::Rsa) => SigningAlgorithm::RsaSha256,
                    _ => return Err("no such key"),
                };
                let mut names: heapless::Vec<&str, 64> = heapless::Vec::new();
                let request = req
                    .to_request(algorithm, &mut names)
                    .map_err(|_| "malformed")?;
                assert_eq!(request.domain, req.domain);
                let signer = MessageSigner::new(&request).map_err(|_| "sign")?;
                self.session = Some((req.key_id, Work::Dkim(Box::new(signer)), false));
                Ok(())
            }
            Some(Kind::SealBegin) => {
                self.session = None;
                let req = SealBegin::decode(payload).map_err(|_| "malformed")?;
                reencodes(payload, |o| req.encode(o));
                let algorithm = match self.slots.get(usize::from(req.key_id)) {
                    Some(Slot::Ed25519(_)) => SigningAlgorithm::Ed25519Sha256,
                    Some(Slot::Rsa) => SigningAlgorithm::RsaSha256,
                    _ => return Err("no such key"),
                };
                let mut names: heapless::Vec<&str, 64> = heapless::Vec::new();
                let request = req
                    .to_request(algorithm, &mut names)
                    .map_err(|_| "malformed")?;
                assert_eq!(request.authserv_id, req.authserv_id);
                let results = heapless::Vec::from_slice(req.results.encoded())
                    .expect("decode bounds the results");
                let sealer = ArcSealer::new(&request).map_err(|_| "seal")?;
                self.session = Some((
                    req.key_id,
                    Work::Arc {
                        sealer: Box::new(sealer),
                        chain: req.chain,
                        count: req.results.len() as u8,
                        results,
                    },
                    false,
                ));
                Ok(())
            }
            Some(Kind::Dkim2Begin) => {
                self.session = None;
                let key_id = Dkim2Begin::decode_with(payload, |begin, request| {
                    reencodes(payload, |o| begin.encode(o));
                    if !matches!(
                        self.slots.get(usize::from(begin.key_id)),
                        Some(Slot::Ed25519(_) | Slot::Rsa)
                    ) {
                        return Err("no such key");
                    }
                    request.check().map_err(|_| "dkim2")?;
                    Ok(begin.key_id)
                })
                .map_err(|_| "malformed")??;
                let begin = heapless::Vec::from_slice(payload).map_err(|_| "too large")?;
                let signer = Dkim2Signer::new(&HOP_STAND_IN).expect("the stand-in is a request");
                self.session = Some((
                    key_id,
                    Work::Dkim2 {
                        signer: Box::new(signer),
                        begin,
                    },
                    false,
                ));
                Ok(())
            }
            Some(Kind::Dkim2Hop) => {
                let _ = split_hop_answer(payload);
                Ok(())
            }
            Some(Kind::Header) => {
                let (_, work, in_body) = self.session.as_mut().ok_or("no session")?;
                let r = if *in_body {
                    Err("out of order")
                } else {
                    work.header_field(payload).map_err(|_| "sign")
                };
                if r.is_err() {
                    self.session = None;
                }
                r
            }
            Some(Kind::Body) => {
                let (_, work, in_body) = self.session.as_mut().ok_or("no session")?;
                let mut r = Ok(());
                if !*in_body {
                    *in_body = true;
                    r = work.end_of_headers().map_err(|_| "sign");
                }
                let r = r.and_then(|()| work.body(payload).map_err(|_| "sign"));
                if r.is_err() {
                    self.session = None;
                }
                r
            }
            Some(Kind::SignEnd) => {
                let (key_id, mut work, in_body) = self.session.take().ok_or("no session")?;
                if !in_body {
                    work.end_of_headers().map_err(|_| "sign")?;
                }
                let Some(Slot::Ed25519(key)) = self.slots.get_mut(usize::from(key_id)) else {
                    return Err("no such key");
                };
                assert_eq!(key.algorithm(), SigningAlgorithm::Ed25519Sha256);
                let mut out = vec![0u8; MAX_PAYLOAD];
                let mut frame = vec![0u8; MAX_FRAME];
                match &mut work {
                    Work::Dkim(signer) => {
                        let n = signer.finish(key, &mut out).map_err(|_| "sign")?;
                        assert!(out[..n].starts_with(b"DKIM-Signature:"));
                        encode_frame(1, Kind::Signature, &out[..n], &mut frame)
                            .expect("a signature fits a frame");
                    }
                    Work::Arc {
                        sealer,
                        chain,
                        count,
                        results,
                    } => {
                        let texts = AarResults::from_encoded(*count, results)
                            .and_then(|r| r.collect::<MAX_AAR_RESULTS>())
                            .expect("the copied results decode");
                        let room = sealer.required_len(&texts, key);
                        match sealer.finish(&texts, *chain, key, &mut out) {
                            Ok(set) => {
                                assert_eq!(room.ok(), Some(set.len));
                                assert!(out[..set.len].starts_with(b"ARC-Authentication-Results:"));
                                encode_frame(1, Kind::ArcSet, &out[..set.len], &mut frame)
                                    .expect("a set that was written fits a frame");
                            }
                            Err(mass_core::arc::SealerError::Stream(
                                mass_core::Error::BufferTooSmall { required },
                            )) => assert!(required > MAX_PAYLOAD),
                            Err(_) => return Err("seal"),
                        }
                    }
                    Work::Dkim2 { signer, begin } => {
                        Dkim2Begin::decode_with(begin, |begin, request| {
                            let mut keys: [(&str, &mut dyn DigestSigner); 1] =
                                [(begin.selector, key)];
                            let room = MAX_PAYLOAD - 2;
                            match signer.finish_for(request, &mut keys, &mut out[..room]) {
                                Ok(hop) => {
                                    let mi = hop.instance.map_or(0, |s| s.len());
                                    let sig =
                                        hop.signature.get(&out).expect("in the buffer").to_vec();
                                    let instance =
                                        hop.instance.map(|s| out[s.start..s.end].to_vec());
                                    let n = hop_answer(&mut out, mi, hop.signature.len())
                                        .expect("room was left for the CRLF");
                                    let fields = split_hop_answer(&out[..n]).expect("a hop splits");
                                    assert_eq!(fields.signature, &sig[..]);
                                    assert_eq!(fields.instance, instance.as_deref());
                                    encode_frame(1, Kind::Dkim2Hop, &out[..n], &mut frame)
                                        .expect("a hop that was written fits a frame");
                                    Ok(())
                                }
                                Err(SignerError::BufferTooSmall { required }) => {
                                    assert!(required > room);
                                    Ok(())
                                }
                                Err(_) => Err("dkim2"),
                            }
                        })
                        .expect("the kept payload decodes")?
                    }
                }
                Ok(())
            }
            Some(Kind::Abort) => {
                self.session = None;
                Ok(())
            }
            Some(Kind::InfoReply) => {
                let i = InfoReply::decode(payload).map_err(|_| "malformed")?;
                reencodes(payload, |o| i.encode(o));
                Ok(())
            }
            Some(Kind::StatsReply) => {
                let s = Stats::decode(payload).map_err(|_| "malformed")?;
                reencodes(payload, |o| s.encode(o));
                Ok(())
            }
            Some(Kind::Error) => {
                let e = DeviceError::decode(payload).map_err(|_| "malformed")?;
                reencodes(payload, |o| e.encode(o));
                let _ = e.to_string();
                Ok(())
            }
            Some(_) => Ok(()),
            None => Err("unknown kind"),
        }
    }
}

struct Script {
    wire: Vec<u8>,
    sealed: Vec<(u8, u8, Vec<u8>)>,
    clean: bool,
}

fn script(u: &mut Unstructured<'_>) -> Result<Script> {
    let mut s = Script {
        wire: Vec::new(),
        sealed: Vec::new(),
        clean: true,
    };
    let mut frame = vec![0u8; MAX_FRAME];
    while !u.is_empty() && s.sealed.len() < 64 {
        let step: u8 = u.int_in_range(0..=15)?;
        match step {
            // Mostly whole frames.
            0..=10 => {
                let seq: u8 = u.arbitrary()?;
                let kind = *u.choose(&KINDS)?;
                let len = u.int_in_range(0..=u.len().min(MAX_PAYLOAD))?;
                let payload = u.bytes(len)?;
                let n = encode_frame(seq, kind, payload, &mut frame).expect("fits");
                s.wire.extend_from_slice(&frame[..n]);
                s.sealed.push((seq, kind.to_u8(), payload.to_vec()));
            }
            // Junk with no magic byte in it: cannot hide a frame.
            11 | 12 => {
                let len = u.int_in_range(0..=u.len().min(64))?;
                s.wire
                    .extend(u.bytes(len)?.iter().map(|&b| if b == 0xA5 { 0 } else { b }));
            }
            // Raw junk, which may hold magic and a header.
            13 => {
                let len = u.int_in_range(0..=u.len().min(64))?;
                s.wire.extend_from_slice(u.bytes(len)?);
                s.clean = false;
            }
            // A frame cut short, or with one byte changed.
            _ => {
                let kind = *u.choose(&KINDS)?;
                let len = u.int_in_range(0..=u.len().min(MAX_PAYLOAD))?;
                let payload = u.bytes(len)?;
                let n = encode_frame(0, kind, payload, &mut frame).expect("fits");
                let at = u.int_in_range(0..=n - 1)?;
                if step == 14 {
                    s.wire.extend_from_slice(&frame[..at]);
                } else {
                    frame[at] ^= u.int_in_range(1..=255)?;
                    s.wire.extend_from_slice(&frame[..n]);
                }
                s.clean = false;
            }
        }
    }
    Ok(s)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(piece) = u.int_in_range(1usize..=512) else {
        return;
    };
    let Ok(s) = script(&mut u) else {
        return;
    };
    let mut device = Device {
        slots: [const { Slot::Empty }; SLOTS],
        session: None,
    };
    let mut decoder: FrameDecoder<MAX_FRAME> = FrameDecoder::new();
    let mut frames = Vec::new();
    for chunk in s.wire.chunks(piece) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let n = decoder.push(rest);
            rest = &rest[n..];
            while let Some(e) = decoder.next_event() {
                match e {
                    Event::Frame(f) => {
                        frames.push((f.seq, f.kind, f.payload.to_vec()));
                        let _ = device.handle(f.kind, f.payload);
                        decoder.wipe_frame();
                    }
                    Event::Error(e) => assert!(!s.clean || format!("{e:?}") == "Junk", "{e:?}"),
                }
            }
        }
    }
    if s.clean {
        assert_eq!(frames, s.sealed);
    }
});
