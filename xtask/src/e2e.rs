//! `cargo xtask e2e [--only STEP,...] [--bench]`: `mass serve` end to end
//! through a real Postfix, started by `../shared/harness/mta-harness.sh`.
//!
//! Steps (each one is counted, every failure collected):
//! - `sign`: 500 messages Postfix -> mass -> sink, all signed, all verified
//!   by dkimpy (harness `verify` with `MTA_VERIFY_TXT`/`MTA_VERIFY_NAME`).
//! - `dual`: SIGHUP adds an Ed25519 key; every message then carries an
//!   rsa-sha256 and an ed25519-sha256 signature, both verified; a broken
//!   config on SIGHUP is refused and the old one kept.
//! - `unix`: the same over a unix socket.
//! - `kill`: SIGKILL `mass serve` while Postfix is sending; every message is
//!   delivered signed, still queued, or tempfailed (4xx); none unsigned.
//! - `attacks`: malformed packets (security cases rows 30-32), 1,000 idle
//!   connections and slowloris clients, while Postfix mail goes on being
//!   signed.
//! - `cap`: past `max_connections` new connections are refused and the
//!   running ones go on.
//! - `drain`: SIGTERM lets a message in flight finish, then exits.
//! - `miltertest`: the scripted scenarios in `tests/miltertest/*.lua`.
//! - `memory`: 100 connections each sending a 10 MiB message; peak RSS.
//! - `verify`: verify mode (pass / fail / forged Authentication-Results).
//! - `device`: Postfix -> mass -> the signing device under QEMU -> sink:
//!   200 messages signed by the device's RSA-2048 and Ed25519 keys, all
//!   verified by dkimpy; a stalled device tempfails the message in flight
//!   and the daemon reconnects once it answers again.
//! - `batv`: BATV through its own Postfix and `mass serve` ([`crate::batv_e2e`]):
//!   prvs= envelope senders out, forged bounces 550, valid ones untagged.
//! - `--bench`: no milter vs mass (TCP, unix) vs OpenDKIM (TCP, unix),
//!   2,000 messages of 4 KiB, 8 sessions ([`bench`], for `cargo xtask bench`).
//!
//! Environment: `MASS_E2E_PORT_BASE` (default 2720) moves every port so
//! several runs can share a machine; `MASS_E2E_MTA_STATE` (default
//! `/tmp/mass-e2e-mta`) is the harness state directory. Keys, configs,
//! logs and sinks go to `$TMPDIR/mass-e2e-<port base>`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{self, Run};

/// The steps run by default.
const ALL_STEPS: &[&str] = &[
    "sign",
    "dual",
    "unix",
    "verify",
    "kill",
    "attacks",
    "cap",
    "drain",
    "miltertest",
    "memory",
    "device",
];

/// Everything a step needs: paths, ports, keys.
struct Ctx {
    root: PathBuf,
    work: PathBuf,
    harness: PathBuf,
    mass: PathBuf,
    mta_state: PathBuf,
    smtp_port: u16,
    submit_port: u16,
    sink_port: u16,
    milter_port: u16,
    spare_port: u16,
    rsa: Key,
    ed: Key,
}

/// A generated key and its DNS record.
struct Key {
    domain: String,
    selector: String,
    file: PathBuf,
    /// The record as quoted strings, the form the harness reads.
    txt_file: PathBuf,
    /// The record text (`v=DKIM1; k=...; p=...`).
    record: String,
}

