//! `cargo xtask bench` runs this: throughput of mass-core, each figure next
//! to a baseline measured in the same run (the machines are shared and
//! noisy, so ratios are what is reported).
//!
//! Output lines are `name value unit` so xtask can read them.

use mass_core::canon::body_hash::BodyHasher;
use mass_core::{
    Canon, DigestSigner, Ed25519Signer, MessageSigner, MultiSigner, RsaSha256Signer, SignRequest,
    SigningAlgorithm,
};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
const BODY_LEN: usize = 64 * MIB;
const CHUNK: usize = 64 * 1024;
const ROUNDS: usize = 5;

/// A deterministic 64 MiB mail body: paragraphs of English-like text
/// (single spaces, CRLF line ends, a blank line between paragraphs)
/// alternating with base64 attachment lines of 76 characters, which is
/// what most of the bytes of real mail are.
fn mail_body() -> Vec<u8> {
    mail_body_of(BODY_LEN)
}

/// The first `len` bytes of that body.
fn mail_body_of(len: usize) -> Vec<u8> {
    let words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "mail",
        "signing",
        "domain",
        "receiver",
        "forgery",
        "message",
        "header",
        "body",
        "canonical",
        "form",
        "Hello,",
        "regards.",
    ];
    let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(len + 1024);
    let mut x: u32 = 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    while out.len() < len {
        // A paragraph of 8 lines of text.
        for _ in 0..8 {
            let mut line = 0;
            while line < 66 {
                if line > 0 {
                    out.push(b' ');
                    line += 1;
                }
                let w = words[next() as usize % words.len()];
                out.extend_from_slice(w.as_bytes());
                line += w.len();
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        // 8 lines of base64.
        for _ in 0..8 {
            for _ in 0..76 {
                out.push(b64[next() as usize % 64]);
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    out.truncate(len);
    out
}

/// CPU time this thread has run, from /proc/thread-self/schedstat.
/// On a shared machine wall time counts other processes' work too; the
/// time on CPU does not.
fn thread_cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        })
        .map(Duration::from_nanos)
        .unwrap_or_else(|| {
            // No schedstat: fall back to wall time.
            static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            START.get_or_init(Instant::now).elapsed()
        })
}

/// Best (shortest) CPU time over the rounds.
fn best(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let t = thread_cpu_time();
            f();
            thread_cpu_time().saturating_sub(t)
        })
        .min()
        .unwrap_or_default()
}

fn gbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e9
}

fn canon_hash(canon: Canon, body: &[u8]) -> [u8; 32] {
    let mut h = BodyHasher::new(canon, None);
    for c in body.chunks(CHUNK) {
        h.update(c);
    }
    h.finish().digest
}

fn four_kib_message() -> Vec<u8> {
    let mut m = b"From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: benchmark\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\r\n"
        .to_vec();
    let body = mail_body_small(4096 - m.len());
    m.extend_from_slice(&body);
    m
}

fn mail_body_small(n: usize) -> Vec<u8> {
    let line = b"The quick brown fox jumps over the lazy dog; mail signing bench line.\r\n";
    line.iter().copied().cycle().take(n).collect()
}

/// Messages per second signing `msg` with `key`, over about `secs`.
fn sign_rate(msg: &[u8], key: &mut dyn mass_core::DigestSigner, secs: f64) -> f64 {
    let req = SignRequest::new("example.com", "bench", key.algorithm());
    let mut out = [0u8; 2048];
    let start = thread_cpu_time();
    let mut n = 0u64;
    while (thread_cpu_time() - start).as_secs_f64() < secs {
        let mut s = MessageSigner::<8192, 64>::new(&req).expect("request");
        s.update(msg).expect("message");
        let room = s.required_len(&*key);
        black_box(s.finish(key, &mut out[..room]).expect("sign"));
        n += 1;
    }
    n as f64 / (thread_cpu_time() - start).as_secs_f64()
}

