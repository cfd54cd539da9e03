//! Shared by the fault and load steps (`dnsfaults`, `devfaults`,
//! `diskfull`, `reload`, `soak`): SMTP sessions that send many messages,
//! generated messages of a given size, reading a sink by message tag, and
//! sampling a process in `/proc`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::Smtp;

/// One SMTP session to Postfix that may carry many messages.
pub(super) struct Session {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

fn reply(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("connection closed after {all:?}"));
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes().get(3) == Some(&b' ') {
            return Ok(all.trim_end().to_string());
        }
    }
}

fn classify(reply: &str) -> Option<Smtp> {
    match reply.as_bytes().first() {
        Some(b'2' | b'3') => None,
        Some(b'4') => Some(Smtp::TempFail(reply.to_string())),
        Some(b'5') => Some(Smtp::PermFail(reply.to_string())),
        _ => Some(Smtp::Broken(format!("odd reply {reply:?}"))),
    }
}

impl Session {
    /// Connect, read the greeting and say EHLO. A 4xx greeting is a
    /// `TempFail`, a failure to connect `Broken`.
    pub(super) fn open(port: u16) -> Result<Session, Smtp> {
        let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| Smtp::Broken(e.to_string()))?;
        let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
        let _ = s.set_nodelay(true);
        let w = s.try_clone().map_err(|e| Smtp::Broken(e.to_string()))?;
        let mut session = Session {
            w,
            r: BufReader::new(s),
        };
        let greet = reply(&mut session.r).map_err(Smtp::Broken)?;
        if let Some(f) = classify(&greet) {
            return Err(f);
        }
        match session.command("EHLO client.e2e.test\r\n") {
            Ok(r) => match classify(&r) {
                None => Ok(session),
                Some(f) => Err(f),
            },
            Err(e) => Err(Smtp::Broken(e)),
        }
    }

    fn command(&mut self, line: &str) -> Result<String, String> {
        self.w
            .write_all(line.as_bytes())
            .map_err(|e| e.to_string())?;
        reply(&mut self.r)
    }

    /// One transaction: MAIL, RCPT, DATA, the message (dot-stuffed) and
    /// its final reply. After a refusal the session is reset and stays
    /// usable; `Broken` means it is not.
    pub(super) fn send(&mut self, message: &[u8]) -> Smtp {
        for cmd in [
            "MAIL FROM:<sender@example.com>\r\n",
            "RCPT TO:<rcpt@example.net>\r\n",
            "DATA\r\n",
        ] {
            match self.command(cmd) {
                Ok(r) => {
                    if let Some(f) = classify(&r) {
                        let _ = self.command("RSET\r\n");
                        return f;
                    }
                }
                Err(e) => return Smtp::Broken(e),
            }
        }
        let data = dot_stuff(message);
        if let Err(e) = self.w.write_all(&data) {
            return Smtp::Broken(e.to_string());
        }
        match reply(&mut self.r) {
            Ok(r) => classify(&r).unwrap_or(Smtp::Accepted),
            Err(e) => Smtp::Broken(e),
        }
    }

    pub(super) fn quit(mut self) {
        let _ = self.command("QUIT\r\n");
    }
}

/// CRLF line ends, leading dots doubled, and the final `.` line.
fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Send one message in a session of its own: the outcome and the time
/// from the end of the data to Postfix's reply (Postfix answers once the
/// milter has answered the end of the message).
pub(super) fn send_one(port: u16, message: &[u8]) -> (Smtp, Duration) {
    let mut s = match Session::open(port) {
        Ok(s) => s,
        Err(f) => return (f, Duration::ZERO),
    };
    let t0 = Instant::now();
    let outcome = s.send(message);
    let took = t0.elapsed();
    s.quit();
    (outcome, took)
}

