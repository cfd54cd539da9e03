//! Streaming ARC chain validation, RFC 8617 §5.2.
//!
//! ```text
//! ChainValidator::new(options)
//!   update(raw chunk)*        or  header_field(field)* end_of_headers() body(chunk)*
//!   key_requests() ─► "sel._domainkey.dom" (at most min(KEYS, max_key_lookups) names)
//!   provide_key(request, KeyAnswer::Records(&[txt, ...]) | NotFound | TempFail)
//!   finish() ─► ArcResult { cv: none | pass | fail, oldest_pass, reason }
//! ```
//!
//! The message goes in once, through the same intake as DKIM
//! ([`HeaderSplitter`] into a bounded [`HeaderStore`] that keeps every
//! field, since an AMS may sign any), and its body through [`BodyHasher`]s
//! shared by the AMSes with the same body canonicalization and `l=`.
//!
//! When the header block ends, the structure is decided (§5.2 steps 1 to
//! 3): each ARC field's instance is read as it ends; an instance that does
//! not parse or is over 50, a duplicate, a gap, a missing member, an
//! AS(N) with `cv=fail`, a `cv=` other than `none` at i=1 and `pass`
//! above, or an ARC-Seal, the newest AMS or an AAR that does not parse
//! make the chain fail before any key is asked for. After the first such
//! fault, ARC fields are no longer kept, so 1,000 ARC fields cost the
//! splitter's pass over them and at most 151 stored fields.
//!
//! Key lookups are bounded: the validator asks for at most
//! `min(KEYS, max_key_lookups)` distinct key names per message (8 by
//! default), in the order AMS(N), AS(N) … AS(1), AMS(N-1) … AMS(1); the
//! caller answers them the way it answers the DKIM verifier
//! ([`KeyRequest`], [`KeyAnswer`]), so one lookup serves both. An AS or
//! the newest AMS left without a key by the budget makes the chain fail
//! ([`CheckFailure::NoKeyBudget`]); an older AMS only stops `oldest-pass`.
//! Each answer gives at most [`crate::dkim::verify::MAX_KEY_RECORDS_TRIED`]
//! keys, so at most 3 × 100 signature checks happen per message.
//!
//! `finish` then runs steps 4 to 8: the newest AMS must validate; the
//! older AMSes give `oldest-pass`; every AS must validate, newest first.

use core::fmt;

use super::auth_results::ArcAuthResults;
use super::message_signature::ArcMessageSignature;
use super::seal::ArcSeal;
use super::{
    AarError, AmsError, ChainStatus, InstanceError, MAX_INSTANCES, Member, SealFieldError,
    instance_of,
};
use crate::canon::body_hash::{BodyHash, BodyHasher, BodyInterest};
use crate::dkim::signature_field::SignatureAlgorithm;
use crate::dkim::verify::{
    CandidateKey, KeyAnswer, KeyRequest, KeyState, Reason as DkimReason, load_dkim_key,
};
use crate::error::Error;
use crate::header::{FieldSink, HeaderSplitter, HeaderStore};

mod check;

/// How many distinct key names are looked up per message unless the
/// caller says otherwise.
pub const DEFAULT_MAX_KEY_LOOKUPS: usize = 8;

/// The most distinct (body canonicalization, `l=`) body hashes computed.
/// An AMS that would need another one cannot be checked
/// ([`CheckFailure::BodyHashBudget`]).
pub const MAX_BODY_HASHES: usize = 4;

/// What the caller decides for a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ValidateOptions {
    /// The current time (seconds since the Unix epoch), for an AMS `x=`.
    pub now: u64,
    /// The most distinct key names asked for; capped at the validator's
    /// `KEYS`.
    pub max_key_lookups: usize,
}

impl ValidateOptions {
    /// Defaults: [`DEFAULT_MAX_KEY_LOOKUPS`].
    pub fn new(now: u64) -> Self {
        ValidateOptions {
            now,
            max_key_lookups: DEFAULT_MAX_KEY_LOOKUPS,
        }
    }
}

