//! The BATV part of `cargo xtask interop`: `mass batv` against Exim's own
//! `${prvs}` / `${prvscheck}` (through `../shared/harness/exim-prvs.sh`, which unpacks
//! Exim's Debian packages into a cache and runs `exim -be`; it needs root the first time).
//!
//! With 200 addresses of mixed case, plus signs and dots, over all ten key numbers:
//! 1. Exim validates every tag `mass batv sign` makes, and gives back the address;
//! 2. `mass batv check` validates every tag Exim makes, and gives back the address;
//! 3. both make the same tag for the same address, key and day (byte for byte);
//! 4. both reject altered tags (a hash digit, a day digit, the key digit or a local-part
//!    character changed), ours and Exim's;
//! 5. tags made as if 7 days ago (expiring today) are valid for both, as if 8 days ago
//!    (expired yesterday) invalid for both;
//! 6. a local part that would pass 64 octets when tagged is left untagged (exit 1).
//!
//! Both sides read the real clock (Exim's `-be` has no way to set it).

use crate::util;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ADDRESSES: usize = 200;
/// Addresses also tagged as if 7 and 8 days ago.
const EXPIRY_ADDRESSES: usize = 20;

/// exim4-daemon-light 4.96's library Depends, less libidn12 (the harness unpacks it).
const EXIM_LIBRARIES: &[&str] = &[
    "libcrypt1",
    "libdb5.3",
    "libgnutls-dane0",
    "libgnutls30",
    "libidn2-0",
    "libnsl2",
    "libpcre2-8-0",
];

/// Runs the BATV interop steps into `run`.
pub fn run(run: &mut util::Run) {
    let harness = util::shared_dir().join("harness/exim-prvs.sh");
    if !harness.is_file() {
        run.fail(format!(
            "batv: {} is missing (interop needs ../shared)",
            harness.display()
        ));
        return;
    }
    if !util::is_root() && !exim_cached() {
        // Exim's packages conflict with Postfix's, so the harness unpacks them
        // into a cache instead of installing them.
        util::missing_peer(
            run,
            "Exim (BATV peer)",
            "the Debian packages exim4-daemon-light exim4-base libidn12 into exim-prvs.sh's \
             cache: run `sudo cargo xtask interop-batv` once (it downloads them with \
             `apt-get download`)",
        );
        return;
    }
    // The harness unpacks exim4-daemon-light, exim4-base and libidn12; the rest of
    // exim4-daemon-light's Depends must be installed.
    if !util::need_apt_peer(run, "Exim's libraries (BATV peer)", EXIM_LIBRARIES) {
        return;
    }
    let Some((work, mass)) = util::scratch_with_mass(run, "batv-interop", true) else {
        return;
    };
    let result = exercise(&mass, &harness, &work);
    let _ = fs::remove_dir_all(&work);
    match result {
        Ok(report) => {
            report.print();
            report.record(run);
        }
        Err(e) => run.fail(format!("batv: {e}")),
    }
}

fn exim_cached() -> bool {
    let cache = std::env::var_os("EXIM_PRVS_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("mass-exim")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mass-exim")));
    cache.is_some_and(|c| c.join("conf").is_file())
}

#[derive(Debug, Default)]
struct Report {
    addresses: usize,
    exim_valid_ours: usize,
    ours_valid_exim: usize,
    identical: usize,
    compared: usize,
    exim_rejects_altered: usize,
    ours_rejects_altered: usize,
    altered: usize,
    too_long_untagged: bool,
    /// Tags made as if days ago: both sides agree on valid / expired.
    expiry_agree: usize,
    expiry_cases: usize,
    problems: Vec<String>,
}

