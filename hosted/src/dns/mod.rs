//! Key record lookups for the verifier (RFC 6376 §3.6.2, §6.1.2).
//!
//! A DKIM key lives in TXT records at `selector._domainkey.domain`. This module
//! fetches those records and nothing more: parsing and judging them is the
//! verifier's job. Two sources implement [`KeySource`]:
//!
//! - [`DnsKeySource`]: real DNS through `hickory-resolver`, with a timeout;
//! - [`ZoneKeySource`]: records read from a zone file (`mass verify --zone`).
//!
//! The rules every source follows:
//!
//! - The character-strings of one TXT record are joined with nothing between
//!   them (RFC 6376 §3.6.2.2). Separate records are never joined: a lookup gives
//!   a list of records.
//! - "The name does not exist" and "no TXT record there" give
//!   [`LookupError::NoRecord`], a permerror (RFC 6376 §6.1.2: "no key for
//!   signature"). A timeout or a server failure gives a temperror.
//! - A name that is not a valid DNS name is refused before any query is sent
//!   ([`LookupError::InvalidName`], a permerror): see security case 5, a NUL in
//!   `s=` or `d=`.
//!
//! When one name holds several records, [`key_record_candidates`] chooses the
//! ones the verifier should try: at most [`MAX_KEY_RECORD_TRIES`], in a fixed
//! order, junk skipped (RFC 6376 §6.1.2; security case 13).
//!
//! [`provide_keys`] is the one path from a verifier's key requests to its
//! answers, for `mass verify` and `mass serve`, DKIM and DomainKeys: see
//! [`answers`].

pub mod answers;
pub mod zone;

pub use answers::{WantsKeys, key_answer, provide_keys};

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use zone::ZoneError;

/// How long one key lookup may take before it counts as a temperror.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many key records at one name are tried (RFC 6376 §6.1.2 leaves
/// the number to the verifier; three bounds the work an attacker can cause).
pub const MAX_KEY_RECORD_TRIES: usize = 3;

/// One TXT resource record: its character-strings joined with nothing between
/// them (RFC 6376 §3.6.2.2). The bytes are as published; they need not be UTF-8.
pub type TxtRecord = Vec<u8>;

/// Why a lookup gave no records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupError {
    /// NXDOMAIN, or the name exists with no TXT record: no key (permerror).
    NoRecord,
    /// The name is not a valid DNS name; no query was sent (permerror).
    InvalidName,
    /// No answer in time (temperror).
    Timeout,
    /// SERVFAIL, REFUSED or a network failure (temperror).
    ServerFailure,
}

impl LookupError {
    /// True for the temperror class: trying again later may succeed.
    /// False for the permerror class (RFC 8601 §2.7.1).
    pub fn is_temporary(self) -> bool {
        matches!(self, Self::Timeout | Self::ServerFailure)
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRecord => "no key record found",
            Self::InvalidName => "key record name is not a valid domain name",
            Self::Timeout => "key lookup timed out",
            Self::ServerFailure => "key lookup failed at the DNS server",
        })
    }
}

impl std::error::Error for LookupError {}

/// Somewhere key records can be fetched from.
///
/// The method returns a `Send` future so that the milter can run lookups on a
/// multi-threaded tokio runtime; the CLI drives it with a current-thread one.
/// Sources that need no I/O (a zone file) return a ready future.
pub trait KeySource {
    /// The TXT records at `name` (an absolute name, with or without the final
    /// dot), each one's strings joined. Never an empty list: no record at all
    /// is [`LookupError::NoRecord`].
    fn txt_records(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send;
}

impl<T: KeySource + Sync> KeySource for &T {
    fn txt_records(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send {
        (**self).txt_records(name)
    }
}

impl<T: KeySource + Send + Sync> KeySource for std::sync::Arc<T> {
    fn txt_records(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send {
        (**self).txt_records(name)
    }
}

/// The name a key record lives at: `selector._domainkey.domain`
/// (RFC 6376 §3.6.2.1), checked with [`check_domain_name`] so that nothing
/// strange is ever queried.
pub fn key_record_name(selector: &str, domain: &str) -> Result<String, LookupError> {
    let name = format!(
        "{}._domainkey.{}",
        selector,
        domain.strip_suffix('.').unwrap_or(domain)
    );
    check_domain_name(&name)?;
    Ok(name)
}

/// Checks that `name` is a plain DNS name made of labels of letters, digits,
/// `-` and `_` (RFC 6376 §3.5 `selector` and `domain-name`; `_` for
/// `_domainkey`), each 1 to 63 bytes, 253 bytes in all, optionally ending in
/// a dot. Anything else (NUL, spaces, `(`, quotes, U-labels) is refused.
pub fn check_domain_name(name: &str) -> Result<(), LookupError> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    mass_core::syntax::dns_name::check_dns_name(bare.as_bytes())
        .map_err(|_| LookupError::InvalidName)
}

/// The form names are compared in: ASCII lower case, no final dot.
pub(crate) fn normalize_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Picks the records of one lookup that the verifier should try, in order:
/// sorted by their bytes (so the choice does not depend on the order the DNS
/// server happened to return them in), duplicates dropped, records for which
/// `is_key_record` is false (junk such as an SPF string) skipped, and at most
/// [`MAX_KEY_RECORD_TRIES`] of the rest (RFC 6376 §6.1.2).
pub fn key_record_candidates(
    mut records: Vec<TxtRecord>,
    mut is_key_record: impl FnMut(&[u8]) -> bool,
) -> Vec<TxtRecord> {
    records.sort_unstable();
    records.dedup();
    records
        .into_iter()
        .filter(|record| is_key_record(record))
        .take(MAX_KEY_RECORD_TRIES)
        .collect()
}

/// Key records from DNS, through `hickory-resolver`.
#[derive(Clone)]
pub struct DnsKeySource {
    resolver: TokioResolver,
    timeout: Duration,
}

impl fmt::Debug for DnsKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsKeySource")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DnsKeySource {
    /// Uses the system's resolver configuration (`/etc/resolv.conf`).
    /// Each lookup, retries included, gives up after `timeout`.
    pub fn system(timeout: Duration) -> Result<Self, NetError> {
        let mut builder = TokioResolver::builder_tokio()?;
        Self::tune(builder.options_mut(), timeout);
        Ok(Self {
            resolver: builder.build()?,
            timeout,
        })
    }

