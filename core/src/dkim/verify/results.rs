//! What verification reports (RFC 8601 §2.7.1): a [`Verdict`] and a
//! [`Reason`] per signature, gathered in a [`Verification`], and shown one
//! [`SignatureResult`] at a time. DomainKeys reports the same verdicts.

use core::fmt;

use crate::dkim::key_record::{KeyRecordError, KeyUseError};
use crate::dkim::public_key::PublicKeyError;
use crate::dkim::signature_field::{SignatureAlgorithm, SignatureFieldError};
use crate::header::{HeaderStore, field_value};
use crate::syntax::dns_name::check_dns_name;
use crate::syntax::tag_list::TagIter;

/// A signature's result, RFC 8601 §2.7.1.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum Verdict {
    /// The signature verifies and local policy accepts it.
    Pass,
    /// The signature or body hash does not match, the key was revoked, or
    /// `i=` lies outside `d=`.
    Fail,
    /// The key is in testing mode (`t=y`) and the signature did not verify.
    Neutral,
    /// The signature may verify, but local policy refuses it.
    Policy,
    /// The key could not be fetched for now.
    TempError,
    /// The signature or key cannot be used: syntax, unsupported, no key.
    PermError,
}

impl Verdict {
    /// The RFC 8601 result word.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Neutral => "neutral",
            Verdict::Policy => "policy",
            Verdict::TempError => "temperror",
            Verdict::PermError => "permerror",
        }
    }

    /// How good a result this is, for choosing among the keys of one
    /// signature (DKIM and DomainKeys alike): pass, policy, neutral,
    /// fail, temperror, permerror, best first.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Verdict::Pass => 5,
            Verdict::Policy => 4,
            Verdict::Neutral => 3,
            Verdict::Fail => 2,
            Verdict::TempError => 1,
            Verdict::PermError => 0,
        }
    }
}

/// The result to report when several keys of one name were tried: the
/// first that passes (no later key is tried), else the best by
/// [`Verdict::rank`], the first of equals.
pub(crate) fn best_of<T>(
    tries: impl IntoIterator<Item = T>,
    verdict: impl Fn(&T) -> Verdict,
) -> Option<T> {
    let mut best: Option<T> = None;
    for t in tries {
        let v = verdict(&t);
        if best.as_ref().is_none_or(|b| v.rank() > verdict(b).rank()) {
            best = Some(t);
        }
        if v == Verdict::Pass {
            break;
        }
    }
    best
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a signature got its verdict.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum Reason {
    /// Everything checked out.
    Verified,
    /// The DKIM-Signature field was refused (permerror; fail for
    /// [`SignatureFieldError::IdentityNotInDomain`]).
    Signature(SignatureFieldError),
    /// `a=rsa-sha1` (RFC 8301 §3.1): never a pass, not checked further.
    Sha1,
    /// `x=` is in the past.
    Expired,
    /// `t=` is further in the future than the allowed clock skew.
    TimestampInFuture,
    /// No key record: NXDOMAIN or no TXT record.
    KeyNotFound,
    /// The key lookup failed for now (SERVFAIL, timeout).
    KeyLookupFailed,
    /// The caller never answered the key request.
    KeyNotProvided,
    /// The key record could not be parsed.
    KeyRecord(KeyRecordError),
    /// The key record does not fit the signature; [`KeyUseError::Revoked`]
    /// is a fail, the others permerror.
    KeyUse(KeyUseError),
    /// The key bytes are not a usable key.
    PublicKey(PublicKeyError),
    /// The key has `t=s` and `i=` is in a subdomain of `d=` (§3.6.1).
    StrictIdentityMismatch,
    /// `l=` is larger than the canonical body (§3.5, security case 4).
    BodyLengthExceedsBody,
    /// The body hash does not match `bh=`.
    BodyHashMismatch,
    /// The signature does not verify over the header hash.
    SignatureMismatch,
    /// The key is in testing mode (`t=y`) and the signature failed.
    TestingKey,
    /// The signature verifies, but with an RSA key under 1024 bits.
    WeakKey {
        /// The modulus size.
        bits: u32,
    },
    /// The signature verifies, but covers only part of the body (`l=`).
    BodyLengthLimit,
    /// The signature verifies, but the message has no From field or more
    /// than one (security case 1).
    FromCount {
        /// How many From fields there are.
        count: u32,
    },
    /// The signature verifies, but a single-instance field that it signs
    /// has an unsigned instance above the signed one (security case 3).
    UnsignedDuplicate {
        /// The field name, from [`SINGLE_INSTANCE_FIELDS`](super::SINGLE_INSTANCE_FIELDS).
        field: &'static str,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Verified => f.write_str("signature verified"),
            Reason::Signature(e) => write!(f, "{e}"),
            Reason::Sha1 => f.write_str("rsa-sha1 is not accepted (RFC 8301)"),
            Reason::Expired => f.write_str("signature expired"),
            Reason::TimestampInFuture => f.write_str("signature timestamp in the future"),
            Reason::KeyNotFound => f.write_str("no key record"),
            Reason::KeyLookupFailed => f.write_str("key lookup failed"),
            Reason::KeyNotProvided => f.write_str("key not provided"),
            Reason::KeyRecord(e) => write!(f, "{e}"),
            Reason::KeyUse(e) => write!(f, "{e}"),
            Reason::PublicKey(e) => write!(f, "{e}"),
            Reason::StrictIdentityMismatch => {
                f.write_str("key t=s requires i= to be in d= exactly")
            }
            Reason::BodyLengthExceedsBody => f.write_str("l= exceeds the body length"),
            Reason::BodyHashMismatch => f.write_str("body hash did not verify"),
            Reason::SignatureMismatch => f.write_str("signature did not verify"),
            Reason::TestingKey => f.write_str("failed under a testing key (t=y)"),
            Reason::WeakKey { bits } => write!(f, "RSA key of {bits} bits is too weak"),
            Reason::BodyLengthLimit => f.write_str("l= signs only part of the body"),
            Reason::FromCount { count } => write!(f, "{count} From fields"),
            Reason::UnsignedDuplicate { field } => {
                write!(f, "unsigned {field} field above the signed one")
            }
        }
    }
}

