//! `mass dkim2 sign --device ADDR --slot N` as a user runs it, against a
//! stand-in for the signing device on a local socket: it speaks the link
//! protocol (INFO, ABORT, DKIM2-BEGIN, HEADER, BODY, SIGN-END) and signs
//! with core's `Dkim2Signer`, as the firmware does. The hop printed equals
//! the one `--key` signs with the same key; a device whose hop does not
//! verify under its slot's public key is refused. The firmware itself is
//! tested under QEMU (`tests/tests/device/dkim2.rs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mass_core::Ed25519Signer;
use mass_core::dkim2::{Dkim2Signer, HopRequest};
use mass_core::link::{
    Dkim2Begin, Event, FrameDecoder, InfoReply, Kind, MAX_FRAME, MAX_PAYLOAD, PROTOCOL_VERSION,
    SlotInfo, encode_frame, hop_answer,
};
use mass_core::{DigestSigner, SigningAlgorithm};

mod support;
use support::{ScratchDir, mass};

const SLOT: u8 = 1;

/// One connection of a stand-in device holding `key` in slot 1; with
/// `tamper`, it flips a byte of every signature it makes.
fn stand_in(key: [u8; 32], tamper: bool) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp:{}", listener.local_addr().unwrap());
    // A `mass` that never connects must fail the test, not hang it.
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut s = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("no connection from mass: {e}"),
            }
        };
        s.set_nonblocking(false).unwrap();
        serve(&mut s, key, tamper);
    });
    (addr, handle)
}

fn serve(s: &mut TcpStream, seed: [u8; 32], tamper: bool) {
    let mut rx: Box<FrameDecoder<MAX_FRAME>> = Box::new(FrameDecoder::new());
    let mut begin: Vec<u8> = Vec::new();
    let mut header: Vec<Vec<u8>> = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    let public = Ed25519Signer::from_seed(&seed).public_key();
    loop {
        let n = match s.read(rx.spare()) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        rx.commit(n);
        while let Some(ev) = rx.next_event() {
            let Event::Frame(f) = ev else { continue };
            let mut payload = vec![0u8; MAX_PAYLOAD];
            let kind = match Kind::from_u8(f.kind) {
                Some(Kind::Info) => {
                    let mut reply = InfoReply {
                        protocol: PROTOCOL_VERSION,
                        firmware: "stand-in",
                        board: "host",
                        max_payload: MAX_PAYLOAD as u16,
                        header_bytes: 8192,
                        header_fields: 64,
                        slots: Default::default(),
                    };
                    let _ = reply.slots.push(SlotInfo {
                        key_id: SLOT,
                        algorithm: Some(SigningAlgorithm::Ed25519Sha256),
                        bits: 256,
                        public_key: &public,
                    });
                    let n = reply.encode(&mut payload).unwrap();
                    payload.truncate(n);
                    Kind::InfoReply
                }
                Some(Kind::Dkim2Begin) => {
                    begin = f.payload.to_vec();
                    header.clear();
                    body.clear();
                    payload.clear();
                    Kind::Ok
                }
                Some(Kind::Header) => {
                    header.push(f.payload.to_vec());
                    payload.clear();
                    Kind::Ok
                }
                Some(Kind::Body) => {
                    body.extend_from_slice(f.payload);
                    payload.clear();
                    Kind::Ok
                }
                Some(Kind::SignEnd) => {
                    let n = sign(&begin, &header, &body, seed, tamper, &mut payload);
                    payload.truncate(n);
                    Kind::Dkim2Hop
                }
                _ => {
                    payload.clear();
                    Kind::Ok
                }
            };
            let mut frame = vec![0u8; MAX_FRAME];
            let n = encode_frame(f.seq, kind, &payload, &mut frame).unwrap();
            s.write_all(&frame[..n]).unwrap();
        }
    }
}

/// What the firmware's session does at SIGN-END, over what it was sent.
fn sign(
    begin: &[u8],
    header: &[Vec<u8>],
    body: &[u8],
    seed: [u8; 32],
    tamper: bool,
    out: &mut [u8],
) -> usize {
    Dkim2Begin::decode_with(begin, |begin, request| {
        assert_eq!(begin.key_id, SLOT);
        sign_hop(begin.selector, request, header, body, seed, tamper, out)
    })
    .unwrap()
}

