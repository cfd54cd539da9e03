use super::*;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::{SigningKey, parse_pem};
use crate::milter::codec::{Decoder, encode_command};

const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
-----END PRIVATE KEY-----
";

/// RFC 8463 Appendix A.2: the public key of the brisbane selector.
const ZONE: &[u8] = b"brisbane._domainkey.football.example.com. IN TXT \
    \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n";

/// RFC 8463 Appendix A.3's `t=`: the time every test message starts at.
const NOW: u64 = 1_528_637_909;

fn shared(extra: &str) -> Arc<super::super::Shared> {
    shared_on(extra, Clock::Fixed(NOW))
}

fn shared_on(extra: &str, clock: Clock) -> Arc<super::super::Shared> {
    let text = format!(
        "listen = \"inet:127.0.0.1:1\"\nauthserv_id = \"mx.example.net\"\n\
         internal_networks = [\"10.0.0.0/8\"]\nsigning_daemons = [\"ORIGINATING\"]\n\
         on_refuse = \"reject\"\n{extra}"
    );
    let config = Config::parse(&text, "test", std::path::Path::new(".")).unwrap();
    let key = SigningKey::new(
        "football.example.com".into(),
        "brisbane".into(),
        parse_pem(ED25519_PEM).unwrap(),
    )
    .unwrap();
    Arc::new(super::super::Shared::with_clock(
        State {
            keys: vec![Arc::new(key)],
            key_source: Arc::new(super::super::KeySources::Zone(
                crate::dns::ZoneKeySource::parse(ZONE).unwrap(),
            )),
            device: config_device(&config),
            arc_key: None,
            config,
        },
        clock,
    ))
}

fn config_device(config: &Config) -> Option<Arc<crate::device::Device>> {
    config
        .device
        .as_ref()
        .map(|dc| Arc::new(crate::device::Device::from_config(dc)))
}

fn optneg() -> Vec<u8> {
    let mut d = 6u32.to_be_bytes().to_vec();
    d.extend_from_slice(&0x1ffu32.to_be_bytes());
    d.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
    d
}

/// Postfix-like conversation; `ip` is the client, `from` the From value.
fn conversation(ip: &[u8], from: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(b'O', &optneg(), &mut out);
    let mut connect = b"client\x004\x00\x19".to_vec();
    connect.extend_from_slice(ip);
    connect.push(0);
    encode_command(b'C', &connect, &mut out);
    encode_command(b'D', b"Mi\0QID1\0", &mut out);
    encode_command(b'M', b"<joe@football.example.com>\0", &mut out);
    encode_command(b'R', b"<jdoe@example.net>\0", &mut out);
    encode_command(b'T', b"", &mut out);
    let mut h = b"From\0".to_vec();
    h.extend_from_slice(from);
    h.push(0);
    encode_command(b'L', &h, &mut out);
    encode_command(b'L', b"Subject\0 Is dinner ready?\n\tfolded\0", &mut out);
    encode_command(
        b'L',
        b"Authentication-Results\0 mx.example.net; dkim=pass\0",
        &mut out,
    );
    encode_command(b'N', b"", &mut out);
    for chunk in body.chunks(7) {
        encode_command(b'B', chunk, &mut out);
    }
    encode_command(b'E', b"", &mut out);
    encode_command(b'Q', b"", &mut out);
    out
}

/// Run bytes split at `at` through decoder and session; the replies.
fn run(shared: &Arc<super::super::Shared>, input: &[u8], at: usize) -> Vec<(u8, Vec<u8>)> {
    let mut d = Decoder::new(crate::milter::codec::DEFAULT_MAX_PACKET);
    let mut s = Session::new(shared.clone(), "test".into());
    let mut out = Vec::new();
    let (a, b) = input.split_at(at);
    'outer: for part in [a, b] {
        d.feed(part);
        while let Some(c) = d.decode().unwrap() {
            match s.handle(&c, &mut out).unwrap() {
                Flow::Close => break 'outer,
                Flow::Finish => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(s.finish_message(&mut out)),
                Flow::Continue => {}
            }
        }
    }
    let mut replies = Vec::new();
    let mut rest = &out[..];
    while rest.len() >= 5 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        replies.push((rest[4], rest[5..4 + len].to_vec()));
        rest = &rest[4 + len..];
    }
    assert!(rest.is_empty());
    replies
}

fn tag<'a>(value: &'a str, name: &str) -> &'a str {
    value
        .split(';')
        .map(str::trim)
        .find_map(|t| t.strip_prefix(name).and_then(|t| t.strip_prefix('=')))
        .unwrap_or("")
}

