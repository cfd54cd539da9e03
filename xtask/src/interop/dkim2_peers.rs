//! DKIM2 both ways against mail-auth, with tampering and a replay (issue 12,
//! Must show 2 and 3; also `cargo xtask interop dkim2-peers`).
//!
//! 1. Keys: per hop domain (`hop1..3.example.org`) an Ed25519 key (selector
//!    `ed`) and an RSA-2048 key (`rsa`) from `mass keygen`, all in one zone
//!    file that `mass dkim2 verify --zone` and the peer read alike. The peer
//!    takes mass's PKCS#8 PEM as it is.
//! 2. The peer: `xtask/examples/dkim2_peer.rs` (mail-auth 0.13.3, draft-03),
//!    built here, run under libfaketime (Debian `faketime`), which it needs
//!    for `--now`: a missing package goes through [`util::need_apt_peer`].
//! 3. Chains: the interop corpus (`corpus.rs`) in wire form. Message `i` gets
//!    `i % 3 + 1` hops; with `j = i / 3`, the keys `j % 3` (Ed25519, RSA,
//!    both) and the signers `(j / 3) % 2^hops` (every sequence of mass and
//!    mail-auth), so every 72 messages cover every keys × signers pair. The
//!    envelopes follow custody (each MAIL FROM domain is a RCPT domain of
//!    the hop before): hop 1 `<author@hop1>` to `<list@hop2>`; hop 2, a list,
//!    `<list-bounces@hop2>` to `<user@hop3>` (and `<user2@hop3>` when
//!    `i % 4 == 1`); hop 3, a forwarder, `<fwd@hop3>` to
//!    `<final@dest.example.net>`. Hop 2 changes the message as a list does
//!    when `(j / 24) % 2 == 0`: mass by `--subject-tag "[list] " --footer`,
//!    the peer on the same change made here ([`list_change`]) with
//!    `--original`, so that each writes its own recipe. Hop `h` (1-based)
//!    signs at `T0 + 60 (h - 1)`.
//! 4. Verification at `T0 + 3600`, with the newest hop's envelope, by `mass
//!    dkim2 verify` and the peer: untouched, every chain must pass in both;
//!    tampered after the last hop, once in the body (text at its start) and
//!    once in a signed header (Subject, else From), neither may pass. On
//!    every tenth message the untouched chain is also verified for a RCPT TO
//!    the last hop did not sign for ([`REPLAY_RCPT`]): neither may pass
//!    (Must show 3; the same message for the signed RCPT is the untouched
//!    check). A miss is a failure; its message goes to
//!    `dkim2-peers/disagree/`, and for an untouched chain the earlier hops
//!    are verified too, to name the first hop the verifier rejects.

use super::message::{body_start, tamper_body, tamper_from, wire_form};
use super::{Tally, corpus, on_two_threads};
use crate::util;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Hop `h` (0-based) signs at `T0 + 60 h`; verification runs later, well
/// within the 14 days a DKIM2 signature lives.
const T0: u64 = 1_764_000_000;
const VERIFY_AT: u64 = T0 + 3600;
/// The RCPT TO of the replay: no hop signed for it.
const REPLAY_RCPT: &str = "<b@y.example>";
const SUBJECT_TAG: &str = "[list] ";
const FOOTER: &str = "-- \r\nlist@hop2.example.org: to leave, write to leave@hop2.example.org\r\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Mass,
    MailAuth,
}

const BOTH: [Who; 2] = [Who::Mass, Who::MailAuth];

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Mass => "mass",
            Who::MailAuth => "mail-auth",
        }
    }
}

/// The keys a chain's hops sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Keys {
    Ed25519,
    Rsa,
    Both,
}

impl Keys {
    fn name(self) -> &'static str {
        match self {
            Keys::Ed25519 => "ed25519",
            Keys::Rsa => "rsa",
            Keys::Both => "ed25519+rsa",
        }
    }

    fn selectors(self) -> &'static [&'static str] {
        match self {
            Keys::Ed25519 => &["ed"],
            Keys::Rsa => &["rsa"],
            Keys::Both => &["ed", "rsa"],
        }
    }
}

