//! `list` (issue 11, Must show 3): ARC through a real mailing list.
//!
//! The author's host signs with `mass sign` (example.com). The message goes
//! to `mylist@lists.harness.test` on the harness's Postfix, where one
//! `mass serve` stands for the list host: mail from outside (the SMTP port)
//! is verified and gets `Authentication-Results: lists.harness.test;
//! dkim=pass`; Postfix hands it to Debian's `mlmmj`, which adds a subject
//! tag and a footer and sends a copy to each subscriber through the
//! submission port (`{daemon_name}=ORIGINATING`, internal). There `mass
//! serve` seals an ARC set (`[arc]`) and Postfix relays to the sink. At the
//! sink dkimpy must report the author's DKIM signature as failed (the list
//! broke it), the ARC chain `cv=pass`, and the AAR of `i=1` must carry the
//! author's `dkim=pass`.
//!
//! DKIM2 (issue 12, Must show 4) rides on the same messages: the author's
//! host signs them with `mass dkim2 sign` (MAIL FROM the author, RCPT TO
//! the list); the list host's `mass serve` verifies the chain on arrival
//! (`dkim2=pass` in its Authentication-Results) and keeps the arrival
//! (`[dkim2] record_changes`); on the way out it writes the recipe back to
//! it (mlmmj's tag, footer and any header it added) and signs the list's
//! hop with a `[[key]]` marked `dkim2` for the list domain, bound to each
//! copy's envelope. At the sink every copy's chain is verified, for the
//! envelope smtp-sink recorded, by `mass dkim2 verify` and by mail-auth
//! (the DKIM2 peer, `xtask/examples/dkim2_peer.rs`).
//!
//! Postfix delivers the list domain itself with no line of the harness's
//! main.cf overridden (an overridden parameter makes every Postfix process
//! log a warning, and on a reload `postlogd` can wedge on its own warnings):
//! `transport_maps` sends lists.harness.test to the `local` service,
//! `virtual_alias_maps` maps the list address to the system user `nobody`,
//! and `mailbox_command` is `mlmmj-receive` for the list directory (owned by
//! `nobody`, as the command runs as the recipient user).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Ctx, Key, Mass, dkimpy_all, gen_key, python, sh};

/// The list host's domain, its authserv-id and the ARC signing domain.
const LIST_DOMAIN: &str = "lists.harness.test";
const LIST: &str = "mylist";
const PREFIX: &str = "[mylist]";
const FOOTER_MARK: &str = "mylist at lists.harness.test: the e2e list";
const SUBSCRIBERS: &[&str] = &[
    "rcpt1@example.net",
    "rcpt2@example.net",
    "rcpt3@example.net",
];
const MESSAGES: usize = 100;
const AUTHOR: &str = "author@example.com";

