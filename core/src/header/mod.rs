//! Header fields: a streaming splitter for the header block (RFC 5322
//! §2.2, §2.2.3 folding), bounded storage for the fields that are kept, and
//! bottom-up selection of instances (RFC 6376 §5.4.2).
//!
//! The splitter holds no field bytes of its own beyond the name: it hands
//! each field's bytes to a [`FieldSink`] as they arrive, and the sink
//! decides from the name whether to keep them. Fields that are not kept
//! cost nothing however long they are.

use crate::error::Error;
use crate::syntax::field_name::is_ftext;

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const SP: u8 = b' ';
const TAB: u8 = b'\t';

/// The longest field name the splitter passes to a sink; a longer name
/// cannot be one anybody asked for, so its field is not kept.
pub const MAX_NAME_LEN: usize = 96;

/// Receives the header fields the [`HeaderSplitter`] finds.
pub trait FieldSink {
    /// A field named `name` (without surrounding whitespace) begins.
    /// Return `true` to receive its raw bytes through
    /// [`field_bytes`](Self::field_bytes).
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error>;
    /// The next raw bytes of a kept field: the name as written, the colon,
    /// the value with its folding CRLFs, never the final CRLF.
    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error>;
    /// The field begun last has ended.
    fn end_field(&mut self) -> Result<(), Error>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum SplitState {
    /// At the start of a line; `open` says a field may still continue.
    LineStart { open: bool },
    /// A CR at the start of a line: the blank line, if LF follows.
    BlankCr { open: bool },
    /// In a field name. `wsp`: whitespace seen after the name (obsolete
    /// syntax allows it before the colon, RFC 5322 §4.5).
    Name { wsp: bool },
    /// In a field value; `cr`: a CR is pending.
    Value { cr: bool },
    /// The header block has ended.
    Done,
}

/// Streaming splitter of a header block into fields.
///
/// Feed it raw message bytes with [`push`](Self::push); it reports where
/// the body starts once it has seen the blank line. Line ends are CRLF; a
/// bare CR or LF is part of a value (see [`crate::canon::normalize`] for inputs
/// with bare LF line ends), and a bare LF never ends the header block.
#[derive(Debug, Clone)]
pub struct HeaderSplitter {
    state: SplitState,
    name: heapless::Vec<u8, MAX_NAME_LEN>,
    /// Raw bytes of the name seen so far (for a kept field they are
    /// delivered once the colon arrives); `name_overflow` says there were
    /// more than fit, so the field is not kept.
    name_overflow: bool,
    /// The sink was told about the current field (so it hears its end).
    begun: bool,
    keep: bool,
}

impl Default for HeaderSplitter {
    fn default() -> Self {
        Self::new()
    }
}

/// Does the field contain a CRLF that is not folding (not followed by
/// whitespace)? Such a field would end early or carry another field.
fn has_unfolded_crlf(field: &[u8]) -> bool {
    field
        .windows(3)
        .any(|w| w.starts_with(b"\r\n") && !matches!(w.get(2), Some(b' ' | b'\t')))
        || field.ends_with(b"\r\n")
}

impl HeaderSplitter {
    /// A splitter at the start of a message.
    pub fn new() -> Self {
        HeaderSplitter {
            state: SplitState::LineStart { open: false },
            name: heapless::Vec::new(),
            name_overflow: false,
            begun: false,
            keep: false,
        }
    }

    /// Has the blank line that ends the header block been seen?
    pub fn is_done(&self) -> bool {
        self.state == SplitState::Done
    }

