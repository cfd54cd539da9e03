//! mass-firmware: the signing device.
//!
//! ```text
//!  UART ──► link::FrameDecoder ──► Device::handle ──► mass_core signer (per message)
//!   ▲                                   │                 └─► key slot (RSA blinded / Ed25519)
//!   └──────── link::encode_frame ◄──────┘
//! ```
//!
//! The key slots are written once by PROVISION and never read back. Only RSA
//! arithmetic allocates, from a fixed arena ([`heap`]). Logs go out as defmt
//! frames over semihosting.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

use cortex_m as _; // the critical-section implementation (single core)
use defmt_semihosting as _; // the defmt global logger

pub mod board;
pub mod device;
pub mod heap;
pub mod keys;
pub mod session;
pub mod stack;
pub mod ticks;

/// Firmware name and version, reported by INFO.
pub const FIRMWARE: &str = concat!("mass-firmware ", env!("CARGO_PKG_VERSION"));

/// Log the panic, then end QEMU with a failure status.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    cortex_m::asm::udf()
}