impl Key {
    fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

fn sh(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{cmd:?}: could not start: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed ({}):\n{text}", out.status))
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl Ctx {
    fn new() -> Result<Ctx, String> {
        let root = util::root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let harness = harness_path();
        if !harness.exists() {
            return Err(format!("{} is missing", harness.display()));
        }
        let base: u16 = std::env::var("MASS_E2E_PORT_BASE")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(2720);
        // Postfix's own users reach into this directory (smtp-sink writes
        // the sinks, cleanup connects to the unix socket), so it lives in
        // the temporary directory, open to traverse, and not under the
        // checkout, whose parents may be private (a `mktemp -d` clone).
        let work = std::env::temp_dir().join(format!("mass-e2e-{base}"));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(work.join("keys")).map_err(|e| format!("{e}"))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("{}: {e}", work.display()))?;
        }
        let mta_state = std::env::var_os("MASS_E2E_MTA_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/mass-e2e-mta"));
        let rsa = gen_key(&work, "rsa", "example.com", "e2e-rsa")?;
        let ed = gen_key(&work, "ed25519", "example.com", "e2e-ed")?;
        Ok(Ctx {
            mass: target.join("release/mass"),
            root,
            work,
            harness,
            mta_state,
            smtp_port: base + 5,
            submit_port: base + 7,
            sink_port: base + 6,
            milter_port: base + 1,
            spare_port: base + 2,
            rsa,
            ed,
        })
    }

    fn harness_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("bash");
        c.arg(&self.harness)
            .args(args)
            .env("MTA_STATE", &self.mta_state)
            .env("MTA_SMTP_PORT", self.smtp_port.to_string())
            .env("MTA_SUBMIT_PORT", self.submit_port.to_string())
            .env("MTA_SINK_PORT", self.sink_port.to_string())
            .env("MTA_TIMEOUT", "120");
        c
    }

    fn harness(&self, args: &[&str]) -> Result<String, String> {
        sh(&mut self.harness_cmd(args))
    }

    fn up(&self, milter: &str, sink: &Path) -> Result<(), String> {
        self.harness(&["up", milter, &sink.display().to_string()])
            .map(|_| ())
    }

    /// Send `n` messages of `size` bytes; returns messages per second end
    /// to end as the harness measures it.
    fn send(&self, n: usize, size: usize) -> Result<f64, String> {
        let out = self.harness(&["send", &n.to_string(), &size.to_string()])?;
        // "sent N msgs: accept 0.4s (47.8 msg/s), end-to-end 0.446s (44.9 msg/s)"
        out.lines()
            .find(|l| l.starts_with("sent "))
            .and_then(|l| l.rsplit_once('(').map(|(_, r)| r))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| format!("no rate in harness output:\n{out}"))
    }

    /// dkimpy through the harness, for RSA-only sinks.
    fn harness_verify(&self, dir: &Path, key: &Key) -> Result<String, String> {
        let out = sh(self
            .harness_cmd(&["verify", &dir.display().to_string()])
            .env("MTA_VERIFY_TXT", &key.txt_file)
            .env("MTA_VERIFY_NAME", key.dns_name()))?;
        Ok(out.trim().to_string())
    }

    fn sink(&self, name: &str) -> PathBuf {
        let dir = self.work.join(format!("sink-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn config(&self, listen: &str, extra: &str, keys: &[&Key]) -> String {
        let mut c = format!(
            "listen = \"{listen}\"\nauthserv_id = \"mx.e2e.test\"\n\
             internal_networks = [\"127.0.0.0/8\", \"::1/128\"]\n\
             signing_daemons = [\"ORIGINATING\"]\non_error = \"tempfail\"\n\
             on_refuse = \"reject\"\nsocket_mode = \"0666\"\n{extra}\n"
        );
        for k in keys {
            c.push_str(&format!(
                "[[key]]\ndomain = \"{}\"\nselector = \"{}\"\nfile = \"{}\"\n",
                k.domain,
                k.selector,
                k.file.display()
            ));
        }
        c
    }

    fn inet(&self, port: u16) -> String {
        format!("inet:127.0.0.1:{port}")
    }
}

/// `../shared/harness/mta-harness.sh` ([`util::shared_dir`]).
fn harness_path() -> PathBuf {
    util::shared_dir().join("harness/mta-harness.sh")
}

/// Make a key with openssl and its DKIM record.
fn gen_key(work: &Path, kind: &str, domain: &str, selector: &str) -> Result<Key, String> {
    let file = work.join(format!("keys/{selector}.{domain}.pem"));
    let mut keygen = Command::new("openssl");
    keygen.arg("genpkey");
    if kind == "rsa" {
        keygen.args(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    } else {
        keygen.args(["-algorithm", "ED25519"]);
    }
    let pem = sh(&mut keygen)?;
    write_private(&file, &pem)?;
    let der = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&file)
        .output()
        .map_err(|e| format!("openssl pkey: {e}"))?
        .stdout;
    let public: &[u8] = if kind == "rsa" {
        &der
    } else {
        // Ed25519 p= is the raw 32-byte key (RFC 8463 §4): the DER's tail.
        der.get(der.len().saturating_sub(32)..).unwrap_or_default()
    };
    let k = if kind == "rsa" { "rsa" } else { "ed25519" };
    let record = format!("v=DKIM1; k={k}; p={}", base64(public));
    let txt_file = work.join(format!("keys/{selector}.{domain}.txt"));
    let quoted: Vec<String> = record
        .as_bytes()
        .chunks(200)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    std::fs::write(
        &txt_file,
        format!("{selector}._domainkey IN TXT ( {} )\n", quoted.join(" ")),
    )
    .map_err(|e| e.to_string())?;
    Ok(Key {
        domain: domain.into(),
        selector: selector.into(),
        file,
        txt_file,
        record,
    })
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A running `mass serve`.
struct Mass {
    child: Child,
    log: PathBuf,
    config: PathBuf,
}

impl Mass {
    fn start(ctx: &Ctx, name: &str, config: &str) -> Result<Mass, String> {
        let path = ctx.work.join(format!("{name}.toml"));
        std::fs::write(&path, config).map_err(|e| e.to_string())?;
        let log = ctx.work.join(format!("{name}.log"));
        let logfile = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| e.to_string())?;
        let child = Command::new(&ctx.mass)
            .args(["serve", "--config"])
            .arg(&path)
            .env("MASS_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logfile)
            .spawn()
            .map_err(|e| format!("{}: {e}", ctx.mass.display()))?;
        let mut m = Mass {
            child,
            log,
            config: path,
        };
        let listen = config
            .lines()
            .find_map(|l| l.strip_prefix("listen = \""))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_default()
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = if let Some(addr) = listen.strip_prefix("inet:") {
                TcpStream::connect(addr).is_ok()
            } else {
                Path::new(listen.trim_start_matches("unix:")).exists()
            };
            if ready {
                return Ok(m);
            }
            if let Ok(Some(status)) = m.child.try_wait() {
                return Err(format!(
                    "mass serve exited at start ({status}):\n{}",
                    m.log_text()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("mass serve not listening:\n{}", m.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) -> Result<(), String> {
        sh(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string()))
        .map(|_| ())
    }

    fn rewrite_config(&self, text: &str) -> Result<(), String> {
        std::fs::write(&self.config, text).map_err(|e| e.to_string())
    }

    /// Peak resident set size (VmHWM) in KiB.
    fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// User + system CPU time in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<&str> = after.split_whitespace().collect();
        // Fields after the command: state is 0, utime 11, stime 12.
        let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        get(11) + get(12)
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM and wait; the exit status.
    fn stop(mut self) -> Result<std::process::ExitStatus, String> {
        let _ = self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Ok(s);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("mass serve did not stop within 15 s of SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Mass {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Messages in a sink directory and how many DKIM-Signature fields each has.
fn sink_signatures(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let header = text.split("\n\n").next().unwrap_or_default();
        let header = header.split("\r\n\r\n").next().unwrap_or_default();
        let sigs = header
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("dkim-signature:"))
            .count();
        out.push((e.path(), sigs, text));
    }
    out
}

/// The Debian python3 (where python3-dkim lives), as the harness picks it.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Verify every signature of every message in `dir` with dkimpy; the keys
/// are given by DNS name. Returns (messages, signatures, passes).
fn dkimpy_all(dir: &Path, keys: &[&Key]) -> Result<(usize, usize, usize), String> {
    let mut args = vec![dir.display().to_string()];
    for k in keys {
        args.push(k.dns_name());
        args.push(k.record.clone());
    }
    let script = r#"
import sys, os, dkim
target = sys.argv[1]
records = dict(zip(sys.argv[2::2], sys.argv[3::2]))
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    r = records.get(name.rstrip("."))
    return r.encode() if r else None
files = sorted(os.path.join(target, f) for f in os.listdir(target))
msgs = sigs = ok = 0
for f in files:
    raw = open(f, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    msgs += 1
    n = sum(1 for l in raw.split(b"\r\n\r\n")[0].split(b"\r\n") if l.lower().startswith(b"dkim-signature:"))
    for i in range(n):
        sigs += 1
        d = dkim.DKIM(raw)
        if d.verify(idx=i, dnsfunc=dnsfunc):
            ok += 1
        else:
            print("FAIL", f, i, file=sys.stderr)
print(msgs, sigs, ok)
"#;
    let out = sh(Command::new(python()).arg("-c").arg(script).args(&args))?;
    let last = out.lines().last().unwrap_or_default();
    let v: Vec<usize> = last
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match v.as_slice() {
        [m, s, o] => Ok((*m, *s, *o)),
        _ => Err(format!("dkimpy output: {out}")),
    }
}

// ---- SMTP and milter clients ------------------------------------------

/// The outcome of one SMTP transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Smtp {
    Accepted,
    TempFail(String),
    PermFail(String),
    Broken(String),
}

fn smtp_reply(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes().get(3) == Some(&b' ') {
            return Ok(all);
        }
    }
}

/// Send one message over SMTP; `tag` goes into the Subject.
fn smtp_send(port: u16, tag: &str, body_lines: usize) -> Smtp {
    let go = || -> Result<Smtp, String> {
        let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let mut w = s.try_clone().map_err(|e| e.to_string())?;
        let mut r = BufReader::new(s);
        let classify = |reply: &str| match reply.as_bytes().first() {
            Some(b'4') => Some(Smtp::TempFail(reply.trim().to_string())),
            Some(b'5') => Some(Smtp::PermFail(reply.trim().to_string())),
            _ => None,
        };
        let greet = smtp_reply(&mut r)?;
        if let Some(f) = classify(&greet) {
            return Ok(f);
        }
        let mut msg = format!(
            "From: Sender <sender@example.com>\r\nTo: rcpt@example.net\r\n\
             Subject: {tag}\r\nMessage-ID: <{tag}@example.com>\r\n\
             Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n"
        );
        for i in 0..body_lines {
            msg.push_str(&format!("line {i} of {tag}: the quick brown fox\r\n"));
        }
        msg.push_str(".\r\n");
        for cmd in [
            "EHLO client.e2e.test\r\n",
            "MAIL FROM:<sender@example.com>\r\n",
            "RCPT TO:<rcpt@example.net>\r\n",
            "DATA\r\n",
        ] {
            w.write_all(cmd.as_bytes()).map_err(|e| e.to_string())?;
            let reply = smtp_reply(&mut r)?;
            if let Some(f) = classify(&reply) {
                let _ = w.write_all(b"QUIT\r\n");
                return Ok(f);
            }
        }
        w.write_all(msg.as_bytes()).map_err(|e| e.to_string())?;
        let reply = smtp_reply(&mut r)?;
        let _ = w.write_all(b"QUIT\r\n");
        Ok(classify(&reply).unwrap_or(Smtp::Accepted))
    };
    go().unwrap_or_else(Smtp::Broken)
}

fn packet(cmd: u8, data: &[u8]) -> Vec<u8> {
    let mut p = ((data.len() + 1) as u32).to_be_bytes().to_vec();
    p.push(cmd);
    p.extend_from_slice(data);
    p
}

/// A minimal MTA side of the milter protocol.
struct MilterClient {
    s: TcpStream,
}

impl MilterClient {
    fn connect(port: u16) -> Result<MilterClient, String> {
        let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        Ok(MilterClient { s })
    }

    fn send(&mut self, cmd: u8, data: &[u8]) -> Result<(), String> {
        self.s
            .write_all(&packet(cmd, data))
            .map_err(|e| e.to_string())
    }

    fn reply(&mut self) -> Result<(u8, Vec<u8>), String> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len).map_err(|e| e.to_string())?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > 1 << 20 {
            return Err(format!("bad reply length {len}"));
        }
        let mut data = vec![0u8; len];
        self.s.read_exact(&mut data).map_err(|e| e.to_string())?;
        let code = data.remove(0);
        Ok((code, data))
    }

    fn negotiate(&mut self) -> Result<(), String> {
        let mut d = 6u32.to_be_bytes().to_vec();
        d.extend_from_slice(&0x1ffu32.to_be_bytes());
        d.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
        self.send(b'O', &d)?;
        match self.reply()? {
            (b'O', _) => Ok(()),
            (c, _) => Err(format!("negotiation answered {:?}", char::from(c))),
        }
    }

    /// Send a command that expects one reply; return its code.
    fn step(&mut self, cmd: u8, data: &[u8]) -> Result<u8, String> {
        self.send(cmd, data)?;
        Ok(self.reply()?.0)
    }

    /// Connect through DATA and the header, as an internal client.
    fn start_message(&mut self) -> Result<(), String> {
        self.step(b'C', b"client.e2e.test\x004\x30\x39127.0.0.1\0")?;
        self.send(b'D', b"Mi\0E2EQUEUE\0")?;
        self.step(b'M', b"<sender@example.com>\0")?;
        self.step(b'R', b"<rcpt@example.net>\0")?;
        self.step(b'T', b"")?;
        self.step(b'L', b"From\0 Sender <sender@example.com>\0")?;
        self.step(b'L', b"Subject\0 e2e raw milter\0")?;
        self.step(b'N', b"")?;
        Ok(())
    }

    /// End the message; the replies up to the final one.
    fn end_message(&mut self) -> Result<Vec<(u8, Vec<u8>)>, String> {
        self.send(b'E', b"")?;
        let mut replies = Vec::new();
        loop {
            let r = self.reply()?;
            let last = matches!(r.0, b'c' | b'a' | b'r' | b't' | b'y' | b'd');
            replies.push(r);
            if last {
                return Ok(replies);
            }
        }
    }

    /// Time until the server closes the connection (reads EOF or an error).
    fn time_to_close(&mut self, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        let _ = self.s.set_read_timeout(Some(limit));
        let mut b = [0u8; 256];
        loop {
            match self.s.read(&mut b) {
                Ok(0) => return Some(t0.elapsed()),
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None;
                }
                Err(_) => return Some(t0.elapsed()),
            }
        }
    }
}

fn signed_reply(replies: &[(u8, Vec<u8>)]) -> bool {
    replies.iter().any(|(c, d)| {
        *c == b'i'
            && d.get(4..)
                .is_some_and(|n| n.starts_with(b"DKIM-Signature\0"))
    })
}

// ---- steps -------------------------------------------------------------

fn step_sign(ctx: &Ctx) -> Result<String, String> {
    let mass = Mass::start(
        ctx,
        "sign",
        &ctx.config(&ctx.inet(ctx.milter_port), "", &[&ctx.rsa]),
    )?;
    let sink = ctx.sink("sign");
    ctx.up(&ctx.inet(ctx.milter_port), &sink)?;
    let rate = ctx.send(500, 2000)?;
    let verdict = ctx.harness_verify(&sink, &ctx.rsa)?;
    let sigs = sink_signatures(&sink);
    let lines = mass
        .log_text()
        .lines()
        .filter(|l| l.contains("action=\"sign\""))
        .count();
    mass.stop()?;
    if !verdict.contains("500 pass, 0 fail, 0 unsigned") {
        return Err(format!("dkimpy: {verdict}"));
    }
    if sigs.len() != 500 || sigs.iter().any(|(_, n, _)| *n != 1) {
        return Err(format!(
            "{} messages in the sink, not all with one signature",
            sigs.len()
        ));
    }
    if lines != 500 {
        return Err(format!("{lines} log lines with action=sign, want 500"));
    }
    Ok(format!(
        "500 messages via Postfix at {rate:.1} msg/s; {verdict}; 500 log lines"
    ))
}

fn step_dual(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let mass = Mass::start(ctx, "dual", &ctx.config(&listen, "", &[&ctx.rsa]))?;
    let sink = ctx.sink("dual");
    ctx.up(&listen, &sink)?;
    ctx.send(5, 1000)?;
    // SIGHUP with a second key for the same domain.
    mass.rewrite_config(&ctx.config(&listen, "", &[&ctx.rsa, &ctx.ed]))?;
    mass.signal("HUP")?;
    std::thread::sleep(Duration::from_millis(500));
    ctx.send(50, 3000)?;
    // A broken config on SIGHUP keeps the old one.
    mass.rewrite_config("listen = \"inet:127.0.0.1:1\"\nauthserv_id = \n")?;
    mass.signal("HUP")?;
    std::thread::sleep(Duration::from_millis(500));
    ctx.send(5, 1000)?;
    let log = mass.log_text();
    mass.stop()?;
    if !log.contains("reload failed") {
        return Err("a bad config on SIGHUP was not reported".into());
    }
    let sigs = sink_signatures(&sink);
    let one = sigs.iter().filter(|(_, n, _)| *n == 1).count();
    let two = sigs.iter().filter(|(_, n, _)| *n == 2).count();
    let algs_ok = sigs
        .iter()
        .filter(|(_, n, _)| *n == 2)
        .all(|(_, _, t)| t.contains("a=rsa-sha256") && t.contains("a=ed25519-sha256"));
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.rsa, &ctx.ed])?;
    if one != 5 || two != 55 || !algs_ok || msgs != 60 || ok != total || total != 115 {
        return Err(format!(
            "want 5 single + 55 dual signed: got {one} single, {two} dual, {msgs} messages, \
             {ok}/{total} signatures verified, both algorithms: {algs_ok}"
        ));
    }
    Ok(format!(
        "SIGHUP added ed25519: 55 messages with rsa-sha256 + ed25519-sha256; dkimpy {ok}/{total} \
         signatures pass; bad reload refused and old keys kept"
    ))
}

