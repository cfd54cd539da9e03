//! Key lookups as the verifier makes them (RFC 6376 §3.6.2, §6.1.2), through
//! `mass verify`'s library entry point and a real [`KeySource`]: zone files,
//! and DNS against a local socket. Rows 5, 6, 12, 13, 14 and 20 of
//! ../shared/security-cases.md.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mass_core::{Ed25519Signer, MessageSigner, SignRequest, SigningAlgorithm};
use mass_hosted::auth_results::{self, DkimResult};
use mass_hosted::cli::verify::{MessageReport, VerifySettings, verify_message};
use mass_hosted::dns::{DnsKeySource, KeySource, LookupError, TxtRecord, ZoneKeySource};

const NOW: u64 = 1_700_000_100;

const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\n\
To: bob@example.net\r\n\
Subject: keys\r\n\
\r\n\
Hello.\r\n";

fn key(seed: u8) -> Ed25519Signer {
    Ed25519Signer::from_seed(&[seed; 32])
}

/// The `p=` record of `key(seed)`.
fn record(seed: u8) -> String {
    use base64ct::Encoding;
    format!(
        "v=DKIM1; k=ed25519; p={}",
        base64ct::Base64::encode_string(&key(seed).public_key())
    )
}

/// `message` signed by `key(seed)` as `selector._domainkey.domain`.
fn signed(message: &[u8], domain: &str, selector: &str, seed: u8) -> Vec<u8> {
    let mut req = SignRequest::new(domain, selector, SigningAlgorithm::Ed25519Sha256);
    req.timestamp = Some(1_700_000_000);
    let mut signer = MessageSigner::<8192, 64>::new(&req).unwrap();
    signer.update(message).unwrap();
    let mut out = [0u8; 2048];
    let n = signer.finish(&mut key(seed), &mut out).unwrap();
    let mut signed = out[..n].to_vec();
    signed.extend_from_slice(b"\r\n");
    signed.extend_from_slice(message);
    signed
}

/// A key source that counts the lookups it is asked for.
struct Counting<K> {
    inner: K,
    lookups: AtomicUsize,
}

