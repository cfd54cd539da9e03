//! ARC sealing on the device (issue 11, Must show 4): the sets the device
//! seals under QEMU equal, byte for byte, those the host's core
//! `ArcSealer` seals with the same key and `t=` (RSA PKCS#1 v1.5 and
//! Ed25519 are deterministic). Run by `cargo xtask test` with the other
//! device tests (`main_*` on the main board, `budget_*` on the 64 KiB one).

use std::time::Instant;

use mass_core::arc::sealer::DEFAULT_SEALED_HEADERS;
use mass_core::arc::{ArcSealer, ChainStatus, SealRequest};
use mass_core::link::{ErrorCode, Stats};
use mass_core::{Canon, Canonicalization, DigestSigner, HeaderSelection};

use super::*;

/// The sealer upstream of us: it made the sets already in the message.
const UPSTREAM_SEED: [u8; 32] = *b"mass arc test upstream sealer 01";

/// How a message is sealed: its chain depth, the request, the chain
/// status and the results.
struct Case {
    depth: usize,
    algorithm: SigningAlgorithm,
    chain: ChainStatus,
    results: Vec<Vec<u8>>,
    canonicalization: Canonicalization,
    exact: bool,
    timestamp: u64,
}

impl Case {
    fn new(i: usize) -> Case {
        let depth = i % 3;
        let chain = match depth {
            0 => ChainStatus::None,
            _ if i % 5 == 4 => ChainStatus::Fail,
            _ => ChainStatus::Pass,
        };
        let results: Vec<Vec<u8>> = match i % 4 {
            0 => vec![],
            1 => vec![b"dkim=pass header.d=example.org header.s=dev".to_vec()],
            2 => vec![
                b"spf=pass smtp.mailfrom=example.org".to_vec(),
                b"dkim=fail (body hash mismatch) header.d=example.org".to_vec(),
                format!("arc={} header.oldest-pass=0", chain.as_str()).into_bytes(),
            ],
            _ => vec![
                format!(
                    "dmarc=pass (p=none {}) header.from=example.org",
                    "x".repeat(i * 7)
                )
                .into_bytes(),
            ],
        };
        let canons = [Canon::Simple, Canon::Relaxed];
        Case {
            depth,
            algorithm: if (i / 3).is_multiple_of(2) {
                SigningAlgorithm::Ed25519Sha256
            } else {
                SigningAlgorithm::RsaSha256
            },
            chain,
            results,
            canonicalization: Canonicalization {
                header: canons[(i / 2) % 2],
                body: canons[(i / 4) % 2],
            },
            exact: i % 7 == 3,
            timestamp: 1_790_000_000 + i as u64 * 61,
        }
    }

    fn request(&self) -> SealRequest<'static> {
        let mut req = SealRequest::new(DOMAIN, "arc", self.algorithm, "mx.example.org");
        req.canonicalization = self.canonicalization;
        if self.exact {
            req.headers = HeaderSelection::Exact(&["From", "To", "Subject", "Date"]);
        } else {
            req.headers = HeaderSelection::Oversign(&DEFAULT_SEALED_HEADERS);
        }
        req.timestamp = Some(self.timestamp);
        req
    }

    fn results(&self) -> Vec<&[u8]> {
        self.results.iter().map(Vec::as_slice).collect()
    }
}

type HostSealer = ArcSealer<65536, 256>;

/// Seal on the host: the three fields joined by CRLF.
fn host_seal(
    key: &mut dyn DigestSigner,
    req: &SealRequest<'_>,
    chain: ChainStatus,
    results: &[&[u8]],
    fields: &[Vec<u8>],
    body: &[u8],
) -> Vec<u8> {
    let mut s: Box<HostSealer> = Box::new(HostSealer::new(req).unwrap());
    for f in fields {
        s.header_field(f).unwrap();
    }
    s.end_of_headers().unwrap();
    s.body(body).unwrap();
    let mut out = vec![0u8; 8192];
    let set = s.finish(results, chain, key, &mut out).unwrap();
    out.truncate(set.len);
    out
}

/// Put `depth` sets by the upstream sealer (each a different domain) on
/// top of the message, newest on top, each field as a separate header
/// field.
fn with_chain(m: &Message, depth: usize) -> Vec<Vec<u8>> {
    let mut fields = m.fields.clone();
    let mut upstream = Ed25519Signer::from_seed(&UPSTREAM_SEED);
    for k in 1..=depth {
        let domain = format!("list{k}.example");
        let mut req = SealRequest::new(
            &domain,
            "up",
            SigningAlgorithm::Ed25519Sha256,
            "lists.example",
        );
        req.timestamp = Some(1_789_000_000 + k as u64);
        let chain = if k == 1 {
            ChainStatus::None
        } else {
            ChainStatus::Pass
        };
        let dkim: &[u8] = b"dkim=pass header.d=example.org";
        let set = host_seal(&mut upstream, &req, chain, &[dkim], &fields, &m.body);
        let mut new: Vec<Vec<u8>> = split_set(&set);
        new.reverse();
        new.extend(fields);
        fields = new;
    }
    fields
}

/// The three fields of a set (a CRLF not followed by WSP ends one).
fn split_set(set: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..set.len().saturating_sub(2) {
        if &set[i..i + 2] == b"\r\n" && !matches!(set[i + 2], b' ' | b'\t') {
            out.push(set[start..i].to_vec());
            start = i + 2;
        }
    }
    out.push(set[start..].to_vec());
    assert_eq!(out.len(), 3, "{}", String::from_utf8_lossy(set));
    out
}