/// One message on its way through its hops.
struct Chain {
    name: String,
    signers: Vec<Who>,
    keys: Keys,
    /// Hop 2 tags the Subject and adds a footer.
    list_change: bool,
    /// Hop 2 sends to two recipients.
    two_rcpts: bool,
    replay: bool,
    /// `files[0]` as received from the corpus, `files[h]` after hop `h`.
    files: Vec<PathBuf>,
    /// False once a hop failed (the failure is recorded).
    alive: bool,
}

impl Chain {
    fn plan(i: usize, name: String, file: PathBuf) -> Chain {
        let hops = i % 3 + 1;
        let j = i / 3;
        let pattern = (j / 3) % (1 << hops);
        Chain {
            name,
            signers: (0..hops)
                .map(|h| match pattern >> h & 1 {
                    0 => Who::Mass,
                    _ => Who::MailAuth,
                })
                .collect(),
            keys: [Keys::Ed25519, Keys::Rsa, Keys::Both][j % 3],
            list_change: hops >= 2 && (j / 24).is_multiple_of(2),
            two_rcpts: hops >= 2 && i % 4 == 1,
            replay: i.is_multiple_of(10),
            files: vec![file],
            alive: true,
        }
    }

    fn hops(&self) -> usize {
        self.signers.len()
    }

    /// mass, mail-auth, or mixed.
    fn class(&self) -> &'static str {
        match (
            self.signers.iter().all(|w| *w == Who::Mass),
            self.signers.iter().all(|w| *w == Who::MailAuth),
        ) {
            (true, _) => "mass",
            (_, true) => "mail-auth",
            _ => "mixed",
        }
    }

    fn label(&self) -> String {
        let mut s = signers_label(&self.signers);
        let _ = write!(s, "; {}", self.keys.name());
        if self.list_change {
            s.push_str("; list change at hop 2");
        }
        if self.two_rcpts {
            s.push_str("; 2 RCPT at hop 2");
        }
        s
    }
}

fn signers_label(signers: &[Who]) -> String {
    signers
        .iter()
        .map(|w| w.name())
        .collect::<Vec<_>>()
        .join(" > ")
}

fn hop_domain(hop: usize) -> String {
    format!("hop{hop}.example.org")
}

/// The SMTP envelope hop `hop` (0-based) sends with: (MAIL FROM, RCPT TO).
fn envelope(hop: usize, two_rcpts: bool) -> (&'static str, Vec<&'static str>) {
    match hop {
        0 => ("<author@hop1.example.org>", vec!["<list@hop2.example.org>"]),
        1 if two_rcpts => (
            "<list-bounces@hop2.example.org>",
            vec!["<user@hop3.example.org>", "<user2@hop3.example.org>"],
        ),
        1 => (
            "<list-bounces@hop2.example.org>",
            vec!["<user@hop3.example.org>"],
        ),
        _ => ("<fwd@hop3.example.org>", vec!["<final@dest.example.net>"]),
    }
}

