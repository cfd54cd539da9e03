//! The board: its UART, its name and the size of the RSA heap arena.
//!
//! Exactly one board feature is enabled (build.rs checks it).

#[cfg(feature = "mps2-an385")]
mod mps2_an385;
#[cfg(feature = "mps2-an385")]
pub use mps2_an385::*;

#[cfg(feature = "lm3s6965evb")]
mod lm3s6965evb;
#[cfg(feature = "lm3s6965evb")]
pub use lm3s6965evb::*;

/// The UART never fails; reads block until a byte is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum Never {}

impl embedded_io::Error for Never {
    fn kind(&self) -> embedded_io::ErrorKind {
        match *self {}
    }
}

impl core::fmt::Display for Never {
    fn fmt(&self, _: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {}
    }
}

impl core::error::Error for Never {}

// The link side of the UART, the same on every board: each board's `Uart`
// has `rx_ready`, `read_byte`, `write_byte` and `arm_rx_irq`.
impl embedded_io::ErrorType for Uart {
    type Error = Never;
}

impl embedded_io::Read for Uart {
    /// Wait (asleep) for the first byte, then take what has arrived.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Never> {
        if buf.is_empty() {
            return Ok(0);
        }
        wait_until(|| self.rx_ready(), || self.arm_rx_irq(), UART_RX_IRQ);
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

/// An interrupt line, for the NVIC.
#[derive(Debug, Clone, Copy)]
struct Irq(u16);

// SAFETY: the numbers are the boards' real interrupt lines.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// Sleep until `ready()` holds, instead of spinning on the UART's status
/// register: a spinning core takes QEMU's I/O lock on every poll and starves
/// the thread that delivers the bytes. The receive interrupt only wakes the
/// core; its handler disarms it.
fn wait_until(ready: impl Fn() -> bool, arm: impl Fn(), irq: u16) {
    // SAFETY: the handler for this line is `DefaultHandler` below, which only
    // disarms the UART interrupt.
    unsafe { cortex_m::peripheral::NVIC::unmask(Irq(irq)) };
    while !ready() {
        cortex_m::interrupt::free(|_| {
            arm();
            if !ready() {
                // With interrupts masked, a pending interrupt still ends WFI,
                // so a byte arriving after the check is not missed.
                cortex_m::asm::wfi();
            }
        });
    }
}

#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == UART_RX_IRQ as i16 {
        disarm_rx_irq();
    } else {
        panic!("unexpected interrupt {}", irqn);
    }
}
