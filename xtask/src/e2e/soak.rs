//! `cargo xtask soak [--messages N] [--minutes M] [--sample-secs S]`
//! (100,000 messages, 20 minutes at most, by default) and the e2e step
//! `soak` (2,000 messages): a real Postfix sends mail of mixed sizes (1 KiB
//! to 1 MiB, mostly small) through `mass serve`, in sign mode (the
//! submission port) and verify mode (port 25; the key comes from
//! [`FaultDns`] serving it plainly), from 8 SMTP sessions that come and go.
//!
//! What is checked:
//! - 0 lost: every message was accepted (after re-sending those refused
//!   with a 4xx) and reached the sink (duplicates are counted);
//! - 0 delivered unsigned: every sign-mode message in the sink has a
//!   DKIM-Signature, 1 in 50 of them (at most 1,000) are verified by
//!   dkimpy; every verify-mode one has our `dkim=pass`;
//! - flat resources: RSS, open descriptors and tasks of `mass serve` are
//!   sampled every few seconds. Of the samples taken while mail is sent,
//!   the first fifth is warm-up; the RSS median of the last fifth may
//!   exceed that of the second fifth by at most 25% + 8 MiB, and the peaks
//!   of descriptors and tasks by at most 16 and 4. Once the load stops and
//!   the daemon has been idle 12 s (tokio lets idle blocking threads go
//!   after 10 s), descriptors and tasks are back within 2 of those of the
//!   fresh, idle daemon.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::dnsfault::{FaultDns, Zone, dns_port, mass_sign, strings};
use super::load::{self, ProcSample, Rng, Session};
use super::{Ctx, Smtp, dkimpy_all};
use crate::util::Run;

const DOMAIN: &str = "soak.test";

/// A body size: 80% 1–4 KiB, 15% 4–32 KiB, 4.5% 32–256 KiB, 0.5% 256 KiB–1 MiB.
fn body_size(rng: &mut Rng) -> usize {
    let (lo, hi) = match rng.below(1000) {
        0..800 => (1 << 10, 4 << 10),
        800..950 => (4 << 10, 32 << 10),
        950..995 => (32 << 10, 256 << 10),
        _ => (256 << 10, 1 << 20),
    };
    lo + rng.below((hi - lo) as u64) as usize
}

/// A sign-mode message: the tag is its Subject; the last line marks the end.
fn sign_message(tag: &str, size: usize) -> String {
    let mut m = load::message(tag, size);
    m.push_str("soak-end\r\n");
    m
}

/// The figures of one run.
struct Tally {
    sent_sign: AtomicUsize,
    sent_verify: AtomicUsize,
    tempfails: AtomicUsize,
    broken: AtomicUsize,
    permfails: AtomicUsize,
    gave_up: AtomicUsize,
    accepted: Mutex<HashSet<String>>,
    bytes: AtomicUsize,
}

/// Sink files checked so far.
#[derive(Default)]
struct Checked {
    seen: BTreeMap<String, usize>,
    sign_unsigned: Vec<String>,
    verify_not_pass: Vec<String>,
    unknown: Vec<String>,
    sampled: usize,
}

/// Read, check and remove every finished file in `sink`; sign-mode files
/// numbered `n % 50 == 0` go to `samples` (at most 1,000) for dkimpy.
fn check_sink(sink: &Path, samples: &Path, checked: &mut Checked, settle: bool) {
    let Ok(entries) = std::fs::read_dir(sink) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let tail = &bytes[bytes.len().saturating_sub(64)..];
        let finished = tail.windows(8).any(|w| w == b"soak-end");
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|d| d > Duration::from_secs(5));
        if !(finished || settle || old) {
            continue;
        }
        let Some(m) = load::read_sink_msg(&path) else {
            continue;
        };
        let tag = m.tag.clone();
        *checked.seen.entry(tag.clone()).or_default() += 1;
        if let Some(n) = tag.strip_prefix("soak-s-") {
            if m.signatures == 0 {
                checked.sign_unsigned.push(tag.clone());
            }
            let n: usize = n.parse().unwrap_or(1);
            if n.is_multiple_of(50) && checked.sampled < 1000 {
                checked.sampled += 1;
                let _ = std::fs::rename(&path, samples.join(format!("{tag}.eml")));
                continue;
            }
        } else if tag.starts_with("soak-v-") {
            if load::our_dkim_result(&m).map(|(w, _)| w).as_deref() != Some("pass") {
                checked.verify_not_pass.push(tag.clone());
            }
        } else {
            checked.unknown.push(tag.clone());
        }
        let _ = std::fs::remove_file(&path);
    }
}

