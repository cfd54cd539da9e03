//! The `mass` subcommands, one module each.

pub mod batv;
pub mod dev;
pub mod device;
pub mod keygen;
pub mod sign;
pub mod sign_dk;
pub mod verify;
