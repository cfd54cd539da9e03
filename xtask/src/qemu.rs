//! The signing device under QEMU: build the firmware, boot it with its UART
//! on a TCP socket, decode its defmt log, and run the device tests against it.
//!
//! - `cargo xtask qemu [--board mps2-an385|lm3s6965evb] [--port N] [--icount]`
//!   boots one device and prints where to connect.
//! - [`firmware_tests`] is the firmware step of `cargo xtask test`.
//! - [`Device::boot`] is for other tasks (e2e): it returns the `tcp:` address
//!   and stops QEMU when dropped.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Run};

/// The Rust target of both boards.
pub const TARGET: &str = "thumbv7m-none-eabi";

/// The boards the firmware is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Board {
    /// ARM MPS2 AN385 (Cortex-M3), the main board.
    Mps2An385,
    /// TI LM3S6965 evaluation board: 256 KiB flash, 64 KiB RAM.
    Lm3s6965evb,
}

impl Board {
    /// The QEMU machine name, which is also the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Board::Mps2An385 => "mps2-an385",
            Board::Lm3s6965evb => "lm3s6965evb",
        }
    }

    /// The cargo profile: opt-level 3 on the main board, "z" on the budget one.
    pub fn profile(self) -> &'static str {
        match self {
            Board::Mps2An385 => "release",
            Board::Lm3s6965evb => "release-lm3s",
        }
    }

    /// Flash and RAM of the board, bytes.
    pub fn memory(self) -> (u64, u64) {
        match self {
            Board::Mps2An385 => (4 << 20, 4 << 20),
            Board::Lm3s6965evb => (256 << 10, 64 << 10),
        }
    }

    fn parse(s: &str) -> Result<Board, String> {
        match s {
            "mps2-an385" | "an385" => Ok(Board::Mps2An385),
            "lm3s6965evb" | "lm3s" => Ok(Board::Lm3s6965evb),
            _ => Err(format!("unknown board `{s}` (mps2-an385, lm3s6965evb)")),
        }
    }
}

/// The firmware workspace.
pub fn firmware_dir() -> PathBuf {
    util::root().join("firmware")
}

/// The ELF of the signer for a board.
pub fn elf_path(board: Board) -> PathBuf {
    firmware_dir()
        .join("target")
        .join(board.name())
        .join(TARGET)
        .join(board.profile())
        .join("signer")
}

/// The command that builds the firmware for a board. Each board has its own
/// target directory so the two builds do not evict each other.
pub fn build_command(board: Board) -> Command {
    let mut cmd = Command::new(util::cargo());
    cmd.current_dir(firmware_dir())
        .args(["build", "--bin", "signer", "--profile", board.profile()])
        .args(["--no-default-features", "--features", board.name()])
        .env(
            "CARGO_TARGET_DIR",
            firmware_dir().join("target").join(board.name()),
        )
        // The firmware's own config gives the link flags; flags from outside
        // would be added to them (-Tlink.x twice fails).
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_THUMBV7M_NONE_EABI_RUSTFLAGS");
    cmd
}

/// Build the signer for a board; returns the ELF path.
pub fn build(board: Board) -> Result<PathBuf, String> {
    let status = build_command(board)
        .status()
        .map_err(|e| format!("cargo build (firmware): {e}"))?;
    if !status.success() {
        return Err(format!(
            "firmware build for {} failed ({status})",
            board.name()
        ));
    }
    Ok(elf_path(board))
}