/// The whole DKIM-Signature value the session inserts for the
/// conversation below, at `t=NOW`: Ed25519 is deterministic, so with a fixed
/// key and a fixed clock every byte, `b=` included, is known. (That it
/// verifies against RFC 8463's brisbane key is
/// `verify_mode_passes_our_signature_and_fails_a_tampered_body`'s job.)
const PINNED_SIGNATURE: &str = " v=1; a=ed25519-sha256; c=relaxed/relaxed;\n \
    d=football.example.com; s=brisbane; t=1528637909; h=from:from:to:cc:subject\n \
    :subject:date:reply-to:message-id:mime-version:content-type;\n \
    bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=foyLgo9E2VDqgxzXx3EBcYvySh\n \
    v24Qt5dRV9+wnxwV+5V1d/fJOdEX6jg5DE6de8dn+o5V/0sBHq2TsKzXL1DA==";

#[test]
fn internal_mail_gets_the_same_whole_signature_at_every_split_point() {
    let shared = shared("");
    let body = b"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
    let input = conversation(
        b"10.1.2.3",
        b" Joe SixPack <joe@football.example.com>",
        body,
    );
    for at in 0..=input.len() {
        let replies = run(&shared, &input, at);
        let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
        // O, C, M, R, T, L x3, N, B x n, then i (signature) and c.
        assert_eq!(codes.first(), Some(&b'O'));
        assert_eq!(&codes[codes.len() - 2..], b"ic", "split at {at}");
        let (_, ins) = &replies[replies.len() - 2];
        assert_eq!(&ins[..4], &[0, 0, 0, 0], "inserted at index 0");
        let text = String::from_utf8_lossy(&ins[4..]).into_owned();
        let (name, value) = text.split_once('\0').unwrap();
        assert_eq!(name, "DKIM-Signature");
        assert!(!value.contains('\r'), "LF folding only");
        assert_eq!(tag(value, "d"), "football.example.com");
        assert_eq!(tag(value, "s"), "brisbane");
        assert_eq!(tag(value, "a"), "ed25519-sha256");
        assert_eq!(tag(value, "t"), NOW.to_string());
        let bh = tag(value, "bh").replace(['\n', '\t', ' '], "");
        // RFC 8463 Appendix A: the relaxed body hash of this body.
        assert_eq!(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
        // The field is NUL-terminated on the wire.
        assert_eq!(value, format!("{PINNED_SIGNATURE}\0"), "split at {at}");
    }
}

/// A clock that reads before 1970 used to become `t=0`: the message was
/// signed as if sent in 1970. Now the message gets `on_error`, and nothing
/// is inserted.
#[test]
fn a_clock_failure_tempfails_instead_of_signing_with_t_zero() {
    let broken = Clock::Reading(std::time::UNIX_EPOCH - std::time::Duration::from_secs(1));
    let input = conversation(b"10.1.2.3", b" joe@football.example.com", b"Hi.\r\n");
    for (on_error, want) in [("tempfail", b'y'), ("accept", b'c')] {
        let shared = shared_on(&format!("on_error = \"{on_error}\"\n"), broken);
        let replies = run(&shared, &input, 0);
        let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
        assert!(
            !codes.contains(&b'i'),
            "{on_error}: nothing inserted: {replies:?}"
        );
        assert_eq!(codes.last(), Some(&want), "{on_error}: {codes:?}");
        if want == b'y' {
            assert!(replies.last().unwrap().1.starts_with(b"451 4.3.0"));
        }
    }
}

/// Verify mode needs the time too (`x=`, a `t=` in the future): with a
/// broken clock the message gets `on_error` instead of a verdict against
/// 1970.
#[test]
fn a_clock_failure_never_verifies_against_time_zero() {
    let broken = Clock::Reading(std::time::UNIX_EPOCH - std::time::Duration::from_secs(1));
    let shared = shared_on("", broken);
    let input = conversation(b"192.0.2.1", b" joe@football.example.com", b"x\r\n");
    let replies = run(&shared, &input, 0);
    let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
    assert!(
        !codes.contains(&b'i'),
        "no Authentication-Results: {replies:?}"
    );
    assert_eq!(codes.last(), Some(&b'y'), "{codes:?}");
    assert!(replies.last().unwrap().1.starts_with(b"451 4.3.0"));
}

#[test]
fn row_07_external_mail_gets_our_auth_results_and_loses_forged_ones() {
    let shared = shared("");
    let input = conversation(b"192.0.2.1", b" joe@football.example.com", b"x\r\n");
    let replies = run(&shared, &input, 0);
    let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
    // No signatures to check: the body is skipped after one chunk.
    assert!(codes.contains(&b's'));
    assert_eq!(&codes[codes.len() - 3..], b"mic");
    let (_, chg) = &replies[replies.len() - 3];
    assert_eq!(chg, b"\0\0\0\x01Authentication-Results\0\0");
    let (_, ins) = &replies[replies.len() - 2];
    let text = String::from_utf8_lossy(&ins[4..]).into_owned();
    assert!(
        text.starts_with("Authentication-Results\0 mx.example.net;"),
        "{text}"
    );
    assert!(text.contains("dkim=none"), "{text}");
}

#[test]
fn row_22_several_from_fields_follow_on_refuse() {
    let shared = shared("");
    let mut input = conversation(b"10.0.0.1", b" a@football.example.com", b"x\r\n");
    // A second From, inserted before EOH.
    let eoh = {
        let mut p = Vec::new();
        encode_command(b'N', b"", &mut p);
        p
    };
    let at = input.windows(eoh.len()).position(|w| w == eoh).unwrap();
    let mut extra = Vec::new();
    encode_command(b'L', b"From\0 b@football.example.com\0", &mut extra);
    input.splice(at..at, extra);
    let replies = run(&shared, &input, 0);
    let last = replies.last().unwrap();
    assert_eq!(last.0, b'y');
    assert!(last.1.starts_with(b"550 5.7.1"));
}

#[test]
fn daemon_name_and_auth_authen_make_mail_internal() {
    let shared = shared("");
    let base = conversation(b"192.0.2.1", b" joe@football.example.com", b"x\r\n");
    let connect_at = 4 + 13; // after OPTNEG
    for macro_packet in [
        &b"C{daemon_name}\0ORIGINATING\0"[..],
        b"M{auth_authen}\0joe\0",
    ] {
        let mut input = base.clone();
        let mut p = Vec::new();
        encode_command(b'D', macro_packet, &mut p);
        let at = if macro_packet[0] == b'C' {
            connect_at
        } else {
            // Just before MAIL.
            let mut mail = Vec::new();
            encode_command(b'M', b"<joe@football.example.com>\0", &mut mail);
            input.windows(mail.len()).position(|w| w == mail).unwrap()
        };
        input.splice(at..at, p);
        let replies = run(&shared, &input, 0);
        let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
        assert_eq!(&codes[codes.len() - 2..], b"ic", "{macro_packet:?}");
    }
}

#[test]
fn verify_mode_passes_our_signature_and_fails_a_tampered_body() {
    let shared = shared("");
    let body = b"Hi.\r\n\r\nWe lost the game.\r\n";
    let signed = run(
        &shared,
        &conversation(b"10.1.2.3", b" Joe <joe@football.example.com>", body),
        0,
    );
    let (_, ins) = &signed[signed.len() - 2];
    let text = String::from_utf8_lossy(&ins[4..]).into_owned();
    let (_, sig) = text.split_once('\0').unwrap();
    let sig = sig.trim_end_matches('\0');
    for (body, want) in [
        (&body[..], "dkim=pass"),
        (b"Hi.\r\n\r\nWe won.\r\n", "dkim=fail"),
    ] {
        let mut input = conversation(b"192.0.2.1", b" Joe <joe@football.example.com>", body);
        // The signature goes first among the header fields.
        let mut field = b"DKIM-Signature\0".to_vec();
        field.extend_from_slice(sig.as_bytes());
        field.push(0);
        let mut p = Vec::new();
        encode_command(b'L', &field, &mut p);
        let mut first_header = Vec::new();
        encode_command(
            b'L',
            b"From\0 Joe <joe@football.example.com>\0",
            &mut first_header,
        );
        let at = input
            .windows(first_header.len())
            .position(|w| w == first_header)
            .unwrap();
        input.splice(at..at, p);
        let replies = run(&shared, &input, 0);
        let ar = replies
            .iter()
            .filter(|r| r.0 == b'i')
            .map(|r| String::from_utf8_lossy(&r.1[4..]).into_owned())
            .find(|t| t.starts_with("Authentication-Results"))
            .unwrap();
        assert!(ar.contains(want), "{ar}");
        assert!(ar.contains("header.d=football.example.com"), "{ar}");
        // The forged A-R claiming our authserv-id is deleted.
        assert!(replies.iter().any(|r| r.0 == b'm'));
    }
}

/// A device that accepts the connection and never answers: the message
/// gets `on_error` (never passes unsigned under tempfail), in time.
#[test]
fn a_silent_signing_device_gives_on_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept() {
            held.push(s);
            if held.len() == 2 {
                std::thread::sleep(std::time::Duration::from_secs(3));
                return;
            }
        }
    });
    let signer = format!(
        "[signer]\ndevice = \"tcp:127.0.0.1:{port}\"\ntimeout = 0.3\n\
         [[signer.key]]\ndomain = \"Football.Example.com\"\nselector = \"hw\"\nkey_id = 0\n"
    );
    let input = conversation(b"10.1.2.3", b" joe@football.example.com", b"Hi.\r\n");
    for (on_error, want) in [("tempfail", b'y'), ("accept", b'c')] {
        let shared = shared(&format!("on_error = \"{on_error}\"\n{signer}"));
        let started = std::time::Instant::now();
        let replies = run(&shared, &input, 0);
        let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
        assert_eq!(codes.last(), Some(&want), "{on_error}: {codes:?}");
        assert!(!codes.contains(&b'i'), "{on_error}: nothing inserted");
        if want == b'y' {
            assert!(replies.last().unwrap().1.starts_with(b"451 4.3.0"));
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
    }
    hold.join().unwrap();
}

