//! DomainKeys (RFC 4870): the DomainKey-Signature parser, the mailbox
//! parser and the whole streaming DomainKeys verifier never panic, and the
//! signer's intake takes any input without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::canon::DkCanon;
use mass_core::dkim::verify::KeyAnswer;
use mass_core::domainkeys::{DkMessageVerifier, DkSignRequest, DkSignature, DkSigner, Mailbox};

/// The RFC 8463 Appendix A.2 RSA key, a testing key with a granularity, and junk.
const RECORDS: [&[u8]; 3] = [
    b"k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
    b"g=a*b; t=y; p=",
    b"k=rsa; g=; p=!!",
];

fuzz_target!(|data: &[u8]| {
    let _ = DkSignature::parse_field(data);
    let _ = Mailbox::parse(data);
    // The first byte picks a split point, so streaming is exercised too.
    let Some((&split, message)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(message.len());
    let (a, b) = message.split_at(at);
    let mut v: DkMessageVerifier<4> = DkMessageVerifier::new(4);
    if v.update(a).is_ok() && v.update(b).is_ok() && v.end_of_input().is_ok() {
        let ids: Vec<usize> = v.key_requests().map(|(id, _)| id).collect();
        for id in ids {
            v.provide_key(id, KeyAnswer::Records(&RECORDS));
        }
        let _ = v.finish();
    }
    let canon = if split & 1 == 0 {
        DkCanon::Simple
    } else {
        DkCanon::Nofws
    };
    let names = ["subject", "to"];
    let mut req = DkSignRequest::new("example.com", "s", canon);
    if split & 2 == 0 {
        req.headers = Some(&names);
    }
    if let Ok(mut s) = DkSigner::new(&req) {
        let _ = s.update(a).and_then(|()| s.update(b));
    }
});
