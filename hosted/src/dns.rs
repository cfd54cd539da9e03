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

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use mass_core::dkim::key_record::KeyRecord;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier};

use crate::zone::{self, ZoneError};

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
    if bare.is_empty() || bare.len() > 253 {
        return Err(LookupError::InvalidName);
    }
    for label in bare.split('.') {
        let ok_len = (1..=63).contains(&label.len());
        let ok_bytes = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_len || !ok_bytes {
            return Err(LookupError::InvalidName);
        }
    }
    Ok(())
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

/// Looks up every key `verifier` asks for, side by side, and hands the
/// answers over: the records that parse as key records, in a fixed order,
/// at most three (security case 13); NXDOMAIN, no record or a bad name as
/// not found (permerror); a timeout or SERVFAIL as a temporary failure
/// (temperror). Call it once the header block has ended; `mass verify` and
/// the milter both use it.
pub async fn provide_keys<K: KeySource, const B: usize, const F: usize, const S: usize>(
    verifier: &mut MessageVerifier<B, F, S>,
    keys: &K,
) {
    let requests: Vec<(usize, String)> = verifier
        .key_requests()
        .map(|request| (request.id, request.to_string()))
        .collect();
    let answers = join_all(
        requests
            .iter()
            .map(|(_, name)| keys.txt_records(name))
            .collect(),
    )
    .await;
    for ((id, _), answer) in requests.iter().zip(answers) {
        match answer {
            Ok(records) => {
                let records = records_to_try(records);
                let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                verifier.provide_key(*id, KeyAnswer::Records(&refs));
            }
            Err(error) if error.is_temporary() => verifier.provide_key(*id, KeyAnswer::TempFail),
            Err(_) => verifier.provide_key(*id, KeyAnswer::NotFound),
        }
    }
}

