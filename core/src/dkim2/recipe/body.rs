//! Rewinding the body while it streams, and counting its lines.

use crate::canon::Sink;

use super::json::JsonStr;
use super::parse::{ArrayCursor, BODY_STEPS};
use super::{BodyRecipe, RecipeError, RecipeIndex, Span, Step};

/// Instance N-1's body from instance N's, while the body streams past.
///
/// Feed the current body with [`push`](Self::push) in chunks split
/// anywhere, then call [`finish`](Self::finish); the body of instance N-1
/// goes to the sink, ready for the "simple" body canonicalization. The
/// lines are those of the module docs: split at LF, one CR before it (or
/// at the very end) dropped, a last empty piece dropped; copied lines and
/// data strings each end in CRLF; an empty result is one CRLF. Without a
/// `"b"` in the recipe the body passes through unchanged.
///
/// State is O(1) (48 bytes on 64-bit targets, nothing borrowed): it walks the body steps in
/// the JSON text the caller passes to every call, and holds back at most
/// one CR. Data strings are decoded from the text straight into the sink.
/// That is why the copy ranges must ascend (each start after the previous
/// end), which every recipe made by diffing satisfies; others are refused
/// when the rewind is made ([`RecipeError::NotStreamable`]). Once no step
/// is left, the rest of the body is not even scanned.
///
/// Output: at most `body + LFs + json + 2` bytes, where `body` is the
/// length of the current body, `LFs` the number of line feeds in it and
/// `json` the length of the recipe's text. A copied line costs its bytes
/// plus one (its LF, or its CR and LF, become CRLF; the last line, if it
/// has no LF, gains two); data strings are never longer than their JSON,
/// quotes included, which pays for their CRLF; and an empty result is 2.
///
/// A copy step that names lines the body does not have is
/// [`RecipeError::RangeOutsideBody`] at [`finish`](Self::finish).
/// mail-auth instead copies the lines that exist and ignores the rest;
/// mass refuses, since no recipe made by diffing names missing lines.
/// After an error, every call returns it again and writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRewind {
    json_len: u32,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unchanged,
    Steps(Lines),
    Failed(RecipeError),
}

/// The line machine of a rewind with steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lines {
    steps: ArrayCursor,
    /// The copy step in effect or next: `(start, end)`.
    copy: Option<(u32, u32)>,
    /// No step is left: the rest of the body changes nothing.
    done: bool,
    /// Lines begun so far; the number of the current line while
    /// `in_line`.
    line: u64,
    /// A line has begun (a byte of it has been seen) and not ended.
    in_line: bool,
    /// The line begun has content once one trailing CR is dropped.
    content: bool,
    /// The line begun ends, so far, in a CR not yet written.
    pending_cr: bool,
    /// The line begun is copied.
    copying: bool,
    /// Something has been written.
    emitted: bool,
}

impl BodyRewind {
    /// The rewind of `recipe`'s body: instance N's body in, instance
    /// N-1's out.
    ///
    /// [`BodyRecipe::Unchanged`] gives a rewind that passes the body
    /// through; [`BodyRecipe::Unreconstructable`] is
    /// [`RecipeError::BodyUnreconstructable`]; steps whose copy ranges do
    /// not ascend are [`RecipeError::NotStreamable`].
    pub fn new<const S: usize, const N: usize>(
        recipe: &RecipeIndex<S, N>,
    ) -> Result<Self, RecipeError> {
        match recipe.body {
            BodyRecipe::Unchanged => Ok(Self::unchanged(recipe.json_len)),
            BodyRecipe::Unreconstructable => Err(RecipeError::BodyUnreconstructable),
            BodyRecipe::Steps(list) => {
                let mut last_end: Option<u32> = None;
                for step in recipe.steps(list) {
                    if let Step::Copy { start, end } = *step {
                        if last_end.is_some_and(|last| start <= last) {
                            return Err(RecipeError::NotStreamable);
                        }
                        last_end = Some(end);
                    }
                }
                Ok(Self::steps(recipe.json_len, list.array))
            }
        }
    }

    fn unchanged(json_len: u32) -> Self {
        BodyRewind {
            json_len,
            state: State::Unchanged,
        }
    }

    fn steps(json_len: u32, array: Span) -> Self {
        BodyRewind {
            json_len,
            state: State::Steps(Lines {
                steps: ArrayCursor::new(array, BODY_STEPS),
                copy: None,
                done: false,
                line: 0,
                in_line: false,
                content: false,
                pending_cr: false,
                copying: false,
                emitted: false,
            }),
        }
    }

    /// Take the next chunk of the current body, of any size.
    ///
    /// `json` is the text the recipe was parsed from.
    pub fn push<S: Sink + ?Sized>(
        &mut self,
        json: &[u8],
        chunk: &[u8],
        sink: &mut S,
    ) -> Result<(), RecipeError> {
        let result = match &mut self.state {
            State::Failed(e) => return Err(*e),
            _ if json.len() != self.json_len as usize => Err(RecipeError::JsonMismatch),
            State::Unchanged => {
                sink.write(chunk);
                Ok(())
            }
            State::Steps(lines) => lines.push(json, chunk, sink),
        };
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// End of the body: write what is left (the last line's CRLF, the
    /// steps after the last line, the CRLF of an empty result).
    pub fn finish<S: Sink + ?Sized>(self, json: &[u8], sink: &mut S) -> Result<(), RecipeError> {
        match self.state {
            State::Failed(e) => Err(e),
            _ if json.len() != self.json_len as usize => Err(RecipeError::JsonMismatch),
            State::Unchanged => Ok(()),
            State::Steps(mut lines) => lines.finish(json, sink),
        }
    }
}

impl Lines {
    fn push<S: Sink + ?Sized>(
        &mut self,
        json: &[u8],
        chunk: &[u8],
        sink: &mut S,
    ) -> Result<(), RecipeError> {
        let mut rest = chunk;
        while !rest.is_empty() && !self.done {
            if !self.in_line {
                self.begin_line(json, sink)?;
                if self.done {
                    break;
                }
            }
            match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => {
                    let (bytes, tail) = rest.split_at_checked(lf).unwrap_or((rest, &[]));
                    self.bytes(bytes, sink);
                    self.end_line(sink);
                    rest = tail.get(1..).unwrap_or_default();
                }
                None => {
                    self.bytes(rest, sink);
                    rest = &[];
                }
            }
        }
        Ok(())
    }

