//! The `[signer]` table of `mass serve`: which device, its timeouts and its keys.

use super::*;

/// How long a message waits for the device while others use it, unless
/// `[signer] busy_timeout` says otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest body `mass serve` spools for the device, unless
/// `[signer] max_body` says otherwise.
pub const DEFAULT_MAX_BODY: u64 = 64 << 20;

/// `[signer]` in the `mass serve` config.
///
/// ```toml
/// [signer]
/// device = "tcp:127.0.0.1:7878"   # or "/dev/ttyUSB0"
/// timeout = 10                    # seconds for each read or write on the link
/// busy_timeout = 60               # seconds a message may wait for the device
/// max_body = 67108864             # bytes of body spooled for the device at most
/// [[signer.key]]
/// domain = "example.com"
/// selector = "dev"
/// key_id = 0
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Where the device is.
    pub addr: DeviceAddr,
    /// Deadline for each read and each write on the link.
    pub timeout: Duration,
    /// How long a message may wait while the device signs others.
    pub busy_timeout: Duration,
    /// The most body bytes spooled for the device; a larger message fails
    /// (`on_error`) instead of filling the disk.
    pub max_body: u64,
    /// Which device slot signs for which domain and selector.
    pub keys: Vec<DeviceKey>,
}

/// One `[[signer.key]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey {
    /// `d=`, lower case.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The device's slot.
    pub key_id: u8,
}

impl DeviceKey {
    /// `domain/selector(slot N)`, for logs.
    pub fn label(&self) -> String {
        format!(
            "{}/{}(device slot {})",
            self.domain, self.selector, self.key_id
        )
    }
}

/// Why a `[signer]` table cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceConfigError {
    /// A key the table does not know.
    UnknownKey { table: &'static str, key: String },
    /// A required key is missing.
    Required {
        table: &'static str,
        key: &'static str,
    },
    /// A key whose value is of the wrong kind; `want` says what it takes.
    BadValue {
        table: &'static str,
        key: &'static str,
        want: &'static str,
    },
    /// `device` is not an address.
    Address(DeviceAddrError),
    /// The same domain and selector twice.
    Duplicate { domain: String, selector: String },
    /// No `[[signer.key]]`.
    NoKeys,
}

impl fmt::Display for DeviceConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceConfigError::UnknownKey { table, key } => write!(f, "{table}: unknown key `{key}`"),
            DeviceConfigError::Required { table, key } => write!(f, "{table}: `{key}` is required"),
            DeviceConfigError::BadValue { table, key, want } => {
                write!(f, "{table}: `{key}` must be {want}")
            }
            DeviceConfigError::Address(e) => write!(f, "[signer]: {e}"),
            DeviceConfigError::Duplicate { domain, selector } => {
                write!(f, "[[signer.key]]: {domain}/{selector} is listed twice")
            }
            DeviceConfigError::NoKeys => f.write_str(
                "[signer]: no [[signer.key]]: name the domain, selector and key_id each device key signs for",
            ),
        }
    }
}

impl std::error::Error for DeviceConfigError {}

const SIGNER: &str = "[signer]";
const SIGNER_KEY: &str = "[[signer.key]]";

/// A positive number of seconds, integer or float.
fn seconds(
    t: &toml::Table,
    key: &'static str,
    default: Duration,
) -> Result<Duration, DeviceConfigError> {
    match t.get(key) {
        None => Ok(default),
        Some(v) => match (v.as_integer(), v.as_float()) {
            (Some(i), _) if i > 0 => Ok(Duration::from_secs(i.unsigned_abs())),
            (_, Some(f)) if f > 0.0 && f < 1e9 => Ok(Duration::from_secs_f64(f)),
            _ => Err(DeviceConfigError::BadValue {
                table: SIGNER,
                key,
                want: "a positive number of seconds",
            }),
        },
    }
}

impl DeviceConfig {
    /// Parse the `[signer]` table.
    pub fn from_table(t: &toml::Table) -> Result<DeviceConfig, DeviceConfigError> {
        use DeviceConfigError as E;
        for k in t.keys() {
            if !matches!(
                k.as_str(),
                "device" | "timeout" | "busy_timeout" | "max_body" | "key"
            ) {
                return Err(E::UnknownKey {
                    table: SIGNER,
                    key: k.clone(),
                });
            }
        }
        let addr = t
            .get("device")
            .ok_or(E::Required {
                table: SIGNER,
                key: "device",
            })?
            .as_str()
            .ok_or(E::BadValue {
                table: SIGNER,
                key: "device",
                want: "\"tcp:HOST:PORT\" or a serial device path",
            })?
            .parse()
            .map_err(E::Address)?;
        let timeout = seconds(t, "timeout", Duration::from_secs(10))?;
        let busy_timeout = seconds(t, "busy_timeout", DEFAULT_BUSY_TIMEOUT)?;
        let max_body = match t.get("max_body") {
            None => DEFAULT_MAX_BODY,
            Some(v) => v
                .as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or(E::BadValue {
                    table: SIGNER,
                    key: "max_body",
                    want: "a positive number of bytes",
                })?,
        };
        let tables = E::BadValue {
            table: SIGNER,
            key: "key",
            want: "[[signer.key]] tables",
        };
        let mut keys: Vec<DeviceKey> = Vec::new();
        if let Some(list) = t.get("key") {
            for k in list.as_array().ok_or(tables.clone())? {
                let k = k.as_table().ok_or(tables.clone())?;
                for name in k.keys() {
                    if !matches!(name.as_str(), "domain" | "selector" | "key_id") {
                        return Err(E::UnknownKey {
                            table: SIGNER_KEY,
                            key: name.clone(),
                        });
                    }
                }
                let text = |key: &'static str| {
                    k.get(key)
                        .ok_or(E::Required {
                            table: SIGNER_KEY,
                            key,
                        })?
                        .as_str()
                        .filter(|v| {
                            !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == ';')
                        })
                        .map(str::to_string)
                        .ok_or(E::BadValue {
                            table: SIGNER_KEY,
                            key,
                            want: "a name without spaces or `;`",
                        })
                };
                let domain = text("domain")?.trim_end_matches('.').to_ascii_lowercase();
                let selector = text("selector")?;
                let key_id = k
                    .get("key_id")
                    .ok_or(E::Required {
                        table: SIGNER_KEY,
                        key: "key_id",
                    })?
                    .as_integer()
                    .and_then(|i| u8::try_from(i).ok())
                    .ok_or(E::BadValue {
                        table: SIGNER_KEY,
                        key: "key_id",
                        want: "0..=255",
                    })?;
                if keys
                    .iter()
                    .any(|o| o.domain == domain && o.selector == selector)
                {
                    return Err(E::Duplicate { domain, selector });
                }
                keys.push(DeviceKey {
                    domain,
                    selector,
                    key_id,
                });
            }
        }
        if keys.is_empty() {
            return Err(E::NoKeys);
        }
        Ok(DeviceConfig {
            addr,
            timeout,
            busy_timeout,
            max_body,
            keys,
        })
    }

    /// Every device key for a domain (case-insensitive), in config order.
    pub fn keys_for<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = &'a DeviceKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.domain.eq_ignore_ascii_case(domain.trim_end_matches('.')))
    }
}
