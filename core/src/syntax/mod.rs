//! Syntax shared by every protocol: tag=value lists (RFC 6376 §3.2), DNS
//! names (RFC 1035 §2.3.1, RFC 5890) and header field names (RFC 5322
//! §3.6.8).

pub mod dns_name;
pub mod field_name;
pub mod tag_list;
