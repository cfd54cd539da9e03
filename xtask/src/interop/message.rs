//! Byte-level message helpers shared by the interop steps: line ends, the
//! header/body split, tampering, counting and stripping signatures.

use std::fs;
use std::path::{Path, PathBuf};

/// True when every header field is one line written `Name: value` (one
/// space, no trailing whitespace): the form a milter rebuilds fields in.
pub(super) fn milter_safe(bytes: &[u8]) -> bool {
    let end = body_start(bytes).unwrap_or(bytes.len());
    bytes[..end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .all(|l| {
            let Some(colon) = l.iter().position(|&b| b == b':') else {
                return false;
            };
            !l[0].is_ascii_whitespace()
                && l.get(colon + 1) == Some(&b' ')
                && l.get(colon + 2).is_some_and(|b| !b.is_ascii_whitespace())
                && !l.last().is_some_and(|b| b.is_ascii_whitespace())
        })
}

/// Every file twice: once with text added at the top of its body, once with
/// its From address changed (From is always signed).
pub(super) fn tamper_all(
    signed: &[PathBuf],
    dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let body_dir = dir.join("tampered-body");
    let head_dir = dir.join("tampered-header");
    for d in [&body_dir, &head_dir] {
        fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let (mut body, mut head) = (Vec::new(), Vec::new());
    for path in signed {
        let (Some(name), Ok(bytes)) = (path.file_name(), fs::read(path)) else {
            continue;
        };
        if let Some(b) = tamper_body(&bytes) {
            let p = body_dir.join(name);
            if fs::write(&p, b).is_ok() {
                body.push(p);
            }
        }
        if let Some(h) = tamper_from(&bytes) {
            let p = head_dir.join(name);
            if fs::write(&p, h).is_ok() {
                head.push(p);
            }
        }
    }
    Ok((body, head))
}

/// The index just past the blank line that ends the header block.
pub(super) fn body_start(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Put visible text at the start of the body: no canonicalization hides it.
pub(super) fn tamper_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let at = body_start(bytes)?;
    let eol: &[u8] = if bytes[..at].ends_with(b"\r\n\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(b"Tampered.");
    out.extend_from_slice(eol);
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

/// The lines of the header block (each with its line end), with the offset
/// each starts at.
fn header_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let end = body_start(bytes).unwrap_or(bytes.len());
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= end {
            return None;
        }
        let line_end = bytes[start..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |p| start + p + 1);
        let line = (start, &bytes[start..line_end]);
        start = line_end;
        Some(line)
    })
}

/// Change the From field's address: From is always signed.
pub(super) fn tamper_from(bytes: &[u8]) -> Option<Vec<u8>> {
    body_start(bytes)?;
    let (line_start, line) = header_lines(bytes).find(|(_, line)| {
        line.iter()
            .position(|&b| b == b':')
            .is_some_and(|n| line[..n].trim_ascii().eq_ignore_ascii_case(b"from"))
    })?;
    let at = line_start + line.iter().position(|&b| b == b'@')?;
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(b"-forged");
    out.extend_from_slice(&bytes[at..]);
    Some(out)
}

/// As SMTP carries a message: CRLF line ends (a bare LF becomes CRLF) and a
/// final CRLF (RFC 5321 §4.1.1.4).
pub(super) fn wire_form(bytes: &[u8]) -> Vec<u8> {
    let mut out = lf_to_crlf(bytes);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bare LF to CRLF (CRLF stays).
pub(super) fn lf_to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Drop every DKIM-Signature field (with its continuation lines).
pub(super) fn strip_dkim_signatures(message: &[u8]) -> Vec<u8> {
    let end = body_start(message).unwrap_or(message.len());
    let mut out = Vec::with_capacity(message.len());
    let mut skipping = false;
    for (_, line) in header_lines(message) {
        let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if !continuation {
            skipping = line.len() >= 15 && line[..15].eq_ignore_ascii_case(b"dkim-signature:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&message[end..]);
    out
}

/// The largest `t=` among the DKIM-Signature fields.
pub(super) fn newest_timestamp(message: &[u8]) -> Option<u64> {
    let end = body_start(message).unwrap_or(message.len());
    let head = String::from_utf8_lossy(&message[..end]).replace("\r\n", "\n");
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    unfolded
        .lines()
        .filter(|l| l.len() >= 15 && l[..15].eq_ignore_ascii_case("dkim-signature:"))
        .flat_map(|l| l[15..].split(';'))
        .filter_map(|tag| {
            let (name, value) = tag.split_once('=')?;
            (name.trim() == "t").then(|| value.trim().parse::<u64>().ok())?
        })
        .max()
}

pub(super) fn count_signatures(message: &[u8]) -> usize {
    let end = body_start(message).unwrap_or(message.len());
    message[..end]
        .split(|&b| b == b'\n')
        .filter(|l| l.len() >= 15 && l[..15].eq_ignore_ascii_case(b"dkim-signature:"))
        .count()
}

/// TXT data as zone-file strings of at most 255 octets.
pub(super) fn quote_txt(data: &str) -> String {
    let bytes = data.as_bytes();
    bytes
        .chunks(255)
        .map(|c| {
            let s = String::from_utf8_lossy(c)
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            format!("\"{s}\"")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_body_and_from() {
        let m = b"DKIM-Signature: v=1\r\nFrom: a@example.com\r\nTo: b@x\r\n\r\nhi\r\n";
        let b = tamper_body(m).unwrap();
        assert!(b.ends_with(b"\r\n\r\nTampered.\r\nhi\r\n"));
        let h = tamper_from(m).unwrap();
        assert!(h.windows(20).any(|w| w == b"a-forged@example.com"));
        let lf = b"From: a@example.com\n\n";
        assert!(tamper_body(lf).unwrap().ends_with(b"\n\nTampered.\n"));
    }

    #[test]
    fn strips_signatures_with_their_folds() {
        let m = b"DKIM-Signature: a\r\n b\r\nFrom: x\r\ndkim-signature: c\r\n\r\nbody\r\n";
        assert_eq!(strip_dkim_signatures(m), b"From: x\r\n\r\nbody\r\n");
        assert_eq!(count_signatures(m), 2);
    }

    #[test]
    fn finds_the_newest_signature_time() {
        let m = b"DKIM-Signature: v=1; t=5;\r\n\tb=x\r\nDKIM-Signature: a=b;\r\n t=17; x=20\r\n\r\nt=99\r\n";
        assert_eq!(newest_timestamp(m), Some(17));
        assert_eq!(newest_timestamp(b"From: a\r\n\r\n"), None);
    }

    #[test]
    fn txt_strings_are_split_at_255() {
        let long = "p=".to_string() + &"A".repeat(400);
        let q = quote_txt(&long);
        assert_eq!(q.matches('"').count(), 4);
    }

    #[test]
    fn milter_safe_fields_have_one_space_and_no_folds() {
        assert!(milter_safe(b"From: a@b\r\nTo: c\r\n\r\nbody \r\n"));
        assert!(milter_safe(b"From: a@b\n\n"));
        assert!(!milter_safe(b"From:a@b\r\n\r\n"));
        assert!(!milter_safe(b"From:  a@b\r\n\r\n"));
        assert!(!milter_safe(b"From: a@b \r\n\r\n"));
        assert!(!milter_safe(b"Subject: a\r\n b\r\n\r\n"));
        assert!(!milter_safe(b"Cc:\r\n\r\n"));
    }
}
