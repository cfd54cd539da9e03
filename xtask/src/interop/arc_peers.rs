//! ARC both ways against real peers, with tampering (issue 11, Must show 2;
//! also `cargo xtask interop arc-peers`).
//!
//! 1. Keys: one RSA-2048 key per hop domain (`hop1..3.example.org`, selector
//!    `arc`) from `mass keygen`, published in a zone file for `mass arc verify
//!    --zone` and in a `name<TAB>TXT` list the peer scripts serve through
//!    their DNS hooks (dkimpy's `dnsfunc`, Mail::DKIM's
//!    `Mail::DKIM::DNS::resolver`). The peers get the key as PKCS#1 PEM
//!    (`openssl pkey -traditional`), which dkimpy's parser needs.
//! 2. Messages: the interop corpus (`corpus.rs`) in wire form (CRLF, final
//!    CRLF), as an MTA that seals hands them over.
//! 3. Chains: message `i` gets the sealer mix `i % 39`: every sequence of
//!    mass, dkimpy and Mail::DKIM of 1, 2 and 3 hops, so every sealer seals
//!    at every position after every other. Before hops 2 and 3 a forwarder
//!    adds fields on top: a Received field, by turns with List-Id and
//!    List-Unsubscribe ([`forward_change`] says why no more). Each sealer
//!    validates the chain so far itself and seals with that `cv=`: mass by
//!    `mass arc seal`, the peers by their own verifier, then their
//!    signer given an Authentication-Results field (SRVID; the results;
//!    `arc=CV`), which is where both peers read the seal's `cv=` from. A
//!    hop that sees anything but the expected `cv=` is a failure.
//! 4. Validation: every final chain by `mass arc verify`, dkimpy
//!    (`dkim.arc_verify`) and Mail::DKIM (`Mail::DKIM::ARC::Verifier`): all
//!    must say pass; then tampered after the last seal, once in the body
//!    (text at its start) and once in a sealed header (Subject, or From when
//!    there is none; both are in every sealer's default `h=`): all must say
//!    fail. A miss or a disagreement is a failure, and the message is copied
//!    to `arc-peers/disagree/` in the (then kept) work dir.
//!
//! The peer scripts are written into the work dir and run once per batch.
//! Each sealer signs its own default `h=` (mass oversigns its list, dkimpy
//! oversigns its frozen fields, Mail::DKIM signs its list once): each
//! validator must handle the others' choices, as in real mail.
//!
//! Ed25519 is left out, said in the notes: neither peer has it in ARC.
//! dkimpy 1.1.4's `ARC_HASH_ALGORITHMS` is rsa-sha256 alone (its validator
//! rejects `a=ed25519-sha256`, and `ARC.sign` reads keys as RSA PEM), and
//! Mail::DKIM 1.20230212's `ARC::Signer` dies on anything but rsa-sha256.

use super::message::{body_start, tamper_body, tamper_from, wire_form};
use super::{Tally, corpus, on_two_threads};
use crate::util;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The seal times: hop `h` (0-based) seals at `T0 + 60 h`; validation runs later.
const T0: u64 = 1_764_000_000;
const VALIDATE_AT: u64 = T0 + 3600;
const SELECTOR: &str = "arc";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Mass,
    Dkimpy,
    MailDkim,
}

const ALL: [Who; 3] = [Who::Mass, Who::Dkimpy, Who::MailDkim];

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Mass => "mass",
            Who::Dkimpy => "dkimpy",
            Who::MailDkim => "Mail::DKIM",
        }
    }
}

/// The peers' interpreters, when they are there.
struct Peers {
    python: Option<PathBuf>,
    perl: bool,
}

impl Peers {
    fn has(&self, who: Who) -> bool {
        match who {
            Who::Mass => true,
            Who::Dkimpy => self.python.is_some(),
            Who::MailDkim => self.perl,
        }
    }
}

/// A validator's or sealer's answer on one message: Ok((result or the `cv=`
/// it found, detail)) or Err(why it gave none).
type Verdict = Result<(String, String), String>;

/// One message on its way through its hops.
struct Chain {
    name: String,
    mix: Vec<Who>,
    /// The message as the newest hop left it.
    file: PathBuf,
    /// False once a hop failed (the failure is recorded).
    alive: bool,
}

