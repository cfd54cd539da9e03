//! The zone-file reader of `mass verify --zone` (mass-hosted `dns::zone`).
//!
//! Checked: nothing panics; an error names a line of the text; every record
//! has a valid, lower-case owner name without a final dot, at least one
//! string, and a line in the text; records come in file order. Then the
//! records are written out again (every byte escaped as `\DDD`) and read
//! back: the same names and strings. `ZoneKeySource` finds each record at its
//! name, with its strings joined (RFC 6376 §3.6.2.2).
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use mass_hosted::dns::zone::{self, ZoneRecord};
use mass_hosted::dns::{KeySource, ZoneKeySource, check_domain_name};

fn ready<T>(f: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a zone lookup is never pending"),
    }
}

fn write_out(records: &[ZoneRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(r.name.as_bytes());
        out.extend_from_slice(b". 300 IN TXT (");
        for s in &r.strings {
            out.extend_from_slice(b" \"");
            for &b in s {
                out.extend_from_slice(format!("\\{b:03}").as_bytes());
            }
            out.push(b'"');
        }
        out.extend_from_slice(b" ) ; written again\n");
    }
    out
}

fuzz_target!(|text: &[u8]| {
    let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
    let records = match zone::parse(text) {
        Ok(records) => records,
        Err(e) => {
            assert!(e.line >= 1 && e.line <= lines, "{e} of {lines}");
            let _ = e.to_string();
            assert!(ZoneKeySource::parse(text).is_err());
            return;
        }
    };
    let mut last_line = 0;
    for r in &records {
        assert!(check_domain_name(&r.name).is_ok(), "{r:?}");
        assert!(
            !r.name.ends_with('.') && r.name == r.name.to_ascii_lowercase(),
            "{r:?}"
        );
        assert!(!r.strings.is_empty());
        assert!(r.line >= last_line && r.line <= lines, "{r:?}");
        last_line = r.line;
    }
    let again = zone::parse(&write_out(&records)).expect("written records read back");
    assert_eq!(again.len(), records.len());
    for (a, r) in again.iter().zip(&records) {
        assert_eq!((&a.name, &a.strings), (&r.name, &r.strings));
    }
    let source = ZoneKeySource::parse(text).expect("parsed once");
    for r in &records {
        let found = ready(source.txt_records(&format!("{}.", r.name.to_ascii_uppercase())))
            .expect("a record is found at its name");
        assert!(found.contains(&r.data()));
    }
});
