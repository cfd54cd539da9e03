//! A deterministic corpus of varied messages for the interop runs.
//!
//! Every message is made from one seed, so a failure can be reproduced by
//! its file name alone. Message `i` always carries feature `i % FEATURES.len()`
//! (so every feature appears many times) plus a few more drawn at random.
//! Every message has exactly one From field in `example.com` (the peers sign
//! for that domain), and the rest follows RFC 5322 loosely enough to meet
//! what real mail looks like: folding (§2.2.3), whitespace the
//! canonicalizations of RFC 6376 §3.4 must handle, 8-bit bytes, bare-LF
//! files and MIME multipart bodies.
//!
//! Left out on purpose: whitespace between a field name and its colon
//! (RFC 5322 §4.5 obsolete syntax). dkimpy then cannot find From at all and
//! the peers disagree among themselves on such fields.

/// What a message was built to exercise. The name goes into the file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Plain,
    FoldedHeaders,
    TrailingWhitespace,
    TrailingBlankLines,
    EmptyBody,
    NoFinalCrlf,
    Lines998,
    EightBit,
    RepeatedHeaders,
    LfOnly,
    Tabs,
    LongSubject,
    Multipart,
    WhitespaceOnlyLines,
    OddHeaderCase,
    EmptyHeaderValue,
    LargeBody,
    NoSpaceAfterColon,
    BlankLinesOnlyBody,
    QuotedPrintable,
    MissingOptionalHeaders,
}

pub const FEATURES: &[Feature] = &[
    Feature::Plain,
    Feature::FoldedHeaders,
    Feature::TrailingWhitespace,
    Feature::TrailingBlankLines,
    Feature::EmptyBody,
    Feature::NoFinalCrlf,
    Feature::Lines998,
    Feature::EightBit,
    Feature::RepeatedHeaders,
    Feature::LfOnly,
    Feature::Tabs,
    Feature::LongSubject,
    Feature::Multipart,
    Feature::WhitespaceOnlyLines,
    Feature::OddHeaderCase,
    Feature::EmptyHeaderValue,
    Feature::LargeBody,
    Feature::NoSpaceAfterColon,
    Feature::BlankLinesOnlyBody,
    Feature::QuotedPrintable,
    Feature::MissingOptionalHeaders,
];

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Plain => "plain",
            Feature::FoldedHeaders => "folded",
            Feature::TrailingWhitespace => "trailing-ws",
            Feature::TrailingBlankLines => "trailing-blank",
            Feature::EmptyBody => "empty-body",
            Feature::NoFinalCrlf => "no-final-crlf",
            Feature::Lines998 => "998",
            Feature::EightBit => "8bit",
            Feature::RepeatedHeaders => "repeated",
            Feature::LfOnly => "lf-only",
            Feature::Tabs => "tabs",
            Feature::LongSubject => "long-subject",
            Feature::Multipart => "multipart",
            Feature::WhitespaceOnlyLines => "ws-lines",
            Feature::OddHeaderCase => "odd-case",
            Feature::EmptyHeaderValue => "empty-value",
            Feature::LargeBody => "large",
            Feature::NoSpaceAfterColon => "no-space",
            Feature::BlankLinesOnlyBody => "blank-body",
            Feature::QuotedPrintable => "qp",
            Feature::MissingOptionalHeaders => "few-headers",
        }
    }
}

/// One generated message.
#[derive(Debug)]
pub struct Message {
    /// `NNN-feature+feature.eml`
    pub name: String,
    pub bytes: Vec<u8>,
    /// True when the file uses bare LF line ends throughout.
    pub lf_only: bool,
}

/// SplitMix64: small, fast and good enough to vary test data.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "mass",
    "signing",
    "keys",
    "device",
    "canonical",
    "relaxed",
    "simple",
    "header",
    "body",
    "hash",
    "selector",
    "domain",
    "verify",
    "forward",
    "list",
    "bounce",
    "envelope",
    "ed25519",
    "rsa",
    "appliance",
    "the",
    "a",
    "of",
    "and",
    "to",
    "is",
    "in",
    "mail",
    "message",
    "DKIM",
];

const NAMES: &[&str] = &[
    "Alice Example",
    "Bob",
    "\"Carol, Q.\"",
    "Dave O'Hara",
    "=?utf-8?q?J=C3=BCrgen?=",
    "Erin (ops)",
];

