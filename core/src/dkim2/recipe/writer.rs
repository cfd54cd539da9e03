//! Writing the recipes mass makes, byte for byte as mail-auth's serde_json
//! serialization writes the same recipe.

use core::fmt;

use crate::syntax::field_name::is_field_name;

/// Why a recipe could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WriteError {
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes the whole recipe needs.
        required: usize,
    },
    /// A call out of order: a step with no header name or body open, a
    /// second `"h"` section after the body, or a second body.
    OutOfOrder,
    /// Not a header field name (RFC 5322 §3.6.8).
    InvalidName,
    /// A copy step starting at 0 (lines and values count from 1).
    CopyStartZero,
    /// A copy step starting after its end.
    CopyStartAfterEnd,
    /// More lines than a copy step can name (`u32::MAX`).
    TooManyLines,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::BufferTooSmall { required } => {
                write!(f, "recipe buffer too small: {required} bytes required")
            }
            WriteError::OutOfOrder => f.write_str("recipe written out of order"),
            WriteError::InvalidName => f.write_str("not a header field name"),
            WriteError::CopyStartZero => f.write_str("copy step starts at 0"),
            WriteError::CopyStartAfterEnd => f.write_str("copy step starts after its end"),
            WriteError::TooManyLines => f.write_str("more lines than a copy step can name"),
        }
    }
}

impl core::error::Error for WriteError {}

/// Where the writer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// In the recipe's object, between members.
    Top,
    /// In `"h"`; `open`: inside a name's step array.
    Headers { open: bool },
    /// Inside `"b"`'s step array.
    Body,
}

/// Writes a recipe into a caller's buffer, compact, in the order of the
/// calls: the bytes mail-auth's serde_json serialization makes for the
/// same recipe when the header names come first, as mail-auth puts them.
///
/// ```text
/// header(b"Subject") + header_data([b" [list] Original\r\n subject"])
///     ─► {"h":{"subject":[{"d":["[list] Original subject"]}]}}
/// body_first_lines(3)        ─► {"b":[{"c":[1,3]}]}
/// body_unreconstructable()   ─► {"b":null}
/// ```
///
/// Strings are escaped as serde_json does: `\"`, `\\`, `\n`, `\r`, `\t`,
/// `\b`, `\f`, other control characters as `\u00XX` (lower-case hex),
/// everything else as is; bytes that are not UTF-8 become U+FFFD, as
/// mail-auth's lossy conversion does. Header names are written in lower
/// case; write each name once (the parser refuses a repeated one).
///
/// Running out of room does not stop the writer: it counts on, and
/// [`finish`](Self::finish) says how many bytes the recipe needs.
#[derive(Debug)]
pub struct RecipeWriter<'o> {
    out: &'o mut [u8],
    len: usize,
    section: Section,
    members: u8,
    had_headers: bool,
    had_body: bool,
    /// Names written in `"h"`.
    names: u32,
    /// Steps written in the open step array.
    steps: u32,
}

impl<'o> RecipeWriter<'o> {
    /// Start a recipe in `out`.
    pub fn new(out: &'o mut [u8]) -> Self {
        let mut w = RecipeWriter {
            out,
            len: 0,
            section: Section::Top,
            members: 0,
            had_headers: false,
            had_body: false,
            names: 0,
            steps: 0,
        };
        w.put(b"{");
        w
    }

    fn put(&mut self, bytes: &[u8]) {
        self.len = match crate::bytes::copy_at(self.out, self.len, bytes) {
            Some(end) => end,
            None => self.len.saturating_add(bytes.len()),
        };
    }

    /// Close whatever section is open, back to the recipe's object.
    fn close_section(&mut self) {
        match self.section {
            Section::Top => {}
            Section::Headers { open } => {
                if open {
                    self.put(b"]");
                }
                self.put(b"}");
            }
            Section::Body => self.put(b"]"),
        }
        self.section = Section::Top;
    }

    /// Open a member of the recipe's object.
    fn member(&mut self, key: &[u8]) {
        if self.members > 0 {
            self.put(b",");
        }
        self.members = self.members.saturating_add(1);
        self.put(key);
    }