    /// Feed the next bytes. Returns `Some(n)` when the header block ended
    /// within `data`: `data[n..]` is the start of the body.
    pub fn push<S: FieldSink + ?Sized>(
        &mut self,
        data: &[u8],
        sink: &mut S,
    ) -> Result<Option<usize>, Error> {
        let mut i = 0usize;
        while let Some(&b) = data.get(i) {
            match self.state {
                SplitState::Done => return Ok(Some(i)),
                SplitState::Value { cr: false } => {
                    // Hand over the run up to the next CR in one piece.
                    let rest = data.get(i..).unwrap_or_default();
                    let run = rest.iter().position(|&c| c == CR).unwrap_or(rest.len());
                    if self.keep && run > 0 {
                        sink.field_bytes(rest.get(..run).unwrap_or_default())?;
                    }
                    i = i.saturating_add(run);
                    if run < rest.len() {
                        self.state = SplitState::Value { cr: true };
                        i = i.saturating_add(1);
                    }
                    continue;
                }
                SplitState::Value { cr: true } => {
                    if b == LF {
                        self.state = SplitState::LineStart { open: true };
                    } else {
                        // A bare CR is part of the value.
                        if self.keep {
                            sink.field_bytes(b"\r")?;
                        }
                        self.state = SplitState::Value { cr: false };
                        continue; // look at `b` again as a value byte
                    }
                }
                SplitState::LineStart { open } => match b {
                    SP | TAB => {
                        if !open {
                            return Err(Error::MalformedHeaderField);
                        }
                        if self.keep {
                            sink.field_bytes(b"\r\n")?;
                        }
                        self.state = SplitState::Value { cr: false };
                        continue; // the whitespace is a value byte
                    }
                    CR => self.state = SplitState::BlankCr { open },
                    _ => {
                        if open {
                            self.end_field(sink)?;
                        }
                        self.start_name();
                        self.state = SplitState::Name { wsp: false };
                        continue;
                    }
                },
                SplitState::BlankCr { open } => {
                    if b != LF {
                        return Err(Error::MalformedHeaderField);
                    }
                    if open {
                        self.end_field(sink)?;
                    }
                    self.state = SplitState::Done;
                    return Ok(Some(i.saturating_add(1)));
                }
                SplitState::Name { wsp } => match b {
                    b':' => {
                        if !self.name_overflow {
                            self.begun = true;
                            self.keep = sink.begin_field(trim_wsp(&self.name))?;
                        }
                        if self.keep {
                            sink.field_bytes(&self.name)?;
                            sink.field_bytes(b":")?;
                        }
                        self.state = SplitState::Value { cr: false };
                    }
                    SP | TAB => {
                        self.name_byte(b);
                        self.state = SplitState::Name { wsp: true };
                    }
                    _ if is_ftext(b) && !wsp => self.name_byte(b),
                    _ => return Err(Error::MalformedHeaderField),
                },
            }
            i = i.saturating_add(1);
        }
        Ok(if self.state == SplitState::Done {
            Some(data.len())
        } else {
            None
        })
    }

    /// Feed one whole header field as a milter hands it over: `Name:value`
    /// with folding CRLFs and no final CRLF. A field that would end the
    /// header block or carry another field (a CRLF not followed by
    /// whitespace) is refused, and so is a field after the blank line.
    pub fn push_field<S: FieldSink + ?Sized>(
        &mut self,
        raw_field: &[u8],
        sink: &mut S,
    ) -> Result<(), Error> {
        if self.is_done() {
            return Err(Error::OutOfOrder);
        }
        if raw_field.is_empty() || has_unfolded_crlf(raw_field) {
            return Err(Error::MalformedHeaderField);
        }
        self.push(raw_field, sink)?;
        self.push(b"\r\n", sink)?;
        Ok(())
    }

    /// End the header block after fields fed with
    /// [`push_field`](Self::push_field) (a milter's end-of-headers).
    pub fn push_end_of_headers<S: FieldSink + ?Sized>(
        &mut self,
        sink: &mut S,
    ) -> Result<(), Error> {
        if self.is_done() {
            return Err(Error::OutOfOrder);
        }
        match self.push(b"\r\n", sink)? {
            Some(_) => Ok(()),
            None => Err(Error::MalformedHeaderField),
        }
    }

    /// The input ended. A header block with no blank line after it ends
    /// here (the body is empty, security case 27).
    pub fn finish<S: FieldSink + ?Sized>(&mut self, sink: &mut S) -> Result<(), Error> {
        match self.state {
            SplitState::Done => {}
            SplitState::LineStart { open } | SplitState::BlankCr { open } => {
                if open {
                    self.end_field(sink)?;
                }
            }
            SplitState::Value { cr } => {
                if cr && self.keep {
                    sink.field_bytes(b"\r")?;
                }
                self.end_field(sink)?;
            }
            SplitState::Name { .. } => return Err(Error::MalformedHeaderField),
        }
        self.state = SplitState::Done;
        Ok(())
    }

    fn start_name(&mut self) {
        self.name.clear();
        self.name_overflow = false;
        self.begun = false;
        self.keep = false;
    }

    fn end_field<S: FieldSink + ?Sized>(&mut self, sink: &mut S) -> Result<(), Error> {
        if core::mem::take(&mut self.begun) {
            sink.end_field()?;
        }
        self.keep = false;
        Ok(())
    }

    fn name_byte(&mut self, b: u8) {
        if self.name.push(b).is_err() {
            self.name_overflow = true;
        }
    }
}

/// `bytes` without leading and trailing spaces and tabs.
pub fn trim_wsp(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != SP && b != TAB)
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != SP && b != TAB)
        .map_or(start, |p| p.saturating_add(1));
    bytes.get(start..end).unwrap_or_default()
}

