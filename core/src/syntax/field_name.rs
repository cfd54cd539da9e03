//! Header field names (RFC 5322 §3.6.8, `field-name = 1*ftext`): the one
//! check the header splitter, the `h=` lists of DKIM and DomainKeys and
//! their signers use.

/// Is `b` allowed in a field name (`ftext`: printable ASCII except `:`)?
pub fn is_ftext(b: u8) -> bool {
    (33..=126).contains(&b) && b != b':'
}

/// Is `name` a field name: at least one byte, all of them `ftext`?
pub fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_ftext(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftext_is_printable_ascii_but_colon() {
        assert!(is_field_name(b"DKIM-Signature"));
        assert!(is_field_name(b"X-~!"));
        for bad in [&b""[..], b"a:b", b"a b", b"a\tb", b"caf\xc3\xa9"] {
            assert!(!is_field_name(bad), "{bad:?}");
        }
        assert!(!is_ftext(b' ') && !is_ftext(0x7f) && !is_ftext(b':'));
    }
}
