//! Stack high-water mark: paint the free RAM below the stack at boot, and
//! later find the lowest word that is no longer paint.

use core::ptr::{addr_of, read_volatile, write_volatile};

const PAINT: u32 = 0xC0DE_F00D;

unsafe extern "C" {
    /// End of the statics (cortex-m-rt): free RAM starts here.
    static __sheap: u32;
    /// Top of the stack (cortex-m-rt).
    static _stack_start: u32;
}

fn bottom() -> usize {
    addr_of!(__sheap) as usize
}

fn top() -> usize {
    addr_of!(_stack_start) as usize
}

/// Paint from the end of the statics up to a little below the current stack
/// pointer. Call once, first thing at boot.
#[inline(never)]
pub fn paint() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = (bottom() + 3) & !3;
    let end = sp.saturating_sub(256);
    while p < end {
        // SAFETY: [__sheap, sp - 256) is free RAM nothing uses yet.
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Deepest stack use since boot, in bytes.
pub fn peak() -> usize {
    let mut p = (bottom() + 3) & !3;
    let t = top();
    while p < t {
        // SAFETY: reads RAM between the statics and the stack top.
        if unsafe { read_volatile(p as *const u32) } != PAINT {
            break;
        }
        p += 4;
    }
    t - p
}

/// Room for the stack: from the end of the statics to the top of RAM.
pub fn size() -> usize {
    top() - bottom()
}
