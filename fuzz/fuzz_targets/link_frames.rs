//! The device link's frame decoder on raw bytes (firmware/PROTOCOL.md): what
//! the key holder reads from a host it cannot trust.
//!
//! The bytes go in through `spare()`/`commit()` in pieces whose sizes the
//! input picks, and `next_event()` is drained after each piece. Checked:
//! nothing panics; the decoder never stalls (a full buffer always lets
//! `next_event` make room); every frame's payload fits the decoder's limit;
//! and the events do not depend on how the bytes were cut, nor on the
//! decoder's buffer size as long as it holds a whole frame. A small decoder
//! (64 bytes) runs too, for the oversized path. Every payload then goes to
//! the message decoder of its kind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::link::{
    DeviceError, Dkim2Begin, Event, FrameDecoder, InfoReply, Kind, MAX_FRAME, Provision, SignBegin,
    Stats, split_hop_answer,
};

#[derive(Debug, PartialEq, Eq)]
enum Owned {
    Frame(u8, u8, Vec<u8>),
    Error(String),
}

fn decode_payload(kind: u8, payload: &[u8]) {
    match Kind::from_u8(kind) {
        Some(Kind::Provision) => drop(Provision::decode(payload)),
        Some(Kind::SignBegin) => drop(SignBegin::decode(payload)),
        Some(Kind::Dkim2Begin) => drop(Dkim2Begin::decode(payload)),
        Some(Kind::Dkim2Hop) => drop(split_hop_answer(payload)),
        Some(Kind::InfoReply) => drop(InfoReply::decode(payload)),
        Some(Kind::StatsReply) => drop(Stats::decode(payload)),
        Some(Kind::Error) => drop(DeviceError::decode(payload)),
        _ => {}
    }
}

/// Feeds `data` in pieces of the sizes `sizes` yields (0 = as much as fits).
fn run<const N: usize>(data: &[u8], mut sizes: impl FnMut() -> usize, wipe: bool) -> Vec<Owned> {
    let mut d: FrameDecoder<N> = FrameDecoder::new();
    let max = d.max_payload();
    let mut events = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let want = match sizes() {
            0 => rest.len(),
            n => n.min(rest.len()),
        };
        let spare = d.spare();
        let n = want.min(spare.len());
        spare[..n].copy_from_slice(&rest[..n]);
        d.commit(n);
        rest = &rest[n..];
        let mut got = 0;
        while let Some(e) = d.next_event() {
            got += 1;
            events.push(match e {
                Event::Frame(f) => {
                    assert!(f.payload.len() <= max);
                    decode_payload(f.kind, f.payload);
                    Owned::Frame(f.seq, f.kind, f.payload.to_vec())
                }
                Event::Error(e) => Owned::Error(format!("{e:?}")),
            });
            if wipe {
                d.wipe_frame();
            }
        }
        // No progress with a full buffer would be a stall: the link would hang.
        assert!(
            n > 0 || got > 0,
            "decoder stalled with {} bytes held",
            d.buffered()
        );
        assert!(d.buffered() < N);
    }
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let whole = run::<MAX_FRAME>(stream, || 0, false);
    // Piece sizes 1..=64 from a small generator seeded by the first byte.
    let mut state = u32::from(seed) | 0x100;
    let pieces = run::<MAX_FRAME>(
        stream,
        || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 64 + 1) as usize
        },
        seed & 1 == 1,
    );
    assert_eq!(whole, pieces);
    let bigger = run::<{ 2 * MAX_FRAME }>(stream, || 0, false);
    assert_eq!(whole, bigger);
    let mut state = u32::from(seed) | 0x100;
    run::<64>(
        stream,
        || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as usize % 80
        },
        false,
    );
});
