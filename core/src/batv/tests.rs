use super::*;

const SECRET: &[u8] = b"secret";
// Noon on unix day 20_420 (day stamp 420).
const NOW: u64 = 20_420 * SECONDS_PER_DAY + 43_200;

fn tag_vec(addr: &str, secret: &[u8], p: &TagParams) -> Result<std::string::String, TagError> {
    let mut out = [0u8; 300];
    let n = tag(addr.as_bytes(), secret, p, &mut out)?;
    Ok(std::string::String::from_utf8(out[..n].to_vec()).unwrap())
}

extern crate std;

#[test]
fn exim_vector_round_trip() {
    // Made by Exim 4.96: ${prvs{Foo.Bar+x@Example.COM}{secret}{3}} on day 20_785
    // (expiry stamp 792).
    let now = 20_785 * SECONDS_PER_DAY;
    let p = TagParams {
        key: KeyNumber::new(3).unwrap(),
        validity_days: 7,
        now,
    };
    assert_eq!(
        tag_vec("Foo.Bar+x@Example.COM", SECRET, &p).unwrap(),
        "prvs=3792bf1249=Foo.Bar+x@Example.COM"
    );
    let ring = KeyRing::all(SECRET);
    let c = check(
        b"prvs=3792bf1249=Foo.Bar+x@Example.COM",
        &ring,
        now,
        &CheckPolicy::default(),
    )
    .unwrap();
    assert_eq!(c.original, b"Foo.Bar+x@Example.COM");
    assert_eq!(c.key.get(), 3);
    assert_eq!(c.expiry_day, 792);
    assert_eq!(c.days_left, 7);
    // Key 0 from the same run: ${prvs{Foo.Bar+x@Example.COM}{secret}}.
    assert_eq!(
        check(
            b"prvs=0792d48f5e=Foo.Bar+x@Example.COM",
            &ring,
            now,
            &CheckPolicy::default()
        )
        .unwrap()
        .original,
        b"Foo.Bar+x@Example.COM"
    );
}

#[test]
fn case_handling_matches_exim() {
    let ring = KeyRing::all(SECRET);
    let now = 20_785 * SECONDS_PER_DAY;
    let pol = CheckPolicy::default();
    // Prefix is case-insensitive.
    assert!(check(b"PRVS=3792bf1249=Foo.Bar+x@Example.COM", &ring, now, &pol).is_ok());
    // Hex digits: accepted in upper case too (a documented difference from Exim).
    assert!(check(b"prvs=3792BF1249=Foo.Bar+x@Example.COM", &ring, now, &pol).is_ok());
    // The address is hashed as written: changing its case breaks the hash.
    assert_eq!(
        check(b"prvs=3792bf1249=foo.bar+x@example.com", &ring, now, &pol),
        Err(CheckError::BadHash)
    );
}

#[test]
fn day_stamp_wraps() {
    assert_eq!(day_stamp(0, 0), 0);
    assert_eq!(day_stamp(999 * SECONDS_PER_DAY, 0), 999);
    assert_eq!(day_stamp(999 * SECONDS_PER_DAY, 1), 0);
    assert_eq!(day_stamp(995 * SECONDS_PER_DAY, 7), 2);
    assert_eq!(day_stamp(NOW, 7), 427);
    assert_eq!(day_stamp(u64::MAX, u16::MAX), {
        ((u64::MAX / SECONDS_PER_DAY % 1000 + 65535) % 1000) as u16
    });
    // The last second of a day and the first of the next.
    assert_eq!(day_stamp(SECONDS_PER_DAY - 1, 0), 0);
    assert_eq!(day_stamp(SECONDS_PER_DAY, 0), 1);
    assert_eq!(three_digits(7), *b"007");
    assert_eq!(three_digits(42), *b"042");
}

fn round(
    addr: &str,
    now_sign: u64,
    validity: u16,
    now_check: u64,
    pol: &CheckPolicy,
) -> Result<i16, CheckError> {
    let p = TagParams {
        key: KeyNumber::new(5).unwrap(),
        validity_days: validity,
        now: now_sign,
    };
    let t = tag_vec(addr, SECRET, &p).unwrap();
    let c = check(
        t.as_bytes(),
        &KeyRing::new().with(p.key, SECRET),
        now_check,
        pol,
    )?;
    assert_eq!(c.original, addr.as_bytes());
    Ok(c.days_left)
}

