//! DKIM-Signature fields (RFC 6376 §3.5): never panic; the §3.7 split adds up.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::signature_field::DkimSignature;

fuzz_target!(|data: &[u8]| {
    let _ = DkimSignature::parse(data);
    if let Ok(sig) = DkimSignature::parse_field(data) {
        let (before, after) = sig.hash_parts();
        assert_eq!(
            before.len() + sig.b_deleted_span.len() + after.len(),
            data.len()
        );
        assert!(sig.signed_headers().any(|h| h.eq_ignore_ascii_case("from")));
    }
});
