//! Rewinding the values of one header name.

use super::json::JsonStr;
use super::parse::{ArrayCursor, NAME_STEPS};
use super::{RecipeError, Span, Step};

/// One value of instance N-1, as [`HeaderRewind::next`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'b> {
    /// The current value with this number, counted from the bottom of the
    /// header block (1 is the last field of the name), `1..=count`.
    Current(u32),
    /// A value the recipe holds, decoded into the caller's buffer.
    Data(&'b [u8]),
}

/// Where a rewind is within a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Within {
    /// Between steps.
    Between,
    /// In a copy step: `next..=end` are still to come.
    Copy { next: u32, end: u32 },
    /// In a data step.
    Data(ArrayCursor),
}

/// The values of one header name in instance N-1, from the current values
/// and the name's steps, in the order the recipe emits them: bottom-up,
/// which is the order the DKIM2 header hash takes the fields of one name
/// in (mail-auth reverses the list to get top-to-bottom order).
///
/// O(1) state (40 bytes on 64-bit targets), nothing borrowed: it walks the name's steps in
/// the JSON text the caller passes to every call. Each value it yields is
/// either the number of a current value, which the caller looks up, or a
/// data value decoded into the caller's buffer; a buffer as long as the
/// JSON text is always enough. A copy step that names more values than
/// `count` is [`RecipeError::RangeOutsideValues`], before any of its
/// values is yielded. After an error every call returns it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderRewind {
    json_len: u32,
    steps: ArrayCursor,
    within: Within,
    failed: Option<RecipeError>,
}

/// What comes next: a current value by number, or a data value.
pub(super) enum Piece {
    Current(u32),
    Data(Span),
}

/// Events of [`RecipeIndex::apply_header`](super::RecipeIndex::apply_header):
/// each value of instance N-1 is `Begin`, its bytes in one or more
/// `Bytes`, and `End`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderPiece<'a> {
    /// A value begins.
    Begin,
    /// Bytes of the value.
    Bytes(&'a [u8]),
    /// The value ends.
    End,
}

impl HeaderRewind {
    pub(super) fn new(json_len: u32, array: Span) -> Self {
        HeaderRewind {
            json_len,
            steps: ArrayCursor::new(array, NAME_STEPS),
            within: Within::Between,
            failed: None,
        }
    }

    /// The next value of instance N-1, or `None` after the last.
    ///
    /// `json` is the text the recipe was parsed from; `count` is how many
    /// values of the name the current message has.
    pub fn next<'b>(
        &mut self,
        json: &[u8],
        count: u32,
        buf: &'b mut [u8],
    ) -> Result<Option<HeaderValue<'b>>, RecipeError> {
        match self.next_piece(json, count)? {
            None => Ok(None),
            Some(Piece::Current(n)) => Ok(Some(HeaderValue::Current(n))),
            Some(Piece::Data(span)) => match JsonStr::new(json, span).decode_into(buf) {
                Ok(value) => Ok(Some(HeaderValue::Data(value))),
                Err(e) => {
                    self.failed = Some(e);
                    Err(e)
                }
            },
        }
    }

    /// The next value, undecoded; errors stick.
    pub(super) fn next_piece(
        &mut self,
        json: &[u8],
        count: u32,
    ) -> Result<Option<Piece>, RecipeError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.advance(json, count)
            .inspect_err(|e| self.failed = Some(*e))
    }

    fn advance(&mut self, json: &[u8], count: u32) -> Result<Option<Piece>, RecipeError> {
        if json.len() != self.json_len as usize {
            return Err(RecipeError::JsonMismatch);
        }
        loop {
            match self.within {
                Within::Copy { next, end } => {
                    self.within = match next.checked_add(1) {
                        Some(after) if next < end => Within::Copy { next: after, end },
                        _ => Within::Between,
                    };
                    return Ok(Some(Piece::Current(next)));
                }
                Within::Data(mut values) => match values.next_string(json)? {
                    Some(span) => {
                        self.within = Within::Data(values);
                        return Ok(Some(Piece::Data(span)));
                    }
                    None => self.within = Within::Between,
                },
                Within::Between => match self.steps.next_step(json)? {
                    None => return Ok(None),
                    Some(Step::Copy { start, end }) => {
                        if end > count {
                            return Err(RecipeError::RangeOutsideValues { count });
                        }
                        self.within = Within::Copy { next: start, end };
                    }
                    Some(Step::Data { values }) => {
                        self.within = Within::Data(ArrayCursor::new(values, 0));
                    }
                },
            }
        }
    }
}
