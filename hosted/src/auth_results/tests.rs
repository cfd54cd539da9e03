use super::*;

fn sig(result: DkimResult, d: &str, s: &str, a: &str, b: &str) -> SignatureResult {
    SignatureResult {
        result: Some(result),
        reason: None,
        domain: Some(d.into()),
        selector: Some(s.into()),
        algorithm: Some(a.into()),
        signature: Some(b.into()),
    }
}

/// Unfolds a field written with "\r\n\t" (RFC 5322 §2.2.3).
fn unfold(field: &str) -> String {
    field.replace("\r\n", "")
}

#[test]
fn one_pass() {
    let r = sig(
        DkimResult::Pass,
        "example.com",
        "brisbane",
        "ed25519-sha256",
        "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSw",
    );
    let field = write_field("mx.example.org", &[r], "\r\n\t");
    assert_eq!(
        field,
        "Authentication-Results: mx.example.org;\r\n\tdkim=pass header.d=example.com \
         header.s=brisbane header.a=ed25519-sha256\r\n\theader.b=\"/gCrinpc\""
    );
}

#[test]
fn no_signatures_is_dkim_none() {
    assert_eq!(
        write_field("mx.example.org", &[], "\r\n\t"),
        "Authentication-Results: mx.example.org; dkim=none"
    );
}

#[test]
fn several_results_and_a_reason() {
    let mut fail = sig(
        DkimResult::Fail,
        "a.example",
        "s1",
        "rsa-sha256",
        "AAAAbbbbCCCC",
    );
    fail.reason = Some("body hash did not verify".into());
    let pass = sig(
        DkimResult::Pass,
        "b.example",
        "s2",
        "rsa-sha256",
        "ZZZZyyyy",
    );
    let field = unfold(&write_field("mx", &[fail, pass], "\r\n\t"));
    assert_eq!(
        field,
        "Authentication-Results: mx;\tdkim=fail reason=\"body hash did not verify\" \
         header.d=a.example header.s=s1\theader.a=rsa-sha256 header.b=AAAAbbbb;\
         \tdkim=pass header.d=b.example header.s=s2 header.a=rsa-sha256\theader.b=ZZZZyyyy"
    );
}

#[test]
fn lines_stay_short_and_the_fold_is_the_callers() {
    let r = sig(
        DkimResult::Permerror,
        &"long-label.".repeat(20),
        &"s".repeat(63),
        "rsa-sha256",
        "abcdefghijkl",
    );
    let field = write_field("mx.example.org", &[r], "\n ");
    for line in field.split('\n') {
        // A single word may be longer than the fold width, never a line
        // with two words.
        assert!(
            line.len() <= FOLD_WIDTH || !line.trim().contains(' '),
            "{line:?}"
        );
        assert!(line.len() <= 998);
    }
    assert!(!field.contains('\r'));
}

#[test]
fn header_b_grows_to_tell_signatures_apart() {
    let a = sig(DkimResult::Pass, "x", "s", "a", "ABCDEFGH1xxxx");
    let b = sig(DkimResult::Fail, "x", "s", "a", "ABCDEFGH2yyyy");
    let c = sig(DkimResult::Fail, "x", "s", "a", "QQQQ QQQQ\r\n QQQQ");
    let field = unfold(&write_field("mx", &[a, b, c], "\r\n\t"));
    assert!(field.contains("header.b=ABCDEFGH1;"), "{field}");
    assert!(field.contains("header.b=ABCDEFGH2;"), "{field}");
    assert!(field.ends_with("header.b=QQQQQQQQ"), "{field}");
}

