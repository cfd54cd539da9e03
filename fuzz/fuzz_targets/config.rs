//! `mass.toml` from text (mass-hosted `Config::parse`): TOML, serde, and the
//! checks serde cannot make (authserv-id, limits, `[[key]]`, `[batv]`,
//! `[signer]`). Files named in the text are looked for under a directory
//! that does not exist, so nothing is read.
//!
//! Checked: nothing panics (errors print); an accepted config
//! keeps the promises `parse` makes (a one-token authserv-id, at least one
//! connection, a max packet of at least 1024, lower-case key domains without
//! a final dot, key paths under the base), and its listen address prints
//! as something that parses to the same address.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mass_hosted::config::{Config, Listen};

const BASE: &str = "/nonexistent/mass-fuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(text, "fuzz.toml", Path::new(BASE)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let id = &config.authserv_id;
    assert!(!id.trim().is_empty() && !id.contains(|c: char| c.is_whitespace() || c == ';'));
    assert!(config.max_connections >= 1);
    assert!(config.max_packet >= 1024);
    for key in &config.keys {
        assert!(!key.domain.ends_with('.') && key.domain == key.domain.to_ascii_lowercase());
        assert!(!key.schemes.is_empty());
        assert!(key.file.is_absolute(), "{key:?}");
    }
    let again: Listen = config
        .listen
        .to_string()
        .parse()
        .expect("listen prints as it parses");
    assert_eq!(again, config.listen);
});
