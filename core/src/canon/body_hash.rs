//! The body hash, RFC 6376 §3.7 (`bh=`), with the body length limit of
//! §3.5 (`l=`).

use crate::canon::{BodyCanonicalizer, Canon, Sink};
use sha2::{Digest, Sha256};

/// Whether the body hasher still needs body bytes.
///
/// Once it is [`Done`](BodyInterest::Done) (an `l=` limit has been
/// reached), a milter may skip the rest of the body.
///
/// It is advice, so it is not `#[must_use]`: body fed after `Done` is
/// ignored, and a caller that feeds it anyway gets the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BodyInterest {
    /// More body bytes can change the hash.
    More,
    /// No further body byte can change the hash.
    Done,
}

/// SHA-256 that stops taking bytes after an optional limit, and counts
/// what it took and what it was given.
#[derive(Debug, Clone)]
struct LimitedSha256 {
    hash: Sha256,
    limit: Option<u64>,
    hashed: u64,
    seen: u64,
}

impl Sink for LimitedSha256 {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let take = match self.limit {
            None => bytes,
            Some(limit) => {
                let room = limit.saturating_sub(self.hashed);
                let n = usize::try_from(room).unwrap_or(usize::MAX).min(bytes.len());
                bytes.get(..n).unwrap_or(bytes)
            }
        };
        if !take.is_empty() {
            self.hash.update(take);
        }
        self.hashed = self.hashed.saturating_add(take.len() as u64);
        self.seen = self.seen.saturating_add(bytes.len() as u64);
    }
}

/// Streaming body hash: canonicalization then SHA-256, in O(1) state.
#[derive(Debug, Clone)]
pub struct BodyHasher {
    kind: Canon,
    canon: BodyCanonicalizer,
    out: LimitedSha256,
    /// Read on past the limit until one more canonical byte arrives.
    measuring: bool,
}

/// A finished body hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct BodyHash {
    /// SHA-256 of the canonical body (or of its first `l=` bytes).
    pub digest: [u8; 32],
    /// How many canonical bytes were hashed: the value for `l=`.
    pub hashed_len: u64,
    /// Canonical body bytes came after the limit: the hash covers only
    /// part of the body. Certain for a hasher made with
    /// [`BodyHasher::measuring`]; one made with [`BodyHasher::new`] stops
    /// reading at the limit, so a `false` from it proves nothing.
    pub beyond_limit: bool,
}

impl BodyHasher {
    /// Start hashing a body canonicalized with `canon`, hashing at most
    /// `limit` canonical bytes when one is given (`l=`, §3.5).
    pub fn new(canon: Canon, limit: Option<u64>) -> Self {
        BodyHasher {
            kind: canon,
            canon: BodyCanonicalizer::new(canon),
            out: LimitedSha256 {
                hash: Sha256::new(),
                limit,
                hashed: 0,
                seen: 0,
            },
            measuring: false,
        }
    }

    /// A hasher for a verifier: as [`new`](Self::new), but with a limit
    /// it reads on past it until one more canonical byte arrives, so that
    /// [`BodyHash::beyond_limit`] says whether `l=` left part of the body
    /// unsigned. Its [`interest`](Self::interest) turns
    /// [`Done`](BodyInterest::Done) only then.
    pub fn measuring(canon: Canon, limit: Option<u64>) -> Self {
        BodyHasher {
            measuring: true,
            ..Self::new(canon, limit)
        }
    }

    /// The canonicalization in use.
    pub fn canon(&self) -> Canon {
        self.kind
    }

    /// The limit in use.
    pub fn limit(&self) -> Option<u64> {
        self.out.limit
    }

    /// Take the next chunk of body, of any size.
    pub fn update(&mut self, chunk: &[u8]) -> BodyInterest {
        if self.interest() == BodyInterest::Done {
            return BodyInterest::Done;
        }
        self.canon.update(chunk, &mut self.out);
        self.interest()
    }