const LOCALS: &[&str] = &[
    "alice", "bob", "carol", "dave.o", "jurgen", "erin+tag", "noreply",
];

/// Between `min` and `min + spread - 1` words.
fn some_words(rng: &mut Rng, min: usize, spread: usize) -> String {
    let n = min + rng.below(spread);
    words(rng, n)
}

fn words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s
}

/// The raw header block (each field with its CRLFs) and the body, built
/// with CRLF; LF-only messages are converted at the end.
struct Builder {
    headers: Vec<Vec<u8>>,
    body: Vec<u8>,
}

impl Builder {
    fn field(&mut self, name: &str, sep: &str, value: &[u8]) {
        let mut f = Vec::new();
        f.extend_from_slice(name.as_bytes());
        f.extend_from_slice(sep.as_bytes());
        f.extend_from_slice(value);
        f.extend_from_slice(b"\r\n");
        self.headers.push(f);
    }

    fn line(&mut self, text: &[u8]) {
        self.body.extend_from_slice(text);
        self.body.extend_from_slice(b"\r\n");
    }
}

/// Generate `count` messages from `seed`.
pub fn generate(count: usize, seed: u64) -> Vec<Message> {
    let mut rng = Rng(seed);
    (0..count).map(|i| one(i, &mut rng)).collect()
}

