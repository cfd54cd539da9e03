//! The BATV part of `cargo xtask e2e`: `mass serve` with a `[batv]` table behind a
//! real Postfix (`../shared/harness/mta-harness.sh`, a throwaway loopback instance
//! relaying to smtp-sink; needs root).
//!
//! 1. Mail submitted on the submission port (`{daemon_name}=ORIGINATING`, so internal)
//!    reaches the sink with a `prvs=` envelope sender that `mass batv check` accepts,
//!    and a DKIM signature (rsa-sha256) that dkimpy verifies. The key also has
//!    `schemes = ["dkim", "domainkeys"]` (issue 6): a DomainKey-Signature sits below
//!    the DKIM-Signature, and Mail::DKIM and `mass verify` verify both.
//! 2. A bounce (`MAIL FROM:<>`) from outside to a forged prvs address gets 550 5.7.1,
//!    and so does one to an untagged address of the BATV domain.
//! 3. A bounce to a valid prvs address is delivered to the untagged recipient.
//!
//! Ports and the harness state are private to the run, so it can run beside others.

use super::Harness;
use crate::interop::batv::{mass_check, mass_sign};
use crate::util;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOMAIN: &str = "example.com";
const SENDER: &str = "Sender.Name+list@example.com";

/// Runs the BATV end-to-end steps into `run`.
pub fn run(run: &mut util::Run) {
    let harness = super::harness_path();
    if !harness.is_file() {
        run.fail(format!("batv e2e: {} is missing", harness.display()));
        return;
    }
    if !util::is_root() {
        run.fail("batv e2e: mta-harness.sh needs root".into());
        return;
    }
    let mut deps = Command::new("bash");
    deps.arg(&harness).arg("deps");
    if !run.command("mta-harness.sh deps", deps) {
        return;
    }
    // Mail::DKIM checks the DomainKey-Signature beside mass verify.
    let maildkim = util::need_apt_peer(
        run,
        "Mail::DKIM (checks e2e-batv's DomainKey-Signature)",
        &["libmail-dkim-perl"],
    );
    let Some((work, mass)) = util::scratch_with_mass(run, "batv-e2e", true) else {
        return;
    };
    let Some(ports) = free_ports::<4>() else {
        run.fail("batv e2e: no free loopback ports".into());
        let _ = fs::remove_dir_all(&work);
        return;
    };
    let env = Harness {
        script: harness,
        state: work.join("mta"),
        smtp: ports[1],
        submit: ports[2],
        sink: ports[3],
        timeout_secs: 60,
    };
    let mut server = None;
    let result = exercise(&mass, &env, &work, ports[0], maildkim, &mut server);
    // Tear down what we started, whatever happened.
    let _ = env.cmd(&["down", "--purge"]).output();
    if let Some(mut child) = server {
        let _ = child.kill();
        let _ = child.wait();
    }
    let failed = result
        .as_ref()
        .map_or(true, |steps| steps.iter().any(|(_, r)| r.is_err()));
    if failed && let Ok(log) = fs::read_to_string(work.join("serve.log")) {
        eprintln!("--- mass serve log (last lines) ---");
        for line in log.lines().rev().take(20).collect::<Vec<_>>().iter().rev() {
            eprintln!("{line}");
        }
    }
    let _ = fs::remove_dir_all(&work);
    match result {
        Ok(steps) => {
            for (label, r) in steps {
                run.check(&label, r);
            }
        }
        Err(e) => run.fail(format!("batv e2e: {e}")),
    }
}

type Steps = Vec<(String, Result<(), String>)>;

