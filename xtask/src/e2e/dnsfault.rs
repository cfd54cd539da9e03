//! `dnsfaults`: verify mode against a name server that misbehaves on
//! purpose ([`FaultDns`], std only: a UDP socket and a TCP listener on
//! 127.0.0.1 with hand-encoded answers).
//!
//! Messages signed by `mass sign` with selectors named for each fault go
//! through Postfix to `mass serve` in verify mode (`dns_server` = the
//! fault server, `dns_timeout` = 2 s), while good messages are sent
//! beside them. Each fault must give its result within the configured
//! time, and the good ones must pass meanwhile:
//!
//! | selector | the server | want |
//! | --- | --- | --- |
//! | `timeout` | never answers (UDP or TCP) | temperror, within dns_timeout |
//! | `servfail` | SERVFAIL | temperror |
//! | `tc` | UDP: TC bit, no answer; TCP: the key | pass (TCP fallback) |
//! | `big` | one 4 KiB TXT record of 17 strings (the key plus an `n=` note); TC over UDP | pass |
//! | `many` | 1,000 TXT records at one name (~33 KB, TCP), key records without a usable key | permerror |
//! | `loop` | `loop` CNAME `loop2`, `loop2` CNAME `loop` | permerror or temperror, reported |
//! | `good` | the key | pass |

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::load::{self, our_dkim_result, sink_by_tag};
use super::{Ctx, Key, Smtp};

// ---- the server --------------------------------------------------------

/// What the server holds at one name.
#[derive(Debug, Clone)]
enum Entry {
    /// TXT records, each a list of character-strings.
    Txt(Vec<Vec<Vec<u8>>>),
    /// A CNAME to another name (followed within the zone, as an
    /// authoritative server does, until a name repeats).
    Cname(String),
    /// No answer at all, over UDP or TCP.
    Silent,
    /// RCODE 2.
    ServFail,
}

/// A name's entry and how it goes over UDP.
#[derive(Debug, Clone)]
struct Name {
    entry: Entry,
    /// Over UDP always answer with the TC bit and no records.
    udp_truncated: bool,
}

/// The zone the server answers from; names not in it get NXDOMAIN.
#[derive(Debug, Clone, Default)]
pub(super) struct Zone {
    names: HashMap<String, Name>,
    ttl: u32,
}

fn lower(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A record's text as character-strings of at most 255 bytes.
pub(super) fn strings(record: &str) -> Vec<Vec<u8>> {
    record.as_bytes().chunks(255).map(<[u8]>::to_vec).collect()
}

impl Zone {
    pub(super) fn new(ttl: u32) -> Zone {
        Zone {
            names: HashMap::new(),
            ttl,
        }
    }

    fn put(&mut self, name: &str, entry: Entry, udp_truncated: bool) {
        self.names.insert(
            lower(name),
            Name {
                entry,
                udp_truncated,
            },
        );
    }

    /// TXT records at `name`, each given as its strings.
    pub(super) fn txt(&mut self, name: &str, records: Vec<Vec<Vec<u8>>>) {
        self.put(name, Entry::Txt(records), false);
    }

    /// As [`Zone::txt`], but UDP answers are always truncated (TC).
    pub(super) fn txt_tcp_only(&mut self, name: &str, records: Vec<Vec<Vec<u8>>>) {
        self.put(name, Entry::Txt(records), true);
    }

    pub(super) fn cname(&mut self, name: &str, target: &str) {
        self.put(name, Entry::Cname(lower(target)), false);
    }

    pub(super) fn silent(&mut self, name: &str) {
        self.put(name, Entry::Silent, false);
    }

    pub(super) fn servfail(&mut self, name: &str) {
        self.put(name, Entry::ServFail, false);
    }
}

/// Queries seen, by (name, "udp" | "tcp").
type Counts = Arc<Mutex<BTreeMap<(String, &'static str), usize>>>;

/// A fault-injecting DNS server on 127.0.0.1 (UDP and TCP, one port).
/// It stops when dropped.
pub(super) struct FaultDns {
    pub(super) port: u16,
    stop: Arc<AtomicBool>,
    counts: Counts,
    threads: Vec<JoinHandle<()>>,
}

/// A parsed query.
struct Query {
    id: u16,
    rd: bool,
    opcode: u8,
    /// The question as it came (name, type and class), to echo.
    question: Vec<u8>,
    name: String,
    qtype: u16,
    /// The EDNS UDP payload size, if the query had an OPT record.
    edns: Option<u16>,
}

const TYPE_CNAME: u16 = 5;
const TYPE_TXT: u16 = 16;
const TYPE_OPT: u16 = 41;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Skip a name that uses no compression (queries never do); the offset
/// after it and the name in dotted form.
fn read_name(b: &[u8], mut at: usize) -> Option<(usize, String)> {
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*b.get(at)?);
        at += 1;
        if len == 0 {
            return Some((at, labels.join(".")));
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(b.get(at..at + len)?).into_owned());
        at += len;
    }
}