pub(super) fn step_list(ctx: &Ctx) -> Result<String, String> {
    let dir = ctx.work.join("list");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("author")).map_err(|e| format!("{}: {e}", dir.display()))?;
    open_dir(&dir)?;
    let arc_key = gen_key(&ctx.work, "rsa", LIST_DOMAIN, "arc")?;
    let list_dir = make_list(ctx, &dir)?;

    // The list host: verifies on arrival (the author's key from a zone
    // file), seals on the way out.
    let zone = dir.join("zone.txt");
    std::fs::write(
        &zone,
        format!("{}. IN TXT \"{}\"\n", ctx.rsa.dns_name(), ctx.rsa.record),
    )
    .map_err(|e| e.to_string())?;
    let listen = ctx.inet(ctx.milter_port);
    let cfg = format!(
        "listen = \"{listen}\"\nauthserv_id = \"{LIST_DOMAIN}\"\n\
         internal_networks = []\nsigning_daemons = [\"ORIGINATING\"]\n\
         on_error = \"tempfail\"\non_refuse = \"reject\"\nkey_zone_file = \"{}\"\n\
         [arc]\ndomain = \"{LIST_DOMAIN}\"\nselector = \"{}\"\nfile = \"{}\"\n\
         [[key]]\ndomain = \"{LIST_DOMAIN}\"\nselector = \"{}\"\nfile = \"{}\"\n\
         schemes = [\"dkim2\"]\n[dkim2]\nrecord_changes = true\n",
        zone.display(),
        arc_key.selector,
        arc_key.file.display(),
        arc_key.selector,
        arc_key.file.display()
    );
    let mass = Mass::start(ctx, "list", &cfg).map_err(|e| {
        format!("mass serve with an [arc] table (issue 11: ARC sealing in mass serve): {e}")
    })?;

    // Postfix delivers the list domain to mlmmj; the rest goes to the sink.
    let transport = dir.join("transport");
    let valias = dir.join("virtual");
    std::fs::write(&transport, format!("{LIST_DOMAIN} local:\n")).map_err(|e| e.to_string())?;
    std::fs::write(
        &valias,
        format!("{LIST}@{LIST_DOMAIN} nobody@{LIST_DOMAIN}\n"),
    )
    .map_err(|e| e.to_string())?;
    let extra = format!(
        "transport_maps = texthash:{}\nvirtual_alias_maps = texthash:{}\n\
         mailbox_command = /usr/bin/mlmmj-receive -L {}/\n",
        transport.display(),
        valias.display(),
        list_dir.display()
    );
    let sink = ctx.sink("list");
    sh(ctx
        .mta
        .cmd(&["up", &listen, &sink.display().to_string()])
        .env("MTA_EXTRA_MAIN_CF", &extra))?;

    // The author's messages, signed by mass at the author's host; dkimpy
    // checks them before they go anywhere.
    let mut messages = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let file = dir.join(format!("author/{i:03}.eml"));
        std::fs::write(&file, author_message(i)).map_err(|e| e.to_string())?;
        let signed = Command::new(&ctx.mass)
            .args(["sign", "--key"])
            .arg(&ctx.rsa.file)
            .args(["--domain", &ctx.rsa.domain, "--selector", &ctx.rsa.selector])
            .arg(&file)
            .output()
            .map_err(|e| format!("mass sign: {e}"))?;
        if !signed.status.success() {
            return Err(format!(
                "mass sign: {}",
                String::from_utf8_lossy(&signed.stderr).trim()
            ));
        }
        std::fs::write(&file, &signed.stdout).map_err(|e| e.to_string())?;
        // The author's DKIM2 hop, for the transaction that posts it.
        let signed = Command::new(&ctx.mass)
            .args(["dkim2", "sign", "--key"])
            .arg(&ctx.rsa.file)
            .args(["--domain", &ctx.rsa.domain, "--selector", &ctx.rsa.selector])
            .args([
                "--mail-from",
                AUTHOR,
                "--rcpt",
                &format!("{LIST}@{LIST_DOMAIN}"),
            ])
            .arg(&file)
            .output()
            .map_err(|e| format!("mass dkim2 sign: {e}"))?;
        if !signed.status.success() {
            return Err(format!(
                "mass dkim2 sign: {}",
                String::from_utf8_lossy(&signed.stderr).trim()
            ));
        }
        std::fs::write(&file, &signed.stdout).map_err(|e| e.to_string())?;
        messages.push(signed.stdout);
    }
    let (n, sigs, ok) = dkimpy_all(&dir.join("author"), &[&ctx.rsa])?;
    if n != MESSAGES || sigs != MESSAGES || ok != MESSAGES {
        return Err(format!(
            "before the list, dkimpy passes {ok} of {sigs} signatures on {n} messages \
             (want {MESSAGES} of {MESSAGES})"
        ));
    }

    // Post them all, then wait for every subscriber's copy.
    let t0 = Instant::now();
    let accepted = post(ctx.mta.smtp, &messages)?;
    let want = accepted * SUBSCRIBERS.len();
    let (arrived, took) = wait_settled(&sink, want, t0, Duration::from_secs(180));
    let log = mass.log_text();
    mass.stop()?;
    // mass serve's own account: the author's signature verified on arrival,
    // and the sets it sealed on the way out.
    let verified_pass = log
        .lines()
        .filter(|l| l.contains("action=\"verify\"") && l.contains("verdicts=\"pass:example.com/"))
        .count();
    let sealed_log = log.lines().filter(|l| l.contains("ARC-sealed")).count();
    let dkim2_arrival = log
        .lines()
        .filter(|l| l.contains("action=\"verify\"") && l.contains("dkim2=pass"))
        .count();
    let dkim2_hops = log
        .lines()
        .filter(|l| l.contains("DKIM2 hop signed") && l.contains("with a recipe"))
        .count();

    let records = [&ctx.rsa, &arc_key];
    let t = check_sink(&sink, &records)?;
    let d2 = check_sink_dkim2(ctx, &dir, &sink, &records)?;
    let sealed = t.sealed;
    let summary = format!(
        "{MESSAGES} signed by mass sign, {accepted} accepted for {LIST}@{LIST_DOMAIN} \
         ({} subscribers), {arrived} at the sink in {took:.1}s; mass serve: \
         {verified_pass} dkim=pass on arrival, {sealed_log} ARC sets sealed; dkimpy: {} DKIM fail, \
         {} DKIM pass, {} ARC cv=pass, {} AAR i=1 with the author's dkim=pass; \
         {} tagged, {} with the footer; DKIM2: {dkim2_arrival} dkim2=pass on arrival, \
         {dkim2_hops} list hops signed with a recipe, {} chains passed in mass and {} in \
         mail-auth of {} copies",
        SUBSCRIBERS.len(),
        t.dkim_fail,
        t.dkim_pass,
        t.arc_pass,
        t.aar_pass,
        t.tagged,
        t.footer,
        d2.mass_pass,
        d2.peer_pass,
        d2.copies
    );
    let all = |n: usize| n == want && want == MESSAGES * SUBSCRIBERS.len();
    if sealed == 0 && arrived > 0 {
        return Err(format!(
            "no ARC set on any message at the sink: mass serve sealed none (ARC \
             sealing for [arc] in hosted/src/milter, issue 11); {summary}; mass log:\n{}",
            tail(&log, 20)
        ));
    }
    if accepted != MESSAGES
        || arrived != want
        || !all(t.messages)
        || !all(t.dkim_fail)
        || !all(t.arc_pass)
        || !all(t.aar_pass)
        || !all(t.tagged)
        || !all(t.footer)
        || verified_pass != MESSAGES
        || !all(sealed_log)
        || dkim2_arrival != MESSAGES
        || !all(dkim2_hops)
        || !all(d2.mass_pass)
        || !all(d2.peer_pass)
    {
        return Err(format!(
            "want every copy tagged, with the footer, DKIM fail, ARC pass and the \
             author's dkim=pass in the AAR of i=1, and every DKIM2 chain passing: \
             {summary}; first odd ones:\n{}\n{}",
            t.odd.join("\n"),
            d2.odd.join("\n")
        ));
    }
    Ok(summary)
}

