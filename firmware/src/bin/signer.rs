//! The signing device: boots, then serves the framed link on UART0 forever.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use embedded_io::{Read, Write};
use mass_core::link::{Event, FrameDecoder, MAX_FRAME};
use mass_firmware::{board, device::Device, heap, stack, ticks};

#[entry]
fn main() -> ! {
    // Initialized at build time, so no large value passes through the stack.
    static mut RX: FrameDecoder<MAX_FRAME> = FrameDecoder::new();
    static mut TX: [u8; MAX_FRAME] = [0; MAX_FRAME];
    static mut DEVICE: Device = Device::new();

    stack::paint();
    heap::init();
    board::init();
    let Some(cp) = cortex_m::Peripherals::take() else {
        panic!("peripherals taken twice");
    };
    ticks::start(cp.SYST);
    let ticks_per_mega = ticks::calibrate();
    let mut uart = board::Uart::take();
    defmt::info!(
        "{} on {}: heap {} B, stack room {} B, {} ticks per million instructions",
        mass_firmware::FIRMWARE,
        board::NAME,
        heap::size(),
        stack::size(),
        ticks_per_mega
    );

    let rx: &'static mut FrameDecoder<MAX_FRAME> = RX;
    let tx: &'static mut [u8; MAX_FRAME] = TX;
    let device: &'static mut Device = DEVICE;
    device.set_calibration(ticks_per_mega);

    loop {
        let Ok(n) = uart.read(rx.spare());
        rx.commit(n);
        while let Some(event) = rx.next_event() {
            let (reply, wipe) = match event {
                Event::Frame(frame) => device.handle(frame, tx),
                Event::Error(e) => {
                    defmt::warn!("link: {}", e);
                    (device.framing_error(e, tx), false)
                }
            };
            if wipe {
                rx.wipe_frame();
            }
            let Ok(()) = uart.write_all(reply);
        }
    }
}
