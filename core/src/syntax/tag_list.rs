//! Tag=value lists, RFC 6376 §3.2.
//!
//! DKIM-Signature field values (§3.5) and DKIM key records (§3.6.1) are both
//! tag-lists:
//!
//! ```text
//! tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//! tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//! tag-name  =  ALPHA *ALNUMPUNC
//! tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]
//! tval      =  1*VALCHAR
//! VALCHAR   =  %x21-3A / %x3C-7E
//! FWS       =  [*WSP CRLF] 1*WSP          ; §2.8
//! ```
//!
//! [`TagIter`] walks the list one tag-spec at a time and allocates nothing;
//! [`parse_tag_list`] collects into a [`TagList`] of fixed capacity and rejects
//! duplicate tag names (§3.2: "the entire tag-list is invalid"). FWS around a
//! tag name and around a value is not part of the value; FWS inside a value is
//! kept in the raw value (base64 values are decoded with it skipped).
//!
//! The parsers take bytes, not `str`: any byte outside the grammar (NUL,
//! 8-bit, a bare CR or LF) is a typed error, never a panic.

use core::fmt;

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_while, take_while1},
    combinator::{opt, recognize},
    multi::fold_many0,
};

/// A byte range `start..end` within the input a parser was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// The bytes of `input` this span covers, or `None` if it is out of range.
    pub fn get<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        input.get(self.start..self.end)
    }

    /// Number of bytes covered.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True if the span covers no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same span moved `offset` bytes further into a larger buffer.
    pub fn shifted(self, offset: usize) -> Span {
        Span {
            start: self.start.saturating_add(offset),
            end: self.end.saturating_add(offset),
        }
    }
}

/// One `tag=value` item of a tag-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tag<'a> {
    /// The tag name (ASCII, case-sensitive, §3.2).
    pub name: &'a str,
    /// The raw value: from its first to its last non-whitespace byte. FWS
    /// inside the value is kept.
    pub value: &'a str,
    /// Where `value` lies in the parsed input.
    pub value_span: Span,
    /// From just after the `=` to just before the `;` that ends this
    /// tag-spec (or the end of input): the value with all whitespace around
    /// it. §3.7 deletes exactly this for the `b=` tag when hashing.
    pub after_equals: Span,
}

/// Why a tag-list was rejected (RFC 6376 §3.2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TagListError {
    /// A tag name does not start with ALPHA or holds a byte other than
    /// ALPHA, DIGIT or `_`.
    BadTagName {
        /// Offset of the offending tag-spec's name.
        offset: usize,
    },
    /// A tag-spec has no `=` after its name.
    MissingEquals {
        /// Offset where `=` was expected.
        offset: usize,
    },
    /// A byte not allowed in a tag value (outside `%x21-3A / %x3C-7E`, or CR/LF
    /// that is not part of FWS).
    BadValueByte {
        /// Offset of the byte.
        offset: usize,
    },
    /// An empty tag-spec: `;;`, or a `;` at the very start.
    EmptyTagSpec {
        /// Offset of the `;` that ends the empty tag-spec.
        offset: usize,
    },
    /// The same tag name occurs twice (§3.2).
    DuplicateTag {
        /// Offset of the second occurrence's name.
        offset: usize,
    },
    /// More tag-specs than the caller's capacity.
    TooManyTags {
        /// The capacity that was exceeded.
        capacity: usize,
    },
}

impl fmt::Display for TagListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagListError::BadTagName { offset } => write!(f, "bad tag name at byte {offset}"),
            TagListError::MissingEquals { offset } => write!(f, "missing '=' at byte {offset}"),
            TagListError::BadValueByte { offset } => {
                write!(f, "byte not allowed in a tag value at byte {offset}")
            }
            TagListError::EmptyTagSpec { offset } => write!(f, "empty tag-spec at byte {offset}"),
            TagListError::DuplicateTag { offset } => write!(f, "duplicate tag at byte {offset}"),
            TagListError::TooManyTags { capacity } => {
                write!(f, "more than {capacity} tags in a tag-list")
            }
        }
    }
}

