//! The ARC-Authentication-Results field (RFC 8617 §4.1.1) and the
//! authserv-id of an Authentication-Results field (RFC 8601 §2.2).
//!
//! An AAR is `i=N;` followed by the payload of an Authentication-Results
//! field: `authserv-id [version] ; resinfo ; ...`. The validator needs only
//! the instance; a sealer needs the results a server recorded under its
//! own authserv-id ([`results_of`]).

use core::fmt;

use super::{InstanceError, parse_instance};
use crate::dkim::signature_field::value_start;

/// Why an ARC-Authentication-Results field was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AarError {
    /// The field is not named ARC-Authentication-Results, or has no colon.
    NotAar,
    /// The value does not start with `i=N;` (§4.1.1), or N is not an
    /// instance.
    Instance(InstanceError),
    /// No authserv-id follows the instance.
    NoAuthservId,
}

impl fmt::Display for AarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AarError::NotAar => f.write_str("not an ARC-Authentication-Results field"),
            AarError::Instance(e) => write!(f, "{e}"),
            AarError::NoAuthservId => f.write_str("no authserv-id"),
        }
    }
}

impl core::error::Error for AarError {}

/// A parsed ARC-Authentication-Results field, borrowing from the raw one.
#[derive(Debug, Clone, Copy)]
pub struct ArcAuthResults<'a> {
    /// The leading `i=`.
    pub instance: u8,
    /// The authserv-id, without CFWS (a quoted-string keeps its quotes).
    pub authserv_id: &'a [u8],
    /// Everything after the `;` that ends the authserv-id (and version):
    /// the resinfo list as written, or empty.
    pub results: &'a [u8],
}

impl<'a> ArcAuthResults<'a> {
    /// Parse a whole raw field: `ARC-Authentication-Results:` and its
    /// value, no final CRLF.
    pub fn parse_field(field: &'a [u8]) -> Result<Self, AarError> {
        let start = value_start(field, b"ARC-Authentication-Results").ok_or(AarError::NotAar)?;
        let value = field.get(start..).unwrap_or_default();
        let (instance, payload) = leading_instance(value).map_err(AarError::Instance)?;
        let (authserv_id, results) = split_authserv_id(payload).ok_or(AarError::NoAuthservId)?;
        Ok(ArcAuthResults {
            instance,
            authserv_id,
            results,
        })
    }
}

/// The `i=N;` an AAR value starts with (CFWS allowed around each part),
/// and what follows the `;`.
pub(crate) fn leading_instance(value: &[u8]) -> Result<(u8, &[u8]), InstanceError> {
    let rest = skip_cfws(value);
    let rest = rest.strip_prefix(b"i").ok_or(InstanceError::Missing)?;
    let rest = skip_cfws(rest);
    let rest = rest.strip_prefix(b"=").ok_or(InstanceError::Missing)?;
    let rest = skip_cfws(rest);
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, rest) = rest
        .split_at_checked(digits)
        .ok_or(InstanceError::Invalid)?;
    let number = core::str::from_utf8(number).map_err(|_| InstanceError::Invalid)?;
    let instance = parse_instance(number)?;
    let rest = skip_cfws(rest);
    let rest = rest.strip_prefix(b";").ok_or(InstanceError::Invalid)?;
    Ok((instance, rest))
}

/// Split an Authentication-Results payload (RFC 8601 §2.2:
/// `[CFWS] authserv-id [CFWS authres-version] ( no-result / 1*resinfo )`)
/// into the authserv-id and the text after the `;` that follows it.
/// `None` when there is no authserv-id.
pub fn split_authserv_id(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = skip_cfws(payload);
    let len = if rest.first() == Some(&b'"') {
        quoted_len(rest)?
    } else {
        rest.iter()
            .position(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'('))
            .unwrap_or(rest.len())
    };
    let (id, rest) = rest.split_at_checked(len)?;
    if id.is_empty() {
        return None;
    }
    // An optional authres-version: digits after CFWS.
    let rest = skip_cfws(rest);
    let rest = skip_cfws(rest.get(rest.iter().take_while(|b| b.is_ascii_digit()).count()..)?);
    let results = rest.strip_prefix(b";").unwrap_or(rest);
    Some((id, results))
}

/// The results an Authentication-Results field value records under
/// `authserv_id` (compared case-insensitively): the text after the
/// authserv-id's `;`, trimmed of whitespace and of a final `;`. `None`
/// when the field belongs to another server or does not parse. A sealer
/// joins these to build its AAR (§5.1).
pub fn results_of<'v>(field_value: &'v [u8], authserv_id: &[u8]) -> Option<&'v [u8]> {
    let (id, results) = split_authserv_id(field_value)?;
    if !id.eq_ignore_ascii_case(authserv_id) {
        return None;
    }
    let mut results = crate::header::trim_wsp(trim_crlf_wsp(results));
    while let Some(rest) = results.strip_suffix(b";") {
        results = trim_crlf_wsp(rest);
    }
    Some(results)
}

/// `bytes` without whitespace or line breaks at either end.
fn trim_crlf_wsp(bytes: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes.iter().position(|b| !ws(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !ws(b))
        .map_or(start, |p| p.saturating_add(1));
    bytes.get(start..end).unwrap_or_default()
}

/// The length of the quoted-string at the start of `s` (RFC 5322 §3.2.4),
/// quotes included.
fn quoted_len(s: &[u8]) -> Option<usize> {
    let mut escaped = false;
    for (i, &b) in s.iter().enumerate().skip(1) {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(i.saturating_add(1)),
            _ => {}
        }
    }
    None
}

/// Skip CFWS (RFC 5322 §3.2.2): whitespace, line breaks and comments,
/// which nest. An unclosed comment runs to the end.
pub(crate) fn skip_cfws(mut s: &[u8]) -> &[u8] {
    let mut depth = 0usize;
    let mut escaped = false;
    while let Some((&b, rest)) = s.split_first() {
        if depth > 0 {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'(' => depth = depth.saturating_add(1),
                b')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        } else {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'(' => depth = 1,
                _ => return s,
            }
        }
        s = rest;
    }
    s
}
