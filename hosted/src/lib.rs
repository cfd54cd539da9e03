//! mass-hosted: everything that touches the operating system (DESIGN.md).
//! The `mass` binary is a thin layer over these modules.
//!
//! | module | job |
//! |---|---|
//! | [`cli`] | one module per `mass` subcommand, and their shared input and output |
//! | [`clock`] | the one wall-clock read: Unix seconds or a typed error, never 0 |
//! | [`keys`] | key material: loading, permissions, signing, DNS records |
//! | [`dns`] | the one key lookup (DNS or a zone file) for every protocol |
//! | [`auth_results`] | Authentication-Results fields (RFC 8601) and JSON reports |
//! | [`device`] | the client for a signing device, its link and its config |
//! | [`batv`] | BATV secrets, policy and the milter's decisions |
//! | [`milter`] | `mass serve`: codec, server, sessions, sign and verify jobs |
//! | [`config`] | `mass.toml` |
//! | [`spool`] | bodies kept for later, in memory then in an unlinked file |

pub mod auth_results;
pub mod batv;
pub mod cli;
pub mod clock;
pub mod config;
pub mod device;
pub mod dkim2;
pub mod dns;
pub mod keys;
pub mod milter;
pub mod spool;
