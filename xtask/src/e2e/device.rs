//! `device`: Postfix -> mass -> the signing device under QEMU -> sink.

use super::{
    Ctx, Key, MilterClient, Smtp, dkimpy_all, sh, signed_reply, sink_signatures, smtp_send,
};
use std::process::Command;
use std::time::{Duration, Instant};

/// Postfix -> mass serve -> the signing device (QEMU) -> sink. The
/// device holds both keys (provisioned with `mass device provision`);
/// `mass serve` has no key of its own.
pub(super) fn step_device(ctx: &Ctx) -> Result<String, String> {
    const MESSAGES: usize = 200;
    let dev = crate::qemu::boot_signing_device(false)?;
    provision(ctx, &dev.addr, 0, &ctx.rsa)?;
    provision(ctx, &dev.addr, 1, &ctx.ed)?;
    let signer = format!(
        "[signer]\ndevice = \"{}\"\ntimeout = 20\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 0\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 1\n",
        dev.addr, ctx.rsa.domain, ctx.rsa.selector, ctx.ed.domain, ctx.ed.selector
    );
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, &signer, &[]);
    let (mass, sink) = ctx.serve_behind_postfix("device", &listen, &cfg)?;
    let t0 = Instant::now();
    let rate = ctx.send(MESSAGES, 2000)?;
    let elapsed = t0.elapsed().as_secs_f64();
    let sigs = sink_signatures(&sink);
    let both = sigs
        .iter()
        .filter(|(_, n, t)| *n == 2 && t.contains("a=rsa-sha256") && t.contains("a=ed25519-sha256"))
        .count();
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.rsa, &ctx.ed])?;
    if both != MESSAGES || msgs != MESSAGES || total != 2 * MESSAGES || ok != total {
        let _ = mass.stop();
        return Err(format!(
            "want {MESSAGES} messages each signed by both device keys: {both} were; \
             dkimpy {ok}/{total} signatures pass over {msgs} messages"
        ));
    }

    // A device slower than the MTA's patience (stopped for 12 s, within
    // the link timeout): SMFIR_PROGRESS every 10 s keeps the MTA waiting,
    // and the message is signed once the device goes on.
    let pid = dev.pid().to_string();
    let mut c = MilterClient::connect(ctx.milter_port)?;
    c.negotiate()?;
    c.start_message()?;
    c.step(b'B', b"a slow device\r\n")?;
    sh(Command::new("kill").args(["-STOP", &pid]))?;
    let resume = {
        let pid = pid.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(12));
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        })
    };
    let t0 = Instant::now();
    let slow = c.end_message();
    let _ = resume.join();
    let slow = slow?;
    let progress = slow.iter().filter(|(code, _)| *code == b'p').count();
    if progress == 0 || !signed_reply(&slow) {
        let _ = mass.stop();
        return Err(format!(
            "a slow device: {progress} progress replies in {:.1}s, signed: {}",
            t0.elapsed().as_secs_f64(),
            signed_reply(&slow)
        ));
    }
    let slow_secs = t0.elapsed().as_secs_f64();

    // A device that stops answering: the message in flight is tempfailed
    // (nothing passes unsigned), and once it answers again the daemon
    // reconnects, resynchronizes the link and signs.
    sh(Command::new("kill").args(["-STOP", &pid]))?;
    let stalled = smtp_send(ctx.mta.smtp, "stalled-device", 20);
    sh(Command::new("kill").args(["-CONT", &pid]))?;
    let Smtp::TempFail(reply) = &stalled else {
        let _ = mass.stop();
        return Err(format!("with the device stopped: {stalled:?}, want a 4xx"));
    };
    let resumed = smtp_send(ctx.mta.smtp, "resumed-device", 20);
    if resumed != Smtp::Accepted {
        let _ = mass.stop();
        return Err(format!("after the device resumed: {resumed:?}"));
    }
    ctx.harness(&["wait", &(MESSAGES + 1).to_string()])?;
    let log = mass.log_text();
    mass.stop()?;
    let sigs = sink_signatures(&sink);
    let stalled_delivered = sigs.iter().any(|(_, _, t)| t.contains("stalled-device"));
    let resumed_ok = sigs
        .iter()
        .filter(|(_, n, t)| *n == 2 && t.contains("resumed-device"))
        .count();
    let (_, total2, ok2) = dkimpy_all(&sink, &[&ctx.rsa, &ctx.ed])?;
    if stalled_delivered || resumed_ok != 1 || ok2 != total2 || total2 != 2 * (MESSAGES + 1) {
        return Err(format!(
            "stalled message delivered: {stalled_delivered}; resumed message signed twice: \
             {resumed_ok}; dkimpy {ok2}/{total2}"
        ));
    }
    if !log.contains("connected to the signing device") || !log.contains("signing failed") {
        return Err("the log does not show the failure and the reconnection".into());
    }
    drop(dev);
    let serial = device_on_serial(ctx)?;
    Ok(format!(
        "{MESSAGES} messages via Postfix signed on the QEMU device (rsa-sha256 + ed25519-sha256) \
         in {elapsed:.1}s ({rate:.1} msg/s); dkimpy {ok}/{total} pass; device stopped 12 s: \
         {progress} progress replies, signed after {slow_secs:.1}s; stalled past the timeout: \
         `{}`, then reconnected and signed; {serial}",
        reply.lines().last().unwrap_or_default()
    ))
}

/// `mass device provision`: put `key` into the device's slot.
fn provision(ctx: &Ctx, device: &str, slot: u8, key: &Key) -> Result<String, String> {
    sh(Command::new(&ctx.mass)
        .args(["device", "--device", device, "provision", "--key-id"])
        .arg(slot.to_string())
        .arg("--key")
        .arg(&key.file))
}

/// The same device on a serial line (QEMU's UART on a pty, as a board on a
/// USB serial adapter): `[signer] device = "/dev/pts/N"`.
fn device_on_serial(ctx: &Ctx) -> Result<String, String> {
    const MESSAGES: usize = 20;
    let dev = crate::qemu::boot_signing_device(true)?;
    provision(ctx, &dev.addr, 1, &ctx.ed)?;
    let signer = format!(
        "[signer]\ndevice = \"{}\"\ntimeout = 5\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 1\n",
        dev.addr, ctx.ed.domain, ctx.ed.selector
    );
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, &signer, &[]);
    let (mass, sink) = ctx.serve_behind_postfix("device-serial", &listen, &cfg)?;
    ctx.send(MESSAGES, 2000)?;
    mass.stop()?;
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.ed])?;
    if msgs != MESSAGES || total != MESSAGES || ok != total {
        return Err(format!(
            "over {}: dkimpy {ok}/{total} signatures pass over {msgs} messages",
            dev.addr
        ));
    }
    Ok(format!(
        "over a serial line ({}): {MESSAGES} messages, dkimpy {ok}/{total} pass",
        dev.addr
    ))
}
