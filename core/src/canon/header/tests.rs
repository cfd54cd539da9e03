use super::*;
use alloc::vec::Vec;

/// The relaxed header canonicalizer before the word scan, one byte at a
/// time: the reference the scan must match at every split.
struct ByteByByte {
    state: HeaderState,
}

impl ByteByByte {
    fn new() -> Self {
        ByteByByte {
            state: HeaderState::Name,
        }
    }

    fn update(&mut self, piece: &[u8], out: &mut Vec<u8>) {
        for &b in piece {
            self.state = match self.state {
                HeaderState::Name => match b {
                    b':' => {
                        out.push(b':');
                        HeaderState::LeadingValue { cr: false }
                    }
                    SP | TAB => HeaderState::Name,
                    CR | LF => HeaderState::Name,
                    _ => {
                        out.push(b.to_ascii_lowercase());
                        HeaderState::Name
                    }
                },
                HeaderState::LeadingValue { cr } => match b {
                    SP | TAB if cr => {
                        out.push(CR);
                        HeaderState::Value {
                            wsp: true,
                            cr: false,
                        }
                    }
                    SP | TAB => HeaderState::LeadingValue { cr: false },
                    CR => {
                        if cr {
                            out.push(CR);
                            HeaderState::Value {
                                wsp: false,
                                cr: true,
                            }
                        } else {
                            HeaderState::LeadingValue { cr: true }
                        }
                    }
                    LF if cr => HeaderState::LeadingValue { cr: false },
                    _ => {
                        if cr {
                            out.push(CR);
                        }
                        out.push(b);
                        HeaderState::Value {
                            wsp: false,
                            cr: false,
                        }
                    }
                },
                HeaderState::Value { wsp, cr } => match b {
                    SP | TAB => {
                        if cr {
                            if wsp {
                                out.push(SP);
                            }
                            out.push(CR);
                        }
                        HeaderState::Value {
                            wsp: true,
                            cr: false,
                        }
                    }
                    LF if cr => HeaderState::Value { wsp, cr: false },
                    CR => {
                        if cr {
                            if wsp {
                                out.push(SP);
                            }
                            out.push(CR);
                            HeaderState::Value {
                                wsp: false,
                                cr: true,
                            }
                        } else {
                            HeaderState::Value { wsp, cr: true }
                        }
                    }
                    _ => {
                        if wsp {
                            out.push(SP);
                        }
                        if cr {
                            out.push(CR);
                        }
                        out.push(b);
                        HeaderState::Value {
                            wsp: false,
                            cr: false,
                        }
                    }
                },
            };
        }
    }

    fn finish(self, crlf: bool, out: &mut Vec<u8>) {
        if let HeaderState::Value { wsp, cr: true } = self.state {
            if wsp {
                out.push(SP);
            }
            out.push(CR);
        } else if let HeaderState::LeadingValue { cr: true } = self.state {
            out.push(CR);
        }
        if crlf {
            out.extend_from_slice(b"\r\n");
        }
    }
}

fn reference(pieces: &[&[u8]], crlf: bool) -> Vec<u8> {
    let mut r = ByteByByte::new();
    let mut out = Vec::new();
    for p in pieces {
        r.update(p, &mut out);
    }
    r.finish(crlf, &mut out);
    out
}

fn streamed(canon: Canon, pieces: &[&[u8]], crlf: bool) -> Vec<u8> {
    let mut c = HeaderCanonicalizer::new(canon);
    let mut out = Vec::new();
    for p in pieces {
        c.update(p, &mut out);
    }
    c.finish(crlf, &mut out);
    out
}

