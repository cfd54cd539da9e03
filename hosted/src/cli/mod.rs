//! The `mass` subcommands, one module each.

pub mod arc;
pub mod batv;
pub mod dev;
pub mod device;
pub mod dkim2;
pub mod io;
pub mod keygen;
pub mod sign;
pub mod verify;

use std::fmt;
use std::path::PathBuf;

use crate::clock::ClockError;
use crate::config::KeyFileError;
use crate::device::{DeviceAddrError, DeviceError};
use crate::keys::KeyError;

/// Why a `mass` subcommand stopped. Its text is what the user sees after
/// `mass <command>: `.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// A file or stream could not be read or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key could not be read, checked or encoded.
    Key(KeyError),
    /// A signing device refused or did not answer.
    Device(DeviceError),
    /// A device address that is not one.
    DeviceAddr(DeviceAddrError),
    /// The operating system gave no randomness.
    Randomness,
    /// The async runtime could not start.
    Runtime(std::io::Error),
    /// An argument that the command cannot use.
    Usage(String),
    /// The message could not be read.
    Read(std::io::Error),
    /// The output could not be written.
    Write(std::io::Error),
    /// Standard input could not be spooled for writing out again.
    Spool(std::io::Error),
    /// A key file that is not safe to use.
    KeyFile(KeyFileError),
    /// The message cannot be signed (core's reason).
    Sign(mass_core::Error),
    /// The clock cannot be read; `--now` gives the time instead.
    Clock(ClockError),
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
        move |source| CliError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            CliError::Key(e) => e.fmt(f),
            CliError::Device(e) => e.fmt(f),
            CliError::DeviceAddr(e) => e.fmt(f),
            CliError::Randomness => f.write_str("the operating system gave no randomness"),
            CliError::Runtime(e) => write!(f, "cannot start the runtime: {e}"),
            CliError::Usage(why) => f.write_str(why),
            CliError::Read(e) => write!(f, "read error: {e}"),
            CliError::Write(e) => write!(f, "write error: {e}"),
            CliError::Spool(e) => write!(f, "spool: {e}"),
            CliError::KeyFile(e) => e.fmt(f),
            CliError::Sign(e) => write!(f, "cannot sign: {e}"),
            CliError::Clock(e) => write!(f, "{e}; give the time with --now"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    /// A read error: the one `io::stream` passes on.
    fn from(e: std::io::Error) -> Self {
        CliError::Read(e)
    }
}

impl From<KeyFileError> for CliError {
    fn from(e: KeyFileError) -> Self {
        CliError::KeyFile(e)
    }
}

impl From<ClockError> for CliError {
    fn from(e: ClockError) -> Self {
        CliError::Clock(e)
    }
}

impl From<KeyError> for CliError {
    fn from(e: KeyError) -> Self {
        CliError::Key(e)
    }
}

impl From<DeviceError> for CliError {
    fn from(e: DeviceError) -> Self {
        CliError::Device(e)
    }
}

impl From<DeviceAddrError> for CliError {
    fn from(e: DeviceAddrError) -> Self {
        CliError::DeviceAddr(e)
    }
}
