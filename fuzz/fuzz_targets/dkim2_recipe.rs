//! DKIM2 recipes (the Message-Instance `r=` JSON): the parser on any text;
//! for a recipe it takes, the body rewind on the rest of the input (split
//! where the input says) against a plain reading of the rules, within its
//! documented output bound; the header rewind both ways on a few values;
//! and the writer: what it writes parses back to the same recipe, and a
//! second writing is byte-identical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::canon::Sink;
use mass_core::dkim2::recipe::{
    BodyRecipe, BodyRewind, HeaderPiece, HeaderValue, RecipeError, RecipeIndex, RecipeWriter, Step,
    StepList,
};

type Index = RecipeIndex<64, 32>;

struct Out(Vec<u8>);
impl Sink for Out {
    fn write(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

/// The body's lines: split at LF, one CR dropped, a last empty piece
/// dropped.
fn lines(body: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// The body of instance N-1 by the rules; `None` for a copy past the end.
fn reference(index: &Index, json: &[u8], list: StepList, body: &[u8]) -> Option<Vec<u8>> {
    let lines = lines(body);
    let mut out = Vec::new();
    let mut emitted = false;
    for step in index.steps(list) {
        match *step {
            Step::Copy { start, end } => {
                if end as usize > lines.len() {
                    return None;
                }
                for n in start..=end {
                    out.extend_from_slice(lines[n as usize - 1]);
                    out.extend_from_slice(b"\r\n");
                    emitted = true;
                }
            }
            Step::Data { .. } => {
                for v in step.values(json) {
                    out.extend(v.bytes());
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

fn rewind(index: &Index, json: &[u8], pieces: &[&[u8]]) -> Result<Vec<u8>, RecipeError> {
    let mut r = BodyRewind::new(index)?;
    let mut out = Out(Vec::new());
    for p in pieces {
        r.push(json, p, &mut out)?;
    }
    r.finish(json, &mut out)?;
    Ok(out.0)
}

/// Write `index`'s recipe with the writer, in the order of its keys.
fn rewrite(index: &Index, json: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; json.len() * 2 + 64];
    let mut w = RecipeWriter::new(&mut buf);
    let steps = |w: &mut RecipeWriter<'_>, list: StepList| {
        for step in index.steps(list) {
            match *step {
                Step::Copy { start, end } => w.copy(start, end).unwrap(),
                Step::Data { .. } => {
                    let values: Vec<Vec<u8>> =
                        step.values(json).map(|v| v.bytes().collect()).collect();
                    w.data(values.iter().map(Vec::as_slice)).unwrap();
                }
            }
        }
    };
    let headers = |w: &mut RecipeWriter<'_>| {
        for h in index.headers() {
            let name: Vec<u8> = h.name(json).bytes().collect();
            w.header(&name).unwrap();
            steps(w, h.steps());
        }
    };
    let body = |w: &mut RecipeWriter<'_>| match index.body() {
        BodyRecipe::Unchanged => {}
        BodyRecipe::Unreconstructable => w.body_unreconstructable().unwrap(),
        BodyRecipe::Steps(list) => {
            w.body().unwrap();
            steps(w, list);
        }
    };
    if index.body_first() {
        body(&mut w);
        headers(&mut w);
    } else {
        headers(&mut w);
        body(&mut w);
    }
    w.finish().unwrap().to_vec()
}

/// Steps as values: each `[start, end]` (big-endian) or `["d", values…]`.
type Shape = Vec<Vec<Vec<u8>>>;

/// The recipe as values: steps with decoded data, names decoded.
fn shape(index: &Index, json: &[u8]) -> (Vec<(Vec<u8>, Shape)>, Option<Shape>) {
    let steps = |list: StepList| -> Shape {
        index
            .steps(list)
            .iter()
            .map(|s| match *s {
                Step::Copy { start, end } => {
                    vec![start.to_be_bytes().to_vec(), end.to_be_bytes().to_vec()]
                }
                Step::Data { .. } => {
                    let mut v = vec![b"d".to_vec()];
                    v.extend(s.values(json).map(|v| v.bytes().collect::<Vec<u8>>()));
                    v
                }
            })
            .collect()
    };
    let headers = index
        .headers()
        .iter()
        .map(|h| {
            let name: Vec<u8> = h
                .name(json)
                .bytes()
                .map(|b| b.to_ascii_lowercase())
                .collect();
            (name, steps(h.steps()))
        })
        .collect();
    let body = match index.body() {
        BodyRecipe::Unchanged => None,
        BodyRecipe::Unreconstructable => Some(vec![vec![b"null".to_vec()]]),
        BodyRecipe::Steps(list) => Some(steps(list)),
    };
    (headers, body)
}

fuzz_target!(|data: &[u8]| {
    let [a, b, cut, rest @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_le_bytes([*a, *b])) % (rest.len() + 1);
    let (json, body) = rest.split_at(split);
    let Ok(index) = Index::parse(json) else {
        return;
    };

    // The body: the same whatever the split, as the rules say, bounded.
    let at = usize::from(*cut).min(body.len());
    let (x, y) = body.split_at(at);
    let whole = rewind(&index, json, &[body]);
    assert_eq!(rewind(&index, json, &[x, y]), whole);
    match (&whole, index.body()) {
        (Ok(out), BodyRecipe::Steps(list)) => {
            assert_eq!(Some(out), reference(&index, json, list, body).as_ref());
            let lfs = body.iter().filter(|&&b| b == b'\n').count();
            assert!(out.len() <= body.len() + lfs + json.len() + 2);
        }
        (Ok(out), BodyRecipe::Unchanged) => assert_eq!(out, body),
        (Err(RecipeError::RangeOutsideBody { .. }), BodyRecipe::Steps(list)) => {
            assert_eq!(reference(&index, json, list, body), None);
        }
        (Err(RecipeError::NotStreamable), BodyRecipe::Steps(_))
        | (Err(RecipeError::BodyUnreconstructable), BodyRecipe::Unreconstructable) => {}
        (got, body) => panic!("{got:?} for {body:?}"),
    }

    // Header fields: three current values; both APIs agree, and a buffer
    // as long as the JSON always holds a data value.
    let current: [&[u8]; 3] = [b"top", b"middle", x];
    let value = |k: usize| current.len().checked_sub(k).map(|i| current[i]);
    for entry in index.headers() {
        let name: Vec<u8> = entry.name(json).bytes().collect();
        let mut pushed: Vec<Vec<u8>> = Vec::new();
        let applied = index.apply_header::<RecipeError>(json, &name, current.len(), value, |p| {
            match p {
                HeaderPiece::Begin => pushed.push(Vec::new()),
                HeaderPiece::Bytes(b) => pushed.last_mut().unwrap().extend_from_slice(b),
                HeaderPiece::End => {}
            }
            Ok(())
        });
        let mut cursor = index.header_rewind(entry);
        let mut buf = vec![0u8; json.len()];
        let mut pulled = Vec::new();
        let result = loop {
            match cursor.next(json, 3, &mut buf) {
                Ok(Some(HeaderValue::Current(k))) => {
                    pulled.push(value(k as usize).unwrap().to_vec())
                }
                Ok(Some(HeaderValue::Data(d))) => {
                    assert!(d.len() <= json.len());
                    pulled.push(d.to_vec());
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        assert_eq!(applied, result);
        assert!(!matches!(result, Err(RecipeError::BufferTooSmall { .. })));
        if result.is_ok() {
            assert_eq!(pushed, pulled);
        }
    }

    // The writer: what it writes parses to the same recipe, and writing
    // that again gives the same bytes.
    let written = rewrite(&index, json);
    let again = Index::parse(&written).unwrap();
    assert_eq!(shape(&index, json), shape(&again, &written));
    assert_eq!(rewrite(&again, &written), written);

    // Any bytes as a data value come back as their lossy UTF-8.
    let mut buf = vec![0u8; body.len() * 6 + 32];
    let mut w = RecipeWriter::new(&mut buf);
    w.body().unwrap();
    w.data([body]).unwrap();
    let out = w.finish().unwrap().to_vec();
    let parsed = Index::parse(&out).unwrap();
    let BodyRecipe::Steps(list) = parsed.body() else {
        panic!("no body");
    };
    let got: Vec<u8> = parsed.steps(list)[0]
        .values(&out)
        .next()
        .unwrap()
        .bytes()
        .collect();
    assert_eq!(got, String::from_utf8_lossy(body).as_bytes());
});
