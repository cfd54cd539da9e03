//! `drain`: SIGTERM lets a message in flight finish.

use super::{Ctx, Mass, MilterClient, signed_reply};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub(super) fn step_drain(ctx: &Ctx) -> Result<String, String> {
    let port = ctx.spare_port;
    let cfg = ctx.config(&ctx.inet(port), "drain_timeout = 10", &[&ctx.rsa]);
    let mut mass = Mass::start(ctx, "drain", &cfg)?;
    let mut c = MilterClient::connect(port)?;
    c.negotiate()?;
    let mut idle = MilterClient::connect(port)?;
    idle.negotiate()?;
    c.start_message()?;
    c.step(b'B', b"first half\r\n")?;
    mass.signal("TERM")?;
    std::thread::sleep(Duration::from_millis(300));
    let listener_closed = TcpStream::connect(("127.0.0.1", port)).is_err();
    let idle_closed = idle.time_to_close(Duration::from_secs(2)).is_some();
    c.step(b'B', b"second half\r\n")?;
    let signed = signed_reply(&c.end_message()?);
    let deadline = Instant::now() + Duration::from_secs(5);
    while mass.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let exited = !mass.alive();
    let status = mass.child.try_wait().ok().flatten();
    if listener_closed && idle_closed && signed && exited && status.is_some_and(|s| s.success()) {
        Ok("SIGTERM: listener closed, idle connection closed, the message in flight was signed, then exit 0".into())
    } else {
        Err(format!(
            "listener closed {listener_closed}, idle closed {idle_closed}, in-flight signed {signed}, exited {exited} ({status:?})"
        ))
    }
}
