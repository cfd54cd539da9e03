//! Authentication-Results (RFC 8601) for DKIM verdicts.
//!
//! - [`write_field`] writes the field a verifier adds: the authserv-id, then one
//!   `dkim=<result>` per signature with `header.d`, `header.s`, `header.a` and
//!   `header.b` (RFC 6008), and an optional `reason=`. Every value is written as
//!   an RFC 2045 token when it is one and as an RFC 5322 quoted-string
//!   otherwise, so a hostile `d=` such as `legit.com(.attack.com` or
//!   `x"; dkim=pass` cannot add results of its own (security case 6).
//! - [`claims_authserv_id`] tells whether an existing field claims an
//!   authserv-id, parsing the leading CFWS and the value the way RFC 8601 §2.2
//!   says, and [`own_fields_to_delete`] lists such fields in the order a milter
//!   must delete them (security case 7, CVE-2022-48521).
//! - [`write_json`] gives the same data as one JSON object per line per
//!   signature.

mod arc;
mod dkim2;
pub mod domainkeys;

pub use arc::{arc_entry, arc_fail_entry, arc_json};
pub use dkim2::{dkim2_entry, dkim2_json};

use mass_core::dkim::verify::{Verdict, Verification};
use serde::Serialize;

/// The field name, as written.
pub const FIELD_NAME: &str = "Authentication-Results";

/// Lines are folded before they pass this many bytes where that is possible
/// (RFC 5322 §2.1.1 "SHOULD be no more than 78").
const FOLD_WIDTH: usize = 78;

/// A value taken from the message is cut to this many characters before it is
/// written, so no line can reach the 998-byte limit of RFC 5322 §2.1.1.
const MAX_VALUE_CHARS: usize = 255;

/// `header.b` shows at least this many characters of `b=` (RFC 6008 §4).
const MIN_HEADER_B_CHARS: usize = 8;

/// A result for the `dkim` method (RFC 8601 §2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DkimResult {
    /// The message was not signed.
    None,
    /// The signature verified.
    Pass,
    /// The signature or body hash did not verify, or the key was revoked.
    Fail,
    /// The signature verified but local policy refuses it.
    Policy,
    /// The signature could not be judged (for example a test-mode key).
    Neutral,
    /// A failure that may go away, such as a DNS timeout.
    Temperror,
    /// A failure that will not go away: bad syntax, no key, unsupported.
    Permerror,
}

impl DkimResult {
    /// The result keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Policy => "policy",
            Self::Neutral => "neutral",
            Self::Temperror => "temperror",
            Self::Permerror => "permerror",
        }
    }
}

impl std::fmt::Display for DkimResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one DKIM-Signature produced. The tag values are copied from the
/// signature as they are (bytes that are not UTF-8 replaced by U+FFFD); the
/// writers take care of quoting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureResult {
    /// The verdict.
    pub result: Option<DkimResult>,
    /// Why, in words (written as `reason=`).
    pub reason: Option<String>,
    /// `d=`
    pub domain: Option<String>,
    /// `s=`
    pub selector: Option<String>,
    /// `a=`
    pub algorithm: Option<String>,
    /// `b=`, whole or at least its start; folding whitespace is ignored.
    pub signature: Option<String>,
}

impl SignatureResult {
    fn result(&self) -> DkimResult {
        self.result.unwrap_or(DkimResult::Permerror)
    }
}

/// The Authentication-Results word for a core verdict (RFC 8601 §2.7.1).
pub fn dkim_result(verdict: Verdict) -> DkimResult {
    match verdict {
        Verdict::Pass => DkimResult::Pass,
        Verdict::Fail => DkimResult::Fail,
        Verdict::Neutral => DkimResult::Neutral,
        Verdict::Policy => DkimResult::Policy,
        Verdict::TempError => DkimResult::Temperror,
        _ => DkimResult::Permerror,
    }
}

