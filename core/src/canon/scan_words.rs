// Included by `scan.rs` into a module per word width, after
// `type Word = u32;` or `type Word = u64;`: word-at-a-time scans for the
// line-ending normalizer (`normalize.rs`) and relaxed header
// canonicalization (RFC 6376 §3.4.2). The same trick as the body scan in
// `words.rs`: compare every byte of a machine word at once, with no carry
// from one byte into the next, so a set bit 7 marks exactly the bytes
// that match.

use super::super::{CR, SP, TAB};

/// Bytes in a [`Word`].
pub(super) const WORD: usize = core::mem::size_of::<Word>();

/// `b` in every byte of a word.
const fn splat(b: u8) -> Word {
    Word::from_le_bytes([b; WORD])
}

/// Bit 7 of each byte of the result is set iff that byte of `x` is `b`;
/// the other bits are clear. Exact: the low seven bits of each byte are
/// added apart from bit 7, so nothing carries between bytes.
#[inline(always)]
fn bytes_equal(x: Word, b: u8) -> Word {
    let t = x ^ splat(b);
    !(((t & splat(0x7f)).wrapping_add(splat(0x7f))) | t) & splat(0x80)
}

/// The byte a set bit 7 of `marks` stands for, the lowest first.
#[inline(always)]
fn first_marked(marks: Word) -> usize {
    (marks.trailing_zeros() / 8) as usize
}

/// Bytes in a block of [`find_byte`]: four words, tested together.
const BLOCK: usize = 4 * WORD;

/// The position of the first `needle` in `hay`, four words at a time
/// (one test for the block, then the word that has it), then the words
/// and bytes left.
#[inline]
pub(super) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    let mut rest = hay;
    let mut at = 0usize;
    while let Some((block, tail)) = rest.split_first_chunk::<BLOCK>() {
        let (words, _) = block.as_chunks::<WORD>();
        let any = words.iter().fold(0, |acc, w| {
            acc | bytes_equal(Word::from_le_bytes(*w), needle)
        });
        if any != 0 {
            let mut word_at = at;
            for w in words {
                let marks = bytes_equal(Word::from_le_bytes(*w), needle);
                if marks != 0 {
                    return Some(word_at.saturating_add(first_marked(marks)));
                }
                word_at = word_at.saturating_add(WORD);
            }
        }
        at = at.saturating_add(BLOCK);
        rest = tail;
    }
    while let Some((w, tail)) = rest.split_first_chunk::<WORD>() {
        let marks = bytes_equal(Word::from_le_bytes(*w), needle);
        if marks != 0 {
            return Some(at.saturating_add(first_marked(marks)));
        }
        at = at.saturating_add(WORD);
        rest = tail;
    }
    rest.iter()
        .position(|&b| b == needle)
        .map(|p| at.saturating_add(p))
}

/// Bit 7 of each byte of the result is set iff that byte of `x` is 0x20
/// or below: its low seven bits plus 0x5f carry into bit 7 from 0x21 on
/// (and never out of the byte), and bytes of 0x80 and more have it set
/// already.
#[inline(always)]
fn low_bytes(x: Word) -> Word {
    !(((x & splat(0x7f)).wrapping_add(splat(0x5f))) | x) & splat(0x80)
}

/// The bytes of the word `x` that relaxed header canonicalization cannot
/// copy as they are (bit 7 of each): tabs, CRs, and spaces before a space,
/// tab or CR; `next_wsp` says whether the byte after the word is one of
/// those three. A word with no byte of 0x20 or below has none, which is
/// checked first.
#[inline(always)]
fn header_special(x: Word, next_wsp: bool) -> Word {
    if low_bytes(x) == 0 {
        return 0;
    }
    let sp = bytes_equal(x, SP);
    let hard = bytes_equal(x, TAB) | bytes_equal(x, CR);
    // Bit 7 of each byte: the byte after it is a space, tab or CR.
    let after = (hard | sp).wrapping_shr(8) | (Word::from(next_wsp) << (Word::BITS - 1));
    hard | (sp & after)
}

/// [`header_clean_prefix`](super::header_clean_prefix) a word at a time,
/// the byte after each word read on its own. The last bytes (a word or
/// less) are checked as a word too, padded with spaces: a space after the
/// end makes a space at the end special, as a space before a space is, and
/// the padding's own marks lie past the end.
#[inline]
pub(super) fn header_clean_prefix(data: &[u8]) -> usize {
    let mut rest = data;
    let mut at = 0usize;
    while let Some((w, tail)) = rest.split_first_chunk::<WORD>()
        && let Some(&next) = tail.first()
    {
        let special = header_special(Word::from_le_bytes(*w), matches!(next, SP | TAB | CR));
        if special != 0 {
            return at.saturating_add(first_marked(special));
        }
        at = at.saturating_add(WORD);
        rest = tail;
    }
    let mut last = [SP; WORD];
    if crate::bytes::copy_at(&mut last, 0, rest).is_none() {
        return data.len();
    }
    let special = header_special(Word::from_le_bytes(last), true);
    // The padding is spaces before a space: its last byte at least is
    // marked.
    at.saturating_add(first_marked(special).min(rest.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_equal_is_exact() {
        for b in 0..=255u8 {
            for v in 0..=255u8 {
                for i in 0..WORD {
                    let mut bytes = [v ^ 0xff; WORD];
                    bytes[i] = v;
                    let want = if b == v { (0x80 as Word) << (8 * i) } else { 0 };
                    let mask =
                        bytes_equal(Word::from_le_bytes(bytes), b) & ((0xff as Word) << (8 * i));
                    assert_eq!(mask, want, "{b:#x} {v:#x} at {i}");
                }
            }
        }
    }
}
