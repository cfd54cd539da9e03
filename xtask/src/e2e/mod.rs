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
//! - `dnsfaults`: verify mode against a fault-injecting name server
//!   ([`dnsfault`]): no answer and SERVFAIL give temperror within
//!   `dns_timeout`, a truncated UDP answer and a 4 KiB record pass over TCP,
//!   1,000 records and a CNAME loop give permerror; good mail passes
//!   meanwhile.
//! - `devfaults`: the device behind a line that fails on demand
//!   ([`devfault`]): cut mid-body, garbage answers, answers after the
//!   timeout, a reset mid-message (keys provisioned again): each message
//!   tempfailed, the next one signed; nothing delivered unsigned.
//! - `devbadsig`: a well-formed device signature with a wrong `b=` is
//!   caught (verified under the slot's public key from INFO): 4xx, not
//!   inserted; the next message is signed.
//! - `devhangup`: the device link closed while idle; the next message is
//!   sent again on a new connection and signed (no `on_error`).
//! - `diskfull`: `TMPDIR` on a 1 MiB tmpfs under a device signer
//!   ([`diskfull`]): a body that cannot be spooled is tempfailed, the daemon
//!   stays up and signs the next ones.
//! - `reload`: SIGHUP (a key added), a broken SIGHUP, SIGTERM and a restart
//!   under 8 SMTP sessions ([`reload`]): 0 lost, every message signed.
//! - `soak`: 2,000 messages of mixed sizes, sign and verify ([`soak`];
//!   `cargo xtask soak` sends 100,000): 0 lost, 0 unsigned, RSS,
//!   descriptors and tasks of `mass serve` flat.
//! - `list`: ARC through a real mailing list ([`list`], issue 11): 100
//!   messages signed by `mass sign` go through Debian's `mlmmj` behind
//!   Postfix (subject tag, footer) with `mass serve` verifying on arrival
//!   and sealing on the way out; at the sink dkimpy finds every author
//!   signature broken, every ARC chain `cv=pass`, and the author's
//!   `dkim=pass` in the AAR of `i=1`.
//! - `batv`: BATV through its own Postfix and `mass serve` ([`batv`]):
//!   prvs= envelope senders out, forged bounces 550, valid ones untagged.
//! - `--bench`: no milter vs mass (TCP, unix) vs OpenDKIM (TCP, unix),
//!   2,000 messages of 4 KiB, 8 sessions ([`bench()`], for `cargo xtask bench`).
//!
//! This file holds the entry and the shared plumbing (the harness, keys,
//! `mass serve`, dkimpy); `clients.rs` the SMTP and milter clients, `load.rs`
//! many-message SMTP sessions, sink reading and `/proc` sampling; each step
//! its own file (`sign`, `dual`, `unix` and `verify` in `dkim.rs`).
//!
//! A peer a step needs beyond the harness's own packages ([`step_peers`]; Mail::DKIM
//! for `batv`) fails the task under CI when missing; elsewhere the step is skipped,
//! loudly ([`util::missing_peer`]).
//!
//! Ports: the base + 1 (milter), + 2 (spare milter), + 3 (the fault DNS
//! server, UDP and TCP), + 4 (the device line), + 5 to + 7 (Postfix).
//!
//! Environment: `MASS_E2E_PORT_BASE` (default 2720) moves every port so
//! several runs can share a machine; `MASS_E2E_MTA_STATE` (default
//! `/tmp/mass-e2e-mta`) is the harness state directory. Keys, configs,
//! logs, sinks and a private copy of the release `mass` go to
//! `$TMPDIR/mass-e2e-<port base>`; `MASS_BIN=path` uses that binary instead
//! of building one ([`util::build_mass`]).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Run};

mod attacks;
pub(crate) mod batv;
mod bench;
mod cap;
mod clients;
mod devfault;
mod device;
mod diskfull;
mod dkim;
mod dnsfault;
mod drain;
mod kill;
mod list;
mod load;
mod memory;
mod miltertest;
mod reload;
pub(crate) mod soak;

pub use bench::bench;
use clients::{MilterClient, Smtp, signed_reply, smtp_send};

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
    "dnsfaults",
    "devfaults",
    "devhangup",
    "devbadsig",
    "diskfull",
    "reload",
    "soak",
    "list",
];