fn parse_query(b: &[u8]) -> Option<Query> {
    let id = u16_at(b, 0)?;
    let flags = u16_at(b, 2)?;
    let qdcount = u16_at(b, 4)?;
    let ancount = u16_at(b, 6)?;
    let nscount = u16_at(b, 8)?;
    let arcount = u16_at(b, 10)?;
    if qdcount != 1 || flags & 0x8000 != 0 {
        return None;
    }
    let (after_name, name) = read_name(b, 12)?;
    let qtype = u16_at(b, after_name)?;
    let question = b.get(12..after_name + 4)?.to_vec();
    // Skip answer and authority records (none in a query), then look for
    // an OPT among the additional ones.
    let mut at = after_name + 4;
    let mut edns = None;
    for i in 0..(usize::from(ancount) + usize::from(nscount) + usize::from(arcount)) {
        let (after, _) = read_name(b, at)?;
        let rtype = u16_at(b, after)?;
        let class = u16_at(b, after + 2)?;
        let rdlen = usize::from(u16_at(b, after + 8)?);
        if rtype == TYPE_OPT && i >= usize::from(ancount) + usize::from(nscount) {
            edns = Some(class);
        }
        at = after + 10 + rdlen;
    }
    Some(Query {
        id,
        rd: flags & 0x0100 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        question,
        name: lower(&name),
        qtype,
        edns,
    })
}

fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// One resource record for the answer section.
struct Rr {
    name: String,
    rtype: u16,
    rdata: Vec<u8>,
}

/// The answer to `q`: (rcode, records), or None for no answer at all.
fn resolve(zone: &Zone, q: &Query) -> Option<(u8, Vec<Rr>, bool)> {
    let mut rrs = Vec::new();
    let mut name = q.name.clone();
    let mut seen = HashSet::new();
    let mut tc = false;
    loop {
        let Some(entry) = zone.names.get(&name) else {
            // NXDOMAIN for the first name; a chain that leaves the zone
            // ends with what it has.
            return Some(if rrs.is_empty() {
                (3, rrs, tc)
            } else {
                (0, rrs, tc)
            });
        };
        if rrs.is_empty() {
            tc = entry.udp_truncated;
        }
        seen.insert(name.clone());
        match &entry.entry {
            Entry::Silent => return None,
            Entry::ServFail => return Some((2, Vec::new(), false)),
            Entry::Txt(records) => {
                if q.qtype == TYPE_TXT || q.qtype == 255 {
                    for strings in records {
                        let mut rdata = Vec::new();
                        for s in strings {
                            rdata.push(s.len() as u8);
                            rdata.extend_from_slice(s);
                        }
                        rrs.push(Rr {
                            name: name.clone(),
                            rtype: TYPE_TXT,
                            rdata,
                        });
                    }
                }
                return Some((0, rrs, tc));
            }
            Entry::Cname(target) => {
                let mut rdata = Vec::new();
                encode_name(target, &mut rdata);
                rrs.push(Rr {
                    name: name.clone(),
                    rtype: TYPE_CNAME,
                    rdata,
                });
                if q.qtype == TYPE_CNAME || seen.contains(target) {
                    return Some((0, rrs, tc));
                }
                name = target.clone();
            }
        }
    }
}

