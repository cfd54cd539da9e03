//! The `mass serve` configuration file (TOML).
//!
//! ```toml
//! listen = "inet:127.0.0.1:8891"          # or "unix:/run/mass/milter.sock"
//! authserv_id = "mx.example.net"
//! internal_networks = ["127.0.0.0/8", "::1/128"]
//! signing_daemons = ["ORIGINATING"]
//! on_error = "tempfail"                   # or "accept"
//! on_refuse = "accept"                    # or "tempfail" | "reject"
//! [[key]]
//! domain = "example.com"
//! selector = "s2026"
//! file = "keys/s2026.example.com.pem"
//! schemes = ["dkim", "domainkeys"]         # optional; default ["dkim"]; "dkim2" signs DKIM2 hops
//! [batv]                                  # optional: BATV prvs= (crate::batv)
//! secret_file = "batv.secret"             # mode 0600, like key files
//! local_domains = ["example.com"]
//! action = "reject"                       # or "tag": add X-BATV and accept
//! [arc]                                   # optional: ARC sealing (RFC 8617)
//! domain = "lists.example.com"            # d= of the ARC-Message-Signature and ARC-Seal
//! selector = "arc2026"
//! file = "keys/arc2026.pem"
//! seal = true                             # default; false keeps the table but seals nothing
//! [dkim2]                                 # optional: DKIM2 (crate::milter::dkim2)
//! verify = true                           # default: check chains on arrival (dkim2= results)
//! record_changes = true                   # a list host: keep arrivals, write recipes on exit
//! keep = 1000                             # arrivals kept (by Message-ID) ...
//! keep_seconds = 3600                     # ... and for how long
//! ```
//!
//! Relative key paths are taken from the directory of the config file.
//! Every mistake is reported with the line it is on, and every key file is
//! checked for safe permissions before the daemon starts.

use std::fmt;
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Where the milter listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `inet:HOST:PORT` (also `inet:PORT@HOST` and `inet6:[::1]:PORT`).
    Inet(String),
    /// `unix:PATH` (also `local:PATH`).
    Unix(PathBuf),
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Inet(a) => write!(f, "inet:{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A `listen` or `internal_networks` value that is not one: the text and
/// what it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    /// The value as written.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.input, self.why)
    }
}

impl std::error::Error for AddressError {}

impl FromStr for Listen {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let bad = |why| AddressError {
            input: s.to_string(),
            why,
        };
        if let Some(path) = s.strip_prefix("unix:").or_else(|| s.strip_prefix("local:")) {
            if path.is_empty() {
                return Err(bad("unix: needs a socket path"));
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        let Some(addr) = s.strip_prefix("inet:").or_else(|| s.strip_prefix("inet6:")) else {
            return Err(bad("a listen address must start with inet: or unix:"));
        };
        // Sendmail's form: PORT@HOST.
        let addr = match addr.split_once('@') {
            Some((port, host)) if host.contains(':') => format!("[{host}]:{port}"),
            Some((port, host)) => format!("{host}:{port}"),
            None => addr.to_string(),
        };
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad("a listen address needs a port"))?;
        port.parse::<u16>().map_err(|_| bad("bad port"))?;
        if host.is_empty() {
            return Err(bad("a listen address needs a host"));
        }
        Ok(Listen::Inet(addr))
    }
}

/// An IP network in CIDR form, such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// True when `ip` is inside the network. IPv4-mapped IPv6 addresses
    /// match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let bad = |why| AddressError {
            input: s.to_string(),
            why,
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad("not an IP network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| bad("bad prefix length"))?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }
}

/// What to do with a message when signing fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Answer 4xx: the MTA keeps the message and retries.
    Tempfail,
    /// Pass the message on unsigned.
    Accept,
}

/// What to do with a message the signer refuses (several From fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnRefuse {
    /// Pass the message on unsigned.
    Accept,
    /// Answer 4xx.
    Tempfail,
    /// Answer 5xx.
    Reject,
}

fn from_str_de<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = AddressError>,
{
    let s = String::deserialize(d)?;
    s.parse().map_err(de::Error::custom)
}

fn vec_from_str_de<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = AddressError>,
{
    let v = Vec::<String>::deserialize(d)?;
    v.iter()
        .map(|s| s.parse().map_err(de::Error::custom))
        .collect()
}

fn octal_mode_de<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| de::Error::custom(format!("`{s}` is not an octal mode such as \"0660\"")))
}

