use std::sync::Arc;

use base64ct::{Base64, Encoding};
use mass_core::RsaSha256Signer;
use mass_core::canon::DkCanon;
use mass_core::domainkeys::{DkSignRequest, DkSigner};

use std::time::{Duration, Instant};

use mass_core::{Ed25519Signer, MessageSigner, SignRequest, SigningAlgorithm};

use super::*;
use crate::cli::verify::{VerifySettings, verify_reader};
use crate::config::Config;
use crate::dns::test_server::{self, Reply};
use crate::dns::{DnsKeySource, ZoneKeySource};
use crate::keys::{KeyMaterial, parse_pem};
use crate::milter::KeySources;

/// RFC 8463 §A.1, the RSA-1024 key (PKCS#1).
const RSA_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
-----END RSA PRIVATE KEY-----
";

/// A verify-mode state (no signing keys) that fetches keys from `source`.
fn state(source: KeySources) -> State {
    let config = Config::parse(
        "listen = \"inet:127.0.0.1:1\"\nauthserv_id = \"mx.example.net\"\n",
        "test",
        std::path::Path::new("."),
    )
    .unwrap();
    State {
        config,
        keys: Vec::new(),
        key_source: Arc::new(source),
        device: None,
        arc_key: None,
    }
}

#[test]
fn domainkeys_signatures_get_a_legacy_result() {
    let KeyMaterial::Rsa(key) = parse_pem(RSA_PEM).unwrap() else {
        panic!("not RSA");
    };
    let head: &[(&str, &str)] = &[
        ("From", " Joe <joe@example.com>"),
        ("To", " jane@example.net"),
        ("Subject", " lunch\r\n today"),
    ];
    let body = b"Hi.\r\n\r\nWe lost.\r\n";
    let mut signer =
        DkSigner::new(&DkSignRequest::new("example.com", "dk", DkCanon::Nofws)).unwrap();
    for (name, value) in head {
        signer
            .header_field(format!("{name}:{value}").as_bytes())
            .unwrap();
    }
    signer.end_of_headers().unwrap();
    signer.body(body).unwrap();
    let mut sha1 = RsaSha256Signer::new(&*key, getrandom::SysRng).unwrap();
    let mut out = vec![0u8; 2048];
    let n = signer.finish(&mut sha1, &mut out).unwrap();
    let field = String::from_utf8(out[..n].to_vec()).unwrap();
    let (name, value) = field.split_once(':').unwrap();

    let mut headers = HeaderBuf::default();
    headers.push(name.as_bytes(), value.as_bytes(), true, 1 << 20);
    for (name, value) in head {
        headers.push(name.as_bytes(), value.as_bytes(), true, 1 << 20);
    }

    use rsa::pkcs8::EncodePublicKey;
    let der = key.to_public_key().to_public_key_der().unwrap();
    let record = format!("k=rsa; p={}", Base64::encode_string(der.as_bytes()));
    let strings: Vec<String> = record
        .as_bytes()
        .chunks(200)
        .map(|c| format!("\"{}\"", std::str::from_utf8(c).unwrap()))
        .collect();
    let zone_text = format!("dk._domainkey.example.com. IN TXT {}\n", strings.join(" "));
    let zone = crate::dns::ZoneKeySource::parse(zone_text.as_bytes()).unwrap();
    let state = state(KeySources::Zone(zone));

    for tamper in [false, true] {
        let mut job = VerifyJob::start(&state, &headers, NOW);
        let chunk: &[u8] = if tamper {
            b"Hi.\r\n\r\nWe won.\r\n"
        } else {
            body
        };
        assert!(job.body(chunk), "DomainKeys needs the whole body");
        assert!(job.needs_keys());
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(job.fetch_keys(&*state.key_source));
        let outcome = job.finish(&state, &headers, &Default::default());
        let ar = outcome.auth_results.replace("\n\t", " ");
        let want = if tamper { "fail" } else { "pass" };
        assert!(ar.contains("dkim=none;"), "{ar}");
        assert!(
            ar.contains(&format!(
                "domainkeys={want} (legacy DomainKeys SHA-1 result, never a DKIM pass"
            )),
            "{ar}"
        );
        assert!(
            outcome
                .summary
                .ends_with(&format!("domainkeys:{want}/example.com")),
            "{}",
            outcome.summary
        );
    }
}