/// The peers a step needs beyond what `mta-harness.sh deps` installs
/// (Postfix, OpenDKIM, miltertest, dkimpy, swaks, openssl), as (what, the
/// Debian packages it comes in). A missing one goes through
/// [`util::missing_peer`]: a failure under CI, else the step is skipped.
fn step_peers(step: &str) -> &'static [(&'static str, &'static [&'static str])] {
    const NACL: (&str, &[&str]) = ("PyNaCl (dkimpy's Ed25519)", &["python3-nacl"]);
    match step {
        "dual" => &[NACL],
        "device" | "devfaults" | "devbadsig" | "devhangup" | "diskfull" => &[
            NACL,
            ("QEMU (runs the signing device)", &["qemu-system-arm"]),
        ],
        "miltertest" => &[("miltertest", &["miltertest"])],
        "list" => &[
            ("mlmmj (the mailing list)", &["mlmmj"]),
            ("dkimpy (DKIM and ARC at the sink)", &["python3-dkim"]),
            NACL,
        ],
        _ => &[],
    }
}

/// Everything a step needs: paths, ports, keys.
struct Ctx {
    root: PathBuf,
    work: PathBuf,
    mta: Harness,
    mass: PathBuf,
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

/// A throwaway Postfix instance run by `../shared/harness/mta-harness.sh`:
/// its state directory, its ports and how long the harness waits.
struct Harness {
    script: PathBuf,
    state: PathBuf,
    smtp: u16,
    submit: u16,
    sink: u16,
    timeout_secs: u32,
}

impl Harness {
    /// `mta-harness.sh ARGS` for this instance.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("bash");
        c.arg(&self.script)
            .args(args)
            .env("MTA_STATE", &self.state)
            .env("MTA_SMTP_PORT", self.smtp.to_string())
            .env("MTA_SUBMIT_PORT", self.submit.to_string())
            .env("MTA_SINK_PORT", self.sink.to_string())
            .env("MTA_TIMEOUT", self.timeout_secs.to_string())
            .stdin(Stdio::null());
        c
    }
}