impl Report {
    fn print(&self) {
        let n = self.addresses;
        eprintln!("xtask[interop]: BATV against Exim, {n} addresses:");
        eprintln!(
            "  Exim validates mass tags        {}/{n}",
            self.exim_valid_ours
        );
        eprintln!(
            "  mass validates Exim tags        {}/{n}",
            self.ours_valid_exim
        );
        eprintln!(
            "  identical tags (same day)       {}/{}",
            self.identical, self.compared
        );
        eprintln!(
            "  Exim rejects altered tags       {}/{}",
            self.exim_rejects_altered, self.altered
        );
        eprintln!(
            "  mass rejects altered tags       {}/{}",
            self.ours_rejects_altered, self.altered
        );
        eprintln!(
            "  expiry verdicts agree           {}/{}",
            self.expiry_agree, self.expiry_cases
        );
        eprintln!(
            "  65-octet local part untagged    {}",
            if self.too_long_untagged { "yes" } else { "NO" }
        );
        for p in self.problems.iter().take(20) {
            eprintln!("  problem: {p}");
        }
        if self.problems.len() > 20 {
            eprintln!("  ... {} more problems", self.problems.len() - 20);
        }
    }

    fn record(&self, run: &mut util::Run) {
        let n = self.addresses;
        let all = |got: usize, of: usize| {
            if got == of && of > 0 {
                Ok(())
            } else {
                Err(format!("{got}/{of}"))
            }
        };
        run.check(
            &format!("batv: Exim validates {n} mass tags"),
            all(self.exim_valid_ours, n),
        );
        run.check(
            &format!("batv: mass validates {n} Exim tags"),
            all(self.ours_valid_exim, n),
        );
        run.check(
            &format!("batv: {} tags identical to Exim's", self.compared),
            all(self.identical, self.compared),
        );
        run.check(
            &format!("batv: Exim rejects {} altered tags", self.altered),
            all(self.exim_rejects_altered, self.altered),
        );
        run.check(
            &format!("batv: mass rejects {} altered tags", self.altered),
            all(self.ours_rejects_altered, self.altered),
        );
        run.check(
            &format!(
                "batv: Exim and mass agree on {} tags at and past expiry",
                self.expiry_cases
            ),
            all(self.expiry_agree, self.expiry_cases),
        );
        run.check(
            "batv: a local part that would pass 64 octets is left untagged",
            if self.too_long_untagged {
                Ok(())
            } else {
                Err("it was tagged, or mass failed".into())
            },
        );
    }
}

