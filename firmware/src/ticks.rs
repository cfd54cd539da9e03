//! A 64-bit tick counter on SysTick.
//!
//! Under `qemu-system-arm -icount shift=0` virtual time advances one
//! nanosecond per instruction, so SysTick counts instructions (scaled by the
//! board's clock). [`calibrate`] measures the scale with a loop of known length.

use core::cell::Cell;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::Mutex;

const RELOAD: u32 = 0x00FF_FFFF;

static WRAPS: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));

/// Start SysTick free-running from the core clock, with its wrap interrupt.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // The counter reads 0 until its first reload; counting from there would
    // look like a wrap. (Bounded: QEMU's lm3s6965evb never starts it.)
    for _ in 0..100_000 {
        if SYST::get_current() != 0 {
            break;
        }
    }
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let w = WRAPS.borrow(cs);
        w.set(w.get().wrapping_add(1));
    });
}

/// Ticks since [`start`].
pub fn now() -> u64 {
    critical_section::with(|cs| {
        let wraps = WRAPS.borrow(cs).get();
        let val = SYST::get_current();
        // A wrap that happened while interrupts were off is pending: count it.
        let pending = SYST::has_wrapped_pending();
        let wraps = if pending && val > RELOAD / 2 {
            wraps.wrapping_add(1)
        } else {
            wraps
        };
        u64::from(wraps) * u64::from(RELOAD + 1) + u64::from(RELOAD - val)
    })
}

trait WrapPending {
    fn has_wrapped_pending() -> bool;
}

impl WrapPending for SYST {
    fn has_wrapped_pending() -> bool {
        cortex_m::peripheral::SCB::is_pendst_pending()
    }
}

/// Ticks per million instructions, from a loop of known instruction count.
pub fn calibrate() -> u32 {
    const ITERATIONS: u32 = 1_000_000;
    let t0 = now();
    spin(ITERATIONS);
    let t1 = now();
    defmt::debug!("calibration: t0 {} t1 {}", t0, t1);
    // The loop body is two instructions (subs, bne).
    let instructions = 2 * u64::from(ITERATIONS);
    ((t1 - t0) * 1_000_000 / instructions) as u32
}

#[inline(never)]
fn spin(n: u32) {
    // SAFETY: a counted loop on a scratch register, no memory access.
    unsafe {
        core::arch::asm!(
            "1:",
            "subs {n}, {n}, #1",
            "bne 1b",
            n = inout(reg) n => _,
            options(nomem, nostack),
        );
    }
}
