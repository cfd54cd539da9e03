//! `cargo xtask bench` runs this: throughput of mass-core, each figure next
//! to a baseline measured in the same run (the machines are shared and
//! noisy, so ratios are what is reported).
//!
//! Output lines are `name value unit` so xtask can read them.

use mass_core::canon::body_hash::BodyHasher;
use mass_core::canon::normalize::LineEndings;
use mass_core::{
    Canon, DigestSigner, Ed25519Signer, MessageSigner, MultiSigner, RsaSha256Signer, SignRequest,
    SigningAlgorithm,
};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "throughput/arc.rs"]
mod arc;

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
    rate(secs, || verify_once(signed, record))
}

/// Verify `signed` (one signature) once with its key record in hand; it
/// must pass.
fn verify_once(signed: &[u8], record: &[u8]) {
    use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, VerifyOptions};
    let mut v = Box::new(MessageVerifier::<16384, 256, 5>::new(VerifyOptions::new(
        1_764_000_000,
    )));
    v.update(signed).expect("message");
    v.end_of_input().expect("message");
    v.provide_key(0, KeyAnswer::Records(&[record]));
    let verification = v.finish().expect("verify");
    assert!(
        black_box(verification.any_pass()),
        "bench message must pass"
    );
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

/// Shortest CPU time of `n` runs of `f`.
fn best_of(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let t = thread_cpu_time();
            f();
            thread_cpu_time().saturating_sub(t)
        })
        .min()
        .unwrap_or_default()
}

