//! DKIM steps: `sign`, `dual`, `unix`, `verify`.

use super::{Ctx, Mass, MilterClient, dkimpy_all, sh, sink_signatures};
use std::time::Duration;

pub(super) fn step_sign(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, "", &[&ctx.rsa]);
    let (mass, sink) = ctx.serve_behind_postfix("sign", &listen, &cfg)?;
    let rate = ctx.send(500, 2000)?;
    let verdict = ctx.harness_verify(&sink, &ctx.rsa)?;
    let sigs = sink_signatures(&sink);
    let lines = mass
        .log_text()
        .lines()
        .filter(|l| l.contains("action=\"sign\""))
        .count();
    mass.stop()?;
    if !verdict.contains("500 pass, 0 fail, 0 unsigned") {
        return Err(format!("dkimpy: {verdict}"));
    }
    if sigs.len() != 500 || sigs.iter().any(|(_, n, _)| *n != 1) {
        return Err(format!(
            "{} messages in the sink, not all with one signature",
            sigs.len()
        ));
    }
    if lines != 500 {
        return Err(format!("{lines} log lines with action=sign, want 500"));
    }
    Ok(format!(
        "500 messages via Postfix at {rate:.1} msg/s; {verdict}; 500 log lines"
    ))
}

pub(super) fn step_dual(ctx: &Ctx) -> Result<String, String> {
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, "", &[&ctx.rsa]);
    let (mass, sink) = ctx.serve_behind_postfix("dual", &listen, &cfg)?;
    ctx.send(5, 1000)?;
    // SIGHUP with a second key for the same domain.
    mass.rewrite_config(&ctx.config(&listen, "", &[&ctx.rsa, &ctx.ed]))?;
    mass.signal("HUP")?;
    std::thread::sleep(Duration::from_millis(500));
    ctx.send(50, 3000)?;
    // A broken config on SIGHUP keeps the old one.
    mass.rewrite_config("listen = \"inet:127.0.0.1:1\"\nauthserv_id = \n")?;
    mass.signal("HUP")?;
    std::thread::sleep(Duration::from_millis(500));
    ctx.send(5, 1000)?;
    let log = mass.log_text();
    mass.stop()?;
    if !log.contains("reload failed") {
        return Err("a bad config on SIGHUP was not reported".into());
    }
    let sigs = sink_signatures(&sink);
    let one = sigs.iter().filter(|(_, n, _)| *n == 1).count();
    let two = sigs.iter().filter(|(_, n, _)| *n == 2).count();
    let algs_ok = sigs
        .iter()
        .filter(|(_, n, _)| *n == 2)
        .all(|(_, _, t)| t.contains("a=rsa-sha256") && t.contains("a=ed25519-sha256"));
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.rsa, &ctx.ed])?;
    if one != 5 || two != 55 || !algs_ok || msgs != 60 || ok != total || total != 115 {
        return Err(format!(
            "want 5 single + 55 dual signed: got {one} single, {two} dual, {msgs} messages, \
             {ok}/{total} signatures verified, both algorithms: {algs_ok}"
        ));
    }
    Ok(format!(
        "SIGHUP added ed25519: 55 messages with rsa-sha256 + ed25519-sha256; dkimpy {ok}/{total} \
         signatures pass; bad reload refused and old keys kept"
    ))
}

pub(super) fn step_unix(ctx: &Ctx) -> Result<String, String> {
    let sock = ctx.work.join("mass.sock");
    let listen = format!("unix:{}", sock.display());
    let cfg = ctx.config(&listen, "", &[&ctx.rsa]);
    let (mass, sink) = ctx.serve_behind_postfix("unix", &listen, &cfg)?;
    let rate = ctx.send(100, 2000)?;
    let verdict = ctx.harness_verify(&sink, &ctx.rsa)?;
    mass.stop()?;
    if sock.exists() {
        return Err("socket file left behind after SIGTERM".into());
    }
    if !verdict.contains("100 pass, 0 fail, 0 unsigned") {
        return Err(format!("dkimpy: {verdict}"));
    }
    Ok(format!(
        "100 messages over {listen} at {rate:.1} msg/s; {verdict}"
    ))
}