/// The wire answer; `udp_limit` is the size past which a UDP answer is
/// cut to its header and question with TC set (None: TCP).
fn answer(zone: &Zone, q: &Query, udp_limit: Option<usize>) -> Option<Vec<u8>> {
    let (rcode, rrs, force_tc) = resolve(zone, q)?;
    let build = |rrs: &[Rr], tc: bool, rcode: u8| {
        let mut out = Vec::new();
        out.extend_from_slice(&q.id.to_be_bytes());
        // QR, opcode, AA, TC, RD as asked; RA.
        let mut flags: u16 = 0x8000 | (u16::from(q.opcode) << 11) | 0x0400 | 0x0080;
        if tc {
            flags |= 0x0200;
        }
        if q.rd {
            flags |= 0x0100;
        }
        flags |= u16::from(rcode);
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&(rrs.len() as u16).to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&u16::from(q.edns.is_some()).to_be_bytes());
        out.extend_from_slice(&q.question);
        for rr in rrs {
            if rr.name == q.name {
                out.extend_from_slice(&[0xc0, 0x0c]);
            } else {
                encode_name(&rr.name, &mut out);
            }
            out.extend_from_slice(&rr.rtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&zone.ttl.to_be_bytes());
            out.extend_from_slice(&(rr.rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(&rr.rdata);
        }
        if q.edns.is_some() {
            // OPT: root name, type 41, our UDP size 1232, no flags.
            out.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        }
        out
    };
    let full = build(&rrs, false, rcode);
    match udp_limit {
        Some(limit) if force_tc || full.len() > limit => Some(build(&[], true, rcode)),
        _ => Some(full),
    }
}

impl FaultDns {
    /// Serve `zone` on 127.0.0.1:`port`, UDP and TCP.
    pub(super) fn start(port: u16, zone: Zone) -> Result<FaultDns, String> {
        let udp = UdpSocket::bind(("127.0.0.1", port))
            .map_err(|e| format!("DNS server: UDP port {port}: {e}"))?;
        let tcp = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("DNS server: TCP port {port}: {e}"))?;
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        tcp.set_nonblocking(true).map_err(|e| e.to_string())?;
        let zone = Arc::new(zone);
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Counts = Arc::default();
        let mut threads = Vec::new();
        {
            let (zone, stop, counts) = (zone.clone(), stop.clone(), counts.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    let Some(q) = parse_query(&buf[..n]) else {
                        continue;
                    };
                    if let Ok(mut c) = counts.lock() {
                        *c.entry((q.name.clone(), "udp")).or_default() += 1;
                    }
                    // RFC 6891: the client's size, at least 512; at most
                    // 1232 (the 2020 DNS flag day's safe size).
                    let limit = q.edns.map_or(512, |s| usize::from(s).clamp(512, 1232));
                    if let Some(a) = answer(&zone, &q, Some(limit)) {
                        let _ = udp.send_to(&a, from);
                    }
                }
            }));
        }
        {
            let (stop, counts) = (stop.clone(), counts.clone());
            threads.push(std::thread::spawn(move || {
                let mut conns = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match tcp.accept() {
                        Ok((s, _)) => {
                            let (zone, stop, counts) = (zone.clone(), stop.clone(), counts.clone());
                            conns.push(std::thread::spawn(move || {
                                serve_tcp(s, &zone, &stop, &counts);
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            }));
        }
        Ok(FaultDns {
            port,
            stop,
            counts,
            threads,
        })
    }

    /// Queries seen for `name`: (UDP, TCP).
    pub(super) fn queries(&self, name: &str) -> (usize, usize) {
        let c = self.counts.lock().map(|c| c.clone()).unwrap_or_default();
        let n = lower(name);
        (
            c.get(&(n.clone(), "udp")).copied().unwrap_or(0),
            c.get(&(n, "tcp")).copied().unwrap_or(0),
        )
    }
}

fn serve_tcp(mut s: TcpStream, zone: &Zone, stop: &AtomicBool, counts: &Counts) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        while buf.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
            if buf.len() < 2 + len {
                break;
            }
            let msg: Vec<u8> = buf.drain(..2 + len).skip(2).collect();
            let Some(q) = parse_query(&msg) else {
                return;
            };
            if let Ok(mut c) = counts.lock() {
                *c.entry((q.name.clone(), "tcp")).or_default() += 1;
            }
            if let Some(a) = answer(zone, &q, None) {
                let mut out = (a.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&a);
                if s.write_all(&out).is_err() {
                    return;
                }
            }
        }
    }
}

