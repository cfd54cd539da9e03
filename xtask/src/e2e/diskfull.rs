//! `diskfull`: `mass serve` with a device signer and `TMPDIR` on a 1 MiB
//! tmpfs. A body the device is to sign is spooled (64 KiB in memory, then
//! an unlinked file in `$TMPDIR`), so a body past 1 MiB no longer fits:
//! that message gets `on_error` (a 4xx) and nothing is delivered unsigned;
//! the daemon stays up, the space is given back, and the next messages (a
//! small one, and one of 100 KB that is spooled to the same tmpfs) are
//! signed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::load::{self, Session, sink_by_tag};
use super::{Ctx, Mass, Smtp, dkimpy_all, sh};

/// A tmpfs mounted for the step, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        sh(Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0700"))
            .arg("tmpfs")
            .arg(dir))?;
        Ok(Tmpfs(dir.to_path_buf()))
    }

    /// Bytes in use.
    fn used(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=used", "-B1"])
            .arg(&self.0)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(u64::MAX)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn send(port: u16, tag: &str, size: usize) -> Smtp {
    match Session::open(port) {
        Ok(mut s) => {
            let o = s.send(load::message(tag, size).as_bytes());
            s.quit();
            o
        }
        Err(f) => f,
    }
}

pub(super) fn step_diskfull(ctx: &Ctx) -> Result<String, String> {
    let dev = crate::qemu::boot_signing_device(false)?;
    sh(Command::new(&ctx.mass)
        .args([
            "device",
            "--device",
            &dev.addr,
            "provision",
            "--key-id",
            "1",
            "--key",
        ])
        .arg(&ctx.ed.file))?;
    let spool = Tmpfs::mount(&ctx.work.join("tmpfs-spool"), "1m")?;
    let signer = format!(
        "[signer]\ndevice = \"{}\"\ntimeout = 10\n\
         [[signer.key]]\ndomain = \"{}\"\nselector = \"{}\"\nkey_id = 1\n",
        dev.addr, ctx.ed.domain, ctx.ed.selector
    );
    let listen = ctx.inet(ctx.milter_port);
    let cfg = ctx.config(&listen, &signer, &[]);
    let mut mass = Mass::start_env(ctx, "diskfull", &cfg, &[("TMPDIR", &spool.0)])?;
    let sink = ctx.sink("diskfull");
    ctx.up(&listen, &sink)?;
    let port = ctx.mta.submit;

    let before = send(port, "diskfull-small-0", 2_000);
    let full = send(port, "diskfull-big", 1_500_000);
    let used_after_full = spool.used();
    let alive_after_full = mass.alive();
    let small = send(port, "diskfull-small-1", 2_000);
    let medium = send(port, "diskfull-medium", 100_000);
    let full_again = send(port, "diskfull-big-again", 1_200_000);
    let last = send(port, "diskfull-small-2", 2_000);
    let used_end = spool.used();

    let want_signed = [
        "diskfull-small-0",
        "diskfull-small-1",
        "diskfull-medium",
        "diskfull-small-2",
    ];
    let arrived = load::wait_sink(&sink, want_signed.len(), Duration::from_secs(30));
    let alive = mass.alive();
    let log = mass.log_text();
    mass.stop()?;
    drop(dev);
    drop(spool);
    let delivered = sink_by_tag(&sink);
    let (msgs, total, ok) = dkimpy_all(&sink, &[&ctx.ed])?;
    let spool_errors = log
        .lines()
        .filter(|l| l.contains("spooling the body"))
        .count();
    let mut problems = Vec::new();
    for (tag, outcome) in [
        ("diskfull-small-0", &before),
        ("diskfull-small-1", &small),
        ("diskfull-medium", &medium),
        ("diskfull-small-2", &last),
    ] {
        if *outcome != Smtp::Accepted || delivered.get(tag).map_or(0, Vec::len) != 1 {
            problems.push(format!(
                "{tag}: {outcome:?}, want signed and delivered once"
            ));
        }
    }
    for (tag, outcome) in [("diskfull-big", &full), ("diskfull-big-again", &full_again)] {
        if !matches!(outcome, Smtp::TempFail(_)) || delivered.contains_key(tag) {
            problems.push(format!(
                "{tag}: {outcome:?}, want a 4xx and nothing delivered"
            ));
        }
    }
    if !arrived || msgs != want_signed.len() || ok != total || total != msgs {
        problems.push(format!(
            "sink: {msgs} messages (want {}), dkimpy {ok}/{total}",
            want_signed.len()
        ));
    }
    if !alive_after_full || !alive {
        problems.push("mass serve died".into());
    }
    if spool_errors == 0 {
        problems.push("no spool error in the log".into());
    }
    // Unlinked spool files are freed when closed: nothing stays in use.
    if used_after_full > 64 * 1024 || used_end > 64 * 1024 {
        problems.push(format!(
            "tmpfs still holds {used_after_full} B after the failed message, {used_end} B at the end"
        ));
    }
    let reply = match &full {
        Smtp::TempFail(r) => r.lines().last().unwrap_or_default().to_string(),
        other => format!("{other:?}"),
    };
    let summary = format!(
        "TMPDIR on a 1 MiB tmpfs: 1.5 MB and 1.2 MB bodies refused `{reply}` ({spool_errors} spool \
         errors logged), tmpfs back to {used_after_full} B; 2 KB, 100 KB (spooled) and 2 KB \
         messages after it signed on the device; sink {msgs} messages, dkimpy {ok}/{total}, \
         0 unsigned; mass serve up throughout"
    );
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{summary}\n  {}", problems.join("\n  ")))
    }
}
