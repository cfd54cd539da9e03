//! `devfaults`: the signing device (QEMU, as in `device`) behind a line
//! that fails on demand ([`Line`]: a TCP relay in xtask between `mass
//! serve` and QEMU's UART socket, kept open on the device side the way a
//! serial cable stays plugged in).
//!
//! Each fault hits one message, which must get `on_error` (a 4xx); the
//! next message must then be signed (the daemon reconnects and
//! resynchronizes). At the end every message in the sink carries a
//! signature dkimpy verifies, and no refused message was delivered:
//!
//! - `cut`: the line to `mass serve` is closed while a 300 KB body streams;
//! - `noise`, `wrongkind`, `badfield`, `otherdomain`: garbage answers (the
//!   device's answers replaced by random bytes, for two messages, so the
//!   second meets them while the daemon resynchronizes; its SIGNATURE
//!   answered as an OK; a SIGNATURE that is no DKIM-Signature; one for
//!   another d=), all well-framed except the noise;
//! - `late`: every answer held back past the link timeout (they then reach
//!   the daemon's next session, which must skip them);
//! - `reset`: QEMU killed while a 200 KB body streams and a fresh one put
//!   on the line. The firmware keeps its keys in RAM, so the next message
//!   fails too (no key in the slot) until the key is provisioned again.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::load::{self, Rng, Session, sink_by_tag};
use std::path::PathBuf;

use super::{Ctx, Key, Mass, Smtp, dkimpy_all, sh};

/// What the line does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Pass everything.
    Pass,
    /// Close the daemon's side once this many bytes went towards the device
    /// in the current session.
    CutAfter(u64),
    /// Every answer replaced by as many random bytes.
    Noise,
    /// A SIGNATURE answer sent as an OK (well framed).
    WrongKind,
    /// A SIGNATURE answer whose payload is no DKIM-Signature (well framed).
    BadField,
    /// A SIGNATURE answer for another domain (well framed).
    OtherDomain,
    /// A SIGNATURE answer with one character of `b=` changed (well framed).
    BadB,
    /// Every answer held back this long.
    Delay(Duration),
}

#[derive(Default)]
struct Queue {
    /// Bytes for the daemon, when they are due and the daemon's session
    /// when they came from the device, in order.
    items: VecDeque<(Instant, u64, Vec<u8>)>,
    last_due: Option<Instant>,
}

struct St {
    stop: AtomicBool,
    fault: Mutex<Fault>,
    /// Towards the device (QEMU's UART socket).
    up: Mutex<Option<TcpStream>>,
    up_gen: AtomicU64,
    /// Towards the daemon: the session it opened last.
    down: Mutex<Option<TcpStream>>,
    down_gen: AtomicU64,
    /// Bytes from the daemon towards the device, in all.
    down_bytes: AtomicU64,
    /// `down_bytes` when the fault was set.
    fault_base: AtomicU64,
    /// Bytes from the daemon dropped because no device was attached.
    dropped: AtomicU64,
    /// Device bytes that reached a later daemon session than the one open
    /// when the device sent them (late answers).
    stale: AtomicU64,
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// The line between `mass serve` (which connects to `port`) and a device.
pub(super) struct Line {
    pub(super) port: u16,
    st: Arc<St>,
    threads: Vec<JoinHandle<()>>,
}

/// CRC-32/IEEE, as the link protocol uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn frame(seq: u8, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xA5, 0x4D, seq, kind];
    f.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    f.extend_from_slice(payload);
    let crc = crc32(&f[2..]);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

const SIGNATURE: u8 = 0x82;
const OK: u8 = 0x80;

/// What goes to the daemon for one frame from the device under `fault`.
fn transform(fault: Fault, raw: &[u8], rng: &mut Rng) -> Vec<u8> {
    let (seq, kind) = (raw[2], raw[3]);
    let payload = &raw[6..raw.len() - 4];
    match fault {
        Fault::Noise => (0..raw.len()).map(|_| rng.below(256) as u8).collect(),
        Fault::WrongKind if kind == SIGNATURE => frame(seq, OK, &[]),
        Fault::BadField if kind == SIGNATURE => frame(
            seq,
            SIGNATURE,
            b"DKIM-Signature: this is not a signature \x01\x02",
        ),
        Fault::OtherDomain if kind == SIGNATURE => {
            let text = String::from_utf8_lossy(payload);
            let changed = text.replacen("d=example.com", "d=evil.test", 1);
            frame(seq, SIGNATURE, changed.as_bytes())
        }
        Fault::BadB if kind == SIGNATURE => {
            let mut p = payload.to_vec();
            // The 11th character of b= (the last ones may be only padding
            // bits, which decoders ignore).
            let b_at = p
                .windows(3)
                .position(|w| matches!(w[0], b' ' | b'\t' | b';') && &w[1..] == b"b=");
            if let Some(c) = b_at.and_then(|at| p.get_mut(at + 3 + 10)) {
                *c = if *c == b'A' { b'B' } else { b'A' };
            }
            frame(seq, SIGNATURE, &p)
        }
        _ => raw.to_vec(),
    }
}

impl Line {
    pub(super) fn start(port: u16) -> Result<Line, String> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("device line: port {port}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let st = Arc::new(St {
            stop: AtomicBool::new(false),
            fault: Mutex::new(Fault::Pass),
            up: Mutex::new(None),
            up_gen: AtomicU64::new(0),
            down: Mutex::new(None),
            down_gen: AtomicU64::new(0),
            down_bytes: AtomicU64::new(0),
            fault_base: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let mut threads = Vec::new();
        let s = st.clone();
        threads.push(std::thread::spawn(move || accept_loop(&listener, &s)));
        let s = st.clone();
        threads.push(std::thread::spawn(move || flush_loop(&s)));
        Ok(Line { port, st, threads })
    }

