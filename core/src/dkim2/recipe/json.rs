//! A JSON reader (RFC 8259) for exactly what a recipe holds: objects,
//! arrays, strings, numbers, `null`, `true` and `false`, with a bounded
//! nesting depth and no buffer of its own.
//!
//! It never builds a tree: the recipe parser walks the text with a
//! [`Reader`] and keeps byte offsets ([`Span`]s) into it; strings are
//! checked once ([`Reader::string`]) and decoded later, on demand, straight
//! from the text ([`JsonStr`]).
//!
//! Where a recipe wants a number (a copy step's bounds) only an unsigned
//! integer of at most `u32::MAX` is taken ([`Reader::copy_bound`]).
//! Elsewhere a value is only skipped, and any number the JSON grammar
//! allows is skipped (`-1.5e3` under a key mass does not know is no error).

use core::cmp::Ordering;

use crate::canon::Sink;

use super::{RecipeError, Span};

/// How deeply objects and arrays may nest, the recipe's own object counted
/// as 1. A recipe needs 5 (`{"h":{"x":[{"d":[…]}]}}`); the rest is room for
/// values under keys mass ignores.
pub const MAX_DEPTH: usize = 8;

/// Why a recipe's text is not JSON (RFC 8259).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum JsonError {
    /// The text ends inside a value.
    UnexpectedEnd,
    /// A byte that cannot come here (RFC 8259 §2).
    UnexpectedByte,
    /// A backslash escape RFC 8259 §7 does not define, or a `\u` without
    /// four hex digits.
    BadEscape,
    /// A `\u` escape of a surrogate that is not half of a pair (§7, §8.2).
    LoneSurrogate,
    /// A control character (below U+0020) not escaped inside a string (§7).
    ControlCharacter,
    /// A string that is not UTF-8 (§8.1).
    InvalidUtf8,
    /// A number with a leading zero, or a sign, point or exponent with no
    /// digits after it (§6).
    BadNumber,
    /// A copy bound above `u32::MAX`.
    NumberTooLarge,
    /// Objects and arrays nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes other than white space after the recipe's object.
    TrailingBytes,
}

/// JSON white space (RFC 8259 §2).
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// A cursor over the recipe's text. Copy: a caller that wants to look ahead
/// copies it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader<'j> {
    json: &'j [u8],
    pos: usize,
}

impl<'j> Reader<'j> {
    /// A reader at byte `pos` of `json`.
    pub(super) fn at(json: &'j [u8], pos: usize) -> Self {
        Reader { json, pos }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn json(&self) -> &'j [u8] {
        self.json
    }