/// The core verifier's results as this module writes them: the verdict, a
/// reason unless it passed, and `header.d`/`.s`/`.a`/`.b` where the core
/// found them valid. `mass verify` and the milter both use it.
pub fn signature_results<const B: usize, const F: usize, const S: usize>(
    verification: &Verification<B, F, S>,
) -> Vec<SignatureResult> {
    verification
        .results()
        .map(|r| SignatureResult {
            result: Some(dkim_result(r.verdict)),
            reason: (r.verdict != Verdict::Pass).then(|| r.reason.to_string()),
            domain: r.domain.map(str::to_owned),
            selector: r.selector.map(str::to_owned),
            algorithm: r.algorithm.map(|a| a.as_str().to_owned()),
            signature: (!r.b_prefix.is_empty()).then(|| r.b_prefix.to_string()),
        })
        .collect()
}

/// True if `c` may appear in an RFC 2045 token: US-ASCII, not a control, not
/// a space, not a tspecial.
fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)
}

/// Cuts `value` to [`MAX_VALUE_CHARS`] characters.
fn capped(value: &str) -> &str {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((end, _)) => value.get(..end).unwrap_or(value),
        None => value,
    }
}

/// Writes `value` as an RFC 2045 token if it is one, otherwise as an RFC 5322
/// quoted-string (RFC 8601 §2.2 `value`). In the quoted form `"` and `\` are
/// escaped as quoted-pairs, and anything that is not printable US-ASCII or a
/// space (controls, CR, LF, NUL, non-ASCII) becomes `?`: such bytes have no
/// place in a header field we write.
fn push_value(out: &mut String, value: &str) {
    let value = capped(value);
    if !value.is_empty() && value.chars().all(is_token_char) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

fn value_string(value: &str) -> String {
    let mut out = String::new();
    push_value(&mut out, value);
    out
}

/// `b=` without folding whitespace.
fn compact_b(b: &str) -> String {
    b.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

/// For each signature, the start of its `b=` to show as `header.b`: at least
/// [`MIN_HEADER_B_CHARS`] characters, more if needed to tell it apart from the
/// other signatures in the same field (RFC 6008 §4).
fn header_b_prefixes(results: &[SignatureResult]) -> Vec<Option<String>> {
    let all: Vec<Option<Vec<char>>> = results
        .iter()
        .map(|r| {
            r.signature
                .as_deref()
                .map(|b| compact_b(b).chars().collect())
        })
        .collect();
    all.iter()
        .enumerate()
        .map(|(i, mine)| {
            let mine = mine.as_ref()?;
            let needed = all
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, other)| other.as_ref())
                .map(|other| mine.iter().zip(other).take_while(|(a, b)| a == b).count() + 1)
                .fold(MIN_HEADER_B_CHARS, usize::max);
            Some(mine.iter().take(needed).collect())
        })
        .collect()
}

/// Lays out words on lines of at most [`FOLD_WIDTH`] bytes where possible.
struct Folder<'a> {
    out: String,
    fold: &'a str,
    line_len: usize,
}

impl<'a> Folder<'a> {
    fn new(start: &str, fold: &'a str) -> Self {
        Self {
            out: start.to_owned(),
            fold,
            line_len: start.len(),
        }
    }

    fn indent_len(&self) -> usize {
        let after_break = self.fold.rfind('\n').map_or(0, |i| i + 1);
        self.fold.len().saturating_sub(after_break)
    }

    /// Starts a new line, then writes `word`.
    fn push_on_new_line(&mut self, word: &str) {
        self.out.push_str(self.fold);
        self.out.push_str(word);
        self.line_len = self.indent_len() + word.len();
    }

    /// Writes a space and `word`, or a fold and `word` if the line would
    /// grow too long.
    fn push_word(&mut self, word: &str) {
        if self.line_len + 1 + word.len() > FOLD_WIDTH {
            self.push_on_new_line(word);
        } else {
            self.out.push(' ');
            self.out.push_str(word);
            self.line_len += 1 + word.len();
        }
    }

    fn push_str(&mut self, text: &str) {
        self.out.push_str(text);
        self.line_len += text.len();
    }
}