/// What every part of the step needs.
struct Ctx<'a> {
    mass: &'a Path,
    peer: &'a Path,
    zone: &'a Path,
    keys: &'a Path,
    footer: &'a Path,
    dir: &'a Path,
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
    let dir = work.join("dkim2-peers");
    let _ = fs::create_dir_all(dir.join("hop0"));
    if !super::mass_commands(mass).iter().any(|c| c == "dkim2") {
        run.fail("dkim2 peers: this build of mass has no `dkim2` command".into());
        return;
    }
    // The peer sets its clock for --now by re-executing under libfaketime.
    if !util::need_apt_peer(
        run,
        "libfaketime (the DKIM2 peer signs and verifies at a given time)",
        &["faketime"],
    ) {
        return;
    }
    let t = Instant::now();
    let Some(peer) = build_peer(run, &dir) else {
        return;
    };
    tally.time("DKIM2 peers: build the mail-auth peer", t);
    let (keys, zone, footer) = (dir.join("keys"), dir.join("hops.zone"), dir.join("footer"));
    if let Err(e) = make_keys(mass, &keys, &zone)
        .and_then(|()| fs::write(&footer, FOOTER).map_err(|e| format!("{}: {e}", footer.display())))
    {
        run.fail(format!("dkim2 peers: keys: {e}"));
        return;
    }
    let ctx = Ctx {
        mass,
        peer: &peer,
        zone: &zone,
        keys: &keys,
        footer: &footer,
        dir: &dir,
    };

    let mut chains = Vec::new();
    for (i, m) in corpus::generate(count, seed).into_iter().enumerate() {
        let file = dir.join("hop0").join(&m.name);
        if let Err(e) = fs::write(&file, wire_form(&m.bytes)) {
            run.fail(format!("dkim2 peers: {}: {e}", file.display()));
            return;
        }
        chains.push(Chain::plan(i, m.name, file));
    }

    let t = Instant::now();
    for hop in 0..3 {
        sign_hop(run, tally, &ctx, &mut chains, hop);
    }
    tally.time("DKIM2 peers: signing 1-3 hops", t);
    let t = Instant::now();
    verify_all(run, tally, &ctx, &chains);
    tally.time("DKIM2 peers: verifying, untouched, tampered, replayed", t);
    tally.notes.push(format!(
        "DKIM2 peers: mail-auth 0.13.3 (draft-03) by {}, under libfaketime",
        peer.display()
    ));
}

// ---------------------------------------------------------------- set-up

/// `cargo build -p xtask --example dkim2_peer`, copied into `dir` so that
/// another build cannot replace it meanwhile.
fn build_peer(run: &mut util::Run, dir: &Path) -> Option<PathBuf> {
    if !run.cargo(&["build", "-p", "xtask", "--example", "dkim2_peer"]) {
        return None;
    }
    let built = util::target_dir().join("debug/examples/dkim2_peer");
    let copy = dir.join("dkim2_peer");
    match fs::copy(&built, &copy) {
        Ok(_) => Some(copy),
        Err(e) => {
            run.fail(format!("dkim2 peers: {}: {e}", built.display()));
            None
        }
    }
}

/// `mass keygen` per hop domain and key kind into `keys`, the records into `zone`.
fn make_keys(mass: &Path, keys: &Path, zone: &Path) -> Result<(), String> {
    fs::create_dir_all(keys).map_err(|e| e.to_string())?;
    let mut records = String::new();
    for hop in 1..=3 {
        for (alg, selector) in [("ed25519", "ed"), ("rsa-2048", "rsa")] {
            records.push_str(&util::mass_keygen(
                mass,
                alg,
                &hop_domain(hop),
                selector,
                keys,
            )?);
            records.push('\n');
        }
    }
    fs::write(zone, records).map_err(|e| format!("{}: {e}", zone.display()))
}

// ---------------------------------------------------------------- the list's change

