//! The changes mass makes to a message as a list host does (a subject tag,
//! a footer), each with the DKIM2 recipe that undoes it, so that the
//! chain still verifies after the list (draft-ietf-dkim-dkim2-spec-03,
//! the Message-Instance `r=` tag).
//!
//! The recipe is written with core's [`RecipeWriter`], in the form
//! mail-auth writes for the same change: `{"h":{"subject":[{"d":["Old
//! subject"]}]},"b":[{"c":[1,n]}]}`.

use std::fmt;

use mass_core::dkim2::recipe::{BodyLines, RecipeWriter, WriteError};

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
    let mut old_subjects: Vec<&[u8]> = Vec::new();
    let mut tagged = false;
    for field in &fields {
        match tag {
            Some(tag) if is_subject(field) && !tagged => {
                tagged = true;
                let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
                let value = field.get(colon + 1..).unwrap_or_default();
                let trimmed = value.trim_ascii_start();
                if trimmed.starts_with(tag.as_bytes()) {
                    out.extend_from_slice(field);
                } else {
                    old_subjects.push(value);
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
        let mut prev = 0u8;
        for &b in footer {
            if b == b'\n' && prev != b'\r' {
                out.push(b'\r');
            }
            out.push(b);
            prev = b;
        }
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
