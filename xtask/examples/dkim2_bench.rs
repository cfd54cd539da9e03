//! `cargo xtask bench dkim2`: DKIM2 (draft-ietf-dkim-dkim2-spec-03) signing and
//! verification of 4 KiB messages, mass-core against mail-auth 0.13.3 (RustCrypto
//! backend) in one process, interleaved: the median msg/s of each and mass ÷ mail-auth.
//!
//! ```text
//! dkim2_bench [ROUNDS [SECONDS]]      (default: 7 rounds of about 1 s per figure)
//! ```
//!
//! Operations, on one 4,096-byte message (11 header fields, a text body):
//!
//! - sign one hop, Ed25519 and RSA-2048: mass-core's `Dkim2Signer` (boxed once per
//!   message, as a daemon holds it; the capacities `mass` runs with) against mail-auth's
//!   `Dkim2Signer::sign` (which parses the message itself), both at the current time;
//! - verify one hop, Ed25519 and RSA-2048, and a 3-hop Ed25519 chain: both verify the
//!   same bytes (signed by mass), at the current time, for the newest hop's envelope.
//!   mass-core's `Dkim2Verifier` is given each key record through `provide_key` for
//!   every message, as a daemon does: it parses the record (and the public key in it)
//!   every time. mail-auth parses the message (`AuthenticatedMessage::parse`) and gets
//!   its keys from a TXT cache filled before the run with the keys already parsed, so
//!   no DNS is asked and no record is parsed while it is timed.
//!
//! Before timing, each side's signatures (one hop of each key type, and a 3-hop chain
//! each side builds alone) must pass in both verifiers, so both measure the same work.
//!
//! Times are the CPU time of the measuring thread (`/proc/thread-self/schedstat`). In
//! each round every operation runs for mass and for mail-auth, the order turning round
//! by round; a figure's ratio is taken within its round, and the table gives the
//! median of the rounds with the range of the ratios. After the table come some of
//! mass's costs per message, each timed alone: boxing a signer or verifier, parsing
//! a key record (which a daemon cannot cache today), and parsing one DKIM2-Signature
//! field (which the verifier does several times per hop).
//!
//! mail-auth's RSA signatures are not blinded (rsa 0.9 `sign` without an RNG); mass
//! blinds every RSA signature.

use std::collections::HashMap;
use std::hash::Hash;
use std::hint::black_box;
use std::pin::pin;
use std::process::ExitCode;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim2::{Dkim2Signer as MaSigner, Done, Envelope as MaEnvelope, Hop};
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, Dkim2Result as MaResult, MessageAuthenticator, Parameters, ResolverCache,
    Txt,
};
use mass_core::dkim::key_record::KeyRecord;
use mass_core::dkim::public_key::PublicKey;
use mass_core::dkim::verify::KeyAnswer;
use mass_core::dkim2::{
    Dkim2Result, Dkim2Signature, Dkim2Signer, Dkim2Verifier, Envelope, HopRequest, Status,
    VerifyOptions,
};
use mass_core::{DigestSigner, Ed25519Signer, RsaSha256Signer};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

/// The capacities `mass dkim2` and `mass serve` run with.
type MassSigner<'r> = Dkim2Signer<'r, 65536, 1024>;
type MassVerifier = Dkim2Verifier<65536, 1024, 16, 16384>;

/// Length of the benchmark message.
const MESSAGE_LEN: usize = 4096;
/// The fixed RSA-2048 test key of the repository (PKCS#8).
const RSA_PEM: &[u8] = include_bytes!("../../tests/data/device-test-rsa2048.pem");
/// The Ed25519 seed (every domain of the chain publishes this key).
const ED_SEED: [u8; 32] = [9; 32];
const ED_SELECTOR: &str = "ed";
const RSA_SELECTOR: &str = "rsa";

/// One hop's signer domain and SMTP envelope.
#[derive(Clone, Copy)]
struct Leg {
    domain: &'static str,
    mail_from: &'static str,
    rcpt: &'static str,
}

