//! The signing device (issue 5) under QEMU, through the real link.
//!
//! `cargo xtask test` boots the firmware in QEMU and runs these with
//! `--ignored`, `MASS_DEVICE=tcp:127.0.0.1:PORT` and `MASS_DEVICE_BOARD`:
//! `main_*` on the main board (mps2-an385), `budget_*` on the budget board
//! (lm3s6965evb, 64 KiB of RAM). The 10 MiB body runs on the budget board:
//! streaming it there shows the device keeps none of it, and QEMU's model of
//! that board's UART (a PL011 with a FIFO) moves bytes about three times
//! faster than the AN385's. They are ignored in a plain `cargo test`, which
//! has no device.
//!
//! The device's signatures must equal those the host's core makes, byte for
//! byte, with the same key (RSA PKCS#1 v1.5 and Ed25519 are deterministic;
//! blinding does not change the result).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chacha20::ChaCha20Rng;
use mass_core::link::{self, ErrorCode, Event, FrameDecoder, Kind, MAX_FRAME, Stats};
use mass_core::{
    BodyLength, Canon, Canonicalization, Ed25519Signer, HeaderSelection, MessageSigner,
    RsaSha256Signer, SignRequest, SigningAlgorithm,
};
use mass_hosted::device::{Device, DeviceAddr, key_from_pem};
use rand_core::SeedableRng;

mod arc;
mod dkim2;

const RSA_PEM: &str = include_str!("../data/device-test-rsa2048.pem");
const ED25519_SEED: [u8; 32] = *b"mass device test ed25519 seed 01";
const RSA_SLOT: u8 = 0;
const ED_SLOT: u8 = 1;
const DOMAIN: &str = "example.org";

fn addr() -> String {
    std::env::var("MASS_DEVICE")
        .expect("MASS_DEVICE=tcp:HOST:PORT is unset: run these through `cargo xtask test`")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A client, with both test keys provisioned (once per device boot).
async fn device() -> Device {
    let dev = Device::new(
        addr().parse::<DeviceAddr>().unwrap(),
        Duration::from_secs(120),
    );
    let info = dev.info().await.expect("INFO");
    for slot in info.slots {
        if slot.algorithm.is_some() {
            continue;
        }
        let seed = [slot.key_id ^ 0x5A; 32];
        if slot.key_id == RSA_SLOT {
            let (alg, der) = key_from_pem(RSA_PEM).unwrap();
            dev.provision(RSA_SLOT, alg, &der, &seed)
                .await
                .expect("PROVISION RSA");
        } else if slot.key_id == ED_SLOT {
            dev.provision(
                ED_SLOT,
                SigningAlgorithm::Ed25519Sha256,
                &ED25519_SEED,
                &seed,
            )
            .await
            .expect("PROVISION Ed25519");
        }
    }
    dev
}

/// A message: raw header fields (no final CRLF) and the body.
#[derive(Debug, Clone)]
struct Message {
    fields: Vec<Vec<u8>>,
    body: Vec<u8>,
}

/// splitmix64, so every run builds the same messages.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// `n` varied messages: folded and unfolded fields, odd whitespace, repeated
/// and missing fields, empty bodies, trailing blank lines, long lines,
/// 8-bit bytes, bodies without a final CRLF, and some over 64 KiB.
fn messages(n: usize, seed: u64) -> Vec<Message> {
    let mut g = Gen(seed);
    let words: &[&[u8]] = &[
        b"hello",
        b"DKIM",
        b"  spaced  ",
        b"\t",
        b"caf\xc3\xa9",
        b"x",
        b"signing",
        b"\xff\xfe",
        b"a.b@c",
        b"--",
        b"=?utf-8?q?hi?=",
    ];
    (0..n)
        .map(|i| {
            let mut fields = Vec::new();
            fields.push(format!("From: Sender {i} <s{i}@{DOMAIN}>").into_bytes());
            for _ in 0..=g.below(3) {
                fields.push(format!("To: r{}@example.net", g.below(1000)).into_bytes());
            }
            if g.below(2) == 0 {
                fields.push(b"Cc: a@example.net,\r\n\tb@example.net".to_vec());
            }
            let mut subject = b"Subject:".to_vec();
            for _ in 0..g.below(12) {
                subject.extend_from_slice(g.pick(words));
                subject.push(b' ');
                if g.below(6) == 0 {
                    subject.extend_from_slice(b"\r\n ");
                }
            }
            fields.push(subject);
            fields.push(format!("Date: Sat, 28 Nov 2026 14:{:02}:00 +0000", i % 60).into_bytes());
            fields.push(format!("Message-ID: <{i}.{}@{DOMAIN}>", g.next()).into_bytes());
            if g.below(3) == 0 {
                fields.push(b"MIME-Version: 1.0".to_vec());
                fields.push(b"Content-Type: text/plain;\r\n charset=\"utf-8\"".to_vec());
            }
            if g.below(4) == 0 {
                fields.push(b"X-Unsigned:   not in h=   ".to_vec());
            }
            if g.below(5) == 0 {
                fields.push(b"subject : second, odd spacing".to_vec());
            }
            let mut body = Vec::new();
            let lines = match g.below(25) {
                0 | 1 => 0,
                2 => 1500 + g.below(500), // 64 KiB and more
                _ => g.below(40),
            };
            for _ in 0..lines {
                for _ in 0..g.below(14) {
                    body.extend_from_slice(g.pick(words));
                    body.extend_from_slice(g.pick(&[&b" "[..], b"  ", b"\t", b""]));
                }
                body.extend_from_slice(g.pick(&[&b"\r\n"[..], b" \r\n", b"\t\r\n", b"\r\n\r\n"]));
            }
            match g.below(4) {
                0 => body.extend_from_slice(b"\r\n\r\n\r\n"),
                1 => body.extend_from_slice(b"no final line break"),
                _ => {}
            }
            Message { fields, body }
        })
        .collect()
}

/// The signer request for message `i` (varied canonicalization and tags).
fn request(i: usize, algorithm: SigningAlgorithm) -> SignRequest<'static> {
    let mut r = SignRequest::new(DOMAIN, "dev", algorithm);
    let canons = [Canon::Simple, Canon::Relaxed];
    r.canonicalization = Canonicalization {
        header: canons[i % 2],
        body: canons[(i / 2) % 2],
    };
    r.timestamp = Some(1_790_000_000 + i as u64);
    if i.is_multiple_of(5) {
        r.expiration = Some(1_790_086_400);
    }
    if i.is_multiple_of(7) {
        r.identity = Some("@example.org");
    }
    if i.is_multiple_of(11) {
        r.body_length = BodyLength::Whole;
    }
    if i.is_multiple_of(3) {
        r.headers = HeaderSelection::Exact(&["From", "To", "Subject", "Date"]);
    }
    r
}