/// Seal `n` messages on the device and on the host; returns how many
/// were equal (all, or the test fails) and the instructions of the last
/// seal of each algorithm when the device counts them.
async fn compare_seals(dev: &Device, n: usize, seed: u64) -> usize {
    let msgs = messages(n, seed);
    let mut equal = 0;
    for (i, m) in msgs.iter().enumerate() {
        let case = Case::new(i);
        let req = case.request();
        let results = case.results();
        let fields = with_chain(m, case.depth);
        let want = host_seal(
            host_key(case.algorithm).as_mut(),
            &req,
            case.chain,
            &results,
            &fields,
            &m.body,
        );
        dev.set_body_frame([4096, 1000, 77][i % 3]);
        let chunk = [1, 7, 64, 1000, 4096, 100_000][i % 6];
        let got = dev
            .seal(
                slot_of(case.algorithm),
                &req,
                case.chain,
                &results,
                &fields,
                m.body.chunks(chunk),
            )
            .await
            .unwrap_or_else(|e| panic!("message {i}: device sealing failed: {e}"));
        assert_eq!(got.instance as usize, case.depth + 1);
        assert_eq!(
            String::from_utf8_lossy(&got.joined()),
            String::from_utf8_lossy(&want),
            "message {i}: depth {}, {:?}, cv={}, body {} bytes",
            case.depth,
            case.algorithm,
            case.chain,
            m.body.len()
        );
        equal += 1;
    }
    equal
}

#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn main_seals_like_the_host() {
    runtime().block_on(async {
        let dev = device().await;
        let started = Instant::now();
        let equal = compare_seals(&dev, 50, 11).await;
        assert_eq!(equal, 50);
        eprintln!(
            "device: {equal}/50 ARC sets (chains of 0, 1 and 2 sets, Ed25519 and RSA-2048) equal the host's ({:.1?})",
            started.elapsed()
        );
    });
}

/// Past the device's header capacity (the ARC fields of the earlier sets
/// count) the seal is refused with a typed error, and the next one works.
#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn main_seal_refuses_past_capacity() {
    runtime().block_on(async {
        let dev = device().await;
        let info = dev.info().await.unwrap();
        let m = &messages(1, 21)[0];
        // Enough upstream sets to fill the header store.
        let mut depth = 1;
        while with_chain(m, depth).iter().map(Vec::len).sum::<usize>() <= info.header_bytes as usize
        {
            depth += 1;
        }
        let fields = with_chain(m, depth);
        let case = Case::new(1);
        let req = case.request();
        let e = dev
            .seal(ED_SLOT, &req, ChainStatus::Pass, &[], &fields, [&m.body])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Sign), "{e}");
        eprintln!(
            "device: a chain of {depth} sets is over {} header bytes: {e}",
            info.header_bytes
        );
        // Results over the bound never leave the host.
        let long = vec![b'r'; mass_core::link::MAX_AAR_RESULTS_BYTES + 1];
        let e = dev
            .seal(
                ED_SLOT,
                &req,
                ChainStatus::None,
                &[&long],
                &m.fields,
                [&m.body],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, mass_hosted::device::DeviceError::SealRequest(_)),
            "{e}"
        );
        // The device still seals correctly.
        assert_eq!(compare_seals(&dev, 3, 12).await, 3);
    });
}

/// The budget board seals as well (chains of 0 to 2 sets, both keys),
/// within its 64 KiB.
#[test]
#[ignore = "needs the device under QEMU: cargo xtask test"]
fn budget_seals_like_the_host() {
    runtime().block_on(async {
        let dev = device().await;
        let info = dev.info().await.unwrap();
        let equal = compare_seals(&dev, 12, 13).await;
        let stats: Stats = dev.stats().await.unwrap();
        eprintln!(
            "device {}: {equal}/12 ARC sets equal the host's; {stats:?}",
            info.board
        );
        assert!(stats.heap_peak <= stats.heap_size);
        assert!(stats.stack_peak < stats.stack_size);
    });
}

/// Instructions per seal (SIGN-END: the AMS and AS header hashes, two
/// signatures and the fields), for `cargo xtask qemu --figures`.
pub(super) async fn seal_figures(dev: &Device) {
    let instructions =
        |s: &Stats| s.last_sign_ticks as f64 * 1e6 / f64::from(s.ticks_per_mega_instruction.max(1));
    let m = &messages(1, 31)[0];
    for algorithm in [SigningAlgorithm::Ed25519Sha256, SigningAlgorithm::RsaSha256] {
        for depth in [0, 2] {
            let mut case = Case::new(1);
            case.algorithm = algorithm;
            case.chain = if depth == 0 {
                ChainStatus::None
            } else {
                ChainStatus::Pass
            };
            let req = case.request();
            let results = case.results();
            dev.seal(
                slot_of(algorithm),
                &req,
                case.chain,
                &results,
                with_chain(m, depth),
                [&m.body],
            )
            .await
            .unwrap();
            let s = dev.stats().await.unwrap();
            println!(
                "FIGURES arc_seal_instructions {} depth={depth}: {:.0}",
                algorithm.as_str(),
                instructions(&s)
            );
        }
    }
}
