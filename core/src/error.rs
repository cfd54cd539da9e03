//! Error types for message intake and signing.
//!
//! Errors are small `Copy` enums with no strings, so they are cheap to return
//! from every streaming call and safe to log on a device (no secrets inside).

use core::fmt;

/// Why message intake or signing stopped.
///
/// Every limit that can be reached names itself and its capacity, so the
/// caller can say exactly which compile-time capacity was too small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The header fields to be kept need more than the header byte capacity.
    HeaderBytesCapacity {
        /// The capacity in bytes.
        limit: usize,
    },
    /// More header fields to be kept than the header field capacity.
    HeaderFieldsCapacity {
        /// The capacity in fields.
        limit: usize,
    },
    /// A header line is not a field: no colon after the name, a byte that
    /// RFC 5322 §2.2 does not allow in a field name, or a continuation line
    /// with no field before it.
    MalformedHeaderField,
    /// Input arrived after the message was complete (after `finish`, or a
    /// header field after the end of the header block).
    OutOfOrder,
    /// The message has no From field (RFC 5322 §3.6 requires exactly one).
    NoFromField,
    /// The message has several From fields; signing it would let the
    /// unsigned instance be displayed (security case 1, RFC 6376 §8.15).
    MultipleFromFields,
    /// The message has several Sender fields, so its sending address
    /// (RFC 4870 §3.1) is ambiguous; DomainKeys will not sign it.
    MultipleSenderFields,
    /// The From field has no address with a domain the signer could check.
    UnparsableFrom,
    /// The From domain is not the signing domain or a subdomain of it.
    FromDomainMismatch,
    /// A tag value given to the signer is not valid for its tag
    /// (domain, selector, identity or header name syntax, RFC 6376 §3.5).
    InvalidTagValue {
        /// The tag, e.g. `"d"`.
        tag: &'static str,
    },
    /// More names in the header list than the signer can hold.
    HeaderListCapacity {
        /// The capacity in names.
        limit: usize,
    },
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes the output needs.
        required: usize,
    },
    /// `x=` would not be later than `t=` (RFC 6376 §3.5).
    ExpirationBeforeTimestamp,
    /// The key does not fit the requested algorithm.
    AlgorithmMismatch,
    /// The key could not be used: malformed, too small (RFC 8301 §3.2:
    /// under 1024 bits), or the private-key operation failed.
    Key,
    /// More signature requests than a multi-key signer has room for.
    SignaturesCapacity {
        /// The capacity in signatures.
        limit: usize,
    },
    /// More distinct body hashes (body canonicalization and `l=`) than a
    /// multi-key signer has room for.
    BodyHashesCapacity {
        /// The capacity in body hashes.
        limit: usize,
    },
    /// No signature was requested at this index.
    NoSuchSignature,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HeaderBytesCapacity { limit } => {
                write!(
                    f,
                    "header fields exceed the header capacity of {limit} bytes"
                )
            }
            Error::HeaderFieldsCapacity { limit } => {
                write!(f, "more than {limit} header fields to keep")
            }
            Error::MalformedHeaderField => f.write_str("malformed header field"),
            Error::OutOfOrder => f.write_str("input arrived out of order"),
            Error::NoFromField => f.write_str("the message has no From field"),
            Error::MultipleFromFields => f.write_str("the message has several From fields"),
            Error::MultipleSenderFields => f.write_str("the message has several Sender fields"),
            Error::UnparsableFrom => f.write_str("the From field has no parsable address"),
            Error::FromDomainMismatch => {
                f.write_str("the From domain is not within the signing domain")
            }
            Error::InvalidTagValue { tag } => write!(f, "invalid value for the {tag}= tag"),
            Error::HeaderListCapacity { limit } => {
                write!(f, "more than {limit} names in the header list")
            }
            Error::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            Error::ExpirationBeforeTimestamp => f.write_str("x= must be later than t="),
            Error::AlgorithmMismatch => f.write_str("the key does not fit the algorithm"),
            Error::Key => f.write_str("the signing key could not be used"),
            Error::SignaturesCapacity { limit } => {
                write!(f, "more than {limit} signatures for one message")
            }
            Error::BodyHashesCapacity { limit } => {
                write!(f, "more than {limit} distinct body hashes for one message")
            }
            Error::NoSuchSignature => f.write_str("no signature was requested at this index"),
        }
    }
}

impl core::error::Error for Error {}
