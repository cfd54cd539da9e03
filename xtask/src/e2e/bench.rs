//! `--bench`: Postfix throughput with no milter, mass and OpenDKIM.

use super::{Ctx, Mass, Run, prepare};

/// Throughput figures from one run, messages per second end to end.
#[derive(Debug, Default)]
pub struct BenchFigures {
    /// Postfix without a milter.
    pub none: f64,
    /// mass over TCP and its CPU seconds per message.
    pub mass_tcp: f64,
    /// CPU time of `mass serve` per message over TCP, in ms.
    pub mass_tcp_cpu_ms: f64,
    /// mass over a unix socket.
    pub mass_unix: f64,
    /// CPU time of `mass serve` per message over the unix socket, in ms.
    pub mass_unix_cpu_ms: f64,
    /// OpenDKIM over TCP.
    pub opendkim_tcp: f64,
    /// OpenDKIM over a unix socket.
    pub opendkim_unix: f64,
}

/// `MESSAGES` messages of 4 KiB, 8 sessions, through Postfix: no milter,
/// mass (TCP, unix) and OpenDKIM (TCP, unix). For `cargo xtask bench`.
pub fn bench(run: &mut Run) -> Option<BenchFigures> {
    let ctx = prepare(run)?;
    let r = bench_with(&ctx);
    let _ = ctx.harness(&["down"]);
    match r {
        Ok(f) => {
            run.check("e2e bench", Ok(()));
            Some(f)
        }
        Err(e) => {
            run.check("e2e bench", Err(e));
            None
        }
    }
}

const BENCH_MESSAGES: usize = 2000;

pub(super) fn bench_with(ctx: &Ctx) -> Result<BenchFigures, String> {
    let n = BENCH_MESSAGES;
    let size = 4096;
    let mut f = BenchFigures::default();
    ctx.up("none", &ctx.sink("bench-none"))?;
    f.none = ctx.send(n, size)?;

    let tcp = ctx.inet(ctx.milter_port);
    let mass = Mass::start(ctx, "bench-tcp", &ctx.config(&tcp, "", &[&ctx.rsa]))?;
    ctx.up(&tcp, &ctx.sink("bench-mass-tcp"))?;
    ctx.send(20, size)?; // warm up
    let c0 = mass.cpu_ticks();
    f.mass_tcp = ctx.send(n, size)?;
    f.mass_tcp_cpu_ms = (mass.cpu_ticks() - c0) as f64 * 10.0 / n as f64;
    mass.stop()?;

    let sock = ctx.work.join("bench.sock");
    let unix = format!("unix:{}", sock.display());
    let mass = Mass::start(ctx, "bench-unix", &ctx.config(&unix, "", &[&ctx.rsa]))?;
    ctx.up(&unix, &ctx.sink("bench-mass-unix"))?;
    ctx.send(20, size)?;
    let c0 = mass.cpu_ticks();
    f.mass_unix = ctx.send(n, size)?;
    f.mass_unix_cpu_ms = (mass.cpu_ticks() - c0) as f64 * 10.0 / n as f64;
    mass.stop()?;

    let od_port = ctx.spare_port;
    ctx.harness(&["ref-up", &format!("inet:{od_port}@127.0.0.1")])?;
    ctx.up(&ctx.inet(od_port), &ctx.sink("bench-opendkim-tcp"))?;
    ctx.send(20, size)?;
    f.opendkim_tcp = ctx.send(n, size)?;
    let od_sock = ctx.mta.state.join("opendkim/run/s");
    ctx.harness(&["ref-up", &format!("local:{}", od_sock.display())])?;
    ctx.up(
        &format!("unix:{}", od_sock.display()),
        &ctx.sink("bench-opendkim-unix"),
    )?;
    ctx.send(20, size)?;
    f.opendkim_unix = ctx.send(n, size)?;
    ctx.harness(&["ref-down"])?;

    let best_od = f.opendkim_tcp.max(f.opendkim_unix);
    eprintln!(
        "xtask[e2e]: throughput, {n} x 4 KiB, 8 sessions (msg/s end to end):\n\
         \x20 no milter       {:8.1}\n\
         \x20 mass tcp        {:8.1}  ({:.2}x OpenDKIM tcp, {:.2} of no-milter; {:.2} ms CPU/msg)\n\
         \x20 mass unix       {:8.1}  ({:.2}x OpenDKIM unix, {:.2} of no-milter; {:.2} ms CPU/msg)\n\
         \x20 OpenDKIM tcp    {:8.1}\n\
         \x20 OpenDKIM unix   {:8.1}\n\
         \x20 best mass / best OpenDKIM: {:.2}",
        f.none,
        f.mass_tcp,
        f.mass_tcp / f.opendkim_tcp,
        f.mass_tcp / f.none,
        f.mass_tcp_cpu_ms,
        f.mass_unix,
        f.mass_unix / f.opendkim_unix,
        f.mass_unix / f.none,
        f.mass_unix_cpu_ms,
        f.opendkim_tcp,
        f.opendkim_unix,
        f.mass_tcp.max(f.mass_unix) / best_od
    );
    Ok(f)
}