fn step_unix(ctx: &Ctx) -> Result<String, String> {
    let sock = ctx.work.join("mass.sock");
    let listen = format!("unix:{}", sock.display());
    let mass = Mass::start(ctx, "unix", &ctx.config(&listen, "", &[&ctx.rsa]))?;
    let sink = ctx.sink("unix");
    ctx.up(&listen, &sink)?;
    let rate = ctx.send(100, 2000)?;
    let verdict = ctx.harness_verify(&sink, &ctx.rsa)?;
    mass.stop()?;
    if sock.exists() {
        return Err("socket file left behind after SIGTERM".into());
    }
    if !verdict.contains("100 pass, 0 fail, 0 unsigned") {
        return Err(format!("dkimpy: {verdict}"));
    }
    Ok(format!(
        "100 messages over {listen} at {rate:.1} msg/s; {verdict}"
    ))
}

fn step_verify(ctx: &Ctx) -> Result<String, String> {
    // The test keys are not in DNS: `key_zone_file` serves them.
    let listen = ctx.inet(ctx.milter_port);
    let mut cfg = ctx.config(&listen, "", &[]);
    cfg = cfg.replace(
        "internal_networks = [\"127.0.0.0/8\", \"::1/128\"]",
        "internal_networks = []",
    );
    cfg = cfg.replace(
        "signing_daemons = [\"ORIGINATING\"]",
        "signing_daemons = []",
    );
    let zone = ctx.work.join("keys/zone.txt");
    std::fs::write(
        &zone,
        format!(
            "{}. IN TXT \"{}\"\n{}. IN TXT \"{}\"\n",
            ctx.rsa.dns_name(),
            ctx.rsa.record,
            ctx.ed.dns_name(),
            ctx.ed.record
        ),
    )
    .map_err(|e| e.to_string())?;
    let with_zone = format!("{cfg}\nkey_zone_file = \"{}\"\n", zone.display());
    let mass = Mass::start(ctx, "verify", &with_zone)?;
    let sink = ctx.sink("verify");
    ctx.up(&listen, &sink)?;
    // Pre-signed files (signed by mass itself on a raw milter connection)
    // go through Postfix to the verifying instance.
    let signed = ctx.work.join("presigned.eml");
    let tampered = ctx.work.join("tampered.eml");
    let forged = ctx.work.join("forged.eml");
    let base = "From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: verify me\r\n\
                Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\
                Message-ID: <v1@example.com>\r\n\r\nbody line\r\n";
    let sig = sign_with_mass(ctx, base)?;
    std::fs::write(&signed, format!("{sig}\r\n{base}")).map_err(|e| e.to_string())?;
    std::fs::write(
        &tampered,
        format!(
            "{sig}\r\n{}",
            base.replace("body line", "body line changed")
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        &forged,
        format!(
            "Authentication-Results: mx.e2e.test; dkim=pass header.d=example.com\r\n{sig}\r\n{}",
            base.replace("body line", "body line changed")
        ),
    )
    .map_err(|e| e.to_string())?;
    for f in [&signed, &tampered, &forged] {
        sh(ctx.harness_cmd(&["send", "1", "100"]).env("MTA_MSGFILE", f))?;
    }
    mass.stop()?;
    let msgs = sink_signatures(&sink);
    // Our Authentication-Results fields, unfolded.
    let ar = |t: &str| -> Vec<String> {
        let head = t.split("\n\n").next().unwrap_or_default().replace('\r', "");
        let mut fields: Vec<String> = Vec::new();
        for line in head.lines() {
            match fields.last_mut() {
                Some(f) if line.starts_with([' ', '\t']) => f.push_str(line),
                _ => fields.push(line.to_string()),
            }
        }
        fields
            .into_iter()
            .filter(|f| f.starts_with("Authentication-Results: mx.e2e.test"))
            .collect()
    };
    let mut pass = 0;
    let mut fail = 0;
    let mut forged_left = 0;
    for (_, _, t) in &msgs {
        let ours = ar(t);
        if ours
            .iter()
            .any(|l| l.contains("dkim=pass") && l.contains("header.d=example.com"))
            && !t.contains("body line changed")
        {
            pass += 1;
        }
        if t.contains("body line changed") && ours.iter().any(|l| l.contains("dkim=fail")) {
            fail += 1;
        }
        if (t.contains("body line changed") && ours.iter().any(|l| l.contains("dkim=pass")))
            || ours.len() != 1
        {
            forged_left += 1;
        }
    }
    if msgs.len() != 3 || pass != 1 || fail != 2 || forged_left != 0 {
        return Err(format!(
            "{} messages: {pass} dkim=pass (want 1), {fail} dkim=fail (want 2), \
             {forged_left} with a forged pass left (want 0)",
            msgs.len()
        ));
    }
    Ok(
        "signed -> dkim=pass, tampered -> dkim=fail, forged A-R with our authserv-id removed"
            .into(),
    )
}

/// A DKIM-Signature field for `message`, made by `mass serve` itself over a
/// raw milter connection (so the verify step checks mass against mass).
fn sign_with_mass(ctx: &Ctx, message: &str) -> Result<String, String> {
    let mass = Mass::start(
        ctx,
        "presign",
        &ctx.config(&ctx.inet(ctx.spare_port), "", &[&ctx.rsa]),
    )?;
    let mut c = MilterClient::connect(ctx.spare_port)?;
    c.negotiate()?;
    c.step(b'C', b"client.e2e.test\x004\x30\x39127.0.0.1\0")?;
    c.step(b'M', b"<sender@example.com>\0")?;
    let (head, body) = message.split_once("\r\n\r\n").unwrap_or((message, ""));
    for field in head.split("\r\n") {
        let (n, v) = field.split_once(':').unwrap_or((field, ""));
        c.step(b'L', format!("{n}\0{v}\0").as_bytes())?;
    }
    c.step(b'N', b"")?;
    c.step(b'B', body.as_bytes())?;
    let replies = c.end_message()?;
    mass.stop()?;
    for (code, d) in replies {
        if code == b'i' {
            let rest = d.get(4..).unwrap_or_default();
            let mut parts = rest.split(|&b| b == 0);
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            if name == b"DKIM-Signature" {
                return Ok(format!(
                    "DKIM-Signature:{}",
                    String::from_utf8_lossy(value).replace('\n', "\r\n")
                ));
            }
        }
    }
    Err("mass did not sign".into())
}

fn step_kill(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, "", &[&ctx.rsa]);
    let mut mass = Mass::start(ctx, "kill", &cfg)?;
    let sink = ctx.sink("kill");
    ctx.up(&listen, &sink)?;
    let outcomes: Arc<Mutex<BTreeMap<String, Smtp>>> = Arc::default();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let outcomes = outcomes.clone();
            let port = ctx.smtp_port;
            std::thread::spawn(move || {
                for i in 0..40 {
                    let tag = format!("kill-{t}-{i}");
                    let r = smtp_send(port, &tag, 200);
                    if let Ok(mut o) = outcomes.lock() {
                        o.insert(tag, r);
                    }
                }
            })
        })
        .collect();
    // Kill once some mail has gone through.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&sink).map(|d| d.count()).unwrap_or(0) < 40 && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    mass.signal("KILL")?;
    let killed_at = Instant::now();
    for t in threads {
        let _ = t.join();
    }
    let _ = mass.alive();
    // Let Postfix deliver what it had accepted.
    let accepted: Vec<String> = outcomes
        .lock()
        .map_err(|_| "lock")?
        .iter()
        .filter(|(_, o)| **o == Smtp::Accepted)
        .map(|(t, _)| t.clone())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut queued = 0;
    loop {
        let delivered = sink_signatures(&sink).len();
        if delivered >= accepted.len() || Instant::now() > deadline {
            queued = accepted.len().saturating_sub(delivered).max(queued);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let msgs = sink_signatures(&sink);
    let unsigned = msgs.iter().filter(|(_, n, _)| *n == 0).count();
    let delivered_signed = msgs.iter().filter(|(_, n, _)| *n > 0).count();
    let o = outcomes.lock().map_err(|_| "lock")?;
    let temp = o
        .values()
        .filter(|r| matches!(r, Smtp::TempFail(_)))
        .count();
    let perm: Vec<_> = o
        .values()
        .filter(|r| matches!(r, Smtp::PermFail(_)))
        .collect();
    let broken: Vec<_> = o
        .values()
        .filter(|r| matches!(r, Smtp::Broken(_)))
        .collect();
    let verdict = ctx.harness_verify(&sink, &ctx.rsa).unwrap_or_else(|e| e);
    let summary = format!(
        "320 sent, killed after {} delivered: {delivered_signed} delivered signed, {queued} still \
         queued, {temp} tempfailed (4xx), {} 5xx, {} broken, {unsigned} unsigned in the sink; {verdict} \
         ({:.1}s after the kill)",
        40,
        perm.len(),
        broken.len(),
        killed_at.elapsed().as_secs_f64()
    );
    if unsigned != 0
        || !perm.is_empty()
        || !broken.is_empty()
        || delivered_signed + queued + temp != 320
        || !verdict.contains(" 0 fail, 0 unsigned")
    {
        return Err(format!(
            "{summary}; first 5xx/broken: {:?} {:?}",
            perm.first(),
            broken.first()
        ));
    }
    Ok(summary)
}

fn step_attacks(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, "read_timeout = 3", &[&ctx.rsa]);
    let mut mass = Mass::start(ctx, "attacks", &cfg)?;
    let sink = ctx.sink("attacks");
    ctx.up(&listen, &sink)?;
    let port = ctx.milter_port;
    let mut report = Vec::new();
    let mut failures = Vec::new();

    // Row 30: length 0, 0xFFFFFFFF, above the maximum, unknown command.
    let cases: [(&str, Vec<u8>); 4] = [
        ("length 0", vec![0, 0, 0, 0]),
        ("length 0xFFFFFFFF", vec![0xff, 0xff, 0xff, 0xff, b'B']),
        ("length 100000", {
            let mut p = 100_000u32.to_be_bytes().to_vec();
            p.push(b'B');
            p
        }),
        ("unknown command Z", packet(b'Z', b"1234")),
    ];
    for (name, bytes) in cases {
        let mut c = MilterClient::connect(port)?;
        c.negotiate()?;
        c.s.write_all(&bytes).map_err(|e| e.to_string())?;
        match c.time_to_close(Duration::from_secs(2)) {
            Some(t) => report.push(format!("{name}: closed in {} ms", t.as_millis())),
            None => failures.push(format!("{name}: not closed within 2 s")),
        }
    }
    let rss_after_huge = mass.peak_rss_kib();
    if rss_after_huge > 64 * 1024 {
        failures.push(format!(
            "peak RSS {rss_after_huge} KiB after the 4 GiB claim"
        ));
    }

    // Row 31: three length bytes then silence.
    let mut c = MilterClient::connect(port)?;
    c.s.write_all(&[0, 0, 0]).map_err(|e| e.to_string())?;
    match c.time_to_close(Duration::from_secs(10)) {
        Some(t) if t < Duration::from_secs(5) => report.push(format!(
            "3 length bytes then silence: closed after {:.1} s",
            t.as_secs_f64()
        )),
        other => failures.push(format!("3 length bytes then silence: {other:?}")),
    }

    // 1,000 idle connections and 4 slowloris clients, held while Postfix sends.
    let idle: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    let opened = idle.len();
    let slow: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || -> Result<Duration, String> {
                let mut c = MilterClient::connect(port)?;
                c.negotiate()?;
                let p = packet(b'L', &[b'x'; 2000]);
                let t0 = Instant::now();
                for b in &p {
                    if c.s.write_all(&[*b]).is_err() {
                        return Ok(t0.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    if t0.elapsed() > Duration::from_secs(20) {
                        return Err("still open after 20 s of trickling".into());
                    }
                }
                Err("the whole packet went through".into())
            })
        })
        .collect();
    let rate = ctx.send(100, 2000);
    let verdict = ctx.harness_verify(&sink, &ctx.rsa).unwrap_or_else(|e| e);
    for (i, t) in slow.into_iter().enumerate() {
        match t.join() {
            Ok(Ok(d)) => report.push(format!(
                "slowloris {i}: cut off after {:.1} s",
                d.as_secs_f64()
            )),
            Ok(Err(e)) => failures.push(format!("slowloris {i}: {e}")),
            Err(_) => failures.push(format!("slowloris {i}: thread panicked")),
        }
    }
    let alive = mass.alive();
    drop(idle);
    let peak = mass.peak_rss_kib();
    let log = mass.log_text();
    mass.stop()?;
    match rate {
        Ok(r) if verdict.contains("100 pass, 0 fail, 0 unsigned") => report.push(format!(
            "with {opened} idle + 4 slowloris connections open, 100 Postfix messages signed at \
             {r:.1} msg/s ({verdict})"
        )),
        Ok(_) => failures.push(format!("under attack: {verdict}")),
        Err(e) => failures.push(format!("under attack, Postfix sending failed: {e}")),
    }
    if !alive {
        failures.push("mass serve died".into());
    }
    report.push(format!("peak RSS {} KiB", peak));
    let closes = log.matches("protocol error").count();
    report.push(format!("{closes} protocol errors logged"));
    if failures.is_empty() {
        Ok(report.join("; "))
    } else {
        Err(format!(
            "{}; ok: {}",
            failures.join("; "),
            report.join("; ")
        ))
    }
}

