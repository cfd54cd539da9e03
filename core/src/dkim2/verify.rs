//! Streaming verification of a DKIM2 chain (draft-03).
//!
//! ```text
//! Dkim2Verifier::new(options)
//!   update(raw chunk)*        or  header_field(field)* end_of_headers() body(chunk)*
//!   key_requests() ─► "sel._domainkey.dom" (at most min(KEYS, max_key_lookups) names)
//!   provide_key(request, KeyAnswer::Records(&[txt, ...]) | NotFound | TempFail)
//!   finish(&Envelope { mail_from, rcpt_to }) ─► Dkim2Result { pass | fail | permerror | … }
//! ```
//!
//! The header block goes into a bounded [`HeaderStore`] that keeps every
//! field (the header hash covers all but trace fields). When it ends, the
//! chain's numbering and custody are checked and the keys are planned;
//! the recipes of the Message-Instances are decoded into a bounded arena
//! and the body pipeline is built: the body streams through the simple
//! body hash of the newest instance and, through each recipe that changes
//! the body, into the body hash of the instance before it
//! ([`rewind`]). No body is buffered; the extra state per body-changing
//! hop is one [`BodyHasher`] and one recipe cursor.
//!
//! At `finish`, the newest signature must have been made for this SMTP
//! transaction (its `mf=` the MAIL FROM, every RCPT TO in its `rt=`), every
//! signature must verify over its input, and every instance's header and
//! body hashes must match, the earlier ones on the header block the
//! recipes give back.
//!
//! Bounds: at most [`MAX_HOPS`] signatures and instances, `KEYS` distinct
//! keys, [`MAX_SIGNATURE_VALUES`] signatures per hop, `RECIPE_BYTES` of
//! decoded recipes in all, [`rewind::MAX_BODY_REWINDS`] body-changing
//! hops. Past any of them the result is a typed permerror, never a pass.

use core::fmt;

use super::fields::{Dkim2Signature, FieldError};
use super::hash::signature_input_hash;
use super::{MAX_HOPS, recipe::RecipeError};
use crate::canon::body_hash::BodyInterest;
use crate::dkim::public_key::WEAK_RSA_MODULUS_BITS;
use crate::dkim::signature_field::SignatureAlgorithm;
use crate::dkim::verify::{
    CandidateKey, KeyAnswer, KeyRequest, KeyState, Reason as DkimReason, Verdict, load_dkim_key,
};
use crate::error::Error;
use crate::header::HeaderSplitter;
use crate::syntax::tag_list::decode_base64;

mod chain;
pub mod rewind;

use super::intake::{FieldKind, Intake};

/// How many distinct key names are looked up per message unless the
/// caller says otherwise.
pub const DEFAULT_MAX_KEY_LOOKUPS: usize = 16;

/// The longest signature checked: RSA-8192 (1,024 bytes).
const MAX_SIGNATURE_BYTES: usize = 1024;

/// What the caller decides for a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VerifyOptions {
    /// The current time (seconds since the Unix epoch): a signature older
    /// than [`super::MAX_AGE`] is a permerror.
    pub now: u64,
    /// Require `mf=` and `rt=` to be RFC 5321 paths with their angle
    /// brackets (§7.5). On by default; early interop signers left them out.
    pub strict: bool,
    /// The most distinct key names asked for; capped at the verifier's
    /// `KEYS`.
    pub max_key_lookups: usize,
}

impl VerifyOptions {
    /// Strict, with [`DEFAULT_MAX_KEY_LOOKUPS`].
    pub fn new(now: u64) -> Self {
        VerifyOptions {
            now,
            strict: true,
            max_key_lookups: DEFAULT_MAX_KEY_LOOKUPS,
        }
    }
}

/// The SMTP envelope the message arrived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// MAIL FROM, with or without its angle brackets (`<>` for a bounce).
    pub mail_from: &'a str,
    /// Every RCPT TO of the transaction (or of the recipient being
    /// checked).
    pub rcpt_to: &'a [&'a str],
}