/// A message from sender@example.com whose Subject is `tag`, with a body
/// of about `size` bytes (lines of 76 characters).
pub(super) fn message(tag: &str, size: usize) -> String {
    let mut m = format!(
        "From: Sender <sender@example.com>\r\nTo: rcpt@example.net\r\n\
         Subject: {tag}\r\nMessage-ID: <{tag}@example.com>\r\n\
         Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n"
    );
    let head = m.len();
    let mut i = 0usize;
    while m.len() < head + size {
        let line = format!("{tag} line {i:06} the quick brown fox jumps over the lazy dog");
        m.push_str(&line[..line.len().min(74)]);
        m.push_str("\r\n");
        i += 1;
    }
    m
}

/// One message found in a sink.
pub(super) struct SinkMsg {
    /// The first X-Soak-Tag or Subject, which the steps use as the message's tag.
    pub(super) tag: String,
    /// DKIM-Signature fields in the header.
    pub(super) signatures: usize,
    /// Authentication-Results fields, unfolded.
    pub(super) auth_results: Vec<String>,
}

/// The header fields of `text`, unfolded.
pub(super) fn header_fields(text: &str) -> Vec<String> {
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let mut fields: Vec<String> = Vec::new();
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        match fields.last_mut() {
            Some(f) if line.starts_with([' ', '\t']) => {
                f.push(' ');
                f.push_str(line.trim_start());
            }
            _ => fields.push(line.to_string()),
        }
    }
    fields
}

/// Read one sink file.
pub(super) fn read_sink_msg(path: &Path) -> Option<SinkMsg> {
    let bytes = std::fs::read(path).ok()?;
    // Only the header is needed; bodies may be a MiB.
    let cut = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..cut]).into_owned();
    let fields = header_fields(&text);
    let value = |f: &String, name: &str| -> Option<String> {
        let (n, v) = f.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    };
    // The tag: an X-Soak-Tag put on top of a signed message, else the Subject.
    let tag = fields
        .iter()
        .find_map(|f| value(f, "X-Soak-Tag"))
        .or_else(|| fields.iter().find_map(|f| value(f, "Subject")))
        .unwrap_or_default();
    let signatures = fields
        .iter()
        .filter(|f| value(f, "DKIM-Signature").is_some())
        .count();
    let auth_results = fields
        .iter()
        .filter_map(|f| value(f, "Authentication-Results"))
        .collect();
    Some(SinkMsg {
        tag,
        signatures,
        auth_results,
    })
}

/// Every message in a sink directory, by tag (a tag delivered twice keeps
/// both).
pub(super) fn sink_by_tag(dir: &Path) -> BTreeMap<String, Vec<SinkMsg>> {
    let mut out: BTreeMap<String, Vec<SinkMsg>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        if let Some(m) = read_sink_msg(&e.path()) {
            out.entry(m.tag.clone()).or_default().push(m);
        }
    }
    out
}

/// Files in a sink directory.
pub(super) fn sink_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Wait until `dir` holds at least `n` messages; false on timeout.
pub(super) fn wait_sink(dir: &Path, n: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while sink_count(dir) < n {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Our (`mx.e2e.test`) DKIM result in a message's Authentication-Results:
/// the `dkim=` word and the rest of that result.
pub(super) fn our_dkim_result(m: &SinkMsg) -> Option<(String, String)> {
    let ours = m
        .auth_results
        .iter()
        .find(|a| a.starts_with("mx.e2e.test"))?;
    let at = ours.find("dkim=")?;
    let rest = &ours[at + 5..];
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    Some((word, rest.to_string()))
}

/// What `/proc` says about a process at one moment.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProcSample {
    pub(super) secs: f64,
    pub(super) rss_kib: u64,
    pub(super) fds: usize,
    pub(super) tasks: usize,
}

pub(super) fn sample(pid: u32, since: Instant) -> ProcSample {
    let count = |what: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{what}"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    ProcSample {
        secs: since.elapsed().as_secs_f64(),
        rss_kib: super::proc_status_kib(pid, "VmRSS:"),
        fds: count("fd"),
        tasks: count("task"),
    }
}

/// The largest of `f` over `samples`.
pub(super) fn max_of<T: Ord + Copy>(
    samples: &[ProcSample],
    f: impl Fn(&ProcSample) -> T,
) -> Option<T> {
    samples.iter().map(f).max()
}

/// Pseudo-random numbers (xorshift64*), for message sizes and choices.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `0..n`.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