fn exercise(
    mass: &Path,
    env: &Harness,
    work: &Path,
    milter_port: u16,
    maildkim: bool,
    server: &mut Option<Child>,
) -> Result<Steps, String> {
    let secret = work.join("batv.secret");
    util::write_private(
        &secret,
        format!("e2e-{}-secret\n", std::process::id()).as_bytes(),
    )
    .map_err(|e| format!("cannot write the secret: {e}"))?;
    // A DKIM key too, so the outgoing message is signed and tagged in one pass; RSA,
    // so that it signs DomainKeys as well.
    let keygen = util::mass_keygen(mass, "rsa-2048", DOMAIN, "batv", work)?;
    let record = work.join("batv.txt");
    fs::write(&record, keygen).map_err(|e| e.to_string())?;
    let config = work.join("mass.toml");
    fs::write(
        &config,
        format!(
            "listen = \"inet:127.0.0.1:{milter_port}\"\n\
             authserv_id = \"mx.harness.test\"\n\
             # Everything comes from loopback: only the submission port counts as internal.\n\
             internal_networks = []\n\
             signing_daemons = [\"ORIGINATING\"]\n\
             [[key]]\n\
             domain = \"{DOMAIN}\"\n\
             selector = \"batv\"\n\
             file = \"batv.{DOMAIN}.pem\"\n\
             schemes = [\"dkim\", \"domainkeys\"]\n\
             [batv]\n\
             secret_file = \"batv.secret\"\n\
             local_domains = [\"{DOMAIN}\"]\n"
        ),
    )
    .map_err(|e| format!("cannot write the config: {e}"))?;
    let log = fs::File::create(work.join("serve.log")).map_err(|e| e.to_string())?;
    let child = Command::new(mass)
        .args(["serve", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start mass serve: {e}"))?;
    *server = Some(child);
    wait_port(milter_port, Duration::from_secs(20))
        .map_err(|_| "mass serve did not listen".to_string())?;

    let sink = work.join("sink");
    let up = env
        .cmd(&[
            "up",
            &format!("inet:127.0.0.1:{milter_port}"),
            &sink.to_string_lossy(),
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !up.status.success() {
        return Err(format!(
            "mta-harness.sh up: {}",
            String::from_utf8_lossy(&up.stderr).trim()
        ));
    }

    let mut steps = Steps::new();

    // 1. Outgoing mail from the submission port gets a prvs= envelope sender and a
    //    DKIM signature that dkimpy verifies.
    let sent = swaks(env.submit, SENDER, "someone@example.net")?;
    let outgoing = if !sent.0 {
        Err(format!("submission refused: {}", sent.1))
    } else {
        wait_for_sink(env, 1)?;
        let (path, msg) = newest_sink_message(&sink)?;
        let verified = env
            .cmd(&["verify", &path.to_string_lossy()])
            .env("MTA_VERIFY_TXT", &record)
            .env("MTA_VERIFY_NAME", format!("batv._domainkey.{DOMAIN}"))
            .output()
            .map_err(|e| e.to_string())?;
        match envelope_sender(&msg) {
            _ if !verified.status.success() => Err(format!(
                "DKIM signature not verified by dkimpy: {} {}",
                String::from_utf8_lossy(&verified.stdout).trim(),
                String::from_utf8_lossy(&verified.stderr).trim()
            )),
            Some(from) if from.starts_with("prvs=") && from.ends_with(&format!("={SENDER}")) => {
                match mass_check(mass, &secret, &from)? {
                    Some(orig) if orig == SENDER => {
                        check_both_signatures(mass, &record, &path, maildkim)
                    }
                    other => Err(format!("mass batv check {from}: {other:?}")),
                }
            }
            other => Err(format!("sink envelope sender {other:?}")),
        }
    };
    steps.push((
        "batv e2e: submitted mail reaches the sink DKIM- and DomainKeys-signed with a valid \
         prvs= envelope sender"
            .into(),
        outgoing,
    ));

    // 2. Bounces from outside to a forged tag, and to an untagged address: 550 5.7.1.
    for (what, rcpt) in [
        ("a forged prvs address", format!("prvs=0123abcdef={SENDER}")),
        ("an untagged address", SENDER.to_string()),
    ] {
        let (ok, transcript) = swaks(env.smtp, "", &rcpt)?;
        let refused = !ok && transcript.contains("550 5.7.1");
        steps.push((
            format!("batv e2e: a bounce to {what} gets 550 5.7.1"),
            if refused {
                Ok(())
            } else {
                Err(format!(
                    "not refused with 550 5.7.1: {}",
                    last_lines(&transcript, 6)
                ))
            },
        ));
    }

    // 3. A bounce to a valid tag is delivered to the untagged recipient.
    let tagged = mass_sign(mass, &secret, &[], SENDER)?
        .ok_or_else(|| format!("mass batv sign {SENDER} failed"))?;
    let (ok, transcript) = swaks(env.smtp, "", &tagged)?;
    let delivered = if !ok {
        Err(format!(
            "bounce to {tagged} refused: {}",
            last_lines(&transcript, 6)
        ))
    } else {
        wait_for_sink(env, 2)?;
        let (_, msg) = newest_sink_message(&sink)?;
        let rcpts = envelope_recipients(&msg);
        if rcpts == [SENDER.to_string()] {
            Ok(())
        } else {
            Err(format!("sink recipients {rcpts:?}, wanted [{SENDER}]"))
        }
    };
    steps.push((
        "batv e2e: a bounce to a valid prvs address reaches the untagged recipient".into(),
        delivered,
    ));
    Ok(steps)
}

/// The DKIM-Signature above the DomainKey-Signature, and both verified by Mail::DKIM
/// (every signature must pass; when `maildkim`, installed) and by `mass verify`
/// (`dkim=pass` and the legacy `domainkeys=pass`).
fn check_both_signatures(
    mass: &Path,
    zone: &Path,
    message: &Path,
    maildkim: bool,
) -> Result<(), String> {
    let text = fs::read(message)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| e.to_string())?;
    match (
        text.find("\nDKIM-Signature:"),
        text.find("\nDomainKey-Signature:"),
    ) {
        (Some(dkim), Some(dk)) if dkim < dk => {}
        (dkim, dk) => {
            return Err(format!(
                "want a DKIM-Signature above a DomainKey-Signature, found them at {dkim:?} \
                 and {dk:?}"
            ));
        }
    }
    if maildkim {
        let peer = Command::new("perl")
            .arg(util::root().join("tests/interop/maildkim_peer.pl"))
            .args(["verify", "--zone"])
            .arg(zone)
            .arg(message)
            .output()
            .map_err(|e| format!("cannot run perl: {e}"))?;
        if !peer.status.success() {
            return Err(format!(
                "Mail::DKIM does not verify both signatures: {}",
                String::from_utf8_lossy(&peer.stdout).trim()
            ));
        }
    }
    let ours = Command::new(mass)
        .args(["verify", "--zone"])
        .arg(zone)
        .arg(message)
        .output()
        .map_err(|e| format!("cannot run mass verify: {e}"))?;
    let ar = String::from_utf8_lossy(&ours.stdout);
    if ours.status.success() && ar.contains("dkim=pass") && ar.contains("domainkeys=pass") {
        eprintln!("xtask[e2e]: {}", ar.trim().replace("\n\t", " "));
        Ok(())
    } else {
        Err(format!("mass verify: {} {}", ours.status, ar.trim()))
    }
}

/// Sends one small message with swaks; (accepted, transcript). `from` empty = `<>`.
fn swaks(port: u16, from: &str, to: &str) -> Result<(bool, String), String> {
    // swaks spells the null sender "<>" (an empty --from makes it prompt).
    let from = if from.is_empty() { "<>" } else { from };
    let out = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port.to_string()])
        .args(["--from", from, "--to", to])
        .args(["--helo", "client.harness.test", "--timeout", "30"])
        .args(["--header", "Subject: batv e2e"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run swaks: {e}"))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

fn wait_for_sink(env: &Harness, n: usize) -> Result<(), String> {
    let out = env
        .cmd(&["wait", &n.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "sink did not get {n} message(s): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn newest_sink_message(dir: &Path) -> Result<(PathBuf, String), String> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    let (_, path) = files.pop().ok_or("the sink is empty")?;
    let text = fs::read(&path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, text))
}

/// smtp-sink -d writes the envelope as `X-Mail-Args:` / `X-Rcpt-Args:` lines.
fn envelope_sender(msg: &str) -> Option<String> {
    msg.lines()
        .find_map(|l| l.strip_prefix("X-Mail-Args: "))
        .and_then(angle_address)
}

fn envelope_recipients(msg: &str) -> Vec<String> {
    msg.lines()
        .filter_map(|l| l.strip_prefix("X-Rcpt-Args: "))
        .filter_map(angle_address)
        .collect()
}

fn angle_address(args: &str) -> Option<String> {
    let start = args.find('<')? + 1;
    let end = start + args[start..].find('>')?;
    Some(args[start..end].to_string())
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// N distinct free loopback ports (bound together, then released).
fn free_ports<const N: usize>() -> Option<[u16; N]> {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .ok()?;
    let mut ports = [0u16; N];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l.local_addr().ok()?.port();
    }
    Some(ports)
}

fn wait_port(port: u16, limit: Duration) -> Result<(), ()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sink_envelope() {
        let msg = "X-Client-Addr: 127.0.0.1\nX-Mail-Args: FROM:<prvs=1792abcdef=a@b> SIZE=10\n\
                   X-Rcpt-Args: TO:<x@y> NOTIFY=NEVER\nX-Rcpt-Args: TO:<z@w>\n\nbody\n";
        assert_eq!(envelope_sender(msg).as_deref(), Some("prvs=1792abcdef=a@b"));
        assert_eq!(envelope_recipients(msg), ["x@y", "z@w"]);
        assert_eq!(angle_address("FROM:<>").as_deref(), Some(""));
    }
}