/// The outcome, as `dkim2=` reports it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// No DKIM2 field at all.
    None,
    /// Every signature and instance checked out.
    Pass,
    /// A signature or a hash does not match.
    Fail,
    /// The chain cannot be checked: syntax, numbering, binding, keys.
    PermError,
    /// A key could not be fetched for now.
    TempError,
}

impl Status {
    /// The RFC 8601 result word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::PermError => "permerror",
            Status::TempError => "temperror",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the chain got its status.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reason {
    /// No DKIM2 field.
    NoSignature,
    /// Everything checked out.
    Verified,
    /// A DKIM2 field does not parse.
    Field {
        /// Which kind.
        kind: FieldKind,
        /// Why.
        error: FieldError,
    },
    /// More than [`MAX_HOPS`] signatures or instances.
    TooManyHops,
    /// Two signatures with one `i=`.
    DuplicateHop {
        /// The `i=`.
        instance: u32,
    },
    /// Two Message-Instances with one `m=`.
    DuplicateInstance {
        /// The `m=`.
        revision: u32,
    },
    /// No signature with this `i=`, though a higher one exists.
    HopMissing {
        /// The `i=`.
        instance: u32,
    },
    /// No Message-Instance with this `m=`.
    InstanceMissing {
        /// The `m=`.
        revision: u32,
    },
    /// Message-Instances but no signature.
    UnsignedInstance,
    /// A signature's `m=` is not the newest instance (the newest hop) or
    /// is above it.
    RevisionMismatch {
        /// The hop.
        instance: u32,
        /// Its `m=`.
        revision: u32,
        /// The newest Message-Instance.
        newest: u32,
    },
    /// `mf=` or an `rt=` item is not a path in angle brackets (strict).
    NotAPath {
        /// The hop.
        instance: u32,
    },
    /// `t=` is older than [`super::MAX_AGE`].
    Expired {
        /// The hop.
        instance: u32,
    },
    /// The newest hop has `nd=`: it names no transaction.
    NextDomainAtEnd {
        /// The hop.
        instance: u32,
    },
    /// The MAIL FROM is not the newest hop's `mf=` (a replay).
    MailFromMismatch {
        /// The hop.
        instance: u32,
    },
    /// A RCPT TO is not in the newest hop's `rt=` (a replay).
    RcptToMismatch {
        /// The hop.
        instance: u32,
    },
    /// The newest hop's `mf=` lies outside its `d=` (§7.7).
    MailFromOutsideDomain {
        /// The hop.
        instance: u32,
    },
    /// `nd=` of the hop before does not name this hop's `d=`.
    NextDomainMismatch {
        /// The hop.
        instance: u32,
    },
    /// This hop's MAIL FROM domain is not one the hop before sent to.
    CustodyBreak {
        /// The hop.
        instance: u32,
    },
    /// No `s=` entry with an algorithm mass knows.
    NoKnownAlgorithm {
        /// The hop.
        instance: u32,
    },
    /// No usable key: the lookup's or the record's reason, as DKIM has it.
    Key {
        /// The hop.
        instance: u32,
        /// Why.
        reason: DkimReason,
    },
    /// The key-lookup budget was spent before this hop's key.
    KeyBudget {
        /// The hop.
        instance: u32,
    },
    /// An RSA key under 1024 bits (RFC 8301 §3.2).
    WeakKey {
        /// The hop.
        instance: u32,
        /// The modulus size.
        bits: u32,
    },
    /// A signature does not verify.
    SignatureMismatch {
        /// The hop.
        instance: u32,
    },
    /// An instance has no sha256 hashes.
    NoHash {
        /// The `m=`.
        revision: u32,
    },
    /// An instance's header hash does not match.
    HeaderHashMismatch {
        /// The `m=`.
        revision: u32,
    },
    /// An instance's body hash does not match.
    BodyHashMismatch {
        /// The `m=`.
        revision: u32,
    },
    /// A recipe cannot be used.
    Recipe {
        /// The `m=` that carries it.
        revision: u32,
        /// Why.
        error: RecipeError,
    },
    /// More than [`rewind::MAX_BODY_REWINDS`] hops changed the body.
    TooManyBodyRecipes,
    /// The recipes, decoded, are larger than the verifier's arena.
    RecipesTooLarge {
        /// The `m=` whose recipe did not fit.
        revision: u32,
    },
    /// A rebuilt header block is larger than the verifier's header store.
    RebuiltHeaderTooLarge {
        /// The `m=` whose header block did not fit.
        revision: u32,
    },
    /// A recipe says the earlier body cannot be rebuilt (`"b": null`).
    Unreconstructable {
        /// The `m=` that carries it.
        revision: u32,
    },
    /// A hop changed the message though an earlier one asked that none
    /// should (`f=donotmodify`).
    Modified,
    /// A hop sent to several recipients though an earlier one asked that
    /// none should (`f=donotexplode`).
    Exploded,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoSignature => f.write_str("no DKIM2 signature"),
            Reason::Verified => f.write_str("chain verified"),
            Reason::Field { kind, error } => write!(f, "{kind}: {error}"),
            Reason::TooManyHops => write!(f, "more than {MAX_HOPS} hops"),
            Reason::DuplicateHop { instance } => write!(f, "two signatures with i={instance}"),
            Reason::DuplicateInstance { revision } => {
                write!(f, "two Message-Instances with m={revision}")
            }
            Reason::HopMissing { instance } => write!(f, "no signature with i={instance}"),
            Reason::InstanceMissing { revision } => {
                write!(f, "no Message-Instance with m={revision}")
            }
            Reason::UnsignedInstance => f.write_str("Message-Instance without a signature"),
            Reason::RevisionMismatch {
                instance,
                revision,
                newest,
            } => write!(
                f,
                "i={instance} has m={revision} but the newest Message-Instance is m={newest}"
            ),
            Reason::NotAPath { instance } => {
                write!(
                    f,
                    "i={instance}: mf= or rt= is not a path in angle brackets"
                )
            }
            Reason::Expired { instance } => write!(f, "i={instance}: t= is too old"),
            Reason::NextDomainAtEnd { instance } => {
                write!(f, "i={instance}: the newest hop has nd=")
            }
            Reason::MailFromMismatch { instance } => {
                write!(f, "i={instance}: MAIL FROM is not mf=")
            }
            Reason::RcptToMismatch { instance } => {
                write!(f, "i={instance}: a RCPT TO is not in rt=")
            }
            Reason::MailFromOutsideDomain { instance } => {
                write!(f, "i={instance}: mf= is outside d=")
            }
            Reason::NextDomainMismatch { instance } => {
                write!(f, "i={instance}: d= is not the nd= before it")
            }
            Reason::CustodyBreak { instance } => {
                write!(f, "i={instance}: not sent by a recipient of the hop before")
            }
            Reason::NoKnownAlgorithm { instance } => {
                write!(f, "i={instance}: no known algorithm in s=")
            }
            Reason::Key { instance, reason } => write!(f, "i={instance}: {reason}"),
            Reason::KeyBudget { instance } => write!(f, "i={instance}: key lookup budget spent"),
            Reason::WeakKey { instance, bits } => write!(f, "i={instance}: {bits}-bit RSA key"),
            Reason::SignatureMismatch { instance } => {
                write!(f, "i={instance}: signature mismatch")
            }
            Reason::NoHash { revision } => write!(f, "m={revision}: no sha256 hashes"),
            Reason::HeaderHashMismatch { revision } => {
                write!(f, "m={revision}: header hash mismatch")
            }
            Reason::BodyHashMismatch { revision } => write!(f, "m={revision}: body hash mismatch"),
            Reason::Recipe { revision, error } => write!(f, "m={revision}: recipe: {error}"),
            Reason::TooManyBodyRecipes => write!(
                f,
                "more than {} hops changed the body",
                rewind::MAX_BODY_REWINDS
            ),
            Reason::RecipesTooLarge { revision } => {
                write!(
                    f,
                    "m={revision}: the recipes are larger than the verifier holds"
                )
            }
            Reason::RebuiltHeaderTooLarge { revision } => {
                write!(
                    f,
                    "m={revision}: the rebuilt header is larger than the verifier holds"
                )
            }
            Reason::Unreconstructable { revision } => {
                write!(f, "m={revision}: the earlier body cannot be rebuilt")
            }
            Reason::Modified => f.write_str("modified despite donotmodify"),
            Reason::Exploded => f.write_str("exploded despite donotexplode"),
        }
    }
}

