//! BATV prvs= (draft-levine-smtp-batv-01): checking never panics and only ever returns
//! a suffix of its input; anything that tags checks back to itself on the same day.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::batv::{CheckPolicy, KeyNumber, KeyRing, TagParams, check, tag, tagged_len};

fuzz_target!(|data: &[u8]| {
    let (head, input) = data.split_at(data.len().min(8));
    let mut now_bytes = [0u8; 8];
    now_bytes[..head.len()].copy_from_slice(head);
    let now = u64::from_le_bytes(now_bytes);
    let ring = KeyRing::all(b"fuzz secret");
    let policy = CheckPolicy::default();
    if let Ok(c) = check(input, &ring, now, &policy) {
        assert!(input.ends_with(c.original));
    }
    let key = KeyNumber::new(head.first().map_or(0, |b| b % 10)).unwrap_or_default();
    let params = TagParams {
        key,
        ..TagParams::new(now)
    };
    let mut out = [0u8; 300];
    if let Ok(n) = tag(input, b"fuzz secret", &params, &mut out) {
        assert_eq!(n, tagged_len(input.len()));
        let c = check(&out[..n], &ring, now, &policy).expect("own tag checks");
        assert_eq!(c.original, input);
        assert_eq!(c.key, key);
    }
});