fn exercise(mass: &Path, harness: &Path, work: &Path) -> Result<Report, String> {
    let mut rng = XorShift(seed());
    let secret = random_secret(&mut rng);
    let secret_file = work.join("batv.secret");
    util::write_private(&secret_file, format!("{secret}\n").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", secret_file.display()))?;
    let addresses = generate_addresses(ADDRESSES, &mut rng);

    let mut r = Report {
        addresses: addresses.len(),
        ..Report::default()
    };
    for (i, address) in addresses.iter().enumerate() {
        let key = (i % 10).to_string();
        let day_before = unix_day();

        let ours = mass_sign(mass, &secret_file, &["--keynum", &key], address)?;
        let signed = exim(harness, &["sign", address, &secret, &key])?;
        let exim_tag = signed.stdout.trim().to_string();
        if !signed.ok || !exim_tag.starts_with("prvs=") {
            r.problems.push(format!(
                "Exim could not sign {address}: {}",
                signed.stderr.trim()
            ));
            continue;
        }
        let Some(ours) = ours else {
            r.problems.push(format!("mass could not sign {address}"));
            continue;
        };
        if day_before == unix_day() {
            r.compared += 1;
            if ours == exim_tag {
                r.identical += 1;
            } else {
                r.problems
                    .push(format!("tags differ: mass {ours}, Exim {exim_tag}"));
            }
        }

        // Exim checks ours.
        let c = exim(harness, &["check", &ours, &secret])?;
        if c.ok && c.stdout.trim() == format!("valid {address}") {
            r.exim_valid_ours += 1;
        } else {
            r.problems
                .push(format!("Exim rejects mass tag {ours}: {}", c.stdout.trim()));
        }
        // We check Exim's.
        match mass_check(mass, &secret_file, &exim_tag)? {
            Some(orig) if orig == *address => r.ours_valid_exim += 1,
            other => r
                .problems
                .push(format!("mass rejects Exim tag {exim_tag}: {other:?}")),
        }

        // Altered copies of both tags, rejected by both checkers.
        for tag in [&ours, &exim_tag] {
            let altered = alter(tag, i);
            r.altered += 1;
            let c = exim(harness, &["check", &altered, &secret])?;
            if !c.ok && c.stdout.starts_with("invalid ") {
                r.exim_rejects_altered += 1;
            } else {
                r.problems.push(format!("Exim accepts altered {altered}"));
            }
            match mass_check(mass, &secret_file, &altered)? {
                None => r.ours_rejects_altered += 1,
                Some(_) => r.problems.push(format!("mass accepts altered {altered}")),
            }
        }
    }

    // Expiry: tags made 7 days ago expire today (valid for both); made 8 days ago they
    // expired yesterday (refused by both). Skipped across a change of day.
    for address in addresses.iter().take(EXPIRY_ADDRESSES) {
        for (days_ago, valid) in [(7u64, true), (8, false)] {
            let day = unix_day();
            let then = (unix_seconds() - days_ago * 86_400).to_string();
            let tag =
                mass_sign(mass, &secret_file, &["--now", &then], address)?.unwrap_or_default();
            let c = exim(harness, &["check", &tag, &secret])?;
            let ours = mass_check(mass, &secret_file, &tag)?;
            if unix_day() != day {
                continue;
            }
            r.expiry_cases += 1;
            if c.ok == valid && ours.is_some() == valid {
                r.expiry_agree += 1;
            } else {
                r.problems.push(format!(
                    "{tag} made {days_ago} days ago: Exim {}, mass {}, expected {}",
                    c.ok,
                    ours.is_some(),
                    valid
                ));
            }
        }
    }

    // RFC 5321 §4.5.3.1.1: 49 octets + 16 would pass 64; mass leaves it untagged.
    let long = format!(
        "{}@Example.ORG",
        "Ab.c+".repeat(10).get(..49).unwrap_or("x")
    );
    let out = Command::new(mass)
        .args(["batv", "sign", "--secret-file"])
        .arg(&secret_file)
        .arg(&long)
        .output()
        .map_err(|e| format!("cannot run mass: {e}"))?;
    r.too_long_untagged =
        out.status.code() == Some(1) && String::from_utf8_lossy(&out.stdout).trim() == long;
    Ok(r)
}

/// Changes one thing in a tag, chosen by `i`: a hash digit, a day digit, the key digit,
/// or a local-part character.
fn alter(tag: &str, i: usize) -> String {
    let mut b = tag.as_bytes().to_vec();
    // prvs=KDDDSSSSSS=local@domain: K at 5, DDD at 6..9, SSSSSS at 9..15, local from 16.
    let pos = match i % 4 {
        0 => 9 + (i / 4) % 6,
        1 => 6 + (i / 4) % 3,
        2 => 5,
        _ => 16,
    };
    let Some(c) = b.get_mut(pos) else {
        return format!("{tag}x");
    };
    *c = match *c {
        b'0'..=b'8' => *c + 1,
        b'9' => b'0',
        b'a'..=b'e' => *c + 1,
        b'f' => b'a',
        x if x.is_ascii_lowercase() => x.to_ascii_uppercase(),
        x if x.is_ascii_uppercase() => x.to_ascii_lowercase(),
        _ => b'x',
    };
    String::from_utf8_lossy(&b).into_owned()
}

struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn exim(harness: &Path, args: &[&str]) -> Result<Output, String> {
    let out = Command::new("bash")
        .arg(harness)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", harness.display()))?;
    if out.status.code() == Some(2) {
        return Err(format!(
            "exim-prvs.sh {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `mass batv sign [OPTIONS] --secret-file SECRET ADDRESS`: `Some(tag)` on
/// success, `None` when mass refused.
pub(crate) fn mass_sign(
    mass: &Path,
    secret: &Path,
    options: &[&str],
    address: &str,
) -> Result<Option<String>, String> {
    let out = Command::new(mass)
        .args(["batv", "sign"])
        .args(options)
        .arg("--secret-file")
        .arg(secret)
        .arg(address)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run mass: {e}"))?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// `Some(original)` on exit 0, `None` on exit 1; exit 2 is an error of the run.
pub(crate) fn mass_check(
    mass: &Path,
    secret: &Path,
    tagged: &str,
) -> Result<Option<String>, String> {
    let out = Command::new(mass)
        .args(["batv", "check", "--secret-file"])
        .arg(secret)
        .arg(tagged)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run mass: {e}"))?;
    match out.status.code() {
        Some(0) => Ok(Some(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )),
        Some(1) => Ok(None),
        _ => Err(format!(
            "mass batv check {tagged}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unix_day() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    (t ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

/// xorshift64*: test data only.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// An alphanumeric secret: Exim's expansion syntax must not see braces or `$` in it.
fn random_secret(rng: &mut XorShift) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..32)
        .map(|_| ALNUM[rng.below(ALNUM.len())] as char)
        .collect()
}

/// Addresses of mixed case with dots and plus signs, local parts of 1 to 48 octets
/// (48 is the longest that tags within RFC 5321's 64).
fn generate_addresses(n: usize, rng: &mut XorShift) -> Vec<String> {
    const WORDS: &[&str] = &[
        "alice", "Bob", "CAROL", "dave", "Eve", "mallory", "Trent", "peggy", "victor", "Walter",
        "info", "NoReply", "bounce", "list", "sales", "x", "q1", "z9",
    ];
    const DOMAINS: &[&str] = &[
        "example.com",
        "Example.ORG",
        "mail.EXAMPLE.net",
        "Sub.Domain.example",
        "xn--bcher-kva.example",
        "a.b.c.d.example",
    ];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut local = String::new();
        let parts = 1 + rng.below(3);
        for p in 0..parts {
            if p > 0 {
                local.push('.');
            }
            local.push_str(WORDS[rng.below(WORDS.len())]);
        }
        if i % 2 == 0 {
            local.push('+');
            local.push_str(WORDS[rng.below(WORDS.len())]);
        }
        if i % 3 == 0 {
            local.push_str(&rng.below(1000).to_string());
        }
        match i {
            // Edges: the longest taggable local part, a one-octet one, several '+'.
            0 => local = format!("{}X", ["Long.Local+Part"; 3].join(".")),
            1 => local = "Q".into(),
            2 => local = "a+b+c.D+e".into(),
            _ => {}
        }
        local.truncate(48);
        while local.ends_with('.') {
            local.pop();
        }
        let domain = DOMAINS[rng.below(DOMAINS.len())];
        out.push(format!("{local}@{domain}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alterations_change_the_tag() {
        let tag = "prvs=3792bf1249=Foo.Bar+x@Example.COM";
        for i in 0..40 {
            let a = alter(tag, i);
            assert_ne!(a, tag, "{i}");
            assert_eq!(a.len(), tag.len());
        }
    }

    #[test]
    fn addresses_are_taggable_and_varied() {
        let mut rng = XorShift(7);
        let a = generate_addresses(200, &mut rng);
        assert_eq!(a.len(), 200);
        assert_eq!(a[0].split('@').next().unwrap().len(), 48);
        for x in &a {
            let (l, d) = x.rsplit_once('@').unwrap();
            assert!(!l.is_empty() && l.len() <= 48 && !d.is_empty(), "{x}");
            assert!(!l.ends_with('.') && !l.starts_with('.'), "{x}");
        }
        assert!(a.iter().any(|x| x.contains('+')));
        assert!(a.iter().any(|x| x.split('@').next().unwrap().contains('.')));
        assert!(a.iter().any(|x| x.chars().any(|c| c.is_ascii_uppercase())));
    }
}