/// The result of verifying a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dkim2Result {
    /// pass, fail, permerror, temperror or none.
    pub status: Status,
    /// How many hops (signatures) the chain has.
    pub hops: u32,
    /// Why.
    pub reason: Reason,
}

impl Dkim2Result {
    pub(super) fn new(status: Status, hops: u32, reason: Reason) -> Self {
        Dkim2Result {
            status,
            hops,
            reason,
        }
    }
}

/// One key to look up and what it gave, for the `s=` entries using one
/// (selector, domain, algorithm).
#[derive(Debug, Clone)]
struct KeySlot {
    /// A hop that names it, and which of its `s=` entries.
    instance: u32,
    entry: u8,
    algorithm: SignatureAlgorithm,
    state: KeyState<CandidateKey, DkimReason>,
}

/// Streaming verifier of the DKIM2 chain of one message.
///
/// `HEADER_BYTES` and `HEADER_FIELDS` bound the header block kept (and
/// each of the two header blocks rebuilt from recipes); `KEYS` the
/// distinct keys looked up; `RECIPE_BYTES` the decoded recipes.
#[derive(Debug, Clone)]
pub struct Dkim2Verifier<
    const HEADER_BYTES: usize,
    const HEADER_FIELDS: usize,
    const KEYS: usize,
    const RECIPE_BYTES: usize,
