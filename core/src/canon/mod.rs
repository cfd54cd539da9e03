//! Canonicalization, RFC 6376 §3.4.
//!
//! Header fields are canonicalized one at a time as a stream of pieces
//! ([`HeaderCanonicalizer`]); the body is canonicalized as a stream of
//! chunks of any size ([`BodyCanonicalizer`]). Both write into a [`Sink`]
//! (normally SHA-256) and hold O(1) state: runs of whitespace and of empty
//! lines are counted, never buffered.
//!
//! Line endings are CRLF (RFC 5322 §2.1). A bare CR or bare LF is an
//! ordinary byte here; callers that accept files with bare LF line endings
//! convert them first with [`crate::canon::normalize::LineEndings`].

pub mod body_hash;
mod header;
pub mod normalize;
mod scan;

pub use header::{HeaderCanonicalizer, canonicalize_header};

use core::fmt;

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const SP: u8 = b' ';
const TAB: u8 = b'\t';

/// One canonicalization algorithm (RFC 6376 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Canon {
    /// §3.4.1 (header) and §3.4.3 (body).
    #[default]
    Simple,
    /// §3.4.2 (header) and §3.4.4 (body).
    Relaxed,
}

impl Canon {
    /// The name used in `c=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Canon::Simple => "simple",
            Canon::Relaxed => "relaxed",
        }
    }

    /// Parse a name used in `c=` (case-insensitive, RFC 6376 §3.5).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        if name.eq_ignore_ascii_case(b"simple") {
            Some(Canon::Simple)
        } else if name.eq_ignore_ascii_case(b"relaxed") {
            Some(Canon::Relaxed)
        } else {
            None
        }
    }
}

/// The header and body canonicalization of one signature (`c=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Canonicalization {
    /// Header canonicalization.
    pub header: Canon,
    /// Body canonicalization.
    pub body: Canon,
}

impl Canonicalization {
    /// relaxed/relaxed, the signer default.
    pub const RELAXED: Self = Canonicalization {
        header: Canon::Relaxed,
        body: Canon::Relaxed,
    };
    /// simple/simple, the RFC 6376 default when `c=` is absent.
    pub const SIMPLE: Self = Canonicalization {
        header: Canon::Simple,
        body: Canon::Simple,
    };

    /// Parse the value of `c=` (`header[/body]`; a missing body part is
    /// `simple`, RFC 6376 §3.5).
    pub fn parse(value: &[u8]) -> Option<Self> {
        let mut parts = value.splitn(2, |&b| b == b'/');
        let header = Canon::from_name(parts.next()?)?;
        let body = match parts.next() {
            Some(b) => Canon::from_name(b)?,
            None => Canon::Simple,
        };
        Some(Canonicalization { header, body })
    }
}

impl fmt::Display for Canonicalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.header.as_str(), self.body.as_str())
    }
}

/// Where canonical bytes go: a hash, a length counter, a buffer in tests.
pub trait Sink {
    /// Take the next canonical bytes.
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for sha2::Sha256 {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        sha2::Digest::update(self, bytes);
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        (**self).write(bytes);
    }
}

/// A small staging buffer so that byte-at-a-time output reaches the sink in
/// runs rather than one call per byte.
struct Staged<'s, S: Sink + ?Sized> {
    sink: &'s mut S,
    /// `STAGE` bytes, and room for block copies that start within them
    /// (see [`write_prefix`](Self::write_prefix)).
    buf: [u8; STAGE + 2 * COPY_BLOCK],
    /// Bytes staged, at most `STAGE`.
    len: usize,
}

/// How many bytes [`Staged`] gathers before it writes them to its sink.
const STAGE: usize = 64;

/// Short runs are staged with copies of this many bytes, which the
/// compiler does inline (on the Cortex-M3, four loads and stores); a call
/// to `memcpy` costs more than such a copy on a small core.
const COPY_BLOCK: usize = 16;