fn opt_secs_de<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    secs_de(d).map(Some)
}

fn secs_de<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let v = f64::deserialize(d)?;
    if v.is_finite() && v > 0.0 && v < 1e9 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(de::Error::custom(format!(
            "{v} is not a positive number of seconds"
        )))
    }
}

/// One `[[key]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The PKCS#8 (or PKCS#1 RSA) PEM private key.
    pub file: PathBuf,
    /// What the key signs with: `dkim` (the default) and/or `domainkeys`
    /// (a legacy RFC 4870 DomainKey-Signature, RSA keys only, placed below
    /// the DKIM-Signature).
    #[serde(default = "default_schemes")]
    pub schemes: Vec<Scheme>,
}

/// A signature scheme a `[[key]]` signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// DKIM (RFC 6376): a DKIM-Signature.
    Dkim,
    /// DomainKeys (RFC 4870): a DomainKey-Signature, rsa-sha1.
    Domainkeys,
    /// DKIM2 (draft-ietf-dkim-dkim2-spec-03): a DKIM2-Signature for each
    /// hop that leaves with a MAIL FROM in this key's domain.
    Dkim2,
}

fn default_schemes() -> Vec<Scheme> {
    vec![Scheme::Dkim]
}

/// The daemon's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The milter socket.
    #[serde(deserialize_with = "from_str_de")]
    pub listen: Listen,
    /// Our authserv-id in Authentication-Results (RFC 8601 §2.5).
    pub authserv_id: String,
    /// Clients from these networks get their mail signed.
    #[serde(default, deserialize_with = "vec_from_str_de")]
    pub internal_networks: Vec<Network>,
    /// `{daemon_name}` values (at connect time) whose mail is signed.
    #[serde(default)]
    pub signing_daemons: Vec<String>,
    /// What to do when signing fails.
    #[serde(default = "default_on_error")]
    pub on_error: OnError,
    /// What to do with mail the signer refuses.
    #[serde(default = "default_on_refuse")]
    pub on_refuse: OnRefuse,
    /// The signing keys.
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyConfig>,
    /// Every read from the MTA must complete within this many seconds.
    #[serde(default = "default_read_timeout", deserialize_with = "secs_de")]
    pub read_timeout: Duration,
    /// Between two messages on a negotiated connection (the MTA is waiting
    /// for its SMTP client), a read may take this long. Defaults to
    /// `read_timeout`; Postfix keeps the milter connection for the whole
    /// SMTP session, so a value near `smtpd_timeout` (300 s) avoids a
    /// tempfail for a slow client's second message.
    #[serde(default, rename = "idle_timeout", deserialize_with = "opt_secs_de")]
    idle_timeout_setting: Option<Duration>,
    /// `idle_timeout` as set, or else `read_timeout` (filled in by `parse`).
    #[serde(skip, default = "default_read_timeout")]
    pub idle_timeout: Duration,
    /// On SIGTERM, wait this long for in-flight messages.
    #[serde(default = "default_drain_timeout", deserialize_with = "secs_de")]
    pub drain_timeout: Duration,
    /// Connections served at once; more are refused.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The largest milter packet accepted (length field), in bytes.
    #[serde(default = "default_max_packet")]
    pub max_packet: u32,
    /// The most header bytes kept per message while waiting for From.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Mode of the unix socket, in octal (`"0660"`).
    #[serde(default = "default_socket_mode", deserialize_with = "octal_mode_de")]
    pub socket_mode: u32,
    /// Accept key files that others can read (for tests only).
    #[serde(default)]
    pub insecure_key_permissions: bool,
    /// Verify mode reads key records from this zone file instead of DNS
    /// (tests, closed networks); relative to the config file.
    #[serde(default)]
    pub key_zone_file: Option<PathBuf>,
    /// Each key lookup gives up (temperror) after this many seconds.
    #[serde(default = "default_dns_timeout", deserialize_with = "secs_de")]
    pub dns_timeout: Duration,
    /// Ask only this name server (`IP:PORT`, UDP then TCP for truncated
    /// answers) instead of the system's resolvers: a local validating
    /// resolver, or a test server.
    #[serde(default)]
    pub dns_server: Option<std::net::SocketAddr>,
    /// Signature expiry (`x=`), seconds after `t=`; none by default.
    #[serde(default)]
    pub signature_ttl: Option<u64>,
    /// `[signer]`: a signing device that holds keys the daemon never sees
    /// (`firmware/PROTOCOL.md`); parsed into [`Config::device`].
    #[serde(default)]
    pub signer: Option<toml::Table>,
    /// `[signer]`, checked, by [`Config::parse`].
    #[serde(skip)]
    pub device: Option<crate::device::DeviceConfig>,
    /// `[batv]`: envelope-sender tagging (issue 6, `crate::batv`).
    #[serde(default)]
    pub batv: Option<crate::batv::BatvConfig>,
    /// `[batv]` with its secret loaded, by [`Config::parse`].
    #[serde(skip)]
    pub batv_policy: Option<std::sync::Arc<crate::batv::BatvPolicy>>,
    /// `[arc]`: seal an ARC set on mail that leaves through us after it
    /// arrived through us (`crate::milter::arc`).
    #[serde(default)]
    pub arc: Option<ArcConfig>,
    /// `[dkim2]`: DKIM2 verification and list-host recipes
    /// (`crate::milter::dkim2`).
    #[serde(default)]
    pub dkim2: Dkim2Config,
}

