//! `memory`: 100 connections each sending a 10 MiB message.

use super::{Ctx, Mass, MilterClient, signed_reply};
use std::sync::Arc;
use std::time::Instant;

pub(super) fn step_memory(ctx: &Ctx) -> Result<String, String> {
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