    /// An error at the current position.
    pub(super) fn err(&self, error: JsonError) -> RecipeError {
        RecipeError::Json {
            error,
            at: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.json.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }

    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.bump();
        }
    }

    /// The first byte of the next value, after white space.
    pub(super) fn peek_value(&mut self) -> Option<u8> {
        self.skip_ws();
        self.peek()
    }

    /// Take `b` if it comes next (after white space).
    pub(super) fn eat(&mut self, b: u8) -> bool {
        if self.peek_value() == Some(b) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Take `b`, which must come next (after white space).
    pub(super) fn require(&mut self, b: u8) -> Result<(), RecipeError> {
        match self.peek_value() {
            Some(got) if got == b => {
                self.bump();
                Ok(())
            }
            Some(_) => Err(self.err(JsonError::UnexpectedByte)),
            None => Err(self.err(JsonError::UnexpectedEnd)),
        }
    }

    /// Within an object or array whose opening bracket has been taken:
    /// `true` if another member follows (its separating comma taken),
    /// `false` once `close` has been taken.
    pub(super) fn next_member(&mut self, first: &mut bool, close: u8) -> Result<bool, RecipeError> {
        if self.eat(close) {
            return Ok(false);
        }
        if !*first {
            self.require(b',')?;
        }
        *first = false;
        Ok(true)
    }

    /// The end of the text: nothing but white space may follow.
    pub(super) fn end(&mut self) -> Result<(), RecipeError> {
        self.skip_ws();
        if self.pos < self.json.len() {
            return Err(self.err(JsonError::TrailingBytes));
        }
        Ok(())
    }

    /// Take an object's key followed by its colon.
    pub(super) fn key(&mut self) -> Result<Span, RecipeError> {
        let key = self.string()?;
        self.require(b':')?;
        Ok(key)
    }

    /// Check a string (RFC 8259 §7) and take it: its escapes, its surrogate
    /// pairs, no raw control characters, UTF-8 once decoded. Returns the
    /// span of its contents, quotes excluded, escapes as written.
    pub(super) fn string(&mut self) -> Result<Span, RecipeError> {
        match self.peek_value() {
            Some(b'"') => self.bump(),
            Some(_) => return Err(self.err(JsonError::UnexpectedByte)),
            None => return Err(self.err(JsonError::UnexpectedEnd)),
        }
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.err(JsonError::UnexpectedEnd)),
                Some(b'"') => break,
                Some(b'\\') => {
                    let at = self.pos;
                    let rest = self.json.get(at..).unwrap_or_default();
                    match escape(rest) {
                        Ok((_, len)) => self.pos = at.saturating_add(len),
                        Err(error) => return Err(RecipeError::Json { error, at }),
                    }
                }
                Some(b) if b < 0x20 => return Err(self.err(JsonError::ControlCharacter)),
                Some(_) => self.bump(),
            }
        }
        let end = self.pos;
        self.bump();
        // Escapes are ASCII and decode to whole characters, so the string
        // decodes to UTF-8 exactly when its raw bytes are UTF-8.
        let raw = self.json.get(start..end).unwrap_or_default();
        if let Err(e) = core::str::from_utf8(raw) {
            return Err(RecipeError::Json {
                error: JsonError::InvalidUtf8,
                at: start.saturating_add(e.valid_up_to()),
            });
        }
        Span::new(start, end)
    }

    /// Take a literal (`null`, `true`, `false`).
    pub(super) fn literal(&mut self, word: &[u8]) -> Result<(), RecipeError> {
        self.skip_ws();
        let end = self.pos.saturating_add(word.len());
        match self.json.get(self.pos..end) {
            Some(got) if got == word => {
                self.pos = end;
                Ok(())
            }
            Some(_) => Err(self.err(JsonError::UnexpectedByte)),
            None => Err(self.err(JsonError::UnexpectedEnd)),
        }
    }

    /// Take a number (RFC 8259 §6) and say whether it is an unsigned
    /// integer (no sign, fraction or exponent) and whether it fits a `u64`.
    fn number(&mut self) -> Result<Number, RecipeError> {
        self.skip_ws();
        let mut negative = false;
        if self.peek() == Some(b'-') {
            negative = true;
            self.bump();
        }
        let mut value: Option<u64> = Some(0);
        match self.peek() {
            Some(b'0') => {
                self.bump();
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(self.err(JsonError::BadNumber));
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
                    value = value
                        .and_then(|v| v.checked_mul(10))
                        .and_then(|v| v.checked_add(u64::from(d.wrapping_sub(b'0'))));
                    self.bump();
                }
            }
            Some(_) => return Err(self.err(JsonError::BadNumber)),
            None => return Err(self.err(JsonError::UnexpectedEnd)),
        }
        let mut integer = !negative;
        if self.peek() == Some(b'.') {
            integer = false;
            self.bump();
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            self.digits()?;
        }
        Ok(match (integer, value) {
            (false, _) => Number::NotUnsigned,
            (true, Some(v)) => Number::Unsigned(v),
            (true, None) => Number::TooLarge,
        })
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), RecipeError> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.err(JsonError::BadNumber));
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.bump();
        }
        Ok(())
    }

    /// Take a copy step's bound: an unsigned integer of at most
    /// `u32::MAX`. Another value there is no recipe (`NotARecipe`).
    pub(super) fn copy_bound(&mut self) -> Result<u32, RecipeError> {
        let at = {
            self.skip_ws();
            self.pos
        };
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => match self.number()? {
                Number::Unsigned(v) => u32::try_from(v).map_err(|_| RecipeError::Json {
                    error: JsonError::NumberTooLarge,
                    at,
                }),
                Number::TooLarge => Err(RecipeError::Json {
                    error: JsonError::NumberTooLarge,
                    at,
                }),
                Number::NotUnsigned => Err(RecipeError::NotARecipe { at }),
            },
            Some(_) => Err(RecipeError::NotARecipe { at }),
            None => Err(self.err(JsonError::UnexpectedEnd)),
        }
    }

    /// Skip one value of any kind, checking it. `depth` is the depth an
    /// object or array here would have.
    pub(super) fn skip_value(&mut self, depth: usize) -> Result<(), RecipeError> {
        // Bit `i` set: the container opened `i`-th in this skip is an
        // object. MAX_DEPTH < 32, so a u32 holds them all.
        let mut objects: u32 = 0;
        let mut open: usize = 0;
        loop {
            // One value, or the opening of a container.
            let opened = match self.peek_value() {
                Some(c @ (b'{' | b'[')) => {
                    if depth.saturating_add(open) > MAX_DEPTH {
                        return Err(self.err(JsonError::TooDeep));
                    }
                    self.bump();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.eat(close) {
                        false
                    } else {
                        let bit = 1u32.checked_shl(open as u32).unwrap_or(0);
                        if c == b'{' {
                            objects |= bit;
                            self.key()?;
                        } else {
                            objects &= !bit;
                        }
                        open = open.saturating_add(1);
                        true
                    }
                }
                Some(b'"') => {
                    self.string()?;
                    false
                }
                Some(b't') => {
                    self.literal(b"true")?;
                    false
                }
                Some(b'f') => {
                    self.literal(b"false")?;
                    false
                }
                Some(b'n') => {
                    self.literal(b"null")?;
                    false
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                    false
                }
                Some(_) => return Err(self.err(JsonError::UnexpectedByte)),
                None => return Err(self.err(JsonError::UnexpectedEnd)),
            };
            if opened {
                continue;
            }
            // A value is complete: close what it completes, then find the
            // next member of the innermost open container.
            loop {
                let Some(inner) = open.checked_sub(1) else {
                    return Ok(());
                };
                let bit = 1u32.checked_shl(inner as u32).unwrap_or(0);
                let is_object = objects & bit != 0;
                if self.eat(if is_object { b'}' } else { b']' }) {
                    open = inner;
                    continue;
                }
                self.require(b',')?;
                if is_object {
                    self.key()?;
                }
                break;
            }
        }
    }
}