/// The host's copy of the key in a test slot of `algorithm`.
fn host_key(algorithm: SigningAlgorithm) -> Box<dyn mass_core::DigestSigner> {
    match algorithm {
        SigningAlgorithm::RsaSha256 => Box::new(rsa_host_key()),
        SigningAlgorithm::Ed25519Sha256 => Box::new(Ed25519Signer::from_seed(&ED25519_SEED)),
    }
}

/// The test slot that holds a key of `algorithm`.
fn slot_of(algorithm: SigningAlgorithm) -> u8 {
    match algorithm {
        SigningAlgorithm::RsaSha256 => RSA_SLOT,
        SigningAlgorithm::Ed25519Sha256 => ED_SLOT,
    }
}

fn rsa_host_key() -> RsaSha256Signer<rsa::PrivateKey, ChaCha20Rng> {
    use rsa::pkcs8::DecodePrivateKey;
    let key = rsa::PrivateKey::from_pkcs8_pem(RSA_PEM).unwrap();
    RsaSha256Signer::new(key, ChaCha20Rng::from_seed([9; 32])).unwrap()
}

/// The host core's signature, fed in the chunking of `chunk`.
fn host_sign(
    key: &mut dyn mass_core::DigestSigner,
    req: &SignRequest<'_>,
    m: &Message,
    chunk: usize,
) -> String {
    let mut s: MessageSigner<8192, 64> = MessageSigner::new(req).unwrap();
    for f in &m.fields {
        s.header_field(f).unwrap();
    }
    s.end_of_headers().unwrap();
    for c in m.body.chunks(chunk.max(1)) {
        s.body(c).unwrap();
    }
    let mut out = vec![0u8; 4096];
    let n = s.finish(key, &mut out).unwrap();
    String::from_utf8(out[..n].to_vec()).unwrap()
}

