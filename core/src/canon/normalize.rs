//! Line-ending normalization before signing or verifying (RFC 6376 §5.3:
//! a signer converts the message to the canonical CRLF form first).
//!
//! Files on Unix systems end lines with a bare LF. [`LineEndings`] turns
//! every bare LF into CRLF and leaves CRLF and bare CR alone, so that the
//! signer and the verifier see the same message whatever its origin. The
//! rule is fixed and the same on both sides; a milter receives CRLF
//! already and does not need it.

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
    /// the input allows.
    pub fn update<E>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn convert(chunks: &[&[u8]]) -> Vec<u8> {
        let mut n = LineEndings::new();
        let mut out = Vec::new();
        for c in chunks {
            n.update::<()>(c, |p| {
                out.extend_from_slice(p);
                Ok(())
            })
            .unwrap();
        }
        out
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
}
