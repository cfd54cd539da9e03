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