/// Random fields weighted to the bytes relaxed canonicalization acts on:
/// spaces, tabs, CR, LF, folds, colons, capitals, and bytes with the high
/// bit set whose low seven bits are whitespace.
fn random_fields() -> impl Iterator<Item = (Vec<u8>, u64)> {
    let odd = [
        SP, TAB, CR, LF, b':', 0xa0, 0x89, 0x8d, 0x8a, 0x0b, 0x00, b'A', b'Z',
    ];
    let mut x: u64 = 0x6a09_e667_f3bc_c908;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..3000).map(move |_| {
        let len = (next() % 160) as usize;
        let mut buf = Vec::with_capacity(len);
        // Most fields have a name and a colon.
        if next() % 4 != 0 {
            let name: &[u8] =
                [&b"Subject"[..], b"DKIM-Signature", b"To", b"x y"][(next() % 4) as usize];
            buf.extend_from_slice(name);
            buf.extend_from_slice([&b":"[..], b": ", b" :\t", b":\r\n "][(next() % 4) as usize]);
        }
        while buf.len() < len {
            let r = next();
            match r % 7 {
                0 => buf.push(odd[(r >> 8) as usize % odd.len()]),
                1 => buf.push(SP),
                2 => buf.extend_from_slice(
                    [&b"\r\n "[..], b"\r\n\t", b"\r\n", b" \r\n  "][(r >> 8) as usize % 4],
                ),
                3 => {
                    for i in 0..=(r >> 8) % 4 {
                        buf.push(if (r >> (16 + i)) & 1 == 0 { SP } else { TAB });
                    }
                }
                _ => {
                    for i in 0..=(r >> 8) % 24 {
                        buf.push(b'A' + ((r >> 16) + i) as u8 % 58);
                    }
                }
            }
        }
        (buf, next())
    })
}

#[test]
fn relaxed_matches_the_byte_by_byte_rules_at_every_split_and_in_pieces() {
    for (field, seed) in random_fields() {
        for crlf in [false, true] {
            let want = reference(&[&field], crlf);
            let mut whole = Vec::new();
            canonicalize_header(Canon::Relaxed, &field, crlf, &mut whole);
            assert_eq!(whole, want, "{:?}", field);
            assert_eq!(streamed(Canon::Relaxed, &[&field], crlf), want);
        }
        let want = reference(&[&field], true);
        for at in 0..=field.len() {
            let (a, b) = field.split_at(at);
            assert_eq!(
                streamed(Canon::Relaxed, &[a, b], true),
                want,
                "{field:?} split at {at}"
            );
        }
        let mut cuts = Vec::new();
        let mut rest = &field[..];
        let mut r = seed;
        while !rest.is_empty() {
            r = r.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let n = ((r >> 33) % (rest.len() as u64 + 1)) as usize;
            let (piece, tail) = rest.split_at(n);
            cuts.push(piece);
            rest = tail;
        }
        assert_eq!(
            streamed(Canon::Relaxed, &cuts, true),
            want,
            "{field:?} in pieces {cuts:?}"
        );
    }
}

#[test]
fn relaxed_matches_the_byte_by_byte_rules_on_every_short_field() {
    // Every string over a small alphabet up to length 7 after a name:
    // exhaustive for the state machine and the scan's edges.
    let alphabet = [b'a', SP, TAB, CR, LF, b':'];
    let mut buf = Vec::new();
    for len in 0..=7u32 {
        for mut n in 0..6usize.pow(len) {
            buf.clear();
            buf.extend_from_slice(b"X:");
            for _ in 0..len {
                buf.push(alphabet[n % 6]);
                n /= 6;
            }
            let mut got = Vec::new();
            canonicalize_header(Canon::Relaxed, &buf, false, &mut got);
            assert_eq!(got, reference(&[&buf], false), "{buf:?}");
        }
    }
}

#[test]
fn simple_is_the_field_as_it_is() {
    for (field, _) in random_fields().take(200) {
        let mut want = field.clone();
        want.extend_from_slice(b"\r\n");
        let mut got = Vec::new();
        canonicalize_header(Canon::Simple, &field, true, &mut got);
        assert_eq!(got, want);
        let (a, b) = field.split_at(field.len() / 2);
        assert_eq!(streamed(Canon::Simple, &[a, b], true), want);
        assert_eq!(streamed(Canon::Simple, &[a, b], false), field);
    }
}

#[test]
fn long_values_go_to_the_sink_in_long_slices() {
    // A clean value longer than the stage reaches the sink in one write.
    struct Writes(Vec<usize>);
    impl Sink for Writes {
        fn write(&mut self, bytes: &[u8]) {
            self.0.push(bytes.len());
        }
    }
    let mut field = b"Received: ".to_vec();
    field.extend(core::iter::repeat_n(b"from a.example by b.example; ", 20).flatten());
    field.pop();
    let mut w = Writes(Vec::new());
    canonicalize_header(Canon::Relaxed, &field, true, &mut w);
    assert!(w.0.len() <= 4, "{:?}", w.0);
    assert!(w.0.iter().any(|&n| n > 500), "{:?}", w.0);
}
