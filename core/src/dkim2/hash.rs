//! What DKIM2 hashes.
//!
//! - **An instance's header hash** covers every header field but the
//!   trace and authentication fields ([`is_unsigned_field`]), each in
//!   relaxed canonical form (RFC 6376 §3.4.2) with its CRLF, sorted by
//!   field name without regard to case, and fields of one name from the
//!   bottom of the header block up — the order in which DKIM's `h=`
//!   picks repeated fields. No `h=` list: a field added in transit that
//!   is not a trace field changes the hash, and a recipe must undo it.
//! - **An instance's body hash** is DKIM's simple body canonicalization
//!   (RFC 6376 §3.4.3) of the whole body
//!   ([`crate::canon::body_hash::BodyHasher`]).
//! - **A signature's input** is every Message-Instance up to its `m=`
//!   (oldest first), every DKIM2-Signature below its `i=` (oldest first),
//!   and then itself with the signatures of its `s=` left out; each field
//!   as its lower-case name, a colon, and its value with every whitespace
//!   byte deleted, then CRLF. rsa-sha256 signs the SHA-256 of that input,
//!   and ed25519-sha256 signs the 32-byte SHA-256 (as RFC 8463 does).

use sha2::{Digest, Sha256};

use crate::canon::{Canon, canonicalize_header};
use crate::header::{HeaderStore, field_name, field_value, trim_wsp};
use crate::syntax::tag_list::Span;

/// The fields no DKIM2 header hash covers: trace fields that every hop
/// adds, authentication fields (DKIM, DKIM2 and ARC's own), and `X-`
/// fields, which hops add and remove freely.
pub fn is_unsigned_field(name: &[u8]) -> bool {
    const UNSIGNED: [&[u8]; 10] = [
        b"received",
        b"return-path",
        b"delivered-to",
        b"authentication-results",
        b"dkim-signature",
        b"message-instance",
        b"dkim2-signature",
        b"arc-authentication-results",
        b"arc-message-signature",
        b"arc-seal",
    ];
    let name = trim_wsp(name);
    UNSIGNED.iter().any(|u| name.eq_ignore_ascii_case(u))
        || (name.len() >= 2 && name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"x-")))
}

/// Compare two field names without regard to ASCII case.
pub(crate) fn cmp_names(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    // Byte by byte, lower-cased; no buffer needed.
    let mut x = trim_wsp(a).iter().map(u8::to_ascii_lowercase);
    let mut y = trim_wsp(b).iter().map(u8::to_ascii_lowercase);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return core::cmp::Ordering::Equal,
            (None, Some(_)) => return core::cmp::Ordering::Less,
            (Some(_), None) => return core::cmp::Ordering::Greater,
            (Some(p), Some(q)) if p != q => return p.cmp(&q),
            _ => {}
        }
    }
}

/// The indices of the signed fields of `store` in hash order: names
/// ascending, one name's fields from the bottom up.
pub(crate) fn hash_order<const B: usize, const F: usize>(
    store: &HeaderStore<B, F>,
) -> heapless::Vec<u16, F> {
    let mut order: heapless::Vec<u16, F> = heapless::Vec::new();
    for (n, field) in store.iter().enumerate() {
        if is_unsigned_field(field_name(field)) {
            continue;
        }
        // A store holds at most F fields, each index below F.
        if let Ok(n) = u16::try_from(n) {
            let _ = order.push(n);
        }
    }
    let name_of = |n: u16| field_name(store.get(usize::from(n)).unwrap_or_default());
    order.sort_unstable_by(|a, b| cmp_names(name_of(*a), name_of(*b)).then(b.cmp(a)));
    order
}

/// The header hash of the instance whose fields are in `store` (see the
/// module documentation).
pub fn header_hash<const B: usize, const F: usize>(store: &HeaderStore<B, F>) -> [u8; 32] {
    let order = hash_order(store);
    ordered_fields_hash(
        order
            .iter()
            .map(|n| store.get(usize::from(*n)).unwrap_or_default()),
    )
}

/// The header hash of `fields`, already in hash order and signed.
pub(crate) fn ordered_fields_hash<'f>(fields: impl IntoIterator<Item = &'f [u8]>) -> [u8; 32] {
    let mut hash = Sha256::new();
    for field in fields {
        canonicalize_header(Canon::Relaxed, field, true, &mut hash);
    }
    hash.finalize().into()
}

/// Feed `bytes` with every whitespace byte deleted.
fn without_whitespace(hash: &mut Sha256, bytes: &[u8]) {
    for run in bytes.split(u8::is_ascii_whitespace) {
        hash.update(run);
    }
}

/// Feed a field's name as the signature input has it: lower case, no
/// whitespace, then the colon.
fn input_name(hash: &mut Sha256, raw_field: &[u8]) {
    for b in field_name(raw_field) {
        if !b.is_ascii_whitespace() {
            hash.update([b.to_ascii_lowercase()]);
        }
    }
    hash.update(b":");
}

/// The hash a DKIM2-Signature signs: `earlier` are the raw
/// Message-Instance fields up to its `m=` and then the raw DKIM2-Signature
/// fields below its `i=`, each group oldest first; `own_field` is the
/// signature's own raw field and `own_s` the span of its `s=` value within
/// the field's value.
pub fn signature_input_hash<'f>(
    earlier: impl IntoIterator<Item = &'f [u8]>,
    own_field: &[u8],
    own_s: Span,
) -> [u8; 32] {
    let mut hash = Sha256::new();
    for field in earlier {
        input_name(&mut hash, field);
        without_whitespace(&mut hash, field_value(field));
        hash.update(b"\r\n");
    }
    input_name(&mut hash, own_field);
    let value = field_value(own_field);
    without_whitespace(&mut hash, value.get(..own_s.start).unwrap_or_default());
    // Each entry up to its second colon: selector and algorithm stay, the
    // signature goes.
    let s = own_s.get(value).unwrap_or_default();
    for (n, entry) in s.split(|b| *b == b',').enumerate() {
        if n > 0 {
            hash.update(b",");
        }
        let mut colons: usize = 0;
        let end = entry
            .iter()
            .position(|b| {
                colons = colons.saturating_add(usize::from(*b == b':'));
                colons == 2
            })
            .map_or(entry.len(), |p| p.saturating_add(1));
        without_whitespace(&mut hash, entry.get(..end).unwrap_or_default());
    }
    without_whitespace(&mut hash, value.get(own_s.end..).unwrap_or_default());
    hash.update(b"\r\n");
    hash.finalize().into()
}
