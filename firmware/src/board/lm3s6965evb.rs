//! TI Stellaris LM3S6965 evaluation board (Cortex-M3): UART0 (a PL011 with
//! Luminary's IDs), with its 16-byte FIFOs on.

use core::ptr::{read_volatile, write_volatile};

/// Board name reported by INFO.
pub const NAME: &str = "lm3s6965evb";
/// RSA heap arena, sized from the measured RSA-2048 peak with some margin:
/// the budget board has 64 KiB of RAM for everything.
pub const HEAP_SIZE: usize = 14 * 1024;

/// Signed header bytes the signer holds per message.
pub const HEADER_BYTES: usize = 4096;
/// Signed header fields the signer holds per message.
pub const HEADER_FIELDS: usize = 32;
/// Bytes of DKIM2-BEGIN the device keeps until SIGN-END.
pub const HOP_REQUEST_BYTES: usize = 2048;

const UART0: usize = 0x4000_C000;
const DR: *mut u32 = UART0 as *mut u32;
const FR: *mut u32 = (UART0 + 0x18) as *mut u32;
const IBRD: *mut u32 = (UART0 + 0x24) as *mut u32;
const FBRD: *mut u32 = (UART0 + 0x28) as *mut u32;
const LCRH: *mut u32 = (UART0 + 0x2C) as *mut u32;
const CTL: *mut u32 = (UART0 + 0x30) as *mut u32;
const IMSC: *mut u32 = (UART0 + 0x38) as *mut u32;
const ICR: *mut u32 = (UART0 + 0x44) as *mut u32;
const INT_RX: u32 = 1 << 4;
/// UART0's interrupt on the LM3S6965.
pub const UART_RX_IRQ: u16 = 5;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;

/// Board set-up before anything else: nothing to do. (QEMU 7.2 gives this
/// board's SysTick a zero clock period, so tick counters stay 0 here; the
/// instruction figures come from the main board.)
pub fn init() {}

/// UART0, polled.
#[derive(Debug)]
pub struct Uart(());

impl Uart {
    /// Enable UART0 (8N1, FIFOs on). Call once.
    pub fn take() -> Uart {
        // SAFETY: UART0's registers are at these addresses on this board; only
        // this one value drives them.
        unsafe {
            write_volatile(CTL, 0);
            write_volatile(IBRD, 27);
            write_volatile(FBRD, 8);
            write_volatile(LCRH, (0b11 << 5) | (1 << 4));
            write_volatile(CTL, (1 << 9) | (1 << 8) | 1);
        }
        Uart(())
    }

    /// Arm the receive interrupt (used only to wake the core from WFI).
    pub(super) fn arm_rx_irq(&self) {
        // SAFETY: UART registers; clear, then unmask the receive interrupt.
        unsafe {
            write_volatile(ICR, INT_RX);
            write_volatile(IMSC, INT_RX);
        }
    }

    pub(super) fn rx_ready(&self) -> bool {
        // SAFETY: reading the flag register has no side effect.
        unsafe { read_volatile(FR) & FR_RXFE == 0 }
    }

    pub(super) fn read_byte(&mut self) -> u8 {
        // SAFETY: called only when the RX FIFO is not empty; reading DR pops a byte.
        unsafe { read_volatile(DR) as u8 }
    }

    pub(super) fn write_byte(&mut self, b: u8) {
        // SAFETY: UART registers; we wait for room before writing.
        unsafe {
            while read_volatile(FR) & FR_TXFF != 0 {}
            write_volatile(DR, u32::from(b));
        }
    }
}

/// Quiet the receive interrupt (from the interrupt handler).
pub fn disarm_rx_irq() {
    // SAFETY: UART registers; only the interrupt mask and flag change.
    unsafe {
        write_volatile(IMSC, 0);
        write_volatile(ICR, INT_RX);
    }
}
