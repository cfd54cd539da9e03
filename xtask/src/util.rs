//! Shared helpers for tasks: running commands, collecting failures, building
//! and calling `mass`, private files and base64.

use std::fs;
use std::path::{Path, PathBuf};
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
    /// Peers found missing outside CI, with what to install ([`missing_peer`]).
    skipped: Vec<String>,
}

impl Run {
    pub fn new(task: &'static str) -> Self {
        Run {
            task,
            passed: Vec::new(),
            failed: Vec::new(),
            skipped: Vec::new(),
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

    /// Record the first `shown` of `failures` of `what`, and how many more.
    pub fn fail_first(&mut self, what: &str, failures: &[String], shown: usize) {
        for f in failures.iter().take(shown) {
            self.fail(format!("{what}: {f}"));
        }
        if failures.len() > shown {
            self.fail(format!("{what}: {} more failures", failures.len() - shown));
        }
    }

    /// Print the summary; Err if any step failed.
    pub fn finish(self) -> Result<(), String> {
        eprintln!("xtask[{}]: {} step(s) passed", self.task, self.passed.len());
        for p in &self.passed {
            eprintln!("  ok    {p}");
        }
        for s in &self.skipped {
            eprintln!("  SKIP  {s}");
        }
        for f in &self.failed {
            eprintln!("  FAIL  {f}");
        }
        if !self.skipped.is_empty() {
            eprintln!(
                "xtask[{}]: INCOMPLETE: {} missing peer(s), the checks that need them did not \
                 run; install what the SKIP lines name (under CI a missing peer fails)",
                self.task,
                self.skipped.len()
            );
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

// ---------------------------------------------------------------- missing peers

/// True under CI: the `CI` environment variable is set, as CI sets
/// `CI=true` (an empty value, `0` and `false` count as unset).
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

fn ci_value_means_ci(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The one decision about a peer program the checks need (dkimpy, Mail::DKIM,
/// OpenDKIM, Exim, miltertest, ...) that is not installed: under CI
/// ([`in_ci`]) it is a failure of `run` naming what to install; elsewhere the
/// checks that need it are skipped, said loudly now and again in the
/// summary. Either way the caller does not run those checks.
pub fn missing_peer(run: &mut Run, what: &str, install: &str) {
    missing_peer_under(run, what, install, in_ci());
}

/// [`missing_peer`] with the CI decision made by the caller.
pub fn missing_peer_under(run: &mut Run, what: &str, install: &str, ci: bool) {
    if ci {
        run.fail(format!(
            "{what} is missing (CI: a missing peer fails): install {install}"
        ));
    } else {
        let why = format!("{what} is missing: install {install}");
        eprintln!(
            "xtask[{}]: !!! {why}. SKIPPING the checks that need it (under CI this fails) !!!",
            run.task
        );
        run.skipped.push(why);
    }
}

/// A peer that comes in Debian `packages`: installs the missing ones when
/// running as root ([`ensure_apt`]); if some are still missing, says so
/// through [`missing_peer`] and returns false.
pub fn need_apt_peer(run: &mut Run, what: &str, packages: &[&str]) -> bool {
    let missing = ensure_apt(packages);
    if missing.is_empty() {
        return true;
    }
    missing_peer(run, what, &apt_hint(&missing));
    false
}

/// How to install Debian packages, as the missing-peer messages say it.
pub fn apt_hint<S: AsRef<str>>(packages: &[S]) -> String {
    let names: Vec<&str> = packages.iter().map(AsRef::as_ref).collect();
    format!(
        "the Debian package(s) {0}: `sudo apt-get install {0}`",
        names.join(" ")
    )
}

// ---------------------------------------------------------------- the mass binary

/// Build `mass` (`cargo build --package mass-hosted --bin mass`, `--release`
/// when asked) as a step of `run` and return its path; `MASS_BIN=path` uses
/// that binary instead. None when the build failed (recorded in `run`).
pub fn build_mass(run: &mut Run, release: bool) -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("MASS_BIN") {
        let bin = PathBuf::from(bin);
        eprintln!("xtask[{}]: using MASS_BIN={}", run.task, bin.display());
        return Some(bin);
    }
    let mut args = vec!["build", "--package", "mass-hosted", "--bin", "mass"];
    if release {
        args.push("--release");
    }
    if !run.cargo(&args) {
        return None;
    }
    let profile = if release { "release" } else { "debug" };
    let bin = target_dir().join(profile).join("mass");
    if bin.exists() {
        Some(bin)
    } else {
        run.fail(format!("built mass but {} is not there", bin.display()));
        None
    }
}

/// A fresh scratch directory `$TMPDIR/mass-NAME-PID` holding a private copy
/// of `mass` ([`build_mass`], [`private_copy`]): (directory, binary). None
/// when that failed (recorded in `run`, the directory removed).
pub fn scratch_with_mass(run: &mut Run, name: &str, release: bool) -> Option<(PathBuf, PathBuf)> {
    let work = std::env::temp_dir().join(format!("mass-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    if let Err(e) = fs::create_dir_all(&work) {
        run.fail(format!("cannot create {}: {e}", work.display()));
        return None;
    }
    let Some(mass) = build_mass(run, release) else {
        let _ = fs::remove_dir_all(&work);
        return None;
    };
    let mass = private_copy(&mass, &work);
    Some((work, mass))
}

/// A copy of `bin` as `dir/mass`, so that another build in a shared target
/// directory cannot replace the binary while a task runs it. Falls back to
/// `bin` itself when the copy fails.
pub fn private_copy(bin: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join("mass");
    match fs::copy(bin, &copy) {
        Ok(_) => copy,
        Err(e) => {
            eprintln!(
                "xtask: cannot copy {} to {}: {e}; running it in place",
                bin.display(),
                copy.display()
            );
            bin.to_path_buf()
        }
    }
}

/// `mass keygen --algorithm ALG --domain D --selector S --out-dir DIR`: the key
/// goes to `DIR/S.D.pem`, the record `mass keygen` prints is returned.
pub fn mass_keygen(
    mass: &Path,
    algorithm: &str,
    domain: &str,
    selector: &str,
    out_dir: &Path,
) -> Result<String, String> {
    let out = Command::new(mass)
        .args(["keygen", "--algorithm", algorithm, "--domain", domain])
        .args(["--selector", selector, "--out-dir"])
        .arg(out_dir)
        .output()
        .map_err(|e| format!("cannot run mass keygen: {e}"))?;
    let record = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && record.contains("TXT") {
        Ok(record)
    } else {
        Err(format!(
            "mass keygen --algorithm {algorithm}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

// ---------------------------------------------------------------- files and encodings

/// Write `data` to a new file only its owner may read (mode 0600 from the
/// start, never readable by others in between). A file already at `path` is
/// replaced.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Decode standard base64, stopping at the first `=`; None on another byte
/// outside the alphabet.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base64_decode(&base64(data)).as_deref(), Some(data));
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"fo"), "Zm8=");
    }

    const MAILDKIM: &str =
        "the Debian package(s) libmail-dkim-perl: `sudo apt-get install libmail-dkim-perl`";

    #[test]
    fn a_missing_peer_fails_under_ci() {
        let mut run = Run::new("test");
        missing_peer_under(&mut run, "Mail::DKIM", MAILDKIM, true);
        assert_eq!(run.failed.len(), 1);
        assert!(run.failed[0].contains("Mail::DKIM is missing"));
        assert!(run.failed[0].contains("sudo apt-get install libmail-dkim-perl"));
        assert!(run.skipped.is_empty());
        assert!(run.finish().is_err());
    }

    #[test]
    fn a_missing_peer_outside_ci_is_skipped_and_names_what_to_install() {
        let mut run = Run::new("test");
        missing_peer_under(&mut run, "Mail::DKIM", MAILDKIM, false);
        assert!(run.failed.is_empty());
        assert_eq!(run.skipped.len(), 1);
        assert!(run.skipped[0].contains("sudo apt-get install libmail-dkim-perl"));
        assert!(run.finish().is_ok());
    }

    #[test]
    fn ci_is_any_value_of_the_ci_variable_but_empty_zero_or_false() {
        for v in ["true", "1", "yes", "TRUE"] {
            assert!(ci_value_means_ci(Some(v)), "{v}");
        }
        for v in [None, Some(""), Some("0"), Some("false"), Some("False")] {
            assert!(!ci_value_means_ci(v), "{v:?}");
        }
    }

    #[test]
    fn apt_hints_name_the_packages() {
        assert_eq!(apt_hint(&["libmail-dkim-perl"]), MAILDKIM);
        assert_eq!(
            apt_hint(&["opendkim".to_string(), "opendkim-tools".to_string()]),
            "the Debian package(s) opendkim opendkim-tools: \
             `sudo apt-get install opendkim opendkim-tools`"
        );
    }

    #[test]
    fn private_files_are_0600_and_replace_an_old_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("xtask-util-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret");
        fs::write(&path, b"old, world-readable").unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }
}
