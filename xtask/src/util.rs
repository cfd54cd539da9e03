//! Shared helpers for tasks: running commands, collecting failures.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The shared test data beside the repository: `$MASS_SHARED`, else the
/// nearest ancestor's `shared` directory: `<root>/../shared` in a CI clone,
/// further up from a nested git worktree (`/work/wt/NAME`).
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MASS_SHARED") {
        return PathBuf::from(dir);
    }
    let root = root();
    root.ancestors()
        .skip(1)
        .map(|a| a.join("shared"))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| root.join("../shared"))
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else what `cargo metadata`
/// says, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            root().join(dir)
        };
    }
    let meta = Command::new(cargo())
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output();
    if let Ok(out) = meta {
        let text = String::from_utf8_lossy(&out.stdout);
        let key = "\"target_directory\":\"";
        if let Some(start) = text.find(key) {
            let rest = &text[start + key.len()..];
            if let Some(end) = rest.find('"') {
                return PathBuf::from(rest[..end].replace("\\\\", "\\"));
            }
        }
    }
    root().join("target")
}

/// The cargo that runs us, as rust-analyzer's xtask does.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// True when the process runs as root (so it may `apt-get install`).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Make sure a rustup target is installed; true if it is there afterwards.
pub fn ensure_rust_target(target: &str) -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == target)
        })
        .unwrap_or(false);
    if installed {
        return true;
    }
    eprintln!("xtask: installing rust target {target}");
    Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Install Debian packages that are missing, when running as root.
/// Returns the packages that are still missing afterwards.
pub fn ensure_apt(packages: &[&str]) -> Vec<String> {
    let missing = |pkgs: &[&str]| -> Vec<String> {
        pkgs.iter()
            .filter(|p| {
                !Command::new("dpkg-query")
                    .args(["-W", "-f=${Status}", p])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).contains("ok installed"))
                    .unwrap_or(false)
            })
            .map(|p| p.to_string())
            .collect()
    };
    let need = missing(packages);
    if need.is_empty() || !is_root() {
        return need;
    }
    eprintln!("xtask: apt-get install {}", need.join(" "));
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    let _ = Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "-o",
            "DPkg::Lock::Timeout=600",
        ])
        .args(&need)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    missing(packages)
}

/// A task run: steps run in order, every failure is collected, and the
/// summary says what ran.
pub struct Run {
    task: &'static str,
    passed: Vec<String>,
    failed: Vec<String>,
}

impl Run {
    pub fn new(task: &'static str) -> Self {
        Run {
            task,
            passed: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// Run `cargo ARGS` from the workspace root.
    pub fn cargo(&mut self, args: &[&str]) -> bool {
        let mut cmd = Command::new(cargo());
        cmd.args(args).current_dir(root());
        self.command(&format!("cargo {}", args.join(" ")), cmd)
    }

    /// Run a prepared command as one step.
    pub fn command(&mut self, label: &str, mut cmd: Command) -> bool {
        eprintln!("xtask[{}]: running {label}", self.task);
        match cmd.status() {
            Ok(s) if s.success() => {
                self.passed.push(label.to_string());
                true
            }
            Ok(s) => {
                self.failed.push(format!("{label} ({s})"));
                false
            }
            Err(e) => {
                self.failed.push(format!("{label} (could not start: {e})"));
                false
            }
        }
    }

    /// Record a step's outcome computed in-process.
    pub fn check(&mut self, label: &str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                self.passed.push(label.to_string());
                true
            }
            Err(e) => {
                self.failed.push(format!("{label}: {e}"));
                false
            }
        }
    }

    /// Record a failure that did not come from a command.
    pub fn fail(&mut self, why: String) {
        self.failed.push(why);
    }

    /// Print the summary; Err if any step failed.
    pub fn finish(self) -> Result<(), String> {
        eprintln!("xtask[{}]: {} step(s) passed", self.task, self.passed.len());
        for p in &self.passed {
            eprintln!("  ok    {p}");
        }
        for f in &self.failed {
            eprintln!("  FAIL  {f}");
        }
        if self.failed.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} step(s) failed in `{}`",
                self.failed.len(),
                self.task
            ))
        }
    }
}