#[test]
fn wraparound_at_every_day_of_the_cycle() {
    let pol = CheckPolicy {
        grace_days: 2,
        max_validity_days: 30,
    };
    for start in [990u64, 993, 995, 999, 1000, 1992, 1999] {
        let sign_at = start * SECONDS_PER_DAY + 100;
        for later in 0..=12u64 {
            let r = round(
                "a@b.example",
                sign_at,
                7,
                sign_at + later * SECONDS_PER_DAY,
                &pol,
            );
            let expect = match later {
                0..=7 => Ok(7 - later as i16),
                8 | 9 => Ok(7 - later as i16),
                n => Err(CheckError::Expired {
                    days_ago: (n - 7) as u16,
                }),
            };
            assert_eq!(r, expect, "start {start} later {later}");
        }
    }
}

#[test]
fn every_day_stamp_of_the_cycle() {
    // Sign on each of the 1000 day stamps with validity 7; check on the signing
    // day, the expiry day, one day past (grace 1) and two days past.
    let pol = CheckPolicy {
        grace_days: 1,
        max_validity_days: 7,
    };
    let ring = KeyRing::all(SECRET);
    for day in 0..1000u64 {
        let now = (20_000 + day) * SECONDS_PER_DAY;
        let t = tag_vec("w@x", SECRET, &TagParams::new(now)).unwrap();
        for (later, expect) in [
            (0u64, Ok(7i16)),
            (7, Ok(0)),
            (8, Ok(-1)),
            (9, Err(CheckError::Expired { days_ago: 2 })),
        ] {
            let r = check(t.as_bytes(), &ring, now + later * SECONDS_PER_DAY, &pol)
                .map(|c| c.days_left);
            assert_eq!(r, expect, "day {day} later {later}");
        }
    }
}

#[test]
fn expiry_edges() {
    let pol0 = CheckPolicy {
        grace_days: 0,
        max_validity_days: 7,
    };
    let s = NOW;
    // Last second of the expiry day: valid; first second of the next: expired.
    let last = (NOW / SECONDS_PER_DAY + 8) * SECONDS_PER_DAY - 1;
    assert_eq!(round("x@y", s, 7, last, &pol0), Ok(0));
    assert_eq!(
        round("x@y", s, 7, last + 1, &pol0),
        Err(CheckError::Expired { days_ago: 1 })
    );
    // A tag for more days than the checker allows is out of range.
    assert_eq!(
        round("x@y", s, 8, s, &pol0),
        Err(CheckError::DayOutOfRange { days_ahead: 8 })
    );
    assert_eq!(
        round("x@y", s, 499, s, &pol0),
        Err(CheckError::DayOutOfRange { days_ahead: 499 })
    );
    // 500 ahead counts as 500 behind: expired.
    assert_eq!(
        round("x@y", s + 1, 0, s + 500 * SECONDS_PER_DAY, &pol0),
        Err(CheckError::Expired { days_ago: 500 })
    );
    // Validity 0 expires at the end of today.
    assert_eq!(round("x@y", s, 0, s, &pol0), Ok(0));
    // Grace edges.
    let pol3 = CheckPolicy {
        grace_days: 3,
        max_validity_days: 7,
    };
    assert_eq!(round("x@y", s, 0, s + 3 * SECONDS_PER_DAY, &pol3), Ok(-3));
    assert_eq!(
        round("x@y", s, 0, s + 4 * SECONDS_PER_DAY, &pol3),
        Err(CheckError::Expired { days_ago: 4 })
    );
    // Policy limits.
    let bad = CheckPolicy {
        grace_days: 500,
        max_validity_days: 7,
    };
    assert_eq!(
        round("x@y", s, 7, s, &bad),
        Err(CheckError::PolicyOutOfRange)
    );
    let bad = CheckPolicy {
        grace_days: 0,
        max_validity_days: 500,
    };
    assert_eq!(
        round("x@y", s, 7, s, &bad),
        Err(CheckError::PolicyOutOfRange)
    );
}

