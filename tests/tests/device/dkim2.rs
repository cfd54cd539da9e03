//! DKIM2 hops on the device (issue 12, Must show 5): the hops the device
//! signs under QEMU equal, byte for byte, those the host's core
//! `Dkim2Signer` signs with the same key and `t=` (RSA PKCS#1 v1.5 and
//! Ed25519 are deterministic). Run by `cargo xtask test` with the other
//! device tests (`main_*` on the main board, `budget_*` on the 64 KiB one):
//! 50 hops on each board.

use std::time::Instant;

use mass_core::dkim::verify::KeyAnswer;
use mass_core::dkim2::sign::{Destination, HopRequest};
use mass_core::dkim2::{Dkim2Signer, Dkim2Verifier, Envelope, Status, VerifyOptions};
use mass_core::link::{DKIM2_REQUEST_TOO_LARGE, ErrorCode, Stats};
use mass_core::{DigestSigner, Ed25519Signer};
use mass_hosted::device::{DeviceError, split_message};
use mass_hosted::dkim2::{Revision, revise};

use super::*;

/// The selector of both device keys in these hops.
const SELECTOR: &str = "dev";

/// The key of an upstream hop's domain.
fn upstream_key(domain: &str) -> Ed25519Signer {
    let mut seed = [0u8; 32];
    for (i, b) in domain.bytes().enumerate() {
        seed[i % 32] ^= b;
    }
    Ed25519Signer::from_seed(&seed)
}

/// How one message is signed: its upstream hops, and our hop's request.
struct Case {
    depth: usize,
    algorithm: SigningAlgorithm,
    mail_from: String,
    rcpt_to: Vec<String>,
    next_domain: bool,
    nonce: Option<String>,
    flags: Vec<&'static str>,
    /// A list host's change, with the recipe that undoes it.
    revise: bool,
    timestamp: u64,
}

impl Case {
    fn new(i: usize) -> Case {
        let depth = i % 3;
        let mail_from = match i % 7 {
            // The null path, on a first hop (custody needs a domain later).
            0 if depth == 0 => "<>".to_string(),
            1 if depth == 0 => String::new(),
            2 => format!("bounces+{i}@example.org"),
            3 => format!("<list-{i}@lists.example.org>"),
            4 => format!("<{}@example.org>", "l".repeat(100)),
            _ => format!("<s{i}@example.org>"),
        };
        let rcpt_to: Vec<String> = (0..1 + (i * 5) % 8)
            .map(|j| match (i + j) % 4 {
                0 => format!("<r{j}@dest{j}.example>"),
                1 => format!("m{i}.{j}@example.net"),
                2 => format!("<{}{j}@long.example>", "x".repeat(90 + i % 20)),
                _ => format!("<R{j}+tag@Example.COM>"),
            })
            .collect();
        Case {
            depth,
            algorithm: if (i / 2).is_multiple_of(2) {
                SigningAlgorithm::Ed25519Sha256
            } else {
                SigningAlgorithm::RsaSha256
            },
            mail_from,
            rcpt_to,
            next_domain: i % 11 == 5,
            nonce: (i % 4 == 1).then(|| format!("nonce-{i}-{}", "z".repeat(i % 40))),
            flags: match i % 5 {
                0 => vec![],
                1 => vec!["feedback"],
                2 => vec!["donotexplode", "feedhere"],
                _ => vec![],
            },
            // A recipe needs an instance to go back to: only after a hop.
            revise: depth > 0 && i.is_multiple_of(2),
            timestamp: 1_790_000_000 + i as u64 * 37,
        }
    }

    fn request<'a>(&'a self, rcpts: &'a [&'a str], recipe: Option<&'a [u8]>) -> HopRequest<'a> {
        HopRequest {
            domain: DOMAIN,
            destination: if self.next_domain {
                Destination::NextDomain("next.example")
            } else {
                Destination::Envelope {
                    mail_from: &self.mail_from,
                    rcpt_to: rcpts,
                }
            },
            timestamp: self.timestamp,
            nonce: self.nonce.as_deref(),
            flags: &self.flags,
            recipe,
        }
    }
}

type HostSigner<'r> = Dkim2Signer<'r, 65536, 256>;

