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

/// A positive number of seconds, integer or float.
fn seconds(t: &toml::Table, name: &str, default: Duration) -> Result<Duration, String> {
    match t.get(name) {
        None => Ok(default),
        Some(v) => match (v.as_integer(), v.as_float()) {
            (Some(i), _) if i > 0 => Ok(Duration::from_secs(i.unsigned_abs())),
            (_, Some(f)) if f > 0.0 && f < 1e9 => Ok(Duration::from_secs_f64(f)),
            _ => Err(format!(
                "[signer]: `{name}` must be a positive number of seconds"
            )),
        },
    }
}

impl DeviceConfig {
    /// Parse the `[signer]` table.
    pub fn from_table(t: &toml::Table) -> Result<DeviceConfig, String> {
        for k in t.keys() {
            if !matches!(
                k.as_str(),
                "device" | "timeout" | "busy_timeout" | "max_body" | "key"
            ) {
                return Err(format!("[signer]: unknown key `{k}`"));
            }
        }
        let addr = t
            .get("device")
            .and_then(|v| v.as_str())
            .ok_or("[signer]: `device` (\"tcp:HOST:PORT\" or a path) is required")?
            .parse()?;
        let timeout = seconds(t, "timeout", Duration::from_secs(10))?;
        let busy_timeout = seconds(t, "busy_timeout", DEFAULT_BUSY_TIMEOUT)?;
        let max_body = match t.get("max_body") {
            None => DEFAULT_MAX_BODY,
            Some(v) => v
                .as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or("[signer]: `max_body` must be a positive number of bytes")?,
        };
        let mut keys: Vec<DeviceKey> = Vec::new();
        if let Some(list) = t.get("key") {
            let list = list
                .as_array()
                .ok_or("[signer]: `key` must be [[signer.key]] tables")?;
            for k in list {
                let k = k
                    .as_table()
                    .ok_or("[signer]: `key` must be [[signer.key]] tables")?;
                for name in k.keys() {
                    if !matches!(name.as_str(), "domain" | "selector" | "key_id") {
                        return Err(format!("[[signer.key]]: unknown key `{name}`"));
                    }
                }
                let text = |name: &str| {
                    k.get(name)
                        .ok_or(format!("[[signer.key]]: `{name}` is required"))?
                        .as_str()
                        .filter(|v| {
                            !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == ';')
                        })
                        .map(str::to_string)
                        .ok_or(format!(
                            "[[signer.key]]: `{name}` must be a name without spaces or `;`"
                        ))
                };
                let domain = text("domain")?.trim_end_matches('.').to_ascii_lowercase();
                let selector = text("selector")?;
                let key_id = k
                    .get("key_id")
                    .ok_or("[[signer.key]]: `key_id` is required")?
                    .as_integer()
                    .and_then(|i| u8::try_from(i).ok())
                    .ok_or("[[signer.key]]: `key_id` must be 0..=255")?;
                if keys
                    .iter()
                    .any(|o| o.domain == domain && o.selector == selector)
                {
                    return Err(format!(
                        "[[signer.key]]: {domain}/{selector} is listed twice"
                    ));
                }
                keys.push(DeviceKey {
                    domain,
                    selector,
                    key_id,
                });
            }
        }
        if keys.is_empty() {
            return Err("[signer]: no [[signer.key]]: name the domain, selector and key_id each device key signs for".into());
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