/// The time messages are verified at: a little after they were signed.
const NOW: u64 = 1_700_000_100;

const MESSAGE: &[u8] =
    b"From: a@example.test\r\nTo: b@example.net\r\nSubject: one lookup\r\n\r\nHello.\r\n";

fn ed25519() -> Ed25519Signer {
    Ed25519Signer::from_seed(&[7; 32])
}

/// The DNS key record of [`ed25519`].
fn key_record() -> String {
    format!(
        "v=DKIM1; k=ed25519; p={}",
        Base64::encode_string(&ed25519().public_key())
    )
}

/// `message` signed once per selector (all at `example.test`), top first.
fn signed(message: &[u8], selectors: &[&str]) -> Vec<u8> {
    let mut message = message.to_vec();
    for selector in selectors.iter().rev() {
        let mut req = SignRequest::new("example.test", selector, SigningAlgorithm::Ed25519Sha256);
        req.timestamp = Some(1_700_000_000);
        let mut signer = MessageSigner::<4096, 32>::new(&req).unwrap();
        signer.update(&message).unwrap();
        let mut out = [0u8; 1024];
        let n = signer.finish(&mut ed25519(), &mut out).unwrap();
        let mut next = out[..n].to_vec();
        next.extend_from_slice(b"\r\n");
        next.extend_from_slice(&message);
        message = next;
    }
    message
}

/// Splits a CRLF message the way the MTA hands it to the milter: header
/// fields one by one into a [`HeaderBuf`] of `limit` bytes, and the body.
fn as_milter_sees_it(message: &[u8], limit: usize) -> (HeaderBuf, Vec<u8>) {
    let text = std::str::from_utf8(message).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match fields.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push_str("\r\n");
                last.push_str(line);
            }
            _ => fields.push(line.to_string()),
        }
    }
    let mut headers = HeaderBuf::default();
    for field in &fields {
        let (name, value) = field.split_once(':').unwrap();
        headers.push(name.as_bytes(), value.as_bytes(), true, limit);
    }
    (headers, body.as_bytes().to_vec())
}

/// Runs one message through the milter's verify job, as `mass serve` does
/// for a client that is not internal.
async fn milter_verify(state: &State, message: &[u8], limit: usize) -> VerifyOutcome {
    let (headers, body) = as_milter_sees_it(message, limit);
    let mut job = VerifyJob::start(state, &headers, NOW);
    job.body(&body);
    if job.needs_keys() {
        job.fetch_keys(&*state.key_source).await;
    }
    job.finish(state, &headers, &Default::default())
}

