//! The changes mass makes to a message as a list host does (a subject tag,
//! a footer), each with the DKIM2 recipe that undoes it, so that the
//! chain still verifies after the list (draft-ietf-dkim-dkim2-spec-03,
//! the Message-Instance `r=` tag).
//!
//! The recipe is written with core's [`RecipeWriter`], in the form
//! mail-auth writes for the same change: `{"h":{"subject":[{"d":["Old
//! subject"]}]},"b":[{"c":[1,n]}]}`.

use std::fmt;

use mass_core::DigestSigner;
use mass_core::canon::normalize::LineEndings;
use mass_core::dkim2::recipe::{BodyLines, RecipeWriter, WriteError};
use mass_core::dkim2::sign::SignerError;
use mass_core::dkim2::{Dkim2Signer, HopRequest};

use crate::cli::sign::{HEADER_BYTES, HEADER_FIELDS};
use crate::keys::{KeySigner, SigningKey};

/// The signer hosts run (every header field is kept: 64 KiB, 1,024 fields).
pub type HostDkim2Signer<'r> = Dkim2Signer<'r, HEADER_BYTES, HEADER_FIELDS>;

/// Why a hop could not be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopError {
    /// The core signer refused the request or the keys.
    Signer(SignerError),
    /// The message could not be taken in.
    Stream(mass_core::Error),
}

impl fmt::Display for HopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HopError::Signer(e) => write!(f, "cannot sign the DKIM2 hop: {e}"),
            HopError::Stream(e) => write!(f, "cannot sign the DKIM2 hop: {e}"),
        }
    }
}

impl std::error::Error for HopError {}

/// What to change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Revision<'a> {
    /// Put this in front of the Subject, unless it is there already.
    pub subject_tag: Option<&'a str>,
    /// Append this to the body (line ends made CRLF).
    pub footer: Option<&'a [u8]>,
}

impl Revision<'_> {
    /// True if nothing would change.
    pub fn is_empty(&self) -> bool {
        self.subject_tag.is_none_or(str::is_empty) && self.footer.is_none_or(<[u8]>::is_empty)
    }
}

/// The changed message and the recipe back to the one given.
#[derive(Debug, Clone)]
pub struct Revised {
    /// The message as it goes out (CRLF line ends).
    pub message: Vec<u8>,
    /// The recipe JSON (for `r=`, base64 on the wire).
    pub recipe: Vec<u8>,
}

/// Why a message could not be revised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviseError {
    /// The recipe could not be written.
    Recipe(WriteError),
    /// The subject tag holds a line break or a control character.
    BadTag,
}

impl fmt::Display for ReviseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReviseError::Recipe(e) => write!(f, "cannot write the recipe: {e}"),
            ReviseError::BadTag => f.write_str("the subject tag holds a control character"),
        }
    }
}

impl std::error::Error for ReviseError {}

/// The raw header fields of `message` (each without its final CRLF) and
/// where its body starts.
fn split(message: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut pos = 0;
    let mut start = 0;
    loop {
        let Some(eol) = message
            .get(pos..)
            .and_then(|rest| rest.windows(2).position(|w| w == b"\r\n"))
        else {
            if start < message.len() {
                fields.push(&message[start..]);
            }
            return (fields, message.len());
        };
        let line_end = pos + eol;
        if line_end == start {
            // The blank line.
            return (fields, line_end + 2);
        }
        let next = line_end + 2;
        if !matches!(message.get(next), Some(b' ' | b'\t')) {
            fields.push(&message[start..line_end]);
            start = next;
        }
        pos = next;
        if pos >= message.len() {
            return (fields, message.len());
        }
    }
}

fn is_subject(field: &[u8]) -> bool {
    let name_end = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    field[..name_end]
        .trim_ascii()
        .eq_ignore_ascii_case(b"subject")
}