/// Security case 6: values from the message are quoted or escaped, so a
/// hostile `d=` cannot end the result or add one of its own.
#[test]
fn row_06_hostile_values_are_quoted() {
    let cases = [
        ("legit.com(.attack.com", "\"legit.com(.attack.com\""),
        ("legit.com\"; dkim=pass", "\"legit.com\\\"; dkim=pass\""),
        ("legit.com'", "legit.com'"),
        ("legit.com; dkim=pass", "\"legit.com; dkim=pass\""),
        ("a\\b", "\"a\\\\b\""),
        ("a\r\nX-Injected: 1", "\"a??X-Injected: 1\""),
        ("a\0b", "\"a?b\""),
        ("bücher.example", "\"b?cher.example\""),
        ("", "\"\""),
    ];
    for (hostile, written) in cases {
        let r = sig(DkimResult::Permerror, hostile, hostile, hostile, "AAAAAAAA");
        let field = unfold(&write_field("mx", &[r], "\r\n\t"));
        assert!(
            has_property(&field, "header.d", written),
            "{hostile:?} -> {field}"
        );
        assert!(!field.contains('\r') && !field.contains('\n') && !field.contains('\0'));
        // Exactly one result, whatever the value held.
        let outside_quotes = strip_quoted(&field);
        assert_eq!(outside_quotes.matches("dkim=").count(), 1, "{field}");
        assert_eq!(outside_quotes.matches(';').count(), 1, "{field}");
    }
}

/// Whether `field` holds `name=value` followed by a blank or the end.
fn has_property(field: &str, name: &str, value: &str) -> bool {
    let needle = format!("{name}={value}");
    field.match_indices(&needle).any(|(at, _)| {
        matches!(
            field[at + needle.len()..].chars().next(),
            None | Some(' ' | '\t' | '\r')
        )
    })
}