/// Sign one hop on the host's core signer over the whole message; the new
/// fields in the order they go on top (signature, then instance).
fn host_hop(
    key: &mut dyn DigestSigner,
    selector: &str,
    req: &HopRequest<'_>,
    message: &[u8],
) -> Vec<Vec<u8>> {
    let mut s: Box<HostSigner<'_>> = Box::new(HostSigner::new(req).unwrap());
    s.update(message).unwrap();
    let mut out = vec![0u8; 8192];
    let mut keys: [(&str, &mut dyn DigestSigner); 1] = [(selector, key)];
    let hop = s.finish(&mut keys, &mut out).unwrap();
    [Some(hop.signature), hop.instance]
        .into_iter()
        .flatten()
        .map(|span| span.get(&out).unwrap().to_vec())
        .collect()
}

fn on_top(fields: &[Vec<u8>], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(f);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(message);
    out
}

/// The message as raw bytes, with trace and `X-` fields now and then
/// (the host keeps them from the device: no DKIM2 hash covers them).
fn raw(m: &Message, i: usize) -> Vec<u8> {
    let mut out = Vec::new();
    if i % 2 == 1 {
        out.extend_from_slice(
            format!("Received: from mx{i}.example.net (mx{i}.example.net [192.0.2.{i}])\r\n\tby mail.example.org; Sat, 28 Nov 2026 14:00:00 +0000\r\n")
                .as_bytes(),
        );
        out.extend_from_slice(b"X-Spam-Score: 0.1\r\n");
    }
    for f in &m.fields {
        out.extend_from_slice(f);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&m.body);
    out
}

/// Put `depth` upstream hops on the message: hop k is signed by
/// `hopK.example` for `<sender@hopK.example>`, sending on to the next
/// hop's domain (the last one to ours), so the chain keeps custody.
fn with_hops(message: &[u8], depth: usize) -> Vec<u8> {
    let mut message = message.to_vec();
    for k in 1..=depth {
        let domain = format!("hop{k}.example");
        let from = format!("<sender@{domain}>");
        let next = if k == depth {
            format!("<list@{DOMAIN}>")
        } else {
            format!("<in@hop{}.example>", k + 1)
        };
        let rcpts = [next.as_str(), "<cc@elsewhere.example>"];
        let req = HopRequest::new(&domain, &from, &rcpts, 1_789_000_000 + k as u64);
        let fields = host_hop(&mut upstream_key(&domain), "up", &req, &message);
        message = on_top(&fields, &message);
    }
    message
}

/// The key record of each domain a chain names.
fn record(domain: &str, algorithm: SigningAlgorithm) -> String {
    use base64ct::{Base64, Encoding};
    if domain.eq_ignore_ascii_case(DOMAIN) {
        match algorithm {
            SigningAlgorithm::Ed25519Sha256 => format!(
                "v=DKIM1; k=ed25519; p={}",
                Base64::encode_string(&Ed25519Signer::from_seed(&ED25519_SEED).public_key())
            ),
            SigningAlgorithm::RsaSha256 => format!(
                "v=DKIM1; k=rsa; p={}",
                Base64::encode_string(rsa_host_key().public_key_der().unwrap().as_bytes())
            ),
        }
    } else {
        format!(
            "v=DKIM1; k=ed25519; p={}",
            Base64::encode_string(&upstream_key(domain).public_key())
        )
    }
}

/// The whole chain through core's verifier, every key known, for the
/// envelope our hop signed.
fn chain_status(message: &[u8], case: &Case, rcpts: &[&str]) -> (Status, String) {
    let mut v: Box<Dkim2Verifier<65536, 256, 8, 16384>> =
        Box::new(Dkim2Verifier::new(VerifyOptions::new(case.timestamp + 60)));
    v.update(message).unwrap();
    v.end_of_input().unwrap();
    let requests: Vec<(usize, String)> = v
        .key_requests()
        .map(|r| (r.id, r.domain.to_string()))
        .collect();
    for (id, domain) in requests {
        let rec = record(&domain, case.algorithm);
        v.provide_key(id, KeyAnswer::Records(&[rec.as_bytes()]));
    }
    let result = v
        .finish(&Envelope {
            mail_from: &case.mail_from,
            rcpt_to: rcpts,
        })
        .unwrap();
    (result.status, result.reason.to_string())
}

/// What [`compare_hops`] counted.
#[derive(Debug, Default)]
struct Tally {
    equal: usize,
    with_recipe: usize,
    after_a_hop: usize,
    chains_verified: usize,
}

