//! Reading a recipe's JSON text into a [`RecipeIndex`], and the cursors
//! the rewinds walk the same text with, so that the index and the rewinds
//! read a step the same way.

use crate::syntax::field_name::is_ftext;

use super::json::{JsonStr, Reader};
use super::{BodyRecipe, HeaderEntry, RecipeError, RecipeIndex, Span, Step, StepList};

/// Nesting depths, the recipe's object being 1: a value under one of its
/// keys, the body's step array, and a name's step array (in `"h"`).
const TOP_VALUE: usize = 2;
pub(super) const BODY_STEPS: usize = 2;
pub(super) const NAME_STEPS: usize = 3;

/// A position in a JSON array of the text, walked one element at a time.
/// Holds offsets only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ArrayCursor {
    pos: u32,
    /// The array's depth.
    depth: u8,
    first: bool,
    done: bool,
}

impl ArrayCursor {
    /// At the start of `array` (the span of a JSON array, brackets
    /// included), of nesting depth `depth` (which matters for step arrays
    /// only).
    pub(super) fn new(array: Span, depth: usize) -> Self {
        ArrayCursor {
            pos: array.start.saturating_add(1),
            depth: u8::try_from(depth).unwrap_or(u8::MAX),
            first: true,
            done: false,
        }
    }

    /// A cursor with nothing in it.
    fn finished() -> Self {
        ArrayCursor {
            pos: 0,
            depth: 0,
            first: false,
            done: true,
        }
    }

    /// A reader at the next element, or `None` once the closing bracket
    /// has been read. Read the element, then [`advance`](Self::advance).
    pub(super) fn next<'j>(&mut self, json: &'j [u8]) -> Result<Option<Reader<'j>>, RecipeError> {
        if self.done {
            return Ok(None);
        }
        let mut r = Reader::at(json, self.pos as usize);
        if r.next_member(&mut self.first, b']')? {
            Ok(Some(r))
        } else {
            self.done = true;
            self.advance(&r);
            Ok(None)
        }
    }

    /// Past the element `r` has read.
    pub(super) fn advance(&mut self, r: &Reader<'_>) {
        self.pos = u32::try_from(r.pos()).unwrap_or(u32::MAX);
    }

    /// The next step of a step array, entries that are no step skipped.
    pub(super) fn next_step(&mut self, json: &[u8]) -> Result<Option<Step>, RecipeError> {
        while let Some(mut r) = self.next(json)? {
            let step = step_entry(&mut r, usize::from(self.depth).saturating_add(1))?;
            self.advance(&r);
            if step.is_some() {
                return Ok(step);
            }
        }
        Ok(None)
    }

    /// The next string of a data step's array.
    pub(super) fn next_string(&mut self, json: &[u8]) -> Result<Option<Span>, RecipeError> {
        let Some(mut r) = self.next(json)? else {
            return Ok(None);
        };
        let at = r.pos();
        if r.peek_value() != Some(b'"') {
            return Err(RecipeError::NotARecipe { at });
        }
        let span = r.string()?;
        self.advance(&r);
        Ok(Some(span))
    }
}

/// The strings of a data step, decoded on demand; see [`Step::values`].
///
/// The recipe parser checked them; given a different JSON text, the
/// iteration stops where that text stops being a data step.
#[derive(Debug, Clone)]
pub struct DataValues<'j> {
    json: &'j [u8],
    cursor: ArrayCursor,
}

impl<'j> DataValues<'j> {
    pub(super) fn new(json: &'j [u8], array: Span) -> Self {
        DataValues {
            json,
            cursor: ArrayCursor::new(array, 0),
        }
    }

    pub(super) fn empty(json: &'j [u8]) -> Self {
        DataValues {
            json,
            cursor: ArrayCursor::finished(),
        }
    }
}

impl<'j> Iterator for DataValues<'j> {
    type Item = JsonStr<'j>;