    pub(super) fn set(&self, fault: Fault) {
        if let Ok(mut f) = self.st.fault.lock() {
            self.st
                .fault_base
                .store(self.st.down_bytes.load(Ordering::SeqCst), Ordering::SeqCst);
            *f = fault;
        }
    }

    /// Put the device at `addr` (`tcp:HOST:PORT`) on the line.
    pub(super) fn attach(&self, addr: &str) -> Result<(), String> {
        let hostport = addr.strip_prefix("tcp:").unwrap_or(addr);
        let s = TcpStream::connect(hostport).map_err(|e| format!("line to {addr}: {e}"))?;
        let _ = s.set_nodelay(true);
        let reader = s.try_clone().map_err(|e| e.to_string())?;
        let gen_ = self.st.up_gen.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut up) = self.st.up.lock()
            && let Some(old) = up.replace(s)
        {
            let _ = old.shutdown(Shutdown::Both);
        }
        let st = self.st.clone();
        std::thread::spawn(move || up_loop(reader, gen_, &st));
        Ok(())
    }

    /// Take the device off the line (its socket closed, so QEMU takes
    /// another client).
    pub(super) fn detach(&self) {
        self.st.up_gen.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut up) = self.st.up.lock()
            && let Some(old) = up.take()
        {
            let _ = old.shutdown(Shutdown::Both);
        }
    }

    /// Bytes the daemon sent towards the device so far.
    pub(super) fn bytes(&self) -> u64 {
        self.st.down_bytes.load(Ordering::SeqCst)
    }

    /// Wait until the daemon sent `n` bytes more than `mark` ([`Line::bytes`]).
    pub(super) fn wait_bytes(&self, mark: u64, n: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.bytes() < mark + n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Close the daemon's session now (the device side stays).
    pub(super) fn hang_up(&self) {
        self.st.down_gen.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut d) = self.st.down.lock()
            && let Some(s) = d.take()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub(super) fn dropped(&self) -> u64 {
        self.st.dropped.load(Ordering::SeqCst)
    }

    pub(super) fn stale(&self) -> u64 {
        self.st.stale.load(Ordering::SeqCst)
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.st.stop.store(true, Ordering::SeqCst);
        self.detach();
        if let Ok(mut d) = self.st.down.lock()
            && let Some(s) = d.take()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.st.wake.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, st: &Arc<St>) {
    while !st.stop.load(Ordering::SeqCst) {
        let Ok((s, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let _ = s.set_nonblocking(false);
        let _ = s.set_nodelay(true);
        let Ok(reader) = s.try_clone() else { continue };
        let gen_ = st.down_gen.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut d) = st.down.lock()
            && let Some(old) = d.replace(s)
        {
            let _ = old.shutdown(Shutdown::Both);
        }
        let st = st.clone();
        std::thread::spawn(move || down_loop(reader, gen_, &st));
    }
}

/// The daemon's bytes, towards the device.
fn down_loop(mut s: TcpStream, gen_: u64, st: &St) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if st.down_gen.load(Ordering::SeqCst) != gen_ {
            break;
        }
        let total = st.down_bytes.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        let fault = st.fault.lock().map(|f| *f).unwrap_or(Fault::Pass);
        if let Fault::CutAfter(limit) = fault
            && total >= st.fault_base.load(Ordering::SeqCst) + limit
        {
            let _ = s.shutdown(Shutdown::Both);
            if let Ok(mut f) = st.fault.lock() {
                *f = Fault::Pass;
            }
            break;
        }
        let mut up = st.up.lock().ok();
        match up.as_mut().and_then(|u| u.as_mut()) {
            Some(u) => {
                if u.write_all(&buf[..n]).is_err() {
                    st.dropped.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
            None => {
                st.dropped.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
    }
    if let Ok(mut d) = st.down.lock()
        && st.down_gen.load(Ordering::SeqCst) == gen_
    {
        *d = None;
    }
}

/// The device's bytes, frame by frame, through the fault, to the queue.
fn up_loop(mut s: TcpStream, gen_: u64, st: &St) {
    let mut rng = Rng::new(0x5eed ^ gen_);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if st.up_gen.load(Ordering::SeqCst) != gen_ {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        // Whole frames (and any bytes before a magic) go out one by one.
        loop {
            let Some(at) = buf.windows(2).position(|w| w == [0xA5, 0x4D]) else {
                // Keep a possible first magic byte.
                let keep = usize::from(buf.last() == Some(&0xA5));
                let junk: Vec<u8> = buf.drain(..buf.len() - keep).collect();
                emit(st, junk);
                break;
            };
            if at > 0 {
                let junk: Vec<u8> = buf.drain(..at).collect();
                emit(st, junk);
            }
            if buf.len() < 6 {
                break;
            }
            let len = usize::from(u16::from_le_bytes([buf[4], buf[5]]));
            if len > 4096 {
                let junk: Vec<u8> = buf.drain(..1).collect();
                emit(st, junk);
                continue;
            }
            if buf.len() < 10 + len {
                break;
            }
            let raw: Vec<u8> = buf.drain(..10 + len).collect();
            let fault = st.fault.lock().map(|f| *f).unwrap_or(Fault::Pass);
            emit(st, transform(fault, &raw, &mut rng));
        }
    }
    if let Ok(mut up) = st.up.lock()
        && st.up_gen.load(Ordering::SeqCst) == gen_
    {
        *up = None;
    }
}

fn emit(st: &St, bytes: Vec<u8>) {
    if bytes.is_empty() {
        return;
    }
    let delay = match st.fault.lock().map(|f| *f) {
        Ok(Fault::Delay(d)) => d,
        _ => Duration::ZERO,
    };
    if let Ok(mut q) = st.queue.lock() {
        // Never ahead of what is already waiting.
        let due = (Instant::now() + delay).max(q.last_due.unwrap_or_else(Instant::now));
        q.last_due = Some(due);
        let session = st.down_gen.load(Ordering::SeqCst);
        q.items.push_back((due, session, bytes));
    }
    st.wake.notify_all();
}

/// Bytes due go to the daemon's current session (or nowhere).
fn flush_loop(st: &St) {
    let Ok(mut q) = st.queue.lock() else { return };
    while !st.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let wait = match q.items.front() {
            Some((due, _, _)) if *due <= now => None,
            Some((due, _, _)) => Some(*due - now),
            None => Some(Duration::from_millis(100)),
        };
        if let Some(w) = wait {
            q = match st.wake.wait_timeout(q, w) {
                Ok((q, _)) => q,
                Err(_) => return,
            };
            continue;
        }
        let Some((_, session, bytes)) = q.items.pop_front() else {
            continue;
        };
        drop(q);
        if let Ok(mut d) = st.down.lock()
            && let Some(s) = d.as_mut()
        {
            if st.down_gen.load(Ordering::SeqCst) != session {
                st.stale.fetch_add(bytes.len() as u64, Ordering::SeqCst);
            }
            let _ = s.write_all(&bytes);
        }
        q = match st.queue.lock() {
            Ok(q) => q,
            Err(_) => return,
        };
    }
}

// ---- the step ----------------------------------------------------------

/// The line's port: base + 4 (`milter_port` is base + 1).
fn line_port(ctx: &Ctx) -> u16 {
    ctx.milter_port + 3
}

/// `mass device provision` at `device`.
fn provision(ctx: &Ctx, device: &str, slot: u8, key: &Key) -> Result<String, String> {
    sh(std::process::Command::new(&ctx.mass)
        .args(["device", "--device", device, "provision", "--key-id"])
        .arg(slot.to_string())
        .arg("--key")
        .arg(&key.file))
}

/// One message sent and what it should have given.
struct Case {
    tag: String,
    want_signed: bool,
    outcome: Smtp,
    took: Duration,
}

/// Send `tag` (body of `size` bytes) on the submission port in a thread,
/// run `during` meanwhile, and return the outcome.
fn send_during(
    ctx: &Ctx,
    tag: &str,
    size: usize,
    during: impl FnOnce() -> Result<(), String>,
) -> Result<(Smtp, Duration), String> {
    let port = ctx.mta.submit;
    let msg = load::message(tag, size);
    let t = std::thread::spawn(move || {
        let t0 = Instant::now();
        let outcome = match Session::open(port) {
            Ok(mut s) => {
                let o = s.send(msg.as_bytes());
                s.quit();
                o
            }
            Err(f) => f,
        };
        (outcome, t0.elapsed())
    });
    let r = during();
    let out = t.join().map_err(|_| "sender panicked".to_string())?;
    r.map(|()| out)
}

/// The link timeout of `mass serve` in these steps.
const TIMEOUT: u64 = 3;

/// QEMU with the RSA key in slot 0, the line to it, and `mass serve` (whose
/// `[signer]` is the line) behind Postfix into the sink `name`.
fn setup(ctx: &Ctx, name: &str) -> Result<(crate::qemu::Device, Line, Mass, PathBuf), String> {
    let dev = crate::qemu::boot_signing_device(false)?;
    provision(ctx, &dev.addr, 0, &ctx.rsa)?;
    let line = Line::start(line_port(ctx))?;
    line.attach(&dev.addr)?;
    let signer = format!(
        "[signer]\ndevice = \"tcp:127.0.0.1:{}\"\ntimeout = {TIMEOUT}\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 0\n",
        line.port, ctx.rsa.domain, ctx.rsa.selector
    );
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, &signer, &[]);
    let (mass, sink) = ctx.serve_behind_postfix(name, &listen, &cfg)?;
    Ok((dev, line, mass, sink))
}

pub(super) fn step_devfaults(ctx: &Ctx) -> Result<String, String> {
    let (dev, line, mut mass, sink) = setup(ctx, "devfaults")?;
    let mut cases: Vec<Case> = Vec::new();
    let mut n = 0usize;
    let record = |cases: &mut Vec<Case>, tag: String, want_signed: bool, r: (Smtp, Duration)| {
        cases.push(Case {
            tag,
            want_signed,
            outcome: r.0,
            took: r.1,
        });
    };
    let mut good = |cases: &mut Vec<Case>, after: &str| -> Result<(), String> {
        n += 1;
        let tag = format!("devfault-good-{n}-after-{after}");
        let r = send_during(ctx, &tag, 2000, || Ok(()))?;
        record(cases, tag, true, r);
        Ok(())
    };
    good(&mut cases, "start")?;

    // The line to the daemon closed while a 300 KB body streams.
    line.set(Fault::CutAfter(100_000));
    let r = send_during(ctx, "devfault-cut", 300_000, || Ok(()))?;
    line.set(Fault::Pass);
    cases.push(Case {
        tag: "devfault-cut".into(),
        want_signed: false,
        outcome: r.0,
        took: r.1,
    });
    good(&mut cases, "cut")?;

    // Garbage answers. Noise twice: the second message meets it when the
    // daemon reconnects and resynchronizes.
    for (names, fault) in [
        (&["noise", "noise-resync"][..], Fault::Noise),
        (&["wrongkind"], Fault::WrongKind),
        (&["badfield"], Fault::BadField),
        (&["otherdomain"], Fault::OtherDomain),
    ] {
        line.set(fault);
        for name in names {
            let tag = format!("devfault-{name}");
            let r = send_during(ctx, &tag, 2000, || Ok(()))?;
            cases.push(Case {
                tag,
                want_signed: false,
                outcome: r.0,
                took: r.1,
            });
        }
        line.set(Fault::Pass);
        good(&mut cases, names[0])?;
    }

    // Answers that come after the link timeout, into the next session.
    line.set(Fault::Delay(Duration::from_secs(TIMEOUT + 2)));
    let r = send_during(ctx, "devfault-late", 2000, || Ok(()))?;
    line.set(Fault::Pass);
    cases.push(Case {
        tag: "devfault-late".into(),
        want_signed: false,
        outcome: r.0,
        took: r.1,
    });
    good(&mut cases, "late")?;

    // The device reset while a 200 KB body streams: QEMU killed, a fresh
    // one put on the line (its RAM, and so its keys, gone).
    let mut dev = Some(dev);
    let fresh: Arc<Mutex<Option<crate::qemu::Device>>> = Arc::default();
    let mark = line.bytes();
    let r = send_during(ctx, "devfault-reset", 200_000, || {
        if !line.wait_bytes(mark, 60_000, Duration::from_secs(20)) {
            return Err("the reset message never streamed 60 KB to the device".into());
        }
        drop(dev.take());
        let d = crate::qemu::boot_signing_device(false)?;
        line.attach(&d.addr)?;
        if let Ok(mut f) = fresh.lock() {
            *f = Some(d);
        }
        Ok(())
    })?;
    cases.push(Case {
        tag: "devfault-reset".into(),
        want_signed: false,
        outcome: r.0,
        took: r.1,
    });
    let dev2 = fresh
        .lock()
        .ok()
        .and_then(|mut f| f.take())
        .ok_or("no fresh device")?;
    // Not provisioned again yet: the slot is empty.
    let r = send_during(ctx, "devfault-unprovisioned", 2000, || Ok(()))?;
    cases.push(Case {
        tag: "devfault-unprovisioned".into(),
        want_signed: false,
        outcome: r.0,
        took: r.1,
    });
    // Provision it again (off the line: QEMU takes one client at a time).
    line.detach();
    std::thread::sleep(Duration::from_millis(200));
    provision(ctx, &dev2.addr, 0, &ctx.rsa)?;
    line.attach(&dev2.addr)?;
    good(&mut cases, "reprovision")?;
    good(&mut cases, "reprovision")?;

    let accepted = cases.iter().filter(|c| c.outcome == Smtp::Accepted).count();
    let arrived = load::wait_sink(&sink, accepted, Duration::from_secs(30));
    let alive = mass.alive();
    let log = mass.log_text();
    mass.stop()?;
    drop(dev2);
    let delivered = sink_by_tag(&sink);
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.rsa])?;
    let unsigned = delivered
        .values()
        .flatten()
        .filter(|m| m.signatures == 0)
        .count();
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut replies: Vec<String> = Vec::new();
    for c in &cases {
        let got = delivered.get(&c.tag).map_or(0, Vec::len);
        let fine = if c.want_signed {
            c.outcome == Smtp::Accepted && got == 1
        } else {
            matches!(c.outcome, Smtp::TempFail(_)) && got == 0
        };
        let what = match &c.outcome {
            Smtp::Accepted => "signed".to_string(),
            Smtp::TempFail(r) => r.lines().last().unwrap_or_default().to_string(),
            other => format!("{other:?}"),
        };
        if !c.want_signed {
            lines.push(format!(
                "{} {:.1}s",
                c.tag.trim_start_matches("devfault-"),
                c.took.as_secs_f64()
            ));
            if !replies.contains(&what) {
                replies.push(what);
            }
        }
        if !fine {
            problems.push(format!(
                "{}: {:?}, {got} in the sink, want {}",
                c.tag,
                c.outcome,
                if c.want_signed {
                    "signed"
                } else {
                    "a 4xx and nothing delivered"
                }
            ));
        }
    }
    if !arrived {
        problems.push(format!(
            "{} of {accepted} accepted messages in the sink",
            load::sink_count(&sink)
        ));
    }
    if unsigned != 0 || ok != total || msgs != total {
        problems.push(format!(
            "sink: {msgs} messages, {unsigned} unsigned, dkimpy {ok}/{total}"
        ));
    }
    if !alive || log.contains("panicked") {
        problems.push("mass serve died or panicked".into());
    }
    let failures = log.lines().filter(|l| l.contains("signing failed")).count();
    let reconnects = log
        .lines()
        .filter(|l| l.contains("connected to the signing device"))
        .count();
    let good_n = cases.iter().filter(|c| c.want_signed).count();
    let summary = format!(
        "{} faults, each refused `{}`: {}; the {good_n} good messages between them all signed; \
         sink {msgs} messages, {unsigned} unsigned, dkimpy {ok}/{total}; log: {failures} signing \
         failures, {reconnects} connections to the device; {} late answer bytes reached a later \
         session, {} bytes lost with the reset device",
        cases.len() - good_n,
        replies.join("` / `"),
        lines.join(", "),
        line.stale(),
        line.dropped()
    );
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{summary}\n  {}", problems.join("\n  ")))
    }
}

