//! The `arc=` result of Authentication-Results (RFC 8617 §10.1), for
//! `mass arc verify` and for `mass serve`'s arrival results.

use mass_core::arc::{ArcResult, ChainStatus};
use serde::Serialize;

/// The `arc=` result as RFC 8617 §10.1 registers it, with the instance
/// count and reason as a comment and `header.oldest-pass` on pass.
pub fn arc_entry(result: &ArcResult) -> String {
    let reason = comment_text(&result.reason.to_string());
    let mut entry = format!("arc={} ({reason}", result.status);
    if result.instances > 0 {
        entry.push_str(&format!(", {} set(s)", result.instances));
    }
    entry.push(')');
    if result.status == ChainStatus::Pass {
        entry.push_str(&format!(" header.oldest-pass={}", result.oldest_pass));
    }
    entry
}

/// `arc=fail` for a chain that could not be validated at all (§5.2: that
/// is a fail), with the why as a comment.
pub fn arc_fail_entry(why: &str) -> String {
    format!("arc=fail ({})", comment_text(why))
}

/// `text` safe inside an RFC 5322 comment: parentheses and backslashes
/// become spaces.
pub(super) fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '(' | ')' | '\\') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The `arc=` result as one JSON object and a newline, in the shape of the
/// DKIM ones (`method` is `arc`).
pub fn arc_json(authserv_id: &str, result: &ArcResult) -> String {
    #[derive(Serialize)]
    struct JsonArc<'a> {
        authserv_id: &'a str,
        method: &'static str,
        result: &'static str,
        instances: u8,
        oldest_pass: u8,
        reason: String,
    }
    let object = JsonArc {
        authserv_id,
        method: "arc",
        result: result.status.as_str(),
        instances: result.instances,
        oldest_pass: result.oldest_pass,
        reason: result.reason.to_string(),
    };
    let mut line = serde_json::to_string(&object).unwrap_or_default();
    line.push('\n');
    line
}