fn step_cap(ctx: &Ctx) -> Result<String, String> {
    let port = ctx.spare_port;
    let cfg = ctx.config(&ctx.inet(port), "max_connections = 4", &[&ctx.rsa]);
    let mass = Mass::start(ctx, "cap", &cfg)?;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = MilterClient::connect(port)?;
        c.negotiate()?;
        held.push(c);
    }
    let mut fifth = MilterClient::connect(port)?;
    let refused = fifth.negotiate().is_err();
    // The running ones go on: a whole message on the first.
    let c = held.first_mut().ok_or("no connection")?;
    c.start_message()?;
    c.step(b'B', b"hello\r\n")?;
    let signed = signed_reply(&c.end_message()?);
    // Free a slot; a new connection gets in.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut sixth = MilterClient::connect(port)?;
    let admitted = sixth.negotiate().is_ok();
    mass.stop()?;
    if refused && signed && admitted {
        Ok("5th connection refused at max_connections = 4; a running one still signed; a slot freed admits a new one".into())
    } else {
        Err(format!(
            "refused {refused}, running one signed {signed}, admitted after a slot freed {admitted}"
        ))
    }
}

fn step_drain(ctx: &Ctx) -> Result<String, String> {
    let port = ctx.spare_port;
    let cfg = ctx.config(&ctx.inet(port), "drain_timeout = 10", &[&ctx.rsa]);
    let mut mass = Mass::start(ctx, "drain", &cfg)?;
    let mut c = MilterClient::connect(port)?;
    c.negotiate()?;
    let mut idle = MilterClient::connect(port)?;
    idle.negotiate()?;
    c.start_message()?;
    c.step(b'B', b"first half\r\n")?;
    mass.signal("TERM")?;
    std::thread::sleep(Duration::from_millis(300));
    let listener_closed = TcpStream::connect(("127.0.0.1", port)).is_err();
    let idle_closed = idle.time_to_close(Duration::from_secs(2)).is_some();
    c.step(b'B', b"second half\r\n")?;
    let signed = signed_reply(&c.end_message()?);
    let deadline = Instant::now() + Duration::from_secs(5);
    while mass.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let exited = !mass.alive();
    let status = mass.child.try_wait().ok().flatten();
    if listener_closed && idle_closed && signed && exited && status.is_some_and(|s| s.success()) {
        Ok("SIGTERM: listener closed, idle connection closed, the message in flight was signed, then exit 0".into())
    } else {
        Err(format!(
            "listener closed {listener_closed}, idle closed {idle_closed}, in-flight signed {signed}, exited {exited} ({status:?})"
        ))
    }
}