impl core::error::Error for TagListError {}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_alnumpunc(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// VALCHAR, §3.2: `%x21-3A / %x3C-7E` (printable ASCII except `;`).
fn is_valchar(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b';'
}

/// `FWS = [*WSP CRLF] 1*WSP` (§2.8).
fn fws(i: &[u8]) -> IResult<&[u8], &[u8]> {
    alt((
        recognize((take_while(is_wsp), tag(&b"\r\n"[..]), take_while1(is_wsp))),
        take_while1(is_wsp),
    ))
    .parse(i)
}

/// Zero or more FWS in a row (`1*(WSP / FWS)` when non-empty).
fn fws0(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize(fold_many0(fws, || (), |(), _| ())).parse(i)
}

/// `tag-value = [ tval *( 1*(WSP / FWS) tval ) ]`
fn tag_value(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let tval = |i| take_while1(is_valchar)(i);
    recognize(opt((
        tval,
        fold_many0((take_while1_fws, tval), || (), |(), _| ()),
    )))
    .parse(i)
}

/// One or more FWS.
fn take_while1_fws(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((fws, fws0)).parse(i)
}

/// `tag-name = ALPHA *ALNUMPUNC`; the first byte is checked by the caller.
fn tag_name(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(is_alnumpunc)(i)
}

/// Offset of `rest` inside `whole`, where `rest` is a suffix of `whole`.
fn offset_of(whole: &[u8], rest: &[u8]) -> usize {
    whole.len().saturating_sub(rest.len())
}

/// Parse one tag-spec at `input[pos..]`. Returns the tag and the offset just
/// past its trailing FWS.
fn tag_spec(input: &[u8], pos: usize) -> Result<(Tag<'_>, usize), TagListError> {
    let start = input.get(pos..).unwrap_or_default();
    let (rest, _) = fws0(start).map_err(|_| TagListError::BadTagName { offset: pos })?;
    let name_at = offset_of(input, rest);
    match rest.first() {
        Some(b) if b.is_ascii_alphabetic() => {}
        Some(b';') => return Err(TagListError::EmptyTagSpec { offset: name_at }),
        _ => return Err(TagListError::BadTagName { offset: name_at }),
    }
    let (rest, name) = tag_name(rest).map_err(|_| TagListError::BadTagName { offset: name_at })?;
    let (rest, gap) = fws0(rest).map_err(|_| TagListError::BadTagName { offset: name_at })?;
    let rest = match rest.split_first() {
        Some((b'=', rest)) => rest,
        Some((b, _)) if gap.is_empty() && !matches!(b, b'\r' | b'\n' | b';') => {
            // A stray byte right after the name belongs to the name.
            return Err(TagListError::BadTagName { offset: name_at });
        }
        _ => {
            return Err(TagListError::MissingEquals {
                offset: offset_of(input, rest),
            });
        }
    };
    let equals_end = offset_of(input, rest);
    let (rest, _) = fws0(rest).map_err(|_| TagListError::BadValueByte { offset: equals_end })?;
    let value_start = offset_of(input, rest);
    let (rest, value) = tag_value(rest).map_err(|_| TagListError::BadValueByte {
        offset: value_start,
    })?;
    let value_end = offset_of(input, rest);
    let (rest, _) = fws0(rest).map_err(|_| TagListError::BadValueByte { offset: value_end })?;
    let spec_end = offset_of(input, rest);
    match rest.first() {
        None | Some(b';') => {}
        Some(_) => return Err(TagListError::BadValueByte { offset: spec_end }),
    }
    // Both are ASCII by construction; the error arms cannot be reached.
    let name =
        core::str::from_utf8(name).map_err(|_| TagListError::BadTagName { offset: name_at })?;
    let value = core::str::from_utf8(value).map_err(|_| TagListError::BadValueByte {
        offset: value_start,
    })?;
    Ok((
        Tag {
            name,
            value,
            value_span: Span {
                start: value_start,
                end: value_end,
            },
            after_equals: Span {
                start: equals_end,
                end: spec_end,
            },
        },
        spec_end,
    ))
}

/// Walks a tag-list one tag-spec at a time, allocating nothing.
///
/// It yields `Err` at most once and then stops. It does not look for
/// duplicate names; [`parse_tag_list`] does.
#[derive(Debug, Clone)]
pub struct TagIter<'a> {
    input: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TagIter<'a> {
    /// Start walking `input`. An input of only whitespace has no tags.
    pub fn new(input: &'a [u8]) -> Self {
        let mut iter = TagIter {
            input,
            pos: 0,
            done: false,
        };
        iter.skip_trailing_fws();
        iter
    }

    /// If nothing but FWS remains, finish.
    fn skip_trailing_fws(&mut self) {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        if let Ok((after, _)) = fws0(rest)
            && after.is_empty()
        {
            self.done = true;
        }
    }
}

