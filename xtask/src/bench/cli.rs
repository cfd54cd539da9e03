//! `cargo xtask bench cli`: the `mass` command line on a large message
//! against `openssl dgst -sha256` on the same file, in wall time.
//!
//! A 64 MiB text-like message with LF line ends (as a Unix file has them)
//! is generated in the run. `mass sign --header-only` reads it and
//! `mass verify` reads it signed (Ed25519, the key from a zone file, so
//! the hashing is what is measured); `openssl dgst -sha256` reads the
//! same files. The four commands run in interleaved rounds, in an order
//! that turns round by round; each round's ratios are taken within the
//! round, and the median and range of the rounds are printed. The peak
//! RSS `mass` reports (`MASS_REPORT_PEAK_RSS=1`) is the largest of all
//! runs. Targets: each ratio at most 1.3, peak RSS under 16 MiB.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::util;

/// Size of the generated message.
const MESSAGE_LEN: usize = 64 << 20;
/// Rounds of the four commands.
const ROUNDS: usize = 7;
/// `t=` of the signature and the time it is verified at.
const NOW: &str = "1764000000";
/// The targets: ratio of wall times, and peak RSS in KiB.
const RATIO_TARGET: f64 = 1.3;
const RSS_TARGET_KIB: u64 = 16 * 1024;

/// Run the section; failures go into `run`.
pub fn figures(run: &mut util::Run) {
    let openssl_there = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !openssl_there && !util::need_apt_peer(run, "openssl", &["openssl"]) {
        return;
    }
    let Some((work, mass)) = util::scratch_with_mass(run, "bench-cli", true) else {
        return;
    };
    let result = figures_in(&work, &mass);
    run.check("cli figures printed", result);
    let _ = fs::remove_dir_all(&work);
}

/// One timed command: wall time in ms, and the peak RSS `mass` printed.
struct Timed {
    ms: f64,
    rss_kib: Option<u64>,
}