/// Messages per second verifying `signed` (one signature) with its key
/// record already in hand, over about `secs`.
fn verify_rate(signed: &[u8], record: &[u8], secs: f64) -> f64 {
    use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, VerifyOptions};
    let start = thread_cpu_time();
    let mut n = 0u64;
    while (thread_cpu_time() - start).as_secs_f64() < secs {
        let mut v = MessageVerifier::<16384, 256, 5>::new(VerifyOptions::new(1_764_000_000));
        v.update(signed).expect("message");
        v.end_of_input().expect("message");
        v.provide_key(0, KeyAnswer::Records(&[record]));
        let verification = v.finish().expect("verify");
        assert!(
            black_box(verification.any_pass()),
            "bench message must pass"
        );
        n += 1;
    }
    n as f64 / (thread_cpu_time() - start).as_secs_f64()
}

/// `msg` signed by `key`, and the key record that verifies it.
fn signed_message(msg: &[u8], key: &mut dyn mass_core::DigestSigner) -> Vec<u8> {
    let req = SignRequest::new("example.com", "bench", key.algorithm());
    let mut s = MessageSigner::<8192, 64>::new(&req).expect("request");
    s.update(msg).expect("message");
    let mut out = [0u8; 2048];
    let n = s.finish(key, &mut out).expect("sign");
    let mut signed = out[..n].to_vec();
    signed.extend_from_slice(b"\r\n");
    signed.extend_from_slice(msg);
    signed
}

/// A message of `len` bytes: the bench headers, then mail-like body.
fn message_of(len: usize) -> Vec<u8> {
    let mut m = b"From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: benchmark\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\r\n"
        .to_vec();
    let body = mail_body_of(len - m.len());
    m.extend_from_slice(&body);
    m
}

/// Two DKIM keys for one message, as `mass serve --dev` signs it.
struct DualKeys {
    rsa: RsaSha256Signer<rsa::PrivateKey, chacha20::ChaCha20Rng>,
    ed: Ed25519Signer,
}

impl DualKeys {
    fn requests(&self) -> [SignRequest<'static>; 2] {
        let mut rsa = SignRequest::new("example.com", "rsa", SigningAlgorithm::RsaSha256);
        rsa.timestamp = Some(1_764_000_000);
        let mut ed = SignRequest::new("example.com", "ed", SigningAlgorithm::Ed25519Sha256);
        ed.timestamp = Some(1_764_000_000);
        [rsa, ed]
    }
}

/// The old way: one single-key signer per key, each fed the whole
/// message (the body canonicalized and hashed twice).
fn sign_dual_separate(msg: &[u8], keys: &mut DualKeys, out: &mut [u8]) -> usize {
    let reqs = keys.requests();
    let mut signers = reqs.map(|r| Box::new(MessageSigner::<8192, 64>::new(&r).expect("request")));
    for chunk in msg.chunks(CHUNK) {
        for s in signers.iter_mut() {
            s.update(chunk).expect("message");
        }
    }
    let keys: [&mut dyn DigestSigner; 2] = [&mut keys.rsa, &mut keys.ed];
    let mut total = 0;
    for (s, key) in signers.iter_mut().zip(keys) {
        let room = s.required_len(&*key);
        total += s.finish(key, &mut out[..room]).expect("sign");
    }
    total
}

/// The new way: one MultiSigner for both keys (one body hash).
fn sign_dual_shared(msg: &[u8], keys: &mut DualKeys, out: &mut [u8]) -> usize {
    let reqs = keys.requests();
    let mut s = Box::new(MultiSigner::<8192, 64, 2, 2>::new(&reqs).expect("request"));
    for chunk in msg.chunks(CHUNK) {
        s.update(chunk).expect("message");
    }
    let keys: [&mut dyn DigestSigner; 2] = [&mut keys.rsa, &mut keys.ed];
    let mut total = 0;
    for (i, key) in keys.into_iter().enumerate() {
        let room = s.required_len(i, &*key).expect("index");
        total += s.finish(i, key, &mut out[..room]).expect("sign");
    }
    total
}

