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
