//! Recipes: the JSON reader, the index, the rewinds against a plain
//! reference of the draft's rules (fed at every split point), and the
//! writer byte for byte against what serde_json writes.
//!
//! The recipes here are written from the rules, not copied from a corpus:
//! the shapes mail-auth writes (`{"b":[{"c":[1,n]}]}` for a footer,
//! `{"h":{"subject":[{"d":["…"]}]}}` for a subject tag, an empty step list
//! for an added field, copies of the values below) and the shape of an
//! implementation that sorts its keys (`"b"` before `"h"`).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::canon::Sink;
use crate::test_support::XorShift;

type Index = RecipeIndex<64, 32>;

#[derive(Debug, Default)]
struct Collect(Vec<u8>);

impl Sink for Collect {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fn parse(json: &str) -> Index {
    Index::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e:?}"))
}

fn err(json: &[u8]) -> RecipeError {
    Index::parse(json).expect_err(&String::from_utf8_lossy(json))
}

// ---- the reference: the draft's rules, with whole buffers -------------

/// The body's lines: split at LF, one CR dropped, a last empty piece
/// dropped.
fn ref_lines(body: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn decoded(s: JsonStr<'_>) -> Vec<u8> {
    s.bytes().collect()
}

/// Instance N-1's body by the rules, or `None` where mass refuses (a copy
/// past the last line).
fn ref_body(index: &Index, json: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let BodyRecipe::Steps(list) = index.body() else {
        return Some(body.to_vec());
    };
    let lines = ref_lines(body);
    let mut out = Vec::new();
    let mut emitted = false;
    for step in index.steps(list) {
        match *step {
            Step::Copy { start, end } => {
                for n in start..=end {
                    out.extend_from_slice(lines.get(n as usize - 1)?);
                    out.extend_from_slice(b"\r\n");
                    emitted = true;
                }
            }
            Step::Data { .. } => {
                for v in step.values(json) {
                    out.extend(decoded(v));
                    out.extend_from_slice(b"\r\n");
                    emitted = true;
                }
            }
        }
    }
    if !emitted {
        out.extend_from_slice(b"\r\n");
    }
    Some(out)
}

/// The rewind, fed `pieces`.
fn rewind(index: &Index, json: &[u8], pieces: &[&[u8]]) -> Result<Vec<u8>, RecipeError> {
    let mut r = BodyRewind::new(index)?;
    let mut out = Collect::default();
    for p in pieces {
        r.push(json, p, &mut out)?;
    }
    r.finish(json, &mut out)?;
    Ok(out.0)
}

/// The rewind at every single split point and in bytes one at a time
/// agrees with the reference and with itself, and keeps its bound.
fn check_body(json: &str, body: &[u8]) -> Result<Vec<u8>, RecipeError> {
    let index = parse(json);
    let json = json.as_bytes();
    let whole = rewind(&index, json, &[body]);
    match (&whole, ref_body(&index, json, body)) {
        (Ok(got), Some(want)) => assert_eq!(got, &want, "{:?}", String::from_utf8_lossy(body)),
        (Err(RecipeError::RangeOutsideBody { lines }), None) => {
            assert_eq!(*lines, ref_lines(body).len() as u64);
        }
        (got, want) => panic!("{got:?} but the reference says {want:?}"),
    }
    for cut in 0..=body.len() {
        let (a, b) = body.split_at(cut);
        assert_eq!(rewind(&index, json, &[a, b]), whole, "cut at {cut}");
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(rewind(&index, json, &bytes), whole, "byte at a time");
    if let Ok(out) = &whole {
        let lfs = body.iter().filter(|&&b| b == b'\n').count();
        assert!(out.len() <= body.len() + lfs + json.len() + 2);
    }
    whole
}

// ---- the JSON reader ---------------------------------------------------

#[test]
fn recipes_of_each_shape_parse() {
    let r = parse(r#"{"b":[{"c":[1,1]}]}"#);
    let BodyRecipe::Steps(list) = r.body() else {
        panic!("{:?}", r.body());
    };
    assert_eq!(r.steps(list), &[Step::Copy { start: 1, end: 1 }]);
    assert!(r.headers().is_empty());

    let json = r#"{"h":{"subject":[{"d":["Original subject"]}]}}"#;
    let r = parse(json);
    assert_eq!(r.body(), BodyRecipe::Unchanged);
    let h = r.headers()[0];
    assert_eq!(decoded(h.name(json.as_bytes())), b"subject");
    let steps = r.steps(h.steps());
    assert_eq!(steps.len(), 1);
    let values: Vec<Vec<u8>> = steps[0].values(json.as_bytes()).map(decoded).collect();
    assert_eq!(values, [b"Original subject".to_vec()]);

    let r = parse(r#"{"h":{"list-unsubscribe":[]}}"#);
    assert!(r.headers()[0].steps().is_empty());
    assert_eq!(parse(r#"{"b":null}"#).body(), BodyRecipe::Unreconstructable);
    assert_eq!(parse("{}").body(), BodyRecipe::Unchanged);
    assert_eq!(parse(" \t\r\n{ } \n").body(), BodyRecipe::Unchanged);

    let json = r#"{"b":[{"c":[1,4]},{"d":["An added line.",""]},{"c":[6,9]}],"h":{"x-list":[{"d":["yes"]}],"to":[]}}"#;
    let r = parse(json);
    assert!(r.body_first());
    let names: Vec<Vec<u8>> = r.header_names(json.as_bytes()).map(decoded).collect();
    assert_eq!(names, [b"x-list".to_vec(), b"to".to_vec()]);
    assert!(!parse(r#"{"h":{},"b":null}"#).body_first());
}

#[test]
fn what_mail_auth_ignores_is_ignored() {
    // Unknown keys with any value, entries that are no step, steps with
    // neither key, extra copy elements, escaped keys, white space.
    let cases: &[(&str, &[Step])] = &[
        (
            r#"{"z":{"a":[1,-2.5e3,true,false,null,"s",{}],"q":[]},"b":[{"c":[1,1]}]}"#,
            &[Step::Copy { start: 1, end: 1 }],
        ),
        (
            r#"{"b":[1,"x",[9],null,true,{"z":true},{"c":[3,4]}]}"#,
            &[Step::Copy { start: 3, end: 4 }],
        ),
        (
            r#"{"b":[{"d":["x"],"c":[1,2]}]}"#,
            &[Step::Copy { start: 1, end: 2 }],
        ),
        (
            r#"{"b":[{"c":[1,2],"x":7,"y":[1,2,3],"c":"later"}]}"#,
            &[Step::Copy { start: 1, end: 2 }],
        ),
        (
            r#"{"b":[{"c":[1,2,3,{"k":[null]}]}]}"#,
            &[Step::Copy { start: 1, end: 2 }],
        ),
        (
            r#"{"\u0062":[{"\u0063":[1,2]}]}"#,
            &[Step::Copy { start: 1, end: 2 }],
        ),
        (
            "{ \"b\" :\n[ {\t\"c\" : [ 1 , 2 ] } ] }",
            &[Step::Copy { start: 1, end: 2 }],
        ),
        (
            r#"{"b":[{"c":[4294967295,4294967295]}]}"#,
            &[Step::Copy {
                start: u32::MAX,
                end: u32::MAX,
            }],
        ),
    ];
    for (json, want) in cases {
        let r = parse(json);
        let BodyRecipe::Steps(list) = r.body() else {
            panic!("{json}");
        };
        assert_eq!(r.steps(list), *want, "{json}");
    }
    // A "c" that is no array leaves the step to its "d".
    let json = r#"{"b":[{"c":5,"d":["x"]},{"d":[]}]}"#;
    let r = parse(json);
    let BodyRecipe::Steps(list) = r.body() else {
        panic!();
    };
    let steps = r.steps(list);
    assert_eq!(steps.len(), 2);
    assert!(matches!(steps[0], Step::Data { .. }));
    assert_eq!(steps[1].values(json.as_bytes()).count(), 0);
}

#[test]
fn strings_decode_every_escape() {
    let json = r#"{"h":{"subject":[{"d":["a\"b\\c\/d\be\ff\ng\rh\ti\u0000\u00e9\u20AC\ud83d\ude00 caf\u00e9 é"]}]}}"#;
    let r = parse(json);
    let step = r.steps(r.headers()[0].steps())[0];
    let v = step.values(json.as_bytes()).next().unwrap();
    let want = "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti\0é€😀 café é".as_bytes();
    assert_eq!(decoded(v), want);
    assert_eq!(v.decoded_len(), want.len());
    let mut c = Collect::default();
    v.write_to(&mut c);
    assert_eq!(c.0, want);
    let mut buf = [0u8; 64];
    assert_eq!(v.decode_into(&mut buf).unwrap(), want);
    assert_eq!(
        v.decode_into(&mut buf[..want.len() - 1]),
        Err(RecipeError::BufferTooSmall {
            required: want.len()
        })
    );
    assert_eq!(v.plain(), None);
    assert_eq!(
        JsonStr::new(b"\"abc\"", Span::new(1, 4).unwrap()).plain(),
        Some(&b"abc"[..])
    );
}

#[test]
fn text_that_is_not_json_is_refused() {
    use JsonError::*;
    let cases: &[(&[u8], JsonError)] = &[
        (b"", UnexpectedEnd),
        (b"   ", UnexpectedEnd),
        (b"{", UnexpectedEnd),
        (b"{\"b\":}", UnexpectedByte),
        (b"{\"b\":[{\"c\":[1,2]}]", UnexpectedEnd),
        (b"{\"b\":[{\"c\":[1,2]},]}", UnexpectedByte),
        (b"{\"b\":null,}", UnexpectedByte),
        (b"{\"b\" null}", UnexpectedByte),
        (b"{\"b\":null} x", TrailingBytes),
        (b"{}{}", TrailingBytes),
        (b"{'b':null}", UnexpectedByte),
        (b"{\"z\":\"\\x\"}", BadEscape),
        (b"{\"z\":\"\\u12\"}", BadEscape),
        (b"{\"z\":\"\\u12g4\"}", BadEscape),
        (b"{\"z\":\"\\ud800\"}", LoneSurrogate),
        (b"{\"z\":\"\\udc00\"}", LoneSurrogate),
        (b"{\"z\":\"\\ud800\\u0041\"}", LoneSurrogate),
        (b"{\"z\":\"\\ud800x\"}", LoneSurrogate),
        (b"{\"z\":\"a\nb\"}", ControlCharacter),
        (b"{\"z\":\"\x1f\"}", ControlCharacter),
        (b"{\"z\":\"\xff\"}", InvalidUtf8),
        (b"{\"z\":\"\xc3\"}", InvalidUtf8),
        (b"{\"z\":\"\xed\xa0\x80\"}", InvalidUtf8),
        (b"{\"z\":\"abc}", UnexpectedEnd),
        (b"{\"z\":01}", BadNumber),
        (b"{\"z\":-}", BadNumber),
        (b"{\"z\":1.}", BadNumber),
        (b"{\"z\":1e}", BadNumber),
        (b"{\"z\":+1}", UnexpectedByte),
        (b"{\"z\":.5}", UnexpectedByte),
        (b"{\"z\":nul}", UnexpectedByte),
        (b"{\"z\":tru", UnexpectedEnd),
        (b"{\"z\":True}", UnexpectedByte),
        (b"{\"b\":[{\"c\":[01,2]}]}", BadNumber),
        (b"{\"b\":[{\"c\":[1,4294967296]}]}", NumberTooLarge),
        (
            b"{\"b\":[{\"c\":[18446744073709551616,1]}]}",
            NumberTooLarge,
        ),
        (b"[1,", UnexpectedEnd),
    ];
    for (json, want) in cases {
        match err(json) {
            RecipeError::Json { error, .. } => {
                assert_eq!(error, *want, "{}", String::from_utf8_lossy(json));
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(json)),
        }
    }
    // The offset points at the fault.
    assert_eq!(
        err(b"{\"b\":null} x"),
        RecipeError::Json {
            error: TrailingBytes,
            at: 11
        }
    );
}

#[test]
fn nesting_is_bounded() {
    // The recipe's object is depth 1, so a value under a top-level key
    // may open MAX_DEPTH - 1 arrays.
    let nest = |n: usize| {
        let mut s = String::from("{\"z\":");
        s.extend(core::iter::repeat_n('[', n));
        s.push('1');
        s.extend(core::iter::repeat_n(']', n));
        s.push('}');
        s
    };
    assert_eq!(parse(&nest(MAX_DEPTH - 1)).body(), BodyRecipe::Unchanged);
    assert!(matches!(
        err(nest(MAX_DEPTH).as_bytes()),
        RecipeError::Json {
            error: JsonError::TooDeep,
            ..
        }
    ));
    assert!(matches!(
        err(nest(100_000).as_bytes()),
        RecipeError::Json {
            error: JsonError::TooDeep,
            ..
        }
    ));
    // Objects count the same, and so do levels inside a step: a body step
    // is at depth 3, a name's step at depth 4.
    let objects = |k: usize| {
        let mut s = String::new();
        for _ in 0..k {
            s.push_str("{\"a\":");
        }
        s.push('1');
        s.extend(core::iter::repeat_n('}', k));
        s
    };
    let deep = |json: String| {
        matches!(
            err(json.as_bytes()),
            RecipeError::Json {
                error: JsonError::TooDeep,
                ..
            }
        )
    };
    let body = |k| alloc::format!(r#"{{"b":[{{"z":{}}}]}}"#, objects(k));
    let name = |k| alloc::format!(r#"{{"h":{{"x":[{{"z":{}}}]}}}}"#, objects(k));
    let copy = |k| alloc::format!(r#"{{"b":[{{"c":[1,1,{}]}}]}}"#, objects(k));
    parse(&body(MAX_DEPTH - 3));
    assert!(deep(body(MAX_DEPTH - 2)));
    parse(&name(MAX_DEPTH - 4));
    assert!(deep(name(MAX_DEPTH - 3)));
    parse(&copy(MAX_DEPTH - 4));
    assert!(deep(copy(MAX_DEPTH - 3)));
    assert!(deep(alloc::format!(
        r#"{{"b":[{}]}}"#,
        objects(MAX_DEPTH - 1)
    )));
}

#[test]
fn json_that_is_not_a_recipe_is_refused() {
    let cases: &[&[u8]] = &[
        b"[]",
        b"null",
        b"\"x\"",
        b"42",
        b"{\"h\":null}",
        b"{\"h\":[]}",
        b"{\"h\":{\"subject\":null}}",
        b"{\"h\":{\"subject\":{}}}",
        b"{\"b\":5}",
        b"{\"b\":\"x\"}",
        b"{\"b\":{}}",
        b"{\"b\":true}",
        b"{\"h\":{\"x\":5}}",
        b"{\"b\":[{\"d\":[1]}]}",
        b"{\"b\":[{\"d\":[null]}]}",
        b"{\"b\":[{\"d\":[\"a\",[\"b\"]]}]}",
        b"{\"b\":[{\"c\":[1]}]}",
        b"{\"b\":[{\"c\":[]}]}",
        b"{\"b\":[{\"c\":[-1,2]}]}",
        b"{\"b\":[{\"c\":[1.5,2]}]}",
        b"{\"b\":[{\"c\":[1,2e0]}]}",
        b"{\"b\":[{\"c\":[\"1\",\"2\"]}]}",
        b"{\"b\":[{\"c\":[null,1]}]}",
    ];
    for json in cases {
        assert!(
            matches!(err(json), RecipeError::NotARecipe { .. }),
            "{}: {:?}",
            String::from_utf8_lossy(json),
            err(json)
        );
    }
}

#[test]
fn bad_copies_names_and_repeats_are_refused() {
    assert_eq!(
        err(br#"{"b":[{"c":[0,2]}]}"#),
        RecipeError::CopyStartZero { at: 6 }
    );
    assert_eq!(
        err(br#"{"h":{"x":[{"c":[3,2]}]}}"#),
        RecipeError::CopyStartAfterEnd { at: 11 }
    );
    assert_eq!(
        err(br#"{"h":{"to":[],"To":[]}}"#),
        RecipeError::DuplicateName { at: 14 }
    );
    assert!(matches!(
        err(br#"{"h":{"subject":[],"\u0073ubject":[]}}"#),
        RecipeError::DuplicateName { .. }
    ));
    assert_eq!(
        err(br#"{"h":{},"b":null,"h":{}}"#),
        RecipeError::DuplicateKey { at: 17 }
    );
    assert!(matches!(
        err(br#"{"b":[],"\u0062":null}"#),
        RecipeError::DuplicateKey { .. }
    ));
    for name in ["", "a b", "a:b", "caf\u{e9}", "x\\u0000", "tab\\t"] {
        let json = alloc::format!(r#"{{"h":{{"{name}":[]}}}}"#);
        assert_eq!(
            err(json.as_bytes()),
            RecipeError::InvalidName { at: 6 },
            "{json}"
        );
    }
    // Printable ASCII but the colon is a name, escaped or not.
    let json = r#"{"h":{"x-\"q\"\\~":[]}}"#;
    let r = parse(json);
    assert_eq!(decoded(r.headers()[0].name(json.as_bytes())), b"x-\"q\"\\~");
}

#[test]
fn capacities_are_typed_errors() {
    let json = br#"{"b":[{"c":[1,1]},{"d":[]},{"c":[3,3]}]}"#;
    assert!(RecipeIndex::<3, 1>::parse(json).is_ok());
    assert_eq!(
        RecipeIndex::<2, 1>::parse(json).unwrap_err(),
        RecipeError::StepsCapacity { limit: 2 }
    );
    let json = br#"{"h":{"a":[{"c":[1,1]}],"b":[],"c":[{"d":["x"]}]}}"#;
    assert!(RecipeIndex::<2, 3>::parse(json).is_ok());
    assert_eq!(
        RecipeIndex::<2, 2>::parse(json).unwrap_err(),
        RecipeError::NamesCapacity { limit: 2 }
    );
    assert_eq!(
        RecipeIndex::<1, 3>::parse(json).unwrap_err(),
        RecipeError::StepsCapacity { limit: 1 }
    );
    // Entries that are no step take no room.
    assert!(RecipeIndex::<1, 0>::parse(br#"{"b":[1,2,{"z":0},{"c":[1,1]}]}"#).is_ok());
}

// ---- the body ------------------------------------------------------------

#[test]
fn a_footer_recipe_gives_the_body_before_the_footer() {
    let body = b"Hello,\r\nworld.\r\n\r\n-- \r\nlist footer\r\n";
    assert_eq!(
        check_body(r#"{"b":[{"c":[1,2]}]}"#, body).unwrap(),
        b"Hello,\r\nworld.\r\n"
    );
    assert_eq!(
        check_body(r#"{"b":[{"c":[1,3]}]}"#, body).unwrap(),
        b"Hello,\r\nworld.\r\n\r\n"
    );
    // The counter agrees with the lines a copy can name.
    let mut lines = BodyLines::new();
    lines.update(body);
    assert_eq!(lines.lines(), 5);
    check_body(r#"{"b":[{"c":[1,5]}]}"#, body).unwrap();
    assert_eq!(
        check_body(r#"{"b":[{"c":[1,6]}]}"#, body),
        Err(RecipeError::RangeOutsideBody { lines: 5 })
    );
}

#[test]
fn steps_interleave_with_lines() {
    let body = b"one\r\ntwo\r\nthree\r\nfour\r\nfive\r\nsix\r\n";
    let json = r#"{"b":[{"d":["zero"]},{"c":[2,3]},{"d":["x","y"]},{"c":[5,5]},{"d":["end"]}]}"#;
    assert_eq!(
        check_body(json, body).unwrap(),
        b"zero\r\ntwo\r\nthree\r\nx\r\ny\r\nfive\r\nend\r\n"
    );
    // Data after the last line of the body, and data only.
    assert_eq!(
        check_body(r#"{"b":[{"c":[6,6]},{"d":["a\r\nb"]}]}"#, body).unwrap(),
        b"six\r\na\r\nb\r\n"
    );
    assert_eq!(
        check_body(r#"{"b":[{"d":["only"]}]}"#, body).unwrap(),
        b"only\r\n"
    );
    // Entries that are no step change nothing.
    assert_eq!(
        check_body(r#"{"b":[null,{"c":[1,1]},{"q":1},{"c":[3,3]}]}"#, body).unwrap(),
        b"one\r\nthree\r\n"
    );
}

#[test]
fn nothing_emitted_is_one_crlf() {
    for json in [r#"{"b":[]}"#, r#"{"b":[{"d":[]}]}"#, r#"{"b":[1]}"#] {
        for body in [&b""[..], b"a\r\n", b"\r\n\r\n"] {
            assert_eq!(check_body(json, body).unwrap(), b"\r\n");
        }
    }
    // An empty string is a line: its CRLF is all there is.
    assert_eq!(check_body(r#"{"b":[{"d":[""]}]}"#, b"x").unwrap(), b"\r\n");
}

#[test]
fn line_rules_at_the_edges() {
    let all = r#"{"b":[{"c":[1,1]}]}"#;
    let two = r#"{"b":[{"c":[1,2]}]}"#;
    // (body, lines, what copying the first line gives)
    let cases: &[(&[u8], u64)] = &[
        (b"", 0),
        (b"\n", 1),
        (b"\r\n", 1),
        (b"\r", 0),
        (b"\r\r", 1),
        (b"a", 1),
        (b"a\r", 1),
        (b"a\r\r", 1),
        (b"a\r\r\n", 1),
        (b"a\nb", 2),
        (b"a\n\r", 1),
        (b"a\n\r\r", 2),
        (b"a\n\n", 2),
        (b"a\rb\n", 1),
        (b"\n\n\n", 3),
        (b"a\r\nb\r\n", 2),
    ];
    for &(body, lines) in cases {
        let mut counter = BodyLines::new();
        counter.update(body);
        assert_eq!(counter.lines(), lines, "{body:?}");
        assert_eq!(ref_lines(body).len() as u64, lines, "{body:?}");
        for json in [all, two] {
            let got = check_body(json, body);
            if lines == 0 || (json == two && lines < 2) {
                assert_eq!(
                    got,
                    Err(RecipeError::RangeOutsideBody { lines }),
                    "{body:?}"
                );
            }
        }
    }
    assert_eq!(check_body(all, b"a\r\r\n").unwrap(), b"a\r\r\n");
    assert_eq!(check_body(all, b"a\rb").unwrap(), b"a\rb\r\n");
    assert_eq!(check_body(two, b"a\nb").unwrap(), b"a\r\nb\r\n");
    assert_eq!(check_body(two, b"a\n\r\r").unwrap(), b"a\r\n\r\r\n");
}

#[test]
fn the_body_passes_through_without_b() {
    for json in ["{}", r#"{"h":{"subject":[]}}"#] {
        for body in [&b""[..], b"a\nb", b"x\r\n\r\n"] {
            assert_eq!(check_body(json, body).unwrap(), body);
        }
    }
}

#[test]
fn a_body_that_cannot_stream_or_be_rebuilt_is_refused() {
    for json in [
        r#"{"b":[{"c":[3,4]},{"c":[1,2]}]}"#,
        r#"{"b":[{"c":[1,3]},{"d":["x"]},{"c":[3,4]}]}"#,
        r#"{"b":[{"c":[2,2]},{"c":[2,2]}]}"#,
    ] {
        assert_eq!(
            BodyRewind::new(&parse(json)),
            Err(RecipeError::NotStreamable)
        );
    }
    assert!(BodyRewind::new(&parse(r#"{"b":[{"c":[1,2]},{"c":[3,3]}]}"#)).is_ok());
    assert_eq!(
        BodyRewind::new(&parse(r#"{"b":null}"#)),
        Err(RecipeError::BodyUnreconstructable)
    );
}

#[test]
fn a_range_past_the_body_is_an_error_at_finish() {
    let json = r#"{"b":[{"c":[1,2]},{"c":[4,4]}]}"#;
    assert_eq!(
        check_body(json, b"a\nb\nc\n"),
        Err(RecipeError::RangeOutsideBody { lines: 3 })
    );
    let index = parse(json);
    let mut r = BodyRewind::new(&index).unwrap();
    let mut out = Collect::default();
    r.push(json.as_bytes(), b"a\nb\nc\n", &mut out).unwrap();
    assert_eq!(out.0, b"a\r\nb\r\n");
    assert_eq!(
        r.finish(json.as_bytes(), &mut out),
        Err(RecipeError::RangeOutsideBody { lines: 3 })
    );
    assert_eq!(
        check_body(r#"{"b":[{"c":[9,9]}]}"#, b"a\n"),
        Err(RecipeError::RangeOutsideBody { lines: 1 })
    );
}

#[test]
fn a_different_json_text_is_refused_and_errors_stick() {
    let json = r#"{"b":[{"c":[1,1]}]}"#;
    let index = parse(json);
    let mut r = BodyRewind::new(&index).unwrap();
    let mut out = Collect::default();
    assert_eq!(
        r.push(b"{}", b"a\n", &mut out),
        Err(RecipeError::JsonMismatch)
    );
    assert_eq!(
        r.push(json.as_bytes(), b"a\n", &mut out),
        Err(RecipeError::JsonMismatch)
    );
    assert_eq!(
        r.finish(json.as_bytes(), &mut out),
        Err(RecipeError::JsonMismatch)
    );
    assert!(out.0.is_empty());
    // Same length, other bytes: no panic, whatever comes out.
    let other = br#"{"b":[{"d":[1,1]}]}"#;
    let mut r = BodyRewind::new(&index).unwrap();
    let _ = r.push(other, b"a\nb\n", &mut out);
    let _ = r.finish(other, &mut out);
}

#[test]
fn random_bodies_and_recipes_agree_with_the_reference() {
    let mut rng = XorShift::new(0x5eed);
    for _ in 0..400 {
        let len = rng.below(24);
        let body: Vec<u8> = (0..len).map(|_| rng.byte_from(b"ab\r\n\n")).collect();
        let lines = ref_lines(&body).len() as u32;
        // Ascending copies within the body (sometimes one past it), with
        // data between.
        let mut json = String::from("{\"b\":[");
        let mut next = 1u32;
        let mut first = true;
        while rng.below(4) != 0 {
            if !first {
                json.push(',');
            }
            first = false;
            if rng.below(2) == 0 || next > lines + 1 {
                json.push_str(r#"{"d":["d\u00e9",""]}"#);
            } else {
                let start = next + rng.below(2) as u32;
                let end = start + rng.below(3) as u32;
                json.push_str(&alloc::format!(r#"{{"c":[{start},{end}]}}"#));
                next = end + 1;
            }
        }
        json.push_str("]}");
        let _ = check_body(&json, &body);
        let mut counter = BodyLines::new();
        for piece in body.chunks(1 + rng.below(4)) {
            counter.update(piece);
        }
        assert_eq!(counter.lines(), u64::from(lines));
    }
}

// ---- header fields -------------------------------------------------------

/// The values of `name` in instance N-1, in emitted order, through both
/// header APIs, which must agree.
fn header_values(json: &str, name: &str, current: &[&str]) -> Result<Vec<String>, RecipeError> {
    let index = parse(json);
    let j = json.as_bytes();
    // Bottom-up: 1 is the last.
    let value = |k: usize| current.len().checked_sub(k).map(|i| current[i].as_bytes());
    let mut pushed: Vec<Vec<u8>> = Vec::new();
    let applied =
        index.apply_header::<RecipeError>(j, name.as_bytes(), current.len(), value, |p| {
            match p {
                HeaderPiece::Begin => pushed.push(Vec::new()),
                HeaderPiece::Bytes(b) => pushed.last_mut().unwrap().extend_from_slice(b),
                HeaderPiece::End => {}
            }
            Ok(())
        });
    let Some(entry) = index.header(j, name.as_bytes()) else {
        applied?;
        return Ok(pushed
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect());
    };
    let mut rewind = index.header_rewind(entry);
    let mut pulled = Vec::new();
    let mut buf = vec![0u8; j.len()];
    let count = current.len() as u32;
    let pulled_result = loop {
        match rewind.next(j, count, &mut buf) {
            Ok(Some(HeaderValue::Current(k))) => pulled.push(value(k as usize).unwrap().to_vec()),
            Ok(Some(HeaderValue::Data(d))) => pulled.push(d.to_vec()),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert_eq!(applied, pulled_result);
    applied?;
    assert_eq!(pushed, pulled);
    Ok(pulled
        .into_iter()
        .map(|v| String::from_utf8(v).unwrap())
        .collect())
}

#[test]
fn header_values_come_bottom_up() {
    // Top to bottom the message has Subject: one, two, three.
    let current = ["one", "two", "three"];
    let v = |json| header_values(json, "subject", &current).unwrap();
    assert_eq!(
        v(r#"{"h":{"subject":[{"c":[1,3]}]}}"#),
        ["three", "two", "one"]
    );
    assert_eq!(v(r#"{"h":{"subject":[{"c":[2,2]}]}}"#), ["two"]);
    assert_eq!(
        v(r#"{"h":{"subject":[{"d":["zero"]},{"c":[1,1]},{"c":[3,3]}]}}"#),
        ["zero", "three", "one"]
    );
    // Ranges in any order, repeated.
    assert_eq!(
        v(r#"{"h":{"subject":[{"c":[3,3]},{"c":[1,2]},{"c":[1,1]}]}}"#),
        ["one", "three", "two", "three"]
    );
    assert!(v(r#"{"h":{"subject":[]}}"#).is_empty());
    // The name matches with case ignored, escaped or not.
    assert_eq!(v(r#"{"h":{"SUBject":[{"c":[1,1]}]}}"#), ["three"]);
    assert_eq!(v(r#"{"h":{"\u0073ubject":[{"c":[1,1]}]}}"#), ["three"]);
    // A name the recipe does not mention keeps its values.
    assert_eq!(v(r#"{"h":{"to":[]}}"#), ["three", "two", "one"]);
    assert_eq!(v("{}"), ["three", "two", "one"]);
    // A field the recipe adds back.
    assert_eq!(
        header_values(
            r#"{"h":{"subject":[{"d":["Tag \"x\" \u00e9"]}]}}"#,
            "Subject",
            &[]
        )
        .unwrap(),
        ["Tag \"x\" é"]
    );
}

#[test]
fn header_ranges_past_the_values_are_errors() {
    let current = ["a", "b"];
    for json in [
        r#"{"h":{"x":[{"c":[1,3]}]}}"#,
        r#"{"h":{"x":[{"c":[3,3]}]}}"#,
        r#"{"h":{"x":[{"d":["k"]},{"c":[1,1]},{"c":[2,4294967295]}]}}"#,
    ] {
        assert_eq!(
            header_values(json, "x", &current),
            Err(RecipeError::RangeOutsideValues { count: 2 })
        );
    }
    // Nothing of the refused step is yielded.
    let json = r#"{"h":{"x":[{"c":[1,1]},{"c":[2,3]}]}}"#;
    let index = parse(json);
    let mut r = index.header_rewind(&index.headers()[0]);
    let mut buf = [0u8; 8];
    let j = json.as_bytes();
    assert_eq!(r.next(j, 2, &mut buf), Ok(Some(HeaderValue::Current(1))));
    let e = Err(RecipeError::RangeOutsideValues { count: 2 });
    assert_eq!(r.next(j, 2, &mut buf), e);
    assert_eq!(r.next(j, 2, &mut buf), e);
    assert_eq!(r.next(b"{}", 2, &mut buf), e);
}

#[test]
fn header_data_needs_room_and_the_same_text() {
    let json = r#"{"h":{"x":[{"d":["abcdef"]}]}}"#;
    let index = parse(json);
    let mut r = index.header_rewind(&index.headers()[0]);
    assert_eq!(
        r.next(json.as_bytes(), 0, &mut [0u8; 5]),
        Err(RecipeError::BufferTooSmall { required: 6 })
    );
    let mut r = index.header_rewind(&index.headers()[0]);
    assert_eq!(
        r.next(b"{}", 0, &mut [0u8; 8]),
        Err(RecipeError::JsonMismatch)
    );
}

#[test]
fn an_emit_error_stops_apply_header() {
    let json = br#"{"h":{"x":[{"d":["a","b"]}]}}"#;
    let index = Index::parse(json).unwrap();
    let mut calls = 0;
    let got = index.apply_header::<RecipeError>(
        json,
        b"x",
        0,
        |_| None,
        |_| {
            calls += 1;
            if calls == 2 {
                Err(RecipeError::BufferTooSmall { required: 1 })
            } else {
                Ok(())
            }
        },
    );
    assert_eq!(got, Err(RecipeError::BufferTooSmall { required: 1 }));
    assert_eq!(calls, 2);
    let got = index.apply_header::<RecipeError>(b"{}", b"x", 0, |_| None, |_| Ok(()));
    assert_eq!(got, Err(RecipeError::JsonMismatch));
}

// ---- the writer ------------------------------------------------------------

fn write(f: impl FnOnce(&mut RecipeWriter<'_>) -> Result<(), WriteError>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = RecipeWriter::new(&mut buf);
    f(&mut w).unwrap();
    w.finish().unwrap().to_vec()
}

/// Write `json`'s recipe again from its index, in the order of its keys.
fn rewrite(json: &str) -> Vec<u8> {
    let index = parse(json);
    let j = json.as_bytes();
    let steps = |w: &mut RecipeWriter<'_>, list: StepList| -> Result<(), WriteError> {
        for step in index.steps(list) {
            match *step {
                Step::Copy { start, end } => w.copy(start, end)?,
                Step::Data { .. } => {
                    let values: Vec<Vec<u8>> = step.values(j).map(decoded).collect();
                    w.data(values.iter().map(Vec::as_slice))?;
                }
            }
        }
        Ok(())
    };
    let headers = |w: &mut RecipeWriter<'_>| -> Result<(), WriteError> {
        for h in index.headers() {
            w.header(&decoded(h.name(j)))?;
            steps(w, h.steps())?;
        }
        Ok(())
    };
    let body = |w: &mut RecipeWriter<'_>| -> Result<(), WriteError> {
        match index.body() {
            BodyRecipe::Unchanged => Ok(()),
            BodyRecipe::Unreconstructable => w.body_unreconstructable(),
            BodyRecipe::Steps(list) => {
                w.body()?;
                steps(w, list)
            }
        }
    };
    write(|w| {
        if index.body_first() {
            body(w)?;
            headers(w)
        } else {
            headers(w)?;
            body(w)
        }
    })
}

#[test]
fn recipes_round_trip_byte_for_byte() {
    for json in [
        "{}",
        r#"{"b":null}"#,
        r#"{"b":[]}"#,
        r#"{"b":[{"c":[1,1]}]}"#,
        r#"{"h":{"list-unsubscribe":[]}}"#,
        r#"{"h":{"subject":[{"d":["Original subject"]}]}}"#,
        r#"{"h":{"subject":[{"d":[" Leading space kept"]}]}}"#,
        r#"{"h":{"authentication-results":[{"c":[1,3]}]}}"#,
        r#"{"h":{"authentication-results":[{"c":[1,5]}]}}"#,
        r#"{"h":{"to":[{"c":[1,1]}],"from":[{"c":[2,2]}]},"b":[{"c":[1,2]}]}"#,
        r#"{"h":{"x":[{"c":[1,2]},{"d":["a","b"]}]},"b":[{"d":[""]}]}"#,
        r#"{"h":{"subject":[{"d":["five"]},{"c":[1,1]},{"c":[3,5]}]}}"#,
        r#"{"b":[{"c":[1,3]},{"d":["old-line"]},{"c":[5,5]}]}"#,
        r#"{"b":[{"c":[4294967295,4294967295]}]}"#,
        r#"{"h":{"subject":[{"d":["café \u0001 \" \\ \n\r\t\b\f \u001f /"]}]}}"#,
        // Sorted keys, as another implementation writes them.
        r#"{"b":[{"c":[1,4]},{"d":["An added line.",""]},{"c":[6,9]}],"h":{"x-list":[{"d":["yes"]}]}}"#,
        r#"{"b":[{"d":["--boundary"]},{"c":[5,5]},{"c":[7,9]}],"h":{"date":[{"d":["Thu, 21 Mar 2024 12:09:37 +1000"]}],"list-id":[],"subject":[{"d":["Working group last call"]}]}}"#,
    ] {
        assert_eq!(String::from_utf8(rewrite(json)).unwrap(), json);
    }
}

#[test]
fn the_recipes_mass_writes() {
    // A subject tag: the value as it was, unfolded and trimmed.
    assert_eq!(
        write(|w| {
            w.header(b"Subject")?;
            w.header_data([&b" Original\r\n\tsubject, \"quoted\" \r\n"[..]])
        }),
        br#"{"h":{"subject":[{"d":["Original\tsubject, \"quoted\""]}]}}"#
    );
    // A line break before something other than white space leaves a space.
    assert_eq!(
        write(|w| {
            w.header(b"subject")?;
            w.header_data([&b"a\r\nb\nc\r d"[..], b"  ", b""])
        }),
        br#"{"h":{"subject":[{"d":["a b c d","",""]}]}}"#
    );
    // A footer: the earlier body was the first n lines.
    assert_eq!(write(|w| w.body_first_lines(3)), br#"{"b":[{"c":[1,3]}]}"#);
    assert_eq!(write(|w| w.body_first_lines(0)), br#"{"b":[]}"#);
    assert_eq!(write(|w| w.body_unreconstructable()), br#"{"b":null}"#);
    assert_eq!(write(|_| Ok(())), b"{}");
    // Both: a subject tag and a footer.
    let both = write(|w| {
        w.header(b"Subject")?;
        w.header_data([&b"Hello"[..]])?;
        w.header(b"List-Id")?;
        w.header(b"X-\"odd\\name")?;
        w.copy(1, 2)?;
        w.body_first_lines(2)
    });
    assert_eq!(
        String::from_utf8(both.clone()).unwrap(),
        r#"{"h":{"subject":[{"d":["Hello"]}],"list-id":[],"x-\"odd\\name":[{"c":[1,2]}]},"b":[{"c":[1,2]}]}"#
    );
    let index = Index::parse(&both).unwrap();
    assert_eq!(decoded(index.headers()[2].name(&both)), b"x-\"odd\\name");
    // What it writes, it reads back.
    let json = String::from_utf8(both).unwrap();
    assert_eq!(
        header_values(&json, "subject", &["[list] Hello"]).unwrap(),
        ["Hello"]
    );
    assert_eq!(
        check_body(&json, b"a\r\nb\r\n-- \r\nfooter\r\n").unwrap(),
        b"a\r\nb\r\n"
    );
}

#[test]
fn writer_misuse_is_refused_and_writes_nothing() {
    let mut buf = [0u8; 256];
    let mut w = RecipeWriter::new(&mut buf);
    assert_eq!(w.copy(1, 1), Err(WriteError::OutOfOrder));
    assert_eq!(w.data([&b"x"[..]]), Err(WriteError::OutOfOrder));
    assert_eq!(w.header(b"bad name"), Err(WriteError::InvalidName));
    assert_eq!(w.header(b""), Err(WriteError::InvalidName));
    assert_eq!(w.header(b"a:b"), Err(WriteError::InvalidName));
    w.header(b"x").unwrap();
    assert_eq!(w.copy(0, 1), Err(WriteError::CopyStartZero));
    assert_eq!(w.copy(2, 1), Err(WriteError::CopyStartAfterEnd));
    w.body().unwrap();
    assert_eq!(w.header(b"y"), Err(WriteError::OutOfOrder));
    assert_eq!(w.body(), Err(WriteError::OutOfOrder));
    assert_eq!(w.body_unreconstructable(), Err(WriteError::OutOfOrder));
    assert_eq!(w.body_first_lines(1), Err(WriteError::OutOfOrder));
    assert_eq!(
        w.body_first_lines(u64::from(u32::MAX) + 1),
        Err(WriteError::TooManyLines)
    );
    assert_eq!(w.finish().unwrap(), br#"{"h":{"x":[]},"b":[]}"#);
    // After "b":null there is no step list open.
    let mut buf = [0u8; 64];
    let mut w = RecipeWriter::new(&mut buf);
    w.body_unreconstructable().unwrap();
    assert_eq!(w.copy(1, 1), Err(WriteError::OutOfOrder));
    w.header(b"x").unwrap();
    assert_eq!(w.finish().unwrap(), br#"{"b":null,"h":{"x":[]}}"#);
}

#[test]
fn a_small_buffer_says_how_much_room_is_needed() {
    let recipe = |w: &mut RecipeWriter<'_>| -> Result<(), WriteError> {
        w.header(b"subject")?;
        w.header_data([&b"caf\xc3\xa9 \x01"[..]])?;
        w.body_first_lines(12)
    };
    let want = write(recipe);
    for len in 0..want.len() {
        let mut buf = vec![0u8; len];
        let mut w = RecipeWriter::new(&mut buf);
        recipe(&mut w).unwrap();
        assert_eq!(
            w.finish(),
            Err(WriteError::BufferTooSmall {
                required: want.len()
            })
        );
    }
    let mut buf = vec![0u8; want.len()];
    let mut w = RecipeWriter::new(&mut buf);
    recipe(&mut w).unwrap();
    assert_eq!(w.finish().unwrap(), want);
}

/// serde_json's string escaping, from its documented table, applied to
/// `String::from_utf8_lossy` of the bytes, as mail-auth does.
fn serde_string(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&alloc::format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn strings_are_escaped_as_serde_json_and_mail_auth_do() {
    let mut rng = XorShift::new(7);
    let mut cases: Vec<Vec<u8>> = vec![
        (0u8..=0x7f).collect(),
        b"\xff\xfe".to_vec(),
        b"\xc3".to_vec(),
        b"a\xc3".to_vec(),
        b"\xe2\x82".to_vec(),
        b"\xe2\x82\xac\xe2\x82x".to_vec(),
        b"\xed\xa0\x80".to_vec(),
        b"\xf0\x9f\x98\x80\xf0\x9f\x98".to_vec(),
        b"\xf4\x90\x80\x80".to_vec(),
        b"\xe0\x80\xaf".to_vec(),
        b"\xc0\xaf\xc1\xbf".to_vec(),
        b"\xf5\x80".to_vec(),
    ];
    for _ in 0..2000 {
        let len = rng.below(12);
        cases.push((0..len).map(|_| rng.next() as u8).collect());
    }
    for value in cases {
        let json = write(|w| {
            w.body()?;
            w.data([value.as_slice()])
        });
        let want = alloc::format!("{{\"b\":[{{\"d\":[{}]}}]}}", serde_string(&value));
        assert_eq!(String::from_utf8(json.clone()).unwrap(), want, "{value:?}");
        // And it reads back as the lossy string.
        let index = Index::parse(&json).unwrap();
        let BodyRecipe::Steps(list) = index.body() else {
            panic!();
        };
        let got = decoded(index.steps(list)[0].values(&json).next().unwrap());
        assert_eq!(got, String::from_utf8_lossy(&value).as_bytes());
    }
}

#[test]
fn header_values_unfold_as_mail_auth_does() {
    // mail-auth: trim, then each run after a CR or LF that starts with
    // something other than white space gets a space before it.
    fn unfold(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, run) in value
            .trim_ascii()
            .split(|&b| b == b'\r' || b == b'\n')
            .enumerate()
        {
            if run.is_empty() {
                continue;
            }
            if i > 0 && !out.is_empty() && !run[0].is_ascii_whitespace() {
                out.push(b' ');
            }
            out.extend_from_slice(run);
        }
        out
    }
    let mut rng = XorShift::new(11);
    for _ in 0..2000 {
        let len = rng.below(14);
        let value: Vec<u8> = (0..len)
            .map(|_| rng.byte_from(b"ab \t\r\n\x0c\xc3\xa9\""))
            .collect();
        let json = write(|w| {
            w.header(b"subject")?;
            w.header_data([value.as_slice()])
        });
        let want = alloc::format!(
            "{{\"h\":{{\"subject\":[{{\"d\":[{}]}}]}}}}",
            serde_string(&unfold(&value))
        );
        assert_eq!(String::from_utf8(json).unwrap(), want, "{value:?}");
    }
}

#[test]
fn sizes_are_small() {
    // What the docs say, on 64-bit targets (less on 32-bit ones).
    assert!(core::mem::size_of::<BodyRewind>() <= 48);
    assert!(core::mem::size_of::<HeaderRewind>() <= 40);
    assert!(core::mem::size_of::<Index>() <= 64 * 12 + 32 * 24 + 48);
    assert!(core::mem::size_of::<RecipeError>() <= 16);
}