> {
    options: VerifyOptions,
    splitter: HeaderSplitter,
    intake: Intake<HEADER_BYTES, HEADER_FIELDS>,
    headers_done: bool,
    /// Decided by the header block, or `None` while checks remain.
    decided: Option<Dkim2Result>,
    hops: u32,
    keys: heapless::Vec<KeySlot, KEYS>,
    body: rewind::BodyPipeline<RECIPE_BYTES>,
}

impl<const HB: usize, const HF: usize, const KEYS: usize, const RB: usize>
    Dkim2Verifier<HB, HF, KEYS, RB>
{
    /// A verifier for one message.
    pub fn new(options: VerifyOptions) -> Self {
        Dkim2Verifier {
            options,
            splitter: HeaderSplitter::new(),
            intake: Intake::new(),
            headers_done: false,
            decided: None,
            hops: 0,
            keys: heapless::Vec::new(),
            body: rewind::BodyPipeline::new(),
        }
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<BodyInterest, Error> {
        if self.headers_done {
            return Ok(self.body.update(raw));
        }
        match self.splitter.push(raw, &mut self.intake)? {
            Some(n) => {
                self.headers_ended();
                Ok(self.body.update(raw.get(n..).unwrap_or_default()))
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

    /// Feed the next chunk of body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<BodyInterest, Error> {
        if !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        Ok(self.body.update(chunk))
    }

    /// The raw input has ended; a header block with no blank line ends
    /// here.
    pub fn end_of_input(&mut self) -> Result<(), Error> {
        if !self.headers_done {
            self.splitter.finish(&mut self.intake)?;
            self.headers_ended();
        }
        Ok(())
    }

    /// True once a DKIM2 field has been seen.
    pub fn saw_dkim2_fields(&self) -> bool {
        self.intake.signature_count > 0 || self.intake.instance_count > 0
    }

    /// The result, if the header block alone decided it.
    pub fn early_result(&self) -> Option<Dkim2Result> {
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
        let raw = self.intake.signature_field(slot.instance)?;
        let (selector, domain) = selector_and_domain(raw, slot.entry)?;
        Some(KeyRequest {
            id,
            selector,
            domain,
        })
    }

    /// Answer key request `id`; the answer serves every entry that waits
    /// for the same name.
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

    /// Finish the message and verify the chain for the transaction in
    /// `envelope`.
    pub fn finish(mut self, envelope: &Envelope<'_>) -> Result<Dkim2Result, Error> {
        self.end_of_input()?;
        if let Some(result) = self.decided {
            return Ok(result);
        }
        let hops = self.hops;
        let perm = |reason| Dkim2Result::new(Status::PermError, hops, reason);
        let Some(newest) = self.intake.signature(hops) else {
            return Ok(perm(Reason::HopMissing { instance: hops }));
        };
        if let Err(reason) = chain::binding(&newest, envelope) {
            return Ok(perm(reason));
        }
        for i in 1..=hops {
            if let Err((status, reason)) = self.check_signature(i) {
                return Ok(Dkim2Result::new(status, hops, reason));
            }
        }
        let mut body = core::mem::replace(&mut self.body, rewind::BodyPipeline::new());
        if let Err(reason) = rewind::check_instances(&self.intake, body.finish()) {
            return Ok(Dkim2Result::new(Status::Fail, hops, reason));
        }
        if let Some(reason) = self.flag_violation() {
            return Ok(Dkim2Result::new(Status::Fail, hops, reason));
        }
        Ok(Dkim2Result::new(Status::Pass, hops, Reason::Verified))
    }

    /// Decide what the header block decides and plan the rest.
    fn headers_ended(&mut self) {
        self.headers_done = true;
        match chain::structure(&self.intake, &self.options) {
            Err(result) => {
                self.decided = Some(result);
                self.body.stop();
            }
            Ok(hops) => {
                self.hops = hops;
                if let Err(reason) = self.body.plan(&self.intake) {
                    self.decided = Some(Dkim2Result::new(Status::PermError, hops, reason));
                    self.body.stop();
                    return;
                }
                self.plan_keys(hops);
            }
        }
    }

    /// A key slot for every `s=` entry, newest hop first, while the budget
    /// lasts.
    fn plan_keys(&mut self, hops: u32) {
        let budget = self.options.max_key_lookups.min(KEYS);
        for i in (1..=hops).rev() {
            let Some(sig) = self.intake.signature(i) else {
                continue;
            };
            for (entry, value) in sig.signatures.iter().enumerate() {
                let known = self.keys.iter().any(|slot| {
                    slot.algorithm == value.algorithm
                        && self
                            .intake
                            .signature_field(slot.instance)
                            .and_then(|raw| selector_and_domain(raw, slot.entry))
                            .is_some_and(|(s, d)| {
                                s.eq_ignore_ascii_case(value.selector)
                                    && d.eq_ignore_ascii_case(sig.domain)
                            })
                });
                if known || self.keys.len() >= budget {
                    continue;
                }
                let _ = self.keys.push(KeySlot {
                    instance: i,
                    entry: u8::try_from(entry).unwrap_or(u8::MAX),
                    algorithm: value.algorithm,
                    state: KeyState::Wanted,
                });
            }
        }
    }

    /// The keys for `(selector, domain, algorithm)`.
    fn keys_for(
        &self,
        selector: &str,
        domain: &str,
        algorithm: SignatureAlgorithm,
    ) -> Option<&KeySlot> {
        self.keys.iter().find(|slot| {
            slot.algorithm == algorithm
                && self
                    .intake
                    .signature_field(slot.instance)
                    .and_then(|raw| selector_and_domain(raw, slot.entry))
                    .is_some_and(|(s, d)| {
                        s.eq_ignore_ascii_case(selector) && d.eq_ignore_ascii_case(domain)
                    })
        })
    }

    /// Every `s=` entry of hop `i` verifies over its input.
    fn check_signature(&self, i: u32) -> Result<(), (Status, Reason)> {
        let instance = i;
        let raw = self
            .intake
            .signature_field(i)
            .ok_or((Status::PermError, Reason::HopMissing { instance }))?;
        let sig = Dkim2Signature::parse_field(raw).map_err(|error| {
            (
                Status::PermError,
                Reason::Field {
                    kind: FieldKind::Signature,
                    error,
                },
            )
        })?;
        if sig.signatures.is_empty() {
            return Err((Status::Fail, Reason::NoKnownAlgorithm { instance }));
        }
        let earlier = (1..=sig.revision)
            .filter_map(|m| self.intake.instance_field(m))
            .chain((1..i).filter_map(|j| self.intake.signature_field(j)));
        let digest = signature_input_hash(earlier, raw, sig.s_span);
        for value in &sig.signatures {
            let slot = self
                .keys_for(value.selector, sig.domain, value.algorithm)
                .ok_or((Status::PermError, Reason::KeyBudget { instance }))?;
            let keys = slot.state.keys().map_err(|(verdict, reason)| {
                let status = if verdict == Verdict::TempError {
                    Status::TempError
                } else {
                    Status::PermError
                };
                (status, Reason::Key { instance, reason })
            })?;
            let mut buf = [0u8; MAX_SIGNATURE_BYTES];
            let n = decode_base64(value.signature.as_bytes(), &mut buf)
                .map_err(|_| (Status::Fail, Reason::SignatureMismatch { instance }))?;
            let signature = buf.get(..n).unwrap_or_default();
            verify_any(keys, &digest, signature, instance)?;
        }
        Ok(())
    }

    /// `f=donotmodify` and `f=donotexplode` of earlier hops.
    fn flag_violation(&self) -> Option<Reason> {
        let sigs = || (1..=self.hops).filter_map(|i| self.intake.signature(i));
        let has = |sig: &Dkim2Signature<'_>, flag: &str| sig.flag_names().any(|f| f == flag);
        let protected = sigs()
            .filter(|s| has(s, "donotmodify"))
            .map(|s| s.revision)
            .min();
        if let Some(p) = protected {
            let reference = self.intake.instance(p).and_then(|mi| mi.sha256);
            let newest = u32::try_from(self.intake.instance_count).unwrap_or(u32::MAX);
            let changed = (p.saturating_add(1)..=newest)
                .filter_map(|m| self.intake.instance(m))
                .any(|mi| mi.sha256.is_some() && mi.sha256 != reference);
            if changed {
                return Some(Reason::Modified);
            }
        }
        let exploded_after = sigs()
            .filter(|s| has(s, "donotexplode"))
            .map(|s| s.instance)
            .min()
            .is_some_and(|q| sigs().any(|s| s.instance > q && has(&s, "exploded")));
        exploded_after.then_some(Reason::Exploded)
    }
}

/// The selector and domain of `s=` entry `entry` of a raw signature field.
fn selector_and_domain(raw: &[u8], entry: u8) -> Option<(&str, &str)> {
    let sig = Dkim2Signature::parse_field(raw).ok()?;
    let value = sig.signatures.get(usize::from(entry))?;
    Some((value.selector, sig.domain))
}

fn same_name(a: &KeyRequest<'_>, b: &KeyRequest<'_>) -> bool {
    a.selector.eq_ignore_ascii_case(b.selector) && a.domain.eq_ignore_ascii_case(b.domain)
}

/// Pass if one of the keys verifies `signature` over `digest`; an RSA key
/// under 1024 bits is a permerror (RFC 8301 §3.2), a mismatch a fail.
fn verify_any(
    keys: &[CandidateKey],
    digest: &[u8; 32],
    signature: &[u8],
    instance: u32,
) -> Result<(), (Status, Reason)> {
    let mut first = (Status::Fail, Reason::SignatureMismatch { instance });
    for (n, candidate) in keys.iter().enumerate() {
        let outcome = match candidate.key.rsa_bits() {
            Some(bits) if bits < WEAK_RSA_MODULUS_BITS => {
                Err((Status::PermError, Reason::WeakKey { instance, bits }))
            }
            _ if candidate.key.verify_sha256(digest, signature) => Ok(()),
            _ => Err((Status::Fail, Reason::SignatureMismatch { instance })),
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if n == 0 => first = e,
            Err(_) => {}
        }
    }
    Err(first)
}
