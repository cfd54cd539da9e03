//! The milter codec's decoder (mass-hosted `milter::codec`): what an MTA, or
//! anything that reaches the milter socket, can send.
//!
//! The first two bytes pick the largest packet the decoder accepts; the rest
//! is the byte stream, fed whole and again in pieces the input picks.
//! Checked: nothing panics; no packet longer than the maximum is returned;
//! an error sticks (every later call returns it); and the commands and the
//! final error do not depend on how the stream was cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_hosted::milter::codec::{ClientAddress, Command, Decoder};

/// An owned description of a command, with its iterators walked.
fn describe(c: &Command<'_>) -> String {
    match c {
        Command::Macro { stage, macros } => {
            format!("D{stage} {:?}", macros.iter().collect::<Vec<_>>())
        }
        Command::Mail(a) | Command::Rcpt(a) => {
            format!(
                "{} {:?} {:?}",
                c.code(),
                a.first(),
                a.iter().collect::<Vec<_>>()
            )
        }
        Command::Connect {
            address: ClientAddress::Inet(ip, port),
            hostname,
        } => {
            format!("C {hostname:?} {ip} {port}")
        }
        other => format!("{other:?}"),
    }
}

/// Feeds `pieces` one after another, decoding after each until no command
/// is left; returns the commands and the error that ended the stream.
fn run(max_packet: u32, pieces: &[&[u8]]) -> (Vec<String>, Option<String>) {
    let mut d = Decoder::new(max_packet);
    let mut commands = Vec::new();
    for piece in pieces {
        d.feed(piece);
        loop {
            let before = d.pending();
            match d.decode() {
                Ok(Some(c)) => {
                    commands.push(describe(&c));
                    let used = before - d.pending();
                    assert!(
                        used >= 5 && used - 4 <= max_packet as usize,
                        "{used} > {max_packet}"
                    );
                }
                Ok(None) => break,
                Err(e) => {
                    let again = d.decode().map(|c| c.map(|c| describe(&c)));
                    assert_eq!(again, Err(e), "errors stick");
                    return (commands, Some(e.to_string()));
                }
            }
        }
    }
    (commands, None)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let max_packet = 1 + u32::from(u16::from_le_bytes([data[0], data[1]]));
    let cut = usize::from(data[2]);
    let stream = &data[3..];
    let whole = run(max_packet, &[stream]);
    let pieces: Vec<&[u8]> = stream.chunks(cut % 17 + 1).collect();
    assert_eq!(run(max_packet, &pieces), whole);
    let _ = d_default(stream);
});

/// The daemon's default maximum.
fn d_default(stream: &[u8]) -> (Vec<String>, Option<String>) {
    run(mass_hosted::milter::codec::DEFAULT_MAX_PACKET, &[stream])
}
