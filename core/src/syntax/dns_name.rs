//! DNS names as DKIM, DomainKeys and the key lookups use them: the one
//! syntax check ([`check_dns_name`], RFC 1035 §2.3.1, RFC 5890 A-labels)
//! and the one "same domain or below it" test ([`is_same_or_subdomain`]).

use core::fmt;

/// Why a DNS name (a `d=` domain, a selector, the domain of `i=` or of a
/// mailbox) was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NameError {
    /// The name is empty, or has an empty label (`a..b`, a leading or
    /// trailing dot).
    EmptyLabel,
    /// A NUL byte (CK A3: `s=attack.com.\0.any`).
    Nul,
    /// A byte other than ALPHA, DIGIT, `-` and `_`: `(`, quotes, `;`, `@`,
    /// spaces and the like (CK A4).
    ForbiddenByte,
    /// A non-ASCII byte (U-labels are not accepted; RFC 6376 §3.5 wants
    /// A-labels).
    NonAscii,
    /// A label starts or ends with `-`.
    HyphenAtLabelEdge,
    /// A label longer than 63 bytes, or a name longer than 253 (RFC 1035
    /// §2.3.4).
    TooLong,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::EmptyLabel => "empty label",
            NameError::Nul => "NUL byte",
            NameError::ForbiddenByte => "byte not allowed in a domain name",
            NameError::NonAscii => "non-ASCII byte (U-label)",
            NameError::HyphenAtLabelEdge => "label starts or ends with '-'",
            NameError::TooLong => "name or label too long",
        })
    }
}

impl core::error::Error for NameError {}

/// Check a DNS name as it goes into a key query name
/// (`selector._domainkey.domain`, RFC 6376 §3.6.2.1; RFC 4870 §3.2.2):
/// dot-separated labels of ALPHA, DIGIT, `-` (not at a label's edge, RFC
/// 1035 §2.3.1) and `_` (for `_domainkey` and selectors that carry one),
/// ASCII only, so A-labels (`xn--…`, RFC 5890 §2.3.2.1) pass and U-labels
/// do not; labels of 1 to 63 octets, at most 253 octets in all (RFC 1035
/// §2.3.4, the 255 of the wire form). Nothing else can get into a query
/// name or be echoed into Authentication-Results.
///
/// The name is relative: a final dot (the absolute form of a zone file)
/// is an empty label here, so strip it first where it is allowed.
pub fn check_dns_name(name: &[u8]) -> Result<(), NameError> {
    if name.len() > 253 {
        return Err(NameError::TooLong);
    }
    for label in name.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameError::TooLong);
        }
        for &b in label {
            match b {
                0 => return Err(NameError::Nul),
                0x80..=0xff => return Err(NameError::NonAscii),
                b'-' | b'_' => {}
                b if b.is_ascii_alphanumeric() => {}
                _ => return Err(NameError::ForbiddenByte),
            }
        }
        if label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return Err(NameError::HyphenAtLabelEdge);
        }
    }
    Ok(())
}

/// Is `sub` equal to `domain` or a subdomain of it, on label boundaries
/// and ignoring ASCII case (`mail.example.com` is within `example.com`,
/// `badexample.com` is not; security case 8)?
pub fn is_same_or_subdomain(sub: &[u8], domain: &[u8]) -> bool {
    if sub.eq_ignore_ascii_case(domain) {
        return true;
    }
    match sub.len().checked_sub(domain.len()) {
        Some(cut) if cut > 0 => {
            sub.get(cut.saturating_sub(1)) == Some(&b'.')
                && sub
                    .get(cut..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(domain))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_pass() {
        for name in [
            &b"example.com"[..],
            b"sel._domainkey.example.com",
            b"xn--bcher-kva.example",
            b"a",
            b"1-2.3",
        ] {
            assert_eq!(check_dns_name(name), Ok(()), "{name:?}");
        }
        let label = [b'a'; 63];
        assert_eq!(check_dns_name(&label), Ok(()));
        // 253 octets: three labels of 63 and one of 61.
        let mut long = [b'a'; 253];
        for i in [63, 127, 191] {
            long[i] = b'.';
        }
        assert_eq!(check_dns_name(&long), Ok(()));
    }

    #[test]
    fn names_that_fail_say_why() {
        let cases: [(&[u8], NameError); 10] = [
            (b"", NameError::EmptyLabel),
            (b"a..b", NameError::EmptyLabel),
            (b"example.com.", NameError::EmptyLabel),
            (b".example.com", NameError::EmptyLabel),
            (b"attack.com.\0.any", NameError::Nul),
            (b"a(b).com", NameError::ForbiddenByte),
            (b"a b.com", NameError::ForbiddenByte),
            ("bücher.example".as_bytes(), NameError::NonAscii),
            (b"-a.com", NameError::HyphenAtLabelEdge),
            (b"a-.com", NameError::HyphenAtLabelEdge),
        ];
        for (name, want) in cases {
            assert_eq!(check_dns_name(name), Err(want), "{name:?}");
        }
        assert_eq!(check_dns_name(&[b'a'; 64]), Err(NameError::TooLong));
        // 254 octets: the last label grows to 62.
        let mut too_long = [b'a'; 254];
        for i in [63, 127, 191] {
            too_long[i] = b'.';
        }
        assert_eq!(check_dns_name(&too_long), Err(NameError::TooLong));
    }

    #[test]
    fn subdomains_on_label_boundaries() {
        assert!(is_same_or_subdomain(b"example.com", b"example.com"));
        assert!(is_same_or_subdomain(b"Mail.EXAMPLE.com", b"example.COM"));
        assert!(!is_same_or_subdomain(b"badexample.com", b"example.com"));
        assert!(!is_same_or_subdomain(b"example.com", b"mail.example.com"));
        assert!(!is_same_or_subdomain(b"com", b"example.com"));
    }
}