/// The first Subject field: (just past its colon, where its value starts
/// after the blanks that follow the colon).
fn find_subject(msg: &[u8]) -> Option<(usize, usize)> {
    let head = &msg[..body_start(msg)?];
    let at = (0..head.len()).find(|&i| {
        (i == 0 || head[i - 1] == b'\n')
            && head
                .get(i..i + 8)
                .is_some_and(|n| n.eq_ignore_ascii_case(b"subject:"))
    })?;
    let colon = at + 8;
    let value = colon
        + head[colon..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
    Some((colon, value))
}

/// `msg` with `tag` in front of the first Subject's value (its name, one
/// space, the tag, the value), or None when there is no Subject.
fn prefix_subject(msg: &[u8], tag: &str) -> Option<Vec<u8>> {
    let (colon, value) = find_subject(msg)?;
    let mut out = msg[..colon].to_vec();
    out.push(b' ');
    if !msg[value..].starts_with(tag.as_bytes()) {
        out.extend_from_slice(tag.as_bytes());
    }
    out.extend_from_slice(&msg[value..]);
    Some(out)
}

/// What hop 2 does as a list host, the change `mass dkim2 sign
/// --subject-tag --footer` makes: the tag in front of the Subject (a
/// Subject of the tag alone when there is none), the footer after the body
/// (`msg` is in wire form, so it ends in CRLF).
fn list_change(msg: &[u8]) -> Vec<u8> {
    let mut out = prefix_subject(msg, SUBJECT_TAG).unwrap_or_else(|| {
        let at = body_start(msg).map_or(msg.len(), |b| b - 2);
        let mut out = msg[..at].to_vec();
        out.extend_from_slice(format!("Subject: {}\r\n", SUBJECT_TAG.trim_end()).as_bytes());
        out.extend_from_slice(&msg[at..]);
        out
    });
    if body_start(&out).is_none() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(FOOTER.as_bytes());
    out
}

/// A signed header changed after the last hop: Subject, else From.
fn tamper_header(msg: &[u8]) -> Option<Vec<u8>> {
    prefix_subject(msg, "Tampered: ").or_else(|| tamper_from(msg))
}

// ---------------------------------------------------------------- signing

/// Stdout of `cmd` (fed `stdin` when given) if it exits 0; else why not.
fn output(cmd: &mut Command, stdin: Option<&Path>) -> Result<Vec<u8>, String> {
    if let Some(p) = stdin {
        cmd.stdin(fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?);
    } else {
        cmd.stdin(Stdio::null());
    }
    let o = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if o.status.success() && !o.stdout.is_empty() {
        Ok(o.stdout)
    } else {
        Err(format!(
            "{} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Sign hop `hop` (0-based) of every chain that has one.
fn sign_hop(run: &mut util::Run, tally: &mut Tally, ctx: &Ctx, chains: &mut [Chain], hop: usize) {
    let out_dir = ctx.dir.join(format!("hop{}", hop + 1));
    let _ = fs::create_dir_all(&out_dir);
    let todo: Vec<usize> = (0..chains.len())
        .filter(|&k| chains[k].alive && chains[k].hops() > hop)
        .collect();
    let results = {
        let chains = &*chains;
        on_two_threads(&todo, |&k| sign_one(ctx, &chains[k], hop, &out_dir))
    };
    // (signer, keys, list change) -> (ok, failures)
    let mut rows: BTreeMap<(Who, Keys, bool), (usize, Vec<String>)> = BTreeMap::new();
    for (k, r) in todo.iter().zip(results) {
        let c = &mut chains[*k];
        let row = rows
            .entry((c.signers[hop], c.keys, hop == 1 && c.list_change))
            .or_default();
        match r {
            Ok(file) => {
                row.0 += 1;
                c.files.push(file);
            }
            Err(e) => {
                c.alive = false;
                row.1
                    .push(format!("{} ({}): {e}", c.files[hop].display(), c.label()));
            }
        }
    }
    for ((who, keys, change), (ok, bad)) in rows {
        let check = format!("dkim2: {} signs hop {}", who.name(), hop + 1);
        let what = if change { "list change" } else { "as received" };
        run.fail_first(&format!("{check} ({}, {what})", keys.name()), &bad, 5);
        tally.add((&check, keys.name(), what), ok, bad.len());
    }
}

/// One chain's hop `hop`: the signed message's path, or why there is none.
fn sign_one(ctx: &Ctx, chain: &Chain, hop: usize, out_dir: &Path) -> Result<PathBuf, String> {
    let who = chain.signers[hop];
    let input = &chain.files[hop];
    let out = out_dir.join(&chain.name);
    let (mail_from, rcpts) = envelope(hop, chain.two_rcpts);
    let change = hop == 1 && chain.list_change;
    let domain = hop_domain(hop + 1);
    let mut cmd = match who {
        Who::Mass => {
            let mut c = Command::new(ctx.mass);
            c.args(["dkim2", "sign"]);
            c
        }
        Who::MailAuth => {
            let mut c = Command::new(ctx.peer);
            c.arg("sign");
            c
        }
    };
    cmd.args(["--domain", &domain]);
    for s in chain.keys.selectors() {
        cmd.args(["--selector", s, "--key"])
            .arg(ctx.keys.join(format!("{s}.{domain}.pem")));
    }
    cmd.args(["--mail-from", mail_from]);
    for r in &rcpts {
        cmd.args(["--rcpt", r]);
    }
    cmd.args(["--now", &(T0 + 60 * hop as u64).to_string()]);
    let signed = match (who, change) {
        (Who::Mass, true) => {
            cmd.args(["--subject-tag", SUBJECT_TAG, "--footer"])
                .arg(ctx.footer)
                .arg(input);
            output(&mut cmd, None)
        }
        (Who::Mass, false) => output(cmd.arg(input), None),
        (Who::MailAuth, true) => {
            let bytes = fs::read(input).map_err(|e| e.to_string())?;
            let changed = out_dir.join(format!("{}.changed", chain.name));
            fs::write(&changed, list_change(&bytes)).map_err(|e| e.to_string())?;
            output(cmd.arg("--original").arg(input), Some(&changed))
        }
        (Who::MailAuth, false) => output(&mut cmd, Some(input)),
    }
    .map_err(|e| format!("{} signing: {e}", who.name()))?;
    fs::write(&out, signed).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

// ---------------------------------------------------------------- verification

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Variant {
    Untouched,
    Body,
    Header,
    Replay,
}

const VARIANTS: [Variant; 4] = [
    Variant::Untouched,
    Variant::Body,
    Variant::Header,
    Variant::Replay,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Untouched => "untouched",
            Variant::Body => "body tampered",
            Variant::Header => "signed header tampered",
            Variant::Replay => "replayed to another RCPT",
        }
    }

    fn want(self) -> &'static str {
        match self {
            Variant::Untouched => "pass",
            _ => "no pass",
        }
    }

    fn as_wanted(self, verdict: &Verdict) -> bool {
        matches!(verdict, Ok((w, _)) if (w == "pass") == (self == Variant::Untouched))
    }
}

/// A verifier's answer: Ok((result word, reason)) or Err(why it gave none).
type Verdict = Result<(String, String), String>;

/// One message to verify, for one envelope.
struct Job {
    chain: usize,
    variant: Variant,
    file: PathBuf,
    mail_from: &'static str,
    rcpts: Vec<&'static str>,
}

/// `mass dkim2 verify --json`: Ok((result, reason)).
fn mass_verify(ctx: &Ctx, file: &Path, mail_from: &str, rcpts: &[&str]) -> Verdict {
    let mut cmd = Command::new(ctx.mass);
    cmd.args(["dkim2", "verify", "--json", "--zone"])
        .arg(ctx.zone);
    cmd.args(["--now", &VERIFY_AT.to_string(), "--mail-from", mail_from]);
    for r in rcpts {
        cmd.args(["--rcpt", r]);
    }
    let o = cmd
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run mass dkim2 verify: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout);
    let why = || format!("{} {}", o.status, String::from_utf8_lossy(&o.stderr).trim());
    let result = json_string(&text, "result").ok_or_else(why)?;
    // Exit 0 on pass, 1 on anything else.
    if (result == "pass") != (o.status.code() == Some(0)) || o.status.code() == Some(2) {
        return Err(format!("dkim2={result} but {}", why()));
    }
    Ok((result, json_string(&text, "reason").unwrap_or_default()))
}

/// The string member `key` of the one-line JSON object `text` (mass's
/// `--json`), with `\"` and `\\` undone.
fn json_string(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(&format!("\"{key}\":"))? + key.len() + 3..];
    let rest = rest.trim_start().strip_prefix('"')?;
    let (mut out, mut escaped) = (String::new(), false);
    for ch in rest.chars() {
        match (escaped, ch) {
            (false, '\\') => escaped = true,
            (false, '"') => return Some(out),
            (_, c) => {
                out.push(c);
                escaped = false;
            }
        }
    }
    None
}

/// The peer's `verify`: `result<TAB>error`.
fn peer_verify(ctx: &Ctx, file: &Path, mail_from: &str, rcpts: &[&str]) -> Verdict {
    let mut cmd = Command::new(ctx.peer);
    cmd.args(["verify", "--zone"]).arg(ctx.zone);
    cmd.args(["--now", &VERIFY_AT.to_string(), "--mail-from", mail_from]);
    for r in rcpts {
        cmd.args(["--rcpt", r]);
    }
    let out = output(&mut cmd, Some(file)).map_err(|e| format!("mail-auth: {e}"))?;
    let line = String::from_utf8_lossy(&out);
    let (word, reason) = line
        .trim_end_matches('\n')
        .split_once('\t')
        .ok_or(format!("mail-auth: {line}"))?;
    Ok((word.to_string(), reason.to_string()))
}

fn verify_by(ctx: &Ctx, who: Who, file: &Path, mail_from: &str, rcpts: &[&str]) -> Verdict {
    match who {
        Who::Mass => mass_verify(ctx, file, mail_from, rcpts),
        Who::MailAuth => peer_verify(ctx, file, mail_from, rcpts),
    }
}

/// The verification jobs of every chain that came through its hops.
fn jobs(ctx: &Ctx, chains: &[Chain]) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (k, c) in chains.iter().enumerate().filter(|(_, c)| c.alive) {
        let Some(last) = c.files.last() else { continue };
        let Ok(bytes) = fs::read(last) else { continue };
        let (mail_from, rcpts) = envelope(c.hops() - 1, c.two_rcpts);
        for variant in VARIANTS {
            let copy = match variant {
                Variant::Untouched => Some(bytes.clone()),
                Variant::Body => tamper_body(&bytes),
                Variant::Header => tamper_header(&bytes),
                Variant::Replay if c.replay => Some(bytes.clone()),
                Variant::Replay => None,
            };
            let sub = ctx.dir.join("final").join(variant.name().replace(' ', "-"));
            let _ = fs::create_dir_all(&sub);
            let file = sub.join(&c.name);
            if let Some(b) = copy
                && fs::write(&file, b).is_ok()
            {
                let rcpts = match variant {
                    Variant::Replay => vec![REPLAY_RCPT],
                    _ => rcpts.clone(),
                };
                jobs.push(Job {
                    chain: k,
                    variant,
                    file,
                    mail_from,
                    rcpts,
                });
            }
        }
    }
    jobs
}

