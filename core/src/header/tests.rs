use super::*;
use alloc::vec::Vec;

#[derive(Default)]
struct Collect {
    fields: Vec<Vec<u8>>,
    names: Vec<Vec<u8>>,
    cur: Option<Vec<u8>>,
}

impl FieldSink for Collect {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        self.names.push(name.to_vec());
        self.cur = Some(Vec::new());
        Ok(!name.eq_ignore_ascii_case(b"x-skip"))
    }
    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.cur.as_mut().unwrap().extend_from_slice(bytes);
        Ok(())
    }
    fn end_field(&mut self) -> Result<(), Error> {
        let f = self.cur.take().unwrap();
        if !f.is_empty() {
            self.fields.push(f);
        }
        Ok(())
    }
}

fn split_all(input: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<u8>), Error> {
    let whole = split(input, &[input.len()]);
    for at in 0..=input.len() {
        assert_eq!(split(input, &[at]), whole, "split at {at}");
    }
    whole
}

fn split(input: &[u8], cuts: &[usize]) -> Result<(Vec<Vec<u8>>, Vec<u8>), Error> {
    let mut s = HeaderSplitter::new();
    let mut c = Collect::default();
    let mut body = Vec::new();
    let mut prev = 0;
    let mut points: Vec<usize> = cuts.to_vec();
    points.push(input.len());
    for p in points {
        let piece = &input[prev..p];
        prev = p;
        if s.is_done() {
            body.extend_from_slice(piece);
            continue;
        }
        if let Some(n) = s.push(piece, &mut c)? {
            body.extend_from_slice(&piece[n..]);
        }
    }
    s.finish(&mut c)?;
    Ok((c.fields, body))
}

#[test]
fn splits_fields_and_body_at_every_point() {
    let msg = b"From: a@b.c\r\nSubject: hi\r\n there\r\nX-Skip: long\r\n\tvalue\r\nTo : d@e.f\r\n\r\nbody\r\n\r\nmore";
    let (fields, body) = split_all(msg).unwrap();
    assert_eq!(
        fields,
        [&b"From: a@b.c"[..], b"Subject: hi\r\n there", b"To : d@e.f"]
    );
    assert_eq!(body, b"body\r\n\r\nmore");
}

#[test]
fn no_blank_line_means_empty_body() {
    let (fields, body) = split_all(b"From: a@b.c\r\nTo: x").unwrap();
    assert_eq!(fields, [&b"From: a@b.c"[..], b"To: x"]);
    assert!(body.is_empty());
    let (fields, body) = split_all(b"From: a@b.c\r\n").unwrap();
    assert_eq!(fields.len(), 1);
    assert!(body.is_empty());
}

#[test]
fn bare_cr_lf_and_nul_are_value_bytes() {
    let (fields, body) = split_all(b"A: x\ny\rz\x00\r\nB: \xff\r\n\r\n").unwrap();
    assert_eq!(fields, [&b"A: x\ny\rz\x00"[..], b"B: \xff"]);
    assert!(body.is_empty());
    // A bare LF never ends the header block.
    let (fields, body) = split_all(b"A: x\n\nB: y\r\n\r\nbody").unwrap();
    assert_eq!(fields, [&b"A: x\n\nB: y"[..]]);
    assert_eq!(body, b"body");
}

#[test]
fn malformed_lines_are_typed_errors() {
    for bad in [
        &b" leading: continuation\r\n\r\n"[..],
        b"no colon here\r\n\r\n",
        b"From sender date\r\n",
        b"A: x\r\n\rB: y\r\n",
        b"Na\x00me: x\r\n",
    ] {
        for at in 0..=bad.len() {
            assert_eq!(
                split(bad, &[at]),
                Err(Error::MalformedHeaderField),
                "{:?}",
                bad
            );
        }
    }
    assert_eq!(
        split(b"NoColonAtEof", &[]),
        Err(Error::MalformedHeaderField)
    );
}