/// Why one AMS or AS did not validate.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CheckFailure {
    /// The field did not parse (only an older AMS gets this far).
    Syntax,
    /// The AMS body hash does not match `bh=`.
    BodyHash,
    /// The signature does not verify.
    Signature,
    /// No usable key: the lookup's or the key record's reason, as DKIM
    /// reports it.
    Key(DkimReason),
    /// The key lookup budget was spent before this signature.
    NoKeyBudget,
    /// [`MAX_BODY_HASHES`] distinct body hashes were in use already.
    BodyHashBudget,
    /// `a=rsa-sha1` (RFC 8301 §3.1).
    Sha1,
    /// An RSA key under 1024 bits (RFC 8301 §3.2).
    WeakKey {
        /// The modulus size.
        bits: u32,
    },
    /// The AMS `x=` has passed.
    Expired,
    /// The AMS `l=` is longer than the body, or leaves part of it unsigned.
    BodyLength,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckFailure::Syntax => f.write_str("the field does not parse"),
            CheckFailure::BodyHash => f.write_str("body hash mismatch"),
            CheckFailure::Signature => f.write_str("signature mismatch"),
            CheckFailure::Key(r) => write!(f, "no usable key: {r}"),
            CheckFailure::NoKeyBudget => f.write_str("key lookup budget spent"),
            CheckFailure::BodyHashBudget => f.write_str("body hash budget spent"),
            CheckFailure::Sha1 => f.write_str("rsa-sha1 is not accepted"),
            CheckFailure::WeakKey { bits } => write!(f, "{bits}-bit RSA key"),
            CheckFailure::Expired => f.write_str("x= has passed"),
            CheckFailure::BodyLength => f.write_str("l= does not cover the body"),
        }
    }
}

/// Why the chain got its status (§5.2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reason {
    /// No ARC field at all (cv=none).
    NoChain,
    /// Every check held (cv=pass).
    Verified,
    /// An ARC field's instance does not parse, or is over 50 (step 1).
    Instance {
        /// Which field.
        member: Member,
        /// What was wrong.
        error: InstanceError,
    },
    /// Two fields of one kind with one instance (step 3).
    Duplicate {
        /// The instance.
        instance: u8,
        /// Which field.
        member: Member,
    },
    /// An instance up to the highest lacks a field (step 3: a gap or a
    /// missing member).
    Missing {
        /// The instance.
        instance: u8,
        /// Which field.
        member: Member,
    },
    /// The newest AS says `cv=fail` (step 2).
    LatestSealFailed,
    /// An AS has a `cv=` other than `none` at i=1 and `pass` above (step 3).
    WrongChainStatus {
        /// The instance.
        instance: u8,
    },
    /// An ARC-Seal does not parse.
    Seal {
        /// The instance.
        instance: u8,
        /// Why.
        error: SealFieldError,
    },
    /// The newest AMS does not parse.
    MessageSignature {
        /// The instance.
        instance: u8,
        /// Why.
        error: AmsError,
    },
    /// An AAR does not parse.
    AuthResults {
        /// The instance.
        instance: u8,
        /// Why.
        error: AarError,
    },
    /// The newest AMS does not validate (step 4).
    MessageSignatureCheck {
        /// The instance.
        instance: u8,
        /// Why.
        failure: CheckFailure,
    },
    /// An AS does not validate (step 7).
    SealCheck {
        /// The instance.
        instance: u8,
        /// Why.
        failure: CheckFailure,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoChain => f.write_str("no ARC sets"),
            Reason::Verified => f.write_str("chain verified"),
            Reason::Instance { member, error } => write!(f, "{member}: {error}"),
            Reason::Duplicate { instance, member } => write!(f, "two {member} i={instance}"),
            Reason::Missing { instance, member } => write!(f, "no {member} i={instance}"),
            Reason::LatestSealFailed => f.write_str("the newest ARC-Seal has cv=fail"),
            Reason::WrongChainStatus { instance } => {
                write!(f, "ARC-Seal i={instance} has the wrong cv=")
            }
            Reason::Seal { instance, error } => write!(f, "ARC-Seal i={instance}: {error}"),
            Reason::MessageSignature { instance, error } => {
                write!(f, "ARC-Message-Signature i={instance}: {error}")
            }
            Reason::AuthResults { instance, error } => {
                write!(f, "ARC-Authentication-Results i={instance}: {error}")
            }
            Reason::MessageSignatureCheck { instance, failure } => {
                write!(f, "ARC-Message-Signature i={instance}: {failure}")
            }
            Reason::SealCheck { instance, failure } => {
                write!(f, "ARC-Seal i={instance}: {failure}")
            }
        }
    }
}

