//! Recipes: the Message-Instance `r=` tag of DKIM2
//! (draft-ietf-dkim-dkim2-spec-03), which tells a verifier how to turn
//! message instance N back into instance N-1, as mail-auth 0.13.3 reads
//! and writes them.
//!
//! A recipe is a JSON object (base64 in the tag; the caller decodes it):
//!
//! ```text
//! {"h":{"subject":[{"d":["Original subject"]}]},"b":[{"c":[1,42]}]}
//!   "h": header field name (lower case) ─► steps for that name's values
//!   "b": steps for the body's lines, or null: the body cannot be rebuilt
//!   step: {"c":[start,end]}  copy current values/lines start..=end (1-based)
//!         {"d":["…","…"]}    data: these values/lines, literally
//! ```
//!
//! Unknown keys are ignored, and so are step entries that are not objects
//! and objects with neither `c` nor `d`; in a step with both, `c` wins. A
//! header name the recipe does not mention keeps its values; a recipe
//! without `"b"` leaves the body as it is.
//!
//! ```text
//!  r= (base64) ─► caller's buffer: JSON ─► RecipeIndex::parse (spans, steps; borrows nothing)
//!                                               │
//!   body chunks ─► BodyRewind::push(json, chunk) ─► Sink: body of instance N-1
//!   values of one name (bottom-up) ─► HeaderRewind::next(json, count) ─► values of N-1, in hash order
//!   RecipeWriter ─► the recipe mass writes when it changes a message (subject tag, footer)
//! ```
//!
//! The caller keeps the JSON text in its own buffer and passes it again to
//! every call that needs it; the index, the rewinds and the cursors hold
//! only byte offsets into it, so they fit a streaming verifier's struct.
//!
//! # Body
//!
//! The current body is split into lines at LF, a CR before the LF (or at
//! the very end) dropped, and a last empty piece (the body ends with a
//! line break) dropped too. A copy step emits its lines, each followed by
//! CRLF; a data step emits each string followed by CRLF. If nothing at all
//! is emitted, the result is one CRLF. The result is what the caller then
//! hashes with the "simple" body canonicalization. [`BodyRewind`] does this
//! in O(1) state while the body streams past; see there for the limits.
//!
//! # Header fields
//!
//! The current values of one name are numbered from the bottom of the
//! header block: 1 is the last field of that name. A copy step emits
//! values by that number, a data step its strings, and the emitted list,
//! reversed, is the top-to-bottom order of instance N-1. The DKIM2 header
//! hash sorts fields by name and takes the fields of one name bottom-up,
//! which is the emitted order, so [`HeaderRewind`] yields values in it.
//!
//! # Where mass is stricter than mail-auth
//!
//! mail-auth clamps a copy range to the values or lines that exist and
//! skips a copy that starts at 0 or after its end; mass gives a typed error
//! for each ([`RecipeError::RangeOutsideBody`],
//! [`RecipeError::RangeOutsideValues`], [`RecipeError::CopyStartZero`],
//! [`RecipeError::CopyStartAfterEnd`]): no recipe made by diffing the two
//! instances has them. mail-auth truncates copy bounds above `u32::MAX`;
//! mass rejects them. A repeated `"h"` or `"b"` key, or a name given twice
//! in `"h"`, is an error here (mail-auth keeps the last one). And the body
//! rewind streams, so it needs copy ranges in ascending order
//! ([`RecipeError::NotStreamable`]).

use core::fmt;

use heapless::Vec;

mod body;
mod header;
mod json;
mod parse;
mod writer;

pub use body::{BodyLines, BodyRewind};
pub use header::{HeaderPiece, HeaderRewind, HeaderValue};
pub use json::{DecodedBytes, JsonError, JsonStr, MAX_DEPTH};
pub use parse::DataValues;
pub use writer::{RecipeWriter, WriteError};

