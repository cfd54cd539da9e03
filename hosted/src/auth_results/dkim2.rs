//! The `dkim2=` result of Authentication-Results, for `mass dkim2 verify`
//! and `mass serve`. DKIM2 has no registered method name yet; mass writes
//! `dkim2` with the hop count and reason as a comment, as `arc=` does.

use mass_core::dkim2::Dkim2Result;
use serde::Serialize;

use super::arc::comment_text;

/// `dkim2=RESULT (reason, N hop(s))`.
pub fn dkim2_entry(result: &Dkim2Result) -> String {
    let reason = comment_text(&result.reason.to_string());
    if result.hops > 0 {
        format!("dkim2={} ({reason}, {} hop(s))", result.status, result.hops)
    } else {
        format!("dkim2={} ({reason})", result.status)
    }
}

/// The result as one line of JSON.
pub fn dkim2_json(authserv_id: &str, result: &Dkim2Result) -> String {
    #[derive(Serialize)]
    struct JsonDkim2<'a> {
        authserv_id: &'a str,
        method: &'static str,
        result: &'static str,
        hops: u32,
        reason: String,
    }
    let object = JsonDkim2 {
        authserv_id,
        method: "dkim2",
        result: result.status.as_str(),
        hops: result.hops,
        reason: result.reason.to_string(),
    };
    let mut line = serde_json::to_string(&object).unwrap_or_default();
    line.push('\n');
    line
}
