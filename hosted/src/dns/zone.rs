//! A reader for the subset of the master-file format (RFC 1035 §5.1) that
//! `mass verify --zone FILE` takes key records from:
//!
//! ```text
//! ; comment
//! sel._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=ed25519; "
//!                                        "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
//! other._domainkey.example.com IN TXT ( "v=DKIM1; p=MIIB"   ; parentheses
//!                                       "IjANBgkq..." )     ; span lines
//! ```
//!
//! - Each record is `name [ttl] [class] TXT string...`; TTL and class (only
//!   `IN`) may come in either order. A line that starts with a blank reuses
//!   the previous owner name.
//! - Strings are quoted (`"..."`) or bare words, with the escapes `\"`, `\\`,
//!   `\X` and `\DDD` (a byte in decimal).
//! - `;` starts a comment; `(` and `)` let one record span lines.
//! - Names are absolute whether or not they end in a dot, and are matched
//!   case-insensitively. `@`, `$ORIGIN` and `$INCLUDE` are refused; `$TTL`
//!   is accepted and ignored.
//! - A string may be longer than the 255 bytes a DNS character-string can
//!   hold: the strings of a record are joined anyway (RFC 6376 §3.6.2.2).
//!
//! Every error names the line it is on.

use std::fmt;

/// One TXT record read from a zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    /// The owner name, ASCII lower case, without a final dot.
    pub name: String,
    /// The character-strings, unescaped, in order.
    pub strings: Vec<Vec<u8>>,
    /// The line the record starts on (1-based).
    pub line: usize,
}

impl ZoneRecord {
    /// The strings joined with nothing between them (RFC 6376 §3.6.2.2).
    pub fn data(&self) -> Vec<u8> {
        self.strings.concat()
    }
}

/// A zone file that is not in the subset we read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    /// The line the problem is on (1-based).
    pub line: usize,
    /// What is wrong.
    pub kind: ZoneErrorKind,
}

/// What is wrong with a zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZoneErrorKind {
    /// A quoted string has no closing quote on its line.
    UnterminatedString,
    /// A `\` at the end of input, or `\DDD` above 255 or with fewer than 3 digits.
    BadEscape,
    /// A `)` with no `(` before it.
    UnbalancedClose,
    /// A `(` never closed; the error names the line it was opened on.
    UnclosedParenthesis,
    /// A line starts with a blank but there is no previous owner name.
    NoPreviousOwner,
    /// The owner name is missing, quoted, or not a plain domain name.
    BadOwnerName(String),
    /// A `$` directive other than `$TTL`.
    UnsupportedDirective(String),
    /// A class other than `IN`.
    UnsupportedClass(String),
    /// A record type other than `TXT`.
    UnsupportedType(String),
    /// The record ends before its type.
    MissingType,
    /// A TXT record with no strings.
    NoStrings,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zone file line {}: ", self.line)?;
        match &self.kind {
            ZoneErrorKind::UnterminatedString => f.write_str("quoted string has no closing quote"),
            ZoneErrorKind::BadEscape => {
                f.write_str("bad escape (use \\\" \\\\ \\X or \\DDD with DDD at most 255)")
            }
            ZoneErrorKind::UnbalancedClose => f.write_str("')' without '('"),
            ZoneErrorKind::UnclosedParenthesis => f.write_str("'(' opened here is never closed"),
            ZoneErrorKind::NoPreviousOwner => {
                f.write_str("line starts with a blank but no owner name came before")
            }
            ZoneErrorKind::BadOwnerName(name) => write!(f, "bad owner name {name:?}"),
            ZoneErrorKind::UnsupportedDirective(d) => {
                write!(f, "directive {d} is not supported (only $TTL)")
            }
            ZoneErrorKind::UnsupportedClass(c) => write!(f, "class {c} is not supported (only IN)"),
            ZoneErrorKind::UnsupportedType(t) => {
                write!(f, "record type {t} is not supported (only TXT)")
            }
            ZoneErrorKind::MissingType => f.write_str("record has no type (expected TXT)"),
            ZoneErrorKind::NoStrings => f.write_str("TXT record has no strings"),
        }
    }
}

impl std::error::Error for ZoneError {}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(Vec<u8>),
    Quoted(Vec<u8>),
}

/// One record's worth of tokens: a logical line (parentheses joined).
#[derive(Debug, Default)]
struct Entry {
    line: usize,
    starts_with_blank: bool,
    tokens: Vec<Token>,
}