/// The result of a chain validation (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ArcResult {
    /// `cv=`: none, pass or fail.
    pub status: ChainStatus,
    /// The highest instance, N (0 without a chain); a sealer adds N+1.
    pub instances: u8,
    /// §5.2 step 6: the lowest instance from which every AMS up to N
    /// validates, or 0 when all of them do. Meaningful on pass.
    pub oldest_pass: u8,
    /// Why.
    pub reason: Reason,
}

impl ArcResult {
    fn decided(status: ChainStatus, instances: u8, reason: Reason) -> Self {
        ArcResult {
            status,
            instances,
            oldest_pass: 0,
            reason,
        }
    }
}

/// Store indices of the three fields of each instance.
type Sets = [[Option<u16>; 3]; MAX_INSTANCES];

/// The header side: every field is kept, and each ARC field is filed by
/// its instance as it ends.
#[derive(Debug, Clone)]
struct Intake<const B: usize, const F: usize> {
    store: HeaderStore<B, F>,
    sets: Sets,
    /// The first structural fault; ARC fields after it are not kept.
    broken: Option<Reason>,
    highest: u8,
    examining: Option<Member>,
    /// An ARC field has been seen (kept or not).
    saw_arc_field: bool,
}

impl<const B: usize, const F: usize> Intake<B, F> {
    fn file_last(&mut self, member: Member) -> Result<(), Error> {
        let index = self.store.len().saturating_sub(1);
        let raw = self.store.get(index).unwrap_or_default();
        let instance = match instance_of(member, raw) {
            Ok(i) => i,
            Err(error) => {
                self.broken = Some(Reason::Instance { member, error });
                return Ok(());
            }
        };
        let index = u16::try_from(index).map_err(|_| Error::HeaderFieldsCapacity {
            limit: usize::from(u16::MAX),
        })?;
        let Some(slot) = self
            .sets
            .get_mut(usize::from(instance).saturating_sub(1))
            .and_then(|set| set.get_mut(member.index()))
        else {
            self.broken = Some(Reason::Instance {
                member,
                error: InstanceError::TooHigh,
            });
            return Ok(());
        };
        if slot.is_some() {
            self.broken = Some(Reason::Duplicate { instance, member });
        } else {
            *slot = Some(index);
            self.highest = self.highest.max(instance);
        }
        Ok(())
    }

    /// The raw field of `member` at `instance`.
    fn field(&self, instance: u8, member: Member) -> Option<&[u8]> {
        let index = self
            .sets
            .get(usize::from(instance).checked_sub(1)?)?
            .get(member.index())
            .copied()
            .flatten()?;
        self.store.get(usize::from(index))
    }
}

impl<const B: usize, const F: usize> FieldSink for Intake<B, F> {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        self.examining = None;
        let member = Member::from_field_name(name);
        self.saw_arc_field |= member.is_some();
        if member.is_some() && self.broken.is_some() {
            // The chain fails whatever these say.
            return Ok(false);
        }
        self.store.begin()?;
        self.examining = member;
        Ok(true)
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.store.extend(bytes)
    }

    fn end_field(&mut self) -> Result<(), Error> {
        self.store.end();
        match self.examining.take() {
            Some(member) => self.file_last(member),
            None => Ok(()),
        }
    }
}

/// One key to look up and what it gave, for the signatures using one
/// (selector, domain, algorithm).
#[derive(Debug, Clone)]
struct KeySlot {
    /// A field (AMS or AS) that names it.
    field: u16,
    member: Member,
    algorithm: SignatureAlgorithm,
    state: KeyState<CandidateKey, DkimReason>,
}

/// What finish needs per instance: the key slot of its AMS and AS and the
/// body hasher of its AMS (`None`: none, for the reason kept in the check).
#[derive(Debug, Clone, Copy, Default)]
struct Plan {
    ams_key: Option<u8>,
    seal_key: Option<u8>,
    ams_body: Option<u8>,
}