fn figures_in(work: &Path, mass: &Path) -> Result<(), String> {
    let msg = work.join("msg.eml");
    fs::write(&msg, lf_message(MESSAGE_LEN)).map_err(|e| format!("write message: {e}"))?;
    let record = util::mass_keygen(mass, "ed25519", "example.com", "bench", work)?;
    let zone = work.join("zone");
    fs::write(&zone, &record).map_err(|e| format!("write zone: {e}"))?;
    let key = work.join("bench.example.com.pem");

    let sign = || {
        let mut c = Command::new(mass);
        c.args(["sign", "--key"]).arg(&key);
        c.args(["--domain", "example.com", "--selector", "bench"]);
        c.args(["--header-only", "--now", NOW]).arg(&msg);
        c
    };
    // The signed message, with LF line ends throughout.
    let out = sign()
        .output()
        .map_err(|e| format!("cannot run mass sign: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mass sign: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let field = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let signed = work.join("signed.eml");
    {
        let mut bytes = field.into_bytes();
        bytes.extend_from_slice(&fs::read(&msg).map_err(|e| format!("read message: {e}"))?);
        fs::write(&signed, bytes).map_err(|e| format!("write signed message: {e}"))?;
    }
    let verify = || {
        let mut c = Command::new(mass);
        c.args(["verify", "--zone"]).arg(&zone);
        c.args(["--now", NOW]).arg(&signed);
        c
    };
    let openssl = |file: &Path| {
        let mut c = Command::new("openssl");
        c.args(["dgst", "-sha256"]).arg(file);
        c
    };
    let out = verify()
        .output()
        .map_err(|e| format!("cannot run mass verify: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !text.contains("dkim=pass") {
        return Err(format!("the signed 64 MiB message does not verify: {text}"));
    }

    // Warm the page cache and the binaries, then the rounds.
    for mut c in [sign(), verify(), openssl(&msg), openssl(&signed)] {
        time(&mut c)?;
    }
    let names = ["openssl_msg", "sign", "openssl_signed", "verify"];
    let mut ms: [Vec<f64>; 4] = Default::default();
    let (mut sign_ratio, mut verify_ratio) = (Vec::new(), Vec::new());
    let (mut sign_rss, mut verify_rss) = (0u64, 0u64);
    for round in 0..ROUNDS {
        let mut this = [0.0f64; 4];
        for k in 0..names.len() {
            let which = (round + k) % names.len();
            let mut cmd = match which {
                0 => openssl(&msg),
                1 => sign(),
                2 => openssl(&signed),
                _ => verify(),
            };
            let t = time(&mut cmd)?;
            this[which] = t.ms;
            match which {
                1 => sign_rss = sign_rss.max(t.rss_kib.unwrap_or(0)),
                3 => verify_rss = verify_rss.max(t.rss_kib.unwrap_or(0)),
                _ => {}
            }
        }
        for (v, t) in ms.iter_mut().zip(this) {
            v.push(t);
        }
        sign_ratio.push(this[1] / this[0]);
        verify_ratio.push(this[3] / this[2]);
    }

    println!(
        "cli_message {} MiB, LF line ends; {ROUNDS} interleaved rounds, wall time",
        MESSAGE_LEN >> 20
    );
    for (name, v) in names.iter().zip(ms.iter_mut()) {
        let label = match *name {
            "openssl_msg" => "cli_openssl_dgst_sha256_msg",
            "sign" => "cli_mass_sign_header_only",
            "openssl_signed" => "cli_openssl_dgst_sha256_signed",
            _ => "cli_mass_verify",
        };
        print_median(label, v, "ms");
    }
    let sign_m = print_median("ratio_cli_sign_vs_openssl", &mut sign_ratio, "x");
    let verify_m = print_median("ratio_cli_verify_vs_openssl", &mut verify_ratio, "x");
    println!("cli_mass_sign_peak_rss {sign_rss} KiB");
    println!("cli_mass_verify_peak_rss {verify_rss} KiB");
    for (name, v) in [
        ("ratio_cli_sign_vs_openssl", sign_m),
        ("ratio_cli_verify_vs_openssl", verify_m),
    ] {
        let verdict = if v <= RATIO_TARGET { "meets" } else { "ABOVE" };
        println!("target {name} <= {RATIO_TARGET}: {v:.3} {verdict}");
    }
    for (name, v) in [
        ("cli_mass_sign_peak_rss", sign_rss),
        ("cli_mass_verify_peak_rss", verify_rss),
    ] {
        let verdict = if v > 0 && v < RSS_TARGET_KIB {
            "meets"
        } else {
            "ABOVE"
        };
        println!("target {name} < {RSS_TARGET_KIB} KiB: {v} {verdict}");
    }
    Ok(())
}

/// Run `cmd` to the end with `MASS_REPORT_PEAK_RSS=1`, timing it.
fn time(cmd: &mut Command) -> Result<Timed, String> {
    cmd.env("MASS_REPORT_PEAK_RSS", "1");
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let rss_kib = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("mass: peak RSS "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    Ok(Timed { ms, rss_kib })
}

/// Print `name median unit (median of N; lo..hi)`; returns the median.
fn print_median(name: &str, v: &mut [f64], unit: &str) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let m = match n {
        0 => 0.0,
        _ if n.is_multiple_of(2) => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        _ => v[n / 2],
    };
    let (lo, hi) = (
        v.first().copied().unwrap_or(0.0),
        v.last().copied().unwrap_or(0.0),
    );
    println!("{name} {m:.3} {unit} (median of {n}; {lo:.3}..{hi:.3})");
    m
}

/// A deterministic text-like message of `len` bytes with LF line ends: a
/// few header fields, then paragraphs of words (lines of about 70
/// characters, a blank line between paragraphs) alternating with base64
/// attachment lines of 76 characters.
fn lf_message(len: usize) -> Vec<u8> {
    let words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "mail",
        "signing",
        "domain",
        "receiver",
        "forgery",
        "message",
        "header",
        "body",
        "canonical",
        "form",
        "Hello,",
        "regards.",
    ];
    let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(len + 1024);
    out.extend_from_slice(
        b"From: Alice <alice@example.com>\nTo: bob@example.net\nSubject: a large message\n\
Date: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <bench-cli@example.com>\n\n",
    );
    let mut x: u32 = 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as usize
    };
    while out.len() < len {
        for _ in 0..8 {
            let mut line = 0;
            while line < 66 {
                if line > 0 {
                    out.push(b' ');
                    line += 1;
                }
                let w = words[next() % words.len()];
                out.extend_from_slice(w.as_bytes());
                line += w.len();
            }
            out.push(b'\n');
        }
        out.push(b'\n');
        for _ in 0..8 {
            for _ in 0..76 {
                out.push(b64[next() % 64]);
            }
            out.push(b'\n');
        }
    }
    out.truncate(len - 1);
    out.push(b'\n');
    out
}
