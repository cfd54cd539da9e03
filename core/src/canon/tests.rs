use super::*;
use alloc::vec::Vec;

impl Sink for Vec<u8> {
    fn write(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

fn body(canon: Canon, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut c = BodyCanonicalizer::new(canon);
    c.update(input, &mut out);
    c.finish(&mut out);
    out
}

/// Feed `input` split at every point (and byte by byte), and check the
/// output never changes.
fn body_all_splits(canon: Canon, input: &[u8]) -> Vec<u8> {
    let whole = body(canon, input);
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::new(canon);
        c.update(a, &mut out);
        c.update(b, &mut out);
        c.finish(&mut out);
        assert_eq!(out, whole, "split at {split} of {:?}", input);
    }
    let mut out = Vec::new();
    let mut c = BodyCanonicalizer::new(canon);
    for b in input {
        c.update(core::slice::from_ref(b), &mut out);
    }
    c.finish(&mut out);
    assert_eq!(out, whole, "byte by byte");
    whole
}

/// A plain reference implementation of §3.4.4, written from the RFC's
/// wording, to compare the streaming one against.
fn relaxed_reference(input: &[u8]) -> Vec<u8> {
    // Split into lines on CRLF; the last piece has no CRLF.
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < input.len() {
        if input[i] == CR && input.get(i + 1) == Some(&LF) {
            lines.push(core::mem::take(&mut cur));
            i += 2;
        } else {
            cur.push(input[i]);
            i += 1;
        }
    }
    let last_has_crlf = cur.is_empty();
    if !cur.is_empty() {
        lines.push(cur);
    }
    let _ = last_has_crlf;
    let mut canon_lines: Vec<Vec<u8>> = lines
        .into_iter()
        .map(|l| {
            let mut out = Vec::new();
            let mut wsp = false;
            for &b in &l {
                if b == SP || b == TAB {
                    wsp = true;
                } else {
                    if wsp {
                        out.push(SP);
                        wsp = false;
                    }
                    out.push(b);
                }
            }
            out
        })
        .collect();
    while canon_lines.last().is_some_and(|l| l.is_empty()) {
        canon_lines.pop();
    }
    let mut out = Vec::new();
    for l in canon_lines {
        out.extend_from_slice(&l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn rfc6376_3_4_5_example_body() {
    // RFC 6376 §3.4.5.
    let input = b" C \r\nD \t E\r\n\r\n\r\n";
    assert_eq!(body_all_splits(Canon::Relaxed, input), b" C\r\nD E\r\n");
    assert_eq!(body_all_splits(Canon::Simple, input), b" C \r\nD \t E\r\n");
}

#[test]
fn rfc6376_3_4_5_example_headers() {
    let fields: [&[u8]; 2] = [b"A: X", b"B : Y\t\r\n\tZ  "];
    let mut relaxed = Vec::new();
    let mut simple = Vec::new();
    for f in fields {
        canonicalize_header(Canon::Relaxed, f, true, &mut relaxed);
        canonicalize_header(Canon::Simple, f, true, &mut simple);
    }
    assert_eq!(relaxed, b"a:X\r\nb:Y Z\r\n");
    assert_eq!(simple, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
}

#[test]
fn header_relaxed_every_split() {
    let cases: [(&[u8], &[u8]); 7] = [
        (b"Subject:\r\n x", b"subject:x"),
        (b"SUBJECT  :  a \t b  ", b"subject:a b"),
        (b"To: a,\r\n\tb,\r\n c", b"to:a, b, c"),
        (b"X: a\rb", b"x:a\rb"),
        (b"X: a \r", b"x:a \r"),
        (b"X:", b"x:"),
        (b"X: \x00\xff ", b"x:\x00\xff"),
    ];
    for (input, want) in cases {
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let mut out = Vec::new();
            let mut c = HeaderCanonicalizer::new(Canon::Relaxed);
            c.update(a, &mut out);
            c.update(b, &mut out);
            c.finish(false, &mut out);
            assert_eq!(out, want, "input {:?} split {split}", input);
        }
    }
}

#[test]
fn empty_bodies() {
    assert_eq!(body_all_splits(Canon::Simple, b""), b"\r\n");
    assert_eq!(body_all_splits(Canon::Relaxed, b""), b"");
    assert_eq!(body_all_splits(Canon::Simple, b"\r\n\r\n\r\n"), b"\r\n");
    assert_eq!(body_all_splits(Canon::Relaxed, b" \t\r\n \r\n\t\r\n"), b"");
}

#[test]
fn no_final_crlf() {
    assert_eq!(body_all_splits(Canon::Simple, b"abc"), b"abc\r\n");
    assert_eq!(body_all_splits(Canon::Relaxed, b"abc  "), b"abc\r\n");
    assert_eq!(body_all_splits(Canon::Simple, b"abc\r"), b"abc\r\r\n");
    assert_eq!(body_all_splits(Canon::Relaxed, b"abc\r"), b"abc\r\r\n");
}

#[test]
fn bare_lf_and_cr_are_ordinary_bytes() {
    assert_eq!(body_all_splits(Canon::Simple, b"a\nb\n\n"), b"a\nb\n\n\r\n");
    assert_eq!(
        body_all_splits(Canon::Relaxed, b"a \n b\r c \r\n"),
        b"a \n b\r c\r\n"
    );
}

#[test]
fn relaxed_matches_reference_on_generated_inputs() {
    // Every string over a small alphabet up to length 7, and a few
    // longer pseudo-random ones: exhaustive for the state machine.
    let alphabet = [b'a', SP, TAB, CR, LF];
    let mut buf = Vec::new();
    for len in 0..=7u32 {
        let total = 5usize.pow(len);
        for mut n in 0..total {
            buf.clear();
            for _ in 0..len {
                buf.push(alphabet[n % 5]);
                n /= 5;
            }
            let got = body(Canon::Relaxed, &buf);
            assert_eq!(got, relaxed_reference(&buf), "input {:?}", buf);
        }
    }
    let mut x: u32 = 12345;
    for _ in 0..40 {
        buf.clear();
        for _ in 0..200 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            buf.push(alphabet[(x >> 16) as usize % 5]);
        }
        let want = relaxed_reference(&buf);
        assert_eq!(body_all_splits(Canon::Relaxed, &buf), want);
    }
}

#[test]
fn relaxed_matches_reference_on_random_inputs_and_splits() {
    // Longer strings than the exhaustive test, so that runs cross the
    // words and blocks of a scan at every alignment: made of words of
    // text, single spaces, runs of spaces and tabs, CRLFs (and runs of
    // them, at the end too) and odd bytes: lone CR or LF, other
    // controls, and bytes with the high bit set whose low seven bits
    // are whitespace (0xa0, 0x89, 0x8d, 0x8a), which a filter must not
    // take for whitespace. Each string is fed whole and in pieces cut
    // at random points.
    let odd = [
        SP, TAB, CR, LF, 0xa0, 0x89, 0x8d, 0x8a, 0x0b, 0x01, 0x21, 0x1f,
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut buf = Vec::new();
    for _ in 0..4000 {
        buf.clear();
        let len = (next() % 300) as usize;
        while buf.len() < len {
            let r = next();
            match r % 8 {
                0..=2 => {
                    for i in 0..=(r >> 8) % 12 {
                        buf.push(b'a' + ((r >> 16) + i) as u8 % 26);
                    }
                }
                3 => buf.push(SP),
                4 => {
                    for i in 0..=(r >> 8) % 4 {
                        buf.push(if (r >> (16 + i)) & 1 == 0 { SP } else { TAB });
                    }
                }
                5 => {
                    for _ in 0..=(r >> 8) % 2 * ((r >> 12) % 4) {
                        buf.extend_from_slice(b"\r\n");
                    }
                }
                _ => buf.push(odd[(r >> 8) as usize % odd.len()]),
            }
        }
        if next() % 4 == 0 {
            for _ in 0..next() % 5 {
                buf.extend_from_slice(b"\r\n");
            }
        }
        // The scans (with and without SIMD blocks) against the byte by
        // byte rule, starting at every place in a word.
        for start in 0..buf.len().min(16) {
            let data = &buf[start..];
            let window = data.len().saturating_sub(2);
            let want = trim_cr(data, first_special(data, 0, window).unwrap_or(window));
            assert_eq!(relaxed_clean_prefix(data), want, "input {:?}", data);
            assert_eq!(words32::clean_words(data, 0, window), want, "{:?}", data);
            assert_eq!(words64::clean_words(data, 0, window), want, "{:?}", data);
        }
        let want = relaxed_reference(&buf);
        assert_eq!(body(Canon::Relaxed, &buf), want, "input {:?}", buf);
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::new(Canon::Relaxed);
        let mut rest = &buf[..];
        while !rest.is_empty() {
            let n = (next() % (rest.len() as u64 + 1)) as usize;
            let (piece, tail) = rest.split_at(n);
            c.update(piece, &mut out);
            rest = tail;
        }
        c.finish(&mut out);
        assert_eq!(out, want, "input {:?} in pieces", buf);
    }
}

#[test]
fn many_empty_lines_are_counted() {
    let mut input = Vec::new();
    input.extend_from_slice(b"x");
    for _ in 0..1000 {
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b"y\r\n\r\n");
    let mut want = Vec::new();
    want.extend_from_slice(b"x");
    for _ in 0..1000 {
        want.extend_from_slice(b"\r\n");
    }
    want.extend_from_slice(b"y\r\n");
    assert_eq!(body(Canon::Simple, &input), want);
    assert_eq!(body(Canon::Relaxed, &input), want);
}

fn dk_body(canon: DkCanon, input: &[u8]) -> Vec<u8> {
    let whole = {
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::domainkeys(canon);
        c.update(input, &mut out);
        c.finish(&mut out);
        out
    };
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::domainkeys(canon);
        c.update(a, &mut out);
        c.update(b, &mut out);
        c.finish(&mut out);
        assert_eq!(out, whole, "split at {at}");
    }
    whole
}

#[test]
fn domainkeys_bodies() {
    // The blank line after the header block is fed first (RFC 4870
    // §3.4.2.1: every line from the first header line to the last body
    // line is presented), and counts as an empty line.
    assert_eq!(dk_body(DkCanon::Simple, b"\r\n"), b"");
    assert_eq!(dk_body(DkCanon::Simple, b"\r\nabc"), b"\r\nabc");
    assert_eq!(
        dk_body(DkCanon::Simple, b"\r\n a \r\n\r\n\r\n"),
        b"\r\n a \r\n"
    );
    assert_eq!(
        dk_body(DkCanon::Nofws, b"\r\n a \tb \r\n  \r\n\r\n"),
        b"\r\nab\r\n"
    );
    assert_eq!(dk_body(DkCanon::Nofws, b"\r\nx\ry\nz\r\n"), b"\r\nxyz\r\n");
    assert_eq!(dk_body(DkCanon::Nofws, b"\r\nx\r"), b"\r\nx");
}

#[test]
fn domainkeys_headers() {
    let mut out = Vec::new();
    canonicalize_dk_header(DkCanon::Nofws, b"Subject : a b\r\n\tc", &mut out);
    canonicalize_dk_header(DkCanon::Simple, b"To: x\r\n y", &mut out);
    assert_eq!(out, b"Subject:abc\r\nTo: x\r\n y\r\n");
}

#[test]
fn canonicalization_names() {
    assert_eq!(
        Canonicalization::parse(b"relaxed"),
        Some(Canonicalization {
            header: Canon::Relaxed,
            body: Canon::Simple
        })
    );
    assert_eq!(
        Canonicalization::parse(b"Simple/Relaxed"),
        Some(Canonicalization {
            header: Canon::Simple,
            body: Canon::Relaxed
        })
    );
    assert_eq!(Canonicalization::parse(b"relaxed/"), None);
    assert_eq!(Canonicalization::parse(b"nofws"), None);
}