/// Sign `n` messages as DKIM2 hops on the device and on the host; every
/// hop must be equal byte for byte (else the test fails).
async fn compare_hops(dev: &Device, n: usize, seed: u64) -> Tally {
    let msgs = messages(n, seed);
    let mut tally = Tally::default();
    for (i, m) in msgs.iter().enumerate() {
        let case = Case::new(i);
        let mut m = m.clone();
        if case.revise {
            // mass's list change (`revise`) writes a recipe that gives back
            // only the Subject it tagged, and 8-bit bytes as U+FFFD: with a
            // second Subject or a Subject that is not UTF-8 the chain would
            // break at m=1 (not the hop, which is equal either way). A
            // revised message has one UTF-8 Subject.
            let is_subject =
                |f: &[u8]| mass_core::header::field_name(f).eq_ignore_ascii_case(b"subject");
            let mut seen = false;
            m.fields.retain(|f| {
                let subject = is_subject(f);
                let keep = !(subject && seen);
                seen |= subject;
                keep
            });
            for f in m
                .fields
                .iter_mut()
                .filter(|f| is_subject(f) && std::str::from_utf8(f).is_err())
            {
                *f = format!("Subject: caf\u{e9} {i}").into_bytes();
            }
        }
        let mut message = with_hops(&raw(&m, i), case.depth);
        let mut recipe = None;
        if case.revise {
            let revised = revise(
                &message,
                &Revision {
                    subject_tag: Some("[list] "),
                    footer: (i % 4 == 0).then_some(&b"-- \r\nThe list footer.\r\n"[..]),
                },
            )
            .unwrap();
            message = revised.message;
            recipe = Some(revised.recipe);
        }
        let rcpts: Vec<&str> = case.rcpt_to.iter().map(String::as_str).collect();
        let req = case.request(&rcpts, recipe.as_deref());
        let want = host_hop(host_key(case.algorithm).as_mut(), SELECTOR, &req, &message);
        let (fields, body_at) = split_message(&message).unwrap();
        let body = &message[body_at..];
        dev.set_body_frame([4096, 1000, 77][i % 3]);
        let chunk = [1, 7, 64, 1000, 4096, 100_000][i % 6];
        let got = dev
            .dkim2_hop(
                slot_of(case.algorithm),
                SELECTOR,
                &req,
                &fields,
                body.chunks(chunk),
            )
            .await
            .unwrap_or_else(|e| panic!("message {i}: device DKIM2 hop failed: {e}"));
        assert_eq!(
            got.fields()
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect::<Vec<_>>(),
            want.iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect::<Vec<_>>(),
            "message {i}: depth {}, {:?}, recipe {}, {} rcpts, body {} bytes",
            case.depth,
            case.algorithm,
            recipe.is_some(),
            rcpts.len(),
            body.len()
        );
        tally.equal += 1;
        tally.with_recipe += usize::from(recipe.is_some());
        tally.after_a_hop += usize::from(case.depth > 0);
        // An nd= hop names no transaction: it is verified by the next hop.
        if !case.next_domain {
            let signed = on_top(&got.fields(), &message);
            let (status, reason) = chain_status(&signed, &case, &rcpts);
            assert_eq!(
                status,
                Status::Pass,
                "message {i}: the chain with the device's hop: {reason}\n{}",
                String::from_utf8_lossy(&signed)
            );
            tally.chains_verified += 1;
        }
    }
    tally
}