    /// Asks only the name server at `server` (UDP, then TCP for truncated
    /// answers). Each lookup, retries included, gives up after `timeout`.
    pub fn with_server(server: SocketAddr, timeout: Duration) -> Result<Self, NetError> {
        let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
            .into_iter()
            .map(|mut connection| {
                connection.port = server.port();
                connection
            })
            .collect();
        let config = ResolverConfig::from_parts(
            None,
            Vec::new(),
            vec![NameServerConfig::new(server.ip(), true, connections)],
        );
        let mut options = ResolverOpts::default();
        Self::tune(&mut options, timeout);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()?;
        Ok(Self { resolver, timeout })
    }

    fn tune(options: &mut ResolverOpts, timeout: Duration) {
        options.timeout = timeout;
        // Key names are always absolute: never append search domains.
        options.ndots = 0;
        options.edns0 = true;
    }

    async fn lookup(&self, name: &str) -> Result<Vec<TxtRecord>, LookupError> {
        check_domain_name(name)?;
        let fqdn = format!("{}.", name.strip_suffix('.').unwrap_or(name));
        let name = Name::from_ascii(&fqdn).map_err(|_| LookupError::InvalidName)?;
        let answer =
            tokio::time::timeout(self.timeout, self.resolver.lookup(name, RecordType::TXT))
                .await
                .map_err(|_| LookupError::Timeout)?
                .map_err(classify)?;
        let records: Vec<TxtRecord> = answer
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(txt.txt_data.concat()),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            Err(LookupError::NoRecord)
        } else {
            Ok(records)
        }
    }
}

/// Sorts a resolver error into the permerror class (the name has no TXT
/// record) or the temperror class (anything that may go away).
fn classify(error: NetError) -> LookupError {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(no_records))
            if matches!(
                no_records.response_code,
                ResponseCode::NXDomain | ResponseCode::NoError
            ) =>
        {
            LookupError::NoRecord
        }
        NetError::Timeout => LookupError::Timeout,
        _ => LookupError::ServerFailure,
    }
}

impl KeySource for DnsKeySource {
    fn txt_records(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send {
        self.lookup(name)
    }
}

/// Key records read from a zone file (see [`crate::dns::zone`]), for
/// `mass verify --zone FILE` and for tests. Lookups are case-insensitive and
/// ignore a final dot; they never touch the network.
#[derive(Debug, Clone, Default)]
pub struct ZoneKeySource {
    records: HashMap<String, Vec<TxtRecord>>,
}

impl ZoneKeySource {
    /// Parses zone-file text.
    pub fn parse(text: &[u8]) -> Result<Self, ZoneError> {
        let mut source = Self::default();
        for record in zone::parse(text)? {
            let data = record.data();
            source.records.entry(record.name).or_default().push(data);
        }
        Ok(source)
    }

    /// Reads and parses a zone file.
    pub fn read(path: &std::path::Path) -> Result<Self, ZoneReadError> {
        let text = std::fs::read(path).map_err(ZoneReadError::Io)?;
        Self::parse(&text).map_err(ZoneReadError::Parse)
    }

    /// Adds one record (its strings already joined) at `name`.
    pub fn insert(&mut self, name: &str, record: TxtRecord) {
        self.records
            .entry(normalize_name(name))
            .or_default()
            .push(record);
    }

    fn lookup(&self, name: &str) -> Result<Vec<TxtRecord>, LookupError> {
        check_domain_name(name)?;
        self.records
            .get(&normalize_name(name))
            .cloned()
            .ok_or(LookupError::NoRecord)
    }
}

impl KeySource for ZoneKeySource {
    fn txt_records(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send {
        std::future::ready(self.lookup(name))
    }
}

/// A zone file that could not be read or parsed.
#[derive(Debug)]
pub enum ZoneReadError {
    /// The file could not be read.
    Io(std::io::Error),
    /// The file is not in the zone-file subset we read.
    Parse(ZoneError),
}

impl fmt::Display for ZoneReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => write!(f, "cannot read zone file: {error}"),
            Self::Parse(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ZoneReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(error) => Some(error),
            Self::Parse(error) => Some(error),
        }
    }
}
#[cfg(test)]
pub(crate) mod test_server;

#[cfg(test)]
mod tests;