#[test]
fn message_starting_with_blank_line_is_all_body() {
    let (fields, body) = split_all(b"\r\nFrom: x\r\n").unwrap();
    assert!(fields.is_empty());
    assert_eq!(body, b"From: x\r\n");
}

#[test]
fn long_unkept_names_cost_nothing() {
    let mut msg = Vec::new();
    msg.extend(core::iter::repeat_n(b'N', 10_000));
    msg.extend_from_slice(b": v\r\nFrom: a\r\n\r\n");
    let (fields, _) = split(&msg, &[]).unwrap();
    assert_eq!(fields, [&b"From: a"[..]]);
}

#[test]
fn store_selects_bottom_up_and_oversigns() {
    let mut st: HeaderStore<256, 8> = HeaderStore::new();
    for f in [&b"From: 1"[..], b"Subject: a", b"from: 2", b"Subject: b"] {
        st.begin().unwrap();
        st.extend(f).unwrap();
        st.end();
    }
    let h: [&[u8]; 5] = [b"from", b"subject", b"FROM", b"from", b"to"];
    let got: Vec<Option<&[u8]>> = st.select(h.iter().copied()).collect();
    assert_eq!(
        got,
        [
            Some(&b"from: 2"[..]),
            Some(b"Subject: b"),
            Some(b"From: 1"),
            None,
            None
        ]
    );
    assert_eq!(st.count(b"FROM"), 2);
}

#[test]
fn store_limits_are_typed_errors() {
    let mut st: HeaderStore<8, 2> = HeaderStore::new();
    st.begin().unwrap();
    assert_eq!(
        st.extend(b"123456789"),
        Err(Error::HeaderBytesCapacity { limit: 8 })
    );
    st.begin().unwrap();
    assert_eq!(st.begin(), Err(Error::HeaderFieldsCapacity { limit: 2 }));
}

/// §5.4.2 as written: the `k`-th mention of a name takes the `k`-th
/// instance from the bottom. The store's one-pass selection agrees with
/// it on random lists.
#[test]
fn select_agrees_with_counting_earlier_mentions() {
    let names: [&[u8]; 4] = [b"a", b"B", b"c", b"d"];
    let mut rng = crate::test_support::XorShift::new(0x5e1ec7);
    for _ in 0..500 {
        let mut st: HeaderStore<1024, 16> = HeaderStore::new();
        let mut fields = Vec::new();
        for i in 0..rng.below(12) {
            let f = alloc::format!("{}: {i}", ["A", "b", "C", "x"][rng.below(4)]);
            st.begin().unwrap();
            st.extend(f.as_bytes()).unwrap();
            st.end();
            fields.push(f.into_bytes());
        }
        let h: Vec<&[u8]> = (0..rng.below(20)).map(|_| names[rng.below(4)]).collect();
        let want: Vec<Option<&[u8]>> = h
            .iter()
            .enumerate()
            .map(|(pos, name)| {
                let earlier = h[..pos].iter().filter(|n| names_match(n, name)).count();
                fields
                    .iter()
                    .rev()
                    .filter(|f| names_match(field_name(f), name))
                    .nth(earlier)
                    .map(|f| f.as_slice())
            })
            .collect();
        let got: Vec<Option<&[u8]>> = st.select(h.iter().copied()).collect();
        assert_eq!(got, want, "{h:?}");
    }
}

#[test]
fn remove_last_gives_back_its_room() {
    let mut st: HeaderStore<16, 2> = HeaderStore::new();
    st.begin().unwrap();
    st.extend(b"A: 1").unwrap();
    st.end();
    st.begin().unwrap();
    st.extend(b"B: 123456789").unwrap();
    st.end();
    st.remove_last();
    assert_eq!(st.len(), 1);
    assert_eq!(st.get(0), Some(&b"A: 1"[..]));
    st.begin().unwrap();
    st.extend(b"C: 123456789").unwrap();
    st.end();
    assert_eq!(st.get(1), Some(&b"C: 123456789"[..]));
}