/// `devbadsig`: the device answers SIGN-END with a well-formed
/// DKIM-Signature for the right d= and s= whose `b=` is wrong (one
/// character changed on the line, with the frame's CRC made good). `mass
/// serve` verifies every device signature under the slot's public key from
/// INFO before it goes in, so the message gets a 4xx, as for the other
/// garbage answers, and the next one is signed.
pub(super) fn step_devbadsig(ctx: &Ctx) -> Result<String, String> {
    let (dev, line, mut mass, sink) = setup(ctx, "devbadsig")?;
    line.set(Fault::BadB);
    let (bad, _) = send_during(ctx, "devbadsig-bad", 2000, || Ok(()))?;
    line.set(Fault::Pass);
    let (good, _) = send_during(ctx, "devbadsig-good", 2000, || Ok(()))?;
    let accepted = [&bad, &good]
        .iter()
        .filter(|o| ***o == Smtp::Accepted)
        .count();
    load::wait_sink(&sink, accepted, Duration::from_secs(30));
    let alive = mass.alive();
    mass.stop()?;
    drop(dev);
    let delivered = sink_by_tag(&sink);
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.rsa])?;
    let bad_delivered = delivered.contains_key("devbadsig-bad");
    let summary = format!(
        "a signature with a wrong b= from the device: {bad:?}, delivered: {bad_delivered}; the \
         next message: {good:?}; sink {msgs} messages, dkimpy {ok}/{total} signatures verify"
    );
    if matches!(bad, Smtp::TempFail(_))
        && !bad_delivered
        && good == Smtp::Accepted
        && ok == total
        && alive
    {
        Ok(summary)
    } else {
        Err(format!(
            "{summary}\n  mass serve inserts the device's signature unverified: a message went out \
             with a DKIM-Signature that does not verify"
        ))
    }
}