impl<'a> Iterator for TagIter<'a> {
    type Item = Result<Tag<'a>, TagListError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match tag_spec(self.input, self.pos) {
            Ok((tag, end)) => {
                // `end` is at a ';' or at the end of input.
                self.pos = end.saturating_add(1);
                if end >= self.input.len() {
                    self.done = true;
                } else {
                    // A final ';' may be followed only by FWS.
                    self.skip_trailing_fws();
                }
                Some(Ok(tag))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A parsed tag-list of at most `N` tags, with no duplicate names.
#[derive(Debug, Clone)]
pub struct TagList<'a, const N: usize> {
    tags: heapless::Vec<Tag<'a>, N>,
}

impl<'a, const N: usize> TagList<'a, N> {
    /// The tags in the order they appeared.
    pub fn tags(&self) -> &[Tag<'a>] {
        &self.tags
    }

    /// The tag named `name` (case-sensitive, §3.2), if present.
    pub fn get(&self, name: &str) -> Option<&Tag<'a>> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// The number of tags.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True if the list holds no tag.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }
}

/// Parse a whole tag-list of at most `N` tags (RFC 6376 §3.2), rejecting
/// duplicate names.
pub fn parse_tag_list<const N: usize>(input: &[u8]) -> Result<TagList<'_, N>, TagListError> {
    let mut tags: heapless::Vec<Tag<'_>, N> = heapless::Vec::new();
    for item in TagIter::new(input) {
        let tag = item?;
        if tags.iter().any(|t| t.name == tag.name) {
            // The name starts right before `=`; report the value start as a
            // stable position within this tag-spec.
            return Err(TagListError::DuplicateTag {
                offset: tag.after_equals.start,
            });
        }
        tags.push(tag)
            .map_err(|_| TagListError::TooManyTags { capacity: N })?;
    }
    Ok(TagList { tags })
}

/// The items of a colon-separated tag value (`h=`, `q=`, and a key
/// record's `h=`, `s=` and `t=`), each with the FWS around it trimmed.
/// An empty item stays in the list, for the caller to refuse or skip.
pub fn colon_list(value: &str) -> impl Iterator<Item = &str> + Clone {
    value
        .split(':')
        .map(|item| item.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n')))
}

/// Why a base64 tag value could not be decoded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Base64Error {
    /// A byte that is neither in the base64 alphabet nor FWS.
    InvalidByte {
        /// Offset of the byte within the value.
        offset: usize,
    },
    /// `=` where it may not be, or data after padding.
    BadPadding,
    /// The number of base64 characters is not a multiple of four.
    BadLength,
    /// The decoded data does not fit the caller's buffer.
    OutputTooSmall,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::InvalidByte { offset } => write!(f, "invalid base64 byte at {offset}"),
            Base64Error::BadPadding => f.write_str("misplaced base64 padding"),
            Base64Error::BadLength => f.write_str("base64 length is not a multiple of 4"),
            Base64Error::OutputTooSmall => f.write_str("decoded base64 does not fit"),
        }
    }
}

impl core::error::Error for Base64Error {}