/// Figures gathered round by round, printed as `name median unit (median
/// of N; lo..hi)`.
#[derive(Default)]
struct Rounds(Vec<(&'static str, Vec<f64>)>);

impl Rounds {
    fn push(&mut self, name: &'static str, v: f64) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, vs)) => vs.push(v),
            None => self.0.push((name, vec![v])),
        }
    }

    fn print(&mut self, names: &[(&str, &str)]) {
        for (name, unit) in names {
            let Some((_, vs)) = self.0.iter_mut().find(|(n, _)| n == name) else {
                continue;
            };
            let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let n = vs.len();
            let m = median(vs);
            println!("{name} {m:.3} {unit} (median of {n}; {lo:.3}..{hi:.3})");
        }
    }
}

/// A sink that only counts, to time what comes before the hash.
struct Count(usize);

impl mass_core::canon::Sink for Count {
    fn write(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
}

/// The LF-to-CRLF step as `mass sign` and `mass verify` run it (see
/// `hosted/src/cli/io.rs`): each 64 KiB read through `LineEndings`, short
/// runs gathered into one buffer, handed on once per read.
fn normalize_gathered(data: &[u8], gathered: &mut Vec<u8>, mut each: impl FnMut(&[u8])) {
    let mut lines = LineEndings::new();
    for chunk in data.chunks(CHUNK) {
        lines
            .update::<()>(chunk, |run| {
                if run.len() < 4096 {
                    gathered.extend_from_slice(run);
                } else {
                    if !gathered.is_empty() {
                        each(gathered);
                        gathered.clear();
                    }
                    each(run);
                }
                Ok(())
            })
            .ok();
        if !gathered.is_empty() {
            each(gathered);
            gathered.clear();
        }
    }
}

/// The same conversion with `memchr` finding the LFs, for comparison.
fn normalize_memchr(data: &[u8], gathered: &mut Vec<u8>, mut each: impl FnMut(&[u8])) {
    let mut last_was_cr = false;
    for chunk in data.chunks(CHUNK) {
        let (mut start, mut from) = (0, 0);
        while let Some(lf) = memchr::memchr(b'\n', &chunk[from..]).map(|p| p + from) {
            let after_cr = if lf == 0 {
                last_was_cr
            } else {
                chunk[lf - 1] == b'\r'
            };
            if !after_cr {
                gathered.extend_from_slice(&chunk[start..lf]);
                gathered.extend_from_slice(b"\r\n");
                start = lf + 1;
            }
            from = lf + 1;
        }
        gathered.extend_from_slice(&chunk[start..]);
        last_was_cr = chunk.last() == Some(&b'\r');
        each(gathered);
        gathered.clear();
    }
}

/// LF-to-CRLF conversion of a 64 MiB mail body with bare LF line ends:
/// alone (as the CLI gathers it, and with `memchr` instead of core's
/// scan), and in front of relaxed body hashing, each against bare SHA-256
/// of the same bytes; interleaved rounds, medians and ranges.
fn normalize_figures() {
    let crlf = mail_body();
    let mut lf = Vec::with_capacity(crlf.len());
    for (i, &b) in crlf.iter().enumerate() {
        if !(b == b'\r' && crlf.get(i + 1) == Some(&b'\n')) {
            lf.push(b);
        }
    }
    let len = lf.len();
    let mut gathered = Vec::with_capacity(2 * CHUNK);
    // Both conversions give the CRLF body back.
    let mut a = Vec::new();
    normalize_gathered(&lf, &mut gathered, |c| a.extend_from_slice(c));
    let mut b = Vec::new();
    normalize_memchr(&lf, &mut gathered, |c| b.extend_from_slice(c));
    assert!(a == b && a[..] == crlf[..a.len()], "conversions differ");
    drop((a, b));
    let mut rounds = Rounds::default();
    for _ in 0..ROUNDS {
        let t_sha = best_of(3, || {
            black_box(Sha256::digest(black_box(&lf)));
        });
        let t_scan = best_of(3, || {
            let mut n = Count(0);
            normalize_gathered(black_box(&lf), &mut gathered, |c| {
                mass_core::canon::Sink::write(&mut n, c)
            });
            black_box(n.0);
        });
        let t_memchr = best_of(3, || {
            let mut n = Count(0);
            normalize_memchr(black_box(&lf), &mut gathered, |c| {
                mass_core::canon::Sink::write(&mut n, c)
            });
            black_box(n.0);
        });
        let t_pipeline = best_of(3, || {
            let mut h = BodyHasher::new(Canon::Relaxed, None);
            normalize_gathered(black_box(&lf), &mut gathered, |c| {
                h.update(c);
            });
            black_box(h.finish().digest);
        });
        rounds.push("normalize_lf_sha256_bare", gbps(len, t_sha));
        rounds.push("normalize_lf_scan", gbps(len, t_scan));
        rounds.push("normalize_lf_memchr", gbps(len, t_memchr));
        rounds.push(
            "ratio_normalize_scan_vs_memchr",
            t_memchr.as_secs_f64() / t_scan.as_secs_f64(),
        );
        rounds.push(
            "ratio_lf_normalize_relaxed_vs_sha256",
            t_sha.as_secs_f64() / t_pipeline.as_secs_f64(),
        );
    }
    rounds.print(&[
        ("normalize_lf_sha256_bare", "GB/s"),
        ("normalize_lf_scan", "GB/s"),
        ("normalize_lf_memchr", "GB/s"),
        ("ratio_normalize_scan_vs_memchr", "x"),
        ("ratio_lf_normalize_relaxed_vs_sha256", "x"),
    ]);
}

/// The header fields `mass sign` hashes for the 4 KiB bench message: its
/// five fields and a DKIM-Signature field (folded, `b=` empty) as the
/// signer writes it.
fn signed_header_fields() -> Vec<Vec<u8>> {
    let msg = four_kib_message();
    let end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let mut fields: Vec<Vec<u8>> = msg[..end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect();
    fields.push(
        b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;\r\n\
 s=bench; t=1764000000; h=from:from:to:to:cc:subject:subject:date:date\r\n\
 :reply-to:message-id:message-id:mime-version:content-type;\r\n\
 bh=RYcFNB7UaCHA5kVsQYUL4Pl2TeS87EuGY6A0ejIgSRk=; b="
            .to_vec(),
    );
    fields
}

/// Relaxed header hashing of the fields a 4 KiB message's signature
/// covers, against bare SHA-256 of the same raw bytes: ns per message,
/// interleaved rounds, medians and ranges.
fn header_figures() {
    use mass_core::canon::canonicalize_header;
    let fields = signed_header_fields();
    let raw: Vec<u8> = fields.iter().flat_map(|f| f.iter().copied()).collect();
    const N: u32 = 20_000;
    let per_msg = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(N);
    let mut rounds = Rounds::default();
    for _ in 0..ROUNDS * 2 {
        let t_sha = best_of(3, || {
            for _ in 0..N {
                let mut h = Sha256::new();
                for f in &fields {
                    h.update(black_box(f));
                    h.update(b"\r\n");
                }
                black_box(h.finalize());
            }
        });
        let t_relaxed = best_of(3, || {
            for _ in 0..N {
                let mut h = Sha256::new();
                let (last, rest) = fields.split_last().expect("fields");
                for f in rest {
                    canonicalize_header(Canon::Relaxed, black_box(f), true, &mut h);
                }
                canonicalize_header(Canon::Relaxed, black_box(last), false, &mut h);
                black_box(h.finalize());
            }
        });
        let t_canon_only = best_of(3, || {
            for _ in 0..N {
                let mut n = Count(0);
                for f in &fields {
                    canonicalize_header(Canon::Relaxed, black_box(f), true, &mut n);
                }
                black_box(n.0);
            }
        });
        rounds.push("header_4k_sha256_bare", per_msg(t_sha));
        rounds.push("header_4k_relaxed_sha256", per_msg(t_relaxed));
        rounds.push("header_4k_relaxed_canon_only", per_msg(t_canon_only));
        rounds.push(
            "ratio_header_relaxed_vs_sha256",
            t_sha.as_secs_f64() / t_relaxed.as_secs_f64(),
        );
    }
    println!("header_4k_bytes {} B", raw.len());
    rounds.print(&[
        ("header_4k_sha256_bare", "ns/msg"),
        ("header_4k_relaxed_sha256", "ns/msg"),
        ("header_4k_relaxed_canon_only", "ns/msg"),
        ("ratio_header_relaxed_vs_sha256", "x"),
    ]);
}

fn main() {
    let only = std::env::args().nth(1).filter(|a| a != "--bench");
    let want = |name: &str| only.as_deref().is_none_or(|o| name.starts_with(o));

    if want("canon") {
        let body = mail_body();
        // Interleaved rounds, so that noise hits the three alike; each
        // round's ratios are taken within the round, and the median and
        // range of the rounds are printed.
        let mut rounds = Rounds::default();
        for _ in 0..ROUNDS {
            let t_sha = best_of(3, || {
                black_box(Sha256::digest(black_box(&body)));
            });
            let t_simple = best_of(3, || {
                black_box(canon_hash(Canon::Simple, black_box(&body)));
            });
            let t_relaxed = best_of(3, || {
                black_box(canon_hash(Canon::Relaxed, black_box(&body)));
            });
            rounds.push("sha256_bare", gbps(BODY_LEN, t_sha));
            rounds.push("canon_simple_sha256", gbps(BODY_LEN, t_simple));
            rounds.push("canon_relaxed_sha256", gbps(BODY_LEN, t_relaxed));
            rounds.push(
                "ratio_simple_vs_sha256",
                t_sha.as_secs_f64() / t_simple.as_secs_f64(),
            );
            rounds.push(
                "ratio_relaxed_vs_sha256",
                t_sha.as_secs_f64() / t_relaxed.as_secs_f64(),
            );
        }
        rounds.print(&[
            ("sha256_bare", "GB/s"),
            ("canon_simple_sha256", "GB/s"),
            ("canon_relaxed_sha256", "GB/s"),
            ("ratio_simple_vs_sha256", "x"),
            ("ratio_relaxed_vs_sha256", "x"),
        ]);
    }

    if want("normalize") {
        normalize_figures();
    }

    if want("header") {
        header_figures();
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

    if want("arc") {
        use base64ct::{Base64, Encoding};
        use rsa::pkcs8::EncodePublicKey;
        let msg = four_kib_message();
        let mut ed = Ed25519Signer::from_seed(&[9u8; 32]);
        let ed_record = format!(
            "v=DKIM1; k=ed25519; p={}",
            Base64::encode_string(&ed.public_key())
        );
        arc::figures("ed25519", &msg, &mut ed, ed_record.as_bytes());
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed([3u8; 32]);
        let rsa_key = rsa::PrivateKey::new(&mut rng, 2048).expect("keygen");
        let mut rsa = RsaSha256Signer::new(rsa_key, rng).expect("key");
        let der = rsa.public_key().to_public_key_der().expect("der");
        let rsa_record = format!(
            "v=DKIM1; k=rsa; p={}",
            Base64::encode_string(der.as_bytes())
        );
        arc::figures("rsa2048", &msg, &mut rsa, rsa_record.as_bytes());
    }
}