fn step_miltertest(ctx: &Ctx) -> Result<String, String> {
    let dir = ctx.root.join("tests/miltertest");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "lua"))
        .collect();
    scripts.sort();
    let port = ctx.spare_port;
    let other = gen_key(&ctx.work, "ed25519", "example.org", "mt-ed")?;
    let cfg = ctx.config(&ctx.inet(port), "", &[&ctx.rsa, &other]);
    let mass = Mass::start(ctx, "miltertest", &cfg)?;
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for s in &scripts {
        let name = s
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let r = sh(Command::new("miltertest")
            .current_dir(&dir)
            .arg("-D")
            .arg(format!("socket=inet:{port}@127.0.0.1"))
            .arg("-s")
            .arg(s));
        match r {
            Ok(_) => passed.push(name),
            Err(e) => failed.push(format!(
                "{name}: {}",
                e.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
            )),
        }
    }
    mass.stop()?;
    if scripts.len() < 10 {
        failed.push(format!(
            "only {} scenarios, want at least 10",
            scripts.len()
        ));
    }
    if failed.is_empty() {
        Ok(format!(
            "{} scenarios pass: {}",
            passed.len(),
            passed.join(", ")
        ))
    } else {
        Err(format!(
            "{} pass, failed: {}",
            passed.len(),
            failed.join("; ")
        ))
    }
}

