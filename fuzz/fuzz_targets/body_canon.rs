//! Body canonicalization (DKIM simple and relaxed, DomainKeys simple and
//! nofws): the output does not depend on where the input is split, and
//! relaxed agrees with a plain line-by-line reading of RFC 6376 §3.4.4.
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

/// §3.4.4 one line at a time: lines end at CRLF; in each, runs of spaces
/// and tabs become one space and trailing ones go; empty lines at the end
/// go; every line left ends with CRLF.
fn relaxed_reference(input: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let end = rest.windows(2).position(|w| w == b"\r\n");
        let (line, next) = match end {
            Some(e) => (&rest[..e], &rest[e + 2..]),
            None => (rest, &rest[rest.len()..]),
        };
        let mut canon = Vec::new();
        let mut wsp = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                wsp = true;
            } else {
                if wsp {
                    canon.push(b' ');
                    wsp = false;
                }
                canon.push(b);
            }
        }
        lines.push(canon);
        rest = next;
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(&l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
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
    let relaxed = || BodyCanonicalizer::new(Canon::Relaxed);
    assert_eq!(run(&relaxed, &[body]), relaxed_reference(body));
});