/// A directory others may traverse (mlmmj runs as `nobody`).
fn open_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// `mylist` under `dir/spool` made by `mlmmj-make-ml` (its questions
/// answered on standard input), its tunables, its subscribers; owned by
/// `nobody`. Returns the list directory.
fn make_list(ctx: &Ctx, dir: &Path) -> Result<std::path::PathBuf, String> {
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).map_err(|e| e.to_string())?;
    open_dir(&spool)?;
    let mut make = Command::new("/usr/bin/mlmmj-make-ml")
        .args(["-L", LIST, "-s"])
        .arg(&spool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("mlmmj-make-ml: {e}"))?;
    // The domain, the owner, the language of the list texts.
    if let Some(mut stdin) = make.stdin.take() {
        let answers = format!("{LIST_DOMAIN}\npostmaster@{LIST_DOMAIN}\nen\n");
        stdin
            .write_all(answers.as_bytes())
            .map_err(|e| format!("mlmmj-make-ml: {e}"))?;
    }
    let out = make
        .wait_with_output()
        .map_err(|e| format!("mlmmj-make-ml: {e}"))?;
    let list = spool.join(LIST);
    if !out.status.success() || !list.join("control/listaddress").exists() {
        return Err(format!(
            "mlmmj-make-ml failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let control = |name: &str, text: &str| {
        std::fs::write(list.join("control").join(name), text)
            .map_err(|e| format!("control/{name}: {e}"))
    };
    control("prefix", &format!("{PREFIX}\n"))?;
    control("footer", &format!("-- \n{FOOTER_MARK}\n"))?;
    // Out through the submission port: internal to mass serve, which seals.
    control("relayhost", "127.0.0.1\n")?;
    control("smtpport", &format!("{}\n", ctx.mta.submit))?;
    sh(Command::new("chown").args(["-R", "nobody"]).arg(&list))?;
    for rcpt in SUBSCRIBERS {
        // -f -q -s: no moderation, no mail to the owner or the subscriber.
        sh(Command::new("/usr/bin/mlmmj-sub")
            .arg("-L")
            .arg(&list)
            .args(["-a", rcpt, "-f", "-q", "-s"]))?;
    }
    let listed = sh(Command::new("/usr/bin/mlmmj-list").arg("-L").arg(&list))?;
    let subscribed = SUBSCRIBERS.iter().filter(|r| listed.contains(*r)).count();
    if subscribed != SUBSCRIBERS.len() {
        return Err(format!(
            "mlmmj-list shows {subscribed} of {} subscribers:\n{listed}",
            SUBSCRIBERS.len()
        ));
    }
    Ok(list)
}

/// Message `i` from the author to the list.
fn author_message(i: usize) -> String {
    let mut m = format!(
        "From: Author <{AUTHOR}>\r\nTo: {LIST}@{LIST_DOMAIN}\r\n\
         Subject: list message {i}\r\nMessage-ID: <list-{i}@example.com>\r\n\
         Date: Wed, 02 Dec 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    );
    for line in 0..(3 + i % 17) {
        m.push_str(&format!(
            "message {i}, line {line}: the list adds a tag and a footer\r\n"
        ));
    }
    m
}

fn smtp_reply(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err(format!("connection closed after {all:?}"));
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes().get(3) == Some(&b' ') {
            return Ok(all.trim_end().to_string());
        }
    }
}

/// Post `messages` to the list in one SMTP session at `port`, from the
/// author; returns how many were accepted. A refusal is an error.
fn post(port: u16, messages: &[Vec<u8>]) -> Result<usize, String> {
    let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("port {port}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let mut say = |w: &mut TcpStream, line: &str| -> Result<String, String> {
        w.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        let reply = smtp_reply(&mut r)?;
        if reply.starts_with('2') || reply.starts_with('3') {
            Ok(reply)
        } else {
            Err(format!("{} -> {reply}", line.trim_end()))
        }
    };
    say(&mut w, "")?;
    say(&mut w, "EHLO author.example.com\r\n")?;
    let mut accepted = 0;
    for m in messages {
        say(&mut w, &format!("MAIL FROM:<{AUTHOR}>\r\n"))?;
        say(&mut w, &format!("RCPT TO:<{LIST}@{LIST_DOMAIN}>\r\n"))?;
        say(&mut w, "DATA\r\n")?;
        let mut data = String::new();
        for line in String::from_utf8_lossy(m).lines() {
            if line.starts_with('.') {
                data.push('.');
            }
            data.push_str(line);
            data.push_str("\r\n");
        }
        data.push_str(".\r\n");
        say(&mut w, &data)?;
        accepted += 1;
    }
    let _ = say(&mut w, "QUIT\r\n");
    Ok(accepted)
}

/// Wait until `dir` holds `want` messages (or `limit` passes), then a
/// second more for any extra: the count, and the seconds from `t0` until
/// `want` were there (or the limit).
fn wait_settled(dir: &Path, want: usize, t0: Instant, limit: Duration) -> (usize, f64) {
    let count = || std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    let deadline = Instant::now() + limit;
    while count() < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    (count(), took)
}

/// What dkimpy and a reading of the fields found at the sink.
#[derive(Default)]
struct Tally {
    messages: usize,
    dkim_pass: usize,
    dkim_fail: usize,
    arc_pass: usize,
    aar_pass: usize,
    sealed: usize,
    tagged: usize,
    footer: usize,
    /// The first few copies that are not as expected, one line each.
    odd: Vec<String>,
}

/// dkimpy on every message in `sink`: the author's DKIM signature, the ARC
/// chain, the AAR of `i=1`, the tag and the footer.
fn check_sink(sink: &Path, keys: &[&Key]) -> Result<Tally, String> {
    let script = r#"
import sys, os, re, dkim
target, authserv, domain, prefix, footer = sys.argv[1:6]
records = dict(zip(sys.argv[6::2], sys.argv[7::2]))
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    r = records.get(name.rstrip("."))
    return r.encode() if r else None
def fields(head):
    out = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + b" " + line.strip())
        elif b":" in line:
            n, v = line.split(b":", 1)
            out.append((n.strip().lower().decode(), v.strip()))
    return out
for f in sorted(os.listdir(target)):
    raw = open(os.path.join(target, f), "rb").read()
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    fs = fields(head)
    sigs = [v for n, v in fs if n == "dkim-signature"]
    mine = [i for i, v in enumerate(sigs) if re.search(rb"(^|[;\s])d=" + re.escape(domain.encode()) + rb"\s*(;|$)", v)]
    if not mine:
        dk = "none"
    else:
        # DKIM.verify raises ValidationError for a failed check (a body
        # hash mismatch): dkim.verify's fail.
        try:
            dk = "pass" if dkim.DKIM(raw).verify(idx=mine[0], dnsfunc=dnsfunc) else "fail"
        except dkim.ValidationError:
            dk = "fail"
        except Exception as e:
            dk = "error-" + type(e).__name__
    try:
        cv = dkim.arc_verify(raw, dnsfunc=dnsfunc)[0]
        cv = cv.decode() if isinstance(cv, bytes) else str(cv)
    except Exception as e:
        cv = "error-" + type(e).__name__
    aars = [v for n, v in fs if n == "arc-authentication-results" and re.match(rb"i\s*=\s*1\s*;", v)]
    if len(aars) != 1:
        aar = "count%d" % len(aars)
    else:
        v = aars[0]
        good = (re.match(rb"i\s*=\s*1\s*;\s*" + re.escape(authserv.encode()) + rb"\s*;", v)
                and re.search(rb"\bdkim\s*=\s*pass\b[^;]*\bheader\.d\s*=\s*" + re.escape(domain.encode()), v))
        aar = "pass" if good else "other"
    seals = sum(1 for n, _ in fs if n == "arc-seal")
    subject = b"".join(v for n, v in fs if n == "subject")
    tagged = int(subject.startswith(prefix.encode()))
    foot = int(footer.encode() in body)
    print(f, dk, cv, aar, seals, tagged, foot)
"#;
    let mut cmd = Command::new(python());
    cmd.arg("-c")
        .arg(script)
        .arg(sink)
        .args([LIST_DOMAIN, "example.com", PREFIX, FOOTER_MARK]);
    for k in keys {
        cmd.arg(k.dns_name()).arg(&k.record);
    }
    let out = sh(&mut cmd)?;
    let mut t = Tally::default();
    for line in out.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [file, dk, cv, aar, seals, tagged, foot] = w.as_slice() else {
            continue;
        };
        let Ok(seals) = seals.parse::<usize>() else {
            continue;
        };
        t.messages += 1;
        t.dkim_pass += usize::from(*dk == "pass");
        t.dkim_fail += usize::from(*dk == "fail");
        t.arc_pass += usize::from(*cv == "pass");
        t.aar_pass += usize::from(*aar == "pass");
        t.sealed += usize::from(seals > 0);
        t.tagged += usize::from(*tagged == "1");
        t.footer += usize::from(*foot == "1");
        let fine =
            *dk == "fail" && *cv == "pass" && *aar == "pass" && *tagged == "1" && *foot == "1";
        if !fine && t.odd.len() < 5 {
            t.odd.push(format!(
                "{file}: dkim={dk} arc cv={cv} aar(i=1)={aar} arc-seals={seals} \
                 tagged={tagged} footer={foot}"
            ));
        }
    }
    if t.messages == 0 && std::fs::read_dir(sink).map(|d| d.count()).unwrap_or(0) > 0 {
        return Err(format!("dkimpy output: {out}"));
    }
    Ok(t)
}