async fn hops_like_the_host(n: usize, seed: u64) {
    let dev = device().await;
    let info = dev.info().await.unwrap();
    let started = Instant::now();
    let tally = compare_hops(&dev, n, seed).await;
    let stats: Stats = dev.stats().await.unwrap();
    assert_eq!(tally.equal, n);
    eprintln!(
        "device {}: {}/{n} DKIM2 hops equal the host's ({} with a recipe, {} on a message that had a hop, \
         Ed25519 and RSA-2048; {} whole chains verified by core) in {:.1?}; {stats:?}",
        info.board,
        tally.equal,
        tally.with_recipe,
        tally.after_a_hop,
        tally.chains_verified,
        started.elapsed()
    );
    assert!(tally.with_recipe > 0 && tally.after_a_hop > 0);
    assert!(stats.heap_peak <= stats.heap_size);
    assert!(stats.stack_peak < stats.stack_size);
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn main_dkim2_hops_like_the_host() {
    runtime().block_on(hops_like_the_host(50, 41));
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn budget_dkim2_hops_like_the_host() {
    runtime().block_on(hops_like_the_host(50, 43));
}

/// Running out is a typed error, never a panic, and the next hop is right.
async fn refuses_past_capacity(dev: &Device) {
    let info = dev.info().await.unwrap();
    let m = &messages(1, 51)[0];
    let rcpt = ["<r@example.net>"];
    let req = HopRequest::new(DOMAIN, "<s@example.org>", &rcpt, 1_790_000_000);
    // Header fields over the header capacity (a hop keeps every field).
    let mut fields = m.fields.clone();
    let big = format!("Comments: {}", "c".repeat(200));
    while fields.iter().map(Vec::len).sum::<usize>() <= info.header_bytes as usize {
        fields.push(big.clone().into_bytes());
    }
    let e = dev
        .dkim2_hop(ED_SLOT, SELECTOR, &req, &fields, [&m.body])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Sign), "{e}");
    eprintln!("device: a header over {} bytes: {e}", info.header_bytes);
    let many: Vec<Vec<u8>> = (0..=info.header_fields)
        .map(|n| format!("Comments: {n}").into_bytes())
        .collect();
    let e = dev
        .dkim2_hop(ED_SLOT, SELECTOR, &req, &many, [&m.body])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Sign), "{e}");
    // A bad d= is refused at DKIM2-BEGIN.
    let bad = HopRequest::new("not a domain", "<s@example.org>", &rcpt, 1);
    let e = dev
        .dkim2_hop(ED_SLOT, SELECTOR, &bad, &m.fields, [&m.body])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Dkim2), "{e}");
    // A recipe on a message with no instance to go back to.
    let mut recipe = req;
    recipe.recipe = Some(b"{}");
    let e = dev
        .dkim2_hop(ED_SLOT, SELECTOR, &recipe, &m.fields, [&m.body])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Dkim2), "{e}");
    // 8 paths of 256 bytes and a 1 KiB recipe: more than the budget board
    // keeps (2 KiB), and on the main board a hop longer than a frame,
    // refused before it is signed.
    let long = format!("<{}@example.net>", "l".repeat(256 - 14));
    let eight = [long.as_str(); 8];
    let mut large = HopRequest::new(DOMAIN, "<s@example.org>", &eight, 1_790_000_000);
    let json = format!(
        "{{\"h\":{{\"x-pad\":[{{\"d\":[\"{}\"]}}]}}}}",
        "p".repeat(990)
    );
    large.recipe = Some(json.as_bytes());
    let hop = with_hops(&raw(m, 0), 1);
    let (fields, at) = split_message(&hop).unwrap();
    let e = dev
        .dkim2_hop(RSA_SLOT, SELECTOR, &large, &fields, [&hop[at..]])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Dkim2), "{e}");
    let DeviceError::Device(d) = e else {
        unreachable!()
    };
    assert!(d.detail == 9 || d.detail == DKIM2_REQUEST_TOO_LARGE, "{d}");
    eprintln!(
        "device {}: 8 paths of 256 bytes and a 1 KiB recipe: {d}",
        info.board
    );
    // Past the link's own bounds, nothing reaches the device.
    let nine = [long.as_str(); 9];
    let e = dev
        .dkim2_hop(
            ED_SLOT,
            SELECTOR,
            &HopRequest::new(DOMAIN, "", &nine, 1),
            &m.fields,
            [&m.body],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DeviceError::Dkim2Request(_)), "{e}");
    // The device still signs right.
    assert_eq!(compare_hops(dev, 3, 52).await.equal, 3);
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn main_dkim2_refuses_past_capacity() {
    runtime().block_on(async { refuses_past_capacity(&device().await).await });
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn budget_dkim2_refuses_past_capacity() {
    runtime().block_on(async { refuses_past_capacity(&device().await).await });
}

/// Instructions per hop (SIGN-END: the instance's header hash, the
/// signature input and one signature), for `cargo xtask qemu --figures`.
pub(super) async fn hop_figures(dev: &Device) {
    let instructions =
        |s: &Stats| s.last_sign_ticks as f64 * 1e6 / f64::from(s.ticks_per_mega_instruction.max(1));
    let m = &messages(1, 61)[0];
    for algorithm in [SigningAlgorithm::Ed25519Sha256, SigningAlgorithm::RsaSha256] {
        for depth in [0, 2] {
            let message = with_hops(&raw(m, 0), depth);
            let rcpt = ["<r@example.net>"];
            let req = HopRequest::new(DOMAIN, "<s@example.org>", &rcpt, 1_790_000_000);
            let (fields, at) = split_message(&message).unwrap();
            dev.dkim2_hop(
                slot_of(algorithm),
                SELECTOR,
                &req,
                &fields,
                [&message[at..]],
            )
            .await
            .unwrap();
            let s = dev.stats().await.unwrap();
            println!(
                "FIGURES dkim2_hop_instructions {} depth={depth}: {:.0}",
                algorithm.as_str(),
                instructions(&s)
            );
        }
    }
}
