use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64ct::Encoding;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier};
use mass_core::domainkeys::DkMessageVerifier;

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
async fn row_12_strings_of_one_record_are_joined() {
    let server = start_server().await;
    let records = source(&server)
        .await
        .txt_records("split._domainkey.example.test")
        .await;
    assert_eq!(records, Ok(vec![b"v=DKIM1; k=ed25519; p=ABCD".to_vec()]));
}

/// Security case 13: two records are two records, never one.
#[tokio::test]
async fn row_13_separate_records_are_never_joined() {
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
async fn row_14_nxdomain_servfail_timeout() {
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
async fn row_05_bad_names_send_no_query() {
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
    let mut dk = Box::new(DkMessageVerifier::<4>::new(4));
    let zone = ZoneKeySource::default();
    let future = provide_keys(vec![&mut *verifier, &mut *dk], &zone);
    assert_send(&future);
    drop(future);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dns = rt.block_on(async {
        DnsKeySource::with_server("127.0.0.1:9".parse().unwrap(), DEFAULT_TIMEOUT).unwrap()
    });
    let future = provide_keys(vec![&mut *verifier], &dns);
    assert_send(&future);
}

#[test]
fn join_bounded_keeps_order() {
    let outputs = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(answers::join_bounded(
            vec![
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    1
                }) as Pin<Box<dyn Future<Output = i32>>>,
                Box::pin(async { 2 }),
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    3
                }),
            ],
            2,
        ));
    assert_eq!(outputs, [1, 2, 3]);
}

/// The lookups of one message are bounded: never more than the limit in
/// flight, and a new one starts as soon as one ends (all of them run).
#[test]
fn join_bounded_never_runs_more_than_the_limit_at_once() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..10u64)
        .map(|i| {
            let (in_flight, most) = (in_flight.clone(), most.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5 + i % 3)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                i
            }
        })
        .collect();
    let outputs = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(answers::join_bounded(futures, 3));
    assert_eq!(outputs, (0..10).collect::<Vec<_>>());
    assert_eq!(most.load(Ordering::SeqCst), 3);
}

/// One mapping from lookup errors to what the verifier is told, for every
/// path: timeouts and SERVFAIL are temperror, NXDOMAIN, NODATA and a bad
/// name are "no key" (permerror).
#[test]
fn lookup_errors_map_to_temperror_or_no_key() {
    assert!(matches!(
        key_answer(LookupError::Timeout),
        KeyAnswer::TempFail
    ));
    assert!(matches!(
        key_answer(LookupError::ServerFailure),
        KeyAnswer::TempFail
    ));
    assert!(matches!(
        key_answer(LookupError::NoRecord),
        KeyAnswer::NotFound
    ));
    assert!(matches!(
        key_answer(LookupError::InvalidName),
        KeyAnswer::NotFound
    ));
}

/// A key source that records the names it is asked for.
#[derive(Default)]
struct Recording {
    zone: ZoneKeySource,
    asked: std::sync::Mutex<Vec<String>>,
}

impl KeySource for Recording {
    fn txt_records(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send {
        self.asked.lock().unwrap().push(name.to_string());
        self.zone.txt_records(name)
    }
}

/// A DKIM and a DomainKeys signature with the same `s=` and `d=` ask for
/// the same name: it is looked up once, and each verifier takes the record
/// in its own syntax from the answer (junk and the other syntax skipped).
#[test]
fn a_name_two_verifiers_want_is_looked_up_once() {
    use mass_core::{Ed25519Signer, MessageSigner, SignRequest, SigningAlgorithm};

    // A DomainKey-Signature (it need not verify: only the lookup matters
    // here) above the fields, then a DKIM-Signature by an Ed25519 key.
    let message = b"DomainKey-Signature: a=rsa-sha1; c=simple; d=example.test; s=sel;\r\n\
        \th=From:Subject; b=AAAA\r\n\
        From: a@example.test\r\nSubject: both\r\n\r\nHi.\r\n";
    let mut out = vec![0u8; 2048];
    let mut req = SignRequest::new("example.test", "sel", SigningAlgorithm::Ed25519Sha256);
    req.timestamp = Some(1_700_000_000);
    let mut signer = MessageSigner::<4096, 32>::new(&req).unwrap();
    signer.update(message).unwrap();
    let mut key = Ed25519Signer::from_seed(&[5; 32]);
    let n = signer.finish(&mut key, &mut out).unwrap();
    let mut signed = out[..n].to_vec();
    signed.extend_from_slice(b"\r\n");
    signed.extend_from_slice(message);

    let mut source = Recording::default();
    for record in [
        "v=spf1 -all".to_string(),
        format!(
            "v=DKIM1; k=ed25519; p={}",
            base64ct::Base64::encode_string(&key.public_key())
        ),
    ] {
        source
            .zone
            .insert("sel._domainkey.example.test", record.into_bytes());
    }
    let options = mass_core::dkim::verify::VerifyOptions::new(1_700_000_100);
    let mut dkim = Box::new(MessageVerifier::<4096, 32, 4>::new(options));
    let mut dk = Box::new(DkMessageVerifier::<4>::new(4));
    dkim.update(&signed).unwrap();
    dkim.end_of_input().unwrap();
    dk.update(&signed).unwrap();
    dk.end_of_input().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(provide_keys(vec![&mut *dkim, &mut *dk], &source));
    assert_eq!(
        *source.asked.lock().unwrap(),
        ["sel._domainkey.example.test"]
    );
    let verification = dkim.finish().unwrap();
    let verdicts: Vec<_> = verification.results().map(|r| r.verdict).collect();
    assert_eq!(verdicts, [mass_core::dkim::verify::Verdict::Pass]);
    // The Ed25519 DKIM record is not a DomainKeys key: the DomainKeys
    // verifier was handed it as it is and says why it failed, rather than
    // waiting for a key.
    let dk_results = dk.finish().unwrap();
    assert_eq!(dk_results.len(), 1);
    assert_ne!(
        dk_results[0].reason,
        mass_core::domainkeys::DkReason::KeyNotProvided
    );
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
fn row_13_candidates_fixed_order_at_most_three() {
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