/// `devhangup`: the line to the device is closed while the daemon is idle
/// between messages (a TCP link dropped, a serial bridge that closes idle
/// connections, a device restarted), with the device itself fine. The next
/// message is signed: nothing of it reached the device, so the daemon
/// sends it again on a new connection (`DeviceError::LinkClosed`).
pub(super) fn step_devhangup(ctx: &Ctx) -> Result<String, String> {
    let (dev, line, mut mass, sink) = setup(ctx, "devhangup")?;
    let (before, _) = send_during(ctx, "devhangup-before", 2000, || Ok(()))?;
    line.hang_up();
    std::thread::sleep(Duration::from_millis(300));
    let (after, took) = send_during(ctx, "devhangup-after", 2000, || Ok(()))?;
    let (next, _) = send_during(ctx, "devhangup-next", 2000, || Ok(()))?;
    let accepted = [&before, &after, &next]
        .iter()
        .filter(|o| ***o == Smtp::Accepted)
        .count();
    load::wait_sink(&sink, accepted, Duration::from_secs(30));
    let alive = mass.alive();
    mass.stop()?;
    drop(dev);
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.rsa])?;
    let summary = format!(
        "before the hang-up: {before:?}; the first message after it: {after:?} in {:.1}s; the \
         one after that: {next:?}; sink {msgs} messages, dkimpy {ok}/{total}",
        took.as_secs_f64()
    );
    if [&before, &after, &next]
        .iter()
        .all(|o| **o == Smtp::Accepted)
        && msgs == 3
        && ok == total
        && total == 3
        && alive
    {
        Ok(summary)
    } else {
        Err(format!(
            "{summary}\n  a device link closed while idle costs the next message a 4xx, though \
             the device is fine and nothing of the message had reached it"
        ))
    }
}
