//! The DomainKey-Signature parser alone (RFC 4870 §3.3): never panics, and
//! what it accepts is what §3.3 asks for: `d=` and `s=` that pass the DNS
//! name check, `h=` names of ftext, a non-empty `b=`. The field form
//! (`DomainKey-Signature:` and the value) and the value form agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::domainkeys::DkSignature;
use mass_core::syntax::dns_name::check_dns_name;

fn summary(r: Result<DkSignature<'_>, impl core::fmt::Debug>) -> String {
    match r {
        Ok(s) => format!(
            "{:?} {} {} {:?} {:?}",
            s.canonicalization,
            s.domain,
            s.selector,
            s.headers,
            s.signature()
        ),
        Err(e) => format!("{e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let value = DkSignature::parse(data);
    if let Ok(sig) = &value {
        assert!(check_dns_name(sig.domain.as_bytes()).is_ok(), "{sig:?}");
        assert!(check_dns_name(sig.selector.as_bytes()).is_ok(), "{sig:?}");
        assert!(!sig.signature().is_empty());
        for name in sig.header_names() {
            assert!(
                !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':'),
                "{name:?}"
            );
        }
    }
    let mut field = b"DomainKey-Signature:".to_vec();
    field.extend_from_slice(data);
    assert_eq!(summary(DkSignature::parse_field(&field)), summary(value));
    let _ = DkSignature::parse_field(data);
});