/// Writes the whole field, `Authentication-Results: ...`, without a final
/// line break. `fold` is what goes between lines: `"\r\n\t"` in a message,
/// `"\n\t"` where the caller uses bare LF (a milter's `smfi_insheader`).
/// No signatures gives `dkim=none` (RFC 8601 §2.7.1).
///
/// ```text
/// Authentication-Results: mx.example.org;
///     dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256
///     header.b=dzdVyOfA
/// ```
pub fn write_field(authserv_id: &str, results: &[SignatureResult], fold: &str) -> String {
    let mut folder = Folder::new(FIELD_NAME, fold);
    folder.push_str(":");
    folder.push_word(&value_string(authserv_id));
    folder.push_str(";");
    if results.is_empty() {
        folder.push_word("dkim=none");
        return folder.out;
    }
    let prefixes = header_b_prefixes(results);
    for (index, (result, b_prefix)) in results.iter().zip(prefixes).enumerate() {
        if index > 0 {
            folder.push_str(";");
        }
        folder.push_on_new_line(&format!("dkim={}", result.result()));
        if let Some(reason) = &result.reason {
            folder.push_word(&format!("reason={}", value_string(reason)));
        }
        let properties = [
            ("header.d", result.domain.as_deref()),
            ("header.s", result.selector.as_deref()),
            ("header.a", result.algorithm.as_deref()),
            ("header.b", b_prefix.as_deref()),
        ];
        for (name, value) in properties {
            if let Some(value) = value {
                folder.push_word(&format!("{name}={}", value_string(value)));
            }
        }
    }
    folder.out
}

/// Append one more resinfo (`method=result ...`) to a written field: a
/// `;`, then its words folded between words at 78 columns (RFC 5322
/// §2.1.1), starting on a new line; the fold string counts as the start of
/// a new line.
pub fn append_resinfo(field: &mut String, resinfo: &str, fold: &str) {
    field.push(';');
    let mut line = 0usize;
    for (i, word) in resinfo.split(' ').enumerate() {
        if i == 0 || line + 1 + word.len() > 78 {
            field.push_str(fold);
            line = fold.trim_start_matches(['\r', '\n']).len() * 8;
        } else {
            field.push(' ');
            line += 1;
        }
        field.push_str(word);
        line += word.len();
    }
}

/// One JSON object per signature, as [`write_json`] writes it.
#[derive(Debug, Serialize)]
struct JsonResult<'a> {
    authserv_id: &'a str,
    method: &'static str,
    result: DkimResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(rename = "header.d", skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(rename = "header.s", skip_serializing_if = "Option::is_none")]
    selector: Option<&'a str>,
    #[serde(rename = "header.a", skip_serializing_if = "Option::is_none")]
    algorithm: Option<&'a str>,
    #[serde(rename = "header.b", skip_serializing_if = "Option::is_none")]
    b: Option<String>,
}