/// Why a recipe could not be read or applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RecipeError {
    /// The text is not JSON (RFC 8259).
    Json {
        /// What is wrong.
        error: JsonError,
        /// Byte offset in the JSON text.
        at: usize,
    },
    /// The text is JSON but not a recipe: the top level is not an object,
    /// `"h"` is not an object, a name's steps are not an array, `"b"` is
    /// neither `null` nor an array, a `"c"` array has fewer than two
    /// elements or a first two that are not unsigned integers, or a `"d"`
    /// array holds something other than strings.
    NotARecipe {
        /// Byte offset in the JSON text.
        at: usize,
    },
    /// The JSON text is longer than `u32::MAX` bytes.
    TooLong,
    /// `"h"` or `"b"` appears twice.
    DuplicateKey {
        /// Byte offset of the second key.
        at: usize,
    },
    /// A header name appears twice in `"h"` (ASCII case ignored).
    DuplicateName {
        /// Byte offset of the second name.
        at: usize,
    },
    /// A key of `"h"` is not a header field name (RFC 5322 §3.6.8).
    InvalidName {
        /// Byte offset of the name.
        at: usize,
    },
    /// A copy step starts at 0; lines and values are numbered from 1.
    CopyStartZero {
        /// Byte offset of the step.
        at: usize,
    },
    /// A copy step starts after its end.
    CopyStartAfterEnd {
        /// Byte offset of the step.
        at: usize,
    },
    /// More steps than the index has room for.
    StepsCapacity {
        /// The capacity in steps.
        limit: usize,
    },
    /// More header names than the index has room for.
    NamesCapacity {
        /// The capacity in names.
        limit: usize,
    },
    /// `"b":null`: the body of the earlier instance cannot be rebuilt.
    BodyUnreconstructable,
    /// The body's copy ranges are not in ascending order (each start after
    /// the previous end), so the body cannot be rebuilt while it streams.
    NotStreamable,
    /// A copy step of the body names lines the body does not have
    /// (mail-auth would silently copy fewer).
    RangeOutsideBody {
        /// How many lines the body has.
        lines: u64,
    },
    /// A copy step of a header name names values the message does not
    /// have (mail-auth would silently copy fewer).
    RangeOutsideValues {
        /// How many values of that name the message has.
        count: u32,
    },
    /// The JSON text passed is not the one the recipe was parsed from (its
    /// length differs).
    JsonMismatch,
    /// A data value does not fit the caller's buffer.
    BufferTooSmall {
        /// Bytes the value needs.
        required: usize,
    },
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipeError::Json { error, at } => {
                write!(f, "recipe is not JSON at byte {at}: {error:?}")
            }
            RecipeError::NotARecipe { at } => write!(f, "JSON is not a recipe at byte {at}"),
            RecipeError::TooLong => f.write_str("recipe longer than 4 GiB"),
            RecipeError::DuplicateKey { at } => write!(f, "recipe key repeated at byte {at}"),
            RecipeError::DuplicateName { at } => {
                write!(f, "recipe header name repeated at byte {at}")
            }
            RecipeError::InvalidName { at } => {
                write!(f, "recipe header name at byte {at} is not a field name")
            }
            RecipeError::CopyStartZero { at } => {
                write!(f, "recipe copy step at byte {at} starts at 0")
            }
            RecipeError::CopyStartAfterEnd { at } => {
                write!(f, "recipe copy step at byte {at} starts after its end")
            }
            RecipeError::StepsCapacity { limit } => write!(f, "more than {limit} recipe steps"),
            RecipeError::NamesCapacity { limit } => {
                write!(f, "more than {limit} header names in a recipe")
            }
            RecipeError::BodyUnreconstructable => {
                f.write_str("the recipe says the body cannot be rebuilt")
            }
            RecipeError::NotStreamable => {
                f.write_str("the recipe's body copy ranges are not in ascending order")
            }
            RecipeError::RangeOutsideBody { lines } => {
                write!(f, "recipe copies lines past the body's {lines}")
            }
            RecipeError::RangeOutsideValues { count } => {
                write!(f, "recipe copies values past the {count} there are")
            }
            RecipeError::JsonMismatch => {
                f.write_str("not the JSON text the recipe was parsed from")
            }
            RecipeError::BufferTooSmall { required } => {
                write!(f, "buffer too small: {required} bytes required")
            }
        }
    }
}

impl core::error::Error for RecipeError {}