fn sign_hop(
    selector: &str,
    request: &HopRequest<'_>,
    header: &[Vec<u8>],
    body: &[u8],
    seed: [u8; 32],
    tamper: bool,
    out: &mut [u8],
) -> usize {
    let mut signer: Box<Dkim2Signer<'_, 8192, 64>> = Box::new(Dkim2Signer::new(request).unwrap());
    for f in header {
        // The host keeps trace fields: no DKIM2 hash covers them.
        assert!(!f.starts_with(b"Received:"));
        signer.header_field(f).unwrap();
    }
    signer.end_of_headers().unwrap();
    signer.body(body).unwrap();
    let mut key = Ed25519Signer::from_seed(&seed);
    let mut keys: [(&str, &mut dyn DigestSigner); 1] = [(selector, &mut key)];
    let room = out.len() - 2;
    let hop = signer.finish(&mut keys, &mut out[..room]).unwrap();
    if tamper {
        let at = hop.signature.end - 10;
        out[at] = if out[at] == b'A' { b'B' } else { b'A' };
    }
    let instance = hop.instance.map_or(0, |s| s.len());
    hop_answer(out, instance, hop.signature.len()).unwrap()
}

fn keygen(dir: &Path) -> (std::path::PathBuf, [u8; 32]) {
    let out = mass()
        .args([
            "keygen",
            "--algorithm",
            "ed25519",
            "--domain",
            "example.org",
            "--selector",
            "dev",
            "--out-dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let path = dir.join("dev.example.org.pem");
    let pem = std::fs::read_to_string(&path).unwrap();
    let (_, seed) = mass_hosted::device::key_from_pem(&pem).unwrap();
    (path, seed.as_slice().try_into().unwrap())
}

/// `mass dkim2 sign` with `args` and then `how` (a key or a device).
fn dkim2_sign(args: &[&str], how: &[&str], message: &Path) -> std::process::Output {
    mass()
        .args([
            "dkim2",
            "sign",
            "--domain",
            "example.org",
            "--selector",
            "dev",
        ])
        .args(args)
        .args(how)
        .arg(message)
        .output()
        .unwrap()
}

#[test]
fn a_device_hop_is_the_key_files_hop_and_a_bad_one_is_refused() {
    let dir = ScratchDir::new("dkim2-device", "hop");
    let (key, seed) = keygen(&dir);
    let message = dir.join("m.eml");
    std::fs::write(
        &message,
        "Received: from a by b\nFrom: you@example.org\nTo: friend@example.net\nSubject: hello\n\nHello.\n",
    )
    .unwrap();
    let first = [
        "--mail-from",
        "you@example.org",
        "--rcpt",
        "friend@example.net",
        "--rcpt",
        "<x@example.com>",
        "--now",
        "1790000000",
    ];
    let with_key = dkim2_sign(&first, &["--key", key.to_str().unwrap()], &message);
    assert!(with_key.status.success());
    let (addr, device) = stand_in(seed, false);
    let with_device = dkim2_sign(&first, &["--device", &addr, "--slot", "1"], &message);
    assert!(
        with_device.status.success(),
        "{}",
        String::from_utf8_lossy(&with_device.stderr)
    );
    device.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&with_device.stdout),
        String::from_utf8_lossy(&with_key.stdout)
    );

    // A second hop, a list's: a subject tag and its recipe.
    let hop1 = dir.join("hop1.eml");
    std::fs::write(&hop1, &with_key.stdout).unwrap();
    let second = [
        "--mail-from",
        "list@example.org",
        "--rcpt",
        "m@example.net",
        "--now",
        "1790000100",
        "--subject-tag",
        "[list] ",
        "--flag",
        "feedback",
        "--nonce",
        "n-1",
    ];
    let with_key = dkim2_sign(&second, &["--key", key.to_str().unwrap()], &hop1);
    let (addr, device) = stand_in(seed, false);
    let with_device = dkim2_sign(&second, &["--device", &addr, "--slot", "1"], &hop1);
    assert!(
        with_device.status.success(),
        "{}",
        String::from_utf8_lossy(&with_device.stderr)
    );
    device.join().unwrap();
    assert_eq!(with_device.stdout, with_key.stdout);
    assert!(String::from_utf8_lossy(&with_device.stdout).starts_with("DKIM2-Signature: i=2; m=2;"));

    // A device whose signature does not verify under its slot's key.
    let (addr, device) = stand_in(seed, true);
    let bad = dkim2_sign(&first, &["--device", &addr, "--slot", "1"], &message);
    device.join().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("does not check out"), "{err}");

    // --device takes one --selector and a --slot, and no --key.
    let out = dkim2_sign(&first, &["--device", "tcp:127.0.0.1:9"], &message);
    assert_eq!(out.status.code(), Some(2));
    let out = dkim2_sign(
        &first,
        &[
            "--device",
            "tcp:127.0.0.1:9",
            "--slot",
            "1",
            "--key",
            key.to_str().unwrap(),
        ],
        &message,
    );
    assert_eq!(out.status.code(), Some(2));
}