/// The `[dkim2]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim2Config {
    /// Check DKIM2 chains on arrival and write `dkim2=` results (default).
    #[serde(default = "default_true")]
    pub verify: bool,
    /// Keep each arriving message (by Message-ID) so that, when a list or
    /// forwarder sends it on changed, the DKIM2 hop signed on exit records
    /// the recipe back to it. Off by default: it keeps message copies in
    /// memory.
    #[serde(default)]
    pub record_changes: bool,
    /// How many arrivals are kept at most.
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// How long an arrival is kept, in seconds.
    #[serde(default = "default_keep_seconds")]
    pub keep_seconds: u64,
    /// The largest message kept or signed as a DKIM2 hop (bytes).
    #[serde(default = "default_dkim2_max_message")]
    pub max_message_bytes: usize,
}

impl Default for Dkim2Config {
    fn default() -> Self {
        Dkim2Config {
            verify: true,
            record_changes: false,
            keep: default_keep(),
            keep_seconds: default_keep_seconds(),
            max_message_bytes: default_dkim2_max_message(),
        }
    }
}

fn default_keep() -> usize {
    1000
}
fn default_keep_seconds() -> u64 {
    3600
}
fn default_dkim2_max_message() -> usize {
    10 << 20
}

/// The `[arc]` table: the key that seals ARC sets (RFC 8617 §5.1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArcConfig {
    /// Seal (the default); `false` leaves the table in place and seals
    /// nothing.
    #[serde(default = "default_true")]
    pub seal: bool,
    /// `d=` of the ARC-Message-Signature and ARC-Seal.
    pub domain: String,
    /// `s=` of both.
    pub selector: String,
    /// The PEM private key (RSA of 1024 bits or more, or Ed25519).
    pub file: PathBuf,
}

fn default_true() -> bool {
    true
}

fn default_on_error() -> OnError {
    OnError::Tempfail
}
fn default_on_refuse() -> OnRefuse {
    OnRefuse::Accept
}
fn default_read_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_drain_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_dns_timeout() -> Duration {
    crate::dns::DEFAULT_TIMEOUT
}
fn default_max_connections() -> usize {
    256
}
fn default_max_packet() -> u32 {
    crate::milter::codec::DEFAULT_MAX_PACKET
}
fn default_max_header_bytes() -> usize {
    1 << 20
}
fn default_socket_mode() -> u32 {
    0o660
}

/// Why a configuration cannot be used: what is wrong, in which file and
/// on which line when it is known.
#[derive(Debug)]
pub struct ConfigError {
    /// The config file, as named to the user; `None` for a key file
    /// checked on its own.
    pub file: Option<String>,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

/// What is wrong with a configuration.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read.
    Read(std::io::Error),
    /// Not TOML, or not the shape `mass.toml` has; toml's message.
    Syntax(String),
    /// `authserv_id` is not a single token.
    AuthservId,
    /// `max_connections` is 0.
    MaxConnections,
    /// `max_packet` is under 1024.
    MaxPacket,
    /// A `[[key]]` whose `domain` is not a domain name.
    KeyDomain,
    /// A `[[key]]` whose `selector` is not a selector.
    KeySelector,
    /// `[arc] domain` is empty or not a name.
    ArcDomain,
    /// `[arc] selector` is empty or not a name.
    ArcSelector,
    /// A `[[key]]` with no schemes.
    KeySchemes,
    /// The `[batv]` table.
    Batv(crate::batv::BatvConfigError),
    /// The `[signer]` table.
    Signer(crate::device::DeviceConfigError),
    /// A key file that is not safe to use.
    KeyFile(KeyFileError),
}