impl<'s, S: Sink + ?Sized> Staged<'s, S> {
    fn new(sink: &'s mut S) -> Self {
        Staged {
            sink,
            buf: [0; STAGE + 2 * COPY_BLOCK],
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        if self.len >= STAGE {
            self.flush();
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len = self.len.saturating_add(1);
        }
    }

    /// Stage `src[..n]`. A run of up to two [`COPY_BLOCK`]s is copied in
    /// whole blocks when `src` is that long: the copy may read past `n` and
    /// write past the staged bytes, but only `n` of them count.
    #[inline]
    fn write_prefix(&mut self, src: &[u8], n: usize) {
        if n <= 2 * COPY_BLOCK
            && let Some((first, more)) = src.split_first_chunk::<COPY_BLOCK>()
            && let Some(second) = more.first_chunk::<COPY_BLOCK>()
        {
            if self.len.saturating_add(n) > STAGE {
                self.flush();
            }
            // `len` is at most `STAGE`, so the blocks fit.
            if let Some((room, more_room)) = self
                .buf
                .get_mut(self.len..)
                .and_then(|b| b.split_first_chunk_mut::<COPY_BLOCK>())
            {
                *room = *first;
                if n > COPY_BLOCK
                    && let Some(room) = more_room.first_chunk_mut::<COPY_BLOCK>()
                {
                    *room = *second;
                }
                self.len = self.len.saturating_add(n);
                return;
            }
        }
        if let Some(run) = src.get(..n) {
            self.write(run);
        }
    }

    /// Stage `bytes` if they fit; a slice as long as the stage or longer
    /// goes to the sink as it is (after what is staged).
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if let Some(end) = self.len.checked_add(bytes.len())
            && end <= STAGE
            && let Some(end) = crate::bytes::copy_at(&mut self.buf, self.len, bytes)
        {
            self.len = end;
            return;
        }
        self.flush();
        if bytes.len() < STAGE
            && let Some(end) = crate::bytes::copy_at(&mut self.buf, 0, bytes)
        {
            self.len = end;
        } else {
            self.sink.write(bytes);
        }
    }

    fn flush(&mut self) {
        if let Some(bytes) = self.buf.get(..self.len)
            && !bytes.is_empty()
        {
            self.sink.write(bytes);
        }
        self.len = 0;
    }
}

impl<S: Sink + ?Sized> Drop for Staged<'_, S> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A DomainKeys canonicalization (RFC 4870 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DkCanon {
    /// §3.4.1: no change but trailing empty lines of the body.
    #[default]
    Simple,
    /// §3.4.2: all whitespace and line-folding removed from header
    /// fields; spaces, tabs and lone CR or LF removed from the body.
    Nofws,
}

impl DkCanon {
    /// The name used in `c=`.
    pub fn as_str(self) -> &'static str {
        match self {
            DkCanon::Simple => "simple",
            DkCanon::Nofws => "nofws",
        }
    }

    /// Parse a name used in `c=` (RFC 4870 §3.3).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        if name.eq_ignore_ascii_case(b"simple") {
            Some(DkCanon::Simple)
        } else if name.eq_ignore_ascii_case(b"nofws") {
            Some(DkCanon::Nofws)
        } else {
            None
        }
    }
}

/// Canonicalize one header field for DomainKeys (RFC 4870 §3.4) into
/// `sink`, with its CRLF: `simple` leaves it as it is; `nofws` drops every
/// space, tab, CR and LF (which unfolds it) before the CRLF.
pub fn canonicalize_dk_header<S: Sink + ?Sized>(canon: DkCanon, field: &[u8], sink: &mut S) {
    canonicalize_dk_header_piece(canon, field, sink);
    sink.write(b"\r\n");
}