fn step_memory(ctx: &Ctx) -> Result<String, String> {
    let port = ctx.spare_port;
    let cfg = ctx.config(&ctx.inet(port), "", &[&ctx.rsa]);
    let mut mass = Mass::start(ctx, "memory", &cfg)?;
    let t0 = Instant::now();
    let chunk = {
        let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv\r\n";
        let mut c = Vec::with_capacity(65_535);
        while c.len() + line.len() <= 65_535 {
            c.extend_from_slice(line);
        }
        Arc::new(c)
    };
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let chunk = chunk.clone();
            std::thread::spawn(move || -> Result<bool, String> {
                let mut c = MilterClient::connect(port)?;
                c.negotiate()?;
                c.start_message()?;
                let mut sent = 0usize;
                while sent < 10 << 20 {
                    c.step(b'B', &chunk)?;
                    sent += chunk.len();
                }
                Ok(signed_reply(&c.end_message()?))
            })
        })
        .collect();
    let mut signed = 0;
    let mut errors = Vec::new();
    for t in threads {
        match t.join() {
            Ok(Ok(true)) => signed += 1,
            Ok(Ok(false)) => errors.push("not signed".to_string()),
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("panic".into()),
        }
    }
    let peak = mass.peak_rss_kib();
    let secs = t0.elapsed().as_secs_f64();
    let _ = mass.alive();
    mass.stop()?;
    let summary = format!(
        "100 connections x 10 MiB: {signed} signed in {secs:.1} s; peak RSS {:.1} MiB",
        peak as f64 / 1024.0
    );
    if signed == 100 && peak < 64 * 1024 {
        Ok(summary)
    } else {
        Err(format!("{summary}; errors: {:?}", errors.first()))
    }
}

/// Throughput figures from one run, messages per second end to end.
#[derive(Debug, Default)]
pub struct BenchFigures {
    /// Postfix without a milter.
    pub none: f64,
    /// mass over TCP and its CPU seconds per message.
    pub mass_tcp: f64,
    /// CPU time of `mass serve` per message over TCP, in ms.
    pub mass_tcp_cpu_ms: f64,
    /// mass over a unix socket.
    pub mass_unix: f64,
    /// CPU time of `mass serve` per message over the unix socket, in ms.
    pub mass_unix_cpu_ms: f64,
    /// OpenDKIM over TCP.
    pub opendkim_tcp: f64,
    /// OpenDKIM over a unix socket.
    pub opendkim_unix: f64,
}