/// A body over `[signer] max_body` is not spooled further: the rest of
/// the body is skipped and the message gets `on_error`.
#[test]
fn a_body_over_max_body_is_not_spooled() {
    let signer = "[signer]\ndevice = \"tcp:127.0.0.1:9\"\ntimeout = 0.3\nmax_body = 10\n\
         [[signer.key]]\ndomain = \"football.example.com\"\nselector = \"hw\"\nkey_id = 0\n";
    let shared = shared(signer);
    let input = conversation(
        b"10.1.2.3",
        b" joe@football.example.com",
        b"more than ten bytes of body\r\n",
    );
    let replies = run(&shared, &input, 0);
    let codes: Vec<u8> = replies.iter().map(|r| r.0).collect();
    assert!(codes.contains(&b's'), "{codes:?}");
    let last = replies.last().unwrap();
    assert_eq!(last.0, b'y');
    assert!(last.1.starts_with(b"451 4.3.0"));
}

/// `[arc]`: internal mail that carries our Authentication-Results (it
/// arrived through us) leaves with an ARC set i=1 on top of the
/// DKIM-Signature, at every split point, and core's chain validator passes
/// the message as the MTA writes it.
#[test]
fn internal_mail_with_our_results_is_arc_sealed_and_the_chain_passes() {
    use mass_core::arc::{ChainStatus, ChainValidator, ValidateOptions};
    use mass_core::dkim::verify::KeyAnswer;
    let config = Config::parse(
        "listen = \"inet:127.0.0.1:1\"\nauthserv_id = \"mx.example.net\"\n\
         internal_networks = [\"10.0.0.0/8\"]\n",
        "test",
        std::path::Path::new("."),
    )
    .unwrap();
    let key = Arc::new(
        SigningKey::new(
            "football.example.com".into(),
            "brisbane".into(),
            parse_pem(ED25519_PEM).unwrap(),
        )
        .unwrap(),
    );
    let shared = Arc::new(super::super::Shared::with_clock(
        State {
            keys: vec![key.clone()],
            key_source: Arc::new(super::super::KeySources::Zone(
                crate::dns::ZoneKeySource::parse(ZONE).unwrap(),
            )),
            device: None,
            arc_key: Some(key),
            config,
        },
        Clock::Fixed(NOW),
    ));
    let body = b"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";
    let input = conversation(b"10.1.2.3", b" Joe <joe@football.example.com>", body);
    let record = b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    for at in (0..=input.len()).step_by(3) {
        let replies = run(&shared, &input, at);
        let inserted: Vec<(String, String)> = replies
            .iter()
            .filter(|r| r.0 == b'i')
            .map(|(_, p)| {
                let text = String::from_utf8_lossy(&p[4..]).into_owned();
                let (name, value) = text.split_once('\0').unwrap();
                (name.to_string(), value.trim_end_matches('\0').to_string())
            })
            .collect();
        let names: Vec<&str> = inserted.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "DKIM-Signature",
                "ARC-Authentication-Results",
                "ARC-Message-Signature",
                "ARC-Seal"
            ],
            "split at {at}"
        );
        assert!(inserted[1].1.contains("i=1; mx.example.net; dkim=pass"));
        assert!(
            !inserted[2].1.contains("dkim-signature"),
            "h= leaves it out"
        );
        // The message as the MTA writes it: each insert at the top.
        let mut message = Vec::new();
        for (name, value) in inserted.iter().rev() {
            message.extend_from_slice(
                format!("{name}:{value}\r\n")
                    .replace("\r\n", "\n")
                    .replace('\n', "\r\n")
                    .as_bytes(),
            );
        }
        message.extend_from_slice(
            b"From: Joe <joe@football.example.com>\r\nSubject: Is dinner ready?\r\n\tfolded\r\n\
              Authentication-Results: mx.example.net; dkim=pass\r\n\r\n",
        );
        message.extend_from_slice(body);
        let mut v = Box::new(ChainValidator::<16384, 64, 8>::new(ValidateOptions::new(
            NOW,
        )));
        v.update(&message).unwrap();
        v.end_of_input().unwrap();
        let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
        for id in ids {
            v.provide_key(id, KeyAnswer::Records(&[record]));
        }
        let result = v.finish().unwrap();
        assert_eq!(result.status, ChainStatus::Pass, "{result:?}");
    }
}