/// What `mass dkim2 verify` and mail-auth said of the copies at the sink.
#[derive(Default)]
struct Dkim2Tally {
    copies: usize,
    mass_pass: usize,
    peer_pass: usize,
    odd: Vec<String>,
}

/// The envelope smtp-sink recorded at the top of a copy (`X-Mail-Args`,
/// `X-Rcpt-Args`): MAIL FROM and the RCPT TOs, each its first argument.
fn sink_envelope(raw: &str) -> (String, Vec<String>) {
    let mut from = String::new();
    let mut rcpts = Vec::new();
    for line in raw.lines() {
        if line.trim().is_empty() {
            break;
        }
        let first = |v: &str| v.split_whitespace().next().unwrap_or_default().to_string();
        if let Some(v) = line.strip_prefix("X-Mail-Args:") {
            from = first(v);
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args:") {
            rcpts.push(first(v));
        }
    }
    (from, rcpts)
}

/// Every copy's DKIM2 chain, verified for its own envelope by `mass dkim2
/// verify` and by mail-auth (built from `xtask/examples/dkim2_peer.rs`).
fn check_sink_dkim2(
    ctx: &Ctx,
    dir: &Path,
    sink: &Path,
    keys: &[&Key],
) -> Result<Dkim2Tally, String> {
    let zone = dir.join("dkim2-zone.txt");
    let text: String = keys
        .iter()
        .map(|k| format!("{}. IN TXT \"{}\"\n", k.dns_name(), k.record))
        .collect();
    std::fs::write(&zone, text).map_err(|e| e.to_string())?;
    sh(Command::new("cargo").args(["build", "-q", "-p", "xtask", "--example", "dkim2_peer"]))?;
    let peer = crate::util::target_dir().join("debug/examples/dkim2_peer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let mut t = Dkim2Tally::default();
    let mut files: Vec<_> = std::fs::read_dir(sink)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for file in files {
        let raw = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let (from, rcpts) = sink_envelope(&raw);
        let envelope = |cmd: &mut Command| {
            cmd.args(["--mail-from", &from]);
            for r in &rcpts {
                cmd.args(["--rcpt", r]);
            }
        };
        let mut mass = Command::new(&ctx.mass);
        mass.args(["dkim2", "verify", "--json", "--zone"])
            .arg(&zone);
        envelope(&mut mass);
        let mass_out = mass.arg(&file).output().map_err(|e| e.to_string())?;
        let mass_says = String::from_utf8_lossy(&mass_out.stdout).into_owned();
        let mut peer_cmd = Command::new(&peer);
        peer_cmd
            .args(["verify", "--now", &now, "--zone"])
            .arg(&zone);
        envelope(&mut peer_cmd);
        let peer_out = peer_cmd
            .stdin(std::fs::File::open(&file).map_err(|e| e.to_string())?)
            .output()
            .map_err(|e| format!("{}: {e}", peer.display()))?;
        let peer_says = String::from_utf8_lossy(&peer_out.stdout).into_owned();
        t.copies += 1;
        let mass_ok = mass_says.contains("\"result\":\"pass\"");
        let peer_ok = peer_says.starts_with("pass");
        t.mass_pass += usize::from(mass_ok);
        t.peer_pass += usize::from(peer_ok);
        if (!mass_ok || !peer_ok) && t.odd.len() < 5 {
            t.odd.push(format!(
                "{}: mail from {from} to {rcpts:?}: mass {} / mail-auth {}{}",
                file.display(),
                mass_says.trim(),
                peer_says.trim(),
                String::from_utf8_lossy(&peer_out.stderr).trim()
            ));
        }
    }
    Ok(t)
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