/// One signature's result, before it is shown.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outcome {
    pub(super) field: usize,
    pub(super) verdict: Verdict,
    pub(super) reason: Reason,
    pub(super) testing: bool,
    pub(super) key_bits: Option<u32>,
}

impl Outcome {
    pub(super) fn new(field: usize, verdict: Verdict, reason: Reason) -> Self {
        Outcome {
            field,
            verdict,
            reason,
            testing: false,
            key_bits: None,
        }
    }
}

/// The results of verifying one message.
#[derive(Debug, Clone)]
#[must_use]
pub struct Verification<const HEADER_BYTES: usize, const HEADER_FIELDS: usize, const SIGS: usize> {
    pub(super) store: HeaderStore<HEADER_BYTES, HEADER_FIELDS>,
    /// The signatures that got a key and a check, top first.
    pub(super) checked: heapless::Vec<Outcome, SIGS>,
    /// The signatures decided without a key, top first.
    pub(super) decided: heapless::Vec<Outcome, SIGS>,
    pub(super) signatures_seen: usize,
}

/// Two lists of outcomes, each top first, merged top first.
fn top_first<'a>(
    mut a: &'a [Outcome],
    mut b: &'a [Outcome],
) -> impl Iterator<Item = &'a Outcome> + 'a {
    core::iter::from_fn(move || {
        let from_a = match (a.first(), b.first()) {
            (Some(x), Some(y)) => x.field <= y.field,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let side = if from_a { &mut a } else { &mut b };
        let (first, rest) = side.split_first()?;
        *side = rest;
        Some(first)
    })
}

/// One checked signature's result, for Authentication-Results (RFC 8601
/// §2.7.1: `dkim=`, `header.d`, `header.s`, `header.a`, `header.b`).
#[derive(Debug, Clone)]
#[must_use]
pub struct SignatureResult<'v> {
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// `d=`, if it is a valid domain name (never echo anything else).
    pub domain: Option<&'v str>,
    /// `s=`, if it is a valid selector.
    pub selector: Option<&'v str>,
    /// `a=`, if recognised.
    pub algorithm: Option<SignatureAlgorithm>,
    /// `i=`, if the signature parsed and has one (printable ASCII with no
    /// `;`, but may hold characters that need quoting).
    pub identity: Option<&'v str>,
    /// The first 8 base64 characters of `b=` (RFC 6008 §4), if any.
    pub b_prefix: heapless::String<8>,
    /// The key had `t=y`.
    pub testing: bool,
    /// The RSA modulus size, when an RSA key was used.
    pub key_bits: Option<u32>,
}

impl<const HEADER_BYTES: usize, const HEADER_FIELDS: usize, const SIGS: usize>
    Verification<HEADER_BYTES, HEADER_FIELDS, SIGS>
{
    /// One result per signature checked or decided without a key, top
    /// first.
    pub fn results(&self) -> impl Iterator<Item = SignatureResult<'_>> + '_ {
        self.outcomes().map(|o| {
            let raw = self.store.get(o.field).unwrap_or_default();
            let mut result = SignatureResult {
                verdict: o.verdict,
                reason: o.reason,
                domain: None,
                selector: None,
                algorithm: None,
                identity: None,
                b_prefix: heapless::String::new(),
                testing: o.testing,
                key_bits: o.key_bits,
            };
            // Best effort for signatures that did not parse: tags up to the
            // first syntax error, each checked before it is shown.
            for tag in TagIter::new(field_value(raw)).map_while(Result::ok) {
                match tag.name {
                    "d" if check_dns_name(tag.value.as_bytes()).is_ok() => {
                        result.domain = Some(tag.value);
                    }
                    "s" if check_dns_name(tag.value.as_bytes()).is_ok() => {
                        result.selector = Some(tag.value);
                    }
                    "a" => {
                        result.algorithm = [
                            SignatureAlgorithm::RsaSha256,
                            SignatureAlgorithm::Ed25519Sha256,
                            SignatureAlgorithm::RsaSha1,
                        ]
                        .into_iter()
                        .find(|a| a.as_str().eq_ignore_ascii_case(tag.value));
                    }
                    "i" if o.reason != Reason::Signature(SignatureFieldError::BadIdentity) => {
                        result.identity = Some(tag.value);
                    }
                    "b" => {
                        for c in tag
                            .value
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/'))
                        {
                            if result.b_prefix.push(c).is_err() {
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
            result
        })
    }

    /// True if any signature passed.
    #[must_use]
    pub fn any_pass(&self) -> bool {
        self.outcomes().any(|o| o.verdict == Verdict::Pass)
    }

    fn outcomes(&self) -> impl Iterator<Item = &Outcome> + '_ {
        top_first(&self.checked, &self.decided)
    }

    /// DKIM-Signature fields in the message, including those not checked.
    pub fn signatures_seen(&self) -> usize {
        self.signatures_seen
    }
}
