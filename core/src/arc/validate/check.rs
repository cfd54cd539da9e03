//! The checks of §5.2: the structure of the chain (steps 1 to 3) and one
//! AMS or AS against its keys (steps 4, 6 and 7).

use super::{ArcResult, CheckFailure, Intake, Reason, ValidateOptions};
use crate::arc::message_signature::ArcMessageSignature;
use crate::arc::seal::ArcSeal;
use crate::arc::{ChainStatus, Member};
use crate::canon::Canon;
use crate::canon::body_hash::BodyHash;
use crate::dkim::public_key::WEAK_RSA_MODULUS_BITS;
use crate::dkim::sign::{fields_hash, header_hash};
use crate::dkim::signature_field::SignatureAlgorithm;
use crate::dkim::verify::CandidateKey;
use crate::header::HeaderStore;

/// Steps 1 to 3: `Ok(N)` when the chain's structure holds and its newest
/// AMS parses; otherwise the result, decided without any key.
pub(super) fn structure<const B: usize, const F: usize>(
    intake: &Intake<B, F>,
) -> Result<u8, ArcResult> {
    let n = intake.highest;
    let fail = |reason| ArcResult::decided(ChainStatus::Fail, n, reason);
    if let Some(reason) = intake.broken {
        return Err(fail(reason));
    }
    if n == 0 {
        return Err(ArcResult::decided(ChainStatus::None, 0, Reason::NoChain));
    }
    for instance in 1..=n {
        for member in Member::ALL {
            if intake.field(instance, member).is_none() {
                return Err(fail(Reason::Missing { instance, member }));
            }
        }
    }
    // Step 2: the newest seal reports a failed chain.
    let newest = parse_seal(intake, n).map_err(fail)?;
    if newest.chain == ChainStatus::Fail {
        return Err(fail(Reason::LatestSealFailed));
    }
    // Step 3: cv= none at i=1, pass above; every AAR whole.
    for instance in 1..=n {
        let seal = parse_seal(intake, instance).map_err(fail)?;
        let expected = if instance == 1 {
            ChainStatus::None
        } else {
            ChainStatus::Pass
        };
        if seal.chain != expected {
            return Err(fail(Reason::WrongChainStatus { instance }));
        }
        intake.auth_results(instance).map_err(fail)?;
    }
    // Step 4 needs the newest AMS; one that does not parse fails now.
    let raw = intake
        .field(n, Member::MessageSignature)
        .unwrap_or_default();
    ArcMessageSignature::parse_field(raw)
        .map_err(|error| fail(Reason::MessageSignature { instance: n, error }))?;
    Ok(n)
}

fn parse_seal<const B: usize, const F: usize>(
    intake: &Intake<B, F>,
    instance: u8,
) -> Result<ArcSeal<'_>, Reason> {
    let raw = intake.field(instance, Member::Seal).unwrap_or_default();
    ArcSeal::parse_field(raw).map_err(|error| Reason::Seal { instance, error })
}

/// `s=`, `d=` and `a=` of an AMS or AS that parses.
pub(super) fn signer_of(member: Member, raw: &[u8]) -> Option<(&str, &str, SignatureAlgorithm)> {
    match member {
        Member::MessageSignature => {
            let ams = ArcMessageSignature::parse_field(raw).ok()?;
            let sig = ams.signature;
            Some((sig.selector, sig.domain, sig.algorithm))
        }
        Member::Seal => {
            let seal = ArcSeal::parse_field(raw).ok()?;
            Some((seal.selector, seal.domain, seal.algorithm))
        }
        Member::AuthResults => None,
    }
}

/// One AMS, as RFC 6376 §6.1.3 checks a DKIM signature, with RFC 8301.
pub(super) fn message_signature<const B: usize, const F: usize>(
    options: &ValidateOptions,
    store: &HeaderStore<B, F>,
    ams: &ArcMessageSignature<'_>,
    body: &BodyHash,
    keys: &[CandidateKey],
) -> Result<(), CheckFailure> {
    let sig = &ams.signature;
    if sig.algorithm == SignatureAlgorithm::RsaSha1 {
        return Err(CheckFailure::Sha1);
    }
    if sig.expiration.is_some_and(|x| x < options.now) {
        return Err(CheckFailure::Expired);
    }
    if let Some(l) = sig.body_length
        && (l > body.hashed_len || body.beyond_limit)
    {
        return Err(CheckFailure::BodyLength);
    }
    if sig.body_hash() != body.digest.as_slice() {
        return Err(CheckFailure::BodyHash);
    }
    let (before, after) = sig.hash_parts();
    let digest = header_hash(
        store,
        sig.canonicalization.header,
        sig.signed_headers().map(str::as_bytes),
        &[before, after],
    );
    verify_any(keys, &digest, sig.signature())
}

/// One AS over `fields` (the sets up to it, its own AAR and AMS), always
/// relaxed (§5.1.1).
pub(super) fn seal<'f>(
    seal: &ArcSeal<'_>,
    fields: impl IntoIterator<Item = &'f [u8]>,
    keys: &[CandidateKey],
) -> Result<(), CheckFailure> {
    if seal.algorithm == SignatureAlgorithm::RsaSha1 {
        return Err(CheckFailure::Sha1);
    }
    let (before, after) = seal.hash_parts();
    let digest = fields_hash(fields, Canon::Relaxed, &[before, after]);
    verify_any(keys, &digest, seal.signature())
}

/// Pass if one of the keys verifies `signature` over `digest` and is not
/// a weak RSA key; otherwise the failure of the first key.
fn verify_any(
    keys: &[CandidateKey],
    digest: &[u8; 32],
    signature: &[u8],
) -> Result<(), CheckFailure> {
    let mut first = CheckFailure::Signature;
    for (n, candidate) in keys.iter().enumerate() {
        let outcome = if !candidate.key.verify_sha256(digest, signature) {
            Err(CheckFailure::Signature)
        } else {
            match candidate.key.rsa_bits() {
                Some(bits) if bits < WEAK_RSA_MODULUS_BITS => Err(CheckFailure::WeakKey { bits }),
                _ => Ok(()),
            }
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if n == 0 => first = e,
            Err(_) => {}
        }
    }
    Err(first)
}