/// What [`Reader::number`] read.
enum Number {
    Unsigned(u64),
    TooLarge,
    NotUnsigned,
}

/// Four hex digits as a number.
fn hex4(bytes: Option<&[u8]>) -> Option<u32> {
    let bytes = bytes?;
    if bytes.len() != 4 {
        return None;
    }
    bytes.iter().try_fold(0u32, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        Some(acc.wrapping_shl(4) | d)
    })
}

/// Decode the escape at the start of `rest` (which starts with a
/// backslash): the character and how many bytes the escape takes.
fn escape(rest: &[u8]) -> Result<(char, usize), JsonError> {
    let Some(&kind) = rest.get(1) else {
        return Err(JsonError::UnexpectedEnd);
    };
    let c = match kind {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex4(rest.get(2..6)).ok_or(JsonError::BadEscape)?;
            return match unit {
                0xD800..=0xDBFF => {
                    if rest.get(6..8) != Some(b"\\u") {
                        return Err(JsonError::LoneSurrogate);
                    }
                    let low = hex4(rest.get(8..12)).ok_or(JsonError::BadEscape)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return Err(JsonError::LoneSurrogate);
                    }
                    let high = unit.wrapping_sub(0xD800);
                    let low = low.wrapping_sub(0xDC00);
                    let code = 0x1_0000u32.wrapping_add(high.wrapping_shl(10) | low);
                    char::from_u32(code)
                        .map(|c| (c, 12))
                        .ok_or(JsonError::LoneSurrogate)
                }
                0xDC00..=0xDFFF => Err(JsonError::LoneSurrogate),
                _ => char::from_u32(unit)
                    .map(|c| (c, 6))
                    .ok_or(JsonError::BadEscape),
            };
        }
        _ => return Err(JsonError::BadEscape),
    };
    Ok((c, 2))
}

/// A string of the recipe, as written in its JSON text (quotes excluded),
/// decoded on demand.
///
/// The recipe parser checked it when it read the recipe, so it decodes to
/// UTF-8. Made from other bytes (a caller that passes a different text
/// than it parsed), decoding stops at the first malformed escape: no
/// panic, but not the string either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'j> {
    raw: &'j [u8],
}

/// A run of a decoded string: bytes of the text that needed no decoding,
/// or one decoded escape.
enum Piece<'j> {
    Raw(&'j [u8]),
    Char([u8; 4], usize),
}

impl<'j> JsonStr<'j> {
    /// The string at `span` of `json`; empty if the span is not in it.
    pub fn new(json: &'j [u8], span: Span) -> Self {
        JsonStr {
            raw: span.get(json).unwrap_or_default(),
        }
    }