/// Apply `revision` to `message` (CRLF line ends) and write its recipe.
pub fn revise(message: &[u8], revision: &Revision<'_>) -> Result<Revised, ReviseError> {
    let (fields, body_start) = split(message);
    let body = message.get(body_start..).unwrap_or_default();
    let tag = revision.subject_tag.filter(|t| !t.is_empty());
    if tag.is_some_and(|t| t.bytes().any(|b| b.is_ascii_control())) {
        return Err(ReviseError::BadTag);
    }
    let mut out = Vec::with_capacity(message.len() + 256);
    // Every Subject value as it was, top to bottom: the recipe gives back
    // all values of a name it mentions, not only the one that changed.
    let subjects: Vec<&[u8]> = fields
        .iter()
        .filter(|f| is_subject(f))
        .map(|f| mass_core::header::field_value(f))
        .collect();
    // The first Subject is tagged, unless it has the tag already or is not
    // UTF-8 (a draft-03 recipe holds text only: its old value could not be
    // given back).
    let taggable = subjects.first().is_some_and(|v| {
        std::str::from_utf8(v).is_ok()
            && !tag.is_some_and(|t| v.trim_ascii_start().starts_with(t.as_bytes()))
    });
    let mut old_subjects: Vec<&[u8]> = Vec::new();
    let mut tagged = false;
    for field in &fields {
        match tag {
            Some(tag) if is_subject(field) && !tagged => {
                tagged = true;
                let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
                let value = field.get(colon + 1..).unwrap_or_default();
                let trimmed = value.trim_ascii_start();
                if !taggable {
                    out.extend_from_slice(field);
                } else {
                    old_subjects.clone_from(&subjects);
                    out.extend_from_slice(&field[..=colon.min(field.len() - 1)]);
                    out.push(b' ');
                    out.extend_from_slice(tag.as_bytes());
                    out.extend_from_slice(trimmed);
                }
            }
            _ => out.extend_from_slice(field),
        }
        out.extend_from_slice(b"\r\n");
    }
    let added_subject = tag.is_some() && !tagged;
    if let Some(tag) = tag.filter(|_| added_subject) {
        out.extend_from_slice(b"Subject: ");
        out.extend_from_slice(tag.trim_end().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    let mut lines = BodyLines::new();
    lines.update(body);
    let footer = revision.footer.filter(|f| !f.is_empty());
    if let Some(footer) = footer {
        if !body.is_empty() && !body.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        let _ = LineEndings::new().update(footer, |piece| {
            out.extend_from_slice(piece);
            Ok::<(), std::convert::Infallible>(())
        });
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    let mut buf = vec![0u8; 512 + old_subjects.iter().map(|s| 2 * s.len()).sum::<usize>()];
    let recipe = loop {
        let room = buf.len();
        let mut w = RecipeWriter::new(&mut buf);
        let written = (|| {
            if !old_subjects.is_empty() || added_subject {
                w.header(b"subject")?;
                if !old_subjects.is_empty() {
                    // Bottom-up, as the recipe numbers values.
                    w.header_data(old_subjects.iter().rev().copied())?;
                }
            }
            if footer.is_some() {
                w.body_first_lines(lines.lines())?;
            }
            Ok::<(), WriteError>(())
        })();
        written.map_err(ReviseError::Recipe)?;
        match w.finish() {
            Ok(json) => break json.to_vec(),
            Err(WriteError::BufferTooSmall { required }) if required > room => {
                buf.resize(required, 0);
            }
            Err(e) => return Err(ReviseError::Recipe(e)),
        }
    };
    Ok(Revised {
        message: out,
        recipe,
    })
}

/// A body's lines as a recipe numbers them: split at LF, a CR before it
/// dropped, a last empty piece (the body ends with a line break) dropped.
fn body_lines(body: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// A header value in relaxed form (RFC 6376 §3.4.2): unfolded, runs of
/// whitespace as one space, trimmed. Two values that differ only in these
/// hash the same, so they need no recipe.
fn relaxed_value(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut space = false;
    for &b in value.trim_ascii() {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(b' ');
            }
            space = false;
            out.push(b);
        }
    }
    out
}

/// The signed fields of a header block by lower-case name, each name's
/// values top to bottom.
fn signed_values<'m>(fields: &[&'m [u8]]) -> std::collections::BTreeMap<String, Vec<&'m [u8]>> {
    let mut map: std::collections::BTreeMap<String, Vec<&[u8]>> = Default::default();
    for field in fields {
        let name = mass_core::header::field_name(field);
        if mass_core::dkim2::hash::is_unsigned_field(name) {
            continue;
        }
        map.entry(String::from_utf8_lossy(name).to_ascii_lowercase())
            .or_default()
            .push(mass_core::header::field_value(field));
    }
    map
}