fn one(index: usize, rng: &mut Rng) -> Message {
    let mut features = vec![FEATURES[index % FEATURES.len()]];
    for _ in 0..rng.below(3) {
        let f = FEATURES[rng.below(FEATURES.len())];
        if !features.contains(&f) {
            features.push(f);
        }
    }
    let has = |f: Feature| features.contains(&f);
    let mut b = Builder {
        headers: Vec::new(),
        body: Vec::new(),
    };

    let sep = if has(Feature::NoSpaceAfterColon) {
        ":"
    } else if has(Feature::Tabs) && rng.chance(50) {
        ":\t"
    } else if rng.chance(10) {
        ":   "
    } else {
        ": "
    };
    let name = |n: &str, rng: &mut Rng| -> String {
        if has(Feature::OddHeaderCase) && rng.chance(70) {
            n.chars()
                .enumerate()
                .map(|(i, c)| {
                    if (i + index).is_multiple_of(2) {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        } else {
            n.to_string()
        }
    };
    let trail = |rng: &mut Rng| -> &'static str {
        if has(Feature::TrailingWhitespace) {
            ["  ", "\t", " \t ", " "][rng.below(4)]
        } else {
            ""
        }
    };

    // Trace fields on top, as an MTA adds them.
    let received = if has(Feature::RepeatedHeaders) {
        2 + rng.below(3)
    } else {
        rng.below(2)
    };
    for hop in 0..received {
        let value = format!(
            "from relay{hop}.example.net (relay{hop}.example.net [192.0.2.{}])\r\n\tby mx.example.org with ESMTP id {:x};\r\n\tMon, 2 Nov 2026 10:{:02}:00 +0000",
            hop + 1,
            rng.next() & 0xffff_ffff,
            hop
        );
        let n = name("Received", rng);
        b.field(&n, ": ", value.as_bytes());
    }

    let display = rng.pick(NAMES);
    let local = rng.pick(LOCALS);
    let from_value = if has(Feature::EightBit) && rng.chance(40) {
        format!("Jürgen Müller <{local}@example.com>")
    } else {
        format!("{display} <{local}@example.com>")
    };
    let n = name("From", rng);
    let from_value = format!("{from_value}{}", trail(rng));
    b.field(&n, sep, from_value.as_bytes());

    let few = has(Feature::MissingOptionalHeaders);
    if !few || rng.chance(30) {
        let to = if has(Feature::FoldedHeaders) {
            "Bob <bob@example.org>,\r\n  Carol <carol@example.org>,\r\n\tdave@example.org"
                .to_string()
        } else {
            format!("{} <{}@example.org>", rng.pick(NAMES), rng.pick(LOCALS))
        };
        let n = name("To", rng);
        let to = format!("{to}{}", trail(rng));
        b.field(&n, sep, to.as_bytes());
    }
    if has(Feature::RepeatedHeaders) || rng.chance(20) {
        let n = name("Cc", rng);
        b.field(&n, sep, b"list@lists.example.org");
    }
    if has(Feature::EmptyHeaderValue) {
        let n = name("Cc", rng);
        b.field(&n, ":", b"");
        b.field("X-Empty", ": ", b"");
    }

    let subject: Vec<u8> = if has(Feature::LongSubject) {
        let long = some_words(rng, 60, 60);
        if rng.chance(50) {
            // One unfolded line, well past 78 characters.
            long.into_bytes()
        } else {
            // Folded at every tenth word.
            let mut s = String::new();
            for (i, w) in long.split(' ').enumerate() {
                if i > 0 {
                    s.push_str(if i % 10 == 0 { "\r\n " } else { " " });
                }
                s.push_str(w);
            }
            s.into_bytes()
        }
    } else if has(Feature::EightBit) {
        "Grüße aus Köln — ünïcödé ✓".as_bytes().to_vec()
    } else if has(Feature::FoldedHeaders) {
        format!(
            "{}\r\n {}\r\n\t{}",
            words(rng, 3),
            words(rng, 4),
            words(rng, 2)
        )
        .into_bytes()
    } else if has(Feature::Tabs) {
        format!(
            "{}\t\t{} \t {}",
            words(rng, 2),
            words(rng, 2),
            words(rng, 1)
        )
        .into_bytes()
    } else if has(Feature::EmptyHeaderValue) {
        Vec::new()
    } else {
        some_words(rng, 2, 6).into_bytes()
    };
    if !few || rng.chance(50) {
        let mut s = subject;
        s.extend_from_slice(trail(rng).as_bytes());
        let n = name("Subject", rng);
        let sep = if has(Feature::EmptyHeaderValue) && s.is_empty() {
            ":"
        } else {
            sep
        };
        b.field(&n, sep, &s);
    }
    if !few {
        let n = name("Date", rng);
        let date = format!(
            "{}, {} Nov 2026 {:02}:{:02}:{:02} +0000",
            ["Mon", "Tue", "Wed", "Thu", "Fri"][rng.below(5)],
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        );
        b.field(&n, sep, date.as_bytes());
        let n = name("Message-ID", rng);
        let id = format!("<{:016x}.{index}@example.com>", rng.next());
        b.field(&n, sep, id.as_bytes());
    }
    if has(Feature::RepeatedHeaders) {
        for k in 0..3 {
            let v = format!("repeat {k}");
            b.field("X-Repeated", ": ", v.as_bytes());
        }
        b.field("Comments", ": ", b"first");
        b.field("Comments", ": ", b"second");
    }
    if has(Feature::Lines998) {
        // "X-Long: " (8) + 990 = 998 octets before the CRLF.
        let v = "x".repeat(990);
        b.field("X-Long", ": ", v.as_bytes());
    }
    if has(Feature::Tabs) {
        b.field("X-Tabbed", ":\t", b"\tvalue\twith\t\ttabs\t");
    }
    if has(Feature::FoldedHeaders) {
        b.field(
            "X-Folded",
            ": ",
            b"first\r\n second\r\n\t third\r\n      fourth",
        );
    }
    if has(Feature::EightBit) && rng.chance(50) {
        b.field("X-Latin1", ": ", b"caf\xe9 cr\xe8me \xff\xfe");
    }

    // Body.
    let multipart = has(Feature::Multipart);
    let qp = has(Feature::QuotedPrintable);
    if multipart || qp || rng.chance(30) {
        b.field("MIME-Version", ": ", b"1.0");
    }
    if multipart {
        let boundary = format!("=_mass_{:08x}", rng.next() & 0xffff_ffff);
        let ct = format!("multipart/alternative;\r\n\tboundary=\"{boundary}\"");
        let n = name("Content-Type", rng);
        b.field(&n, sep, ct.as_bytes());
        b.line(b"This is a multi-part message in MIME format.");
        b.line(b"");
        b.line(format!("--{boundary}").as_bytes());
        b.line(b"Content-Type: text/plain; charset=utf-8");
        b.line(b"Content-Transfer-Encoding: 8bit");
        b.line(b"");
        for _ in 0..1 + rng.below(5) {
            let w = some_words(rng, 4, 10);
            b.line(w.as_bytes());
        }
        b.line(b"");
        b.line(format!("--{boundary}").as_bytes());
        b.line(b"Content-Type: text/html; charset=us-ascii");
        b.line(b"Content-Transfer-Encoding: base64");
        b.line(b"");
        b.line(b"PGh0bWw+PGJvZHk+PHA+bWFzczwvcD48L2JvZHk+PC9odG1sPgo=");
        b.line(b"");
        b.line(format!("--{boundary}--").as_bytes());
        if rng.chance(50) {
            b.line(b"epilogue text");
        }
    } else if qp {
        b.field("Content-Type", ": ", b"text/plain; charset=iso-8859-1");
        b.field("Content-Transfer-Encoding", ": ", b"quoted-printable");
        b.line(b"Caf=E9 au lait, cr=E8me br=FBl=E9e and a very long line that is sof=");
        b.line(b"t-broken here=20");
        b.line(b"=3D=3D equals =3D=3D");
    } else if has(Feature::EmptyBody) {
        // Nothing after the blank line.
    } else if has(Feature::BlankLinesOnlyBody) {
        for _ in 0..1 + rng.below(5) {
            b.line(b"");
        }
    } else {
        let lines = if has(Feature::LargeBody) {
            1500 + rng.below(1500)
        } else {
            1 + rng.below(20)
        };
        for l in 0..lines {
            let mut text = some_words(rng, 1, 14).into_bytes();
            if has(Feature::Tabs) && rng.chance(40) {
                text = format!("\t{}\t \t{}", words(rng, 2), words(rng, 3)).into_bytes();
            }
            if has(Feature::EightBit) && rng.chance(40) {
                text.extend_from_slice(" naïve café ".as_bytes());
                text.extend_from_slice(b"\xe9\xa0\x80\xff");
            }
            if has(Feature::TrailingWhitespace) && rng.chance(50) {
                text.extend_from_slice(trail(rng).as_bytes());
            }
            if has(Feature::WhitespaceOnlyLines) && rng.chance(40) {
                b.line([" ", "\t", "   \t  ", ""][rng.below(4)].as_bytes());
            }
            if has(Feature::Lines998) && (l == 0 || rng.chance(20)) {
                let mut long = vec![b'y'; 998];
                long[0] = b'L';
                b.line(&long);
            }
            // Avoid a body line "From " that an mbox tool would mangle.
            if text.starts_with(b"From ") {
                text.insert(0, b'>');
            }
            b.line(&text);
        }
        if has(Feature::WhitespaceOnlyLines) {
            b.line(b"  ");
            b.line(b"\t");
        }
    }
    if has(Feature::TrailingBlankLines) {
        for _ in 0..1 + rng.below(6) {
            b.line(b"");
        }
        if rng.chance(50) {
            b.line(b"   ");
            b.line(b"");
        }
    }
    if has(Feature::NoFinalCrlf) {
        if b.body.ends_with(b"\r\n") {
            b.body.truncate(b.body.len() - 2);
        }
        if b.body.is_empty() || rng.chance(50) {
            b.body.extend_from_slice(b"last line without CRLF");
            if has(Feature::TrailingWhitespace) {
                b.body.extend_from_slice(b" \t ");
            }
        }
    }

    let mut bytes = Vec::new();
    for h in &b.headers {
        bytes.extend_from_slice(h);
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&b.body);
    let lf_only = has(Feature::LfOnly);
    if lf_only {
        bytes = crlf_to_lf(&bytes);
    }
    let label: Vec<&str> = features.iter().map(|f| f.name()).collect();
    Message {
        name: format!("{index:03}-{}.eml", label.join("+")),
        bytes,
        lf_only,
    }
}

/// Replace every CRLF with LF.
pub fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_covers_every_feature() {
        let a = generate(FEATURES.len() * 2, 7);
        let b = generate(FEATURES.len() * 2, 7);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.bytes, y.bytes);
        }
        for f in FEATURES {
            assert!(a.iter().any(|m| m.name.contains(f.name())), "{f:?}");
        }
    }

    #[test]
    fn one_from_field_and_a_separator() {
        for m in generate(300, 1) {
            let text = String::from_utf8_lossy(&m.bytes).to_ascii_lowercase();
            let sep = if m.lf_only { "\n\n" } else { "\r\n\r\n" };
            let (head, _) = text.split_once(sep).expect(&m.name);
            let eol = if m.lf_only { "\n" } else { "\r\n" };
            let froms = head
                .split(eol)
                .filter(|l| l.starts_with("from:") || l.starts_with("from :"))
                .count();
            assert_eq!(froms, 1, "{}", m.name);
        }
    }
}
