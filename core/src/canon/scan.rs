//! Fast scans for the line-ending normalizer and relaxed header
//! canonicalization: where the next byte that needs attention is, found a
//! block or a word at a time, so that everything before it can be passed on
//! as one slice.
//!
//! Both compare a machine word of bytes at once (`scan_words.rs`, the
//! same trick as the body scan in `words.rs`), built for the target's word
//! width; the bytes after the last whole word go one at a time. The
//! byte-by-byte rules they must agree with are here too, and the tests
//! check both word widths against them.
//!
//! The search for an LF is what `memchr` does. The `memchr` crate (no_std
//! without its default features, MIT or Unlicense) was measured against
//! this scan on mail text, where the next LF is some 70 bytes away and
//! the cost of a search is mostly its start and its end: it was not
//! clearly faster (`cargo xtask bench normalize` prints both), so core
//! keeps no dependency for it.

#[cfg(test)]
use super::{CR, SP, TAB};

// Written once for a machine word `Word` and built for both widths: the
// target's own is used, and the tests run both.
#[cfg(any(test, not(target_pointer_width = "64")))]
mod words32 {
    pub(super) type Word = u32;
    include!("scan_words.rs");
}
#[cfg(any(test, target_pointer_width = "64"))]
mod words64 {
    pub(super) type Word = u64;
    include!("scan_words.rs");
}
#[cfg(not(target_pointer_width = "64"))]
use words32 as words;
#[cfg(target_pointer_width = "64")]
use words64 as words;

/// The position of the first `needle` in `hay`: `memchr`, in safe code
/// (a block of four words at a time).
#[inline]
pub(super) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    words::find_byte(hay, needle)
}

/// The rule of [`header_clean_prefix`] for one byte `b` and the byte
/// after it (`None`: `b` ends the piece).
#[cfg(test)]
fn header_special(b: u8, next: Option<u8>) -> bool {
    match b {
        TAB | CR => true,
        SP => matches!(next, None | Some(SP | TAB | CR)),
        _ => false,
    }
}

/// The length of the prefix of `data` that relaxed header canonicalization
/// copies unchanged from the value of a field with nothing pending, or all
/// of `data`. It stops at the first byte that may need the state machine:
/// a tab or a CR (whitespace to collapse, a possible fold), a space before
/// a space, tab or CR (a run of whitespace), or a space at the end of
/// `data` (whitespace that may trail).
#[inline]
pub(super) fn header_clean_prefix(data: &[u8]) -> usize {
    words::header_clean_prefix(data)
}

/// [`header_clean_prefix`] from `from` on, one byte at a time, where
/// `data[..from]` is known to be clean: the rule the scan must agree with.
#[cfg(test)]
fn header_clean_bytes(data: &[u8], from: usize) -> usize {
    let Some(rest) = data.get(from..) else {
        return data.len();
    };
    rest.iter()
        .enumerate()
        .position(|(i, &b)| header_special(b, rest.get(i.saturating_add(1)).copied()))
        .map_or(data.len(), |p| from.saturating_add(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Random bytes weighted to the ones the scans look for.
    fn random_inputs() -> impl Iterator<Item = Vec<u8>> {
        let odd = [
            SP, TAB, CR, b'\n', b':', 0xa0, 0x89, 0x8d, 0x8a, 0x0b, 0x2a, 0x00,
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..3000).map(move |_| {
            let len = (next() % 200) as usize;
            let mut buf = Vec::with_capacity(len);
            while buf.len() < len {
                let r = next();
                match r % 4 {
                    0 => buf.push(odd[(r >> 8) as usize % odd.len()]),
                    1 => buf.extend_from_slice(b"\r\n"),
                    _ => {
                        for i in 0..=(r >> 8) % 20 {
                            buf.push(b'a' + ((r >> 16) + i) as u8 % 26);
                        }
                    }
                }
            }
            buf
        })
    }

    #[test]
    fn find_byte_agrees_with_position() {
        for buf in random_inputs() {
            for start in 0..buf.len().min(40) {
                let data = &buf[start..];
                for needle in [b'\n', CR, SP, 0x8a, 0x00] {
                    let want = data.iter().position(|&b| b == needle);
                    assert_eq!(find_byte(data, needle), want, "{needle:#x} in {data:?}");
                    assert_eq!(words32::find_byte(data, needle), want, "{data:?}");
                    assert_eq!(words64::find_byte(data, needle), want, "{data:?}");
                }
            }
        }
    }

    #[test]
    fn header_scans_agree_with_the_byte_rule() {
        for buf in random_inputs() {
            for start in 0..buf.len().min(20) {
                let data = &buf[start..];
                let want = header_clean_bytes(data, 0);
                assert_eq!(header_clean_prefix(data), want, "{data:?}");
                assert_eq!(words32::header_clean_prefix(data), want, "{data:?}");
                assert_eq!(words64::header_clean_prefix(data), want, "{data:?}");
            }
        }
        // A space is special before whitespace or CR and at the end only.
        assert_eq!(header_clean_prefix(b"a b c d e f g h i"), 17);
        assert_eq!(header_clean_prefix(b"abcdefghij k  l"), 12);
        assert_eq!(header_clean_prefix(b"abcdefghijkl "), 12);
        assert_eq!(header_clean_prefix(b"abcdefgh\r\n x"), 8);
        assert_eq!(header_clean_prefix(b"abcdefgh \nx"), 11);
    }
}