fn base64_sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b.wrapping_sub(b'A')),
        b'a'..=b'z' => Some(b.wrapping_sub(b'a').wrapping_add(26)),
        b'0'..=b'9' => Some(b.wrapping_sub(b'0').wrapping_add(52)),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decode a base64 tag value (RFC 6376 §2.7 `base64string`, RFC 4648 §4
/// alphabet) into `out`, skipping FWS (space, tab, CR, LF) anywhere in it.
/// Padding is required. Returns the number of bytes written.
///
/// The input is public (signatures, hashes, keys), so this is not
/// constant-time.
pub fn decode_base64(value: &[u8], out: &mut [u8]) -> Result<usize, Base64Error> {
    let mut quad = [0u8; 4];
    let mut filled = 0usize;
    let mut pads = 0usize;
    let mut written = 0usize;
    let mut finished = false;
    for (offset, &b) in value.iter().enumerate() {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            continue;
        }
        if finished {
            return Err(Base64Error::BadPadding);
        }
        if b == b'=' {
            // Padding may fill only the last two places of a quantum.
            if filled < 2 {
                return Err(Base64Error::BadPadding);
            }
            pads = pads.saturating_add(1);
        } else {
            if pads > 0 {
                return Err(Base64Error::BadPadding);
            }
            let s = base64_sextet(b).ok_or(Base64Error::InvalidByte { offset })?;
            if let Some(slot) = quad.get_mut(filled) {
                *slot = s;
            }
        }
        filled = filled.saturating_add(1);
        if filled == 4 {
            let [a, b1, c, d] = quad;
            let bytes = [(a << 2) | (b1 >> 4), (b1 << 4) | (c >> 2), (c << 6) | d];
            let keep = 3usize.saturating_sub(pads);
            for &byte in bytes.iter().take(keep) {
                *out.get_mut(written).ok_or(Base64Error::OutputTooSmall)? = byte;
                written = written.saturating_add(1);
            }
            quad = [0; 4];
            filled = 0;
            finished = pads > 0;
        }
    }
    if filled != 0 {
        return Err(Base64Error::BadLength);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_values<'a, const N: usize>(
        list: &TagList<'a, N>,
    ) -> heapless::Vec<(&'a str, &'a str), N> {
        list.tags().iter().map(|t| (t.name, t.value)).collect()
    }

    #[test]
    fn base64_with_fws() {
        let mut out = [0u8; 16];
        let n = decode_base64(b"aGVs\r\n bG8g\td29y bGQ=", &mut out).unwrap();
        assert_eq!(&out[..n], b"hello world");
        let n = decode_base64(b"YQ==", &mut out).unwrap();
        assert_eq!(&out[..n], b"a");
        let n = decode_base64(b"", &mut out).unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn bad_base64_is_a_typed_error() {
        let mut out = [0u8; 16];
        assert_eq!(
            decode_base64(b"aGV!", &mut out),
            Err(Base64Error::InvalidByte { offset: 3 })
        );
        assert_eq!(
            decode_base64(b"aGVsb", &mut out),
            Err(Base64Error::BadLength)
        );
        assert_eq!(
            decode_base64(b"aGVsbA", &mut out),
            Err(Base64Error::BadLength)
        );
        assert_eq!(
            decode_base64(b"a===", &mut out),
            Err(Base64Error::BadPadding)
        );
        assert_eq!(
            decode_base64(b"YQ==YQ==", &mut out),
            Err(Base64Error::BadPadding)
        );
        assert_eq!(
            decode_base64(b"YQ=a", &mut out),
            Err(Base64Error::BadPadding)
        );
        assert_eq!(
            decode_base64(b"\x00", &mut out),
            Err(Base64Error::InvalidByte { offset: 0 })
        );
        assert_eq!(
            decode_base64(b"aGVsbG8gd29ybGQ=", &mut out[..4]),
            Err(Base64Error::OutputTooSmall)
        );
    }

    #[test]
    fn simple_list() {
        let list = parse_tag_list::<8>(b"v=1; a=rsa-sha256; d=example.net").unwrap();
        assert_eq!(
            names_values(&list).as_slice(),
            &[("v", "1"), ("a", "rsa-sha256"), ("d", "example.net")]
        );
    }

    #[test]
    fn trailing_semicolon_and_whitespace() {
        let list = parse_tag_list::<8>(b" v=DKIM1; p=abc; \r\n ").unwrap();
        assert_eq!(
            names_values(&list).as_slice(),
            &[("v", "DKIM1"), ("p", "abc")]
        );
    }

    #[test]
    fn fws_around_tags_is_stripped_and_spans_point_at_value() {
        let input = b"a =\r\n rsa-sha256 ;\r\n\tb = x y\r\n z\t";
        let list = parse_tag_list::<8>(input).unwrap();
        let a = list.get("a").unwrap();
        assert_eq!(a.value, "rsa-sha256");
        assert_eq!(a.value_span.get(input).unwrap(), b"rsa-sha256");
        assert_eq!(a.after_equals.get(input).unwrap(), b"\r\n rsa-sha256 ");
        let b = list.get("b").unwrap();
        assert_eq!(b.value, "x y\r\n z");
        assert_eq!(b.value_span.get(input).unwrap(), b"x y\r\n z");
        assert_eq!(b.after_equals.get(input).unwrap(), b" x y\r\n z\t");
    }

    #[test]
    fn empty_values_are_allowed() {
        let list = parse_tag_list::<8>(b"p=; n= ;t=").unwrap();
        assert_eq!(
            names_values(&list).as_slice(),
            &[("p", ""), ("n", ""), ("t", "")]
        );
        assert_eq!(list.get("n").unwrap().value_span.len(), 0);
    }

    #[test]
    fn empty_input_has_no_tags() {
        assert!(parse_tag_list::<4>(b"").unwrap().is_empty());
        assert!(parse_tag_list::<4>(b" \r\n ").unwrap().is_empty());
    }

    #[test]
    fn duplicate_tags_are_rejected() {
        assert!(matches!(
            parse_tag_list::<8>(b"d=a.example; s=x; d=b.example"),
            Err(TagListError::DuplicateTag { .. })
        ));
        // Unknown tags too (§3.2).
        assert!(matches!(
            parse_tag_list::<8>(b"zz=1; zz=1"),
            Err(TagListError::DuplicateTag { .. })
        ));
        // Tag names are case-sensitive: these differ.
        assert!(parse_tag_list::<8>(b"d=a; D=b").is_ok());
    }

    #[test]
    fn bad_tag_names_are_rejected() {
        for input in [
            &b"1a=b"[..],
            b"_a=b",
            b"a-b=c",
            b"a.b=c",
            b"=b",
            b"a\x00=b",
            b"\xc3\xa9=b",
        ] {
            let err = parse_tag_list::<8>(input).unwrap_err();
            assert!(
                matches!(err, TagListError::BadTagName { .. }),
                "{input:?}: {err:?}"
            );
        }
        assert!(parse_tag_list::<8>(b"a_1=b").is_ok());
    }

    #[test]
    fn missing_equals_and_empty_specs() {
        assert!(matches!(
            parse_tag_list::<8>(b"a b"),
            Err(TagListError::MissingEquals { offset: 2 })
        ));
        assert!(matches!(
            parse_tag_list::<8>(b"a"),
            Err(TagListError::MissingEquals { .. })
        ));
        assert!(matches!(
            parse_tag_list::<8>(b"a=1;;b=2"),
            Err(TagListError::EmptyTagSpec { offset: 4 })
        ));
        assert!(matches!(
            parse_tag_list::<8>(b";a=1"),
            Err(TagListError::EmptyTagSpec { offset: 0 })
        ));
    }

    #[test]
    fn bad_value_bytes_are_rejected() {
        for (input, at) in [
            (&b"s=a\x00b"[..], 3),
            (b"d=a\xffb", 3),
            (b"d=a\rb", 3),
            (b"d=a\nb", 3),
            (b"d=a\r\nb", 3),   // CRLF not followed by WSP is not FWS
            (b"d=a \r\n", 4),   // nor at the end
            (b"d=\xc3\xa9", 2), // UTF-8 is not VALCHAR
        ] {
            assert_eq!(
                parse_tag_list::<8>(input).unwrap_err(),
                TagListError::BadValueByte { offset: at },
                "{input:?}"
            );
        }
    }

    #[test]
    fn capacity_is_a_typed_error() {
        assert_eq!(
            parse_tag_list::<2>(b"a=1;b=2;c=3").unwrap_err(),
            TagListError::TooManyTags { capacity: 2 }
        );
    }

    #[test]
    fn iterator_stops_after_an_error() {
        let mut it = TagIter::new(b"a=1; 9=2; c=3");
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn every_prefix_and_every_single_byte_change_is_handled() {
        let input: &[u8] = b"v=1; a=rsa-sha256; d=example.net; s=brisbane;\r\n c=simple; q=dns/txt; i=@eng.example.net;\r\n t=1117574938; x=1118006938;\r\n h=from:to:subject:date;\r\n z=From:foo@eng.example.net|To:joe@example.com|\r\n  Subject:demo=20run|Date:July=205,=202005=203:44:08=20PM=20-0700;\r\n bh=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=;\r\n b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZ\r\n   VoG4ZHRNiYzR";
        for end in 0..=input.len() {
            let _ = parse_tag_list::<32>(input.get(..end).unwrap());
        }
        let mut copy = [0u8; 512];
        let copy = &mut copy[..input.len()];
        for i in 0..input.len() {
            for b in [0u8, b';', b'=', b' ', b'\r', b'\n', 0x80, 0xff] {
                copy.copy_from_slice(input);
                copy[i] = b;
                if let Ok(list) = parse_tag_list::<32>(copy) {
                    for t in list.tags() {
                        assert_eq!(t.value_span.get(copy).unwrap(), t.value.as_bytes());
                    }
                }
            }
        }
    }
}