fn err(line: usize, kind: ZoneErrorKind) -> ZoneError {
    ZoneError { line, kind }
}

/// Splits the text into logical lines of tokens, handling comments, quotes,
/// escapes and parentheses (RFC 1035 §5.1).
fn tokenize(text: &[u8]) -> Result<Vec<Entry>, ZoneError> {
    let mut entries = Vec::new();
    let mut entry = Entry {
        line: 1,
        ..Entry::default()
    };
    let mut line = 1;
    let mut at_line_start = true;
    let mut open_paren_line = None;
    let mut depth = 0usize;
    let mut pos = 0;
    while let Some(&byte) = text.get(pos) {
        match byte {
            b'\n' => {
                line += 1;
                pos += 1;
                if depth == 0 {
                    if !entry.tokens.is_empty() {
                        entries.push(std::mem::take(&mut entry));
                    }
                    entry = Entry {
                        line,
                        ..Entry::default()
                    };
                    at_line_start = true;
                }
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                if at_line_start && depth == 0 && entry.tokens.is_empty() && byte != b'\r' {
                    entry.starts_with_blank = true;
                }
                pos += 1;
            }
            b';' => {
                while text.get(pos).is_some_and(|&b| b != b'\n') {
                    pos += 1;
                }
            }
            b'(' => {
                if depth == 0 {
                    open_paren_line = Some(line);
                }
                depth += 1;
                pos += 1;
            }
            b')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or(err(line, ZoneErrorKind::UnbalancedClose))?;
                pos += 1;
            }
            b'"' => {
                pos += 1;
                let mut value = Vec::new();
                loop {
                    match text.get(pos) {
                        None | Some(b'\n') => {
                            return Err(err(line, ZoneErrorKind::UnterminatedString));
                        }
                        Some(b'"') => {
                            pos += 1;
                            break;
                        }
                        Some(b'\\') => pos = unescape(text, pos, line, &mut value)?,
                        Some(&b) => {
                            value.push(b);
                            pos += 1;
                        }
                    }
                }
                entry.tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut value = Vec::new();
                while let Some(&b) = text.get(pos) {
                    match b {
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                        b'\\' => pos = unescape(text, pos, line, &mut value)?,
                        _ => {
                            value.push(b);
                            pos += 1;
                        }
                    }
                }
                entry.tokens.push(Token::Word(value));
            }
        }
        at_line_start = at_line_start && matches!(byte, b' ' | b'\t' | b'\r');
    }
    if depth > 0 {
        return Err(err(
            open_paren_line.unwrap_or(line),
            ZoneErrorKind::UnclosedParenthesis,
        ));
    }
    if !entry.tokens.is_empty() {
        entries.push(entry);
    }
    Ok(entries)
}