/// Polls every future to completion, all at once, and returns their
/// outputs in order: the key lookups of one message run side by side, so
/// that five slow domains cost one timeout, not five.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The records to hand the verifier for one lookup: the ones that parse as
/// key records, in a fixed order, at most three (security case 13). When
/// none parses, the first few as they are, so the verdict says why.
fn records_to_try(records: Vec<TxtRecord>) -> Vec<TxtRecord> {
    let chosen = key_record_candidates(records.clone(), |r| KeyRecord::parse(r).is_ok());
    if chosen.is_empty() {
        key_record_candidates(records, |_| true)
    } else {
        chosen
    }
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

/// Key records read from a zone file (see [`crate::zone`]), for
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

/// A small authoritative DNS server on 127.0.0.1 for tests: it answers over
/// UDP from a fixed table and counts the queries it gets.
#[cfg(test)]
pub(crate) mod test_server {
    use super::*;
    use hickory_resolver::proto::op::{Message, MessageType, OpCode};
    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::{SOA, TXT};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What the server answers for one name.
    #[derive(Debug, Clone)]
    pub(crate) enum Reply {
        /// TXT records, each a list of character-strings.
        Records(Vec<Vec<String>>),
        /// The name exists with no TXT record.
        NoData,
        /// SERVFAIL.
        ServFail,
        /// No answer at all.
        Silent,
    }

    /// A running server; names not in its table get NXDOMAIN.
    pub(crate) struct TestServer {
        pub(crate) addr: SocketAddr,
        pub(crate) queries: Arc<AtomicUsize>,
    }

    impl TestServer {
        pub(crate) fn queries(&self) -> usize {
            self.queries.load(Ordering::SeqCst)
        }
    }

    fn soa() -> Option<Record> {
        Some(Record::from_rdata(
            Name::from_ascii("test.").ok()?,
            300,
            RData::SOA(SOA::new(
                Name::from_ascii("ns.test.").ok()?,
                Name::from_ascii("admin.test.").ok()?,
                1,
                60,
                60,
                60,
                60,
            )),
        ))
    }

    fn answer(table: &HashMap<String, Reply>, query: &Message) -> Option<Message> {
        let q = query.queries.first()?;
        let name = normalize_name(&q.name().to_ascii());
        let mut response = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = query.metadata.recursion_desired;
        response.add_query(q.clone());
        match table.get(&name) {
            Some(Reply::Records(records)) => {
                for strings in records {
                    response.add_answer(Record::from_rdata(
                        q.name().clone(),
                        300,
                        RData::TXT(TXT::new(strings.clone())),
                    ));
                }
            }
            Some(Reply::NoData) => {
                response.add_authority(soa()?);
            }
            Some(Reply::ServFail) => response.metadata.response_code = ResponseCode::ServFail,
            Some(Reply::Silent) => return None,
            None => {
                response.metadata.response_code = ResponseCode::NXDomain;
                response.add_authority(soa()?);
            }
        }
        Some(response)
    }

    /// Starts a server answering from `table` (names without the final dot).
    pub(crate) async fn start(table: Vec<(&str, Reply)>) -> TestServer {
        let table: HashMap<String, Reply> = table
            .into_iter()
            .map(|(name, reply)| (normalize_name(name), reply))
            .collect();
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(query) = Message::from_vec(&buf[..len]) else {
                    continue;
                };
                if let Some(response) = answer(&table, &query) {
                    let bytes = response.to_vec().unwrap();
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        TestServer { addr, queries }
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::{Reply, TestServer};
    use super::*;

    fn strings(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    async fn start_server() -> TestServer {
        test_server::start(vec![
            (
                "split._domainkey.example.test",
                Reply::Records(vec![strings(&["v=DKIM1; ", "k=ed25519; ", "p=AB", "CD"])]),
            ),
            (
                "two._domainkey.example.test",
                Reply::Records(vec![
                    strings(&["v=spf1 -all"]),
                    strings(&["v=DKIM1; ", "p=XY"]),
                ]),
            ),
            ("nodata._domainkey.example.test", Reply::NoData),
            ("servfail._domainkey.example.test", Reply::ServFail),
            ("slow._domainkey.example.test", Reply::Silent),
        ])
        .await
    }

    async fn source(server: &TestServer) -> DnsKeySource {
        DnsKeySource::with_server(server.addr, Duration::from_millis(500)).unwrap()
    }

    /// Security case 12: the strings of one record are joined with nothing
    /// between them.
    #[tokio::test]
    async fn security_row_12_strings_of_one_record_are_joined() {
        let server = start_server().await;
        let records = source(&server)
            .await
            .txt_records("split._domainkey.example.test")
            .await;
        assert_eq!(records, Ok(vec![b"v=DKIM1; k=ed25519; p=ABCD".to_vec()]));
    }

    /// Security case 13: two records are two records, never one.
    #[tokio::test]
    async fn security_row_13_separate_records_are_never_joined() {
        let server = start_server().await;
        let mut records = source(&server)
            .await
            .txt_records("two._domainkey.example.test.")
            .await
            .unwrap();
        records.sort();
        assert_eq!(
            records,
            vec![b"v=DKIM1; p=XY".to_vec(), b"v=spf1 -all".to_vec()]
        );
        let candidates = key_record_candidates(records, |r| r.starts_with(b"v=DKIM1"));
        assert_eq!(candidates, vec![b"v=DKIM1; p=XY".to_vec()]);
    }

    /// Security case 14: NXDOMAIN is a permerror, SERVFAIL and a timeout are
    /// temperrors. A name with no TXT record is a permerror too.
    #[tokio::test]
    async fn security_row_14_nxdomain_servfail_timeout() {
        let server = start_server().await;
        let dns = source(&server).await;
        let nx = dns.txt_records("missing._domainkey.example.test").await;
        assert_eq!(nx, Err(LookupError::NoRecord));
        assert!(!LookupError::NoRecord.is_temporary());

        let nodata = dns.txt_records("nodata._domainkey.example.test").await;
        assert_eq!(nodata, Err(LookupError::NoRecord));

        let servfail = dns.txt_records("servfail._domainkey.example.test").await;
        assert_eq!(servfail, Err(LookupError::ServerFailure));
        assert!(LookupError::ServerFailure.is_temporary());

        let started = std::time::Instant::now();
        let slow = dns.txt_records("slow._domainkey.example.test").await;
        assert_eq!(slow, Err(LookupError::Timeout));
        assert!(LookupError::Timeout.is_temporary());
        // The timeout bounds the whole lookup, retries included.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    /// Security case 5: a name with a NUL (or anything else that is not a
    /// plain DNS name) is refused, and no query is sent.
    #[tokio::test]
    async fn security_row_5_bad_names_send_no_query() {
        let server = start_server().await;
        let dns = source(&server).await;
        for name in [
            "attack.com.\0.any._domainkey.example.test",
            "sel._domainkey.legit.com\0.attack.com",
            "sel._domainkey.legit.com(.attack.com",
            "sel._domainkey.legit.com\".attack.com",
            "sel._domainkey.b\u{fc}cher.example",
            "sel._domainkey..example",
            "",
            ".",
        ] {
            assert_eq!(
                dns.txt_records(name).await,
                Err(LookupError::InvalidName),
                "{name:?}"
            );
        }
        assert_eq!(server.queries(), 0);
    }

    /// The milter runs key lookups on a multi-threaded runtime: the future
    /// of [`provide_keys`] must be `Send`, for DNS and zone sources alike.
    #[test]
    fn provide_keys_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let options = mass_core::dkim::verify::VerifyOptions::new(0);
        let mut verifier = Box::new(MessageVerifier::<1024, 16, 4>::new(options));
        let zone = ZoneKeySource::default();
        let future = provide_keys(&mut verifier, &zone);
        assert_send(&future);
        drop(future);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dns = rt.block_on(async {
            DnsKeySource::with_server("127.0.0.1:9".parse().unwrap(), DEFAULT_TIMEOUT).unwrap()
        });
        let future = provide_keys(&mut verifier, &dns);
        assert_send(&future);
    }

    #[test]
    fn join_all_keeps_order() {
        let outputs = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(join_all(vec![
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    1
                }) as Pin<Box<dyn Future<Output = i32>>>,
                Box::pin(async { 2 }),
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    3
                }),
            ]));
        assert_eq!(outputs, [1, 2, 3]);
    }

    #[test]
    fn key_record_names() {
        assert_eq!(
            key_record_name("sel", "Example.COM."),
            Ok("sel._domainkey.Example.COM".to_string())
        );
        assert_eq!(
            key_record_name("a.b", "example.com"),
            Ok("a.b._domainkey.example.com".to_string())
        );
        assert_eq!(
            key_record_name("attack.com.\0.any", "example.com"),
            Err(LookupError::InvalidName)
        );
        assert_eq!(
            key_record_name("", "example.com"),
            Err(LookupError::InvalidName)
        );
        assert_eq!(
            key_record_name("s", "x".repeat(250).as_str()),
            Err(LookupError::InvalidName)
        );
        let label = "a".repeat(64);
        assert_eq!(
            key_record_name(&label, "example.com"),
            Err(LookupError::InvalidName)
        );
    }

    /// Security case 13: at most three records are tried, in an order that
    /// does not depend on the order DNS returned them in, junk skipped.
    #[test]
    fn security_row_13_candidates_fixed_order_at_most_three() {
        let records: Vec<TxtRecord> = [
            "v=DKIM1; p=D",
            "junk",
            "v=DKIM1; p=B",
            "v=DKIM1; p=C",
            "v=DKIM1; p=A",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut reversed = records.clone();
        reversed.reverse();
        let is_key = |r: &[u8]| r.starts_with(b"v=DKIM1");
        let chosen = key_record_candidates(records, is_key);
        assert_eq!(chosen, key_record_candidates(reversed, is_key));
        assert_eq!(
            chosen,
            vec![
                b"v=DKIM1; p=A".to_vec(),
                b"v=DKIM1; p=B".to_vec(),
                b"v=DKIM1; p=C".to_vec()
            ]
        );
        let duplicates = vec![b"v=DKIM1; p=A".to_vec(), b"v=DKIM1; p=A".to_vec()];
        assert_eq!(key_record_candidates(duplicates, is_key).len(), 1);
    }

    #[tokio::test]
    async fn zone_source_lookups() {
        let zone = ZoneKeySource::parse(
            b"Sel._DomainKey.Example.COM. IN TXT \"v=DKIM1; \" \"p=AB\"\n\
              sel._domainkey.example.com TXT \"second\"\n",
        )
        .unwrap();
        let records = zone
            .txt_records("sel._domainkey.example.com")
            .await
            .unwrap();
        assert_eq!(records, vec![b"v=DKIM1; p=AB".to_vec(), b"second".to_vec()]);
        assert_eq!(
            zone.txt_records("SEL._domainkey.example.com.")
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            zone.txt_records("other._domainkey.example.com").await,
            Err(LookupError::NoRecord)
        );
        assert_eq!(
            zone.txt_records("sel._domainkey.example.com\0").await,
            Err(LookupError::InvalidName)
        );
        // Through a reference, as generic callers hold it.
        let by_ref = &zone;
        assert!(
            by_ref
                .txt_records("sel._domainkey.example.com")
                .await
                .is_ok()
        );
    }

    #[test]
    fn zone_read_errors_name_the_file_problem() {
        let missing = ZoneKeySource::read(std::path::Path::new("/nonexistent/zone"));
        assert!(matches!(missing, Err(ZoneReadError::Io(_))));
        let bad = ZoneKeySource::parse(b"a.example TXT\n");
        assert!(bad.unwrap_err().to_string().contains("line 1"));
    }
}