    /// A new line begins: take the steps up to the copy that decides it.
    fn begin_line<S: Sink + ?Sized>(
        &mut self,
        json: &[u8],
        sink: &mut S,
    ) -> Result<(), RecipeError> {
        self.line = self.line.saturating_add(1);
        self.in_line = true;
        self.content = false;
        self.pending_cr = false;
        loop {
            match self.copy {
                Some((_, end)) if u64::from(end) < self.line => self.copy = None,
                Some((start, _)) => {
                    self.copying = u64::from(start) <= self.line;
                    return Ok(());
                }
                None => match self.steps.next_step(json)? {
                    Some(Step::Copy { start, end }) => self.copy = Some((start, end)),
                    Some(Step::Data { values }) => self.data(json, values, sink)?,
                    None => {
                        self.copying = false;
                        self.done = true;
                        return Ok(());
                    }
                },
            }
        }
    }

    /// Bytes of the current line, no LF among them.
    fn bytes<S: Sink + ?Sized>(&mut self, bytes: &[u8], sink: &mut S) {
        let Some((&last, head)) = bytes.split_last() else {
            return;
        };
        if self.pending_cr || !head.is_empty() || last != b'\r' {
            self.content = true;
        }
        if self.copying {
            if self.pending_cr {
                sink.write(b"\r");
            }
            let keep = if last == b'\r' { head } else { bytes };
            if !keep.is_empty() {
                sink.write(keep);
            }
        }
        self.pending_cr = last == b'\r';
    }

    /// An LF: the line ends (a held-back CR is the one dropped).
    fn end_line<S: Sink + ?Sized>(&mut self, sink: &mut S) {
        if self.copying {
            sink.write(b"\r\n");
            self.emitted = true;
        }
        self.in_line = false;
        self.pending_cr = false;
        self.copying = false;
    }

    /// Write the strings of a data step, each followed by CRLF.
    fn data<S: Sink + ?Sized>(
        &mut self,
        json: &[u8],
        values: Span,
        sink: &mut S,
    ) -> Result<(), RecipeError> {
        let mut cursor = ArrayCursor::new(values, 0);
        while let Some(span) = cursor.next_string(json)? {
            JsonStr::new(json, span).write_to(sink);
            sink.write(b"\r\n");
            self.emitted = true;
        }
        Ok(())
    }

    fn finish<S: Sink + ?Sized>(&mut self, json: &[u8], sink: &mut S) -> Result<(), RecipeError> {
        if !self.done {
            if self.in_line {
                if self.content {
                    // The last line, with no LF.
                    self.end_line(sink);
                } else {
                    // A last piece that is empty or one CR: not a line.
                    self.line = self.line.saturating_sub(1);
                    self.in_line = false;
                }
            }
            let lines = self.line;
            if self.copy.is_some_and(|(_, end)| u64::from(end) > lines) {
                return Err(RecipeError::RangeOutsideBody { lines });
            }
            while let Some(step) = self.steps.next_step(json)? {
                match step {
                    Step::Data { values } => self.data(json, values, sink)?,
                    Step::Copy { .. } => return Err(RecipeError::RangeOutsideBody { lines }),
                }
            }
        }
        if !self.emitted {
            sink.write(b"\r\n");
        }
        Ok(())
    }
}

/// Counts the lines of a body as it passes, by the rules a recipe's copy
/// steps number them with (see [`BodyRewind`]), so that a hop that appends
/// a footer can write the recipe `{"b":[{"c":[1,n]}]}` for "the earlier
/// body was the first `n` lines" ([`RecipeWriter::body_first_lines`]).
///
/// [`RecipeWriter::body_first_lines`]: super::RecipeWriter::body_first_lines
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyLines {
    /// LFs seen.
    breaks: u64,
    /// The piece after the last LF, so far.
    tail: Tail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Tail {
    #[default]
    Empty,
    /// One CR, which the line rules drop.
    Cr,
    /// Something that makes it a line.
    Content,
}

impl BodyLines {
    /// No body yet: 0 lines.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take the next chunk of the body, of any size.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut pieces = chunk.split(|&b| b == b'\n');
        if let Some(piece) = pieces.next() {
            self.extend(piece);
        }
        for piece in pieces {
            self.breaks = self.breaks.saturating_add(1);
            self.tail = Tail::Empty;
            self.extend(piece);
        }
    }

    fn extend(&mut self, piece: &[u8]) {
        self.tail = match (self.tail, piece) {
            (tail, []) => tail,
            (Tail::Empty, b"\r") => Tail::Cr,
            _ => Tail::Content,
        };
    }

    /// The lines of the body so far, were it to end here.
    pub fn lines(&self) -> u64 {
        self.breaks
            .saturating_add(u64::from(self.tail == Tail::Content))
    }
}