/// What the firmware needs on this machine; the missing ones, as install
/// instructions. Installs what it can (apt as root, rustup target, defmt-print).
pub fn ensure_tools() -> Vec<String> {
    let mut missing = Vec::new();
    if !util::ensure_rust_target(TARGET) {
        missing.push(format!("rust target: run `rustup target add {TARGET}`"));
    }
    if which("qemu-system-arm").is_none() {
        let left = util::ensure_apt(&["qemu-system-arm"]);
        if !left.is_empty() || which("qemu-system-arm").is_none() {
            missing.push(
                "QEMU: run `apt-get install qemu-system-arm` as root (Debian/Ubuntu; QEMU 7.2 or newer)".to_string(),
            );
        }
    }
    if which("defmt-print").is_none() {
        eprintln!("xtask: installing defmt-print (about 80 s)");
        let ok = Command::new(util::cargo())
            .args(["install", "--locked", "defmt-print"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok || which("defmt-print").is_none() {
            missing.push(
                "defmt-print: run `cargo install defmt-print` (logs stay undecoded)".to_string(),
            );
        }
    }
    missing
}

fn which(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A free TCP port on loopback (there is a small race until QEMU binds it).
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A device booted in QEMU. QEMU stops when this is dropped.
#[derive(Debug)]
pub struct Device {
    qemu: Child,
    printer: Option<Child>,
    /// `tcp:127.0.0.1:PORT` or `/dev/pts/N`, the UART.
    pub addr: String,
    /// The decoded defmt log.
    pub log: PathBuf,
}

/// How to boot.
#[derive(Debug, Clone, Copy)]
pub struct BootOptions {
    /// `-icount shift=0`: one instruction per virtual nanosecond, so the
    /// device's SysTick counts instructions (for the figures).
    pub icount: bool,
    /// A fixed port, or `None` for a free one.
    pub port: Option<u16>,
    /// The UART on a pseudo-terminal instead of a socket: the device is
    /// then a serial device path (`/dev/pts/N`), as a real board on a USB
    /// serial adapter would be. Its defmt log is kept undecoded.
    pub pty: bool,
}

impl Device {
    /// Boot `elf` on `board` with UART0 on a TCP server socket, and wait
    /// until the socket accepts connections.
    pub fn boot(board: Board, elf: &Path, opts: BootOptions) -> Result<Device, String> {
        let port = match opts.port {
            Some(p) => p,
            None => free_port()?,
        };
        let log = firmware_dir()
            .join("target")
            .join(format!("qemu-{}-{port}.log", board.name()));
        let mut qemu = Command::new("qemu-system-arm");
        qemu.args(["-machine", board.name(), "-cpu", "cortex-m3"])
            .args(["-display", "none", "-monitor", "none", "-nodefaults"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-serial")
            .arg(if opts.pty {
                "pty".to_string()
            } else {
                format!("tcp:127.0.0.1:{port},server=on,wait=off")
            });
        if opts.icount {
            qemu.args(["-icount", "shift=0"]);
        }
        qemu.arg("-kernel").arg(elf).stdin(Stdio::null());
        let log_file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        // With a pty QEMU names it on stdout, so stdout goes to the log as it is.
        let printer_bin = which("defmt-print").filter(|_| !opts.pty);
        let (qemu, printer) = match printer_bin {
            Some(printer_bin) => {
                qemu.stdout(Stdio::piped());
                let mut q = qemu
                    .spawn()
                    .map_err(|e| format!("starting qemu-system-arm: {e}"))?;
                let out = q.stdout.take().ok_or("no QEMU stdout")?;
                let err_file = log_file.try_clone().map_err(|e| e.to_string())?;
                let p = Command::new(printer_bin)
                    .arg("-e")
                    .arg(elf)
                    .stdin(out)
                    .stdout(log_file)
                    .stderr(err_file)
                    .spawn()
                    .map_err(|e| format!("starting defmt-print: {e}"))?;
                (q, Some(p))
            }
            None => {
                qemu.stdout(log_file);
                (
                    qemu.spawn()
                        .map_err(|e| format!("starting qemu-system-arm: {e}"))?,
                    None,
                )
            }
        };
        let mut dev = Device {
            qemu,
            printer,
            addr: format!("tcp:127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = dev.qemu.try_wait() {
                return Err(format!(
                    "QEMU exited at boot ({status}); log:\n{}",
                    dev.log_text()
                ));
            }
            if opts.pty {
                // "char device redirected to /dev/pts/N (label serial0)"
                let log = fs::read(&dev.log).unwrap_or_default();
                let text = String::from_utf8_lossy(&log);
                if let Some(at) = text.find("/dev/pts/") {
                    let path: String = text[at..]
                        .chars()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    dev.addr = path;
                    return Ok(dev);
                }
            } else if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // QEMU takes the next connection once this one is closed.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(dev);
            }
            if Instant::now() > deadline {
                return Err(format!("QEMU's UART (port {port} or a pty) never opened"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// QEMU's process id (e2e stops and resumes it to stall the device).
    pub fn pid(&self) -> u32 {
        self.qemu.id()
    }

    /// The device log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait for QEMU to exit (Ctrl-C in `cargo xtask qemu`).
    pub fn wait(mut self) -> Result<(), String> {
        let s = self.qemu.wait().map_err(|e| e.to_string())?;
        if s.success() {
            Ok(())
        } else {
            Err(format!("QEMU exited with {s}"))
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
        if let Some(p) = &mut self.printer {
            // defmt-print ends when QEMU's stdout closes.
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = p.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// Flash and RAM the ELF takes: flash = code, read-only data and the initial
/// values of `.data`; RAM = `.data`, `.bss` and `.uninit` (the heap arena and
/// buffers are statics; the stack takes the rest of RAM).
pub fn image_size(elf: &Path) -> Result<(u64, u64), String> {
    let data = fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    let u16_at = |o: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            data.get(o..o + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |o: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            data.get(o..o + 4)?.try_into().ok()?,
        )))
    };
    let bad = || format!("{}: not a 32-bit little-endian ELF", elf.display());
    if data.get(..6) != Some(&[0x7F, b'E', b'L', b'F', 1, 1][..]) {
        return Err(bad());
    }
    let shoff = u32_at(0x20).ok_or_else(bad)? as usize;
    let shentsize = u16_at(0x2E).ok_or_else(bad)? as usize;
    let shnum = u16_at(0x30).ok_or_else(bad)? as usize;
    const SHF_ALLOC: u64 = 2;
    const SHT_NOBITS: u64 = 8;
    let (mut flash, mut ram) = (0, 0);
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let (Some(kind), Some(flags), Some(addr), Some(size)) =
            (u32_at(h + 4), u32_at(h + 8), u32_at(h + 12), u32_at(h + 20))
        else {
            return Err(bad());
        };
        if flags & SHF_ALLOC == 0 || size == 0 {
            continue;
        }
        if addr >= 0x2000_0000 {
            ram += size;
            if kind != SHT_NOBITS {
                flash += size; // .data's initial values are in flash
            }
        } else {
            flash += size;
        }
    }
    Ok((flash, ram))
}

/// `cargo xtask qemu [--board B] [--port N | --pty] [--icount]`, or
/// `cargo xtask qemu --test` (only the firmware step of `cargo xtask test`), or
/// `cargo xtask qemu --figures` (the figures of `firmware/README.md`).
pub fn run_qemu(args: &[String]) -> Result<(), String> {
    let mut board = Board::Mps2An385;
    let mut opts = BootOptions {
        icount: false,
        port: Some(7878),
        pty: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--board" => board = Board::parse(it.next().ok_or("--board needs a value")?)?,
            "--port" => {
                let p = it.next().ok_or("--port needs a value")?;
                opts.port = Some(p.parse().map_err(|_| format!("bad port `{p}`"))?);
            }
            "--icount" => opts.icount = true,
            "--pty" => opts.pty = true,
            "--test" => {
                let mut run = Run::new("qemu --test");
                firmware_tests(&mut run);
                return run.finish();
            }
            "--figures" => return figures(),
            other => return Err(format!("qemu: unknown argument `{other}`")),
        }
    }
    let missing = ensure_tools();
    if missing.iter().any(|m| !m.starts_with("defmt-print")) {
        return Err(format!("missing tools:\n  {}", missing.join("\n  ")));
    }
    let elf = build(board)?;
    let dev = Device::boot(board, &elf, opts)?;
    println!("{} device booted ({})", board.name(), elf.display());
    println!("UART (framed link, firmware/PROTOCOL.md): {}", dev.addr);
    println!(
        "  e.g. [signer] device = \"{}\" in the mass serve config",
        dev.addr
    );
    println!("defmt log: {}", dev.log.display());
    println!("Ctrl-C stops QEMU.");
    dev.wait()
}

/// The firmware step of `cargo xtask test`: build both boards, check their
/// sizes, and run the device tests (`tests/tests/device.rs`, ignored in
/// plain `cargo test`) against each board booted in QEMU. The two boards'
/// tests run at the same time: each is bound by QEMU's UART, which takes
/// one byte per turn of QEMU's main loop, more than by the CPU.
pub fn firmware_tests(run: &mut Run) {
    let missing = ensure_tools();
    for m in &missing {
        if !m.starts_with("defmt-print") {
            run.fail(format!("firmware tests need {m}"));
        } else {
            eprintln!("xtask: {m}");
        }
    }
    if missing.iter().any(|m| !m.starts_with("defmt-print")) {
        return;
    }
    let started = Instant::now();
    let mut built = Vec::new();
    for board in [Board::Mps2An385, Board::Lm3s6965evb] {
        let label = format!("firmware build ({})", board.name());
        if !run.command(&label, build_command(board)) {
            continue;
        }
        let elf = elf_path(board);
        let (flash_max, ram_max) = board.memory();
        let fits = run.check(
            &format!("firmware fits {} (flash, RAM)", board.name()),
            image_size(&elf).and_then(|(flash, ram)| {
                eprintln!(
                    "xtask: {}: flash {flash} B of {flash_max}, static RAM {ram} B of {ram_max}",
                    board.name()
                );
                if flash <= flash_max && ram + 16 * 1024 <= ram_max {
                    Ok(())
                } else {
                    Err(format!("flash {flash}/{flash_max} B, RAM {ram}/{ram_max} B (16 KiB kept for the stack)"))
                }
            }),
        );
        if fits {
            built.push((board, elf));
        }
    }
    let test_args = ["test", "--release", "-p", "mass-tests", "--test", "all"];
    let mut build_tests = Command::new(util::cargo());
    build_tests
        .current_dir(util::root())
        .args(test_args)
        .arg("--no-run");
    if !run.command("build the device tests", build_tests) {
        return;
    }
    let build_time = started.elapsed();
    // Boot every board, then run each board's tests at once.
    let mut running = Vec::new();
    for (board, elf) in built {
        let dev = match Device::boot(
            board,
            &elf,
            BootOptions {
                icount: false,
                port: None,
                pty: false,
            },
        ) {
            Ok(d) => d,
            Err(e) => {
                run.fail(format!("booting {}: {e}", board.name()));
                continue;
            }
        };
        // The main board runs the byte-for-byte comparisons (signatures,
        // ARC sets, DKIM2 hops) and the bad input; the budget board shows
        // the same program signs, seals and signs DKIM2 hops (RSA-2048
        // included; 50 hops byte for byte) in its memory, and streams the
        // 10 MiB body.
        let filters: &[&str] = match board {
            Board::Mps2An385 => &[
                "device::main_",
                "device::arc::main_",
                "device::dkim2::main_",
            ],
            Board::Lm3s6965evb => &[
                "device::budget_",
                "device::arc::budget_",
                "device::dkim2::budget_",
            ],
        };
        let output = firmware_dir()
            .join("target")
            .join(format!("device-tests-{}.log", board.name()));
        let child = fs::File::create(&output)
            .and_then(|out| Ok((out.try_clone()?, out)))
            .and_then(|(out, err)| {
                Command::new(util::cargo())
                    .current_dir(util::root())
                    .args(test_args)
                    .args(["--", "--ignored", "--test-threads=1"])
                    .args(filters)
                    .env("MASS_DEVICE", &dev.addr)
                    .env("MASS_DEVICE_BOARD", board.name())
                    .stdout(out)
                    .stderr(err)
                    .spawn()
            });
        match child {
            Ok(c) => {
                eprintln!(
                    "xtask: device tests under QEMU ({}) started, output in {}",
                    board.name(),
                    output.display()
                );
                running.push((board, dev, c, output, Instant::now()));
            }
            Err(e) => run.fail(format!("device tests ({}): {e}", board.name())),
        }
    }
    for (board, dev, mut child, output, t0) in running {
        let status = child.wait();
        let took = t0.elapsed();
        let text = fs::read_to_string(&output).unwrap_or_default();
        for line in text.lines().filter(|l| {
            l.starts_with("test ") || l.starts_with("test result") || l.contains("panicked")
        }) {
            eprintln!("  [{}] {line}", board.name());
        }
        let label = format!(
            "device tests under QEMU ({}) in {:.0}s",
            board.name(),
            took.as_secs_f64()
        );
        let ok = matches!(&status, Ok(s) if s.success());
        run.check(
            &label,
            if ok {
                Ok(())
            } else {
                Err(format!("{status:?}; output {}", output.display()))
            },
        );
        if !ok {
            eprintln!("{text}");
            let log = dev.log_text();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("xtask: last lines of the {} device log:", board.name());
            for l in tail.into_iter().rev() {
                eprintln!("  {l}");
            }
        }
        drop(dev);
    }
    eprintln!(
        "xtask: firmware tests took {:.0?} ({:.0?} building, {:.0?} under QEMU)",
        started.elapsed(),
        build_time,
        started.elapsed().saturating_sub(build_time)
    );
}

/// Boot the main board under `-icount shift=0` and print the figures the
/// `device::figures` test measures, plus flash and RAM of both boards.
pub fn figures() -> Result<(), String> {
    let missing = ensure_tools();
    if missing.iter().any(|m| !m.starts_with("defmt-print")) {
        return Err(format!("missing tools:\n  {}", missing.join("\n  ")));
    }
    for board in [Board::Mps2An385, Board::Lm3s6965evb] {
        let elf = build(board)?;
        let (flash, ram) = image_size(&elf)?;
        let (flash_max, ram_max) = board.memory();
        println!(
            "FIGURES {} flash={flash} of {flash_max}, static RAM={ram} of {ram_max} (the stack takes the rest)",
            board.name()
        );
    }
    let board = Board::Mps2An385;
    let dev = Device::boot(
        board,
        &elf_path(board),
        BootOptions {
            icount: true,
            port: None,
            pty: false,
        },
    )?;
    let status = Command::new(util::cargo())
        .current_dir(util::root())
        .args([
            "test",
            "-p",
            "mass-tests",
            "--test",
            "all",
            "device::figures",
        ])
        .args(["--", "--ignored", "--nocapture"])
        .env("MASS_DEVICE", &dev.addr)
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("figures test failed; log {}", dev.log.display()))
    }
}

/// For `cargo xtask e2e`: build the main board's firmware and boot it with
/// its UART on a free port. Provision it with
/// `mass device --device <addr> provision --key-id 0 --key FILE` and point
/// `mass serve` at it with `[signer] device = "<addr>"`. QEMU stops when the
/// returned value is dropped.
pub fn boot_signing_device(pty: bool) -> Result<Device, String> {
    let missing = ensure_tools();
    if missing.iter().any(|m| !m.starts_with("defmt-print")) {
        return Err(format!("missing tools:\n  {}", missing.join("\n  ")));
    }
    let board = Board::Mps2An385;
    let elf = build(board)?;
    Device::boot(
        board,
        &elf,
        BootOptions {
            icount: false,
            port: None,
            pty,
        },
    )
}
