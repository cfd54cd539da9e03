//! The `mass` subcommands, one module each.

pub mod batv;
pub mod dev;
pub mod device;
pub mod keygen;
pub mod sign;
pub mod sign_dk;
pub mod verify;

use std::fmt;
use std::path::PathBuf;

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
        }
    }
}

impl std::error::Error for CliError {}

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
