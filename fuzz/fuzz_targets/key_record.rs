//! DKIM and DomainKeys key records (RFC 6376 §3.6.1, RFC 4870 §3.2.3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::key_record::KeyRecord;
use mass_core::dkim::public_key::PublicKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = KeyRecord::parse(data) {
        let _ = PublicKey::load(rec.key_type, rec.public_key_bytes());
    }
    let _ = KeyRecord::parse_domainkeys(data);
});