/// Why a key file is not safe to sign with (OpenDKIM's RequireSafeKeys).
#[derive(Debug)]
#[non_exhaustive]
pub enum KeyFileError {
    /// It cannot be looked at.
    Stat(PathBuf, std::io::Error),
    /// Not a regular file.
    NotRegular(PathBuf),
    /// Group or others may read or write it.
    Mode(PathBuf, u32),
    /// A directory above it is writable by everyone (and not sticky).
    OpenDirectory(PathBuf, PathBuf),
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Stat(p, e) => write!(f, "key file {}: {e}", p.display()),
            KeyFileError::NotRegular(p) => {
                write!(f, "key file {}: not a regular file", p.display())
            }
            KeyFileError::Mode(p, mode) => write!(
                f,
                "key file {}: mode {mode:04o} lets group or others read it; chmod 600 it \
                 (or set insecure_key_permissions = true / --insecure-key-permissions)",
                p.display()
            ),
            KeyFileError::OpenDirectory(p, dir) => write!(
                f,
                "key file {}: directory {} is writable by everyone, so anyone could replace \
                 the key (or set insecure_key_permissions = true / --insecure-key-permissions)",
                p.display(),
                dir.display()
            ),
        }
    }
}

impl std::error::Error for KeyFileError {}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::Read(e) => e.fmt(f),
            ConfigErrorKind::Syntax(m) => f.write_str(m),
            ConfigErrorKind::AuthservId => {
                f.write_str("authserv_id must be a single token such as a host name")
            }
            ConfigErrorKind::MaxConnections => f.write_str("max_connections must be at least 1"),
            ConfigErrorKind::MaxPacket => f.write_str("max_packet must be at least 1024"),
            ConfigErrorKind::KeyDomain => f.write_str("[[key]] domain is not a domain name"),
            ConfigErrorKind::KeySelector => f.write_str("[[key]] selector is not a selector"),
            ConfigErrorKind::ArcDomain => f.write_str("[arc] domain is not a domain name"),
            ConfigErrorKind::ArcSelector => f.write_str("[arc] selector is not a selector"),
            ConfigErrorKind::KeySchemes => {
                f.write_str("[[key]] schemes is empty (dkim, domainkeys, dkim2)")
            }
            ConfigErrorKind::Batv(e) => e.fmt(f),
            ConfigErrorKind::Signer(e) => e.fmt(f),
            ConfigErrorKind::KeyFile(e) => e.fmt(f),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        self.kind.fmt(f)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ConfigErrorKind::Read(e) => Some(e),
            ConfigErrorKind::Batv(e) => Some(e),
            ConfigErrorKind::Signer(e) => Some(e),
            ConfigErrorKind::KeyFile(e) => Some(e),
            _ => None,
        }
    }
}

impl From<KeyFileError> for ConfigError {
    fn from(e: KeyFileError) -> Self {
        ConfigError {
            file: None,
            line: None,
            kind: ConfigErrorKind::KeyFile(e),
        }
    }
}

/// 1-based line of byte offset `at` in `text`.
/// A `d=` or `s=` as a config names it: not empty, no whitespace, no `;`
/// (the core signer checks the DNS syntax itself).
fn is_tag_value_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == ';')
}

fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(at)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Config {
    /// Read and check `path`; relative key files are resolved against the
    /// config file's directory. Key permissions are checked here.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.display().to_string()),
            line: None,
            kind: ConfigErrorKind::Read(e),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, &path.display().to_string(), base)
    }

    /// Parse config text; `name` is used in messages.
    pub fn parse(text: &str, name: &str, base: &Path) -> Result<Config, ConfigError> {
        let error = |line: Option<usize>, kind| ConfigError {
            file: Some(name.to_string()),
            line,
            kind,
        };
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            error(line, ConfigErrorKind::Syntax(e.message().to_string()))
        })?;
        // Semantic checks that serde cannot see, with the line of the key.
        let line_at = |needle: &str| text.find(needle).map(|at| line_of(text, at));
        if config.authserv_id.trim().is_empty()
            || config
                .authserv_id
                .contains(|c: char| c.is_whitespace() || c == ';')
        {
            return Err(error(line_at("authserv_id"), ConfigErrorKind::AuthservId));
        }
        if config.max_connections == 0 {
            return Err(error(
                line_at("max_connections"),
                ConfigErrorKind::MaxConnections,
            ));
        }
        if config.max_packet < 1024 {
            return Err(error(line_at("max_packet"), ConfigErrorKind::MaxPacket));
        }
        for key in &mut config.keys {
            let bad = |kind| error(line_at(&format!("\"{}\"", key.selector)), kind);
            if !is_tag_value_name(&key.domain) {
                return Err(bad(ConfigErrorKind::KeyDomain));
            }
            if !is_tag_value_name(&key.selector) {
                return Err(bad(ConfigErrorKind::KeySelector));
            }
            if key.schemes.is_empty() {
                return Err(bad(ConfigErrorKind::KeySchemes));
            }
            key.domain = key.domain.trim_end_matches('.').to_ascii_lowercase();
            if key.file.is_relative() {
                key.file = base.join(&key.file);
            }
        }
        config.idle_timeout = config.idle_timeout_setting.unwrap_or(config.read_timeout);
        if let Some(zone) = &mut config.key_zone_file
            && zone.is_relative()
        {
            *zone = base.join(&*zone);
        }
        if let Some(batv) = &config.batv {
            let policy = batv
                .load(base, config.insecure_key_permissions)
                .map_err(|e| error(line_at("[batv]"), ConfigErrorKind::Batv(e)))?;
            config.batv_policy = Some(std::sync::Arc::new(policy));
        }
        if let Some(table) = &config.signer {
            let device = crate::device::DeviceConfig::from_table(table)
                .map_err(|e| error(line_at("[signer]"), ConfigErrorKind::Signer(e)))?;
            config.device = Some(device);
        }
        if let Some(arc) = &mut config.arc {
            if !is_tag_value_name(&arc.domain) {
                return Err(error(line_at("[arc]"), ConfigErrorKind::ArcDomain));
            }
            if !is_tag_value_name(&arc.selector) {
                return Err(error(line_at("[arc]"), ConfigErrorKind::ArcSelector));
            }
            arc.domain = arc.domain.trim_end_matches('.').to_ascii_lowercase();
            if arc.file.is_relative() {
                arc.file = base.join(&arc.file);
            }
        }
        if !config.insecure_key_permissions {
            for key in &config.keys {
                check_key_permissions(&key.file)?;
            }
            if let Some(arc) = &config.arc {
                check_key_permissions(&arc.file)?;
            }
        }
        Ok(config)
    }
}