/// Decodes the escape starting at `text[pos] == b'\\'` into `out`; returns
/// the position after it. `\DDD` is a byte in decimal; `\X` is X itself.
fn unescape(text: &[u8], pos: usize, line: usize, out: &mut Vec<u8>) -> Result<usize, ZoneError> {
    let bad = || err(line, ZoneErrorKind::BadEscape);
    let first = *text.get(pos + 1).ok_or_else(bad)?;
    if first.is_ascii_digit() {
        let digits = text.get(pos + 1..pos + 4).ok_or_else(bad)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let value = digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        out.push(u8::try_from(value).map_err(|_| bad())?);
        Ok(pos + 4)
    } else if first == b'\n' {
        Err(bad())
    } else {
        out.push(first);
        Ok(pos + 2)
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks an owner name and puts it in the form names are compared in.
fn owner_name(token: &Token, line: usize) -> Result<String, ZoneError> {
    let bytes = match token {
        Token::Word(bytes) => bytes,
        Token::Quoted(bytes) => {
            return Err(err(line, ZoneErrorKind::BadOwnerName(lossy(bytes))));
        }
    };
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|name| crate::dns::check_domain_name(name).is_ok())
        .ok_or_else(|| err(line, ZoneErrorKind::BadOwnerName(lossy(bytes))))?;
    Ok(crate::dns::normalize_name(text))
}

/// Parses zone-file text into its TXT records, in file order.
pub fn parse(text: &[u8]) -> Result<Vec<ZoneRecord>, ZoneError> {
    let mut records = Vec::new();
    let mut previous_owner: Option<String> = None;
    for entry in tokenize(text)? {
        let line = entry.line;
        let mut tokens = entry.tokens.iter().peekable();
        let name = if entry.starts_with_blank {
            previous_owner
                .clone()
                .ok_or(err(line, ZoneErrorKind::NoPreviousOwner))?
        } else {
            let Some(first) = tokens.next() else {
                continue;
            };
            if let Token::Word(word) = first
                && word.first() == Some(&b'$')
            {
                if word.eq_ignore_ascii_case(b"$TTL") {
                    continue;
                }
                return Err(err(line, ZoneErrorKind::UnsupportedDirective(lossy(word))));
            }
            owner_name(first, line)?
        };
        previous_owner = Some(name.clone());

        // [ttl] [class] in either order, then the type.
        let mut seen_ttl = false;
        let mut seen_class = false;
        let rtype = loop {
            let Some(Token::Word(word)) = tokens.next() else {
                return Err(err(line, ZoneErrorKind::MissingType));
            };
            if !seen_ttl && !word.is_empty() && word.iter().all(u8::is_ascii_digit) {
                seen_ttl = true;
            } else if !seen_class && word.eq_ignore_ascii_case(b"IN") {
                seen_class = true;
            } else if !seen_class
                && ["CH", "CS", "HS", "ANY"]
                    .iter()
                    .any(|c| word.eq_ignore_ascii_case(c.as_bytes()))
            {
                return Err(err(line, ZoneErrorKind::UnsupportedClass(lossy(word))));
            } else {
                break word;
            }
        };
        if !rtype.eq_ignore_ascii_case(b"TXT") {
            return Err(err(line, ZoneErrorKind::UnsupportedType(lossy(rtype))));
        }
        let strings: Vec<Vec<u8>> = tokens
            .map(|token| match token {
                Token::Word(bytes) | Token::Quoted(bytes) => bytes.clone(),
            })
            .collect();
        if strings.is_empty() {
            return Err(err(line, ZoneErrorKind::NoStrings));
        }
        records.push(ZoneRecord {
            name,
            strings,
            line,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> ZoneRecord {
        let mut records = parse(text.as_bytes()).unwrap();
        assert_eq!(records.len(), 1, "{records:?}");
        records.remove(0)
    }

    fn error(text: &str) -> ZoneError {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn plain_record() {
        let r = one("sel._domainkey.example.com. IN TXT \"v=DKIM1; p=abc\"\n");
        assert_eq!(r.name, "sel._domainkey.example.com");
        assert_eq!(r.strings, vec![b"v=DKIM1; p=abc".to_vec()]);
        assert_eq!(r.line, 1);
    }

    #[test]
    fn ttl_and_class_are_optional_and_in_either_order() {
        for text in [
            "a.example TXT \"x\"",
            "a.example 300 TXT \"x\"",
            "a.example IN TXT \"x\"",
            "a.example 300 IN TXT \"x\"",
            "a.example IN 300 TXT \"x\"",
            "a.example in 300 txt \"x\"",
        ] {
            let r = one(text);
            assert_eq!(
                (r.name.as_str(), r.data()),
                ("a.example", b"x".to_vec()),
                "{text}"
            );
        }
    }

    /// RFC 6376 §3.6.2.2: the strings of one record are joined with nothing
    /// between them (security case 12).
    #[test]
    fn several_strings_join_without_spaces() {
        let r = one("k.example. IN TXT \"v=DKIM1; \" \"k=rsa; \"   \"p=AB\" \"CD\"");
        assert_eq!(r.strings.len(), 4);
        assert_eq!(r.data(), b"v=DKIM1; k=rsa; p=ABCD");
    }

    #[test]
    fn parentheses_span_lines_and_comments_are_skipped() {
        let text = "; a key\n\
                    k.example. 3600 IN TXT ( \"v=DKIM1; \" ; first part\n\
                    \t\"p=AB\"   ; second\n\
                    \t\"CD\" )\n\
                    ; the end\n\
                    other.example TXT \"y\"\n";
        let records = parse(text.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].data(), b"v=DKIM1; p=ABCD");
        assert_eq!(records[0].line, 2);
        assert_eq!(records[1].name, "other.example");
        assert_eq!(records[1].line, 6);
    }

    #[test]
    fn escapes_in_quoted_strings() {
        let r = one(r#"e.example TXT "a\"b" "c\\d" "\059\032x" "\;""#);
        assert_eq!(r.strings[0], b"a\"b");
        assert_eq!(r.strings[1], b"c\\d");
        assert_eq!(r.strings[2], b"; x");
        assert_eq!(r.strings[3], b";");
    }

    #[test]
    fn semicolon_and_parenthesis_inside_quotes_are_data() {
        let r = one("e.example TXT \"v=DKIM1; (not a comment)\" ; real comment");
        assert_eq!(r.data(), b"v=DKIM1; (not a comment)");
    }

    #[test]
    fn bare_words_are_strings_too() {
        let r = one("e.example TXT v=DKIM1; comment");
        assert_eq!(r.data(), b"v=DKIM1");
    }

    #[test]
    fn names_are_case_insensitive_with_or_without_final_dot() {
        let records =
            parse(b"Sel._DomainKey.EXAMPLE.com. TXT \"a\"\nsel._domainkey.example.com TXT \"b\"\n")
                .unwrap();
        assert_eq!(records[0].name, records[1].name);
    }

    #[test]
    fn blank_start_reuses_previous_owner() {
        let records = parse(b"k.example TXT \"one\"\n   TXT \"two\"\n").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].name, "k.example");
        assert_eq!(records[1].data(), b"two");
    }

    #[test]
    fn crlf_line_ends_and_ttl_directive() {
        let records =
            parse(b"$TTL 3600\r\nk.example TXT \"a\"\r\n\r\nj.example TXT \"b\"\r\n").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].line, 4);
    }

    #[test]
    fn empty_and_comment_only_files_have_no_records() {
        assert!(parse(b"").unwrap().is_empty());
        assert!(parse(b"; nothing\n\n   \n").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let e = error("a.example TXT \"ok\"\nb.example TXT \"no end\n");
        assert_eq!(e, err(2, ZoneErrorKind::UnterminatedString));
        assert!(e.to_string().starts_with("zone file line 2:"), "{e}");

        let e = error("a.example TXT \"ok\"\n\nb.example TXT ( \"x\"\n \"y\"\n");
        assert_eq!(e, err(3, ZoneErrorKind::UnclosedParenthesis));

        assert_eq!(
            error("a.example TXT \"x\" )"),
            err(1, ZoneErrorKind::UnbalancedClose)
        );
        assert_eq!(
            error("\n a.example TXT \"x\""),
            err(2, ZoneErrorKind::NoPreviousOwner)
        );
        assert_eq!(
            error("a.example IN A 192.0.2.1"),
            err(1, ZoneErrorKind::UnsupportedType("A".into()))
        );
        assert_eq!(
            error("a.example CH TXT \"x\""),
            err(1, ZoneErrorKind::UnsupportedClass("CH".into()))
        );
        assert_eq!(
            error("a.example 300 IN"),
            err(1, ZoneErrorKind::MissingType)
        );
        assert_eq!(
            error("a.example TXT ; none"),
            err(1, ZoneErrorKind::NoStrings)
        );
        assert_eq!(
            error("$ORIGIN example.com."),
            err(1, ZoneErrorKind::UnsupportedDirective("$ORIGIN".into()))
        );
        assert_eq!(
            error("@ TXT \"x\""),
            err(1, ZoneErrorKind::BadOwnerName("@".into()))
        );
        assert_eq!(
            error("\"q.example\" TXT \"x\""),
            err(1, ZoneErrorKind::BadOwnerName("q.example".into()))
        );
        assert_eq!(
            error(r#"a.example TXT "\256""#),
            err(1, ZoneErrorKind::BadEscape)
        );
        assert_eq!(
            error(r#"a.example TXT "\25""#),
            err(1, ZoneErrorKind::BadEscape)
        );
        assert_eq!(error("a.example TXT x\\"), err(1, ZoneErrorKind::BadEscape));
    }

    #[test]
    fn owner_names_with_strange_bytes_are_refused() {
        assert!(matches!(
            error("a\\000.example TXT \"x\"").kind,
            ZoneErrorKind::BadOwnerName(_)
        ));
        assert!(matches!(
            error("a'b.example TXT \"x\"").kind,
            ZoneErrorKind::BadOwnerName(_)
        ));
    }

    #[test]
    fn keygen_style_output_parses() {
        // The form `mass keygen` prints: one line, strings of at most 255 bytes.
        let p = "A".repeat(300);
        let text = format!(
            "s._domainkey.example.com. IN TXT \"v=DKIM1; k=rsa; p={}\" \"{}\"\n",
            &p[..240],
            &p[240..]
        );
        let r = one(&text);
        assert_eq!(r.data(), format!("v=DKIM1; k=rsa; p={p}").into_bytes());
    }
}