/// Every final chain, tampered copy and replay through both verifiers.
fn verify_all(run: &mut util::Run, tally: &mut Tally, ctx: &Ctx, chains: &[Chain]) {
    let jobs = jobs(ctx, chains);
    let verdicts: Vec<[Verdict; 2]> = on_two_threads(&jobs, |j| {
        BOTH.map(|who| verify_by(ctx, who, &j.file, j.mail_from, &j.rcpts))
    });
    let disagree = ctx.dir.join("disagree");
    let _ = fs::create_dir_all(&disagree);
    // (class, verifier, keys, hops) -> (as wanted, not), untouched and tampered
    let mut rows: BTreeMap<(&str, Who, Keys, usize), (usize, usize)> = BTreeMap::new();
    // (signers, verifier, variant) -> (as wanted, not), for the table
    let mut table: BTreeMap<(Vec<Who>, Who, Variant), (usize, usize)> = BTreeMap::new();
    // (verifier, variant) -> result word -> count
    let mut words: BTreeMap<(Who, Variant), BTreeMap<String, usize>> = BTreeMap::new();
    let mut bad = Vec::new();
    let mut diagnosed = 0;
    for (job, said) in jobs.iter().zip(&verdicts) {
        let c = &chains[job.chain];
        for (who, v) in BOTH.iter().zip(said) {
            let ok = job.variant.as_wanted(v);
            let word = v.as_ref().map_or("error", |(w, _)| w.as_str());
            *words
                .entry((*who, job.variant))
                .or_default()
                .entry(word.to_string())
                .or_default() += 1;
            let cell = table
                .entry((c.signers.clone(), *who, job.variant))
                .or_default();
            let row = match job.variant {
                Variant::Replay => rows.entry(("replay", *who, c.keys, c.hops())).or_default(),
                _ => rows.entry((c.class(), *who, c.keys, c.hops())).or_default(),
            };
            for e in [cell, row] {
                if ok {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
        if said.iter().all(|v| job.variant.as_wanted(v)) {
            continue;
        }
        let mut why = format!(
            "{} ({}; {}, want {}):",
            job.file.display(),
            c.label(),
            job.variant.name(),
            job.variant.want()
        );
        for (who, v) in BOTH.iter().zip(said) {
            let _ = match v {
                Ok((w, r)) => write!(why, " {}={w} [{r}]", who.name()),
                Err(e) => write!(why, " {}: {e}", who.name()),
            };
        }
        if job.variant == Variant::Untouched && diagnosed < 10 {
            diagnosed += 1;
            for (who, v) in BOTH.iter().zip(said) {
                if !job.variant.as_wanted(v) {
                    let _ = write!(why, "; {}", first_rejected_hop(ctx, c, *who));
                }
            }
        }
        let kept = disagree.join(format!(
            "{}.{}",
            c.name,
            job.variant.name().replace(' ', "-")
        ));
        let _ = fs::copy(&job.file, kept);
        bad.push(why);
    }
    run.fail_first("dkim2 peers", &bad, 8);
    let count = |v: Variant| jobs.iter().filter(|j| j.variant == v).count();
    let replay_bad = bad
        .iter()
        .filter(|b| b.contains(Variant::Replay.name()))
        .count();
    if jobs.is_empty() {
        run.fail("dkim2 peers: no chain came through its hops to be verified".into());
    } else if bad.len() == replay_bad {
        run.check(
            &format!(
                "dkim2 peers: {} chains of 1-3 hops by mass and mail-auth pass in both \
                 verifiers, and pass in neither when tampered in the body or a signed header",
                count(Variant::Untouched)
            ),
            Ok(()),
        );
    }
    if replay_bad == 0 && count(Variant::Replay) > 0 {
        run.check(
            &format!(
                "dkim2 peers: {} chains replayed to RCPT {REPLAY_RCPT} pass in neither \
                 verifier (and pass for the RCPT signed for)",
                count(Variant::Replay)
            ),
            Ok(()),
        );
    }
    report(tally, &rows, &table, &words);
}

/// The first hop after which `who` rejects `chain` (each instance verified
/// for the envelope its newest hop signed for).
fn first_rejected_hop(ctx: &Ctx, chain: &Chain, who: Who) -> String {
    for hop in 1..=chain.hops() {
        let (mail_from, rcpts) = envelope(hop - 1, chain.two_rcpts);
        match verify_by(ctx, who, &chain.files[hop], mail_from, &rcpts) {
            Ok((w, _)) if w == "pass" => continue,
            v => {
                let change = if hop == 2 && chain.list_change {
                    ", the list change"
                } else {
                    ""
                };
                return format!(
                    "{} first rejects it after hop {hop} (signed by {}{change}): {v:?}",
                    who.name(),
                    chain.signers[hop - 1].name()
                );
            }
        }
    }
    format!("{} passes every hop's instance on its own", who.name())
}

/// The tally rows with a result line each, the table by signers, and the
/// result words per verifier and variant.
fn report(
    tally: &mut Tally,
    rows: &BTreeMap<(&str, Who, Keys, usize), (usize, usize)>,
    table: &BTreeMap<(Vec<Who>, Who, Variant), (usize, usize)>,
    words: &BTreeMap<(Who, Variant), BTreeMap<String, usize>>,
) {
    let (mut p, mut f) = (0, 0);
    for ((class, who, keys, hops), (ok, no)) in rows {
        let hops = format!("{hops} hop{}", if *hops == 1 { "" } else { "s" });
        let check = format!("dkim2 {class}→{}", who.name());
        println!("{check} {} {hops}: {ok} passed, {no} failed", keys.name());
        tally.add((&check, keys.name(), &hops), *ok, *no);
        (p, f) = (p + ok, f + no);
    }
    println!("dkim2 peers: {p} passed, {f} failed");

    eprintln!(
        "xtask[interop]: DKIM2 peers, chains by signers (as wanted of all: untouched pass / \
         body tampered, header tampered, replayed no pass)"
    );
    eprintln!(
        "  {:<36} {:>22} {:>22}",
        "signers (hop 1 > 2 > 3)", "mass dkim2 verify", "mail-auth"
    );
    let mut mixes: Vec<&Vec<Who>> = table.keys().map(|k| &k.0).collect();
    mixes.sort_by_key(|m| (m.len(), (*m).clone()));
    mixes.dedup();
    for mix in mixes {
        let mut line = format!("  {:<36}", signers_label(mix));
        for who in BOTH {
            let cell: Vec<String> = VARIANTS
                .iter()
                .map(|v| {
                    match table
                        .get(&(mix.clone(), who, *v))
                        .copied()
                        .unwrap_or((0, 0))
                    {
                        (ok, 0) => ok.to_string(),
                        (ok, no) => format!("{ok}!{no}"),
                    }
                })
                .collect();
            let _ = write!(line, " {:>22}", cell.join("/"));
        }
        eprintln!("{line}");
    }
    for ((who, variant), counts) in words {
        let list: Vec<String> = counts.iter().map(|(w, n)| format!("{w} {n}")).collect();
        tally.notes.push(format!(
            "DKIM2 peers: {} on {} (want {}): {}",
            who.name(),
            variant.name(),
            variant.want(),
            list.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_signer_sequence_with_every_key_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..72 {
            let c = Chain::plan(i, String::new(), PathBuf::new());
            assert_eq!(c.hops(), i % 3 + 1);
            seen.insert((c.signers.clone(), c.keys));
        }
        assert_eq!(seen.len(), (2 + 4 + 8) * 3);
    }

    #[test]
    fn custody_each_mail_from_domain_was_a_rcpt_domain() {
        for two in [false, true] {
            for hop in 1..3 {
                let domain = |a: &str| {
                    a.trim_end_matches('>')
                        .rsplit('@')
                        .next()
                        .unwrap()
                        .to_string()
                };
                let from = domain(envelope(hop, two).0);
                assert!(envelope(hop - 1, two).1.iter().any(|r| domain(r) == from));
            }
        }
    }

    #[test]
    fn the_list_tags_the_subject_and_adds_the_footer() {
        let m = b"From: a@x\r\nSUBJECT:hi\r\n\r\nbody\r\n";
        let changed = String::from_utf8(list_change(m)).unwrap();
        assert_eq!(
            changed,
            format!("From: a@x\r\nSUBJECT: [list] hi\r\n\r\nbody\r\n{FOOTER}")
        );
        let tagged = list_change(changed.as_bytes());
        assert!(
            String::from_utf8(tagged)
                .unwrap()
                .contains("SUBJECT: [list] hi\r\n")
        );
        let no_subject = String::from_utf8(list_change(b"From: a@x\r\n\r\n")).unwrap();
        assert_eq!(
            no_subject,
            format!("From: a@x\r\nSubject: [list]\r\n\r\n{FOOTER}")
        );
    }

    #[test]
    fn header_tampering_changes_the_subject_or_from() {
        let t = tamper_header(b"From: a@x\r\nSubject: hi\r\n\r\nb\r\n").unwrap();
        assert_eq!(t, b"From: a@x\r\nSubject: Tampered: hi\r\n\r\nb\r\n");
        let t = tamper_header(b"From: a@x\r\n\r\nb\r\n").unwrap();
        assert_eq!(t, b"From: a-forged@x\r\n\r\nb\r\n");
    }

    #[test]
    fn reads_mass_json() {
        let j = r#"{"authserv_id":"h","result":"fail","hops":2,"reason":"a \"b\" c"}"#;
        assert_eq!(json_string(j, "result").as_deref(), Some("fail"));
        assert_eq!(json_string(j, "reason").as_deref(), Some("a \"b\" c"));
        assert_eq!(json_string(j, "nope"), None);
    }
}