    fn next(&mut self) -> Option<JsonStr<'j>> {
        match self.cursor.next_string(self.json) {
            Ok(Some(span)) => Some(JsonStr::new(self.json, span)),
            Ok(None) | Err(_) => {
                self.cursor = ArrayCursor::finished();
                None
            }
        }
    }
}

/// A value of the wrong type for a recipe at `r`, of nesting depth
/// `depth`: [`RecipeError::NotARecipe`] if it is JSON at all.
fn not_a_recipe(r: &mut Reader<'_>, depth: usize) -> RecipeError {
    r.skip_ws();
    let at = r.pos();
    match r.skip_value(depth) {
        Ok(()) => RecipeError::NotARecipe { at },
        Err(e) => e,
    }
}

/// One entry of a step array, at `r`, of nesting depth `depth`: a step, or `None` for an entry that
/// is no step (not an object, or an object with neither a `"c"` array nor
/// a `"d"` array). As mail-auth: the first `"c"` that is an array and the
/// first `"d"` that is an array count, and a copy wins over data.
pub(super) fn step_entry(r: &mut Reader<'_>, depth: usize) -> Result<Option<Step>, RecipeError> {
    let json = r.json();
    let at = {
        r.skip_ws();
        r.pos()
    };
    if r.peek_value() != Some(b'{') {
        r.skip_value(depth)?;
        return Ok(None);
    }
    r.require(b'{')?;
    let mut copy: Option<(u32, u32)> = None;
    let mut data: Option<Span> = None;
    let mut first = true;
    while r.next_member(&mut first, b'}')? {
        let key = JsonStr::new(json, r.key()?);
        let is_array = r.peek_value() == Some(b'[');
        if copy.is_none() && is_array && key.is(b"c") {
            copy = Some(copy_range(r, depth.saturating_add(1))?);
        } else if data.is_none() && is_array && key.is(b"d") {
            data = Some(data_array(r)?);
        } else {
            r.skip_value(depth.saturating_add(1))?;
        }
    }
    match (copy, data) {
        (Some((0, _)), _) => Err(RecipeError::CopyStartZero { at }),
        (Some((start, end)), _) if start > end => Err(RecipeError::CopyStartAfterEnd { at }),
        (Some((start, end)), _) => Ok(Some(Step::Copy { start, end })),
        (None, Some(values)) => Ok(Some(Step::Data { values })),
        (None, None) => Ok(None),
    }
}

/// `[start, end, …]` of depth `depth`: two unsigned integers, then
/// anything (ignored).
fn copy_range(r: &mut Reader<'_>, depth: usize) -> Result<(u32, u32), RecipeError> {
    r.require(b'[')?;
    let short = |r: &mut Reader<'_>| {
        r.skip_ws();
        RecipeError::NotARecipe { at: r.pos() }
    };
    if r.peek_value() == Some(b']') {
        return Err(short(r));
    }
    let start = r.copy_bound()?;
    if r.peek_value() == Some(b']') {
        return Err(short(r));
    }
    r.require(b',')?;
    let end = r.copy_bound()?;
    while !r.eat(b']') {
        r.require(b',')?;
        r.skip_value(depth.saturating_add(1))?;
    }
    Ok((start, end))
}

/// `["…", …]`: strings only. Returns the span of the array.
fn data_array(r: &mut Reader<'_>) -> Result<Span, RecipeError> {
    r.skip_ws();
    let start = r.pos();
    let array = Span::new(start, start)?;
    let mut cursor = ArrayCursor::new(array, 0);
    while cursor.next_string(r.json())?.is_some() {}
    *r = Reader::at(r.json(), cursor.pos as usize);
    Span::new(start, cursor.pos as usize)
}

