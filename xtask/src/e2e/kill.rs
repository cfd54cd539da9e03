//! `kill`: SIGKILL `mass serve` while Postfix is sending.

use super::{Ctx, Smtp, sink_signatures, smtp_send};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(super) fn step_kill(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, "", &[&ctx.rsa]);
    let (mut mass, sink) = ctx.serve_behind_postfix("kill", &listen, &cfg)?;
    let outcomes: Arc<Mutex<BTreeMap<String, Smtp>>> = Arc::default();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let outcomes = outcomes.clone();
            let port = ctx.mta.smtp;
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