/// The single hop.
const ONE_HOP: Leg = Leg {
    domain: "example.com",
    mail_from: "<alice@example.com>",
    rcpt: "<bob@example.net>",
};

/// Author, mailing list, forwarder: each hop signs as a domain the hop before sent to.
const CHAIN: [Leg; 3] = [
    Leg {
        domain: "example.com",
        mail_from: "<alice@example.com>",
        rcpt: "<list@lists.example.org>",
    },
    Leg {
        domain: "lists.example.org",
        mail_from: "<bounce@lists.example.org>",
        rcpt: "<bob@example.net>",
    },
    Leg {
        domain: "example.net",
        mail_from: "<fwd@example.net>",
        rcpt: "<carol@example.io>",
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args.first().map_or(Ok(7), |a| a.parse::<usize>());
    let secs = args.get(1).map_or(Ok(1.0), |a| a.parse::<f64>());
    let (Ok(rounds @ 1..), Ok(secs)) = (rounds, secs) else {
        eprintln!("usage: dkim2_bench [ROUNDS [SECONDS]]");
        return ExitCode::from(2);
    };
    if !secs.is_finite() || secs <= 0.0 {
        eprintln!("usage: dkim2_bench [ROUNDS [SECONDS]]");
        return ExitCode::from(2);
    }
    match Bench::new().and_then(|mut b| b.run(rounds, secs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dkim2_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Which implementation a figure is of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Mass,
    MailAuth,
}

/// The operations measured, in table order.
#[derive(Clone, Copy)]
enum Op {
    SignEd,
    VerifyEd,
    SignRsa,
    VerifyRsa,
    VerifyChain,
}

const OPS: [(Op, &str); 5] = [
    (Op::SignEd, "sign Ed25519, 1 hop"),
    (Op::VerifyEd, "verify Ed25519, 1 hop"),
    (Op::SignRsa, "sign RSA-2048, 1 hop"),
    (Op::VerifyRsa, "verify RSA-2048, 1 hop"),
    (Op::VerifyChain, "verify Ed25519, 3 hops"),
];

/// A published key record, as mass is given it.
struct KeyEntry {
    selector: &'static str,
    domain: &'static str,
    record: Vec<u8>,
}

/// mail-auth's TXT cache: filled before the run, never changed, never missed.
struct TxtCache(HashMap<Box<str>, Txt>);

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(name).cloned()
    }

    fn remove<Q>(&self, _: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    fn insert(&self, _: Box<str>, _: Txt, _: Instant) {}
}

/// Everything the operations need, set up once.
struct Bench {
    message: Vec<u8>,
    mass_ed: Ed25519Signer,
    /// mass-core's RSA signer (its key type belongs to the rsa crate, which xtask does
    /// not name).
    mass_rsa: Box<dyn DigestSigner>,
    ma_ed: MaSigner<Done>,
    ma_rsa: MaSigner<Done>,
    /// One Ed25519 signer per domain of [`CHAIN`].
    ma_chain: Vec<MaSigner<Done>>,
    records: Vec<KeyEntry>,
    cache: TxtCache,
    resolver: MessageAuthenticator,
    /// What both verify: signed by mass, one hop of each key type and the chain.
    signed_ed: Vec<u8>,
    signed_rsa: Vec<u8>,
    chain: Vec<u8>,
    /// mass-core's output buffer for the new fields.
    out: Vec<u8>,
}

impl Bench {
    fn new() -> Result<Bench, String> {
        let message = four_kib_message();
        if message.len() != MESSAGE_LEN {
            return Err(format!("the message has {} bytes", message.len()));
        }
        let mass_ed = Ed25519Signer::from_seed(&ED_SEED);
        let ed_public = mass_ed.public_key();
        let rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed([3; 32]);
        let mass_rsa = match PrivateKeyDer::from_pem_slice(RSA_PEM) {
            Ok(PrivateKeyDer::Pkcs8(der)) => RsaSha256Signer::from_der(der.secret_pkcs8_der(), rng)
                .map_err(|e| format!("mass cannot load the RSA key: {e}"))?,
            _ => return Err("tests/data/device-test-rsa2048.pem: not a PKCS#8 key".into()),
        };
        let rsa_public = mass_rsa
            .public_key_der()
            .map_err(|e| format!("RSA public key: {e}"))?
            .as_bytes()
            .to_vec();

        let ma_ed_key = || {
            Ed25519Key::from_seed_and_public_key(&ED_SEED, &ed_public)
                .map_err(|e| format!("mail-auth cannot load the Ed25519 key: {e}"))
        };
        let ma_rsa_key = PrivateKeyDer::from_pem_slice(RSA_PEM)
            .map_err(|e| format!("RSA key: {e}"))
            .and_then(|der| {
                RsaKey::<Sha256>::from_key_der(der)
                    .map_err(|e| format!("mail-auth cannot load the RSA key: {e}"))
            })?;
        let ma_ed = MaSigner::from_key(ma_ed_key()?)
            .domain(ONE_HOP.domain)
            .selector(ED_SELECTOR);
        let ma_rsa = MaSigner::from_key(ma_rsa_key)
            .domain(ONE_HOP.domain)
            .selector(RSA_SELECTOR);
        let mut ma_chain = Vec::new();
        for leg in CHAIN {
            ma_chain.push(
                MaSigner::from_key(ma_ed_key()?)
                    .domain(leg.domain)
                    .selector(ED_SELECTOR),
            );
        }

        let ed_record = format!("v=DKIM1; k=ed25519; p={}", base64(&ed_public));
        let rsa_record = format!("v=DKIM1; k=rsa; p={}", base64(&rsa_public));
        let mut records = vec![KeyEntry {
            selector: RSA_SELECTOR,
            domain: ONE_HOP.domain,
            record: rsa_record.into_bytes(),
        }];
        for leg in CHAIN {
            records.push(KeyEntry {
                selector: ED_SELECTOR,
                domain: leg.domain,
                record: ed_record.clone().into_bytes(),
            });
        }
        let mut cache = HashMap::new();
        for key in &records {
            let parsed = DomainKey::parse(&key.record)
                .map_err(|e| format!("mail-auth cannot parse a key record: {e}"))?;
            let name = format!("{}._domainkey.{}.", key.selector, key.domain);
            cache.insert(name.into_boxed_str(), Txt::from(parsed));
        }
        // No name server: every key must come from the cache.
        let resolver = MessageAuthenticator::new(
            ResolverConfig::from_parts(None, Vec::new(), Vec::new()),
            ResolverOpts::default(),
        )
        .map_err(|e| format!("cannot build mail-auth's resolver: {e}"))?;

        let mut bench = Bench {
            message,
            mass_ed,
            mass_rsa: Box::new(mass_rsa),
            ma_ed,
            ma_rsa,
            ma_chain,
            records,
            cache: TxtCache(cache),
            resolver,
            signed_ed: Vec::new(),
            signed_rsa: Vec::new(),
            chain: Vec::new(),
            out: vec![0; 4096],
        };
        bench.signed_ed = bench.mass_hop(&bench.message.clone(), ONE_HOP, false)?;
        bench.signed_rsa = bench.mass_hop(&bench.message.clone(), ONE_HOP, true)?;
        let mut chain = bench.message.clone();
        for leg in CHAIN {
            chain = bench.mass_hop(&chain, leg, false)?;
        }
        bench.chain = chain;
        Ok(bench)
    }

    /// `msg` with a hop signed by mass on top.
    fn mass_hop(&mut self, msg: &[u8], leg: Leg, rsa: bool) -> Result<Vec<u8>, String> {
        let (selector, key): (&str, &mut dyn DigestSigner) = match rsa {
            true => (RSA_SELECTOR, &mut *self.mass_rsa),
            false => (ED_SELECTOR, &mut self.mass_ed),
        };
        let hop = mass_sign(msg, leg, selector, key, &mut self.out)?;
        let mut signed = Vec::new();
        for span in [Some(hop.signature), hop.instance].into_iter().flatten() {
            signed.extend_from_slice(span.get(&self.out).unwrap_or_default());
            signed.extend_from_slice(b"\r\n");
        }
        signed.extend_from_slice(msg);
        Ok(signed)
    }

    /// `msg` with a hop signed by mail-auth on top.
    fn ma_hop(signer: &MaSigner<Done>, msg: &[u8], leg: Leg) -> Result<Vec<u8>, String> {
        let mut signed = ma_sign(signer, msg, leg)?.into_bytes();
        signed.extend_from_slice(msg);
        Ok(signed)
    }

    /// Both verifiers pass `msg` for `leg`'s envelope with `hops` hops.
    fn both_pass(&self, what: &str, msg: &[u8], leg: Leg, hops: u32) -> Result<(), String> {
        let mass = mass_verify(msg, leg, &self.records, unix_now())?;
        if (mass.status, mass.hops) != (Status::Pass, hops) {
            return Err(format!("{what}: mass gives {mass:?}"));
        }
        let ma = ma_verify(&self.resolver, &self.cache, msg, leg)?;
        if !matches!(ma, MaResult::Pass) {
            return Err(format!("{what}: mail-auth gives {ma:?}"));
        }
        Ok(())
    }

    /// Each side's signatures verify in both, so both measure the same work.
    fn cross_check(&mut self) -> Result<(), String> {
        let msg = self.message.clone();
        let ma_ed = Bench::ma_hop(&self.ma_ed, &msg, ONE_HOP)?;
        let ma_rsa = Bench::ma_hop(&self.ma_rsa, &msg, ONE_HOP)?;
        let mut ma_chain = msg.clone();
        for (signer, leg) in self.ma_chain.iter().zip(CHAIN) {
            ma_chain = Bench::ma_hop(signer, &ma_chain, leg)?;
        }
        let last = CHAIN[CHAIN.len() - 1];
        for (what, signed, leg, hops) in [
            ("Ed25519 hop signed by mass", &self.signed_ed, ONE_HOP, 1),
            ("Ed25519 hop signed by mail-auth", &ma_ed, ONE_HOP, 1),
            ("RSA-2048 hop signed by mass", &self.signed_rsa, ONE_HOP, 1),
            ("RSA-2048 hop signed by mail-auth", &ma_rsa, ONE_HOP, 1),
            ("3-hop chain signed by mass", &self.chain, last, 3),
            ("3-hop chain signed by mail-auth", &ma_chain, last, 3),
        ] {
            self.both_pass(what, signed, leg, hops)?;
        }
        println!(
            "cross-check: one hop (Ed25519, RSA-2048) and a 3-hop Ed25519 chain, signed by \
             each side, pass in both"
        );
        println!(
            "new fields, mass / mail-auth: Ed25519 {} / {} bytes, RSA-2048 {} / {} bytes, \
             3 hops {} / {} bytes",
            self.signed_ed.len() - msg.len(),
            ma_ed.len() - msg.len(),
            self.signed_rsa.len() - msg.len(),
            ma_rsa.len() - msg.len(),
            self.chain.len() - msg.len(),
            ma_chain.len() - msg.len(),
        );
        Ok(())
    }

    /// One message of `op` by `side`.
    fn once(&mut self, op: Op, side: Side) -> Result<(), String> {
        let last = CHAIN[CHAIN.len() - 1];
        match (op, side) {
            (Op::SignEd | Op::SignRsa, Side::Mass) => {
                let (selector, key): (&str, &mut dyn DigestSigner) = match op {
                    Op::SignRsa => (RSA_SELECTOR, &mut *self.mass_rsa),
                    _ => (ED_SELECTOR, &mut self.mass_ed),
                };
                black_box(mass_sign(
                    &self.message,
                    ONE_HOP,
                    selector,
                    key,
                    &mut self.out,
                )?);
            }
            (Op::SignEd | Op::SignRsa, Side::MailAuth) => {
                let signer = match op {
                    Op::SignRsa => &self.ma_rsa,
                    _ => &self.ma_ed,
                };
                black_box(ma_sign(signer, &self.message, ONE_HOP)?);
            }
            (Op::VerifyEd | Op::VerifyRsa | Op::VerifyChain, _) => {
                let (msg, leg, hops) = match op {
                    Op::VerifyEd => (&self.signed_ed, ONE_HOP, 1),
                    Op::VerifyRsa => (&self.signed_rsa, ONE_HOP, 1),
                    _ => (&self.chain, last, 3),
                };
                let pass = match side {
                    Side::Mass => {
                        let r = mass_verify(msg, leg, &self.records, unix_now())?;
                        (r.status, r.hops) == (Status::Pass, hops)
                    }
                    Side::MailAuth => matches!(
                        ma_verify(&self.resolver, &self.cache, msg, leg)?,
                        MaResult::Pass
                    ),
                };
                if !black_box(pass) {
                    return Err("a verification did not pass".into());
                }
            }
        }
        Ok(())
    }

    fn run(&mut self, rounds: usize, secs: f64) -> Result<(), String> {
        self.cross_check()?;
        let mut figures: Vec<[Vec<f64>; 3]> = OPS.iter().map(|_| Default::default()).collect();
        for round in 0..rounds {
            for ((op, _), [mass, ma, ratio]) in OPS.iter().zip(figures.iter_mut()) {
                let order = match round % 2 {
                    0 => [Side::Mass, Side::MailAuth],
                    _ => [Side::MailAuth, Side::Mass],
                };
                let mut got = [0.0; 2];
                for side in order {
                    let r = rate(secs, || self.once(*op, side))?;
                    got[usize::from(side == Side::MailAuth)] = r;
                }
                mass.push(got[0]);
                ma.push(got[1]);
                ratio.push(got[0] / got[1]);
            }
        }

        println!(
            "DKIM2 (draft-03), {MESSAGE_LEN}-byte message: median msg/s of {rounds} rounds of \
             about {secs} s CPU per figure; mass-core against mail-auth 0.13.3 (rust-crypto)"
        );
        println!(
            "{:<26} {:>11} {:>16}   mass ÷ mail-auth (range)",
            "operation", "mass", "mail-auth"
        );
        let mut medians = Vec::new();
        for ((_, label), [mass, ma, ratio]) in OPS.iter().zip(figures.iter_mut()) {
            let (lo, hi) = range(ratio);
            let m = median(mass);
            medians.push(m);
            println!(
                "{label:<26} {m:>11.0} {:>16.0}   {:.2} ({lo:.2}..{hi:.2})",
                median(ma),
                median(ratio)
            );
        }
        self.notes(secs, &medians)
    }

    /// mass's fixed costs per message, against its median time per message.
    fn notes(&mut self, secs: f64, medians: &[f64]) -> Result<(), String> {
        let us = |rate: f64| 1e6 / rate;
        let verify_us = |op: usize| medians.get(op).map_or(0.0, |r| us(*r));
        let rcpt = [ONE_HOP.rcpt];
        let request = HopRequest::new(ONE_HOP.domain, ONE_HOP.mail_from, &rcpt, unix_now());
        let signer_box = rate(secs, || {
            black_box(Box::new(
                MassSigner::new(&request).map_err(|e| e.to_string())?,
            ));
            Ok(())
        })?;
        let verifier_box = rate(secs, || {
            black_box(Box::new(MassVerifier::new(VerifyOptions::new(unix_now()))));
            Ok(())
        })?;
        println!(
            "mass per message: Box::new(Dkim2Signer::new) {:.2} µs ({} bytes), \
             Box::new(Dkim2Verifier::new) {:.2} µs ({} bytes)",
            us(signer_box),
            size_of::<MassSigner<'_>>(),
            us(verifier_box),
            size_of::<MassVerifier>(),
        );
        for (name, selector, op) in [("Ed25519", ED_SELECTOR, 1), ("RSA-2048", RSA_SELECTOR, 3)] {
            let record = self
                .records
                .iter()
                .find(|k| k.selector == selector)
                .map(|k| k.record.clone())
                .unwrap_or_default();
            let parse = rate(secs, || {
                let r = KeyRecord::parse(&record).map_err(|e| format!("{e:?}"))?;
                black_box(PublicKey::load(r.key_type, r.public_key_bytes()))
                    .map_err(|e| format!("{e:?}"))?;
                Ok(())
            })?;
            println!(
                "mass per message: parsing the {name} key record given to provide_key \
                 {:.2} µs, {:.1}% of a 1-hop verify ({:.1} µs)",
                us(parse),
                100.0 * us(parse) / verify_us(op),
                verify_us(op)
            );
        }
        let hop = mass_sign(
            &self.message,
            ONE_HOP,
            ED_SELECTOR,
            &mut self.mass_ed,
            &mut self.out,
        )?;
        let field = hop.signature.get(&self.out).unwrap_or_default().to_vec();
        let parse = rate(secs, || {
            black_box(Dkim2Signature::parse_field(black_box(&field)))
                .map_err(|e| format!("{e:?}"))?;
            Ok(())
        })?;
        println!(
            "mass per message: parsing one DKIM2-Signature field (Ed25519, {} bytes) {:.2} µs",
            field.len(),
            us(parse)
        );
        Ok(())
    }
}

/// Sign `msg` as one hop with mass-core, the signer boxed as a daemon holds it.
fn mass_sign(
    msg: &[u8],
    leg: Leg,
    selector: &str,
    key: &mut dyn DigestSigner,
    out: &mut [u8],
) -> Result<mass_core::dkim2::SignedHop, String> {
    let rcpt = [leg.rcpt];
    let request = HopRequest::new(leg.domain, leg.mail_from, &rcpt, unix_now());
    let mut signer = Box::new(MassSigner::new(&request).map_err(|e| format!("mass: {e}"))?);
    signer.update(msg).map_err(|e| format!("mass: {e}"))?;
    let mut keys: [(&str, &mut dyn DigestSigner); 1] = [(selector, key)];
    signer
        .finish(&mut keys, out)
        .map_err(|e| format!("mass cannot sign: {e}"))
}

/// Verify `msg` with mass-core for `leg`'s envelope at `now`: every key record is
/// handed over (and so parsed) for this message, as a daemon's DNS answer would be.
fn mass_verify(
    msg: &[u8],
    leg: Leg,
    records: &[KeyEntry],
    now: u64,
) -> Result<Dkim2Result, String> {
    let mut verifier = Box::new(MassVerifier::new(VerifyOptions::new(now)));
    verifier.update(msg).map_err(|e| format!("mass: {e}"))?;
    verifier.end_of_input().map_err(|e| format!("mass: {e}"))?;
    let mut answers: [(usize, &[u8]); 16] = [(0, &[]); 16];
    let mut n = 0;
    for request in verifier.key_requests() {
        let key = records.iter().find(|k| {
            k.selector.eq_ignore_ascii_case(request.selector)
                && k.domain.eq_ignore_ascii_case(request.domain)
        });
        if let (Some(key), Some(slot)) = (key, answers.get_mut(n)) {
            *slot = (request.id, &key.record);
            n += 1;
        }
    }
    for &(id, record) in answers.iter().take(n) {
        verifier.provide_key(id, KeyAnswer::Records(&[record]));
    }
    let rcpt = [leg.rcpt];
    verifier
        .finish(&Envelope {
            mail_from: leg.mail_from,
            rcpt_to: &rcpt,
        })
        .map_err(|e| format!("mass: {e}"))
}

/// Sign `msg` as one hop with mail-auth; the new fields, each ending in CRLF.
fn ma_sign(signer: &MaSigner<Done>, msg: &[u8], leg: Leg) -> Result<String, String> {
    signer
        .sign(msg, Hop::real(leg.mail_from, [leg.rcpt]))
        .map(|signed| signed.to_header())
        .map_err(|e| format!("mail-auth cannot sign: {e}"))
}

/// Verify `msg` with mail-auth for `leg`'s envelope, keys from `cache`.
fn ma_verify(
    resolver: &MessageAuthenticator,
    cache: &TxtCache,
    msg: &[u8],
    leg: Leg,
) -> Result<MaResult, String> {
    let parsed = AuthenticatedMessage::parse(msg).ok_or("mail-auth cannot parse the message")?;
    let params = Parameters::new(&parsed).with_txt_cache(cache);
    let envelope = MaEnvelope::new(leg.mail_from, [leg.rcpt]);
    let output = ready(resolver.verify_dkim2(params, envelope))?;
    Ok(output.result().clone())
}

/// Run a future that never waits: mail-auth's verification with every key cached.
fn ready<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err("mail-auth waited for DNS: a key was not in its TXT cache".into()),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The benchmark message: a realistic header block of 11 fields (one a trace field)
/// and a plain-text body, CRLF line ends, [`MESSAGE_LEN`] bytes in all.
fn four_kib_message() -> Vec<u8> {
    let mut m = b"Received: from mail.example.com (mail.example.com [192.0.2.10])\r\n\
\tby mx.example.net (Postfix) with ESMTPS id 4Q1x2Y3z4W\r\n\
\tfor <bob@example.net>; Sat, 28 Nov 2026 10:00:01 +0000\r\n\
From: Alice Example <alice@example.com>\r\n\
To: Bob Example <bob@example.net>\r\n\
Cc: Carol Example <carol@example.io>\r\n\
Subject: Quarterly figures for review\r\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n\
Message-ID: <20261128100000.4Q1x2Y3z4W@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8; format=flowed\r\n\
Content-Transfer-Encoding: 8bit\r\n\
User-Agent: bench/1.0\r\n\
\r\n"
        .to_vec();
    let words: Vec<&str> = "the quarterly figures are attached below and we would like your \
        review before Friday; revenue grew in most regions, costs held steady. Please reply \
        with comments."
        .split_whitespace()
        .collect();
    let mut x: u32 = 1;
    let mut next_word = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        words[x as usize % words.len()]
    };
    let mut line = String::new();
    loop {
        line.clear();
        while line.len() < 66 {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(next_word());
        }
        // Room is left for a last line of at least two characters.
        if m.len() + line.len() + 2 + 4 > MESSAGE_LEN {
            break;
        }
        m.extend_from_slice(line.as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    let rest = MESSAGE_LEN - m.len() - 2;
    let mut last: Vec<u8> = line.bytes().cycle().take(rest).collect();
    if let Some(end) = last.last_mut() {
        *end = b'.';
    }
    m.extend_from_slice(&last);
    m.extend_from_slice(b"\r\n");
    m
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        for i in 0..4 {
            match i <= chunk.len() {
                true => s.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63])),
                false => s.push('='),
            }
        }
    }
    s
}

/// CPU time this thread has run, from /proc/thread-self/schedstat (wall time where
/// that is missing).
fn thread_cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| {
            static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            START.get_or_init(Instant::now).elapsed()
        })
}

/// Calls of `f` per second of CPU time over about `secs`; the clock is read between
/// batches of calls that take a few milliseconds, not after every call.
fn rate(secs: f64, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    let start = thread_cpu_time();
    let (mut calls, mut batch) = (0u64, 1u64);
    loop {
        let before = thread_cpu_time();
        for _ in 0..batch {
            f()?;
        }
        calls += batch;
        let now = thread_cpu_time();
        let spent = now.saturating_sub(start).as_secs_f64();
        if spent >= secs {
            return Ok(calls as f64 / spent);
        }
        if now.saturating_sub(before) < Duration::from_millis(5) {
            batch *= 2;
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n.is_multiple_of(2) => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        n => v[n / 2],
    }
}

fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}
