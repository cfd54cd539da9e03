//! `miltertest`: the scripted scenarios in `tests/miltertest/*.lua`.

use super::{Ctx, Mass, gen_key, sh};
use std::path::PathBuf;
use std::process::Command;

pub(super) fn step_miltertest(ctx: &Ctx) -> Result<String, String> {
    let dir = ctx.root.join("tests/miltertest");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "lua"))
        .collect();
    scripts.sort();
    let port = ctx.spare_port;
    let other = gen_key(&ctx.work, "ed25519", "example.org", "mt-ed")?;
    let cfg = ctx.config(&ctx.inet(port), "", &[&ctx.rsa, &other]);
    let mass = Mass::start(ctx, "miltertest", &cfg)?;
    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for s in &scripts {
        let name = s
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let r = sh(Command::new("miltertest")
            .current_dir(&dir)
            .arg("-D")
            .arg(format!("socket=inet:{port}@127.0.0.1"))
            .arg("-s")
            .arg(s));
        match r {
            Ok(_) => passed.push(name),
            Err(e) => failed.push(format!(
                "{name}: {}",
                e.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
            )),
        }
    }
    mass.stop()?;
    if scripts.len() < 10 {
        failed.push(format!(
            "only {} scenarios, want at least 10",
            scripts.len()
        ));
    }
    if failed.is_empty() {
        Ok(format!(
            "{} scenarios pass: {}",
            passed.len(),
            passed.join(", ")
        ))
    } else {
        Err(format!(
            "{} pass, failed: {}",
            passed.len(),
            failed.join("; ")
        ))
    }
}