/// Canonicalize the next piece of a header field for DomainKeys, split
/// anywhere; the caller writes the CRLF that ends the field. Both rules
/// work byte by byte, so pieces need no state between them.
pub fn canonicalize_dk_header_piece<S: Sink + ?Sized>(canon: DkCanon, piece: &[u8], sink: &mut S) {
    match canon {
        DkCanon::Simple => sink.write(piece),
        DkCanon::Nofws => {
            for run in piece.split(|&b| matches!(b, SP | TAB | CR | LF)) {
                if !run.is_empty() {
                    sink.write(run);
                }
            }
        }
    }
}

/// Which body algorithm a [`BodyCanonicalizer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyMode {
    Dkim(Canon),
    DomainKeys(DkCanon),
}

/// Streaming body canonicalization (RFC 6376 §3.4.3–3.4.4, and RFC 4870
/// §3.4 for DomainKeys) with O(1) state.
///
/// Empty lines are counted and written only when content follows them, so
/// trailing empty lines vanish (§3.4.3, §3.4.4) however many there are;
/// a whitespace run is one flag. Long runs of input that canonicalization
/// leaves unchanged go to the sink as one slice.
#[derive(Debug, Clone)]
pub struct BodyCanonicalizer {
    mode: BodyMode,
    /// CRLFs seen since the last content byte, not yet written.
    pending_crlf: u64,
    /// The last byte was a CR that may start a CRLF.
    pending_cr: bool,
    /// (relaxed) a whitespace run is pending.
    pending_wsp: bool,
    /// (relaxed) some content has been written: a body of nothing but
    /// empty lines canonicalizes to nothing.
    any_content: bool,
    /// (relaxed) the output so far is empty or ends with CRLF, so a CR
    /// that comes next may start an empty line.
    at_line_start: bool,
}

impl BodyCanonicalizer {
    /// Start a DKIM body.
    pub fn new(canon: Canon) -> Self {
        Self::with_mode(BodyMode::Dkim(canon))
    }

    /// Start a DomainKeys body (RFC 4870 §3.4). The blank line that ends
    /// the header block is part of what DomainKeys hashes: feed it first.
    pub fn domainkeys(canon: DkCanon) -> Self {
        Self::with_mode(BodyMode::DomainKeys(canon))
    }

    fn with_mode(mode: BodyMode) -> Self {
        BodyCanonicalizer {
            mode,
            pending_crlf: 0,
            pending_cr: false,
            pending_wsp: false,
            any_content: false,
            at_line_start: true,
        }
    }

    /// Canonicalize the next chunk of body into `sink`.
    pub fn update<S: Sink + ?Sized>(&mut self, chunk: &[u8], sink: &mut S) {
        match self.mode {
            BodyMode::Dkim(Canon::Simple) | BodyMode::DomainKeys(DkCanon::Simple) => {
                self.update_simple(chunk, sink)
            }
            BodyMode::Dkim(Canon::Relaxed) => self.update_relaxed(chunk, sink),
            BodyMode::DomainKeys(DkCanon::Nofws) => {
                for &b in chunk {
                    self.nofws_byte(b, sink);
                }
            }
        }
    }

    /// RFC 4870 §3.4.2 for the body: spaces and tabs go, a CR or LF that is
    /// not part of a CRLF goes, and lines are otherwise kept.
    #[inline]
    fn nofws_byte<S: Sink + ?Sized>(&mut self, b: u8, sink: &mut S) {
        if self.pending_cr {
            self.pending_cr = false;
            if b == LF {
                self.pending_crlf = self.pending_crlf.saturating_add(1);
                return;
            }
            // The lone CR is dropped; look at `b` afresh.
        }
        match b {
            CR => self.pending_cr = true,
            SP | TAB | LF => {}
            _ => self.content(&[b], sink),
        }
    }

