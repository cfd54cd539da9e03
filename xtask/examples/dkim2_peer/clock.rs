//! The signing and verification time.
//!
//! mail-auth 0.13.3 reads the system clock: `Dkim2Signer::sign`, `sign_revised` and
//! `MessageAuthenticator::verify_dkim2` call `SystemTime::now()`, and the variants that
//! take a time (`sign_at`, `sign_revised_at`, `verify_dkim2_`) are `pub(crate)`. There
//! is no builder option either, and the workspace forbids `unsafe`, so the clock cannot
//! be replaced inside the process. The peer therefore re-executes itself once under
//! libfaketime (`apt-get install faketime`) with the clock frozen at `--now`, and checks
//! that the clock really reads `--now` before it signs or verifies.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Set in the re-executed process: the time the clock was frozen at.
const FROZEN_AT: &str = "DKIM2_PEER_FROZEN_AT";
/// Overrides where libfaketime is looked for.
const LIBFAKETIME: &str = "DKIM2_PEER_LIBFAKETIME";

const CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
];

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Returns once the process clock reads `now` (UNIX seconds), re-executing the
/// program under libfaketime first if needed. Only returns an error if that fails.
pub fn freeze_at(now: u64) -> Result<(), String> {
    if std::env::var(FROZEN_AT).ok() == Some(now.to_string()) {
        let clock = system_now();
        return if clock == now {
            Ok(())
        } else {
            Err(format!(
                "under libfaketime the clock reads {clock}, not {now}: LD_PRELOAD did not take effect"
            ))
        };
    }
    let lib = std::env::var(LIBFAKETIME)
        .ok()
        .or_else(|| {
            CANDIDATES
                .iter()
                .find(|p| std::path::Path::new(p).exists())
                .map(|p| p.to_string())
        })
        .ok_or_else(|| {
            format!(
                "mail-auth 0.13.3 takes the time from the system clock, so --now needs \
                 libfaketime (apt-get install faketime, or set {LIBFAKETIME})"
            )
        })?;
    let preload = match std::env::var("LD_PRELOAD") {
        Ok(other) if !other.is_empty() => format!("{lib}:{other}"),
        _ => lib,
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let err = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("LD_PRELOAD", preload)
        // An absolute time in FAKETIME_FMT freezes the clock there.
        .env("FAKETIME", now.to_string())
        .env("FAKETIME_FMT", "%s")
        // Leave monotonic clocks (tokio, hickory timeouts) and file times alone.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("NO_FAKE_STAT", "1")
        .env(FROZEN_AT, now.to_string())
        .exec();
    Err(format!("cannot re-execute under libfaketime: {err}"))
}