#[test]
fn key_number_above_nine() {
    assert_eq!(KeyNumber::new(10), Err(TagError::KeyNumberOutOfRange));
    assert_eq!(KeyNumber::new(255), Err(TagError::KeyNumberOutOfRange));
    assert_eq!(KeyNumber::new(9).map(KeyNumber::get), Ok(9));
    let ring = KeyRing::all(SECRET);
    let pol = CheckPolicy::default();
    // A hex "A" where K goes, and a two-digit key.
    assert_eq!(
        check(b"prvs=A427abcdef=a@b", &ring, NOW, &pol),
        Err(CheckError::KeyNumberOutOfRange)
    );
    assert_eq!(
        check(b"prvs=10427abcdef=a@b", &ring, NOW, &pol),
        Err(CheckError::KeyNumberOutOfRange)
    );
}

#[test]
fn unknown_key() {
    let ring = KeyRing::new().with(KeyNumber::new(1).unwrap(), SECRET);
    let t = tag_vec("a@b", SECRET, &TagParams::new(NOW)).unwrap();
    assert_eq!(
        check(t.as_bytes(), &ring, NOW, &CheckPolicy::default()),
        Err(CheckError::UnknownKey { key: 0 })
    );
    assert_eq!(std::format!("{ring:?}"), "[1]");
}

#[test]
fn malformed_tags() {
    let ring = KeyRing::all(SECRET);
    let pol = CheckPolicy::default();
    let c = |s: &str| check(s.as_bytes(), &ring, NOW, &pol).map(|_| ());
    assert_eq!(c("alice@example.com"), Err(CheckError::MissingTag));
    assert_eq!(c("prv=0427abcdef=a@b"), Err(CheckError::MissingTag));
    assert_eq!(c(""), Err(CheckError::MissingTag));
    assert_eq!(c("prvs"), Err(CheckError::MissingTag));
    assert_eq!(c("prvs="), Err(CheckError::MalformedTag));
    assert_eq!(c("prvs=0427abcdef"), Err(CheckError::MalformedTag));
    assert_eq!(c("prvs=0427abcde=a@b"), Err(CheckError::MalformedTag));
    assert_eq!(c("prvs=0427abcdef0=a@b"), Err(CheckError::MalformedTag));
    assert_eq!(c("prvs==a@b"), Err(CheckError::MalformedTag));
    assert_eq!(c("prvs=04x7abcdef=a@b"), Err(CheckError::DayNotDecimal));
    assert_eq!(c("prvs=0-27abcdef=a@b"), Err(CheckError::DayNotDecimal));
    assert_eq!(c("prvs=0427abcdeg=a@b"), Err(CheckError::HashNotHex));
    assert_eq!(c("prvs=0427zbcdef=a@b"), Err(CheckError::HashNotHex));
    assert_eq!(c("prvs=0427ab cdef=a@b"), Err(CheckError::MalformedTag));
    assert_eq!(c("prvs=0427abcd f=a@b"), Err(CheckError::HashNotHex));
    assert_eq!(c("prvs=0427abcdef="), Err(CheckError::MalformedAddress));
    assert_eq!(c("prvs=0427abcdef=ab"), Err(CheckError::MalformedAddress));
    assert_eq!(c("prvs=0427abcdef=@b"), Err(CheckError::MalformedAddress));
    assert_eq!(c("prvs=0427abcdef=a@"), Err(CheckError::MalformedAddress));
    // Well-formed but forged.
    assert_eq!(c("prvs=0427abcdef=a@b"), Err(CheckError::BadHash));
    assert_eq!(
        parse(b"prvs=9000FFfF00=a@b").map(|p| p.hash),
        Ok([0xff, 0xff, 0])
    );
}