/// `MESSAGES` messages of 4 KiB, 8 sessions, through Postfix: no milter,
/// mass (TCP, unix) and OpenDKIM (TCP, unix). For `cargo xtask bench`.
pub fn bench(run: &mut Run) -> Option<BenchFigures> {
    let ctx = prepare(run)?;
    let r = bench_with(&ctx);
    let _ = ctx.harness(&["down"]);
    match r {
        Ok(f) => {
            run.check("e2e bench", Ok(()));
            Some(f)
        }
        Err(e) => {
            run.check("e2e bench", Err(e));
            None
        }
    }
}

const BENCH_MESSAGES: usize = 2000;

fn bench_with(ctx: &Ctx) -> Result<BenchFigures, String> {
    let n = BENCH_MESSAGES;
    let size = 4096;
    let mut f = BenchFigures::default();
    ctx.up("none", &ctx.sink("bench-none"))?;
    f.none = ctx.send(n, size)?;

    let tcp = ctx.inet(ctx.milter_port);
    let mass = Mass::start(ctx, "bench-tcp", &ctx.config(&tcp, "", &[&ctx.rsa]))?;
    ctx.up(&tcp, &ctx.sink("bench-mass-tcp"))?;
    ctx.send(20, size)?; // warm up
    let c0 = mass.cpu_ticks();
    f.mass_tcp = ctx.send(n, size)?;
    f.mass_tcp_cpu_ms = (mass.cpu_ticks() - c0) as f64 * 10.0 / n as f64;
    mass.stop()?;

    let sock = ctx.work.join("bench.sock");
    let unix = format!("unix:{}", sock.display());
    let mass = Mass::start(ctx, "bench-unix", &ctx.config(&unix, "", &[&ctx.rsa]))?;
    ctx.up(&unix, &ctx.sink("bench-mass-unix"))?;
    ctx.send(20, size)?;
    let c0 = mass.cpu_ticks();
    f.mass_unix = ctx.send(n, size)?;
    f.mass_unix_cpu_ms = (mass.cpu_ticks() - c0) as f64 * 10.0 / n as f64;
    mass.stop()?;

    let od_port = ctx.spare_port;
    ctx.harness(&["ref-up", &format!("inet:{od_port}@127.0.0.1")])?;
    ctx.up(&ctx.inet(od_port), &ctx.sink("bench-opendkim-tcp"))?;
    ctx.send(20, size)?;
    f.opendkim_tcp = ctx.send(n, size)?;
    let od_sock = ctx.mta_state.join("opendkim/run/s");
    ctx.harness(&["ref-up", &format!("local:{}", od_sock.display())])?;
    ctx.up(
        &format!("unix:{}", od_sock.display()),
        &ctx.sink("bench-opendkim-unix"),
    )?;
    ctx.send(20, size)?;
    f.opendkim_unix = ctx.send(n, size)?;
    ctx.harness(&["ref-down"])?;

    let best_od = f.opendkim_tcp.max(f.opendkim_unix);
    eprintln!(
        "xtask[e2e]: throughput, {n} x 4 KiB, 8 sessions (msg/s end to end):\n\
         \x20 no milter       {:8.1}\n\
         \x20 mass tcp        {:8.1}  ({:.2}x OpenDKIM tcp, {:.2} of no-milter; {:.2} ms CPU/msg)\n\
         \x20 mass unix       {:8.1}  ({:.2}x OpenDKIM unix, {:.2} of no-milter; {:.2} ms CPU/msg)\n\
         \x20 OpenDKIM tcp    {:8.1}\n\
         \x20 OpenDKIM unix   {:8.1}\n\
         \x20 best mass / best OpenDKIM: {:.2}",
        f.none,
        f.mass_tcp,
        f.mass_tcp / f.opendkim_tcp,
        f.mass_tcp / f.none,
        f.mass_tcp_cpu_ms,
        f.mass_unix,
        f.mass_unix / f.opendkim_unix,
        f.mass_unix / f.none,
        f.mass_unix_cpu_ms,
        f.opendkim_tcp,
        f.opendkim_unix,
        f.mass_tcp.max(f.mass_unix) / best_od
    );
    Ok(f)
}

/// Postfix -> mass serve -> the signing device (QEMU) -> sink. The
/// device holds both keys (provisioned with `mass device provision`);
/// `mass serve` has no key of its own.
fn step_device(ctx: &Ctx) -> Result<String, String> {
    const MESSAGES: usize = 200;
    let dev = crate::qemu::boot_signing_device(false)?;
    provision(ctx, &dev.addr, 0, &ctx.rsa)?;
    provision(ctx, &dev.addr, 1, &ctx.ed)?;
    let signer = format!(
        "[signer]\ndevice = \"{}\"\ntimeout = 20\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 0\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 1\n",
        dev.addr, ctx.rsa.domain, ctx.rsa.selector, ctx.ed.domain, ctx.ed.selector
    );
    let listen = ctx.inet(ctx.milter_port);
    let mass = Mass::start(ctx, "device", &ctx.config(&listen, &signer, &[]))?;
    let sink = ctx.sink("device");
    ctx.up(&listen, &sink)?;
    let t0 = Instant::now();
    let rate = ctx.send(MESSAGES, 2000)?;
    let elapsed = t0.elapsed().as_secs_f64();
    let sigs = sink_signatures(&sink);
    let both = sigs
        .iter()
        .filter(|(_, n, t)| *n == 2 && t.contains("a=rsa-sha256") && t.contains("a=ed25519-sha256"))
        .count();
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.rsa, &ctx.ed])?;
    if both != MESSAGES || msgs != MESSAGES || total != 2 * MESSAGES || ok != total {
        let _ = mass.stop();
        return Err(format!(
            "want {MESSAGES} messages each signed by both device keys: {both} were; \
             dkimpy {ok}/{total} signatures pass over {msgs} messages"
        ));
    }

    // A device slower than the MTA's patience (stopped for 12 s, within
    // the link timeout): SMFIR_PROGRESS every 10 s keeps the MTA waiting,
    // and the message is signed once the device goes on.
    let pid = dev.pid().to_string();
    let mut c = MilterClient::connect(ctx.milter_port)?;
    c.negotiate()?;
    c.start_message()?;
    c.step(b'B', b"a slow device\r\n")?;
    sh(Command::new("kill").args(["-STOP", &pid]))?;
    let resume = {
        let pid = pid.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(12));
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        })
    };
    let t0 = Instant::now();
    let slow = c.end_message();
    let _ = resume.join();
    let slow = slow?;
    let progress = slow.iter().filter(|(code, _)| *code == b'p').count();
    if progress == 0 || !signed_reply(&slow) {
        let _ = mass.stop();
        return Err(format!(
            "a slow device: {progress} progress replies in {:.1}s, signed: {}",
            t0.elapsed().as_secs_f64(),
            signed_reply(&slow)
        ));
    }
    let slow_secs = t0.elapsed().as_secs_f64();

    // A device that stops answering: the message in flight is tempfailed
    // (nothing passes unsigned), and once it answers again the daemon
    // reconnects, resynchronizes the link and signs.
    sh(Command::new("kill").args(["-STOP", &pid]))?;
    let stalled = smtp_send(ctx.smtp_port, "stalled-device", 20);
    sh(Command::new("kill").args(["-CONT", &pid]))?;
    let Smtp::TempFail(reply) = &stalled else {
        let _ = mass.stop();
        return Err(format!("with the device stopped: {stalled:?}, want a 4xx"));
    };
    let resumed = smtp_send(ctx.smtp_port, "resumed-device", 20);
    if resumed != Smtp::Accepted {
        let _ = mass.stop();
        return Err(format!("after the device resumed: {resumed:?}"));
    }
    ctx.harness(&["wait", &(MESSAGES + 1).to_string()])?;
    let log = mass.log_text();
    mass.stop()?;
    let sigs = sink_signatures(&sink);
    let stalled_delivered = sigs.iter().any(|(_, _, t)| t.contains("stalled-device"));
    let resumed_ok = sigs
        .iter()
        .filter(|(_, n, t)| *n == 2 && t.contains("resumed-device"))
        .count();
    let (_, total2, ok2) = dkimpy_all(&sink, &[&ctx.rsa, &ctx.ed])?;
    if stalled_delivered || resumed_ok != 1 || ok2 != total2 || total2 != 2 * (MESSAGES + 1) {
        return Err(format!(
            "stalled message delivered: {stalled_delivered}; resumed message signed twice: \
             {resumed_ok}; dkimpy {ok2}/{total2}"
        ));
    }
    if !log.contains("connected to the signing device") || !log.contains("signing failed") {
        return Err("the log does not show the failure and the reconnection".into());
    }
    drop(dev);
    let serial = device_on_serial(ctx)?;
    Ok(format!(
        "{MESSAGES} messages via Postfix signed on the QEMU device (rsa-sha256 + ed25519-sha256) \
         in {elapsed:.1}s ({rate:.1} msg/s); dkimpy {ok}/{total} pass; device stopped 12 s: \
         {progress} progress replies, signed after {slow_secs:.1}s; stalled past the timeout: \
         `{}`, then reconnected and signed; {serial}",
        reply.lines().last().unwrap_or_default()
    ))
}