/// The `dkim=` results of an Authentication-Results value, in order.
fn dkim_verdicts(auth_results: &str) -> Vec<String> {
    auth_results
        .split(';')
        .filter_map(|part| part.trim().strip_prefix("dkim="))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

/// Three junk TXT records sit ahead of the key at the same name. The CLI
/// and the milter share one key lookup, so both skip the junk the same
/// way and both pass, with the same Authentication-Results.
#[tokio::test]
async fn junk_records_ahead_of_the_key_give_the_same_pass_in_cli_and_milter() {
    let server = test_server::start(vec![(
        "sel._domainkey.example.test",
        Reply::Records(vec![
            vec!["v=spf1 -all".into()],
            vec!["google-site-verification=0123456789".into()],
            vec!["MS=ms12345678".into()],
            vec![key_record()],
        ]),
    )])
    .await;
    let dns = DnsKeySource::with_server(server.addr, Duration::from_secs(2)).unwrap();
    let message = signed(MESSAGE, &["sel"]);

    let cli = verify_reader(&message[..], &dns, &VerifySettings::new(NOW))
        .await
        .unwrap();
    let cli_field = auth_results::write_field("mx.example.net", &cli.results, "\n\t");
    let cli_value = cli_field.split_once(':').unwrap().1;

    let state = state(KeySources::Dns(Box::new(dns.clone())));
    let milter = milter_verify(&state, &message, 1 << 20).await;

    assert_eq!(dkim_verdicts(cli_value), ["pass"], "{cli_value}");
    assert_eq!(
        dkim_verdicts(&milter.auth_results),
        ["pass"],
        "{}",
        milter.auth_results
    );
    assert_eq!(milter.auth_results, cli_value);
}

/// Five signatures whose keys sit behind a name server that
/// never answers. The milter looks them up side by side: the message
/// waits one timeout, not five, and each signature gets temperror.
#[tokio::test]
async fn five_silent_key_lookups_cost_the_milter_one_timeout() {
    // A UDP socket that is never read: every query goes unanswered.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let timeout = Duration::from_millis(300);
    let dns = DnsKeySource::with_server(silent.local_addr().unwrap(), timeout).unwrap();
    let state = state(KeySources::Dns(Box::new(dns)));
    let message = signed(MESSAGE, &["s1", "s2", "s3", "s4", "s5"]);

    let started = Instant::now();
    let outcome = milter_verify(&state, &message, 1 << 20).await;
    let elapsed = started.elapsed();

    assert_eq!(
        dkim_verdicts(&outcome.auth_results),
        ["temperror"; 5],
        "{}",
        outcome.auth_results
    );
    assert!(elapsed < timeout * 2, "took {elapsed:?}");
    drop(silent);
}

/// The header section is over `max_header_bytes`, so the milter kept only
/// part of it. A valid signature over the kept part must not pass: the
/// verdict is a permerror that says why.
#[tokio::test]
async fn header_section_over_max_header_bytes_is_a_permerror_not_a_pass() {
    let mut zone = ZoneKeySource::default();
    zone.insert("sel._domainkey.example.test", key_record().into_bytes());
    let state = state(KeySources::Zone(zone));
    // The padding is not signed; everything the signature covers comes
    // before it and is kept.
    let padded = [
        &MESSAGE[..MESSAGE.len() - b"\r\nHello.\r\n".len()],
        format!("X-Padding: {}\r\n\r\nHello.\r\n", "x".repeat(4000)).as_bytes(),
    ]
    .concat();
    let message = signed(&padded, &["sel"]);
    // With room for everything, it passes.
    let whole = milter_verify(&state, &message, 1 << 20).await;
    assert_eq!(dkim_verdicts(&whole.auth_results), ["pass"]);

    let cut = milter_verify(&state, &message, 2000).await;
    let value = cut.auth_results.replace("\n\t", " ");
    assert_eq!(dkim_verdicts(&value), ["permerror"], "{value}");
    assert!(value.contains("max_header_bytes"), "{value}");
}

/// Security case 7 past the header cap: a forged Authentication-Results
/// that claims our authserv-id, hidden behind padding past
/// max_header_bytes, is never read, and is deleted all the same (with
/// every other one past the cap), last first; the one before the cap that
/// claims our id is deleted too, and a foreign one before it is kept.
#[tokio::test]
async fn row_07_a_forged_result_past_max_header_bytes_is_deleted() {
    let state = state(KeySources::Zone(ZoneKeySource::default()));
    let id = state.config.authserv_id.clone();
    let message = format!(
        "Authentication-Results: other.example; dkim=pass\r\n\
         Authentication-Results: {id}; dkim=pass\r\n\
         X-Padding: {}\r\n\
         Authentication-Results: {id}; dkim=pass header.d=forged.example\r\n\
         Authentication-Results: another.example; none\r\n\
         From: a@example.test\r\n\r\nHello.\r\n",
        "x".repeat(4000)
    );
    let cut = milter_verify(&state, message.as_bytes(), 2000).await;
    assert_eq!(cut.delete_auth_results, [4, 3, 2]);
    let whole = milter_verify(&state, message.as_bytes(), 1 << 20).await;
    assert_eq!(whole.delete_auth_results, [3, 2]);
}

#[path = "arc_tests.rs"]
mod arc_tests;