async fn device_sign(
    dev: &Device,
    slot: u8,
    req: &SignRequest<'_>,
    m: &Message,
    chunk: usize,
) -> String {
    let sig = dev
        .sign(slot, req, &m.fields, m.body.chunks(chunk.max(1)))
        .await
        .unwrap_or_else(|e| panic!("device signing failed: {e}"));
    String::from_utf8(sig.field).unwrap()
}

fn compare_many(algorithm: SigningAlgorithm, slot: u8, seed: u64) {
    runtime().block_on(async {
        let dev = device().await;
        let mut host = host_key(algorithm);
        let started = Instant::now();
        let msgs = messages(100, seed);
        for (i, m) in msgs.iter().enumerate() {
            let req = request(i, algorithm);
            let chunk = [1, 7, 64, 1000, 4096, 100_000][i % 6];
            let want = host_sign(host.as_mut(), &req, m, 4096);
            // Vary the device's frame boundaries too.
            dev.set_body_frame([4096, 1000, 77][i % 3]);
            let got = device_sign(&dev, slot, &req, m, chunk).await;
            assert_eq!(
                got,
                want,
                "message {i} ({:?}), body {} bytes",
                algorithm,
                m.body.len()
            );
        }
        eprintln!(
            "device: 100 {} signatures equal the host's ({:.1?})",
            algorithm.as_str(),
            started.elapsed()
        );
    });
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn main_signs_like_the_host_rsa2048() {
    compare_many(SigningAlgorithm::RsaSha256, RSA_SLOT, 1);
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn main_signs_like_the_host_ed25519() {
    compare_many(SigningAlgorithm::Ed25519Sha256, ED_SLOT, 2);
}

/// Sign one message on the device and check it against the host.
async fn signs_correctly(dev: &Device, what: &str) {
    let m = &messages(1, 77)[0];
    for (slot, alg) in [
        (RSA_SLOT, SigningAlgorithm::RsaSha256),
        (ED_SLOT, SigningAlgorithm::Ed25519Sha256),
    ] {
        let req = request(1, alg);
        let want = match alg {
            SigningAlgorithm::RsaSha256 => host_sign(&mut rsa_host_key(), &req, m, 999),
            SigningAlgorithm::Ed25519Sha256 => {
                host_sign(&mut Ed25519Signer::from_seed(&ED25519_SEED), &req, m, 999)
            }
        };
        let got = device_sign(dev, slot, &req, m, 333).await;
        assert_eq!(got, want, "after {what}");
    }
}

/// A raw connection to the device's UART, with the core codec, to see the
/// device's error frames as they are.
struct Raw {
    s: TcpStream,
    rx: Box<FrameDecoder<MAX_FRAME>>,
}

impl Raw {
    fn connect() -> Raw {
        let hostport = addr().strip_prefix("tcp:").unwrap().to_string();
        let s = TcpStream::connect(hostport).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Raw {
            s,
            rx: Box::new(FrameDecoder::new()),
        }
    }

    fn frame(seq: u8, kind: Kind, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; MAX_FRAME];
        let n = link::encode_frame(seq, kind, payload, &mut out).unwrap();
        out.truncate(n);
        out
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Read frames until the answer with `seq`; returns the error codes of
    /// the unsolicited frames before it and the answer's kind.
    fn until(&mut self, seq: u8) -> (Vec<ErrorCode>, Kind) {
        let mut faults = Vec::new();
        loop {
            while let Some(ev) = self.rx.next_event() {
                if let Event::Frame(f) = ev {
                    let kind = Kind::from_u8(f.kind).unwrap();
                    if f.seq == seq {
                        return (faults, kind);
                    }
                    assert_eq!(f.seq, link::SEQ_UNSOLICITED, "stale answer");
                    faults.push(link::DeviceError::decode(f.payload).unwrap().code);
                }
            }
            let n = self.s.read(self.rx.spare()).unwrap();
            assert!(n > 0, "device closed the link");
            self.rx.commit(n);
        }
    }
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn main_survives_bad_input() {
    let rt = runtime();
    // Provision first, then let the client's connection go: QEMU serves one.
    rt.block_on(async { drop(device().await) });
    {
        let mut raw = Raw::connect();
        let info = |seq| Raw::frame(seq, Kind::Info, &[]);

        // Junk: reported once, then the next frame is answered.
        raw.send(b"this is not a frame at all\x00\x01\x02");
        raw.send(&info(1));
        let (faults, kind) = raw.until(1);
        assert_eq!(
            (faults.as_slice(), kind),
            (&[ErrorCode::Junk][..], Kind::InfoReply)
        );

        // A bad CRC: that frame is dropped, the next one is answered.
        let mut bad = Raw::frame(2, Kind::Body, b"some body bytes");
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        raw.send(&bad);
        raw.send(&info(3));
        let (faults, kind) = raw.until(3);
        assert_eq!(
            (faults.as_slice(), kind),
            (&[ErrorCode::BadCrc][..], Kind::InfoReply)
        );

        // An oversized length.
        raw.send(&[0xA5, 0x4D, 4, Kind::Body.to_u8(), 0xFF, 0xFF, 1, 2, 3]);
        raw.send(&info(5));
        let (faults, kind) = raw.until(5);
        assert_eq!(faults.first(), Some(&ErrorCode::Oversized));
        assert_eq!(kind, Kind::InfoReply);

        // A truncated frame: the next frame is swallowed into it and found
        // again by the rescan after its CRC fails.
        let whole = Raw::frame(6, Kind::Body, &[b'b'; 200]);
        raw.send(&whole[..50]);
        raw.send(&info(7));
        raw.send(&[0u8; 200]);
        let (faults, kind) = raw.until(7);
        assert_eq!(faults.first(), Some(&ErrorCode::BadCrc));
        assert_eq!(kind, Kind::InfoReply);

        // 64 KiB of random bytes (they may hold magics and lengths), then the
        // resynchronization a host does: a frame's worth of zeros, then a request.
        let mut g = Gen(99);
        let junk: Vec<u8> = (0..65536).map(|_| g.next() as u8).collect();
        raw.send(&junk);
        raw.send(&vec![0u8; MAX_FRAME]);
        raw.send(&info(8));
        let (faults, kind) = raw.until(8);
        assert!(faults.contains(&ErrorCode::Junk));
        assert_eq!(kind, Kind::InfoReply);

        // SIGN-END with no SIGN-BEGIN.
        raw.send(&Raw::frame(9, Kind::Abort, &[]));
        assert_eq!(raw.until(9), (vec![], Kind::Ok));
        raw.send(&Raw::frame(10, Kind::SignEnd, &[]));
        let (_, kind) = raw.until(10);
        assert_eq!(kind, Kind::Error);
        // An unknown kind.
        raw.send(&[0xA5, 0x4D]);
        let body = [11u8, 0x42, 0, 0];
        raw.send(&body);
        raw.send(&link::crc32(&body).to_le_bytes());
        assert_eq!(raw.until(11).1, Kind::Error);
    }
    rt.block_on(async {
        let dev = device().await;
        signs_correctly(&dev, "junk, bad CRC, oversized and truncated frames").await;

        // SIGN-END with no SIGN-BEGIN, through the client.
        let (kind, payload) = dev.raw_request(Kind::SignEnd, &[]).await.unwrap();
        assert_eq!(kind, Kind::Error);
        assert_eq!(
            link::DeviceError::decode(&payload).unwrap().code,
            ErrorCode::NoSession
        );

        // A second PROVISION of a full slot.
        let (alg, der) = key_from_pem(RSA_PEM).unwrap();
        let e = dev
            .provision(RSA_SLOT, alg, &der, &[1; 32])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::SlotOccupied));
        let e = dev
            .provision(ED_SLOT, SigningAlgorithm::Ed25519Sha256, &[3; 32], &[1; 32])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::SlotOccupied));

        // Header fields over the device's header capacity.
        let info = dev.info().await.unwrap();
        let mut m = messages(1, 5)[0].clone();
        let big = format!("To: {}", "r@example.net, ".repeat(250));
        let copies = info.header_bytes as usize / big.len() + 2;
        for _ in 0..copies {
            m.fields.push(big.clone().into_bytes());
        }
        let req = request(1, SigningAlgorithm::Ed25519Sha256);
        let e = dev
            .sign(ED_SLOT, &req, &m.fields, [&m.body])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Sign), "{e}");
        // The session is gone: the rest of that message is refused too.
        let (kind, _) = dev.raw_request(Kind::Body, b"more").await.unwrap();
        assert_eq!(kind, Kind::Error);

        signs_correctly(
            &dev,
            "a second PROVISION, SIGN-END alone, a header over capacity",
        )
        .await;
    });
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn budget_streams_a_10_mib_body() {
    runtime().block_on(async {
        let dev = device().await;
        let mut m = messages(1, 10)[0].clone();
        let line = b"The body is streamed, never buffered: 10 MiB of it.  \t  \r\n";
        m.body = line.iter().copied().cycle().take(10 << 20).collect();
        let req = request(1, SigningAlgorithm::Ed25519Sha256);
        let mut host = Ed25519Signer::from_seed(&ED25519_SEED);
        let want = host_sign(&mut host, &req, &m, 65536);
        let started = Instant::now();
        let got = device_sign(&dev, ED_SLOT, &req, &m, 65536).await;
        assert_eq!(got, want);
        eprintln!("device: 10 MiB body signed in {:.1?}", started.elapsed());
        signs_correctly(&dev, "a 10 MiB body").await;
    });
}