/// The recipe that turns `exit` back into `arrival` (whole messages, CRLF
/// line ends), as a list host's mass writes it when the list software
/// changed the message between them; `None` when nothing that DKIM2
/// hashes changed. Header names whose values changed get their arrival
/// values back as data; the body keeps its common first and last lines as
/// copies and gets the arrival lines between back as data (a footer, a
/// banner, an edit). A body change whose old lines are not UTF-8 cannot be
/// written as JSON text: the recipe says `"b":null`, and verifiers stop at
/// this hop.
pub fn recipe_between(arrival: &[u8], exit: &[u8]) -> Result<Option<Vec<u8>>, ReviseError> {
    let (a_fields, a_body) = split(arrival);
    let (e_fields, e_body) = split(exit);
    let (a_map, e_map) = (signed_values(&a_fields), signed_values(&e_fields));
    let mut names: Vec<&String> = a_map.keys().chain(e_map.keys()).collect();
    names.sort();
    names.dedup();
    let changed: Vec<&String> = names
        .into_iter()
        .filter(|n| {
            let relaxed = |m: &std::collections::BTreeMap<String, Vec<&[u8]>>| {
                m.get(*n)
                    .map(|v| v.iter().map(|x| relaxed_value(x)).collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            relaxed(&a_map) != relaxed(&e_map)
        })
        .collect();
    let a_body = arrival.get(a_body..).unwrap_or_default();
    let e_body = exit.get(e_body..).unwrap_or_default();
    let body_changed = a_body != e_body;
    if changed.is_empty() && !body_changed {
        return Ok(None);
    }
    let (a_lines, e_lines) = (body_lines(a_body), body_lines(e_body));
    let most = a_lines.len().min(e_lines.len());
    let prefix = a_lines
        .iter()
        .zip(&e_lines)
        .take_while(|(a, e)| a == e)
        .count();
    let suffix = a_lines
        .iter()
        .rev()
        .zip(e_lines.iter().rev())
        .take(most - prefix)
        .take_while(|(a, e)| a == e)
        .count();
    let middle = &a_lines[prefix..a_lines.len() - suffix];
    let text_ok = middle.iter().all(|l| std::str::from_utf8(l).is_ok());
    let mut buf = vec![0u8; 256 + arrival.len() * 2];
    loop {
        let room = buf.len();
        let mut w = RecipeWriter::new(&mut buf);
        let written = (|| {
            for name in &changed {
                w.header(name.as_bytes())?;
                let values = a_map.get(*name).map(Vec::as_slice).unwrap_or_default();
                if !values.is_empty() {
                    w.header_data(values.iter().rev().copied())?;
                }
            }
            if body_changed {
                if !text_ok {
                    w.body_unreconstructable()?;
                } else {
                    w.body()?;
                    let to_u32 = |n: usize| u32::try_from(n).map_err(|_| WriteError::TooManyLines);
                    if prefix > 0 {
                        w.copy(1, to_u32(prefix)?)?;
                    }
                    if !middle.is_empty() {
                        w.data(middle.iter().copied())?;
                    }
                    if suffix > 0 {
                        let end = to_u32(e_lines.len())?;
                        w.copy(end - to_u32(suffix)? + 1, end)?;
                    }
                }
            }
            Ok::<(), WriteError>(())
        })();
        written.map_err(ReviseError::Recipe)?;
        match w.finish() {
            Ok(json) => return Ok(Some(json.to_vec())),
            Err(WriteError::BufferTooSmall { required }) if required > room => {
                buf.resize(required, 0);
            }
            Err(e) => return Err(ReviseError::Recipe(e)),
        }
    }
}

/// Sign `message` (CRLF line ends) for `request` with `keys`; return the
/// new header fields (the DKIM2-Signature, then the Message-Instance when
/// the hop adds one), each without a final CRLF, to put on top of it.
pub fn sign_hop(
    request: &HopRequest<'_>,
    message: &[u8],
    keys: &[&SigningKey],
) -> Result<Vec<Vec<u8>>, HopError> {
    let mut signer = Box::new(HostDkim2Signer::new(request).map_err(HopError::Signer)?);
    signer.update(message).map_err(HopError::Stream)?;
    let mut signers: Vec<KeySigner<'_>> = keys.iter().map(|k| KeySigner::new(k)).collect();
    let selectors: Vec<&str> = keys.iter().map(|k| k.selector()).collect();
    let mut pairs: Vec<(&str, &mut dyn DigestSigner)> = selectors
        .iter()
        .copied()
        .zip(signers.iter_mut().map(|s| s as &mut dyn DigestSigner))
        .collect();
    let mut buf = vec![0u8; 4096];
    let hop = loop {
        match signer.finish(&mut pairs, &mut buf) {
            Ok(hop) => break hop,
            Err(SignerError::BufferTooSmall { required }) if required > buf.len() => {
                buf.resize(required, 0);
            }
            Err(e) => return Err(HopError::Signer(e)),
        }
    };
    Ok([Some(hop.signature), hop.instance]
        .into_iter()
        .flatten()
        .map(|span| span.get(&buf).unwrap_or_default().to_vec())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] =
        b"From: a@a.example\r\nSubject: Hello\r\n  there\r\nTo: l@l.example\r\n\r\nLine one.\r\nLine two.\r\n";

    #[test]
    fn a_subject_tag_and_a_footer_with_their_recipe() {
        let r = revise(
            MESSAGE,
            &Revision {
                subject_tag: Some("[list] "),
                footer: Some(b"-- \nThe list\n"),
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(r.message).unwrap(),
            "From: a@a.example\r\nSubject: [list] Hello\r\n  there\r\nTo: l@l.example\r\n\r\n\
             Line one.\r\nLine two.\r\n-- \r\nThe list\r\n"
        );
        assert_eq!(
            String::from_utf8(r.recipe).unwrap(),
            r#"{"h":{"subject":[{"d":["Hello  there"]}]},"b":[{"c":[1,2]}]}"#
        );
    }

    /// What a list did between arrival and exit (a tag, a footer, a list
    /// header) comes back as a recipe equal to the one mass writes when it
    /// makes the change itself, plus the added header removed.
    #[test]
    fn the_recipe_between_arrival_and_exit() {
        let exit = b"From: a@a.example\r\nSubject: [list] Hello\r\n  there\r\nTo: l@l.example\r\n\
                     List-Id: <l.l.example>\r\nX-Loop: l\r\n\r\nLine one.\r\nLine two.\r\n-- \r\nThe list\r\n";
        let recipe = recipe_between(MESSAGE, exit).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(recipe).unwrap(),
            r#"{"h":{"list-id":[],"subject":[{"d":["Hello  there"]}]},"b":[{"c":[1,2]}]}"#
        );
        assert_eq!(recipe_between(MESSAGE, MESSAGE).unwrap(), None);
        // A banner on top and an edit in the middle.
        let a = b"From: a\r\n\r\none\r\ntwo\r\nthree\r\n";
        let e = b"From: a\r\n\r\nBANNER\r\none\r\n2\r\nthree\r\n";
        assert_eq!(
            String::from_utf8(recipe_between(a, e).unwrap().unwrap()).unwrap(),
            r#"{"b":[{"d":["one","two"]},{"c":[4,4]}]}"#
        );
    }

    /// With two Subject fields, the recipe gives both back; a Subject that
    /// is not UTF-8 is left untagged (its old value could not be written).
    #[test]
    fn every_subject_comes_back() {
        let two = b"Subject: one\r\nSubject: two\r\n\r\nbody\r\n";
        let r = revise(
            two,
            &Revision {
                subject_tag: Some("[l] "),
                footer: None,
            },
        )
        .unwrap();
        assert!(
            r.message
                .starts_with(b"Subject: [l] one\r\nSubject: two\r\n")
        );
        assert_eq!(
            String::from_utf8(r.recipe).unwrap(),
            r#"{"h":{"subject":[{"d":["two","one"]}]}}"#
        );
        let latin1 = b"Subject: caf\xe9\r\n\r\nbody\r\n";
        let r = revise(
            latin1,
            &Revision {
                subject_tag: Some("[l] "),
                footer: None,
            },
        )
        .unwrap();
        assert_eq!(r.message, latin1);
        assert_eq!(r.recipe, b"{}");
    }

    #[test]
    fn a_tag_already_there_is_not_added_twice() {
        let once = revise(
            MESSAGE,
            &Revision {
                subject_tag: Some("[list] "),
                footer: None,
            },
        )
        .unwrap();
        let twice = revise(
            &once.message,
            &Revision {
                subject_tag: Some("[list] "),
                footer: None,
            },
        )
        .unwrap();
        assert_eq!(once.message, twice.message);
        assert_eq!(twice.recipe, b"{}");
    }
}
