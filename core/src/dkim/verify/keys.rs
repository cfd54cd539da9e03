//! Key lookup, shared by DKIM and DomainKeys (DESIGN.md: one key lookup):
//! the name the caller is asked to look up (RFC 6376 §3.6.2.1; RFC 4870
//! §3.2.2 uses the same name), the answer it hands back, and turning that
//! answer into at most [`MAX_KEY_RECORDS_TRIED`] usable keys (RFC 6376
//! §6.1.2). What makes one record a usable key is each protocol's own.

use core::fmt;

use super::results::{Reason, Verdict};
use crate::dkim::key_record::{KeyFlags, KeyRecord, KeyUseError};
use crate::dkim::public_key::PublicKey;
use crate::dkim::signature_field::SignatureAlgorithm;

/// How many TXT records of one key name are tried (§6.1.2 leaves it to the
/// verifier; security case 13).
pub const MAX_KEY_RECORDS_TRIED: usize = 3;

/// The answer to a key request, from DNS or a zone file.
#[derive(Debug, Clone, Copy)]
pub enum KeyAnswer<'r> {
    /// The TXT records at the name, each with its strings joined with
    /// nothing between them. At most [`MAX_KEY_RECORDS_TRIED`] are tried,
    /// in the order given; ones that do not parse are skipped.
    Records(&'r [&'r [u8]]),
    /// NXDOMAIN, or no TXT record: permerror.
    NotFound,
    /// SERVFAIL or a timeout: temperror.
    TempFail,
}

/// A key the caller should look up: the TXT records of
/// `selector._domainkey.domain` (§3.6.2.1). Its `Display` is that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRequest<'v> {
    /// Pass this back to [`MessageVerifier::provide_key`](super::MessageVerifier::provide_key).
    pub id: usize,
    /// `s=`, checked to be a plain DNS name.
    pub selector: &'v str,
    /// `d=`, checked to be a plain DNS name.
    pub domain: &'v str,
}

impl fmt::Display for KeyRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}._domainkey.{}", self.selector, self.domain)
    }
}

/// The reasons a protocol reports when a lookup gives it no key.
pub(crate) trait NoKeyReason: Copy {
    /// NXDOMAIN or no TXT record (permerror).
    const NOT_FOUND: Self;
    /// SERVFAIL or a timeout (temperror).
    const LOOKUP_FAILED: Self;
    /// The caller never answered the request (temperror).
    const NOT_PROVIDED: Self;
}

impl NoKeyReason for Reason {
    const NOT_FOUND: Self = Reason::KeyNotFound;
    const LOOKUP_FAILED: Self = Reason::KeyLookupFailed;
    const NOT_PROVIDED: Self = Reason::KeyNotProvided;
}

/// Where the key lookup of one signature stands. `K` is the protocol's
/// loaded key, `R` its reason type.
#[derive(Debug, Clone)]
pub(crate) enum KeyState<K, R> {
    /// Asked for, not answered.
    Wanted,
    /// Up to [`MAX_KEY_RECORDS_TRIED`] usable keys, in the order given.
    Loaded(heapless::Vec<K, MAX_KEY_RECORDS_TRIED>),
    /// The answer gave no usable key.
    Failed(Verdict, R),
}

impl<K, R: NoKeyReason> KeyState<K, R> {
    /// Turn `answer` into usable keys: the first [`MAX_KEY_RECORDS_TRIED`]
    /// records, in order, each through `load`. Records that do not load
    /// are skipped; when none loads, the first failure is the result.
    pub(crate) fn from_answer(
        answer: KeyAnswer<'_>,
        mut load: impl FnMut(&[u8]) -> Result<K, (Verdict, R)>,
    ) -> Self {
        let records = match answer {
            KeyAnswer::NotFound => return KeyState::Failed(Verdict::PermError, R::NOT_FOUND),
            KeyAnswer::TempFail => return KeyState::Failed(Verdict::TempError, R::LOOKUP_FAILED),
            KeyAnswer::Records(records) => records,
        };
        let mut keys = heapless::Vec::new();
        let mut first_error = None;
        for txt in records.iter().take(MAX_KEY_RECORDS_TRIED) {
            match load(txt) {
                // `take` bounds the loop to the capacity.
                Ok(key) => {
                    let _ = keys.push(key);
                }
                Err(failure) => {
                    first_error.get_or_insert(failure);
                }
            }
        }
        match first_error {
            _ if !keys.is_empty() => KeyState::Loaded(keys),
            Some((verdict, reason)) => KeyState::Failed(verdict, reason),
            None => KeyState::Failed(Verdict::PermError, R::NOT_FOUND),
        }
    }

    /// The keys to try, or the result when there is none (an unanswered
    /// request is temperror).
    pub(crate) fn keys(&self) -> Result<&[K], (Verdict, R)> {
        match self {
            KeyState::Wanted => Err((Verdict::TempError, R::NOT_PROVIDED)),
            KeyState::Failed(verdict, reason) => Err((*verdict, *reason)),
            KeyState::Loaded(keys) => Ok(keys),
        }
    }
}

/// A DKIM key that loaded, with the flags of its record.
#[derive(Debug, Clone)]
pub(crate) struct CandidateKey {
    pub(crate) key: PublicKey,
    pub(crate) flags: KeyFlags,
}

/// One DKIM key record (§3.6.1) as a key for a signature made with
/// `algorithm` (§6.1.2: syntax, revocation, `k=`, `h=`, `s=`). A revoked
/// key is a fail; anything else wrong is permerror.
pub(crate) fn load_dkim_key(
    txt: &[u8],
    algorithm: SignatureAlgorithm,
) -> Result<CandidateKey, (Verdict, Reason)> {
    let record = KeyRecord::parse(txt).map_err(|e| (Verdict::PermError, Reason::KeyRecord(e)))?;
    record.check_use(algorithm).map_err(|e| {
        let verdict = if e == KeyUseError::Revoked {
            Verdict::Fail
        } else {
            Verdict::PermError
        };
        (verdict, Reason::KeyUse(e))
    })?;
    let key = PublicKey::load(record.key_type, record.public_key_bytes())
        .map_err(|e| (Verdict::PermError, Reason::PublicKey(e)))?;
    Ok(CandidateKey {
        key,
        flags: record.flags,
    })
}