#[test]
fn every_altered_byte_is_rejected() {
    let t = tag_vec("Mixed.Case+tag@Example.org", SECRET, &TagParams::new(NOW)).unwrap();
    let ring = KeyRing::all(SECRET);
    let pol = CheckPolicy::default();
    assert!(check(t.as_bytes(), &ring, NOW, &pol).is_ok());
    let bytes = t.as_bytes();
    for i in PRVS_PREFIX.len()..bytes.len() {
        if bytes[i] == b'=' || bytes[i] == b'@' {
            continue;
        }
        let mut alt = bytes.to_vec();
        alt[i] = match alt[i] {
            b'0'..=b'8' | b'a'..=b'e' | b'A'..=b'Y' => alt[i] + 1,
            b'9' => b'0',
            b'f' => b'a',
            b'Z' => b'A',
            b'x' => b'y',
            _ => b'x',
        };
        assert!(check(&alt, &ring, NOW, &pol).is_err(), "altered byte {i}");
    }
    // Another secret rejects.
    assert_eq!(
        check(bytes, &KeyRing::all(b"other"), NOW, &pol),
        Err(CheckError::BadHash)
    );
}

#[test]
fn local_part_limit_at_the_edge() {
    let p = TagParams::new(NOW);
    let local48 = "a".repeat(48);
    let local49 = "b".repeat(49);
    let ok = tag_vec(&std::format!("{local48}@example.com"), SECRET, &p).unwrap();
    assert_eq!(ok.split('@').next().unwrap().len(), 64);
    assert_eq!(
        tag_vec(&std::format!("{local49}@example.com"), SECRET, &p),
        Err(TagError::LocalPartTooLong { tagged: 65 })
    );
    // The split is at the last @.
    assert_eq!(
        tag_vec(
            &std::format!("\"{}@x\"@example.com", "c".repeat(45)),
            SECRET,
            &p
        ),
        Err(TagError::LocalPartTooLong { tagged: 65 })
    );
    // Whole-address limit: 238 octets tag to 254, 239 to 255.
    let domain = std::format!("{}.example", "d".repeat(228));
    assert_eq!(
        tag_vec(&std::format!("a@{domain}"), SECRET, &p).map(|t| t.len()),
        Ok(254)
    );
    assert_eq!(
        tag_vec(&std::format!("ab@{domain}"), SECRET, &p),
        Err(TagError::AddressTooLong { tagged: 255 })
    );
}

#[test]
fn tag_errors() {
    let p = TagParams::new(NOW);
    assert_eq!(
        tag_vec("nodomain", SECRET, &p),
        Err(TagError::MalformedAddress)
    );
    assert_eq!(tag_vec("@b", SECRET, &p), Err(TagError::MalformedAddress));
    assert_eq!(tag_vec("a@", SECRET, &p), Err(TagError::MalformedAddress));
    assert_eq!(tag_vec("", SECRET, &p), Err(TagError::MalformedAddress));
    assert_eq!(
        tag_vec("PRVS=0427abcdef=a@b", SECRET, &p),
        Err(TagError::AlreadyTagged)
    );
    let p500 = TagParams {
        validity_days: 500,
        ..p
    };
    assert_eq!(
        tag_vec("a@b", SECRET, &p500),
        Err(TagError::ValidityOutOfRange)
    );
    // Output buffer: every size below the need fails with the need, the need itself works.
    let need = tagged_len(3);
    for size in 0..need {
        let mut out = [0u8; 32];
        assert_eq!(
            tag(b"a@b", SECRET, &p, &mut out[..size]),
            Err(TagError::BufferTooSmall { needed: need })
        );
    }
    let mut out = [0u8; 19];
    assert_eq!(tag(b"a@b", SECRET, &p, &mut out), Ok(19));
    assert!(out.starts_with(b"prvs=0427"));
    assert!(out.ends_with(b"=a@b"));
}

#[test]
fn empty_and_long_secrets() {
    // HMAC keys longer than the SHA-1 block are hashed first; both still round-trip.
    for secret in [&b""[..], &[7u8; 65][..], &[9u8; 200][..]] {
        let t = tag_vec("a@b", secret, &TagParams::new(NOW)).unwrap();
        assert!(
            check(
                t.as_bytes(),
                &KeyRing::all(secret),
                NOW,
                &CheckPolicy::default()
            )
            .is_ok()
        );
    }
}

#[test]
fn is_tagged_prefix() {
    assert!(is_tagged(b"prvs=x"));
    assert!(is_tagged(b"Prvs=x"));
    assert!(!is_tagged(b"prv"));
    assert!(!is_tagged(b"bob@prvs=x"));
}
