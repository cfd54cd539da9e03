//! Bounded lists of header field names: the `h=` lists the DKIM and
//! DomainKeys signers are asked for and record, and the one a DomainKeys
//! verifier reads from `h=` (RFC 6376 §3.5; RFC 4870 §3.3).

use super::names_match;
use crate::error::Error;
use crate::syntax::field_name::is_field_name;

/// A list of header field names in the order they were pushed. `BYTES`
/// bounds their total length and `NAMES` their number; running out is
/// [`Error::HeaderListCapacity`].
#[derive(Debug, Clone)]
pub(crate) struct NameList<const BYTES: usize, const NAMES: usize> {
    bytes: heapless::Vec<u8, BYTES>,
    ends: heapless::Vec<u16, NAMES>,
}

impl<const BYTES: usize, const NAMES: usize> NameList<BYTES, NAMES> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        NameList {
            bytes: heapless::Vec::new(),
            ends: heapless::Vec::new(),
        }
    }

    /// Append `name` as it is. A list that is full is left as it was.
    pub(crate) fn push(&mut self, name: &[u8]) -> Result<(), Error> {
        self.push_with(name, |b| b)
    }

    /// Append `name` in ASCII lower case (how a signer writes its `h=`).
    pub(crate) fn push_lowercase(&mut self, name: &[u8]) -> Result<(), Error> {
        self.push_with(name, |b| b.to_ascii_lowercase())
    }

    fn push_with(&mut self, name: &[u8], map: impl Fn(u8) -> u8) -> Result<(), Error> {
        let full = Error::HeaderListCapacity { limit: NAMES };
        let end = self.bytes.len().checked_add(name.len()).ok_or(full)?;
        let end16 = u16::try_from(end).map_err(|_| full)?;
        if end > BYTES || self.ends.is_full() {
            return Err(full);
        }
        for &b in name {
            self.bytes.push(map(b)).map_err(|_| full)?;
        }
        self.ends.push(end16).map_err(|_| full)
    }

    /// The names, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + Clone + '_ {
        let starts = core::iter::once(0u16).chain(self.ends.iter().copied());
        starts.zip(self.ends.iter().copied()).map(|(s, e)| {
            self.bytes
                .get(usize::from(s)..usize::from(e))
                .unwrap_or_default()
        })
    }

    /// Is `name` in the list (ASCII case-insensitive, RFC 5322 §1.2.2)?
    pub(crate) fn contains(&self, name: &[u8]) -> bool {
        self.iter().any(|n| names_match(n, name))
    }
}

/// A field name a caller asks a signer to sign, with whitespace around it
/// trimmed. Anything but a field name (RFC 5322 §3.6.8) is
/// [`Error::InvalidTagValue`] for `h=`.
pub(crate) fn requested_name(name: &str) -> Result<&[u8], Error> {
    let name = name.trim().as_bytes();
    if is_field_name(name) {
        Ok(name)
    } else {
        Err(Error::InvalidTagValue { tag: "h" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn keeps_order_and_case_and_says_when_full() {
        let mut list: NameList<16, 3> = NameList::new();
        list.push(b"From").unwrap();
        list.push_lowercase(b"Subject").unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), [&b"From"[..], b"subject"]);
        assert!(list.contains(b"FROM") && list.contains(b"subject"));
        assert!(!list.contains(b"to"));
        // 16 bytes: "From" + "subject" leave 5.
        assert_eq!(
            list.push(b"Content-Type"),
            Err(Error::HeaderListCapacity { limit: 3 })
        );
        list.push(b"To").unwrap();
        assert_eq!(
            list.push(b"Cc"),
            Err(Error::HeaderListCapacity { limit: 3 })
        );
    }

    #[test]
    fn requested_names_are_trimmed_and_checked() {
        assert_eq!(requested_name(" Subject "), Ok(&b"Subject"[..]));
        for bad in ["", "  ", "a:b", "a b", "café"] {
            assert_eq!(
                requested_name(bad),
                Err(Error::InvalidTagValue { tag: "h" }),
                "{bad:?}"
            );
        }
    }
}