/// Options of one soak.
pub(super) struct Plan {
    pub(super) messages: usize,
    pub(super) limit: Duration,
    pub(super) sample_every: Duration,
}

fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Run a soak; the summary, or what went wrong.
pub(super) fn soak(ctx: &Ctx, plan: &Plan) -> Result<String, String> {
    const SESSIONS: usize = 8;
    let key = &ctx.rsa;
    let mut zone = Zone::new(60);
    zone.txt(
        &format!("good._domainkey.{DOMAIN}"),
        vec![strings(&key.record)],
    );
    let dns = FaultDns::start(dns_port(ctx), zone)?;
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, "", &[key]).replace(
        "internal_networks = [\"127.0.0.0/8\", \"::1/128\"]",
        &format!(
            "internal_networks = []\ndns_server = \"127.0.0.1:{}\"\ndns_timeout = 5\n\
                 idle_timeout = 300",
            dns.port
        ),
    );
    let (mut mass, sink) = ctx.serve_behind_postfix("soak", &listen, &cfg)?;
    let samples_dir = ctx.work.join("soak-samples");
    let _ = std::fs::remove_dir_all(&samples_dir);
    std::fs::create_dir_all(&samples_dir).map_err(|e| e.to_string())?;

    // Verify-mode messages: a pool signed once by `mass sign`; each copy
    // gets an unsigned X-Soak-Tag on top.
    let mut rng = Rng::new(0x50a4);
    let mut pool = Vec::new();
    for i in 0..24 {
        let size = if i < 2 {
            300_000 + i * 400_000
        } else {
            body_size(&mut rng)
        };
        let mut m = load::message(&format!("soak verify pool {i}"), size);
        m.push_str("soak-end\r\n");
        pool.push(mass_sign(ctx, key, DOMAIN, "good", &m)?);
    }
    let pool = Arc::new(pool);

    let tally = Arc::new(Tally {
        sent_sign: AtomicUsize::new(0),
        sent_verify: AtomicUsize::new(0),
        tempfails: AtomicUsize::new(0),
        broken: AtomicUsize::new(0),
        permfails: AtomicUsize::new(0),
        gave_up: AtomicUsize::new(0),
        accepted: Mutex::new(HashSet::new()),
        bytes: AtomicUsize::new(0),
    });
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let pid = mass.pid();
    let t0 = Instant::now();
    let deadline = t0 + plan.limit;

    // Sampling.
    let curve: Arc<Mutex<Vec<ProcSample>>> = Arc::default();
    let sampler = {
        let (curve, stop, every) = (curve.clone(), stop.clone(), plan.sample_every);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let s = load::sample(pid, t0);
                if let Ok(mut c) = curve.lock() {
                    c.push(s);
                }
                let until = Instant::now() + every;
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    // Checking the sink as it fills.
    let checked: Arc<Mutex<Checked>> = Arc::default();
    let checker = {
        let (checked, stop, sink, samples) = (
            checked.clone(),
            stop.clone(),
            sink.clone(),
            samples_dir.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Ok(mut c) = checked.lock() {
                    check_sink(&sink, &samples, &mut c, false);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let senders: Vec<_> = (0..SESSIONS)
        .map(|t| {
            let (tally, next, pool) = (tally.clone(), next.clone(), pool.clone());
            let (submit, smtp, messages) = (ctx.mta.submit, ctx.mta.smtp, plan.messages);
            std::thread::spawn(move || {
                let mut rng = Rng::new(0x1234 + t as u64);
                // (port, session, messages left in it)
                let mut sessions: [Option<(Session, u64)>; 2] = [None, None];
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= messages || Instant::now() > deadline {
                        break;
                    }
                    let verify = rng.below(100) < 40;
                    let (which, port) = if verify { (1, smtp) } else { (0, submit) };
                    let (tag, msg) = if verify {
                        let tag = format!("soak-v-{n}");
                        let base = &pool[rng.below(pool.len() as u64) as usize];
                        (tag.clone(), format!("X-Soak-Tag: {tag}\r\n{base}"))
                    } else {
                        let tag = format!("soak-s-{n}");
                        (tag.clone(), sign_message(&tag, body_size(&mut rng)))
                    };
                    if verify {
                        tally.sent_verify.fetch_add(1, Ordering::Relaxed);
                    } else {
                        tally.sent_sign.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut tries = 0;
                    loop {
                        tries += 1;
                        if sessions[which].is_none() {
                            match Session::open(port) {
                                Ok(s) => sessions[which] = Some((s, 1 + rng.below(40))),
                                Err(_) => {
                                    tally.broken.fetch_add(1, Ordering::Relaxed);
                                    std::thread::sleep(Duration::from_millis(200));
                                    if tries > 50 {
                                        tally.gave_up.fetch_add(1, Ordering::Relaxed);
                                        break;
                                    }
                                    continue;
                                }
                            }
                        }
                        let Some((s, left)) = sessions[which].as_mut() else {
                            continue;
                        };
                        let outcome = s.send(msg.as_bytes());
                        *left = left.saturating_sub(1);
                        let retire = *left == 0;
                        match outcome {
                            Smtp::Accepted => {
                                tally.bytes.fetch_add(msg.len(), Ordering::Relaxed);
                                if let Ok(mut a) = tally.accepted.lock() {
                                    a.insert(tag.clone());
                                }
                                if retire && let Some((s, _)) = sessions[which].take() {
                                    s.quit();
                                }
                                break;
                            }
                            Smtp::PermFail(_) => {
                                tally.permfails.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            Smtp::TempFail(_) | Smtp::Broken(_) => {
                                if matches!(outcome, Smtp::TempFail(_)) {
                                    tally.tempfails.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    tally.broken.fetch_add(1, Ordering::Relaxed);
                                }
                                if let Some((s, _)) = sessions[which].take() {
                                    s.quit();
                                }
                                if tries > 50 {
                                    tally.gave_up.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(200));
                            }
                        }
                    }
                }
                for (s, _) in sessions.into_iter().flatten() {
                    s.quit();
                }
            })
        })
        .collect();
    let mut progress_at = Instant::now();
    while senders.iter().any(|s| !s.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        if progress_at.elapsed() > Duration::from_secs(60) {
            progress_at = Instant::now();
            let done = tally.accepted.lock().map(|a| a.len()).unwrap_or(0);
            eprintln!(
                "xtask[soak]: {done} accepted after {:.0}s; mass serve {:?}",
                t0.elapsed().as_secs_f64(),
                load::sample(pid, t0)
            );
        }
    }
    for s in senders {
        let _ = s.join();
    }
    let sending = t0.elapsed();
    let accepted: HashSet<String> = tally.accepted.lock().map(|a| a.clone()).unwrap_or_default();
    // Let Postfix deliver the rest and the checker read it.
    let drain_deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let seen = checked.lock().map(|c| c.seen.len()).unwrap_or(0);
        if seen >= accepted.len() || Instant::now() > drain_deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let delivered_in = t0.elapsed();
    // Idle: what is left once the load is gone.
    std::thread::sleep(Duration::from_secs(12));
    let idle_end = load::sample(pid, t0);
    stop.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    let _ = checker.join();
    let mut checked = checked
        .lock()
        .map(|mut c| std::mem::take(&mut *c))
        .unwrap_or_default();
    check_sink(&sink, &samples_dir, &mut checked, true);
    let alive = mass.alive();
    let log = mass.log_text();
    let peak_rss = mass.peak_rss_kib();
    let cpu = mass.cpu_ticks();
    mass.stop()?;
    drop(dns);
    let (smsgs, ssigs, sok) = dkimpy_all(&samples_dir, &[key])?;
    let curve = curve.lock().map(|c| c.clone()).unwrap_or_default();
    finish(Finish {
        plan,
        tally: &tally,
        accepted: &accepted,
        checked: &checked,
        curve: &curve,
        idle_end,
        sending,
        delivered_in,
        alive,
        log: &log,
        peak_rss,
        cpu,
        dkimpy: (smsgs, ssigs, sok),
    })
}

struct Finish<'a> {
    plan: &'a Plan,
    tally: &'a Tally,
    accepted: &'a HashSet<String>,
    checked: &'a Checked,
    curve: &'a [ProcSample],
    idle_end: ProcSample,
    sending: Duration,
    delivered_in: Duration,
    alive: bool,
    log: &'a str,
    peak_rss: u64,
    cpu: u64,
    dkimpy: (usize, usize, usize),
}

fn finish(f: Finish<'_>) -> Result<String, String> {
    let t = f.tally;
    let sent_sign = t.sent_sign.load(Ordering::SeqCst);
    let sent_verify = t.sent_verify.load(Ordering::SeqCst);
    let sent = sent_sign + sent_verify;
    let lost: Vec<&String> = f
        .accepted
        .iter()
        .filter(|tag| !f.checked.seen.contains_key(*tag))
        .collect();
    let dups: usize = f.checked.seen.values().map(|n| n - 1).sum();
    let never_accepted = sent - f.accepted.len();
    let mut problems = Vec::new();
    if !lost.is_empty() || never_accepted != 0 {
        problems.push(format!(
            "{} accepted but not delivered (e.g. {:?}); {never_accepted} never accepted \
             ({} gave up, {} 5xx)",
            lost.len(),
            lost.iter().take(3).collect::<Vec<_>>(),
            t.gave_up.load(Ordering::SeqCst),
            t.permfails.load(Ordering::SeqCst)
        ));
    }
    if !f.checked.sign_unsigned.is_empty() {
        problems.push(format!(
            "{} sign-mode messages delivered unsigned: {:?}",
            f.checked.sign_unsigned.len(),
            f.checked.sign_unsigned.iter().take(3).collect::<Vec<_>>()
        ));
    }
    if !f.checked.verify_not_pass.is_empty() || !f.checked.unknown.is_empty() {
        problems.push(format!(
            "{} verify-mode messages without dkim=pass ({:?}); {} unknown in the sink",
            f.checked.verify_not_pass.len(),
            f.checked.verify_not_pass.iter().take(3).collect::<Vec<_>>(),
            f.checked.unknown.len()
        ));
    }
    let (smsgs, ssigs, sok) = f.dkimpy;
    if smsgs == 0 || ssigs != smsgs || sok != ssigs {
        problems.push(format!(
            "dkimpy sample: {sok}/{ssigs} signatures over {smsgs} messages"
        ));
    }
    if !f.alive || f.log.contains("panicked") {
        problems.push("mass serve died or panicked".into());
    }

    // The curve under load: warm-up is its first fifth; compare the
    // second fifth with the last.
    let loaded: Vec<ProcSample> = f
        .curve
        .iter()
        .copied()
        .filter(|s| s.secs <= f.sending.as_secs_f64())
        .collect();
    let n = loaded.len();
    let fifth = |i: usize| -> &[ProcSample] { &loaded[(n * i / 5)..(n * (i + 1) / 5)] };
    let (early, late) = (fifth(1), fifth(4));
    let rss = |w: &[ProcSample]| median(&w.iter().map(|s| s.rss_kib).collect::<Vec<_>>());
    let (rss_early, rss_late) = (rss(early), rss(late));
    let fds_early = load::max_of(early, |s| s.fds).unwrap_or(0);
    let fds_late = load::max_of(late, |s| s.fds).unwrap_or(0);
    let tasks_early = load::max_of(early, |s| s.tasks).unwrap_or(0);
    let tasks_late = load::max_of(late, |s| s.tasks).unwrap_or(0);
    let idle0 = f.curve.first().copied();
    if n < 5 {
        problems.push(format!("only {n} samples"));
    } else {
        if rss_late > rss_early + rss_early / 4 + 8 * 1024 {
            problems.push(format!(
                "RSS grew: median {rss_early} KiB after warm-up, {rss_late} KiB at the end"
            ));
        }
        if fds_late > fds_early + 16 || tasks_late > tasks_early + 4 {
            problems.push(format!(
                "descriptors {fds_early} -> {fds_late} or tasks {tasks_early} -> {tasks_late} grew"
            ));
        }
        if let Some(i) = idle0
            && (f.idle_end.fds > i.fds + 2 || f.idle_end.tasks > i.tasks + 2)
        {
            problems.push(format!(
                "idle at the end: {} descriptors, {} tasks; at the start {} and {}",
                f.idle_end.fds, f.idle_end.tasks, i.fds, i.tasks
            ));
        }
    }
    let mib = |k: u64| k as f64 / 1024.0;
    let points: Vec<String> = {
        let step = (f.curve.len() / 8).max(1);
        f.curve
            .iter()
            .step_by(step)
            .chain(f.curve.last())
            .map(|s| {
                format!(
                    "{:.0}s {:.1}MiB/{}fd/{}t",
                    s.secs,
                    mib(s.rss_kib),
                    s.fds,
                    s.tasks
                )
            })
            .collect()
    };
    let ticks = 100.0; // USER_HZ
    let summary = format!(
        "{sent} messages ({sent_sign} sign, {sent_verify} verify; {:.0} MiB) in {:.0}s ({:.1} msg/s; \
         all delivered after {:.0}s){}: {} accepted, {} 4xx re-sent, {} broken sessions, {} lost, \
         {dups} duplicates, {} sign-mode unsigned, {} verify-mode not pass; dkimpy sample {sok}/{ssigs}; \
         mass serve: peak RSS {:.1} MiB, CPU {:.0}s; RSS median {:.1} MiB after warm-up -> {:.1} MiB \
         at the end, descriptors {fds_early} -> {fds_late}, tasks {tasks_early} -> {tasks_late} \
         (peaks); idle at start {}, idle at end {} descriptors / {} tasks; curve: {}",
        t.bytes.load(Ordering::SeqCst) as f64 / (1 << 20) as f64,
        f.sending.as_secs_f64(),
        sent as f64 / f.sending.as_secs_f64().max(0.001),
        f.delivered_in.as_secs_f64(),
        if sent < f.plan.messages {
            format!(
                " (stopped at the {:.0}-minute limit)",
                f.plan.limit.as_secs_f64() / 60.0
            )
        } else {
            String::new()
        },
        f.accepted.len(),
        t.tempfails.load(Ordering::SeqCst),
        t.broken.load(Ordering::SeqCst),
        lost.len(),
        f.checked.sign_unsigned.len(),
        f.checked.verify_not_pass.len(),
        mib(f.peak_rss),
        f.cpu as f64 / ticks,
        mib(rss_early),
        mib(rss_late),
        idle0.map_or("-".to_string(), |s| format!("{}/{}", s.fds, s.tasks)),
        f.idle_end.fds,
        f.idle_end.tasks,
        points.join(", ")
    );
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{summary}\n  {}", problems.join("\n  ")))
    }
}

/// The e2e step: 2,000 messages, 5 minutes at most, a sample a second.
pub(super) fn step_soak(ctx: &Ctx) -> Result<String, String> {
    soak(
        ctx,
        &Plan {
            messages: 2_000,
            limit: Duration::from_secs(300),
            sample_every: Duration::from_secs(1),
        },
    )
}

/// `cargo xtask soak [--messages N] [--minutes M] [--sample-secs S]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut plan = Plan {
        messages: 100_000,
        limit: Duration::from_secs(20 * 60),
        sample_every: Duration::from_secs(5),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| -> Result<f64, String> {
            it.next()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0)
                .ok_or_else(|| format!("soak: {what} needs a positive number"))
        };
        match a.as_str() {
            "--messages" => plan.messages = value("--messages")? as usize,
            "--minutes" => plan.limit = Duration::from_secs_f64(value("--minutes")? * 60.0),
            "--sample-secs" => plan.sample_every = Duration::from_secs_f64(value("--sample-secs")?),
            other => return Err(format!("soak: unknown argument `{other}`")),
        }
    }
    let mut run = Run::new("soak");
    let Some(ctx) = super::prepare(&mut run) else {
        return run.finish();
    };
    let t0 = Instant::now();
    let result = soak(&ctx, &plan);
    let label = match &result {
        Ok(s) => format!("soak: {s} [{:.0}s]", t0.elapsed().as_secs_f64()),
        Err(_) => "soak".to_string(),
    };
    if let Ok(s) = &result {
        eprintln!("xtask[soak]: {s}");
    }
    run.check(&label, result.map(|_| ()));
    let _ = ctx.harness(&["down"]);
    run.finish()
}