/// A byte range of the recipe's JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Result<Self, RecipeError> {
        Ok(Span {
            start: u32::try_from(start).map_err(|_| RecipeError::TooLong)?,
            end: u32::try_from(end).map_err(|_| RecipeError::TooLong)?,
        })
    }

    /// Offset of the first byte.
    pub fn start(&self) -> usize {
        self.start as usize
    }

    /// Offset just past the last byte.
    pub fn end(&self) -> usize {
        self.end as usize
    }

    /// The bytes of `json` in this span, if it has them.
    pub fn get<'j>(&self, json: &'j [u8]) -> Option<&'j [u8]> {
        json.get(self.start()..self.end())
    }
}

/// One step of a recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step {
    /// `{"c":[start,end]}`: copy the current values or lines
    /// `start..=end`. `1 <= start <= end` holds.
    Copy {
        /// First, from 1.
        start: u32,
        /// Last, inclusive.
        end: u32,
    },
    /// `{"d":[…]}`: these strings, literally.
    Data {
        /// The JSON array of strings, brackets included; see
        /// [`Step::values`].
        values: Span,
    },
}

impl Step {
    /// The strings of a data step (none for a copy step).
    pub fn values<'j>(&self, json: &'j [u8]) -> DataValues<'j> {
        match self {
            Step::Data { values } => DataValues::new(json, *values),
            Step::Copy { .. } => DataValues::empty(json),
        }
    }
}

/// The steps for one header name or for the body: where they are in the
/// index ([`RecipeIndex::steps`]) and in the JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StepList {
    array: Span,
    first: u32,
    len: u32,
}

impl StepList {
    /// The JSON array of the steps, brackets included.
    pub fn array(&self) -> Span {
        self.array
    }

    /// How many steps (entries that are not steps not counted).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are none: `[]` (for a header name: remove every
    /// value of that name).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What a recipe says about the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BodyRecipe {
    /// No `"b"`: the body of instance N-1 is the current body.
    Unchanged,
    /// `"b":null`: the body of instance N-1 cannot be rebuilt.
    Unreconstructable,
    /// `"b":[…]`: these steps rebuild it.
    Steps(StepList),
}

/// One header name of a recipe and its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HeaderEntry {
    name: Span,
    steps: StepList,
}

impl HeaderEntry {
    /// The name (a field name; the draft writes it in lower case, but it
    /// is matched with ASCII case ignored, as mail-auth does).
    pub fn name<'j>(&self, json: &'j [u8]) -> JsonStr<'j> {
        JsonStr::new(json, self.name)
    }

    /// The span of the name in the JSON text, quotes excluded.
    pub fn name_span(&self) -> Span {
        self.name
    }

    /// Its steps.
    pub fn steps(&self) -> StepList {
        self.steps
    }
}

/// A parsed recipe that borrows nothing: offsets into the JSON text the
/// caller keeps, and at most `STEPS` steps and `NAMES` header names.
///
/// Memory: `STEPS` × 12 bytes and `NAMES` × 24 bytes, plus 48 on 64-bit
/// targets (`size_of::<RecipeIndex<64, 32>>()` is 1,584 bytes).
/// The largest recipe in the interop corpus mass checks against has 15
/// names and 17 steps.
#[derive(Debug, Clone)]
pub struct RecipeIndex<const STEPS: usize, const NAMES: usize> {
    json_len: u32,
    body: BodyRecipe,
    body_first: bool,
    headers: Vec<HeaderEntry, NAMES>,
    steps: Vec<Step, STEPS>,
}

impl<const STEPS: usize, const NAMES: usize> RecipeIndex<STEPS, NAMES> {
    /// Parse and check a recipe's JSON text, all of it: JSON syntax,
    /// nesting of at most [`MAX_DEPTH`], the recipe's shape, header names,
    /// copy bounds, capacities.
    pub fn parse(json: &[u8]) -> Result<Self, RecipeError> {
        let json_len = u32::try_from(json.len()).map_err(|_| RecipeError::TooLong)?;
        let mut index = RecipeIndex {
            json_len,
            body: BodyRecipe::Unchanged,
            body_first: false,
            headers: Vec::new(),
            steps: Vec::new(),
        };
        parse::recipe(json, &mut index)?;
        Ok(index)
    }

