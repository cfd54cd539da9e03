//! Pieces several targets share: a fixed Ed25519 key with its key record, a
//! fixed clock, and split points taken from the input.
#![allow(dead_code)]

use base64ct::{Base64, Encoding};
use mass_core::Ed25519Signer;

/// The verifier's clock and the signer's `t=`: a fixed time, never the real one.
pub const NOW: u64 = 1_700_000_000;

/// `d=` and `s=` of every signature the targets make.
pub const DOMAIN: &str = "example.com";
pub const SELECTOR: &str = "fuzz";

/// The seed of the targets' Ed25519 key.
const SEED: [u8; 32] = [7; 32];

pub fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(&SEED)
}

/// `v=DKIM1; k=ed25519; p=...` for [`signer`]'s public key.
pub fn key_record() -> Vec<u8> {
    let public = signer().public_key();
    let mut b64 = [0u8; 44];
    let p = Base64::encode(&public, &mut b64).unwrap_or_default();
    format!("v=DKIM1; k=ed25519; p={p}").into_bytes()
}

/// Up to `count` split points in `0..=len`, in order, from two bytes each.
pub fn cuts(len: usize, bytes: &[u8], count: usize) -> Vec<usize> {
    let mut out: Vec<usize> = bytes
        .chunks(2)
        .take(count)
        .map(|c| {
            let v = usize::from(c[0]) | usize::from(*c.get(1).unwrap_or(&0)) << 8;
            v % (len + 1)
        })
        .collect();
    out.sort_unstable();
    out
}

/// `data` cut at `cuts` (sorted, each at most `data.len()`).
pub fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &c in cuts {
        out.push(&data[start..c]);
        start = c;
    }
    out.push(&data[start..]);
    out
}