/// Removes quoted-strings (with their quoted-pairs) so that what is left
/// is the structure of the field.
fn strip_quoted(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            while let Some(q) = chars.next() {
                match q {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn long_values_are_capped() {
    let r = sig(DkimResult::Permerror, &"d".repeat(5000), "s", "a", "b");
    let field = write_field("mx", &[r], "\r\n\t");
    assert!(field.split("\r\n").all(|line| line.len() <= 998));
    assert!(has_property(
        &field,
        "header.d",
        &"d".repeat(MAX_VALUE_CHARS)
    ));
}

#[test]
fn authserv_id_is_quoted_when_needed() {
    let field = write_field("mx example", &[], "\r\n\t");
    assert_eq!(field, "Authentication-Results: \"mx example\"; dkim=none");
}

#[test]
fn json_one_object_per_signature() {
    let mut fail = sig(
        DkimResult::Fail,
        "a.example",
        "s1",
        "rsa-sha256",
        "AAAAbbbbCCCC",
    );
    fail.reason = Some("bad \"sig\"".into());
    let pass = sig(
        DkimResult::Pass,
        "b(.example",
        "s2",
        "ed25519-sha256",
        "ZZZZyyyy",
    );
    let json = write_json("mx", &[fail, pass]);
    let lines: Vec<&str> = json.lines().collect();
    assert_eq!(lines.len(), 2);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["authserv_id"], "mx");
    assert_eq!(first["method"], "dkim");
    assert_eq!(first["result"], "fail");
    assert_eq!(first["reason"], "bad \"sig\"");
    assert_eq!(first["header.d"], "a.example");
    assert_eq!(first["header.b"], "AAAAbbbb");
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["result"], "pass");
    assert_eq!(second["header.d"], "b(.example");
    assert!(second.get("reason").is_none());

    let none: serde_json::Value = serde_json::from_str(write_json("mx", &[]).trim()).unwrap();
    assert_eq!(none["result"], "none");
}

#[test]
fn recognises_own_authserv_id() {
    let id = "mx.example.org";
    for value in [
        " mx.example.org; dkim=pass",
        "mx.example.org;dkim=pass",
        " MX.Example.ORG; dkim=pass",
        " mx.example.org.; dkim=pass",
        " mx.example.org 1; dkim=pass",
        " mx.example.org (comment); dkim=pass",
        " (comment) mx.example.org; dkim=pass",
        " (nested (comment) \\) here)\r\n\tmx.example.org; dkim=pass",
        "\r\n mx.example.org; dkim=pass",
        " \"mx.example.org\"; dkim=pass",
        " \"mx.exa\\mple.org\"; dkim=pass",
        " mx.example.org",
        " mx.example.org; none",
    ] {
        assert!(claims_authserv_id(value.as_bytes(), id), "{value:?}");
    }
    for value in [
        " other.example; dkim=pass",
        " mx.example.org.evil; dkim=pass",
        " evil.mx.example.org; dkim=pass",
        " (mx.example.org) other.example; dkim=pass",
        " \"mx.example.org \"; dkim=pass",
        " mx; dkim=pass header.d=mx.example.org",
        "",
    ] {
        assert!(!claims_authserv_id(value.as_bytes(), id), "{value:?}");
    }
}

#[test]
fn malformed_fields_mentioning_our_id_count_as_ours() {
    let id = "mx.example.org";
    for value in [
        " (unclosed mx.example.org; dkim=pass",
        " mx.example.org/x; dkim=pass",
        " \"mx.example.org; dkim=pass",
        " ; mx.example.org",
    ] {
        assert!(claims_authserv_id(value.as_bytes(), id), "{value:?}");
    }
    assert!(!claims_authserv_id(b" (unclosed other; dkim=pass", id));
}

#[test]
fn raw_fields() {
    let id = "mx.example.org";
    assert!(field_claims_authserv_id(
        b"Authentication-Results: mx.example.org; dkim=pass",
        id
    ));
    assert!(field_claims_authserv_id(
        b"authentication-results :mx.example.org; x=y",
        id
    ));
    assert!(!field_claims_authserv_id(
        b"X-Authentication-Results: mx.example.org; x=y",
        id
    ));
    assert!(!field_claims_authserv_id(
        b"Authentication-Results: other; x=y",
        id
    ));
    assert!(!field_claims_authserv_id(b"no colon", id));
}

/// Security case 7 (CVE-2022-48521): every field claiming our id is listed,
/// by its index among Authentication-Results fields, last first, so that
/// deleting in that order never shifts a field still to be deleted.
#[test]
fn row_07_delete_own_fields_last_first() {
    let fields: Vec<(&[u8], &[u8])> = vec![
        (b"Received", b" from x"),
        (b"Authentication-Results", b" 1.example; dkim=pass"),
        (b"Authentication-Results", b" mx.example.org; dkim=pass"),
        (b"authentication-results", b" (c) MX.EXAMPLE.ORG; spf=pass"),
        (b"Subject", b" mx.example.org; dkim=pass"),
        (b"Authentication-Results", b" 4.example; dkim=pass"),
        (b"Authentication-Results", b" \"mx.example.org\"; dkim=pass"),
    ];
    let indices = own_fields_to_delete(fields.iter().copied(), "mx.example.org");
    assert_eq!(indices, vec![5, 3, 2]);

    // Deleting in that order leaves exactly the foreign fields.
    let mut ar: Vec<&[u8]> = fields
        .iter()
        .filter(|(n, _)| is_authentication_results(n))
        .map(|(_, v)| *v)
        .collect();
    for index in indices {
        ar.remove(index - 1);
    }
    assert_eq!(
        ar,
        vec![&b" 1.example; dkim=pass"[..], b" 4.example; dkim=pass"]
    );
}

#[test]
fn written_fields_are_recognised() {
    let r = sig(DkimResult::Pass, "d", "s", "a", "bbbbbbbb");
    for id in ["mx.example.org", "odd id\"x"] {
        let field = write_field(id, std::slice::from_ref(&r), "\r\n\t");
        assert!(field_claims_authserv_id(field.as_bytes(), id), "{field}");
        assert!(
            !field_claims_authserv_id(field.as_bytes(), "other"),
            "{field}"
        );
    }
}
