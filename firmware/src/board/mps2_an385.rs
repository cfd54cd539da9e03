//! ARM MPS2 with the AN385 FPGA image (Cortex-M3): CMSDK APB UART0.

use core::ptr::{read_volatile, write_volatile};

use super::Never;

/// Board name reported by INFO.
pub const NAME: &str = "mps2-an385";
/// RSA heap arena. RSA-2048 needs about 10 KiB; the main board has RAM to spare.
pub const HEAP_SIZE: usize = 32 * 1024;

const UART0: usize = 0x4000_4000;
const DATA: *mut u32 = UART0 as *mut u32;
const STATE: *mut u32 = (UART0 + 0x04) as *mut u32;
const CTRL: *mut u32 = (UART0 + 0x08) as *mut u32;
const BAUDDIV: *mut u32 = (UART0 + 0x10) as *mut u32;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;

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
            write_volatile(CTRL, 0b11);
        }
        Uart(())
    }

    fn rx_ready(&self) -> bool {
        // SAFETY: reading the UART status register has no side effect.
        unsafe { read_volatile(STATE) & STATE_RX_FULL != 0 }
    }

    fn read_byte(&mut self) -> u8 {
        // SAFETY: called only when RX is full; reading DATA pops the byte.
        unsafe { read_volatile(DATA) as u8 }
    }

    fn write_byte(&mut self, b: u8) {
        // SAFETY: UART registers; we wait for room before writing.
        unsafe {
            while read_volatile(STATE) & STATE_TX_FULL != 0 {}
            write_volatile(DATA, u32::from(b));
        }
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = Never;
}

impl embedded_io::Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Never> {
        if buf.is_empty() {
            return Ok(0);
        }
        while !self.rx_ready() {}
        let mut n = 0;
        for slot in buf.iter_mut() {
            if !self.rx_ready() {
                break;
            }
            *slot = self.read_byte();
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Never> {
        for &b in buf {
            self.write_byte(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Never> {
        Ok(())
    }
}