    /// End the body and write what the end implies: one CRLF after the last
    /// line (§3.4.3: also for an empty body in simple; §3.4.4: none for an
    /// empty body in relaxed).
    pub fn finish<S: Sink + ?Sized>(mut self, sink: &mut S) {
        if self.pending_cr {
            self.pending_cr = false;
            // A lone CR at the very end: data, except that nofws drops it.
            if self.mode != BodyMode::DomainKeys(DkCanon::Nofws) {
                self.content(&[CR], sink);
            }
        }
        match self.mode {
            BodyMode::Dkim(Canon::Simple) => sink.write(b"\r\n"),
            BodyMode::Dkim(Canon::Relaxed) => {
                // A line end already written by a clean run counts as the
                // last one; pending empty lines are dropped.
                if self.any_content && !self.at_line_start {
                    sink.write(b"\r\n");
                }
            }
            // RFC 4870 §3.4: trailing empty lines are ignored, the last
            // line keeps its CRLF, and none is added where there was none.
            BodyMode::DomainKeys(_) => {
                if self.any_content && self.pending_crlf > 0 {
                    sink.write(b"\r\n");
                }
            }
        }
    }

    /// Write pending line ends, a pending whitespace run, then `bytes`.
    #[inline]
    fn content<S: Sink + ?Sized>(&mut self, bytes: &[u8], sink: &mut S) {
        while self.pending_crlf > 0 {
            let n = self.pending_crlf.min(CRLFS.len() as u64 / 2);
            let len = usize::try_from(n.saturating_mul(2)).unwrap_or(CRLFS.len());
            sink.write(CRLFS.get(..len).unwrap_or(&CRLFS));
            self.pending_crlf = self.pending_crlf.saturating_sub(n);
        }
        if self.pending_wsp {
            self.pending_wsp = false;
            sink.write(b" ");
        }
        sink.write(bytes);
        self.any_content = true;
        self.at_line_start = false;
    }

    /// [`content`](Self::content) of one byte, staged: what the relaxed
    /// state machine writes for a byte of content.
    #[inline(always)]
    fn content_byte<S: Sink + ?Sized>(&mut self, b: u8, out: &mut Staged<'_, S>) {
        while self.pending_crlf > 0 {
            let n = self.pending_crlf.min(CRLFS.len() as u64 / 2);
            let len = usize::try_from(n.saturating_mul(2)).unwrap_or(CRLFS.len());
            out.write_prefix(&CRLFS, len);
            self.pending_crlf = self.pending_crlf.saturating_sub(n);
        }
        if self.pending_wsp {
            self.pending_wsp = false;
            out.push(SP);
        }
        out.push(b);
        self.any_content = true;
        self.at_line_start = false;
    }

    fn update_simple<S: Sink + ?Sized>(&mut self, mut chunk: &[u8], sink: &mut S) {
        // A CR left over from the last chunk pairs with a leading LF.
        if self.pending_cr {
            let Some((&first, rest)) = chunk.split_first() else {
                return;
            };
            self.pending_cr = false;
            if first == LF {
                self.pending_crlf = self.pending_crlf.saturating_add(1);
                chunk = rest;
            } else {
                self.content(&[CR], sink);
            }
        }
        // Everything before the trailing run of CRLFs (and a final CR) is
        // written as it is; the run is only counted.
        let mut end = chunk.len();
        let trailing_cr = chunk.last() == Some(&CR);
        if trailing_cr {
            end = end.saturating_sub(1);
        }
        let mut crlfs: u64 = 0;
        while let Some(pair) = end.checked_sub(2).and_then(|s| chunk.get(s..end)) {
            if pair != b"\r\n" {
                break;
            }
            end = end.saturating_sub(2);
            crlfs = crlfs.saturating_add(1);
        }
        if let Some(head) = chunk.get(..end)
            && !head.is_empty()
        {
            self.content(head, sink);
        }
        self.pending_crlf = self.pending_crlf.saturating_add(crlfs);
        self.pending_cr = trailing_cr;
    }

    fn update_relaxed<S: Sink + ?Sized>(&mut self, chunk: &[u8], sink: &mut S) {
        // What the state machine writes (single bytes, a space, line ends)
        // and short clean runs are gathered here, so that the sink gets
        // slices rather than one call per byte.
        let mut out = Staged::new(sink);
        // The state goes through the loop in a local copy, so that the
        // compiler can keep it in registers rather than store each change.
        let mut st = self.clone();
        st.relaxed_loop(chunk, &mut out);
        *self = st;
    }

