//! ARM MPS2 with the AN385 FPGA image (Cortex-M3): CMSDK APB UART0.

use core::ptr::{read_volatile, write_volatile};

/// Board name reported by INFO.
pub const NAME: &str = "mps2-an385";
/// RSA heap arena. RSA-2048 needs about 10 KiB; the main board has RAM to spare.
pub const HEAP_SIZE: usize = 32 * 1024;

/// Signed header bytes the signer holds per message.
pub const HEADER_BYTES: usize = 8192;
/// Signed header fields the signer holds per message.
pub const HEADER_FIELDS: usize = 64;
/// Bytes of DKIM2-BEGIN the device keeps until SIGN-END.
pub const HOP_REQUEST_BYTES: usize = 4096;

const UART0: usize = 0x4000_4000;
const DATA: *mut u32 = UART0 as *mut u32;
const STATE: *mut u32 = (UART0 + 0x04) as *mut u32;
const CTRL: *mut u32 = (UART0 + 0x08) as *mut u32;
const INTCLEAR: *mut u32 = (UART0 + 0x0C) as *mut u32;
const BAUDDIV: *mut u32 = (UART0 + 0x10) as *mut u32;
const CTRL_ENABLE: u32 = 0b11;
const CTRL_RX_IRQ: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;
/// UART0's receive interrupt on the AN385.
pub const UART_RX_IRQ: u16 = 0;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;

/// Board set-up before anything else: nothing on this board.
pub fn init() {}

/// UART0, polled.
#[derive(Debug)]
pub struct Uart(());

impl Uart {
    /// Enable UART0 transmit and receive. Call once.
    pub fn take() -> Uart {
        // SAFETY: UART0's registers are at these addresses on this board; only
        // this one value drives them.
        unsafe {
            write_volatile(BAUDDIV, 16);
            write_volatile(CTRL, CTRL_ENABLE);
        }
        Uart(())
    }

    /// Arm the receive interrupt (used only to wake the core from WFI).
    pub(super) fn arm_rx_irq(&self) {
        // SAFETY: UART registers; clearing the RX flag then enabling the
        // interrupt means a byte arriving from now on raises it.
        unsafe {
            write_volatile(INTCLEAR, INT_RX);
            write_volatile(CTRL, CTRL_ENABLE | CTRL_RX_IRQ);
        }
    }

    pub(super) fn rx_ready(&self) -> bool {
        // SAFETY: reading the UART status register has no side effect.
        unsafe { read_volatile(STATE) & STATE_RX_FULL != 0 }
    }

    pub(super) fn read_byte(&mut self) -> u8 {
        // SAFETY: called only when RX is full; reading DATA pops the byte.
        unsafe { read_volatile(DATA) as u8 }
    }

    pub(super) fn write_byte(&mut self, b: u8) {
        // SAFETY: UART registers; we wait for room before writing.
        unsafe {
            while read_volatile(STATE) & STATE_TX_FULL != 0 {}
            write_volatile(DATA, u32::from(b));
        }
    }
}

/// Quiet the receive interrupt (from the interrupt handler).
pub fn disarm_rx_irq() {
    // SAFETY: UART registers; only the interrupt enable and flag change.
    unsafe {
        write_volatile(CTRL, CTRL_ENABLE);
        write_volatile(INTCLEAR, INT_RX);
    }
}
