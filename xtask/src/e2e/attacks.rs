//! `attacks`: malformed packets, idle connections and slowloris clients.

use super::clients::packet;
use super::{Ctx, MilterClient};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub(super) fn step_attacks(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, "read_timeout = 3", &[&ctx.rsa]);
    let (mut mass, sink) = ctx.serve_behind_postfix("attacks", &listen, &cfg)?;
    let port = ctx.milter_port;
    let mut report = Vec::new();
    let mut failures = Vec::new();

    // Row 30: length 0, 0xFFFFFFFF, above the maximum, unknown command.
    let cases: [(&str, Vec<u8>); 4] = [
        ("length 0", vec![0, 0, 0, 0]),
        ("length 0xFFFFFFFF", vec![0xff, 0xff, 0xff, 0xff, b'B']),
        ("length 100000", {
            let mut p = 100_000u32.to_be_bytes().to_vec();
            p.push(b'B');
            p
        }),
        ("unknown command Z", packet(b'Z', b"1234")),
    ];
    for (name, bytes) in cases {
        let mut c = MilterClient::connect(port)?;
        c.negotiate()?;
        c.s.write_all(&bytes).map_err(|e| e.to_string())?;
        match c.time_to_close(Duration::from_secs(2)) {
            Some(t) => report.push(format!("{name}: closed in {} ms", t.as_millis())),
            None => failures.push(format!("{name}: not closed within 2 s")),
        }
    }
    let rss_after_huge = mass.peak_rss_kib();
    if rss_after_huge > 64 * 1024 {
        failures.push(format!(
            "peak RSS {rss_after_huge} KiB after the 4 GiB claim"
        ));
    }

    // Row 31: three length bytes then silence.
    let mut c = MilterClient::connect(port)?;
    c.s.write_all(&[0, 0, 0]).map_err(|e| e.to_string())?;
    match c.time_to_close(Duration::from_secs(10)) {
        Some(t) if t < Duration::from_secs(5) => report.push(format!(
            "3 length bytes then silence: closed after {:.1} s",
            t.as_secs_f64()
        )),
        other => failures.push(format!("3 length bytes then silence: {other:?}")),
    }

    // 1,000 idle connections and 4 slowloris clients, held while Postfix sends.
    let idle: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    let opened = idle.len();
    let slow: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || -> Result<Duration, String> {
                let mut c = MilterClient::connect(port)?;
                c.negotiate()?;
                let p = packet(b'L', &[b'x'; 2000]);
                let t0 = Instant::now();
                for b in &p {
                    if c.s.write_all(&[*b]).is_err() {
                        return Ok(t0.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    if t0.elapsed() > Duration::from_secs(20) {
                        return Err("still open after 20 s of trickling".into());
                    }
                }
                Err("the whole packet went through".into())
            })
        })
        .collect();
    let rate = ctx.send(100, 2000);
    let verdict = ctx.harness_verify(&sink, &ctx.rsa).unwrap_or_else(|e| e);
    for (i, t) in slow.into_iter().enumerate() {
        match t.join() {
            Ok(Ok(d)) => report.push(format!(
                "slowloris {i}: cut off after {:.1} s",
                d.as_secs_f64()
            )),
            Ok(Err(e)) => failures.push(format!("slowloris {i}: {e}")),
            Err(_) => failures.push(format!("slowloris {i}: thread panicked")),
        }
    }
    let alive = mass.alive();
    drop(idle);
    let peak = mass.peak_rss_kib();
    let log = mass.log_text();
    mass.stop()?;
    match rate {
        Ok(r) if verdict.contains("100 pass, 0 fail, 0 unsigned") => report.push(format!(
            "with {opened} idle + 4 slowloris connections open, 100 Postfix messages signed at \
             {r:.1} msg/s ({verdict})"
        )),
        Ok(_) => failures.push(format!("under attack: {verdict}")),
        Err(e) => failures.push(format!("under attack, Postfix sending failed: {e}")),
    }
    if !alive {
        failures.push("mass serve died".into());
    }
    report.push(format!("peak RSS {} KiB", peak));
    let closes = log.matches("protocol error").count();
    report.push(format!("{closes} protocol errors logged"));
    if failures.is_empty() {
        Ok(report.join("; "))
    } else {
        Err(format!(
            "{}; ok: {}",
            failures.join("; "),
            report.join("; ")
        ))
    }
}