/// Refuse a key file that group or others can read or write, that is not a
/// regular file, or that lies under a directory anyone can write to (which
/// would let them swap the key).
pub fn check_key_permissions(file: &Path) -> Result<(), KeyFileError> {
    let stat = |e| KeyFileError::Stat(file.to_path_buf(), e);
    let meta = std::fs::metadata(file).map_err(stat)?;
    if !meta.is_file() {
        return Err(KeyFileError::NotRegular(file.to_path_buf()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Mode(file.to_path_buf(), mode));
    }
    let absolute = std::fs::canonicalize(file).map_err(stat)?;
    for dir in absolute.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(dir) else {
            continue;
        };
        // The sticky bit (as on /tmp) stops others from replacing entries
        // they do not own, so such a directory is safe.
        if meta.mode() & 0o002 != 0 && meta.mode() & 0o1000 == 0 {
            return Err(KeyFileError::OpenDirectory(
                file.to_path_buf(),
                dir.to_path_buf(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = r#"listen = "inet:127.0.0.1:8891"
authserv_id = "mx.example.net"
internal_networks = ["127.0.0.0/8", "::1/128"]
signing_daemons = ["ORIGINATING"]
on_error = "tempfail"        # or "accept": what to do when signing fails
on_refuse = "accept"         # or "tempfail" | "reject"
insecure_key_permissions = true
[[key]]                      # several keys per domain give dual signatures (rsa + ed25519)
domain = "example.com"
selector = "s2026"
file = "keys/s2026.example.com.pem"
"#;

    #[test]
    fn key_schemes() {
        let c = Config::parse(ISSUE_EXAMPLE, "t.toml", Path::new("/etc/mass")).unwrap();
        assert_eq!(c.keys[0].schemes, [Scheme::Dkim]);
        let both = format!("{ISSUE_EXAMPLE}schemes = [\"dkim\", \"domainkeys\"]\n");
        let c = Config::parse(&both, "t.toml", Path::new("/etc/mass")).unwrap();
        assert_eq!(c.keys[0].schemes, [Scheme::Dkim, Scheme::Domainkeys]);
        let none = format!("{ISSUE_EXAMPLE}schemes = []\n");
        assert!(Config::parse(&none, "t.toml", Path::new("/etc/mass")).is_err());
        let bad = format!("{ISSUE_EXAMPLE}schemes = [\"arc\"]\n");
        assert!(Config::parse(&bad, "t.toml", Path::new("/etc/mass")).is_err());
    }

    #[test]
    fn the_issue_example_parses() {
        let c = Config::parse(ISSUE_EXAMPLE, "t.toml", Path::new("/etc/mass")).unwrap();
        assert_eq!(c.listen, Listen::Inet("127.0.0.1:8891".into()));
        assert_eq!(c.on_error, OnError::Tempfail);
        assert_eq!(c.on_refuse, OnRefuse::Accept);
        assert_eq!(c.keys.len(), 1);
        assert_eq!(
            c.keys[0].file,
            PathBuf::from("/etc/mass/keys/s2026.example.com.pem")
        );
        assert_eq!(c.read_timeout, Duration::from_secs(30));
        assert_eq!(c.idle_timeout, Duration::from_secs(30));
        let text = format!("read_timeout = 5\nidle_timeout = 300\n{ISSUE_EXAMPLE}");
        let t = Config::parse(&text, "t.toml", Path::new("/etc/mass")).unwrap();
        assert_eq!(t.read_timeout, Duration::from_secs(5));
        assert_eq!(t.idle_timeout, Duration::from_secs(300));
        assert_eq!(c.max_connections, 256);
        assert!(c.internal_networks[0].contains("127.1.2.3".parse().unwrap()));
        assert!(c.internal_networks[0].contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!c.internal_networks[0].contains("10.0.0.1".parse().unwrap()));
        assert!(c.internal_networks[1].contains("::1".parse().unwrap()));
        assert!(!c.internal_networks[1].contains("::2".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            (ISSUE_EXAMPLE.replace("\"tempfail\"", "\"maybe\""), "line 5"),
            (
                ISSUE_EXAMPLE.replace("\"::1/128\"", "\"::1/129\""),
                "line 3",
            ),
            (ISSUE_EXAMPLE.replace("inet:", "tcp:"), "line 1"),
            (format!("{ISSUE_EXAMPLE}bogus = 1\n"), "line 12"),
            (
                ISSUE_EXAMPLE.replace("mx.example.net", "mx example"),
                "line 2",
            ),
            (ISSUE_EXAMPLE.replace("\"s2026\"", "\"s 1\""), "line 10"),
        ];
        for (text, line) in cases {
            let e = Config::parse(&text, "t.toml", Path::new(".")).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(line) && text.starts_with("t.toml: "), "{e}");
        }
    }

    #[test]
    fn listen_forms() {
        assert_eq!(
            "inet:8891@127.0.0.1".parse::<Listen>(),
            Ok(Listen::Inet("127.0.0.1:8891".into()))
        );
        assert_eq!(
            "unix:/run/m.sock".parse::<Listen>(),
            Ok(Listen::Unix("/run/m.sock".into()))
        );
        assert!("inet:localhost".parse::<Listen>().is_err());
        assert!("unix:".parse::<Listen>().is_err());
    }

    #[test]
    fn row_24_key_file_permissions_are_checked() {
        let dir = std::env::temp_dir().join(format!("mass-cfg-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let key = dir.join("k.pem");
        std::fs::write(&key, "x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = check_key_permissions(&key).unwrap_err();
        assert!(
            matches!(&e, KeyFileError::Mode(p, 0o644) if p == &key),
            "{e}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        // The temp dir is usually world-writable but sticky (/tmp), which
        // is accepted; one without the sticky bit is not.
        let tmp_writable = std::fs::metadata(std::env::temp_dir())
            .map(|m| m.mode() & 0o002 != 0 && m.mode() & 0o1000 == 0)
            .unwrap();
        let r = check_key_permissions(&key);
        assert_eq!(r.is_err(), tmp_writable, "{r:?}");
        if let Err(e) = r {
            assert!(matches!(e, KeyFileError::OpenDirectory(..)), "{e}");
        }
        let e = check_key_permissions(&dir.join("missing.pem")).unwrap_err();
        assert!(matches!(e, KeyFileError::Stat(..)), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