impl<K> Counting<K> {
    fn new(inner: K) -> Self {
        Counting {
            inner,
            lookups: AtomicUsize::new(0),
        }
    }
    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl<K: KeySource + Sync> KeySource for Counting<K> {
    fn txt_records(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<TxtRecord>, LookupError>> + Send {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.txt_records(name)
    }
}

fn zone(text: &str) -> Counting<ZoneKeySource> {
    Counting::new(ZoneKeySource::parse(text.as_bytes()).unwrap())
}

fn verify(message: &[u8], keys: &impl KeySource) -> MessageReport {
    verify_message(message, keys, &VerifySettings::new(NOW)).unwrap()
}

fn verdicts(report: &MessageReport) -> Vec<DkimResult> {
    report.results.iter().map(|r| r.result.unwrap()).collect()
}

#[test]
fn a_signed_message_passes_through_a_zone_file() {
    let keys = zone(&format!(
        "sel._domainkey.example.com. IN TXT \"{}\"\n",
        record(1)
    ));
    let report = verify(&signed(MESSAGE, "example.com", "sel", 1), &keys);
    assert_eq!(verdicts(&report), [DkimResult::Pass]);
    assert!(report.any_pass());
    assert_eq!(keys.lookups(), 1);
    let r = &report.results[0];
    assert_eq!(r.domain.as_deref(), Some("example.com"));
    assert_eq!(r.selector.as_deref(), Some("sel"));
    assert_eq!(r.algorithm.as_deref(), Some("ed25519-sha256"));
    assert_eq!(r.signature.as_ref().map(String::len), Some(8));
}

/// Row 28: a message whose lines end in bare LF (as files on Unix do) is
/// converted to CRLF first, the same way `mass sign` does.
#[test]
fn bare_lf_input_is_read_as_crlf() {
    let keys = zone(&format!("sel._domainkey.example.com TXT \"{}\"", record(1)));
    let crlf = signed(MESSAGE, "example.com", "sel", 1);
    let lf: Vec<u8> = crlf.iter().copied().filter(|&b| b != b'\r').collect();
    assert_eq!(verdicts(&verify(&lf, &keys)), [DkimResult::Pass]);
}

/// Row 12: a key TXT record split into several strings is joined with
/// nothing between them, and passes.
#[test]
fn row_12_split_key_record_passes() {
    let r = record(1);
    let (a, b) = r.split_at(20);
    let (b, c) = b.split_at(15);
    let keys = zone(&format!(
        "sel._domainkey.example.com. 300 IN TXT ( \"{a}\"\n  \"{b}\" ; middle\n  \"{c}\" )\n"
    ));
    let report = verify(&signed(MESSAGE, "example.com", "sel", 1), &keys);
    assert_eq!(verdicts(&report), [DkimResult::Pass]);
}

/// Row 13: two TXT records at the selector are never joined; junk beside
/// the key is ignored; of two keys the right one is found; at most three
/// records are tried, in a fixed order.
#[test]
fn row_13_several_records() {
    let message = signed(MESSAGE, "example.com", "sel", 1);
    let name = "sel._domainkey.example.com.";

    let junk_and_key = zone(&format!(
        "{name} TXT \"v=spf1 -all\"\n{name} TXT \"{}\"\n",
        record(1)
    ));
    assert_eq!(
        verdicts(&verify(&message, &junk_and_key)),
        [DkimResult::Pass]
    );

    let two_keys = zone(&format!(
        "{name} TXT \"{}\"\n{name} TXT \"{}\"\n",
        record(2),
        record(1)
    ));
    assert_eq!(verdicts(&verify(&message, &two_keys)), [DkimResult::Pass]);

    // Joining the two records would give one bad record; they must not be.
    let halves = zone(&format!(
        "{name} TXT \"{}\"\n{name} TXT \"{}\"\n",
        &record(1)[..30],
        &record(1)[30..]
    ));
    assert_ne!(verdicts(&verify(&message, &halves)), [DkimResult::Pass]);

    // Records are tried sorted by their bytes. Three wrong keys that sort
    // before the right one use up the three tries.
    let mut wrong: Vec<String> = (2..=40).map(record).collect();
    wrong.sort();
    let right = record(1);
    let before: Vec<&String> = wrong.iter().filter(|w| **w < right).take(3).collect();
    assert_eq!(before.len(), 3, "seeds give three keys sorting first");
    let mut text = format!("{name} TXT \"{right}\"\n");
    for w in &before {
        text.push_str(&format!("{name} TXT \"{w}\"\n"));
    }
    let report = verify(&message, &zone(&text));
    assert_ne!(verdicts(&report), [DkimResult::Pass]);
    // With only two wrong keys ahead of it, the right key is the third try.
    let mut text = format!("{name} TXT \"{right}\"\n");
    for w in before.iter().take(2) {
        text.push_str(&format!("{name} TXT \"{w}\"\n"));
    }
    assert_eq!(
        verdicts(&verify(&message, &zone(&text))),
        [DkimResult::Pass]
    );
}

/// Row 14: NXDOMAIN is permerror; a first tag of `v=DKIM2` is permerror;
/// a DNS timeout is temperror.
#[test]
fn row_14_missing_bad_and_unanswered_keys() {
    let message = signed(MESSAGE, "example.com", "sel", 1);
    let none = zone("other._domainkey.example.com TXT \"x\"");
    assert_eq!(verdicts(&verify(&message, &none)), [DkimResult::Permerror]);
    assert_eq!(none.lookups(), 1);

    let dkim2 = record(1).replace("v=DKIM1", "v=DKIM2");
    let v2 = zone(&format!("sel._domainkey.example.com TXT \"{dkim2}\""));
    assert_eq!(verdicts(&verify(&message, &v2)), [DkimResult::Permerror]);

    // A name server that never answers: a real UDP socket nobody reads.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = DnsKeySource::with_server(silent.local_addr().unwrap(), Duration::from_millis(300))
        .unwrap();
    let report = verify(&message, &dns);
    assert_eq!(verdicts(&report), [DkimResult::Temperror]);
    assert!(!report.any_pass());
}

/// Row 5: a NUL in `s=` or `d=` gives permerror, and no lookup is made.
#[test]
fn row_05_nul_in_selector_or_domain_sends_no_query() {
    let message = signed(MESSAGE, "example.com", "sel", 1);
    let text = String::from_utf8(message).unwrap();
    for (from, to) in [
        ("s=sel;", "s=attack.com.\0.any;"),
        ("d=example.com;", "d=example.com\0.attack.com;"),
    ] {
        assert!(text.contains(from));
        let keys = zone(&format!("sel._domainkey.example.com TXT \"{}\"", record(1)));
        let report = verify(text.replace(from, to).as_bytes(), &keys);
        assert_eq!(verdicts(&report), [DkimResult::Permerror], "{to:?}");
        assert_eq!(keys.lookups(), 0, "{to:?}");
    }
}

/// Row 6: `d=legit.com(.attack.com` (and with `"`, `'`, `;`) is permerror,
/// and nothing of it can change the structure of Authentication-Results.
#[test]
fn row_06_hostile_domains_are_permerror_and_quoted() {
    let message = String::from_utf8(signed(MESSAGE, "example.com", "sel", 1)).unwrap();
    for hostile in [
        "legit.com(.attack.com",
        "legit.com\".attack.com",
        "legit.com'.attack.com",
        "legit.com\"; dkim=pass header.d=legit.com",
    ] {
        let keys = zone(&format!("sel._domainkey.example.com TXT \"{}\"", record(1)));
        let bad = message.replacen("d=example.com;", &format!("d={hostile};"), 1);
        let report = verify(bad.as_bytes(), &keys);
        assert_eq!(verdicts(&report), [DkimResult::Permerror], "{hostile}");
        assert_eq!(keys.lookups(), 0);
        let field = auth_results::write_field("mx.example.org", &report.results, "\r\n\t");
        let unfolded = field.replace("\r\n", "");
        assert_eq!(unfolded.matches("dkim=").count(), 1, "{field}");
        assert!(!unfolded.contains("header.d=legit"), "{field}");
    }
}

/// Row 20: 1,000 DKIM-Signature fields pointing at 1,000 domains: at most
/// N are checked and at most N key lookups are made (N = 5 by default, or
/// as configured); the rest are only counted.
#[test]
fn row_20_a_thousand_signatures_make_at_most_n_lookups() {
    let one = signed(MESSAGE, "example.com", "sel", 1);
    let field_end = one.windows(8).position(|w| w == b"\r\nFrom: ").unwrap() + 2;
    let field = String::from_utf8(one[..field_end].to_vec()).unwrap();
    let mut message = Vec::new();
    for n in 0..1000 {
        message.extend_from_slice(
            field
                .replace("d=example.com;", &format!("d=slow{n}.example;"))
                .as_bytes(),
        );
    }
    message.extend_from_slice(MESSAGE);

    let keys = zone("unrelated.example TXT \"x\"");
    let report = verify(&message, &keys);
    assert_eq!(report.signatures_seen, 1000);
    assert_eq!(report.results.len(), 5);
    assert_eq!(keys.lookups(), 5);

    let keys = zone("unrelated.example TXT \"x\"");
    let mut settings = VerifySettings::new(NOW);
    settings.max_signatures = 3;
    let report = verify_message(&message[..], &keys, &settings).unwrap();
    assert_eq!(report.results.len(), 3);
    assert_eq!(keys.lookups(), 3);

    // And the lookups run side by side: five silent name servers cost one
    // timeout, not five.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = Counting::new(
        DnsKeySource::with_server(silent.local_addr().unwrap(), Duration::from_millis(500))
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let report = verify(&message, &dns);
    assert_eq!(dns.lookups(), 5);
    assert!(
        report
            .results
            .iter()
            .all(|r| r.result == Some(DkimResult::Temperror))
    );
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
}
