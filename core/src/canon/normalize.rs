//! Line-ending normalization before signing or verifying (RFC 6376 §5.3:
//! a signer converts the message to the canonical CRLF form first).
//!
//! Files on Unix systems end lines with a bare LF. [`LineEndings`] turns
//! every bare LF into CRLF and leaves CRLF and bare CR alone, so that the
//! signer and the verifier see the same message whatever its origin. The
//! rule is fixed and the same on both sides; a milter receives CRLF
//! already and does not need it.
//!
//! Only an LF can need a change, and only the byte before it decides, so
//! the converter looks for LFs alone, a block or a word at a time
//! ([`super::scan`]), and passes everything between them on untouched.

use super::scan::find_byte;
use super::{CR, LF};

/// Streaming bare-LF to CRLF conversion with one byte of state.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineEndings {
    last_was_cr: bool,
}

impl LineEndings {
    /// A converter at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Convert `input`, passing the output to `out` in as few pieces as
    /// the input allows: each run of bytes up to a bare LF as one slice,
    /// then `b"\r\n"` in place of the LF; the rest as one slice. An input
    /// with no bare LF goes on whole. When `out` fails, its error is
    /// returned at once and the converter is left as it was before this
    /// call.
    pub fn update<E>(
        &mut self,
        input: &[u8],
        mut out: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(&last) = input.last() else {
            return Ok(());
        };
        // `input[start..]` is not passed on yet; the next LF is searched
        // for from `from` on.
        let mut start = 0usize;
        let mut from = 0usize;
        while let Some(lf) = input
            .get(from..)
            .and_then(|rest| find_byte(rest, LF))
            .map(|p| from.saturating_add(p))
        {
            let after_cr = match lf.checked_sub(1) {
                Some(before) => input.get(before) == Some(&CR),
                None => self.last_was_cr,
            };
            if !after_cr {
                if let Some(run) = input.get(start..lf)
                    && !run.is_empty()
                {
                    out(run)?;
                }
                out(b"\r\n")?;
                start = lf.saturating_add(1);
            }
            from = lf.saturating_add(1);
        }
        if let Some(run) = input.get(start..)
            && !run.is_empty()
        {
            out(run)?;
        }
        self.last_was_cr = last == CR;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The converter before the scan: a loop over single bytes, kept as
    /// the reference the scan must match piece for piece.
    #[derive(Default)]
    struct ByteByByte {
        last_was_cr: bool,
    }

    impl ByteByByte {
        fn update<E>(
            &mut self,
            input: &[u8],
            mut out: impl FnMut(&[u8]) -> Result<(), E>,
        ) -> Result<(), E> {
            let mut start = 0usize;
            let mut prev_cr = self.last_was_cr;
            for (i, &b) in input.iter().enumerate() {
                if b == b'\n' && !prev_cr {
                    if let Some(run) = input.get(start..i)
                        && !run.is_empty()
                    {
                        out(run)?;
                    }
                    out(b"\r\n")?;
                    start = i.saturating_add(1);
                }
                prev_cr = b == b'\r';
            }
            if let Some(run) = input.get(start..)
                && !run.is_empty()
            {
                out(run)?;
            }
            self.last_was_cr = prev_cr;
            Ok(())
        }
    }

    /// The pieces `chunks` convert to, by the scan and by the reference.
    fn pieces(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut n = LineEndings::new();
        let mut r = ByteByByte::default();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for c in chunks {
            n.update::<()>(c, |p| {
                got.push(p.to_vec());
                Ok(())
            })
            .unwrap();
            r.update::<()>(c, |p| {
                want.push(p.to_vec());
                Ok(())
            })
            .unwrap();
        }
        (got, want)
    }

    fn convert(chunks: &[&[u8]]) -> Vec<u8> {
        pieces(chunks).0.concat()
    }

    #[test]
    fn bare_lf_becomes_crlf_at_every_split() {
        let input = b"a\nb\r\nc\rd\n\n\r\r\n";
        let want = b"a\r\nb\r\nc\rd\r\n\r\n\r\r\n";
        for at in 0..=input.len() {
            let (x, y) = input.split_at(at);
            assert_eq!(convert(&[x, y]), want, "split at {at}");
        }
    }

    #[test]
    fn runs_go_on_whole() {
        let text = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789";
        let mut input = text.to_vec();
        input.push(b'\n');
        input.extend_from_slice(text);
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(text);
        let (got, _) = pieces(&[&input]);
        let mut rest = text.to_vec();
        rest.extend_from_slice(b"\r\n");
        rest.extend_from_slice(text);
        assert_eq!(got, [&text[..], b"\r\n", &rest[..]]);
    }

    /// Random inputs weighted to CR and LF, long enough that LFs fall at
    /// every place in a block and a word.
    fn random_inputs() -> impl Iterator<Item = (Vec<u8>, u64)> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..3000).map(move |_| {
            let len = (next() % 260) as usize;
            let mut buf = Vec::with_capacity(len);
            while buf.len() < len {
                let r = next();
                match r % 6 {
                    0 => buf.push(b'\n'),
                    1 => buf.push(b'\r'),
                    2 => buf.extend_from_slice(b"\r\n"),
                    3 => buf.push([0x0a ^ 0x80, 0x0d ^ 0x80, 0, b' '][(r >> 8) as usize % 4]),
                    _ => {
                        for i in 0..=(r >> 8) % 40 {
                            buf.push(b'a' + ((r >> 16) + i) as u8 % 26);
                        }
                    }
                }
            }
            (buf, next())
        })
    }

    #[test]
    fn matches_the_byte_by_byte_converter_at_every_split_and_in_pieces() {
        for (input, seed) in random_inputs() {
            let (whole, want) = pieces(&[&input]);
            assert_eq!(whole, want, "{input:?}");
            for at in 0..=input.len() {
                let (x, y) = input.split_at(at);
                let (got, want) = pieces(&[x, y]);
                assert_eq!(got, want, "{input:?} split at {at}");
            }
            // Random pieces, empty ones included.
            let mut cuts = Vec::new();
            let mut rest = &input[..];
            let mut r = seed;
            while !rest.is_empty() {
                r = r.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let n = ((r >> 33) % (rest.len() as u64 + 1)) as usize;
                let (piece, tail) = rest.split_at(n);
                cuts.push(piece);
                rest = tail;
            }
            let (got, want) = pieces(&cuts);
            assert_eq!(got, want, "{input:?} in pieces {cuts:?}");
        }
    }

    #[test]
    fn a_failing_sink_leaves_the_state_as_it_was() {
        let mut n = LineEndings::new();
        n.update::<()>(b"x\r", |_| Ok(())).unwrap();
        assert_eq!(n.update(b"\nab\n", |_| Err(())), Err(()));
        // The CR before is still remembered: the LF after it is kept.
        assert_eq!(convert_from(n, b"\n"), b"\n");
    }

    fn convert_from(mut n: LineEndings, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        n.update::<()>(input, |p| {
            out.extend_from_slice(p);
            Ok(())
        })
        .unwrap();
        out
    }
}