/// The 39 sealer mixes: every sequence of 1, 2 and 3 sealers.
fn mixes() -> Vec<Vec<Who>> {
    let mut out: Vec<Vec<Who>> = Vec::new();
    let mut layer: Vec<Vec<Who>> = vec![Vec::new()];
    for _ in 0..3 {
        layer = layer
            .iter()
            .flat_map(|m| {
                ALL.iter().map(move |w| {
                    let mut n = m.clone();
                    n.push(*w);
                    n
                })
            })
            .collect();
        out.extend(layer.iter().cloned());
    }
    out
}

fn mix_label(mix: &[Who]) -> String {
    mix.iter().map(|w| w.name()).collect::<Vec<_>>().join(" > ")
}

/// Runs the step into `run` and `tally`: `count` corpus messages from `seed`,
/// `mass` the binary under test, `work` the interop work dir.
pub(super) fn run_step(
    run: &mut util::Run,
    tally: &mut Tally,
    mass: &Path,
    work: &Path,
    count: usize,
    seed: u64,
) {
    let dir = work.join("arc-peers");
    let peers = find_peers(run);
    if !util::need_apt_peer(run, "openssl (the ARC peers' key format)", &["openssl"]) {
        return;
    }
    let (zone, keys_tsv) = match make_keys(mass, &dir) {
        Ok(k) => k,
        Err(e) => {
            run.fail(format!("ARC peers: keys: {e}"));
            return;
        }
    };
    let scripts = (dir.join("arc_peer.py"), dir.join("arc_peer.pl"));
    if fs::write(&scripts.0, PY_PEER).is_err() || fs::write(&scripts.1, PERL_PEER).is_err() {
        run.fail("ARC peers: cannot write the peer scripts".into());
        return;
    }
    let ctx = Ctx {
        mass,
        zone: &zone,
        keys: &keys_tsv,
        dir: &dir,
        peers: &peers,
        scripts: &scripts,
    };

    let mixes = mixes();
    let mut chains = Vec::new();
    let start = dir.join("hop0");
    let _ = fs::create_dir_all(&start);
    let mut skipped = 0;
    for (i, m) in corpus::generate(count, seed).into_iter().enumerate() {
        let mix = mixes[i % mixes.len()].clone();
        if !mix.iter().all(|w| peers.has(*w)) {
            skipped += 1;
            continue;
        }
        let file = start.join(&m.name);
        if fs::write(&file, wire_form(&m.bytes)).is_err() {
            run.fail(format!("ARC peers: cannot write {}", file.display()));
            return;
        }
        chains.push(Chain {
            name: m.name,
            mix,
            file,
            alive: true,
        });
    }
    if skipped > 0 {
        tally.notes.push(format!(
            "ARC peers: {skipped} chains skipped, a sealer of theirs is missing"
        ));
    }

    let t = Instant::now();
    for hop in 0..3 {
        seal_hop(run, tally, &ctx, &mut chains, hop);
    }
    tally.time("ARC peers: sealing 1-3 hops", t);

    let t = Instant::now();
    validate_all(run, tally, &ctx, &chains);
    tally.time("ARC peers: validating, untouched and tampered", t);
    if let Some(py) = &peers.python {
        tally
            .notes
            .push(format!("ARC peers: dkimpy run by {}", py.display()));
    }
    tally.notes.push(
        "ARC peers: RSA-2048 only; dkimpy (1.1.4: ARC_HASH_ALGORITHMS) and Mail::DKIM \
         (1.20230212: ARC::Signer) have no ed25519-sha256 in ARC. Mail::DKIM 1.20230212's \
         ARC::Verifier also drops a set whose algorithm it lacks and says pass on the sets \
         below it (an ed25519 i=2 by mass on an rsa i=1: pass, both i=2 members `invalid`)"
            .into(),
    );
}

/// What every step needs.
struct Ctx<'a> {
    mass: &'a Path,
    zone: &'a Path,
    keys: &'a Path,
    dir: &'a Path,
    peers: &'a Peers,
    scripts: &'a (PathBuf, PathBuf),
}

// ---------------------------------------------------------------- set-up

