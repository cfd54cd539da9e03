//! Body canonicalization (DKIM simple and relaxed, DomainKeys simple and
//! nofws): the output does not depend on where the input is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::canon::{BodyCanonicalizer, Canon, DkCanon, Sink};

struct Out(Vec<u8>);
impl Sink for Out {
    fn write(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

fn run(make: &dyn Fn() -> BodyCanonicalizer, chunks: &[&[u8]]) -> Vec<u8> {
    let mut c = make();
    let mut out = Out(Vec::new());
    for ch in chunks {
        c.update(ch, &mut out);
    }
    c.finish(&mut out);
    out.0
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let at = usize::from(cut).min(body.len());
    let (a, b) = body.split_at(at);
    let makers: [&dyn Fn() -> BodyCanonicalizer; 4] = [
        &|| BodyCanonicalizer::new(Canon::Simple),
        &|| BodyCanonicalizer::new(Canon::Relaxed),
        &|| BodyCanonicalizer::domainkeys(DkCanon::Simple),
        &|| BodyCanonicalizer::domainkeys(DkCanon::Nofws),
    ];
    for make in makers {
        assert_eq!(run(make, &[body]), run(make, &[a, b]));
    }
});
