//! `reload`: 8 SMTP sessions send through Postfix without pause while
//! `mass serve` is reloaded (SIGHUP) with a second key, then with a broken
//! config (refused; the old one stays in force), then stopped (SIGTERM,
//! drain) and started again, as a service manager would.
//!
//! Nothing may be lost: every message is either delivered signed, or was
//! refused with a 4xx at SMTP time, re-sent, and then delivered signed.
//! Every signature in the sink must verify (dkimpy), every message must
//! have at least one, and the messages accepted after the broken reload
//! must still carry both.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::load::{self, Session, sink_by_tag};
use super::{Ctx, Mass, Smtp, dkimpy_all};

/// What happened to one message (one tag), over all its tries.
#[derive(Debug, Clone, Default)]
struct Fate {
    tries: usize,
    tempfails: usize,
    broken: usize,
    /// Accepted this long after the start.
    accepted_at: Option<Duration>,
    /// When the last try began, after the start.
    last_try: Duration,
    last: Option<String>,
}

const SESSIONS: usize = 8;

fn sender(
    port: u16,
    t: usize,
    stop: &AtomicBool,
    start: Instant,
    fates: &Mutex<BTreeMap<String, Fate>>,
) {
    let mut session: Option<Session> = None;
    let mut i = 0usize;
    // Give up on a message only well after the daemon is back.
    let give_up = Duration::from_secs(40);
    while !stop.load(Ordering::SeqCst) {
        let tag = format!("reload-{t}-{i:04}");
        i += 1;
        let msg = load::message(&tag, 1500 + 300 * (i % 7));
        let first = Instant::now();
        loop {
            let began = start.elapsed();
            let outcome = match session.as_mut() {
                Some(s) => s.send(msg.as_bytes()),
                None => match Session::open(port) {
                    Ok(s) => {
                        session = Some(s);
                        continue;
                    }
                    Err(f) => f,
                },
            };
            let mut all = match fates.lock() {
                Ok(all) => all,
                Err(_) => return,
            };
            let fate = all.entry(tag.clone()).or_default();
            fate.tries += 1;
            fate.last_try = began;
            let done = match &outcome {
                Smtp::Accepted => {
                    fate.accepted_at = Some(start.elapsed());
                    true
                }
                Smtp::TempFail(r) => {
                    fate.tempfails += 1;
                    fate.last = Some(r.clone());
                    false
                }
                Smtp::PermFail(r) => {
                    fate.last = Some(r.clone());
                    true
                }
                Smtp::Broken(r) => {
                    fate.broken += 1;
                    fate.last = Some(r.clone());
                    false
                }
            };
            drop(all);
            if done {
                break;
            }
            // Refused or cut off: a fresh session (Postfix keeps a failed
            // milter failed for the rest of a session), a pause, again.
            if let Some(s) = session.take() {
                s.quit();
            }
            if first.elapsed() > give_up {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    if let Some(s) = session {
        s.quit();
    }
}

pub(super) fn step_reload(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let one_key = ctx.config(&listen, "drain_timeout = 10", &[&ctx.rsa]);
    let two_keys = ctx.config(&listen, "drain_timeout = 10", &[&ctx.rsa, &ctx.ed]);
    let (mut mass, sink) = ctx.serve_behind_postfix("reload", &listen, &one_key)?;
    let stop = Arc::new(AtomicBool::new(false));
    let fates: Arc<Mutex<BTreeMap<String, Fate>>> = Arc::default();
    let start = Instant::now();
    let threads: Vec<_> = (0..SESSIONS)
        .map(|t| {
            let (stop, fates) = (stop.clone(), fates.clone());
            let port = ctx.mta.smtp;
            std::thread::spawn(move || sender(port, t, &stop, start, &fates))
        })
        .collect();
    let at = |s: f64| {
        let until = Duration::from_secs_f64(s);
        if let Some(d) = until.checked_sub(start.elapsed()) {
            std::thread::sleep(d);
        }
    };
    at(3.0);
    mass.rewrite_config(&two_keys)?;
    mass.signal("HUP")?;
    let good_reload = start.elapsed();
    at(6.0);
    mass.rewrite_config("listen = \"inet:127.0.0.1:1\"\nauthserv_id = \n")?;
    mass.signal("HUP")?;
    let bad_reload = start.elapsed();
    at(9.0);
    mass.signal("TERM")?;
    let term = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(15);
    while mass.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let drained_in = start.elapsed() - term;
    let status = mass.child.try_wait().ok().flatten();
    let log1 = mass.log_text();
    // The service manager starts it again (with the config that works).
    at(11.0);
    mass.rewrite_config(&two_keys)?;
    let mass2 = Mass::start(ctx, "reload-2", &two_keys)?;
    let restarted = start.elapsed();
    at(15.0);
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let fates = fates.lock().map(|f| f.clone()).map_err(|_| "lock")?;
    let accepted = fates.values().filter(|f| f.accepted_at.is_some()).count();
    let arrived = load::wait_sink(&sink, accepted, Duration::from_secs(60));
    let log2 = mass2.log_text();
    mass2.stop()?;
    drop(mass);

    let delivered = sink_by_tag(&sink);
    let (msgs, total_sigs, ok_sigs) = dkimpy_all(&sink, &[&ctx.rsa, &ctx.ed])?;
    let sent = fates.len();
    let first_try = fates
        .values()
        .filter(|f| f.accepted_at.is_some() && f.tries == 1)
        .count();
    let retried = fates
        .values()
        .filter(|f| f.accepted_at.is_some() && f.tries > 1)
        .count();
    // In flight when SIGTERM came, and signed: the drain finished them.
    let drained = fates
        .values()
        .filter(|f| f.last_try < term && f.accepted_at.is_some_and(|a| a > term))
        .count();
    let tempfails: usize = fates.values().map(|f| f.tempfails).sum();
    let broken: usize = fates.values().map(|f| f.broken).sum();
    let mut lost = Vec::new();
    let mut dups = 0;
    let mut unsigned = 0;
    let mut single_after_bad = Vec::new();
    let mut dual = 0;
    for (tag, fate) in &fates {
        let got = delivered.get(tag).map(Vec::as_slice).unwrap_or_default();
        if fate.accepted_at.is_none() || got.is_empty() {
            lost.push(format!("{tag}: {fate:?}, {} in the sink", got.len()));
            continue;
        }
        dups += got.len() - 1;
        for m in got {
            if m.signatures == 0 {
                unsigned += 1;
            }
            if m.signatures == 2 {
                dual += 1;
            }
            // Accepted well after the broken reload, before the stop:
            // the two-key config must still be in force.
            let when = fate.accepted_at.unwrap_or_default();
            if when > bad_reload + Duration::from_millis(500) && when < term && m.signatures != 2 {
                single_after_bad.push(tag.clone());
            }
        }
    }
    let mut problems = Vec::new();
    if !lost.is_empty() {
        problems.push(format!(
            "{} lost: {}",
            lost.len(),
            lost.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        ));
    }
    if unsigned != 0 || ok_sigs != total_sigs {
        problems.push(format!(
            "{unsigned} unsigned in the sink; dkimpy {ok_sigs}/{total_sigs}"
        ));
    }
    if !arrived {
        problems.push(format!(
            "{} messages in the sink, {accepted} accepted",
            load::sink_count(&sink)
        ));
    }
    if dual == 0 {
        problems.push("no message carries the key added by SIGHUP".into());
    }
    if !single_after_bad.is_empty() {
        problems.push(format!(
            "{} messages accepted after the broken reload lack the second key: {:?}",
            single_after_bad.len(),
            single_after_bad.iter().take(3).collect::<Vec<_>>()
        ));
    }
    if !log1.contains("reload failed") {
        problems.push("the broken config was not reported as a failed reload".into());
    }
    let exit = status.and_then(|s| s.code());
    if exit != Some(0) {
        problems.push(format!("mass serve after SIGTERM: {status:?}"));
    }
    if log1.contains("panicked") || log2.contains("panicked") {
        problems.push("mass serve panicked".into());
    }
    let summary = format!(
        "{SESSIONS} sessions, {sent} messages: {first_try} delivered signed at the first try, \
         {retried} refused with 4xx and delivered when re-sent ({tempfails} 4xx, {broken} broken \
         sessions), {} lost, {dups} duplicates, {unsigned} unsigned; {dual} with both keys; \
         SIGHUP +ed25519 at {:.1}s, broken config at {:.1}s (refused, kept), SIGTERM at {:.1}s \
         (exit {exit:?} after {:.2}s, {drained} messages in flight finished and signed), restarted at {:.1}s; sink {msgs} messages, dkimpy \
         {ok_sigs}/{total_sigs} signatures",
        lost.len(),
        good_reload.as_secs_f64(),
        bad_reload.as_secs_f64(),
        term.as_secs_f64(),
        drained_in.as_secs_f64(),
        restarted.as_secs_f64()
    );
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{summary}\n  {}", problems.join("\n  ")))
    }
}