    /// Whether more body can change the hash.
    #[must_use]
    pub fn interest(&self) -> BodyInterest {
        match self.out.limit {
            Some(limit) if self.measuring && self.out.seen > limit => BodyInterest::Done,
            Some(limit) if !self.measuring && self.out.hashed >= limit => BodyInterest::Done,
            _ => BodyInterest::More,
        }
    }

    /// Finish the body and return its hash.
    pub fn finish(mut self) -> BodyHash {
        self.canon.finish(&mut self.out);
        BodyHash {
            digest: self.out.hash.finalize().into(),
            hashed_len: self.out.hashed,
            beyond_limit: self.out.seen > self.out.hashed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64, Encoding};

    fn bh(canon: Canon, body: &[u8]) -> [u8; 44] {
        let mut h = BodyHasher::new(canon, None);
        h.update(body);
        let d = h.finish().digest;
        let mut out = [0u8; 44];
        Base64::encode(&d, &mut out).unwrap();
        out
    }

    #[test]
    fn empty_body_hashes_rfc6376() {
        // The well-known empty-body hashes (security case 27).
        assert_eq!(
            &bh(Canon::Simple, b""),
            b"frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
        );
        assert_eq!(
            &bh(Canon::Relaxed, b""),
            b"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            &bh(Canon::Simple, b"\r\n\r\n"),
            b"frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY="
        );
    }

    #[test]
    fn ten_megabytes_of_whitespace_is_the_empty_relaxed_hash() {
        // Security case 26: 10 MB of " \t\r\n" in 64 KiB chunks, O(1) state.
        let pattern = b" \t\r\n \r\n\t\t\r\n";
        let mut chunk = [0u8; 65536];
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = pattern[i % pattern.len()];
        }
        let mut h = BodyHasher::new(Canon::Relaxed, None);
        let mut total = 0usize;
        while total < 10_000_000 {
            h.update(&chunk);
            total += chunk.len();
        }
        assert!(core::mem::size_of::<BodyHasher>() < 512);
        let d = h.finish().digest;
        let mut out = [0u8; 44];
        Base64::encode(&d, &mut out).unwrap();
        assert_eq!(&out, b"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn limit_truncates_the_canonical_body_and_reports_done() {
        let mut h = BodyHasher::new(Canon::Relaxed, Some(5));
        assert_eq!(h.update(b"ab  c"), BodyInterest::More);
        assert_eq!(h.update(b"d  e\r\n"), BodyInterest::Done);
        let got = h.finish();
        assert_eq!(got.hashed_len, 5);
        assert_eq!(got.digest, <[u8; 32]>::from(Sha256::digest(b"ab cd")));
        // A limit longer than the body hashes all of it.
        let mut h = BodyHasher::new(Canon::Simple, Some(1000));
        h.update(b"abc");
        let got = h.finish();
        assert_eq!(got.hashed_len, 5);
        assert_eq!(got.digest, <[u8; 32]>::from(Sha256::digest(b"abc\r\n")));
    }

    #[test]
    fn measuring_hasher_reads_on_until_the_body_goes_past_the_limit() {
        // "ab cd\r\n" is 7 canonical bytes; l=7 is the whole body.
        let mut h = BodyHasher::measuring(Canon::Relaxed, Some(7));
        assert_eq!(h.update(b"ab  cd \r\n"), BodyInterest::More);
        // Trailing blank lines and whitespace add no canonical byte.
        assert_eq!(h.update(b"\r\n \r\n"), BodyInterest::More);
        let whole = h.clone().finish();
        assert_eq!((whole.hashed_len, whole.beyond_limit), (7, false));
        assert_eq!(whole.digest, <[u8; 32]>::from(Sha256::digest(b"ab cd\r\n")));
        // One more line: past the limit, and nothing more can matter.
        assert_eq!(h.update(b"x"), BodyInterest::Done);
        let part = h.finish();
        assert_eq!((part.hashed_len, part.beyond_limit), (7, true));
        assert_eq!(part.digest, whole.digest);
        // Without a limit it never says Done.
        let mut h = BodyHasher::measuring(Canon::Simple, None);
        assert_eq!(h.update(b"abc"), BodyInterest::More);
        assert!(!h.finish().beyond_limit);
    }
}
