//! Choosing key records (mass-hosted `dns`): TXT records at one name become
//! at most three candidates, in a fixed order, junk skipped
//! (`key_record_candidates`, RFC 6376 §6.1.2, security case 13), both for
//! DKIM and for DomainKeys records; and `key_record_name` builds only names
//! `check_domain_name` accepts.
//!
//! The input is a list of records, each a length byte and its bytes (the
//! strings of one record already joined, as the lookups join them). Checked:
//! nothing panics; the candidates are sorted, distinct, at most
//! `MAX_KEY_RECORD_TRIES`, each one of the records and accepted by the
//! filter, and exactly the first accepted ones; and the choice does not
//! depend on the order the records came in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::dkim::key_record::KeyRecord;
use mass_hosted::dns::{
    MAX_KEY_RECORD_TRIES, check_domain_name, key_record_candidates, key_record_name,
};

type Filter = fn(&[u8]) -> bool;

fn dkim(r: &[u8]) -> bool {
    KeyRecord::parse(r).is_ok()
}

fn domainkeys(r: &[u8]) -> bool {
    KeyRecord::parse_domainkeys(r).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let mut records: Vec<Vec<u8>> = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        records.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    let filters: [Filter; 3] = [dkim, domainkeys, |_| true];
    for filter in filters {
        let chosen = key_record_candidates(records.clone(), filter);
        assert!(chosen.len() <= MAX_KEY_RECORD_TRIES);
        assert!(
            chosen.windows(2).all(|w| w[0] < w[1]),
            "sorted and distinct"
        );
        let mut accepted: Vec<Vec<u8>> = records.iter().filter(|r| filter(r)).cloned().collect();
        accepted.sort();
        accepted.dedup();
        accepted.truncate(MAX_KEY_RECORD_TRIES);
        assert_eq!(chosen, accepted);
        let mut reversed = records.clone();
        reversed.reverse();
        assert_eq!(key_record_candidates(reversed, filter), chosen);
    }

    // The name a key is looked up at, from a selector and domain in the records.
    if let [selector, domain, ..] = &records[..] {
        let (selector, domain) = (
            String::from_utf8_lossy(selector),
            String::from_utf8_lossy(domain),
        );
        if let Ok(name) = key_record_name(&selector, &domain) {
            assert!(check_domain_name(&name).is_ok());
            assert!(
                name.starts_with(&format!("{selector}._domainkey.")),
                "{name}"
            );
        }
    }
});