/// `mass device provision`: put `key` into the device's slot.
fn provision(ctx: &Ctx, device: &str, slot: u8, key: &Key) -> Result<String, String> {
    sh(Command::new(&ctx.mass)
        .args(["device", "--device", device, "provision", "--key-id"])
        .arg(slot.to_string())
        .arg("--key")
        .arg(&key.file))
}

/// The same device on a serial line (QEMU's UART on a pty, as a board on a
/// USB serial adapter): `[signer] device = "/dev/pts/N"`.
fn device_on_serial(ctx: &Ctx) -> Result<String, String> {
    const MESSAGES: usize = 20;
    let dev = crate::qemu::boot_signing_device(true)?;
    provision(ctx, &dev.addr, 1, &ctx.ed)?;
    let signer = format!(
        "[signer]\ndevice = \"{}\"\ntimeout = 5\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 1\n",
        dev.addr, ctx.ed.domain, ctx.ed.selector
    );
    let listen = ctx.inet(ctx.milter_port);
    let mass = Mass::start(ctx, "device-serial", &ctx.config(&listen, &signer, &[]))?;
    let sink = ctx.sink("device-serial");
    ctx.up(&listen, &sink)?;
    ctx.send(MESSAGES, 2000)?;
    mass.stop()?;
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.ed])?;
    if msgs != MESSAGES || total != MESSAGES || ok != total {
        return Err(format!(
            "over {}: dkimpy {ok}/{total} signatures pass over {msgs} messages",
            dev.addr
        ));
    }
    Ok(format!(
        "over a serial line ({}): {MESSAGES} messages, dkimpy {ok}/{total} pass",
        dev.addr
    ))
}

/// Packages, the release binary, keys. None when that failed (recorded).
fn prepare(run: &mut Run) -> Option<Ctx> {
    let harness = harness_path();
    let mut deps = Command::new("bash");
    deps.arg(&harness).arg("deps");
    if !run.command("mta-harness.sh deps", deps) {
        return None;
    }
    let missing = util::ensure_apt(&["python3-nacl", "miltertest", "openssl"]);
    if !missing.is_empty() {
        run.fail(format!("missing packages: {}", missing.join(" ")));
    }
    if !run.cargo(&[
        "build",
        "--release",
        "--package",
        "mass-hosted",
        "--bin",
        "mass",
    ]) {
        return None;
    }
    match Ctx::new() {
        Ok(c) => {
            // Mail a failed earlier run left queued would be delivered into
            // this run's sinks: start from an empty Postfix queue.
            let _ = c.harness(&["down", "--purge"]);
            Some(c)
        }
        Err(e) => {
            run.fail(format!("e2e setup: {e}"));
            None
        }
    }
}

/// `cargo xtask e2e [--bench] [--only a,b]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut run = Run::new("e2e");
    let bench_too = args.iter().any(|a| a == "--bench");
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(String::from).collect());
    let Some(ctx) = prepare(&mut run) else {
        return run.finish();
    };
    let steps: Vec<&str> = match &only {
        Some(o) => o.iter().map(String::as_str).collect(),
        // `--bench` alone runs only the throughput figures.
        None if bench_too => Vec::new(),
        None => ALL_STEPS.to_vec(),
    };
    for step in steps {
        eprintln!("xtask[e2e]: step {step}");
        let t0 = Instant::now();
        let result = match step {
            "sign" => step_sign(&ctx),
            "dual" => step_dual(&ctx),
            "unix" => step_unix(&ctx),
            "verify" => step_verify(&ctx),
            "kill" => step_kill(&ctx),
            "attacks" => step_attacks(&ctx),
            "cap" => step_cap(&ctx),
            "drain" => step_drain(&ctx),
            "miltertest" => step_miltertest(&ctx),
            "memory" => step_memory(&ctx),
            "device" => step_device(&ctx),
            "batv" => continue,
            _ => Err("unknown step".into()),
        };
        let label = match &result {
            Ok(summary) => format!("{step}: {summary} [{:.1}s]", t0.elapsed().as_secs_f64()),
            Err(_) => step.to_string(),
        };
        if let Ok(s) = &result {
            eprintln!("xtask[e2e]: {step}: {s}");
        }
        run.check(&label, result.map(|_| ()));
    }
    // BATV (issue 6) brings up its own Postfix and mass serve (also `cargo xtask e2e-batv`).
    if only
        .as_ref()
        .map_or(!bench_too, |o| o.iter().any(|s| s == "batv"))
    {
        crate::batv_e2e::run(&mut run);
    }
    if bench_too {
        let r = bench_with(&ctx).map(|_| ());
        run.check("bench (no milter / mass / OpenDKIM)", r);
    }
    let _ = ctx.harness(&["down"]);
    run.finish()
}