/// A python with dkimpy and authres (`ARC.sign` needs it), and perl with
/// Mail::DKIM's ARC modules; missing ones through [`util::missing_peer`].
fn find_peers(run: &mut util::Run) -> Peers {
    let python_ok = |py: &Path| {
        Command::new(py)
            .args(["-c", "import dkim, authres"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let candidates = [
        util::root().join(".venv/bin/python"),
        PathBuf::from("/usr/bin/python3"),
        PathBuf::from("python3"),
    ];
    let mut python = candidates.iter().find(|p| python_ok(p)).cloned();
    if python.is_none()
        && util::need_apt_peer(
            run,
            "dkimpy with ARC (ARC peer)",
            &["python3-dkim", "python3-authres"],
        )
    {
        python = candidates.iter().find(|p| python_ok(p)).cloned();
        if python.is_none() {
            run.fail("dkimpy with authres is installed but python cannot import it".into());
        }
    }
    let perl_ok = || {
        Command::new("perl")
            .args([
                "-MMail::DKIM::ARC::Signer",
                "-MMail::DKIM::ARC::Verifier",
                "-e1",
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let perl = perl_ok()
        || (util::need_apt_peer(run, "Mail::DKIM (ARC peer)", &["libmail-dkim-perl"]) && perl_ok());
    Peers { python, perl }
}

/// `mass keygen` per hop domain: the zone file, the peers' key list, and a
/// PKCS#1 copy of each key beside mass's PKCS#8 one.
fn make_keys(mass: &Path, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let keys = dir.join("keys");
    fs::create_dir_all(&keys).map_err(|e| e.to_string())?;
    let (mut zone, mut tsv) = (String::new(), String::new());
    for hop in 1..=3 {
        let domain = hop_domain(hop);
        let record = util::mass_keygen(mass, "rsa-2048", &domain, SELECTOR, &keys)?;
        zone.push_str(&record);
        zone.push('\n');
        let name = record.split_whitespace().next().unwrap_or_default();
        let data: String = record.split('"').skip(1).step_by(2).collect();
        let _ = writeln!(tsv, "{name}\t{data}");
        let pem = keys.join(format!("{SELECTOR}.{domain}.pem"));
        let ok = Command::new("openssl")
            .args(["pkey", "-traditional", "-in"])
            .arg(&pem)
            .arg("-out")
            .arg(peer_key(&keys, hop))
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("openssl pkey -traditional -in {}", pem.display()));
        }
    }
    let (zone_path, tsv_path) = (dir.join("hops.zone"), dir.join("hops.keys"));
    fs::write(&zone_path, zone).map_err(|e| e.to_string())?;
    fs::write(&tsv_path, tsv).map_err(|e| e.to_string())?;
    Ok((zone_path, tsv_path))
}

fn hop_domain(hop: usize) -> String {
    format!("hop{hop}.example.org")
}

fn peer_key(keys: &Path, hop: usize) -> PathBuf {
    keys.join(format!("pkcs1.{}.pem", hop_domain(hop)))
}

// ---------------------------------------------------------------- sealing

/// Seal hop `hop` (0-based) of every chain that has one.
fn seal_hop(run: &mut util::Run, tally: &mut Tally, ctx: &Ctx, chains: &mut [Chain], hop: usize) {
    let out_dir = ctx.dir.join(format!("hop{}", hop + 1));
    let _ = fs::create_dir_all(&out_dir);
    let want_cv = if hop == 0 { "none" } else { "pass" };
    // The change a forwarder makes before it seals.
    for (i, c) in chains.iter_mut().enumerate() {
        if !c.alive || c.mix.len() <= hop || hop == 0 {
            continue;
        }
        let Ok(bytes) = fs::read(&c.file) else {
            continue;
        };
        let changed = forward_change(&bytes, hop, (i + hop) % 3);
        let p = out_dir.join(format!("{}.in", c.name));
        if fs::write(&p, changed).is_ok() {
            c.file = p;
        }
    }
    let domain = hop_domain(hop + 1);
    let srv = format!("mx.{domain}");
    let results = if hop == 0 {
        "spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com".to_string()
    } else {
        format!("spf=pass smtp.mailfrom={}", hop_domain(hop))
    };
    let ts = T0 + 60 * hop as u64;
    for who in ALL {
        let todo: Vec<usize> = (0..chains.len())
            .filter(|&i| chains[i].alive && chains[i].mix.get(hop) == Some(&who))
            .collect();
        if todo.is_empty() {
            continue;
        }
        let outs: Vec<PathBuf> = todo
            .iter()
            .map(|&i| out_dir.join(&chains[i].name))
            .collect();
        let ins: Vec<&Path> = todo.iter().map(|&i| chains[i].file.as_path()).collect();
        // Per message: Ok(the cv= the sealer found) or Err(why).
        let seen: Vec<Result<String, String>> = match who {
            Who::Mass => {
                let key = ctx
                    .dir
                    .join("keys")
                    .join(format!("{SELECTOR}.{domain}.pem"));
                let pairs: Vec<(&Path, &PathBuf)> = ins.iter().copied().zip(&outs).collect();
                on_two_threads(&pairs, |(input, out)| {
                    mass_seal(ctx, input, out, &key, &domain, &srv, &results, ts)
                })
            }
            Who::Dkimpy | Who::MailDkim => {
                let key = peer_key(&ctx.dir.join("keys"), hop + 1);
                let jobs: Vec<String> = ins
                    .iter()
                    .zip(&outs)
                    .map(|(i, o)| {
                        format!(
                            "seal\t{}\t{}\t{}\trsa-sha256\t{domain}\t{SELECTOR}\t{srv}\t{ts}\t{results}",
                            i.display(),
                            o.display(),
                            key.display()
                        )
                    })
                    .collect();
                run_peer(ctx, who, &format!("seal{hop}"), &jobs)
                    .into_iter()
                    .map(|r| r.map(|(cv, _)| cv))
                    .collect()
            }
        };
        let (mut ok, mut bad) = (0, Vec::new());
        for (k, r) in todo.iter().zip(seen) {
            let c = &mut chains[*k];
            match r {
                Ok(cv) if cv == want_cv && out_dir.join(&c.name).is_file() => {
                    ok += 1;
                    c.file = out_dir.join(&c.name);
                }
                Ok(cv) => {
                    c.alive = false;
                    bad.push(format!(
                        "{}: found cv={cv}, want {want_cv}",
                        c.file.display()
                    ));
                }
                Err(e) => {
                    c.alive = false;
                    bad.push(format!("{}: {e}", c.file.display()));
                }
            }
        }
        let check = format!("ARC: {} seals hop {}, cv={want_cv}", who.name(), hop + 1);
        run.fail_first(&check, &bad, 5);
        tally.add((&check, "rsa-sha256", "relaxed/relaxed"), ok, bad.len());
    }
}

/// `mass arc seal`; Ok(the cv= of the new ARC-Seal).
#[allow(clippy::too_many_arguments)]
fn mass_seal(
    ctx: &Ctx,
    input: &Path,
    out: &Path,
    key: &Path,
    domain: &str,
    srv: &str,
    results: &str,
    ts: u64,
) -> Result<String, String> {
    let o = Command::new(ctx.mass)
        .args(["arc", "seal", "--zone"])
        .arg(ctx.zone)
        .args(["--now", &ts.to_string(), "--key"])
        .arg(key)
        .args(["--domain", domain, "--selector", SELECTOR])
        .args(["--authserv-id", srv, "--results", results])
        .arg(input)
        .output()
        .map_err(|e| format!("cannot run mass arc seal: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "mass arc seal: {} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    fs::write(out, &o.stdout).map_err(|e| e.to_string())?;
    // The first field is the new ARC-Seal; its cv= tag.
    let end = body_start(&o.stdout).unwrap_or(o.stdout.len());
    let head = String::from_utf8_lossy(&o.stdout[..end]).replace("\r\n", "\n");
    let seal = head.split("\nARC-").next().unwrap_or_default().to_string();
    seal.split(';')
        .find_map(|t| t.trim().strip_prefix("cv=").map(str::to_string))
        .ok_or_else(|| format!("no cv= in the first field: {seal}"))
}

/// The change a forwarder makes before hop `hop` seals: a Received field
/// on top, and by `kind` also a List-Id field, or List-Id and
/// List-Unsubscribe. Added fields that no earlier AMS covers (none of the
/// sealers oversigns them, and an AMS signs the bottom-most instance), so the
/// chain so far still validates: `mass arc seal` validates the message it is
/// given, so a change that breaks the previous AMS (a subject tag, a footer)
/// can only come after that validation, which is what `mass serve` does
/// (the e2e `list` step).
fn forward_change(msg: &[u8], hop: usize, kind: usize) -> Vec<u8> {
    let list = hop_domain(hop + 1);
    let mut out = format!(
        "Received: from {} by mx.{list}; Wed, 2 Dec 2026 10:0{hop}:00 +0000\r\n",
        hop_domain(hop)
    );
    if kind >= 1 {
        let _ = write!(out, "List-Id: <list{hop}.{list}>\r\n");
    }
    if kind >= 2 {
        let _ = write!(out, "List-Unsubscribe: <mailto:leave@{list}>\r\n");
    }
    let mut out = out.into_bytes();
    out.extend_from_slice(msg);
    out
}

/// The first header field named `name` (lower case): (its start, its colon).
fn find_field(msg: &[u8], name: &[u8]) -> Option<(usize, usize)> {
    let end = body_start(msg).unwrap_or(msg.len());
    let mut start = 0;
    while start < end {
        let line_end = msg[start..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |p| start + p + 1);
        let line = &msg[start..line_end];
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && !line[0].is_ascii_whitespace()
            && line[..colon].trim_ascii().eq_ignore_ascii_case(name)
        {
            return Some((start, start + colon));
        }
        start = line_end;
    }
    None
}

/// A sealed header changed after the last seal: Subject, else From.
fn tamper_header(msg: &[u8]) -> Option<Vec<u8>> {
    let Some((_, colon)) = find_field(msg, b"subject") else {
        return tamper_from(msg);
    };
    let mut out = msg[..colon + 1].to_vec();
    out.extend_from_slice(b" Tampered:");
    out.extend_from_slice(&msg[colon + 1..]);
    Some(out)
}

// ---------------------------------------------------------------- the peer scripts

/// Run a peer script once on `jobs`; per job Ok((value, detail)) or Err(why).
fn run_peer(ctx: &Ctx, who: Who, batch: &str, jobs: &[String]) -> Vec<Verdict> {
    let job_file = ctx.dir.join(format!(
        "{}-{batch}.jobs",
        who.name().replace("::", "-").to_ascii_lowercase()
    ));
    let mut text = jobs.join("\n");
    text.push('\n');
    let mut cmd = match (who, &ctx.peers.python) {
        (Who::Dkimpy, Some(py)) => {
            let mut c = Command::new(py);
            c.arg(&ctx.scripts.0);
            c
        }
        _ => {
            let mut c = Command::new("perl");
            c.arg(&ctx.scripts.1);
            c
        }
    };
    let out = fs::write(&job_file, text)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            cmd.arg(ctx.keys)
                .arg(&job_file)
                .output()
                .map_err(|e| e.to_string())
        });
    let o = match out {
        Ok(o) => o,
        Err(e) => {
            return jobs
                .iter()
                .map(|_| Err(format!("cannot run: {e}")))
                .collect();
        }
    };
    let stdout = String::from_utf8_lossy(&o.stdout);
    let mut lines = stdout.lines();
    jobs.iter()
        .map(|_| {
            let Some(l) = lines.next() else {
                return Err(format!(
                    "no answer from {}: {}",
                    who.name(),
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            };
            let parts: Vec<&str> = l.splitn(4, '\t').collect();
            match parts.as_slice() {
                ["ok", _, value, rest @ ..] => {
                    Ok((value.to_string(), rest.first().unwrap_or(&"").to_string()))
                }
                ["err", _, why, ..] => Err(format!("{}: {why}", who.name())),
                _ => Err(format!("{}: {l}", who.name())),
            }
        })
        .collect()
}

// ---------------------------------------------------------------- validation

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Variant {
    Untouched,
    Body,
    Header,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Untouched => "untouched",
            Variant::Body => "body tampered",
            Variant::Header => "sealed header tampered",
        }
    }
    fn want(self) -> &'static str {
        if self == Variant::Untouched {
            "pass"
        } else {
            "fail"
        }
    }
}

/// Every final chain and its tampered copies through all three validators.
fn validate_all(run: &mut util::Run, tally: &mut Tally, ctx: &Ctx, chains: &[Chain]) {
    let final_dir = ctx.dir.join("final");
    let disagree = ctx.dir.join("disagree");
    let mut files: Vec<(usize, Variant, PathBuf)> = Vec::new();
    for (k, c) in chains.iter().enumerate().filter(|(_, c)| c.alive) {
        let Ok(bytes) = fs::read(&c.file) else {
            continue;
        };
        for (variant, copy) in [
            (Variant::Untouched, Some(bytes.clone())),
            (Variant::Body, tamper_body(&bytes)),
            (Variant::Header, tamper_header(&bytes)),
        ] {
            let sub = final_dir.join(variant.name().replace(' ', "-"));
            let _ = fs::create_dir_all(&sub);
            let p = sub.join(&c.name);
            if let Some(b) = copy
                && fs::write(&p, b).is_ok()
            {
                files.push((k, variant, p));
            }
        }
    }
    // validator -> per file Ok(result) or Err(why)
    let paths: Vec<&Path> = files.iter().map(|f| f.2.as_path()).collect();
    let mut verdicts: BTreeMap<Who, Vec<Verdict>> = BTreeMap::new();
    verdicts.insert(Who::Mass, on_two_threads(&paths, |p| mass_verify(ctx, p)));
    let jobs: Vec<String> = paths
        .iter()
        .map(|p| format!("verify\t{}", p.display()))
        .collect();
    let jobs = &jobs;
    let peer_results: Vec<(Who, Vec<_>)> = std::thread::scope(|s| {
        let handles: Vec<_> = [Who::Dkimpy, Who::MailDkim]
            .into_iter()
            .filter(|w| ctx.peers.has(*w))
            .map(|w| (w, s.spawn(move || run_peer(ctx, w, "verify", jobs))))
            .collect();
        handles
            .into_iter()
            .map(|(w, h)| (w, h.join().unwrap_or_default()))
            .collect()
    });
    verdicts.extend(peer_results);

    // (mix, validator, variant) -> (as wanted, not)
    let mut table: BTreeMap<(Vec<Who>, Who, Variant), (usize, usize)> = BTreeMap::new();
    let mut bad = Vec::new();
    let _ = fs::create_dir_all(&disagree);
    for (n, (k, variant, path)) in files.iter().enumerate() {
        let chain = &chains[*k];
        let mut said = Vec::new();
        for (who, results) in &verdicts {
            let r = results
                .get(n)
                .cloned()
                .unwrap_or_else(|| Err("no result".into()));
            let ok = matches!(&r, Ok((v, _)) if v == variant.want());
            let e = table
                .entry((chain.mix.clone(), *who, *variant))
                .or_default();
            if ok {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
            said.push((*who, ok, r));
        }
        if said.iter().any(|s| !s.1) {
            let mut why = format!(
                "{} ({}; {}, want {}):",
                path.display(),
                mix_label(&chain.mix),
                variant.name(),
                variant.want()
            );
            for (who, _, r) in &said {
                let _ = match r {
                    Ok((v, d)) => write!(why, " {}={v} [{d}]", who.name()),
                    Err(e) => write!(why, " {}: {e}", who.name()),
                };
            }
            let kept = disagree.join(format!(
                "{}.{}",
                chain.name,
                variant.name().replace(' ', "-")
            ));
            let _ = fs::copy(path, kept);
            bad.push(why);
        }
    }
    run.fail_first("ARC peers: validation", &bad, 8);
    if files.is_empty() {
        run.fail("ARC peers: no chain came through its hops to be validated".into());
    } else if bad.is_empty() {
        run.check(
            &format!(
                "ARC peers: {} chains of 1-3 hops by mass, dkimpy and Mail::DKIM pass in \
                 every validator, and fail there when tampered",
                files.len() / 3
            ),
            Ok(()),
        );
    }
    print_table(tally, &table);
}

/// `mass arc verify`: Ok((pass|fail|none, the entry)).
fn mass_verify(ctx: &Ctx, path: &Path) -> Verdict {
    let o = Command::new(ctx.mass)
        .args(["arc", "verify", "--zone"])
        .arg(ctx.zone)
        .args(["--now", &VALIDATE_AT.to_string()])
        .args(["--authserv-id", "mx.sink.example.org"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run mass arc verify: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout).replace(['\n', '\t'], " ");
    let result = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("arc="))
        .map(str::to_string)
        .ok_or_else(|| format!("{} {}", o.status, String::from_utf8_lossy(&o.stderr).trim()))?;
    // Exit 0 on pass, 1 on none or fail.
    let code_ok = (result == "pass") == (o.status.code() == Some(0));
    if !code_ok {
        return Err(format!("arc={result} but {}", o.status));
    }
    Ok((result, text.trim().to_string()))
}

/// The table of counts: sealer mix × validator, per variant; tally rows per
/// validator, variant and hop count.
fn print_table(tally: &mut Tally, table: &BTreeMap<(Vec<Who>, Who, Variant), (usize, usize)>) {
    eprintln!(
        "xtask[interop]: ARC peers, chains by sealer mix (untouched pass / body fail / header \
         fail, as wanted of all)"
    );
    eprintln!(
        "  {:<36} {:>20} {:>20} {:>20}",
        "sealers (hop 1 > 2 > 3)", "mass arc verify", "dkimpy", "Mail::DKIM"
    );
    let mut mixes: Vec<&Vec<Who>> = table.keys().map(|k| &k.0).collect();
    mixes.sort_by_key(|m| (m.len(), (*m).clone()));
    mixes.dedup();
    for mix in mixes {
        let mut line = format!("  {:<36}", mix_label(mix));
        for who in ALL {
            let cell: Vec<String> = [Variant::Untouched, Variant::Body, Variant::Header]
                .iter()
                .map(|v| {
                    let (ok, no) = table
                        .get(&(mix.clone(), who, *v))
                        .copied()
                        .unwrap_or((0, 0));
                    if no == 0 {
                        ok.to_string()
                    } else {
                        format!("{ok}!{no}")
                    }
                })
                .collect();
            let _ = write!(line, " {:>20}", cell.join("/"));
        }
        eprintln!("{line}");
    }
    for ((mix, who, variant), (ok, no)) in table {
        let check = format!(
            "ARC: {} validates, {} (want {})",
            who.name(),
            variant.name(),
            variant.want()
        );
        let hops = format!("{} hop(s), mixed", mix.len());
        tally.add((&check, "rsa-sha256", &hops), *ok, *no);
    }
}

// ---------------------------------------------------------------- scripts

const PY_PEER: &str = include_str!("arc_peers/peer.py");
const PERL_PEER: &str = include_str!("arc_peers/peer.pl");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_cover_every_sealer_at_every_position() {
        let m = mixes();
        assert_eq!(m.len(), 39);
        for pos in 0..3 {
            for who in ALL {
                assert!(m.iter().any(|x| x.get(pos) == Some(&who)));
            }
        }
    }

    #[test]
    fn header_tampering_changes_the_subject_or_from() {
        let m = b"From: a@example.com\r\nsubject:hi\r\n\r\nbody\r\n";
        let t = tamper_header(m).unwrap();
        assert_eq!(
            t,
            b"From: a@example.com\r\nsubject: Tampered:hi\r\n\r\nbody\r\n"
        );
        let no_subject = b"From: a@example.com\r\n\r\nbody\r\n";
        assert!(
            tamper_header(no_subject)
                .unwrap()
                .ends_with(b"a-forged@example.com\r\n\r\nbody\r\n")
        );
    }

    #[test]
    fn forwarders_add_fields_on_top() {
        let m = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
        let plain = String::from_utf8(forward_change(m, 1, 0)).unwrap();
        assert!(plain.starts_with("Received: from hop1.example.org by mx.hop2.example.org;"));
        assert!(plain.ends_with("+0000\r\nFrom: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"));
        let list = String::from_utf8(forward_change(m, 2, 2)).unwrap();
        assert!(list.contains(
            "\r\nList-Id: <list2.hop3.example.org>\r\nList-Unsubscribe: <mailto:leave@hop3.example.org>\r\nFrom:"
        ));
    }
}
