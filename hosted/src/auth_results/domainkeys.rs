//! DomainKeys (RFC 4870) results for `mass verify` and the milter's verify
//! path: core's [`DkMessageVerifier`] runs beside the DKIM verifier over
//! the same chunks, its key lookups go through the same
//! [`crate::dns::provide_keys`] (it implements [`crate::dns::WantsKeys`]), and
//! each DomainKey-Signature becomes one `domainkeys=` method result in
//! Authentication-Results (RFC 8601 §2.7.1 registers the method).
//!
//! DomainKeys is SHA-1 by design: every `domainkeys=` result carries a
//! comment saying it is a legacy result, and none ever counts as a DKIM
//! pass (no exit status, no milter decision rests on it).

use mass_core::dkim::verify::Verdict;
use mass_core::domainkeys::{DkMessageVerifier, DkResult};

/// The most DomainKey-Signature fields checked per message.
pub const MAX_DK_SIGNATURES: usize = 4;

/// The DomainKeys verifier hosts run.
pub type HostDkVerifier = DkMessageVerifier<MAX_DK_SIGNATURES>;

/// The comment every `domainkeys=` result carries.
pub const LEGACY_COMMENT: &str = "legacy DomainKeys SHA-1 result, never a DKIM pass";

/// A new verifier, boxed (it keeps a few KiB per signature).
pub fn new_verifier() -> Box<HostDkVerifier> {
    Box::new(HostDkVerifier::new(MAX_DK_SIGNATURES))
}

/// Is `s` safe to write as an RFC 8601 `pvalue` without quoting (an
/// addr-spec of plain characters)?
fn plain_pvalue(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.@-".contains(&b))
}

/// Text for inside an RFC 5322 comment: parentheses and backslashes
/// escaped as quoted-pairs.
fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        }
    }
    out
}

/// One `domainkeys=` resinfo (RFC 8601 §2.2), without the leading `;`:
/// `domainkeys=pass (legacy ...) header.d=example.com header.from=a@example.com`.
pub fn resinfo(r: &DkResult) -> String {
    let mut out = format!("domainkeys={} ({LEGACY_COMMENT}", r.verdict.as_str());
    if r.verdict != Verdict::Pass {
        out.push_str("; ");
        out.push_str(&comment_text(&r.reason.to_string()));
    }
    if r.testing {
        out.push_str("; testing key");
    }
    out.push(')');
    if let Some(d) = &r.domain {
        out.push_str(" header.d=");
        out.push_str(d);
    }
    if let Some((field, mailbox)) = &r.sending
        && plain_pvalue(mailbox.as_bytes())
    {
        out.push_str(" header.");
        out.push_str(field.as_str());
        out.push('=');
        out.push_str(&String::from_utf8_lossy(mailbox.as_bytes()));
    }
    out
}

/// One DomainKey-Signature's result, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkReport {
    /// The RFC 8601 result word (`pass`, `fail`, ...).
    pub result: &'static str,
    /// Why, in words, unless it passed.
    pub reason: Option<String>,
    /// `d=`, if the signature parsed.
    pub domain: Option<String>,
    /// The whole `domainkeys=` resinfo for Authentication-Results.
    pub resinfo: String,
}

/// Finish `verifier` and report each signature, top first.
pub fn reports(verifier: Box<HostDkVerifier>) -> Result<Vec<DkReport>, mass_core::Error> {
    Ok(verifier
        .finish()?
        .iter()
        .map(|r| DkReport {
            result: r.verdict.as_str(),
            reason: (r.verdict != Verdict::Pass).then(|| r.reason.to_string()),
            domain: r.domain.as_ref().map(|d| d.to_string()),
            resinfo: resinfo(r),
        })
        .collect())
}

/// Append the `domainkeys=` resinfos to an Authentication-Results field
/// written with `fold` between lines.
pub fn append_to_field(field: &mut String, reports: &[DkReport], fold: &str) {
    for r in reports {
        super::append_resinfo(field, &r.resinfo, fold);
    }
}

/// One JSON object per report, each followed by `\n`, in the shape of the
/// DKIM ones (`method` is `domainkeys`, `legacy` is true).
pub fn json_lines(authserv_id: &str, reports: &[DkReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let mut obj = serde_json::json!({
            "authserv_id": authserv_id,
            "method": "domainkeys",
            "result": r.result,
            "legacy": true,
        });
        if let Some(reason) = &r.reason {
            obj["reason"] = reason.as_str().into();
        }
        if let Some(d) = &r.domain {
            obj["header.d"] = d.as_str().into();
        }
        out.push_str(&obj.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mass_core::domainkeys::{DkReason, Mailbox, SendingField};

    fn result(verdict: Verdict, reason: DkReason) -> DkResult {
        DkResult {
            verdict,
            reason,
            domain: Some("example.com".try_into().unwrap()),
            selector: Some("dk".try_into().unwrap()),
            sending: Some((
                SendingField::From,
                Mailbox::parse(b" Alice <alice@example.com>").unwrap(),
            )),
            testing: false,
            key_bits: Some(2048),
        }
    }

    #[test]
    fn pass_and_fail_resinfo() {
        assert_eq!(
            resinfo(&result(Verdict::Pass, DkReason::Verified)),
            "domainkeys=pass (legacy DomainKeys SHA-1 result, never a DKIM pass) \
             header.d=example.com header.from=alice@example.com"
        );
        assert_eq!(
            resinfo(&result(Verdict::Fail, DkReason::KeyRevoked)),
            "domainkeys=fail (legacy DomainKeys SHA-1 result, never a DKIM pass; \
             key revoked \\(empty p=\\)) header.d=example.com header.from=alice@example.com"
        );
    }

    #[test]
    fn appended_resinfo_is_folded() {
        let report = DkReport {
            result: "pass",
            reason: None,
            domain: Some("example.com".into()),
            resinfo: resinfo(&result(Verdict::Pass, DkReason::Verified)),
        };
        let mut field = String::from("Authentication-Results: mx; dkim=none");
        append_to_field(&mut field, &[report], "\n\t");
        assert!(field.lines().all(|l| l.len() <= 78), "{field}");
        assert_eq!(
            field.replace("\n\t", " "),
            "Authentication-Results: mx; dkim=none; domainkeys=pass (legacy DomainKeys \
             SHA-1 result, never a DKIM pass) header.d=example.com \
             header.from=alice@example.com"
        );
    }

    #[test]
    fn odd_addresses_are_left_out() {
        let mut r = result(Verdict::Pass, DkReason::Verified);
        r.sending = Some((
            SendingField::Sender,
            Mailbox::parse(b" \"a b\"@example.com").unwrap(),
        ));
        assert!(!resinfo(&r).contains("header.sender"));
    }
}
