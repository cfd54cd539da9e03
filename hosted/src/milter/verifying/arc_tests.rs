//! The verify path validates ARC chains (RFC 8617 §5.2) and records
//! `arc=` beside `dkim=`: what `[arc]` sealing reads when the message
//! leaves.

use mass_core::arc::{ArcSealer, ChainStatus, SealRequest};
use mass_core::{Ed25519Signer, SigningAlgorithm};

use super::*;

/// A message with `hops` ARC sets sealed by an Ed25519 key of
/// `list.example`, selector `arc`; and the zone that publishes the key.
fn sealed(hops: usize) -> (Vec<u8>, ZoneKeySource) {
    let mut key = Ed25519Signer::from_seed(&[7u8; 32]);
    let mut message =
        b"From: a@example.test\r\nTo: list@list.example\r\nSubject: hi\r\n\r\nHello.\r\n".to_vec();
    for hop in 0..hops {
        let mut req = SealRequest::new(
            "list.example",
            "arc",
            SigningAlgorithm::Ed25519Sha256,
            "list.example",
        );
        req.timestamp = Some(NOW - 10);
        let mut sealer = Box::new(ArcSealer::<8192, 64>::new(&req).unwrap());
        sealer.update(&message).unwrap();
        let chain = if hop == 0 {
            ChainStatus::None
        } else {
            ChainStatus::Pass
        };
        let mut out = vec![0u8; 4096];
        let set = sealer
            .finish(
                &[b"dkim=pass header.d=example.test"],
                chain,
                &mut key,
                &mut out,
            )
            .unwrap();
        let mut next = out[..set.len].to_vec();
        next.extend_from_slice(b"\r\n");
        next.extend_from_slice(&message);
        message = next;
    }
    let zone = format!(
        "arc._domainkey.list.example. IN TXT \"v=DKIM1; k=ed25519; p={}\"\n",
        Base64::encode_string(&key.public_key())
    );
    (message, ZoneKeySource::parse(zone.as_bytes()).unwrap())
}

/// Split a whole message into the milter's header fields and body.
fn milter_view(message: &[u8]) -> (HeaderBuf, Vec<u8>) {
    let text = std::str::from_utf8(message).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut headers = HeaderBuf::default();
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
    for field in &fields {
        let (name, value) = field.split_once(':').unwrap();
        headers.push(name.as_bytes(), value.as_bytes(), true, 1 << 20);
    }
    (headers, body.as_bytes().to_vec())
}

/// Verify `message` in verify mode; our Authentication-Results value.
fn arrival_results(message: &[u8], zone: ZoneKeySource) -> String {
    let state = state(KeySources::Zone(zone));
    let (headers, body) = milter_view(message);
    let mut job = VerifyJob::start(&state, &headers, NOW);
    for chunk in body.chunks(5) {
        job.body(chunk);
    }
    if job.needs_keys() {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(job.fetch_keys(&*state.key_source));
    }
    job.finish(&state, &headers, &Default::default())
        .auth_results
        .replace("\n\t", " ")
}

#[test]
fn a_sealed_chain_is_recorded_as_arc_pass() {
    for hops in [1, 2, 3] {
        let (message, zone) = sealed(hops);
        let ar = arrival_results(&message, zone);
        assert!(ar.contains("arc=pass ("), "{hops}: {ar}");
        assert!(ar.contains(&format!("{hops} set(s)")), "{hops}: {ar}");
    }
}

#[test]
fn a_changed_body_under_a_chain_is_recorded_as_arc_fail() {
    let (mut message, zone) = sealed(2);
    let at = message.len() - 3;
    message[at] = b'!';
    let ar = arrival_results(&message, zone);
    assert!(ar.contains("arc=fail"), "{ar}");
}

#[test]
fn a_message_without_arc_fields_gets_no_arc_result() {
    let (message, zone) = sealed(0);
    let ar = arrival_results(&message, zone);
    assert!(!ar.contains("arc="), "{ar}");
    assert!(ar.contains("dkim=none"), "{ar}");
}