/// A step array at `r`, of nesting depth `depth`, its steps pushed to
/// `steps`.
fn step_array<const S: usize>(
    r: &mut Reader<'_>,
    depth: usize,
    steps: &mut heapless::Vec<Step, S>,
) -> Result<StepList, RecipeError> {
    let json = r.json();
    r.skip_ws();
    let start = r.pos();
    let first = u32::try_from(steps.len()).map_err(|_| RecipeError::StepsCapacity { limit: S })?;
    let mut cursor = ArrayCursor::new(Span::new(start, start)?, depth);
    while let Some(step) = cursor.next_step(json)? {
        steps
            .push(step)
            .map_err(|_| RecipeError::StepsCapacity { limit: S })?;
    }
    *r = Reader::at(json, cursor.pos as usize);
    let len = u32::try_from(steps.len())
        .unwrap_or(u32::MAX)
        .saturating_sub(first);
    Ok(StepList {
        array: Span::new(start, cursor.pos as usize)?,
        first,
        len,
    })
}

/// The whole text: one object, nothing after it.
pub(super) fn recipe<const S: usize, const N: usize>(
    json: &[u8],
    index: &mut RecipeIndex<S, N>,
) -> Result<(), RecipeError> {
    let mut r = Reader::at(json, 0);
    if r.peek_value() != Some(b'{') {
        // Check it is JSON at all, so that the error says which.
        let at = r.pos();
        r.skip_value(1)?;
        r.end()?;
        return Err(RecipeError::NotARecipe { at });
    }
    r.require(b'{')?;
    let (mut seen_h, mut seen_b) = (false, false);
    let mut first = true;
    while r.next_member(&mut first, b'}')? {
        let at = {
            r.skip_ws();
            r.pos()
        };
        let key = JsonStr::new(json, r.key()?);
        if key.is(b"h") {
            if seen_h {
                return Err(RecipeError::DuplicateKey { at });
            }
            seen_h = true;
            headers(&mut r, index)?;
        } else if key.is(b"b") {
            if seen_b {
                return Err(RecipeError::DuplicateKey { at });
            }
            seen_b = true;
            index.body_first = !seen_h;
            index.body = match r.peek_value() {
                Some(b'n') => {
                    r.literal(b"null")?;
                    BodyRecipe::Unreconstructable
                }
                Some(b'[') => BodyRecipe::Steps(step_array(&mut r, BODY_STEPS, &mut index.steps)?),
                _ => return Err(not_a_recipe(&mut r, BODY_STEPS)),
            };
        } else {
            r.skip_value(TOP_VALUE)?;
        }
    }
    r.end()
}

/// The `"h"` object: names and their step arrays.
fn headers<const S: usize, const N: usize>(
    r: &mut Reader<'_>,
    index: &mut RecipeIndex<S, N>,
) -> Result<(), RecipeError> {
    let json = r.json();
    if r.peek_value() != Some(b'{') {
        return Err(not_a_recipe(r, TOP_VALUE));
    }
    r.require(b'{')?;
    let mut first = true;
    while r.next_member(&mut first, b'}')? {
        let at = {
            r.skip_ws();
            r.pos()
        };
        let name_span = r.key()?;
        let name = JsonStr::new(json, name_span);
        let mut bytes = name.bytes().peekable();
        if bytes.peek().is_none() || !bytes.all(is_ftext) {
            return Err(RecipeError::InvalidName { at });
        }
        if index.headers.iter().any(|h| {
            let other = h.name(json);
            other
                .bytes()
                .map(|b| b.to_ascii_lowercase())
                .eq(name.bytes().map(|b| b.to_ascii_lowercase()))
        }) {
            return Err(RecipeError::DuplicateName { at });
        }
        if r.peek_value() != Some(b'[') {
            return Err(not_a_recipe(r, NAME_STEPS));
        }
        let steps = step_array(r, NAME_STEPS, &mut index.steps)?;
        index
            .headers
            .push(HeaderEntry {
                name: name_span,
                steps,
            })
            .map_err(|_| RecipeError::NamesCapacity { limit: N })?;
    }
    Ok(())
}