    /// The string as written, escapes and all.
    pub fn raw(&self) -> &'j [u8] {
        self.raw
    }

    /// The next piece of `rest`, and what follows it.
    fn piece(rest: &'j [u8]) -> Option<(Piece<'j>, &'j [u8])> {
        if rest.is_empty() {
            return None;
        }
        let run = rest.iter().position(|&b| b == b'\\').unwrap_or(rest.len());
        if run > 0 {
            let (raw, rest) = rest.split_at_checked(run)?;
            return Some((Piece::Raw(raw), rest));
        }
        let (c, len) = escape(rest).ok()?;
        let mut buf = [0u8; 4];
        let n = c.encode_utf8(&mut buf).len();
        Some((Piece::Char(buf, n), rest.get(len..).unwrap_or_default()))
    }

    /// Call `f` with each run of the decoded string.
    pub(super) fn for_each_run(&self, mut f: impl FnMut(&[u8])) {
        let mut rest = self.raw;
        while let Some((piece, next)) = Self::piece(rest) {
            match piece {
                Piece::Raw(raw) => f(raw),
                Piece::Char(buf, n) => f(buf.get(..n).unwrap_or_default()),
            }
            rest = next;
        }
    }

    /// Write the decoded string to `sink`.
    pub fn write_to<S: Sink + ?Sized>(&self, sink: &mut S) {
        self.for_each_run(|run| sink.write(run));
    }

    /// The length of the decoded string in bytes. It is at most
    /// `raw().len()`: every escape is longer than what it stands for.
    pub fn decoded_len(&self) -> usize {
        let mut n = 0usize;
        self.for_each_run(|run| n = n.saturating_add(run.len()));
        n
    }

    /// Decode into `buf`; [`RecipeError::BufferTooSmall`] says how much
    /// room it needs (never more than `raw().len()`).
    pub fn decode_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], RecipeError> {
        let required = self.decoded_len();
        if required > buf.len() {
            return Err(RecipeError::BufferTooSmall { required });
        }
        let mut at = 0usize;
        self.for_each_run(|run| {
            at = crate::bytes::copy_at(buf, at, run).unwrap_or(at);
        });
        Ok(buf.get(..at).unwrap_or_default())
    }

    /// The decoded bytes, one at a time.
    pub fn bytes(&self) -> DecodedBytes<'j> {
        DecodedBytes {
            rest: self.raw,
            pending: [0; 4],
            pending_at: 0,
            pending_len: 0,
        }
    }

    /// Whether the decoded string equals `other`, ASCII case ignored.
    pub fn eq_ignore_ascii_case(&self, other: &[u8]) -> bool {
        self.cmp_ignore_ascii_case(other) == Ordering::Equal
    }

    /// The decoded string against `other`, bytewise with ASCII letters in
    /// lower case.
    pub fn cmp_ignore_ascii_case(&self, other: &[u8]) -> Ordering {
        self.bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(other.iter().map(|b| b.to_ascii_lowercase()))
    }

    /// The string itself when it has no escape (then the raw bytes are the
    /// decoded ones), as a slice of the JSON text.
    pub fn plain(&self) -> Option<&'j [u8]> {
        (!self.raw.contains(&b'\\')).then_some(self.raw)
    }

    /// Whether the decoded string is exactly `other`.
    pub(super) fn is(&self, other: &[u8]) -> bool {
        self.bytes().eq(other.iter().copied())
    }
}

/// The bytes of a decoded [`JsonStr`]; see [`JsonStr::bytes`].
#[derive(Debug, Clone)]
pub struct DecodedBytes<'j> {
    rest: &'j [u8],
    pending: [u8; 4],
    pending_at: usize,
    pending_len: usize,
}

impl Iterator for DecodedBytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.pending_at < self.pending_len {
            let b = self.pending.get(self.pending_at).copied();
            self.pending_at = self.pending_at.saturating_add(1);
            return b;
        }
        let (&first, tail) = self.rest.split_first()?;
        if first != b'\\' {
            self.rest = tail;
            return Some(first);
        }
        let (c, len) = escape(self.rest).ok()?;
        self.rest = self.rest.get(len..).unwrap_or_default();
        self.pending_len = c.encode_utf8(&mut self.pending).len();
        self.pending_at = 1;
        self.pending.first().copied()
    }
}