pub(super) fn step_verify(ctx: &Ctx) -> Result<String, String> {
    // The test keys are not in DNS: `key_zone_file` serves them.
    let listen = ctx.inet(ctx.milter_port);
    let mut cfg = ctx.config(&listen, "", &[]);
    cfg = cfg.replace(
        "internal_networks = [\"127.0.0.0/8\", \"::1/128\"]",
        "internal_networks = []",
    );
    cfg = cfg.replace(
        "signing_daemons = [\"ORIGINATING\"]",
        "signing_daemons = []",
    );
    let zone = ctx.work.join("keys/zone.txt");
    std::fs::write(
        &zone,
        format!(
            "{}. IN TXT \"{}\"\n{}. IN TXT \"{}\"\n",
            ctx.rsa.dns_name(),
            ctx.rsa.record,
            ctx.ed.dns_name(),
            ctx.ed.record
        ),
    )
    .map_err(|e| e.to_string())?;
    let with_zone = format!("{cfg}\nkey_zone_file = \"{}\"\n", zone.display());
    let (mass, sink) = ctx.serve_behind_postfix("verify", &listen, &with_zone)?;
    // Pre-signed files (signed by mass itself on a raw milter connection)
    // go through Postfix to the verifying instance.
    let base = "From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: verify me\r\n\
                Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\
                Message-ID: <v1@example.com>\r\n\r\nbody line\r\n";
    let sig = sign_with_mass(ctx, base)?;
    let changed = base.replace("body line", "body line changed");
    let forged_ar = "Authentication-Results: mx.e2e.test; dkim=pass header.d=example.com";
    for (name, text) in [
        ("presigned", format!("{sig}\r\n{base}")),
        ("tampered", format!("{sig}\r\n{changed}")),
        ("forged", format!("{forged_ar}\r\n{sig}\r\n{changed}")),
    ] {
        let file = ctx.work.join(format!("{name}.eml"));
        std::fs::write(&file, text).map_err(|e| e.to_string())?;
        sh(ctx.mta.cmd(&["send", "1", "100"]).env("MTA_MSGFILE", &file))?;
    }
    mass.stop()?;
    let msgs = sink_signatures(&sink);
    // Our Authentication-Results fields, unfolded.
    let ar = |t: &str| -> Vec<String> {
        let head = t.split("\n\n").next().unwrap_or_default().replace('\r', "");
        let mut fields: Vec<String> = Vec::new();
        for line in head.lines() {
            match fields.last_mut() {
                Some(f) if line.starts_with([' ', '\t']) => f.push_str(line),
                _ => fields.push(line.to_string()),
            }
        }
        fields
            .into_iter()
            .filter(|f| f.starts_with("Authentication-Results: mx.e2e.test"))
            .collect()
    };
    let mut pass = 0;
    let mut fail = 0;
    let mut forged_left = 0;
    for (_, _, t) in &msgs {
        let ours = ar(t);
        if ours
            .iter()
            .any(|l| l.contains("dkim=pass") && l.contains("header.d=example.com"))
            && !t.contains("body line changed")
        {
            pass += 1;
        }
        if t.contains("body line changed") && ours.iter().any(|l| l.contains("dkim=fail")) {
            fail += 1;
        }
        if (t.contains("body line changed") && ours.iter().any(|l| l.contains("dkim=pass")))
            || ours.len() != 1
        {
            forged_left += 1;
        }
    }
    if msgs.len() != 3 || pass != 1 || fail != 2 || forged_left != 0 {
        return Err(format!(
            "{} messages: {pass} dkim=pass (want 1), {fail} dkim=fail (want 2), \
             {forged_left} with a forged pass left (want 0)",
            msgs.len()
        ));
    }
    Ok(
        "signed -> dkim=pass, tampered -> dkim=fail, forged A-R with our authserv-id removed"
            .into(),
    )
}

/// A DKIM-Signature field for `message`, made by `mass serve` itself over a
/// raw milter connection (so the verify step checks mass against mass).
fn sign_with_mass(ctx: &Ctx, message: &str) -> Result<String, String> {
    let mass = Mass::start(
        ctx,
        "presign",
        &ctx.config(&ctx.inet(ctx.spare_port), "", &[&ctx.rsa]),
    )?;
    let mut c = MilterClient::connect(ctx.spare_port)?;
    c.negotiate()?;
    c.step(b'C', b"client.e2e.test\x004\x30\x39127.0.0.1\0")?;
    c.step(b'M', b"<sender@example.com>\0")?;
    let (head, body) = message.split_once("\r\n\r\n").unwrap_or((message, ""));
    for field in head.split("\r\n") {
        let (n, v) = field.split_once(':').unwrap_or((field, ""));
        c.step(b'L', format!("{n}\0{v}\0").as_bytes())?;
    }
    c.step(b'N', b"")?;
    c.step(b'B', body.as_bytes())?;
    let replies = c.end_message()?;
    mass.stop()?;
    for (code, d) in replies {
        if code == b'i' {
            let rest = d.get(4..).unwrap_or_default();
            let mut parts = rest.split(|&b| b == 0);
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            if name == b"DKIM-Signature" {
                return Ok(format!(
                    "DKIM-Signature:{}",
                    String::from_utf8_lossy(value).replace('\n', "\r\n")
                ));
            }
        }
    }
    Err("mass did not sign".into())
}
