//! The header section of one message as the MTA delivered it, field by
//! field, kept until EOH (the From domain decides which keys sign).

/// Header fields rebuilt as `Name:value` with CRLF folding (RFC 5322
/// §2.2), no final CRLF — the form core's `header_field` takes.
#[derive(Debug, Default)]
pub struct HeaderBuf {
    bytes: Vec<u8>,
    /// (start, end of name, end) of each field in `bytes`.
    spans: Vec<(usize, usize, usize)>,
    overflowed: bool,
    /// Authentication-Results fields dropped past the limit: counted, not
    /// kept, so that they can still be deleted (security case 7).
    auth_results_dropped: usize,
}

impl HeaderBuf {
    /// Add one field. `leading_space_kept` says whether the MTA kept the
    /// value's leading whitespace (`SMFIP_HDR_LEADSPC`); when it did not,
    /// the usual single space is put back. Folds arrive as bare LF and
    /// become CRLF. Past `limit` bytes in all, fields are dropped and
    /// [`HeaderBuf::overflowed`] turns true.
    pub fn push(&mut self, name: &[u8], value: &[u8], leading_space_kept: bool, limit: usize) {
        if self.overflowed || self.bytes.len() + name.len() + value.len() * 2 + 2 > limit {
            self.overflowed = true;
            if crate::auth_results::is_authentication_results(name) {
                self.auth_results_dropped = self.auth_results_dropped.saturating_add(1);
            }
            return;
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(name);
        let name_end = self.bytes.len();
        self.bytes.push(b':');
        if !leading_space_kept && !value.is_empty() {
            self.bytes.push(b' ');
        }
        let mut previous = 0u8;
        for &b in value {
            if b == b'\n' && previous != b'\r' {
                self.bytes.push(b'\r');
            }
            self.bytes.push(b);
            previous = b;
        }
        self.spans.push((start, name_end, self.bytes.len()));
    }

    /// True when fields were dropped for lack of room.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// How many Authentication-Results fields were dropped past the limit.
    /// They come after every kept one (fields are dropped from the first
    /// that does not fit on), so they are the last of their name.
    pub fn auth_results_dropped(&self) -> usize {
        self.auth_results_dropped
    }

    /// Each field as (name, whole `Name:value` bytes).
    pub fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.spans.iter().filter_map(|&(start, name_end, end)| {
            Some((
                self.bytes.get(start..name_end)?,
                self.bytes.get(start..end)?,
            ))
        })
    }

    /// The values (after the colon) of the fields called `name`.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields().filter_map(move |(n, field)| {
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                field.get(n.len() + 1..)
            } else {
                None
            }
        })
    }
}

/// The domain of the single author in the From field (RFC 5322 §3.6.2),
/// lower case; `Ok(None)` when there is no From or no domain in it. Several
/// From fields or several mailboxes are an `Err`: such a message is never
/// signed (RFC 6376 §5.4 and DESIGN.md).
pub fn from_domain(headers: &HeaderBuf) -> Result<Option<String>, &'static str> {
    let mut froms = headers.values("From");
    let Some(value) = froms.next() else {
        return Ok(None);
    };
    if froms.next().is_some() {
        return Err("several From fields");
    }
    let mailboxes = split_mailboxes(value);
    match mailboxes.as_slice() {
        [] => Ok(None),
        [one] => Ok(domain_of(one)),
        _ => Err("several From authors"),
    }
}

/// Remove comments and split at top-level commas; each part keeps only the
/// address (`<...>` content when present).
fn split_mailboxes(value: &[u8]) -> Vec<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    let mut angle: Option<Vec<u8>> = None;
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    let mut finish = |current: &mut Vec<u8>, angle: &mut Option<Vec<u8>>| {
        let addr = angle.take().unwrap_or_else(|| std::mem::take(current));
        current.clear();
        let trimmed: Vec<u8> = addr
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if !trimmed.is_empty() {
            parts.push(trimmed);
        }
    };
    let mut in_angle = false;
    for &b in value {
        if escaped {
            escaped = false;
            if in_angle {
                angle.get_or_insert_with(Vec::new).push(b);
            } else {
                current.push(b);
            }
            continue;
        }
        match b {
            b'\\' if quoted || depth > 0 => escaped = true,
            b'"' if depth == 0 => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            b'<' if !quoted => {
                in_angle = true;
                angle = Some(Vec::new());
            }
            b'>' if !quoted && in_angle => in_angle = false,
            b',' if !quoted && !in_angle => finish(&mut current, &mut angle),
            _ if in_angle => angle.get_or_insert_with(Vec::new).push(b),
            _ if quoted => current.push(b'x'),
            _ => current.push(b),
        }
    }
    finish(&mut current, &mut angle);
    parts
}

fn domain_of(addr: &[u8]) -> Option<String> {
    let at = addr.iter().rposition(|&b| b == b'@')?;
    let domain = addr.get(at + 1..)?;
    let domain = std::str::from_utf8(domain).ok()?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()).then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(fields: &[(&str, &str)]) -> HeaderBuf {
        let mut h = HeaderBuf::default();
        for (n, v) in fields {
            h.push(n.as_bytes(), v.as_bytes(), true, 1 << 20);
        }
        h
    }

    #[test]
    fn rebuilds_fields_with_crlf_folds() {
        let h = buf(&[("Subject", " a\n\tb"), ("X", "\r\n c")]);
        let fields: Vec<_> = h.fields().map(|(_, f)| f.to_vec()).collect();
        assert_eq!(
            fields,
            vec![b"Subject: a\r\n\tb".to_vec(), b"X:\r\n c".to_vec()]
        );
        let mut h = HeaderBuf::default();
        h.push(b"Subject", b"hi", false, 100);
        assert_eq!(h.fields().next().unwrap().1, b"Subject: hi");
        h.push(b"Big", &[b'x'; 200], false, 100);
        assert!(h.overflowed());
    }

    #[test]
    fn row_22_from_domains_with_several_authors_are_refused() {
        let cases: &[(&str, Result<Option<&str>, &str>)] = &[
            (" Alice <alice@Example.COM>", Ok(Some("example.com"))),
            (" alice@example.com", Ok(Some("example.com"))),
            (
                " \"a@b, c\" <x@example.org> (comment@evil.example)",
                Ok(Some("example.org")),
            ),
            (" a@example.com, b@example.net", Err("several From authors")),
            // A quoted-pair comma is not a display name: two addresses.
            (" admin@a.com\\,<user@a.com>", Err("several From authors")),
            (" undisclosed", Ok(None)),
            (" <>", Ok(None)),
        ];
        for (value, want) in cases {
            let got = from_domain(&buf(&[("From", value)]));
            assert_eq!(got, want.map(|d| d.map(String::from)), "{value}");
        }
        let two = buf(&[("From", " a@example.com"), ("from", " a@example.com")]);
        assert_eq!(from_domain(&two), Err("several From fields"));
        assert_eq!(from_domain(&buf(&[("To", " a@b")])), Ok(None));
    }
}
