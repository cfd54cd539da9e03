// Included by `canon.rs` into a module per word width, after
// `type Word = u32;` or `type Word = u64;`: the word-at-a-time scan of
// relaxed body canonicalization (RFC 6376 §3.4.4).

use super::{CR, LF, SP, TAB, first_special, trim_cr};

/// Bytes in a [`Word`].
pub(super) const WORD: usize = core::mem::size_of::<Word>();

/// `b` in every byte of a word.
const fn splat(b: u8) -> Word {
    Word::from_le_bytes([b; WORD])
}

/// Bit 7 of each byte of the result is set iff that byte of `x` is `b`.
#[inline(always)]
fn bytes_equal(x: Word, b: u8) -> Word {
    let t = x ^ splat(b);
    !(((t & splat(0x7f)).wrapping_add(splat(0x7f))) | t) & splat(0x80)
}

/// The filter of the word scan, a cheap superset of [`relaxed_special`](super::relaxed_special)
/// computed on a whole word (see [`word_classes`]). Only bit 7 of each
/// byte means anything; the other bits are left over from the arithmetic.
#[derive(Clone, Copy)]
struct Classes {
    /// Bit 7 set: the byte may be a tab.
    tabs: Word,
    /// Bit 7 clear: the byte may start a special pair.
    not_starts: Word,
    /// Bit 7 clear: the byte may end a special pair.
    not_ends: Word,
}

/// The [`Classes`] of the bytes of `x`. Every byte of a special pair is
/// 0x20 or below (low); the filter tells them apart by their low bits:
///
/// - a start is low with bit 0 clear: space and LF, never CR;
/// - an end is low with bit 1 clear: space, tab and CR, never LF;
/// - a tab is low with bit 0 set and bit 2 clear; never CR.
///
/// So a CRLF, and an LF before text, pass unflagged. The classes are kept
/// negated where that saves a mask on a core without SIMD.
#[inline(always)]
fn word_classes(x: Word) -> Classes {
    // Bit 7 of a byte of `above` is set iff the byte is above 0x20: its
    // low seven bits plus 0x5f carry into bit 7 from 0x21 on (and never
    // out of the byte), and bytes of 0x80 and more have it set already.
    let above = ((x & splat(0x7f)).wrapping_add(splat(0x5f))) | x;
    // `x << k` puts bit 7 - k of each byte at its bit 7.
    let bit0 = x.wrapping_shl(7);
    Classes {
        tabs: bit0 & !(above | x.wrapping_shl(5)),
        not_starts: above | bit0,
        not_ends: above | x.wrapping_shl(6),
    }
}

/// [`relaxed_special`](super::relaxed_special) for every byte of `x` at once, exactly: `next`
/// holds the byte after each byte of `x`, in the same place. Bit 7 of a
/// byte of the result is set where the pair is special.
#[inline(always)]
pub(super) fn special_bytes(x: Word, next: Word) -> Word {
    let next_cr = bytes_equal(next, CR);
    let next_wsp = bytes_equal(next, SP) | bytes_equal(next, TAB) | next_cr;
    bytes_equal(x, TAB) | (bytes_equal(x, SP) & next_wsp) | (bytes_equal(x, LF) & next_cr)
}

/// The special bytes of the word `x` ([`special_bytes`]), given its
/// [`Classes`] `cx`, the word `y` after it and `y`'s `not_ends`; 0 at once
/// if the filter finds nothing.
#[inline(always)]
fn special_in_word(x: Word, cx: Classes, y: Word, y_not_ends: Word) -> Word {
    // Bit 7 clear where the byte may start a pair and the byte after it
    // may end one.
    let not_pairs =
        cx.not_starts | cx.not_ends.wrapping_shr(8) | y_not_ends.wrapping_shl(Word::BITS - 8);
    if (cx.tabs | !not_pairs) & splat(0x80) == 0 {
        return 0;
    }
    special_bytes(x, x.wrapping_shr(8) | y.wrapping_shl(Word::BITS - 8))
}

/// [`relaxed_clean_prefix`] from `from` on, where `data[..from]` is known
/// to be clean, a word at a time. Words are filtered with
/// [`word_classes`], the word after each word supplying the byte after its
/// last; a word the filter flags is checked exactly with
/// [`special_bytes`], and scanning goes on if it was a false alarm. The
/// last word and the bytes after it are checked one by one.
#[inline]
pub(super) fn clean_words(data: &[u8], from: usize, window: usize) -> usize {
    let Some(scan) = data.get(from..window) else {
        return trim_cr(data, from.min(window));
    };
    // Offsets below are in `scan`; `x` is the word at
    // `scan.len() - rest.len() - WORD`.
    let mut last = 0;
    if let Some((first, mut rest)) = scan.split_first_chunk::<WORD>() {
        let mut x = Word::from_le_bytes(*first);
        let mut cx = word_classes(x);
        while let Some((w, tail)) = rest.split_first_chunk::<WORD>() {
            let y = Word::from_le_bytes(*w);
            let cy = word_classes(y);
            let special = special_in_word(x, cx, y, cy.not_ends);
            if special != 0 {
                let at = scan.len().saturating_sub(rest.len()).saturating_sub(WORD);
                let byte = (special.trailing_zeros() / 8) as usize;
                return trim_cr(data, from.saturating_add(at).saturating_add(byte));
            }
            (x, cx) = (y, cy);
            rest = tail;
        }
        last = scan.len().saturating_sub(rest.len()).saturating_sub(WORD);
    }
    let stop = first_special(data, from.saturating_add(last), window).unwrap_or(window);
    trim_cr(data, stop)
}

#[cfg(test)]
mod tests {
    use super::super::relaxed_special;
    use super::*;

    /// A word of `fill` with `b` at byte `i` and, if there is room, `n`
    /// at byte `i + 1`.
    fn word_with(fill: u8, i: usize, b: u8, n: u8) -> Word {
        let mut bytes = [fill; WORD];
        bytes[i] = b;
        if let Some(slot) = bytes.get_mut(i + 1) {
            *slot = n;
        }
        Word::from_le_bytes(bytes)
    }

    #[test]
    fn word_filter_and_exact_check_agree_with_relaxed_special() {
        // Every pair of bytes at every place in a word: the exact check
        // marks exactly the special pairs, and the filter marks at least
        // those.
        for b in 0..=255u8 {
            for n in 0..=255u8 {
                let special = relaxed_special(b, n);
                for i in 0..WORD {
                    let bit = 0x80 << (8 * i);
                    let x = word_with(b'a', i, b, n);
                    let exact =
                        special_bytes(word_with(b'a', i, b, b'a'), word_with(b'a', i, n, b'a'));
                    assert_eq!(exact & bit != 0, special, "{b:#x} {n:#x} at {i}");
                    assert_eq!(exact & !bit, 0, "{b:#x} {n:#x} at {i}");
                    if i + 1 < WORD {
                        let c = word_classes(x);
                        let flagged = (c.tabs | !(c.not_starts | (c.not_ends >> 8))) & bit != 0;
                        assert!(flagged || !special, "{b:#x} {n:#x} at {i}");
                    }
                }
            }
        }
        // A CRLF between words of text is not flagged.
        let c = word_classes(Word::from_le_bytes(
            *b"a\r\nbcdefg"[..WORD].first_chunk().unwrap(),
        ));
        assert_eq!(
            (c.tabs | !(c.not_starts | (c.not_ends >> 8))) & splat(0x80),
            0
        );
    }
}