/// The same data as [`write_field`], as JSON lines: one object per signature,
/// each followed by `\n`; with no signatures, one object with result `none`.
/// Keys: `authserv_id`, `method` (`dkim`), `result`, and when known `reason`,
/// `header.d`, `header.s`, `header.a`, `header.b`.
pub fn write_json(authserv_id: &str, results: &[SignatureResult]) -> String {
    let none = [SignatureResult {
        result: Some(DkimResult::None),
        ..SignatureResult::default()
    }];
    let results = if results.is_empty() {
        &none[..]
    } else {
        results
    };
    let mut out = String::new();
    for (result, b) in results.iter().zip(header_b_prefixes(results)) {
        let object = JsonResult {
            authserv_id,
            method: "dkim",
            result: result.result(),
            reason: result.reason.as_deref(),
            domain: result.domain.as_deref(),
            selector: result.selector.as_deref(),
            algorithm: result.algorithm.as_deref(),
            b,
        };
        // Serializing strings and enums into a String cannot fail.
        if let Ok(line) = serde_json::to_string(&object) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Skips CFWS (RFC 5322 §3.2.2): blanks, line breaks of folding, and
/// comments, which nest and may hold quoted-pairs. `None` if a comment never
/// closes.
fn skip_cfws(mut input: &[u8]) -> Option<&[u8]> {
    loop {
        let Some(first) = input.first() else {
            return Some(input);
        };
        match first {
            b' ' | b'\t' | b'\r' | b'\n' => input = input.get(1..)?,
            b'(' => {
                let mut depth = 0usize;
                loop {
                    let (&c, rest) = input.split_first()?;
                    input = rest;
                    match c {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        b'\\' => input = input.get(1..)?,
                        _ => {}
                    }
                }
            }
            _ => return Some(input),
        }
    }
}

/// Reads the authserv-id at the start of a field value (RFC 8601 §2.2:
/// `[CFWS] authserv-id`, where authserv-id is a `value`: a token or a
/// quoted-string). Returns the id, unquoted, and what follows it; `None` if
/// the value does not parse.
fn read_authserv_id(value: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let input = skip_cfws(value)?;
    if let Some(mut rest) = input.strip_prefix(b"\"") {
        let mut id = Vec::new();
        loop {
            let (&c, after) = rest.split_first()?;
            rest = after;
            match c {
                b'"' => return Some((id, rest)),
                b'\\' => {
                    let (&quoted, after) = rest.split_first()?;
                    id.push(quoted);
                    rest = after;
                }
                // Folding inside a quoted-string: the line break goes away.
                b'\r' | b'\n' => {}
                _ => id.push(c),
            }
        }
    }
    let end = input
        .iter()
        .position(|&c| c.is_ascii() && !is_token_char(char::from(c)))
        .unwrap_or(input.len());
    let (id, rest) = input.split_at(end);
    (!id.is_empty()).then(|| (id.to_vec(), rest))
}

fn same_id(a: &[u8], b: &[u8]) -> bool {
    let a = a.strip_suffix(b".").unwrap_or(a);
    let b = b.strip_suffix(b".").unwrap_or(b);
    a.eq_ignore_ascii_case(b)
}

/// Whether an Authentication-Results field value (what follows the colon)
/// claims `authserv_id`, compared case-insensitively and ignoring a final dot.
///
/// The id is read as RFC 8601 §2.2 says: after any CFWS (comments included),
/// a token or a quoted-string, which must be followed by CFWS, `;` or the end.
/// So `(x) mx.example.org; ...` and `"MX.example.org"; ...` claim
/// `mx.example.org`, and `mx.example.org.evil; ...` does not. A value that
/// does not parse claims the id if it mentions it anywhere: deleting a
/// malformed field is harmless, leaving one that a looser reader downstream
/// takes as ours is not.
pub fn claims_authserv_id(field_value: &[u8], authserv_id: &str) -> bool {
    let ours = authserv_id.as_bytes();
    let parsed = read_authserv_id(field_value).filter(|(_, rest)| {
        matches!(
            rest.first(),
            None | Some(b';' | b' ' | b'\t' | b'\r' | b'\n' | b'(')
        )
    });
    match parsed {
        Some((id, _)) => same_id(&id, ours),
        None => {
            !ours.is_empty()
                && field_value
                    .windows(ours.len())
                    .any(|window| window.eq_ignore_ascii_case(ours))
        }
    }
}

/// Whether a field name is `Authentication-Results` (case-insensitive).
pub fn is_authentication_results(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(FIELD_NAME.as_bytes())
}

/// Whether a raw header field (`Name:value`, folding included) is an
/// Authentication-Results field that claims `authserv_id`.
pub fn field_claims_authserv_id(raw_field: &[u8], authserv_id: &str) -> bool {
    let Some(colon) = raw_field.iter().position(|&c| c == b':') else {
        return false;
    };
    let (name, value) = raw_field.split_at(colon);
    let name = name.trim_ascii_end();
    is_authentication_results(name)
        && claims_authserv_id(value.get(1..).unwrap_or(&[]), authserv_id)
}

/// Given a message's header fields as `(name, value)` in order, the
/// Authentication-Results fields that claim `authserv_id`, as 1-based
/// indices among the fields of that name (what `smfi_chgheader` takes),
/// highest first.
///
/// Delete them in the order given. Deleting a field renumbers the fields of
/// the same name after it, so deleting from the first one on would hit the
/// wrong fields from the second deletion on (CVE-2022-48521, OpenDKIM #148).
pub fn own_fields_to_delete<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    authserv_id: &str,
) -> Vec<usize> {
    let mut indices: Vec<usize> = fields
        .into_iter()
        .filter(|(name, _)| is_authentication_results(name))
        .enumerate()
        .filter(|(_, (_, value))| claims_authserv_id(value, authserv_id))
        .map(|(index, _)| index + 1)
        .collect();
    indices.reverse();
    indices
}

#[cfg(test)]
mod tests;
