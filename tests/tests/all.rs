//! mass integration tests: one binary, one module per RFC or topic.

mod common;
mod device;
mod dkim_keys;
mod rfc6376_appendix_a;
mod rfc6376_multi_signing;
mod rfc6376_signing;
mod rfc6376_verify;
mod rfc8463;