    /// Open the steps of header name `name` (written in lower case),
    /// closing the previous name's.
    pub fn header(&mut self, name: &[u8]) -> Result<(), WriteError> {
        if !is_field_name(name) {
            return Err(WriteError::InvalidName);
        }
        match self.section {
            Section::Headers { open } => {
                if open {
                    self.put(b"]");
                }
            }
            Section::Top | Section::Body if self.had_headers => return Err(WriteError::OutOfOrder),
            Section::Top | Section::Body => {
                self.close_section();
                self.member(b"\"h\":{");
                self.had_headers = true;
                self.names = 0;
            }
        }
        if self.names > 0 {
            self.put(b",");
        }
        self.names = self.names.saturating_add(1);
        self.put(b"\"");
        // A field name is printable ASCII, `"` and `\` included.
        for &b in name {
            self.escaped(&[b.to_ascii_lowercase()]);
        }
        self.put(b"\":[");
        self.section = Section::Headers { open: true };
        self.steps = 0;
        Ok(())
    }

    /// Open the body's steps (`"b":[`), closing the header names'.
    pub fn body(&mut self) -> Result<(), WriteError> {
        if self.had_body {
            return Err(WriteError::OutOfOrder);
        }
        self.close_section();
        self.member(b"\"b\":[");
        self.had_body = true;
        self.section = Section::Body;
        self.steps = 0;
        Ok(())
    }

    /// `"b":null`: the body of the earlier instance cannot be rebuilt.
    pub fn body_unreconstructable(&mut self) -> Result<(), WriteError> {
        if self.had_body {
            return Err(WriteError::OutOfOrder);
        }
        self.close_section();
        self.member(b"\"b\":null");
        self.had_body = true;
        Ok(())
    }

    /// The recipe of a hop that appended to the body (a footer): the
    /// earlier body was the first `lines` lines of the current one, as
    /// [`BodyLines`](super::BodyLines) counts them. `{"b":[{"c":[1,n]}]}`,
    /// or `{"b":[]}` for an earlier body with no lines.
    pub fn body_first_lines(&mut self, lines: u64) -> Result<(), WriteError> {
        let lines = u32::try_from(lines).map_err(|_| WriteError::TooManyLines)?;
        self.body()?;
        if lines > 0 {
            self.copy(1, lines)?;
        }
        Ok(())
    }

    /// Open a step in the open step array.
    fn step(&mut self) -> Result<(), WriteError> {
        match self.section {
            Section::Headers { open: true } | Section::Body => {}
            Section::Headers { open: false } | Section::Top => return Err(WriteError::OutOfOrder),
        }
        if self.steps > 0 {
            self.put(b",");
        }
        self.steps = self.steps.saturating_add(1);
        Ok(())
    }

    /// A copy step, `{"c":[start,end]}`.
    pub fn copy(&mut self, start: u32, end: u32) -> Result<(), WriteError> {
        if start == 0 {
            return Err(WriteError::CopyStartZero);
        }
        if start > end {
            return Err(WriteError::CopyStartAfterEnd);
        }
        self.step()?;
        self.put(b"{\"c\":[");
        self.number(start);
        self.put(b",");
        self.number(end);
        self.put(b"]}");
        Ok(())
    }

