//! mass-hosted: everything that touches the operating system (DESIGN.md).
//! The `mass` binary is a thin layer over these modules.

pub mod auth_results;
pub mod batv;
pub mod config;
pub mod dev;
pub mod device;
pub mod device_cli;
pub mod dk_sign_cli;
pub mod dk_verify;
pub mod dns;
pub mod key_signer;
pub mod keygen;
pub mod milter;
pub mod sign_cli;
pub mod spool;
pub mod verify_cli;
pub mod zone;