impl Ctx {
    /// The work directory, keys and ports; runs a private copy of `mass`.
    fn new(mass: &Path) -> Result<Ctx, String> {
        let root = util::root();
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
            mass: util::private_copy(mass, &work),
            root,
            work,
            mta: Harness {
                script: harness,
                state: mta_state,
                smtp: base + 5,
                submit: base + 7,
                sink: base + 6,
                timeout_secs: 120,
            },
            milter_port: base + 1,
            spare_port: base + 2,
            rsa,
            ed,
        })
    }

    fn harness(&self, args: &[&str]) -> Result<String, String> {
        sh(&mut self.mta.cmd(args))
    }

    /// `mass serve` as `name` with `config`, and Postfix relaying through it
    /// (at `listen`) into a fresh sink of the same name: (server, sink).
    fn serve_behind_postfix(
        &self,
        name: &str,
        listen: &str,
        config: &str,
    ) -> Result<(Mass, PathBuf), String> {
        let mass = Mass::start(self, name, config)?;
        let sink = self.sink(name);
        self.up(listen, &sink)?;
        Ok((mass, sink))
    }

    fn up(&self, milter: &str, sink: &Path) -> Result<(), String> {
        self.harness(&["up", milter, &sink.display().to_string()])?;
        if milter != "none" {
            self.wait_for_new_smtpd();
        }
        Ok(())
    }

    /// After a reload, Postfix's idle smtpd processes serve one more
    /// client with the old milter setting (a milter that is gone answers
    /// `451 4.7.1`) before they exit. Probe with MAIL FROM until three in a
    /// row are accepted (each probe that meets an old process retires it),
    /// for at most 20 s; a step that still meets one fails on its own.
    fn wait_for_new_smtpd(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut accepted_in_a_row = 0;
        while accepted_in_a_row < 3 && Instant::now() < deadline {
            if self.probe_mail_from() {
                accepted_in_a_row += 1;
            } else {
                accepted_in_a_row = 0;
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    /// One SMTP session to the harness's smtpd: true if MAIL FROM got 250.
    fn probe_mail_from(&self) -> bool {
        use std::io::{BufRead, BufReader, Write};
        let Ok(stream) = TcpStream::connect(("127.0.0.1", self.mta.smtp)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let Ok(mut writer) = stream.try_clone() else {
            return false;
        };
        let mut reader = BufReader::new(stream);
        // The last line of a reply (`250 ...`, not `250-...`).
        let mut reply = || {
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(n) if n > 0 && line.as_bytes().get(3) == Some(&b'-') => continue,
                    Ok(n) if n > 0 => return line.clone(),
                    _ => return String::new(),
                }
            }
        };
        let mut ok = reply().starts_with("220");
        for (command, want) in [
            ("EHLO probe.harness.test\r\n", "250"),
            ("MAIL FROM:<probe@example.com>\r\n", "250"),
        ] {
            ok = ok && writer.write_all(command.as_bytes()).is_ok() && reply().starts_with(want);
        }
        let _ = writer.write_all(b"QUIT\r\n");
        ok
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
            .mta
            .cmd(&["verify", &dir.display().to_string()])
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
    util::write_private(&file, pem.as_bytes()).map_err(|e| format!("{}: {e}", file.display()))?;
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
    let record = format!("v=DKIM1; k={k}; p={}", util::base64(public));
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

/// A running `mass serve`.
struct Mass {
    child: Child,
    log: PathBuf,
    config: PathBuf,
}

impl Mass {
    fn start(ctx: &Ctx, name: &str, config: &str) -> Result<Mass, String> {
        Mass::start_env(ctx, name, config, &[])
    }

    /// [`Mass::start`] with extra environment variables (`TMPDIR`).
    fn start_env(
        ctx: &Ctx,
        name: &str,
        config: &str,
        env: &[(&str, &Path)],
    ) -> Result<Mass, String> {
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
            .envs(env.iter().copied())
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
    // The counts are on stdout, which comes before the FAIL lines of stderr.
    let counts = out.lines().find_map(|l| {
        let v: Vec<usize> = l
            .split_whitespace()
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        match v.as_slice() {
            [m, s, o] => Some((*m, *s, *o)),
            _ => None,
        }
    });
    counts.ok_or_else(|| format!("dkimpy output: {out}"))
}

/// Packages, the release binary, keys. None when that failed (recorded).
fn prepare(run: &mut Run) -> Option<Ctx> {
    let harness = harness_path();
    let mut deps = Command::new("bash");
    deps.arg(&harness).arg("deps");
    if !run.command("mta-harness.sh deps", deps) {
        return None;
    }
    // Every step's keys come from openssl.
    if !util::need_apt_peer(run, "openssl (makes the e2e keys)", &["openssl"]) {
        return None;
    }
    let mass = util::build_mass(run, true)?;
    match Ctx::new(&mass) {
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
        let mut peers_there = true;
        for (what, packages) in step_peers(step) {
            let what = format!("{what}, for the e2e step `{step}`");
            peers_there &= util::need_apt_peer(&mut run, &what, packages);
        }
        if !peers_there {
            continue;
        }
        let t0 = Instant::now();
        let result = match step {
            "sign" => dkim::step_sign(&ctx),
            "dual" => dkim::step_dual(&ctx),
            "unix" => dkim::step_unix(&ctx),
            "verify" => dkim::step_verify(&ctx),
            "kill" => kill::step_kill(&ctx),
            "attacks" => attacks::step_attacks(&ctx),
            "cap" => cap::step_cap(&ctx),
            "drain" => drain::step_drain(&ctx),
            "miltertest" => miltertest::step_miltertest(&ctx),
            "memory" => memory::step_memory(&ctx),
            "device" => device::step_device(&ctx),
            "dnsfaults" => dnsfault::step_dnsfaults(&ctx),
            "devfaults" => devfault::step_devfaults(&ctx),
            "devbadsig" => devfault::step_devbadsig(&ctx),
            "devhangup" => devfault::step_devhangup(&ctx),
            "diskfull" => diskfull::step_diskfull(&ctx),
            "reload" => reload::step_reload(&ctx),
            "soak" => soak::step_soak(&ctx),
            "list" => list::step_list(&ctx),
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
        batv::run(&mut run);
    }
    if bench_too {
        let r = bench::bench_with(&ctx).map(|_| ());
        run.check("bench (no milter / mass / OpenDKIM)", r);
    }
    let _ = ctx.harness(&["down"]);
    run.finish()
}
