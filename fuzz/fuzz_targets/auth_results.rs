//! Authentication-Results (RFC 8601) in mass-hosted `auth_results`: which
//! existing fields claim our authserv-id (`claims_authserv_id`,
//! `field_claims_authserv_id`) and which to delete (`own_fields_to_delete`,
//! security case 7), and the fields we write.
//!
//! The input is an authserv-id line, then header fields, one per line
//! (`Name:value`, `\r` kept, so folding can be written as `\r\t`).
//! Checked: nothing panics; the raw-field form agrees with the name/value
//! form; the indices to delete are the claiming fields, highest first, each
//! a valid 1-based index among the Authentication-Results fields; and a
//! field written for an authserv-id of printable ASCII (at most 255
//! characters) claims exactly the ids equal to it, ignoring case and a
//! final dot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_hosted::auth_results::{
    DkimResult, SignatureResult, claims_authserv_id, field_claims_authserv_id,
    is_authentication_results, own_fields_to_delete, write_field,
};

fn same_id(a: &str, b: &str) -> bool {
    a.strip_suffix('.')
        .unwrap_or(a)
        .eq_ignore_ascii_case(b.strip_suffix('.').unwrap_or(b))
}

fn split_field(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = raw.iter().position(|&c| c == b':')?;
    Some((&raw[..colon], &raw[colon + 1..]))
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let id = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let raw_fields: Vec<&[u8]> = lines.collect();

    let mut fields = Vec::new();
    for raw in &raw_fields {
        let claims = field_claims_authserv_id(raw, &id);
        match split_field(raw) {
            Some((name, value)) => {
                let name = name.trim_ascii_end();
                assert_eq!(
                    claims,
                    is_authentication_results(name) && claims_authserv_id(value, &id)
                );
                fields.push((name, value));
            }
            None => assert!(!claims),
        }
    }
    let ar: Vec<&[u8]> = fields
        .iter()
        .filter(|(n, _)| is_authentication_results(n))
        .map(|(_, v)| *v)
        .collect();
    let delete = own_fields_to_delete(fields.iter().copied(), &id);
    assert!(delete.windows(2).all(|w| w[0] > w[1]), "{delete:?}");
    let expected: Vec<usize> = (1..=ar.len())
        .rev()
        .filter(|&i| claims_authserv_id(ar[i - 1], &id))
        .collect();
    assert_eq!(delete, expected);

    // What we write, we recognise, and only for our own id.
    let printable = !id.is_empty()
        && id.len() <= 255
        && id.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b';');
    if printable {
        let text = |i: usize| {
            raw_fields
                .get(i)
                .map(|f| String::from_utf8_lossy(f).into_owned())
        };
        let result = SignatureResult {
            result: Some(DkimResult::Fail),
            reason: text(0),
            domain: text(1),
            selector: text(2),
            algorithm: text(3),
            signature: text(4),
        };
        for fold in ["\r\n\t", "\n\t"] {
            let written = write_field(&id, std::slice::from_ref(&result), fold);
            assert!(
                field_claims_authserv_id(written.as_bytes(), &id),
                "{written}"
            );
            for other in &raw_fields {
                let other = String::from_utf8_lossy(other);
                assert_eq!(
                    field_claims_authserv_id(written.as_bytes(), &other),
                    same_id(&id, &other),
                    "{written} / {other}"
                );
            }
        }
    }
});