    /// The length of the JSON text it was parsed from.
    pub fn json_len(&self) -> usize {
        self.json_len as usize
    }

    /// What the recipe says about the body.
    pub fn body(&self) -> BodyRecipe {
        self.body
    }

    /// Whether `"b"` came before `"h"` in the text (mail-auth writes `"h"`
    /// first; an implementation that sorts keys writes `"b"` first).
    pub fn body_first(&self) -> bool {
        self.body_first
    }

    /// The header names with steps, in the order of the text.
    pub fn headers(&self) -> &[HeaderEntry] {
        &self.headers
    }

    /// The names the recipe mentions, in the order of the text.
    pub fn header_names<'s, 'j>(&'s self, json: &'j [u8]) -> impl Iterator<Item = JsonStr<'j>> + 's
    where
        'j: 's,
    {
        self.headers.iter().map(move |h| h.name(json))
    }

    /// The entry for header name `name` (ASCII case ignored), if the
    /// recipe has one. Without one, the values of that name are unchanged.
    pub fn header(&self, json: &[u8], name: &[u8]) -> Option<&HeaderEntry> {
        self.headers
            .iter()
            .find(|h| h.name(json).eq_ignore_ascii_case(name))
    }

    /// The steps of `list` (the body's, or one name's).
    pub fn steps(&self, list: StepList) -> &[Step] {
        let first = list.first as usize;
        let end = first.saturating_add(list.len as usize);
        self.steps.get(first..end).unwrap_or_default()
    }

    /// A rewind of the values of one header name.
    pub fn header_rewind(&self, entry: &HeaderEntry) -> HeaderRewind {
        HeaderRewind::new(self.json_len, entry.steps.array)
    }

    /// The values of header name `name` in instance N-1, pushed to `emit`
    /// in the order the recipe emits them (bottom-up: hash order), each as
    /// [`HeaderPiece::Begin`], its bytes, [`HeaderPiece::End`].
    ///
    /// `count` is how many values of `name` the current message has, and
    /// `value(k)` the `k`-th from the bottom (`k` in `1..=count`). A
    /// current value comes as one [`HeaderPiece::Bytes`], as `value` gives
    /// it; a data value is decoded from the JSON text in runs, with no
    /// buffer. A name the recipe does not mention keeps its values, so
    /// they are pushed as they are. An error of `emit` stops the walk and
    /// is returned. (mail-auth trims current values of white space before
    /// it hashes them; canonicalizing is the caller's.)
    pub fn apply_header<'v, E: From<RecipeError>>(
        &self,
        json: &[u8],
        name: &[u8],
        count: usize,
        value: impl Fn(usize) -> Option<&'v [u8]>,
        mut emit: impl FnMut(HeaderPiece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if json.len() != self.json_len() {
            return Err(RecipeError::JsonMismatch.into());
        }
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let mut rewind = self.header(json, name).map(|e| self.header_rewind(e));
        let mut kept = 0u32;
        loop {
            let piece = match rewind.as_mut() {
                Some(rewind) => match rewind.next_piece(json, count)? {
                    Some(piece) => piece,
                    None => return Ok(()),
                },
                None if kept < count => {
                    kept = kept.saturating_add(1);
                    header::Piece::Current(kept)
                }
                None => return Ok(()),
            };
            match piece {
                header::Piece::Current(k) => {
                    let bytes =
                        value(k as usize).ok_or(RecipeError::RangeOutsideValues { count })?;
                    emit(HeaderPiece::Begin)?;
                    emit(HeaderPiece::Bytes(bytes))?;
                }
                header::Piece::Data(span) => {
                    emit(HeaderPiece::Begin)?;
                    let mut result = Ok(());
                    JsonStr::new(json, span).for_each_run(|run| {
                        if result.is_ok() {
                            result = emit(HeaderPiece::Bytes(run));
                        }
                    });
                    result?;
                }
            }
            emit(HeaderPiece::End)?;
        }
    }
}

#[cfg(test)]
mod tests;
