//! Where a signing device is: `tcp:HOST:PORT` or a serial device path.

use std::fmt;
use std::path::PathBuf;

/// Where the device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAddr {
    /// `tcp:HOST:PORT`, e.g. QEMU's UART on a socket.
    Tcp(String),
    /// A serial device (`/dev/ttyUSB0`, a QEMU pty), set to raw mode.
    Serial(PathBuf),
}

/// A device address that is neither `tcp:HOST:PORT` nor a device path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAddrError(pub String);

impl fmt::Display for DeviceAddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "device address `{}`: expected tcp:HOST:PORT or a serial device path",
            self.0
        )
    }
}

impl std::error::Error for DeviceAddrError {}

impl std::str::FromStr for DeviceAddr {
    type Err = DeviceAddrError;

    fn from_str(s: &str) -> Result<Self, DeviceAddrError> {
        if let Some(hostport) = s.strip_prefix("tcp:") {
            if hostport
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(DeviceAddrError(s.to_string()));
            }
            Ok(DeviceAddr::Tcp(hostport.to_string()))
        } else if let Some(path) = s.strip_prefix("serial:") {
            Ok(DeviceAddr::Serial(PathBuf::from(path)))
        } else if s.starts_with('/') {
            Ok(DeviceAddr::Serial(PathBuf::from(s)))
        } else {
            Err(DeviceAddrError(s.to_string()))
        }
    }
}

impl fmt::Display for DeviceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceAddr::Tcp(a) => write!(f, "tcp:{a}"),
            DeviceAddr::Serial(p) => write!(f, "{}", p.display()),
        }
    }
}
