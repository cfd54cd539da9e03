//! `cap`: past `max_connections` new connections are refused.

use super::{Ctx, Mass, MilterClient, signed_reply};
use std::time::Duration;

pub(super) fn step_cap(ctx: &Ctx) -> Result<String, String> {
    let port = ctx.spare_port;
    let cfg = ctx.config(&ctx.inet(port), "max_connections = 4", &[&ctx.rsa]);
    let mass = Mass::start(ctx, "cap", &cfg)?;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = MilterClient::connect(port)?;
        c.negotiate()?;
        held.push(c);
    }
    let mut fifth = MilterClient::connect(port)?;
    let refused = fifth.negotiate().is_err();
    // The running ones go on: a whole message on the first.
    let c = held.first_mut().ok_or("no connection")?;
    c.start_message()?;
    c.step(b'B', b"hello\r\n")?;
    let signed = signed_reply(&c.end_message()?);
    // Free a slot; a new connection gets in.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(300));
    let mut sixth = MilterClient::connect(port)?;
    let admitted = sixth.negotiate().is_ok();
    mass.stop()?;
    if refused && signed && admitted {
        Ok("5th connection refused at max_connections = 4; a running one still signed; a slot freed admits a new one".into())
    } else {
        Err(format!(
            "refused {refused}, running one signed {signed}, admitted after a slot freed {admitted}"
        ))
    }
}