/// Streaming validator of the ARC chain of one message.
///
/// `HEADER_BYTES` and `HEADER_FIELDS` bound the header block kept (every
/// field is kept; exceeding them is a typed [`Error`]); `KEYS` bounds the
/// distinct keys looked up.
#[derive(Debug, Clone)]
pub struct ChainValidator<const HEADER_BYTES: usize, const HEADER_FIELDS: usize, const KEYS: usize>
{
    options: ValidateOptions,
    splitter: HeaderSplitter,
    intake: Intake<HEADER_BYTES, HEADER_FIELDS>,
    headers_done: bool,
    /// Decided when the header block ended (structure), or `None` while
    /// signatures remain to be checked.
    decided: Option<ArcResult>,
    keys: heapless::Vec<KeySlot, KEYS>,
    hashers: heapless::Vec<BodyHasher, MAX_BODY_HASHES>,
    plans: [Plan; MAX_INSTANCES],
}

impl<const HEADER_BYTES: usize, const HEADER_FIELDS: usize, const KEYS: usize>
    ChainValidator<HEADER_BYTES, HEADER_FIELDS, KEYS>
{
    /// A validator for one message.
    pub fn new(options: ValidateOptions) -> Self {
        ChainValidator {
            options,
            splitter: HeaderSplitter::new(),
            intake: Intake {
                store: HeaderStore::new(),
                sets: [[None; 3]; MAX_INSTANCES],
                broken: None,
                highest: 0,
                examining: None,
                saw_arc_field: false,
            },
            headers_done: false,
            decided: None,
            keys: heapless::Vec::new(),
            hashers: heapless::Vec::new(),
            plans: [Plan::default(); MAX_INSTANCES],
        }
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<BodyInterest, Error> {
        if self.headers_done {
            return Ok(self.feed_body(raw));
        }
        match self.splitter.push(raw, &mut self.intake)? {
            Some(n) => {
                self.headers_ended();
                Ok(self.feed_body(raw.get(n..).unwrap_or_default()))
            }
            None => Ok(BodyInterest::More),
        }
    }

    /// Feed one whole header field (`Name:value`, no final CRLF), as a
    /// milter receives it.
    pub fn header_field(&mut self, raw_field: &[u8]) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_field(raw_field, &mut self.intake)
    }

    /// The header block is complete (a milter's end-of-headers).
    pub fn end_of_headers(&mut self) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_end_of_headers(&mut self.intake)?;
        self.headers_ended();
        Ok(())
    }

    /// The raw input has ended; a header block with no blank line ends
    /// here, and key requests become available.
    pub fn end_of_input(&mut self) -> Result<(), Error> {
        if !self.headers_done {
            self.splitter.finish(&mut self.intake)?;
            self.headers_ended();
        }
        Ok(())
    }

    /// Feed the next chunk of body. [`BodyInterest::Done`] once no body
    /// byte can change the result (a chain decided by its structure).
    pub fn body(&mut self, chunk: &[u8]) -> Result<BodyInterest, Error> {
        if !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        Ok(self.feed_body(chunk))
    }

    /// True once an ARC field has been seen, even one that was not kept (a
    /// caller whose intake failed on capacity tells "no chain" from "a
    /// chain it could not validate" with this).
    pub fn saw_arc_fields(&self) -> bool {
        self.intake.saw_arc_field
    }

    /// The result, if the header block alone decided it.
    pub fn early_result(&self) -> Option<ArcResult> {
        self.decided
    }

    /// The keys still to be looked up, one per distinct name. Empty until
    /// the header block has ended.
    pub fn key_requests(&self) -> impl Iterator<Item = KeyRequest<'_>> + '_ {
        self.waiting()
            .enumerate()
            .filter(move |(n, req)| {
                !self
                    .waiting()
                    .take(*n)
                    .any(|earlier| same_name(&earlier, req))
            })
            .map(|(_, req)| req)
    }

    fn waiting(&self) -> impl Iterator<Item = KeyRequest<'_>> + '_ {
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot.state, KeyState::Wanted))
            .filter_map(|(id, slot)| self.request_for(id, slot))
    }

    fn request_for(&self, id: usize, slot: &KeySlot) -> Option<KeyRequest<'_>> {
        let raw = self.intake.store.get(usize::from(slot.field))?;
        let (selector, domain, _) = check::signer_of(slot.member, raw)?;
        Some(KeyRequest {
            id,
            selector,
            domain,
        })
    }

    /// Answer key request `id`; the answer serves every signature that
    /// waits for the same name.
    pub fn provide_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        let Some(target) = self.keys.get(id).and_then(|s| self.request_for(id, s)) else {
            return;
        };
        let mut updates: heapless::Vec<(usize, KeyState<CandidateKey, DkimReason>), KEYS> =
            heapless::Vec::new();
        for (n, slot) in self.keys.iter().enumerate() {
            let wanted = matches!(slot.state, KeyState::Wanted)
                && self
                    .request_for(n, slot)
                    .is_some_and(|r| same_name(&r, &target));
            if wanted {
                let state = KeyState::from_answer(answer, |txt| load_dkim_key(txt, slot.algorithm));
                // One entry per slot: fits.
                let _ = updates.push((n, state));
            }
        }
        for (n, state) in updates {
            if let Some(slot) = self.keys.get_mut(n) {
                slot.state = state;
            }
        }
    }

    /// Finish the message and validate the chain (§5.2 steps 4 to 8).
    pub fn finish(mut self) -> Result<ArcResult, Error> {
        self.end_of_input()?;
        if let Some(result) = self.decided {
            return Ok(result);
        }
        let mut hashes: heapless::Vec<BodyHash, MAX_BODY_HASHES> = heapless::Vec::new();
        for hasher in self.hashers.iter() {
            // Same capacity as `hashers`.
            let _ = hashes.push(hasher.clone().finish());
        }
        let n = self.intake.highest;
        let fail = |reason| ArcResult::decided(ChainStatus::Fail, n, reason);
        // Step 4: the newest AMS.
        if let Err(failure) = self.check_ams(n, &hashes) {
            return Ok(fail(Reason::MessageSignatureCheck {
                instance: n,
                failure,
            }));
        }
        // Steps 5 and 6: oldest-pass.
        let mut oldest_pass = 0;
        for i in (1..n).rev() {
            if self.check_ams(i, &hashes).is_err() {
                oldest_pass = i.saturating_add(1);
                break;
            }
        }
        // Step 7: every AS, newest first.
        for i in (1..=n).rev() {
            if let Err(failure) = self.check_seal(i) {
                return Ok(fail(Reason::SealCheck {
                    instance: i,
                    failure,
                }));
            }
        }
        Ok(ArcResult {
            status: ChainStatus::Pass,
            instances: n,
            oldest_pass,
            reason: Reason::Verified,
        })
    }

    fn feed_body(&mut self, chunk: &[u8]) -> BodyInterest {
        let mut interest = BodyInterest::Done;
        for hasher in self.hashers.iter_mut() {
            if hasher.update(chunk) == BodyInterest::More {
                interest = BodyInterest::More;
            }
        }
        interest
    }

    /// Decide the structure (§5.2 steps 1 to 3) and, if it holds, plan the
    /// key lookups and body hashes.
    fn headers_ended(&mut self) {
        self.headers_done = true;
        match check::structure(&self.intake) {
            Err(result) => self.decided = Some(result),
            Ok(n) => self.plan(n),
        }
    }

    fn plan(&mut self, n: u8) {
        let budget = self.options.max_key_lookups.min(KEYS);
        // Most needed first: AMS(N), every AS, then the older AMSes.
        let order = core::iter::once((n, Member::MessageSignature))
            .chain((1..=n).rev().map(|i| (i, Member::Seal)))
            .chain((1..n).rev().map(|i| (i, Member::MessageSignature)));
        for (instance, member) in order {
            let key = self.allocate_key(instance, member, budget);
            let body = match member {
                Member::MessageSignature => self.allocate_body(instance),
                _ => None,
            };
            let Some(plan) = self.plans.get_mut(usize::from(instance).saturating_sub(1)) else {
                continue;
            };
            match member {
                Member::MessageSignature => {
                    plan.ams_key = key;
                    plan.ams_body = body;
                }
                _ => plan.seal_key = key,
            }
        }
    }

    /// The key slot for the signature of `member` at `instance`: one
    /// already planned for the same name and algorithm, or a new one
    /// while the budget lasts.
    fn allocate_key(&mut self, instance: u8, member: Member, budget: usize) -> Option<u8> {
        let index = self
            .intake
            .sets
            .get(usize::from(instance).checked_sub(1)?)?
            .get(member.index())
            .copied()
            .flatten()?;
        let raw = self.intake.store.get(usize::from(index))?;
        let (selector, domain, algorithm) = check::signer_of(member, raw)?;
        let existing = self.keys.iter().position(|slot| {
            slot.algorithm == algorithm
                && self
                    .intake
                    .store
                    .get(usize::from(slot.field))
                    .and_then(|r| check::signer_of(slot.member, r))
                    .is_some_and(|(s, d, _)| {
                        s.eq_ignore_ascii_case(selector) && d.eq_ignore_ascii_case(domain)
                    })
        });
        let position = match existing {
            Some(p) => p,
            None => {
                if self.keys.len() >= budget {
                    return None;
                }
                self.keys
                    .push(KeySlot {
                        field: index,
                        member,
                        algorithm,
                        state: KeyState::Wanted,
                    })
                    .ok()?;
                self.keys.len().saturating_sub(1)
            }
        };
        u8::try_from(position).ok()
    }

    /// The body hasher for the AMS at `instance`, shared by AMSes with the
    /// same body canonicalization and `l=`.
    fn allocate_body(&mut self, instance: u8) -> Option<u8> {
        let raw = self.intake.field(instance, Member::MessageSignature)?;
        let ams = ArcMessageSignature::parse_field(raw).ok()?;
        let (canon, limit) = (
            ams.signature.canonicalization.body,
            ams.signature.body_length,
        );
        let position = match self
            .hashers
            .iter()
            .position(|h| h.canon() == canon && h.limit() == limit)
        {
            Some(p) => p,
            None => {
                self.hashers
                    .push(BodyHasher::measuring(canon, limit))
                    .ok()?;
                self.hashers.len().saturating_sub(1)
            }
        };
        u8::try_from(position).ok()
    }

    fn plan_of(&self, instance: u8) -> Plan {
        self.plans
            .get(usize::from(instance).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    }

    fn key_of(&self, slot: Option<u8>) -> Result<&[CandidateKey], CheckFailure> {
        let slot = slot
            .and_then(|s| self.keys.get(usize::from(s)))
            .ok_or(CheckFailure::NoKeyBudget)?;
        slot.state
            .keys()
            .map_err(|(_, reason)| CheckFailure::Key(reason))
    }

    fn check_ams(&self, instance: u8, hashes: &[BodyHash]) -> Result<(), CheckFailure> {
        let raw = self
            .intake
            .field(instance, Member::MessageSignature)
            .ok_or(CheckFailure::Syntax)?;
        let ams = ArcMessageSignature::parse_field(raw).map_err(|_| CheckFailure::Syntax)?;
        let plan = self.plan_of(instance);
        let body = plan
            .ams_body
            .and_then(|b| hashes.get(usize::from(b)))
            .ok_or(CheckFailure::BodyHashBudget)?;
        check::message_signature(
            &self.options,
            &self.intake.store,
            &ams,
            body,
            self.key_of(plan.ams_key)?,
        )
    }

    fn check_seal(&self, instance: u8) -> Result<(), CheckFailure> {
        let raw = self
            .intake
            .field(instance, Member::Seal)
            .ok_or(CheckFailure::Syntax)?;
        let seal = ArcSeal::parse_field(raw).map_err(|_| CheckFailure::Syntax)?;
        let keys = self.key_of(self.plan_of(instance).seal_key)?;
        // Every set up to this one, oldest first, each AAR, AMS, AS
        // (§5.1.1), this AS last with its b= value left out.
        let fields = (1..=instance).flat_map(|i| {
            Member::ALL
                .into_iter()
                .filter(move |m| !(i == instance && *m == Member::Seal))
                .filter_map(move |m| self.intake.field(i, m))
        });
        check::seal(&seal, fields, keys)
    }
}

fn same_name(a: &KeyRequest<'_>, b: &KeyRequest<'_>) -> bool {
    a.selector.eq_ignore_ascii_case(b.selector) && a.domain.eq_ignore_ascii_case(b.domain)
}

/// The structure checks need the intake and the parsers only.
impl<const B: usize, const F: usize> Intake<B, F> {
    /// Parse the AAR at `instance` (step 3 wants every set whole).
    fn auth_results(&self, instance: u8) -> Result<ArcAuthResults<'_>, Reason> {
        let raw = self
            .field(instance, Member::AuthResults)
            .ok_or(Reason::Missing {
                instance,
                member: Member::AuthResults,
            })?;
        ArcAuthResults::parse_field(raw).map_err(|error| Reason::AuthResults { instance, error })
    }
}

#[cfg(test)]
mod tests;