/// The name of a raw field (the bytes before the first colon, without
/// whitespace), or the whole field if it has no colon.
pub fn field_name(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    trim_wsp(field.get(..end).unwrap_or_default())
}

/// The value of a raw field: everything after the first colon.
pub fn field_value(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == b':') {
        Some(p) => field.get(p.saturating_add(1)..).unwrap_or_default(),
        None => &[],
    }
}

/// Do two field names match (ASCII case-insensitive, RFC 5322 §1.2.2)?
pub fn names_match(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

/// Bounded storage for the raw header fields that are kept, in message
/// order. `BYTES` bounds their total size and `FIELDS` their number; both
/// are fixed at compile time, and running out is a typed error.
#[derive(Debug, Clone)]
pub struct HeaderStore<const BYTES: usize, const FIELDS: usize> {
    bytes: heapless::Vec<u8, BYTES>,
    fields: heapless::Vec<Span, FIELDS>,
    open: bool,
}

impl<const BYTES: usize, const FIELDS: usize> Default for HeaderStore<BYTES, FIELDS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const BYTES: usize, const FIELDS: usize> HeaderStore<BYTES, FIELDS> {
    /// An empty store.
    pub const fn new() -> Self {
        HeaderStore {
            bytes: heapless::Vec::new(),
            fields: heapless::Vec::new(),
            open: false,
        }
    }

    /// Start a new field.
    pub fn begin(&mut self) -> Result<(), Error> {
        let start = u32::try_from(self.bytes.len())
            .map_err(|_| Error::HeaderBytesCapacity { limit: BYTES })?;
        self.fields
            .push(Span { start, end: start })
            .map_err(|_| Error::HeaderFieldsCapacity { limit: FIELDS })?;
        self.open = true;
        Ok(())
    }

    /// Append bytes to the field begun last.
    pub fn extend(&mut self, data: &[u8]) -> Result<(), Error> {
        if !self.open {
            return Err(Error::OutOfOrder);
        }
        self.bytes
            .extend_from_slice(data)
            .map_err(|_| Error::HeaderBytesCapacity { limit: BYTES })?;
        let end = u32::try_from(self.bytes.len())
            .map_err(|_| Error::HeaderBytesCapacity { limit: BYTES })?;
        if let Some(last) = self.fields.last_mut() {
            last.end = end;
        }
        Ok(())
    }

    /// Close the field begun last.
    pub fn end(&mut self) {
        self.open = false;
    }

    /// Drop the field stored last and give back its room (a field that
    /// turned out not to be needed once it was whole). The fields above it
    /// keep their indices.
    pub fn remove_last(&mut self) {
        if let Some(last) = self.fields.pop() {
            self.bytes.truncate(last.start as usize);
        }
        self.open = false;
    }

    /// How many fields are stored.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True if no field is stored.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The raw bytes of field `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let span = self.fields.get(index)?;
        self.bytes.get(span.start as usize..span.end as usize)
    }

    /// The stored fields, top to bottom.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + ExactSizeIterator + '_ {
        self.fields.iter().map(|s| {
            self.bytes
                .get(s.start as usize..s.end as usize)
                .unwrap_or_default()
        })
    }

    /// How many stored fields are named `name`.
    pub fn count(&self, name: &[u8]) -> usize {
        self.iter()
            .filter(|f| names_match(field_name(f), name))
            .count()
    }

    /// The fields that an `h=` list selects, in its order (RFC 6376
    /// §5.4.2): the `k`-th mention of a name takes the `k`-th instance
    /// counted from the bottom, and `None` where no instance is left (an
    /// oversigned name, which signs the field's absence).
    ///
    /// Each mention takes the bottom-most instance that no earlier mention
    /// took, so the work is one pass over the stored fields per name,
    /// whatever the length of the list.
    pub fn select<'s, 'h, I>(
        &'s self,
        h: I,
    ) -> impl Iterator<Item = Option<&'s [u8]>> + use<'s, 'h, I, BYTES, FIELDS>
    where
        I: IntoIterator<Item = &'h [u8]> + Clone,
    {
        let mut taken = [false; FIELDS];
        h.into_iter().map(move |name| {
            let (index, field) = self.iter().enumerate().rev().find(|(i, f)| {
                taken.get(*i).is_some_and(|t| !t) && names_match(field_name(f), name)
            })?;
            if let Some(t) = taken.get_mut(index) {
                *t = true;
            }
            Some(field)
        })
    }
}

pub(crate) mod names;
pub(crate) mod writer;

#[cfg(test)]
mod tests;