/// The budget board (and the main one): RSA-2048 and Ed25519 signatures equal
/// the host's, and the counters fit the board.
#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn budget_signs_rsa2048_and_ed25519() {
    runtime().block_on(async {
        let dev = device().await;
        let info = dev.info().await.unwrap();
        signs_correctly(&dev, "boot").await;
        let stats = dev.stats().await.unwrap();
        eprintln!("device {} ({}): {stats:?}", info.board, info.firmware);
        assert!(stats.heap_peak <= stats.heap_size);
        assert!(stats.stack_peak < stats.stack_size);
    });
}

/// Figures under `-icount shift=0` (`cargo xtask qemu --figures` runs this):
/// instructions per body byte (relaxed + SHA-256), per RSA-2048 and Ed25519
/// signature, heap and stack peaks.
#[test]
#[ignore = "needs the device under QEMU with -icount: cargo xtask test"]
fn figures_under_icount() {
    runtime().block_on(async {
        let dev = device().await;
        let info = dev.info().await.unwrap();
        let instructions = |s: &Stats, ticks: u64| {
            ticks as f64 * 1e6 / f64::from(s.ticks_per_mega_instruction.max(1))
        };
        // Body cost: 256 KiB relaxed bodies, plain prose and whitespace-heavy.
        let mut m = messages(1, 3)[0].clone();
        let mut req = request(1, SigningAlgorithm::Ed25519Sha256);
        req.canonicalization = Canonicalization::RELAXED;
        let mut per_byte = Vec::new();
        let mut ed_sign = 0.0;
        for line in [
            &b"Plain body text of a typical message, one space between words.\r\n"[..],
            b"Body  text with\truns of  whitespace, \t tabs and trailing blanks.  \r\n",
        ] {
            m.body = line.iter().copied().cycle().take(256 << 10).collect();
            let s0 = dev.stats().await.unwrap();
            device_sign(&dev, ED_SLOT, &req, &m, 4096).await;
            let s1 = dev.stats().await.unwrap();
            ed_sign = instructions(&s1, s1.last_sign_ticks);
            per_byte.push(
                instructions(&s1, s1.body_ticks - s0.body_ticks)
                    / (s1.body_bytes - s0.body_bytes) as f64,
            );
        }
        let rsa_req = request(1, SigningAlgorithm::RsaSha256);
        m.body = b"short\r\n".to_vec();
        device_sign(&dev, RSA_SLOT, &rsa_req, &m, 4096).await;
        let s2 = dev.stats().await.unwrap();
        let rsa_sign = instructions(&s2, s2.last_sign_ticks);
        println!("FIGURES board={}", info.board);
        println!(
            "FIGURES ticks_per_million_instructions={}",
            s2.ticks_per_mega_instruction
        );
        println!(
            "FIGURES body_instructions_per_byte plain={:.1} whitespace_heavy={:.1}",
            per_byte[0], per_byte[1]
        );
        println!("FIGURES ed25519_sign_instructions={ed_sign:.0}");
        println!("FIGURES rsa2048_sign_instructions={rsa_sign:.0}");
        println!(
            "FIGURES heap_peak_bytes={} heap_size={}",
            s2.heap_peak, s2.heap_size
        );
        println!(
            "FIGURES stack_peak_bytes={} stack_room={}",
            s2.stack_peak, s2.stack_size
        );
        arc::seal_figures(&dev).await;
        let s3 = dev.stats().await.unwrap();
        println!(
            "FIGURES after seals: heap_peak_bytes={} stack_peak_bytes={}",
            s3.heap_peak, s3.stack_peak
        );
        dkim2::hop_figures(&dev).await;
        let s4 = dev.stats().await.unwrap();
        println!(
            "FIGURES after DKIM2 hops: heap_peak_bytes={} stack_peak_bytes={}",
            s4.heap_peak, s4.stack_peak
        );
    });
}
