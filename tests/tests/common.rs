//! Helpers shared by the integration tests.

use rand_core::{TryCryptoRng, TryRng};

/// Call `f` with `input` split in two at every point, plus once whole, and
/// check that every result equals the whole one. Returns it.
pub fn at_every_split<T: PartialEq + std::fmt::Debug>(
    input: &[u8],
    f: impl Fn(&[&[u8]]) -> T,
) -> T {
    let whole = f(&[input]);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(f(&[a, b]), whole, "split at {at}");
    }
    whole
}

/// A deterministic RNG for tests that counts the bytes drawn from it, so a
/// test can prove that RSA signing used it for blinding.
#[derive(Debug)]
pub struct CountingRng {
    state: u64,
    pub drawn: usize,
}

impl CountingRng {
    pub fn new(seed: u64) -> Self {
        CountingRng {
            state: seed,
            drawn: 0,
        }
    }
    fn next(&mut self) -> u64 {
        // splitmix64
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl TryRng for CountingRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.drawn += 4;
        Ok(self.next() as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.drawn += 8;
        Ok(self.next())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.drawn += dst.len();
        for chunk in dst.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for CountingRng {}
