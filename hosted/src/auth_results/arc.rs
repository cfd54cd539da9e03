//! The `arc=` result of Authentication-Results (RFC 8617 §10.1), for
//! `mass arc verify` and for `mass serve`'s arrival results.

use mass_core::arc::{ArcResult, ChainStatus};

/// The `arc=` result as RFC 8617 §10.1 registers it, with the instance
/// count and reason as a comment and `header.oldest-pass` on pass.
pub fn arc_entry(result: &ArcResult) -> String {
    let reason: String = result
        .reason
        .to_string()
        .chars()
        .map(|c| {
            if matches!(c, '(' | ')' | '\\') {
                ' '
            } else {
                c
            }
        })
        .collect();
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