impl Drop for FaultDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---- the step ----------------------------------------------------------

const DOMAIN: &str = "dnsfault.test";

/// The port of the fault DNS server: base + 3 (`milter_port` is base + 1).
pub(super) fn dns_port(ctx: &Ctx) -> u16 {
    ctx.milter_port + 2
}

/// `mass sign` `message` with `key` as `selector._domainkey.domain`.
pub(super) fn mass_sign(
    ctx: &Ctx,
    key: &Key,
    domain: &str,
    selector: &str,
    message: &str,
) -> Result<String, String> {
    let file = ctx.work.join("to-sign.eml");
    std::fs::write(&file, message).map_err(|e| e.to_string())?;
    let out = Command::new(&ctx.mass)
        .args(["sign", "--key"])
        .arg(&key.file)
        .args(["--domain", domain, "--selector", selector])
        .arg(&file)
        .output()
        .map_err(|e| format!("mass sign: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mass sign failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// A verify-mode config (nothing is internal, no keys) asking `dns_port`.
pub(super) fn verify_config(ctx: &Ctx, listen: &str, dns_port: u16, dns_timeout: u32) -> String {
    ctx.config(listen, "", &[])
        .replace(
            "internal_networks = [\"127.0.0.0/8\", \"::1/128\"]",
            "internal_networks = []",
        )
        .replace(
            "signing_daemons = [\"ORIGINATING\"]",
            &format!(
                "signing_daemons = []\ndns_server = \"127.0.0.1:{dns_port}\"\n\
                 dns_timeout = {dns_timeout}"
            ),
        )
}

/// The zone of the fault step: the RSA key under each selector, as each
/// fault serves it.
fn fault_zone(key: &Key) -> Zone {
    let name = |s: &str| format!("{s}._domainkey.{DOMAIN}");
    let mut zone = Zone::new(0);
    zone.txt(&name("good"), vec![strings(&key.record)]);
    zone.txt_tcp_only(&name("tc"), vec![strings(&key.record)]);
    // 4,096 bytes: the key and a note that fills the rest (unknown and
    // n= tags are ignored, RFC 6376 §3.6.1).
    let (head, p) = key.record.split_once("p=").unwrap_or((&key.record, ""));
    let fill = 4096usize.saturating_sub(head.len() + "n=; p=".len() + p.len());
    let big = format!("{head}n={}; p={p}", "x".repeat(fill));
    zone.txt(&name("big"), vec![strings(&big)]);
    // 1,000 distinct key records whose p= is no RSA key; about 33 KB.
    let many: Vec<Vec<Vec<u8>>> = (0..1000u32)
        .map(|i| {
            strings(&format!(
                "v=DKIM1; p={}",
                crate::util::base64(format!("decoy{i:04}").as_bytes())
            ))
        })
        .collect();
    zone.txt(&name("many"), many);
    zone.silent(&name("timeout"));
    zone.servfail(&name("servfail"));
    zone.cname(&name("loop"), &name("loop2"));
    zone.cname(&name("loop2"), &name("loop"));
    zone
}

/// One message's fate.
struct Sent {
    selector: &'static str,
    tag: String,
    outcome: Smtp,
    took: Duration,
}

pub(super) fn step_dnsfaults(ctx: &Ctx) -> Result<String, String> {
    const DNS_TIMEOUT: u32 = 2;
    const FAULTS: [&str; 6] = ["timeout", "servfail", "tc", "big", "many", "loop"];
    const EACH: usize = 2;
    const GOOD: usize = 30;
    let dns = FaultDns::start(dns_port(ctx), fault_zone(&ctx.rsa))?;
    let listen = ctx.inet(ctx.milter_port);
    let cfg = verify_config(ctx, &listen, dns.port, DNS_TIMEOUT);
    let (mut mass, sink) = ctx.serve_behind_postfix("dnsfaults", &listen, &cfg)?;

    // Every message signed beforehand, each with its own Subject (the tag).
    let mut faults: Vec<(&'static str, String, String)> = Vec::new();
    for sel in FAULTS {
        for i in 0..EACH {
            let tag = format!("dnsfault-{sel}-{i}");
            let signed = mass_sign(ctx, &ctx.rsa, DOMAIN, sel, &load::message(&tag, 1500))?;
            faults.push((sel, tag, signed));
        }
    }
    let mut good: Vec<(String, String)> = Vec::new();
    for i in 0..GOOD {
        let tag = format!("dnsfault-good-{i}");
        good.push((
            tag.clone(),
            mass_sign(ctx, &ctx.rsa, DOMAIN, "good", &load::message(&tag, 1500))?,
        ));
    }

    // The faults, one sender per fault, while good mail goes on beside.
    let port = ctx.mta.smtp;
    let t0 = Instant::now();
    let fault_threads: Vec<_> = FAULTS
        .iter()
        .map(|&sel| {
            let mine: Vec<(String, String)> = faults
                .iter()
                .filter(|(s, _, _)| *s == sel)
                .map(|(_, t, m)| (t.clone(), m.clone()))
                .collect();
            std::thread::spawn(move || {
                mine.into_iter()
                    .map(|(tag, m)| {
                        let (outcome, took) = load::send_one(port, m.as_bytes());
                        Sent {
                            selector: sel,
                            tag,
                            outcome,
                            took,
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let good_thread = std::thread::spawn(move || {
        good.into_iter()
            .map(|(tag, m)| {
                let (outcome, took) = load::send_one(port, m.as_bytes());
                std::thread::sleep(Duration::from_millis(100));
                Sent {
                    selector: "good",
                    tag,
                    outcome,
                    took,
                }
            })
            .collect::<Vec<_>>()
    });
    let mut sent: Vec<Sent> = Vec::new();
    for t in fault_threads {
        sent.extend(t.join().map_err(|_| "a sender panicked")?);
    }
    sent.extend(good_thread.join().map_err(|_| "the good sender panicked")?);
    let sending = t0.elapsed();
    let total = sent.len();
    let arrived = load::wait_sink(&sink, total, Duration::from_secs(30));
    let alive = mass.alive();
    let log = mass.log_text();
    mass.stop()?;
    let delivered = sink_by_tag(&sink);

    // (selector) -> results, worst time, failures.
    let mut problems = Vec::new();
    // Per selector: the dkim= words seen, the slowest, the first reason.
    type Seen = (BTreeMap<String, usize>, Duration, Option<String>);
    let mut by_sel: BTreeMap<&str, Seen> = BTreeMap::new();
    let limit = Duration::from_secs(u64::from(DNS_TIMEOUT)) + Duration::from_millis(1500);
    for s in &sent {
        if s.outcome != Smtp::Accepted {
            problems.push(format!("{}: {:?}", s.tag, s.outcome));
            continue;
        }
        let entry = by_sel.entry(s.selector).or_default();
        entry.1 = entry.1.max(s.took);
        let Some(msgs) = delivered.get(&s.tag) else {
            problems.push(format!("{}: accepted but not in the sink", s.tag));
            continue;
        };
        if msgs.len() != 1 {
            problems.push(format!("{}: delivered {} times", s.tag, msgs.len()));
        }
        // Verify mode adds a result; it neither signs nor strips.
        if msgs[0].signatures != 1 {
            problems.push(format!(
                "{}: {} DKIM-Signature fields, want the sender's one",
                s.tag, msgs[0].signatures
            ));
        }
        let (word, rest) = our_dkim_result(&msgs[0]).unwrap_or_default();
        *entry.0.entry(word.clone()).or_default() += 1;
        if word != "pass" && entry.2.is_none() {
            entry.2 = rest
                .split("reason=")
                .nth(1)
                .map(|r| r.split(" header.").next().unwrap_or(r).trim().to_string());
        }
        let want: &[&str] = match s.selector {
            "timeout" | "servfail" => &["temperror"],
            "tc" | "big" | "good" => &["pass"],
            "many" => &["permerror"],
            _ => &["permerror", "temperror"],
        };
        if !want.contains(&word.as_str()) {
            problems.push(format!(
                "{}: dkim={word}, want {}",
                s.tag,
                want.join(" or ")
            ));
        }
        if s.took > limit {
            problems.push(format!(
                "{}: Postfix answered after {:.1}s, over dns_timeout + 1.5 s",
                s.tag,
                s.took.as_secs_f64()
            ));
        }
    }
    if !arrived {
        problems.push(format!(
            "{} of {total} messages reached the sink",
            load::sink_count(&sink)
        ));
    }
    if !alive || log.contains("panicked") {
        problems.push("mass serve died or panicked".into());
    }
    let (tc_udp, tc_tcp) = dns.queries(&format!("tc._domainkey.{DOMAIN}"));
    let (big_udp, big_tcp) = dns.queries(&format!("big._domainkey.{DOMAIN}"));
    let (many_udp, many_tcp) = dns.queries(&format!("many._domainkey.{DOMAIN}"));
    let (to_udp, to_tcp) = dns.queries(&format!("timeout._domainkey.{DOMAIN}"));
    let (sf_udp, sf_tcp) = dns.queries(&format!("servfail._domainkey.{DOMAIN}"));
    let (l1u, l1t) = dns.queries(&format!("loop._domainkey.{DOMAIN}"));
    let (l2u, l2t) = dns.queries(&format!("loop2._domainkey.{DOMAIN}"));
    if tc_tcp == 0 || big_tcp == 0 || many_tcp == 0 {
        problems.push(format!(
            "no TCP fallback seen: tc {tc_tcp}, big {big_tcp}, many {many_tcp} TCP queries"
        ));
    }
    let table: Vec<String> = by_sel
        .iter()
        .map(|(sel, (words, worst, reason))| {
            let words: Vec<String> = words.iter().map(|(w, n)| format!("{n} {w}")).collect();
            let reason = reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!(
                "{sel}: {}{reason} in <= {:.2}s",
                words.join(", "),
                worst.as_secs_f64()
            )
        })
        .collect();
    let summary = format!(
        "{total} messages in {:.1}s, dns_timeout {DNS_TIMEOUT}s: {}; queries UDP/TCP: timeout {to_udp}/{to_tcp}, \
         servfail {sf_udp}/{sf_tcp}, tc {tc_udp}/{tc_tcp}, big {big_udp}/{big_tcp}, many {many_udp}/{many_tcp}, loop {l1u}/{l1t} + loop2 {l2u}/{l2t}",
        sending.as_secs_f64(),
        table.join("; ")
    );
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{summary}\n  {}", problems.join("\n  ")))
    }
}