    /// [`update_relaxed`](Self::update_relaxed) proper: clean runs are
    /// copied as they are, the rest goes through the state machine.
    #[inline(always)]
    fn relaxed_loop<S: Sink + ?Sized>(&mut self, chunk: &[u8], out: &mut Staged<'_, S>) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let nothing_pending = !self.pending_cr && !self.pending_wsp && self.pending_crlf == 0;
            if nothing_pending && !(self.at_line_start && rest.first() == Some(&CR)) {
                let clean = relaxed_clean_prefix(rest);
                if clean > 0
                    && let Some((run, tail)) = rest.split_at_checked(clean)
                {
                    out.write_prefix(rest, clean);
                    self.any_content = true;
                    self.at_line_start = run.ends_with(b"\r\n");
                    rest = tail;
                    // A run stops at a byte that needs the state machine
                    // (or at the last two bytes): no use scanning again.
                }
            }
            let Some((&b, tail)) = rest.split_first() else {
                break;
            };
            self.relaxed_byte(b, out);
            rest = tail;
        }
    }

    /// The relaxed state machine, one byte at a time (§3.4.4).
    #[inline(always)]
    fn relaxed_byte<S: Sink + ?Sized>(&mut self, b: u8, out: &mut Staged<'_, S>) {
        if self.pending_cr {
            self.pending_cr = false;
            if b == LF {
                // End of line: trailing whitespace is deleted.
                self.pending_wsp = false;
                self.pending_crlf = self.pending_crlf.saturating_add(1);
                return;
            }
            self.content_byte(CR, out);
        }
        match b {
            CR => self.pending_cr = true,
            SP | TAB => self.pending_wsp = true,
            _ => self.content_byte(b, out),
        }
    }
}

/// Forty CRLFs, written in one call for runs of empty lines.
const CRLFS: [u8; 80] = *b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";

/// Could the relaxed state machine do anything but copy the byte at `b`
/// followed by `next`? True for a tab, a space before whitespace or CR,
/// and an LF before CR (the start of a possibly trailing empty line).
#[inline(always)]
fn relaxed_special(b: u8, next: u8) -> bool {
    (b == TAB)
        | ((b == SP) & ((next == SP) | (next == TAB) | (next == CR)))
        | ((b == LF) & (next == CR))
}

// The word scan, written once for a machine word `Word` and built for
// both widths: the target's own is used, and the tests run both (so the
// firmware's 32-bit scan is tested on a 64-bit host too).
#[cfg(any(test, not(target_pointer_width = "64")))]
mod words32 {
    pub(super) type Word = u32;
    include!("words.rs");
}
#[cfg(any(test, target_pointer_width = "64"))]
mod words64 {
    pub(super) type Word = u64;
    include!("words.rs");
}
#[cfg(not(target_pointer_width = "64"))]
use words32 as words;
#[cfg(target_pointer_width = "64")]
use words64 as words;

/// The first position in `from..to` of `data` where [`relaxed_special`]
/// holds, with the byte after each position (`to < data.len()`).
#[inline]
fn first_special(data: &[u8], from: usize, to: usize) -> Option<usize> {
    let cur = data.get(from..to)?;
    let next = data.get(from.saturating_add(1)..to.saturating_add(1))?;
    cur.iter()
        .zip(next)
        .position(|(&b, &n)| relaxed_special(b, n))
        .map(|p| from.saturating_add(p))
}

