//! Syntax shared by every protocol: tag=value lists (RFC 6376 §3.2), DNS
//! names and mailboxes (RFC 5322 §3.4, RFC 5321 §4.1.2).

pub mod tag_list;