/// Messages per second `f` signs, over about `secs` of CPU time.
fn rate(secs: f64, mut f: impl FnMut()) -> f64 {
    let start = thread_cpu_time();
    let mut n = 0u64;
    while (thread_cpu_time() - start).as_secs_f64() < secs {
        f();
        n += 1;
    }
    n as f64 / (thread_cpu_time() - start).as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

/// Dual-key signing (RSA-2048 + Ed25519, relaxed/relaxed, both keys on
/// the same in-memory signers) of `msg`: separate signers against one
/// MultiSigner, interleaved round by round; the median of `rounds`.
fn dual_key_figures(name: &str, msg: &[u8], keys: &mut DualKeys, rounds: usize, secs: f64) {
    let mut out = vec![0u8; 4096];
    // The two ways write the same fields.
    let n_sep = sign_dual_separate(msg, keys, &mut out);
    let n_shared = sign_dual_shared(msg, keys, &mut out);
    assert_eq!(n_sep, n_shared, "both ways write fields of one size");
    let (mut sep, mut shared, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so drift hits both alike.
        let (a, b) = if round.is_multiple_of(2) {
            let a = rate(secs, || {
                black_box(sign_dual_separate(black_box(msg), keys, &mut out));
            });
            let b = rate(secs, || {
                black_box(sign_dual_shared(black_box(msg), keys, &mut out));
            });
            (a, b)
        } else {
            let b = rate(secs, || {
                black_box(sign_dual_shared(black_box(msg), keys, &mut out));
            });
            let a = rate(secs, || {
                black_box(sign_dual_separate(black_box(msg), keys, &mut out));
            });
            (a, b)
        };
        sep.push(a);
        shared.push(b);
        ratio.push(b / a);
    }
    let spread = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let (slo, shi) = spread(&sep);
    let (hlo, hhi) = spread(&shared);
    let (rlo, rhi) = spread(&ratio);
    println!(
        "sign_dual_{name}_separate {:.1} msg/s (median of {rounds}; {slo:.1}..{shi:.1})",
        median(&mut sep)
    );
    println!(
        "sign_dual_{name}_shared {:.1} msg/s (median of {rounds}; {hlo:.1}..{hhi:.1})",
        median(&mut shared)
    );
    println!(
        "ratio_dual_{name}_shared_vs_separate {:.3} x (median of {rounds}; {rlo:.3}..{rhi:.3})",
        median(&mut ratio)
    );
}

fn main() {
    let only = std::env::args().nth(1).filter(|a| a != "--bench");
    let want = |name: &str| only.as_deref().is_none_or(|o| name.starts_with(o));

    if want("canon") {
        let body = mail_body();
        // Interleave the three so that noise hits them alike.
        let mut t_sha = Duration::MAX;
        let mut t_simple = Duration::MAX;
        let mut t_relaxed = Duration::MAX;
        for _ in 0..ROUNDS {
            t_sha = t_sha.min(best(|| {
                black_box(Sha256::digest(black_box(&body)));
            }));
            t_simple = t_simple.min(best(|| {
                black_box(canon_hash(Canon::Simple, black_box(&body)));
            }));
            t_relaxed = t_relaxed.min(best(|| {
                black_box(canon_hash(Canon::Relaxed, black_box(&body)));
            }));
        }
        let (s, si, r) = (
            gbps(BODY_LEN, t_sha),
            gbps(BODY_LEN, t_simple),
            gbps(BODY_LEN, t_relaxed),
        );
        println!("sha256_bare {s:.3} GB/s");
        println!("canon_simple_sha256 {si:.3} GB/s");
        println!("canon_relaxed_sha256 {r:.3} GB/s");
        println!("ratio_simple_vs_sha256 {:.3} x", si / s);
        println!("ratio_relaxed_vs_sha256 {:.3} x", r / s);
    }

    if want("probe") {
        // Diagnostics: the relaxed kernel on data with no special bytes.
        let b64: Vec<u8> = (0..BODY_LEN)
            .map(|i| {
                if i % 78 == 76 {
                    b'\r'
                } else if i % 78 == 77 {
                    b'\n'
                } else {
                    b'A' + (i % 26) as u8
                }
            })
            .collect();
        let t_sha = best(|| {
            black_box(Sha256::digest(black_box(&b64)));
        });
        let t_rel = best(|| {
            black_box(canon_hash(Canon::Relaxed, black_box(&b64)));
        });
        println!(
            "probe_relaxed_b64_ratio {:.3} x",
            t_sha.as_secs_f64() / t_rel.as_secs_f64()
        );
        struct Null(usize);
        impl mass_core::canon::Sink for Null {
            fn write(&mut self, b: &[u8]) {
                self.0 += b.len();
            }
        }
        for (name, data) in [("b64", &b64), ("mail", &mail_body())] {
            let t_scan = best(|| {
                let mut c = mass_core::canon::BodyCanonicalizer::new(Canon::Relaxed);
                let mut n = Null(0);
                for ch in data.chunks(CHUNK) {
                    c.update(black_box(ch), &mut n);
                }
                black_box(n.0);
            });
            println!(
                "probe_relaxed_scan_only_{name} {:.3} GB/s",
                gbps(BODY_LEN, t_scan)
            );
        }
        println!("probe_sha {:.3} GB/s", gbps(BODY_LEN, t_sha));
    }

    if want("sign") {
        let msg = four_kib_message();
        let mut ed = Ed25519Signer::from_seed(&[9u8; 32]);
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed([3u8; 32]);
        let rsa_key = rsa::PrivateKey::new(&mut rng, 2048).expect("keygen");
        let mut rsa = RsaSha256Signer::new(rsa_key, rng).expect("key");
        let _ = SigningAlgorithm::RsaSha256;
        println!("sign_ed25519_4k {:.0} msg/s", sign_rate(&msg, &mut ed, 2.0));
        println!(
            "sign_rsa2048_4k {:.0} msg/s",
            sign_rate(&msg, &mut rsa, 3.0)
        );
    }

    if want("sign_dual") {
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed([3u8; 32]);
        let rsa_key = rsa::PrivateKey::new(&mut rng, 2048).expect("keygen");
        let mut keys = DualKeys {
            rsa: RsaSha256Signer::new(rsa_key, rng).expect("key"),
            ed: Ed25519Signer::from_seed(&[9u8; 32]),
        };
        dual_key_figures("4k", &four_kib_message(), &mut keys, 7, 1.0);
        dual_key_figures("1m", &message_of(MIB), &mut keys, 7, 1.5);
    }

    if want("verify") {
        use base64ct::{Base64, Encoding};
        use rsa::pkcs8::EncodePublicKey;
        let msg = four_kib_message();
        let mut ed = Ed25519Signer::from_seed(&[9u8; 32]);
        let ed_record = format!(
            "v=DKIM1; k=ed25519; p={}",
            Base64::encode_string(&ed.public_key())
        );
        let ed_signed = signed_message(&msg, &mut ed);
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed([3u8; 32]);
        let rsa_key = rsa::PrivateKey::new(&mut rng, 2048).expect("keygen");
        let mut rsa = RsaSha256Signer::new(rsa_key, rng).expect("key");
        let der = rsa.public_key().to_public_key_der().expect("der");
        let rsa_record = format!(
            "v=DKIM1; k=rsa; p={}",
            Base64::encode_string(der.as_bytes())
        );
        let rsa_signed = signed_message(&msg, &mut rsa);
        println!(
            "verify_ed25519_4k {:.0} msg/s",
            verify_rate(&ed_signed, ed_record.as_bytes(), 2.0)
        );
        println!(
            "verify_rsa2048_4k {:.0} msg/s",
            verify_rate(&rsa_signed, rsa_record.as_bytes(), 2.0)
        );
    }
}