    /// A data step with `values` as they are (body lines without their
    /// line break, or header values already in the form to restore).
    pub fn data<'v>(
        &mut self,
        values: impl IntoIterator<Item = &'v [u8]>,
    ) -> Result<(), WriteError> {
        self.data_with(values, |w, value| w.string(value))
    }

    /// A data step of header values as mail-auth records them: each value
    /// trimmed of white space at both ends and unfolded (its CR and LF
    /// bytes removed, and a space put where a line break was followed by
    /// something other than white space).
    pub fn header_data<'v>(
        &mut self,
        values: impl IntoIterator<Item = &'v [u8]>,
    ) -> Result<(), WriteError> {
        self.data_with(values, |w, value| w.unfolded(value))
    }

    fn data_with<'v>(
        &mut self,
        values: impl IntoIterator<Item = &'v [u8]>,
        mut write: impl FnMut(&mut Self, &[u8]),
    ) -> Result<(), WriteError> {
        self.step()?;
        self.put(b"{\"d\":[");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.put(b",");
            }
            self.put(b"\"");
            write(self, value);
            self.put(b"\"");
        }
        self.put(b"]}");
        Ok(())
    }

    /// The contents of a JSON string: `value`, escaped.
    fn string(&mut self, value: &[u8]) {
        let mut lossy = Lossy::default();
        for &b in value {
            lossy.push(b, &mut |bytes| self.escaped(bytes));
        }
        lossy.flush(&mut |bytes| self.escaped(bytes));
    }

    /// The contents of a JSON string: header value `value`, trimmed,
    /// unfolded and escaped.
    fn unfolded(&mut self, value: &[u8]) {
        let mut lossy = Lossy::default();
        let mut wrote = false;
        for (i, run) in value
            .trim_ascii()
            .split(|&b| b == b'\r' || b == b'\n')
            .enumerate()
        {
            let Some(&first) = run.first() else {
                continue;
            };
            if i > 0 && wrote && !first.is_ascii_whitespace() {
                lossy.push(b' ', &mut |bytes| self.escaped(bytes));
            }
            for &b in run {
                lossy.push(b, &mut |bytes| self.escaped(bytes));
            }
            wrote = true;
        }
        lossy.flush(&mut |bytes| self.escaped(bytes));
    }

    /// UTF-8 bytes (a whole character, or ASCII), escaped as serde_json.
    fn escaped(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let escape: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                    let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
                    self.put(&[b'\\', b'u', b'0', b'0', hi, lo]);
                    continue;
                }
                _ => {
                    self.put(&[b]);
                    continue;
                }
            };
            self.put(escape);
        }
    }

    /// A number in decimal.
    fn number(&mut self, n: u32) {
        let mut digits = [0u8; 10];
        let mut at = digits.len();
        let mut n = n;
        while let Some(next) = at.checked_sub(1) {
            at = next;
            if let Some(d) = digits.get_mut(at) {
                *d = b'0'.wrapping_add((n % 10) as u8);
            }
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(digits.get(at..).unwrap_or_default());
    }

    /// Close the recipe. Returns its bytes, or
    /// [`WriteError::BufferTooSmall`] with the length it needs.
    pub fn finish(mut self) -> Result<&'o [u8], WriteError> {
        self.close_section();
        self.put(b"}");
        let required = self.len;
        let out: &'o [u8] = self.out;
        out.get(..required)
            .ok_or(WriteError::BufferTooSmall { required })
    }
}

/// Bytes to UTF-8 as Rust's `String::from_utf8_lossy` does it: each
/// maximal invalid subsequence becomes one U+FFFD (Unicode §3.9, U+FFFD
/// substitution of maximal subparts). Fed a byte at a time.
#[derive(Debug, Default)]
struct Lossy {
    seq: [u8; 4],
    have: usize,
    need: usize,
}

const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

impl Lossy {
    fn push(&mut self, b: u8, out: &mut impl FnMut(&[u8])) {
        if self.have > 0 {
            let lead = self.seq.first().copied().unwrap_or(0);
            let ok = match (self.have, lead) {
                (1, 0xE0) => (0xA0..=0xBF).contains(&b),
                (1, 0xED) => (0x80..=0x9F).contains(&b),
                (1, 0xF0) => (0x90..=0xBF).contains(&b),
                (1, 0xF4) => (0x80..=0x8F).contains(&b),
                _ => (0x80..=0xBF).contains(&b),
            };
            if ok {
                if let Some(slot) = self.seq.get_mut(self.have) {
                    *slot = b;
                }
                self.have = self.have.saturating_add(1);
                if self.have >= self.need {
                    out(self.seq.get(..self.have).unwrap_or_default());
                    self.have = 0;
                }
                return;
            }
            out(REPLACEMENT);
            self.have = 0;
        }
        self.need = match b {
            0x00..=0x7F => {
                out(&[b]);
                return;
            }
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => {
                out(REPLACEMENT);
                return;
            }
        };
        if let Some(slot) = self.seq.first_mut() {
            *slot = b;
        }
        self.have = 1;
    }

    fn flush(&mut self, out: &mut impl FnMut(&[u8])) {
        if self.have > 0 {
            out(REPLACEMENT);
            self.have = 0;
        }
    }
}
