//! RFC 6376 §3.2 tag-lists: never panic; every span points at its value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::syntax::tag_list::{TagIter, decode_base64, parse_tag_list};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = parse_tag_list::<64>(data) {
        for tag in list.tags() {
            assert_eq!(tag.value_span.get(data), Some(tag.value.as_bytes()));
            assert!(tag.after_equals.start <= tag.value_span.start);
            assert!(tag.value_span.end <= tag.after_equals.end);
        }
    }
    for tag in TagIter::new(data) {
        let _ = tag;
    }
    let mut out = [0u8; 256];
    let _ = decode_base64(data, &mut out);
});