/// The length of the prefix of `data` that relaxed body canonicalization
/// leaves unchanged, from a state with nothing pending. It stops before the
/// last two bytes (their meaning depends on what follows), before any byte
/// that [`relaxed_special`] flags, and never right after a CR.
///
/// On hosts with SIMD, whole blocks go first ([`clean_blocks`]); then
/// words ([`clean_words`]).
#[inline]
fn relaxed_clean_prefix(data: &[u8]) -> usize {
    let window = data.len().saturating_sub(2);
    #[cfg(any(
        target_feature = "sse2",
        all(target_arch = "aarch64", target_feature = "neon")
    ))]
    let from = match clean_blocks(data, window) {
        Ok(clean) => clean,
        Err(stop) => return trim_cr(data, stop),
    };
    #[cfg(not(any(
        target_feature = "sse2",
        all(target_arch = "aarch64", target_feature = "neon")
    )))]
    let from = 0;
    words::clean_words(data, from, window)
}

/// Block size of the vectorized scan.
#[cfg(any(
    target_feature = "sse2",
    all(target_arch = "aarch64", target_feature = "neon")
))]
const BLOCK: usize = 64;

/// The SIMD part of [`relaxed_clean_prefix`]: scan whole blocks of
/// `data[..window]` with [`block_may_have_special`], and a block it flags
/// word by word with [`special_bytes`]. `Err` is the first special
/// position; `Ok` is where the whole blocks end, all clean.
#[cfg(any(
    target_feature = "sse2",
    all(target_arch = "aarch64", target_feature = "neon")
))]
#[inline]
fn clean_blocks(data: &[u8], window: usize) -> Result<usize, usize> {
    let (Some(cur), Some(next)) = (data.get(..window), data.get(1..=window)) else {
        return Ok(0);
    };
    let mut offset: usize = 0;
    for (cb, nb) in cur.chunks_exact(BLOCK).zip(next.chunks_exact(BLOCK)) {
        let (Ok(cb), Ok(nb)) = (<&[u8; BLOCK]>::try_from(cb), <&[u8; BLOCK]>::try_from(nb)) else {
            break;
        };
        if block_may_have_special(cb, nb) {
            let mut at = offset;
            for (cw, nw) in cb
                .chunks_exact(words::WORD)
                .zip(nb.chunks_exact(words::WORD))
            {
                let (Ok(cw), Ok(nw)) = (
                    <[u8; words::WORD]>::try_from(cw),
                    <[u8; words::WORD]>::try_from(nw),
                ) else {
                    break;
                };
                let special = words::special_bytes(
                    words::Word::from_le_bytes(cw),
                    words::Word::from_le_bytes(nw),
                );
                if special != 0 {
                    let byte = (special.trailing_zeros() / 8) as usize;
                    return Err(at.saturating_add(byte));
                }
                at = at.saturating_add(words::WORD);
            }
        }
        offset = offset.saturating_add(BLOCK);
    }
    Ok(offset)
}

/// Might any byte of a block (with the byte after each in `next`) need the
/// state machine? A cheap superset of [`relaxed_special`]: every special
/// pair is a tab, or two bytes that are both whitespace or controls
/// (0x20 or below) other than the CRLF that ends every line. Written
/// without branches over fixed-size arrays so that it compiles to SIMD.
#[cfg(any(
    target_feature = "sse2",
    all(target_arch = "aarch64", target_feature = "neon")
))]
#[inline(always)]
fn block_may_have_special(cur: &[u8; BLOCK], next: &[u8; BLOCK]) -> bool {
    let mut any = 0u8;
    for (&b, &n) in cur.iter().zip(next.iter()) {
        let both_low = u8::from(b.max(n) <= SP) & u8::from(b != CR);
        any |= both_low | u8::from(b == TAB);
    }
    any != 0
}

/// Move `stop` back so that a run never ends right after a CR: an LF
/// flagged by the scan stops at its CR, and what follows a CR decides
/// what it is.
#[inline]
fn trim_cr(data: &[u8], mut stop: usize) -> usize {
    while stop > 0 && data.get(stop.saturating_sub(1)) == Some(&CR) {
        stop = stop.saturating_sub(1);
    }
    stop
}

#[cfg(test)]
mod tests;
