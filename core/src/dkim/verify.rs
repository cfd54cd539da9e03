//! Streaming DKIM verification, RFC 6376 §6, with the policy of RFC 8301.
//!
//! ```text
//! MessageVerifier::new(options)
//!   update(raw chunk)*        or  header_field(field)* end_of_headers() body(chunk)*
//!   key_requests() ─► "sel._domainkey.dom" (at most max_signatures names)
//!   provide_key(request, KeyAnswer::Records(&[txt, ...]) | NotFound | TempFail)
//!   finish() ─► Verification: one SignatureResult per checked signature
//! ```
//!
//! The message goes in once, through the same intake as signing
//! ([`HeaderSplitter`] into a bounded [`HeaderStore`]), and its body through
//! [`BodyHasher`]s: signatures that share body canonicalization and `l=`
//! share one.
//!
//! The work is bounded by key lookups and signature checks, not by fields
//! (security case 20; DESIGN.md, verifier defaults). Each DKIM-Signature
//! field is parsed when it ends, top first:
//! - one that parses and needs a key costs one of `max_signatures` (5 by
//!   default, never more than the capacity `SIGS`): it gets a key request
//!   and a check; once they are used up, later fields are counted and left
//!   alone;
//! - one that does not parse, or is decided without a key (rsa-sha1, an
//!   expired `x=`, a future `t=`), costs nothing: it is reported (up to
//!   `SIGS` of them; the rest are counted and dropped) and the next field
//!   is looked at, so junk fields added in transit cannot hide a good
//!   signature below them;
//! - at most [`MAX_SIGNATURE_FIELDS_EXAMINED`] fields are parsed at all, so
//!   100,000 junk fields cost the splitter's pass over them and no more.
//!
//! The core does no DNS: the caller asks for the TXT records named by
//! [`MessageVerifier::key_requests`] and hands them back with
//! [`MessageVerifier::provide_key`], joining the strings of one record and
//! never joining separate records (§3.6.2.2). It passes `now` in
//! [`VerifyOptions`].
//!
//! Each signature gets a [`Verdict`] (RFC 8601 §2.7.1) and a typed
//! [`Reason`]. Beyond the RFC 6376 checks:
//! - rsa-sha1 and RSA keys under 1024 bits never pass (RFC 8301 §3.1, §3.2);
//!   keys over 8192 bits or with huge exponents are refused before any RSA
//!   work ([`crate::dkim::public_key`]);
//! - an `l=` that leaves part of the body unsigned gives policy unless
//!   [`VerifyOptions::allow_body_length`] (§8.2); one equal to the whole
//!   canonical body leaves nothing unsigned and passes;
//! - an expired `x=` or a `t=` in the future gives policy (§3.5);
//! - a message with other than one From field, or with an unsigned instance
//!   above a signed one of a field that RFC 5322 §3.6 allows only once, gives
//!   policy even when the crypto verifies (§8.15; security cases 1 and 3);
//! - a failing signature under a key with `t=y` is neutral (§3.6.1).

use crate::canon::body_hash::{BodyHash, BodyHasher, BodyInterest};
use crate::dkim::sign::header_hash;
use crate::dkim::signature_field::{DkimSignature, SignatureAlgorithm, SignatureFieldError};
use crate::error::Error;
use crate::header::{FieldSink, HeaderSplitter, HeaderStore, field_value, names_match};
use crate::syntax::tag_list::TagIter;

mod keys;
mod results;

pub(crate) use keys::KeyState;
// DomainKeys (behind `rsa`) reports its own reasons for a missing key.
#[cfg(feature = "rsa")]
pub(crate) use keys::NoKeyReason;
pub(crate) use keys::{CandidateKey, load_dkim_key};
pub use keys::{KeyAnswer, KeyRequest, MAX_KEY_RECORDS_TRIED};
use results::Outcome;
pub(crate) use results::best_of;
pub use results::{Reason, SignatureResult, Verdict, Verification};

/// What a DKIM signature's key lookup holds.
type DkimKeys = KeyState<CandidateKey, Reason>;

/// How many signatures are checked unless the caller says otherwise.
pub const DEFAULT_MAX_SIGNATURES: usize = 5;

/// The most DKIM-Signature fields parsed per message, top first, whether
/// they parse or not (Mail::DKIM stops at 50 too). Fields past it are
/// counted, not kept.
pub const MAX_SIGNATURE_FIELDS_EXAMINED: usize = 50;

/// Fields RFC 5322 §3.6 (and RFC 2045 §3 for MIME) allow at most once. An
/// unsigned instance of one of these above the signed one makes a
/// verifying signature policy (security case 3).
pub const SINGLE_INSTANCE_FIELDS: [&str; 14] = [
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "message-id",
    "in-reply-to",
    "references",
    "subject",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

/// What the caller decides for the whole verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VerifyOptions {
    /// The current time, in seconds since the Unix epoch, for `t=` and `x=`.
    pub now: u64,
    /// The budget: at most this many signatures get a key lookup and a
    /// check (top first), so also the most key lookups asked for. Fields
    /// that do not parse, and signatures decided without a key (rsa-sha1,
    /// expiry), cost nothing. Capped at the verifier's `SIGS`.
    pub max_signatures: usize,
    /// Let `l=` signatures that leave part of the body unsigned pass. Off
    /// by default: they give policy (§8.2). An `l=` equal to the whole
    /// canonical body passes either way.
    pub allow_body_length: bool,
    /// How far in the future `t=` may be before it gives policy.
    pub max_clock_skew: u64,
}

impl VerifyOptions {
    /// Defaults: 5 signatures, `l=` gives policy, 5 minutes of clock skew.
    pub fn new(now: u64) -> Self {
        VerifyOptions {
            now,
            max_signatures: DEFAULT_MAX_SIGNATURES,
            allow_body_length: false,
            max_clock_skew: 300,
        }
    }
}

/// A signature that gets a key and a check: one unit of the budget.
#[derive(Debug, Clone)]
struct Slot {
    /// Its field in the store.
    field: usize,
    /// Its body hasher.
    hasher: usize,
    key: DkimKeys,
}

/// The header side of the verifier: every field is kept (any may be
/// signed), except DKIM-Signature fields that are not checked or reported.
/// (A signature whose `h=` names DKIM-Signature therefore sees only the
/// kept instances; with others in the message it fails, which is the safe
/// side.)
#[derive(Debug, Clone)]
struct Intake<const B: usize, const F: usize, const SIGS: usize> {
    store: HeaderStore<B, F>,
    options: VerifyOptions,
    /// Store indices of the signatures that get a key and a check, top
    /// first: the budget spent so far.
    signatures: heapless::Vec<usize, SIGS>,
    /// Signatures decided without a key, top first: they cost nothing.
    decided: heapless::Vec<Outcome, SIGS>,
    max_signatures: usize,
    /// DKIM-Signature fields seen in all.
    signatures_seen: usize,
    /// DKIM-Signature fields parsed (at most
    /// [`MAX_SIGNATURE_FIELDS_EXAMINED`]).
    examined: usize,
    /// The field being stored is a DKIM-Signature field, to be parsed when
    /// it ends.
    examining: bool,
    from_count: u32,
}

impl<const B: usize, const F: usize, const SIGS: usize> Intake<B, F, SIGS> {
    /// Parse the DKIM-Signature field stored last and sort it: budget,
    /// reported without a key, or dropped.
    fn examine_last(&mut self) {
        let index = self.store.len().saturating_sub(1);
        let decision = match self
            .store
            .get(index)
            .ok_or(SignatureFieldError::NotDkimSignature)
            .and_then(DkimSignature::parse_field)
        {
            Err(e) => Some((verdict_for(e), Reason::Signature(e))),
            Ok(sig) => early_decision(&self.options, &sig),
        };
        let kept = match decision {
            // begin_field checked that the budget has room.
            None => self.signatures.push(index).is_ok(),
            Some((verdict, reason)) => self
                .decided
                .push(Outcome::new(index, verdict, reason))
                .is_ok(),
        };
        if !kept {
            // Neither checked nor reported: nothing needs the field.
            self.store.remove_last();
        }
    }
}

impl<const B: usize, const F: usize, const SIGS: usize> FieldSink for Intake<B, F, SIGS> {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        self.examining = false;
        if names_match(name, b"from") {
            self.from_count = self.from_count.saturating_add(1);
        }
        let signature = names_match(name, b"dkim-signature");
        if signature {
            self.signatures_seen = self.signatures_seen.saturating_add(1);
            if self.signatures.len() >= self.max_signatures
                || self.examined >= MAX_SIGNATURE_FIELDS_EXAMINED
            {
                // Not checked, so not kept: 100,000 fields cost nothing.
                return Ok(false);
            }
        }
        self.store.begin()?;
        if signature {
            self.examined = self.examined.saturating_add(1);
            self.examining = true;
        }
        Ok(true)
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.store.extend(bytes)
    }

    fn end_field(&mut self) -> Result<(), Error> {
        self.store.end();
        if core::mem::take(&mut self.examining) {
            self.examine_last();
        }
        Ok(())
    }
}

/// The verdict for a field that does not parse: permerror, except an
/// `i=` outside `d=`, which the security cases (row 8) make a fail.
fn verdict_for(e: SignatureFieldError) -> Verdict {
    if e == SignatureFieldError::IdentityNotInDomain {
        Verdict::Fail
    } else {
        Verdict::PermError
    }
}

/// Streaming verifier of the DKIM signatures of one message.
///
/// `HEADER_BYTES` and `HEADER_FIELDS` bound the header block kept (every
/// field is kept; exceeding them is a typed error, security case 25);
/// `SIGS` bounds the signatures checked.
#[derive(Debug, Clone)]
pub struct MessageVerifier<const HEADER_BYTES: usize, const HEADER_FIELDS: usize, const SIGS: usize>
{
    options: VerifyOptions,
    splitter: HeaderSplitter,
    intake: Intake<HEADER_BYTES, HEADER_FIELDS, SIGS>,
    slots: heapless::Vec<Slot, SIGS>,
    hashers: heapless::Vec<BodyHasher, SIGS>,
    headers_done: bool,
}

impl<const HEADER_BYTES: usize, const HEADER_FIELDS: usize, const SIGS: usize>
    MessageVerifier<HEADER_BYTES, HEADER_FIELDS, SIGS>
{
    /// A verifier for one message.
    pub fn new(options: VerifyOptions) -> Self {
        MessageVerifier {
            options,
            splitter: HeaderSplitter::new(),
            intake: Intake {
                store: HeaderStore::new(),
                options,
                signatures: heapless::Vec::new(),
                decided: heapless::Vec::new(),
                max_signatures: options.max_signatures.min(SIGS),
                signatures_seen: 0,
                examined: 0,
                examining: false,
                from_count: 0,
            },
            slots: heapless::Vec::new(),
            hashers: heapless::Vec::new(),
            headers_done: false,
        }
    }

    /// Feed the next chunk of the raw message (header block, blank line,
    /// body), split anywhere. An error (a malformed header block, or one
    /// over the capacities) ends the verification of this message.
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

    /// Feed one whole header field, as a milter receives it: `Name:value`
    /// with folding CRLFs, without the final CRLF.
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

    /// The raw input given to [`update`](Self::update) has ended. If it
    /// ended inside the header block (no blank line, security case 27), the
    /// body is empty and key requests become available now. Calling it is
    /// optional: [`finish`](Self::finish) does the same, but then it is too
    /// late to provide keys.
    pub fn end_of_input(&mut self) -> Result<(), Error> {
        if !self.headers_done {
            self.splitter.finish(&mut self.intake)?;
            self.headers_ended();
        }
        Ok(())
    }

    /// Feed the next chunk of body. Once it returns [`BodyInterest::Done`]
    /// no further body byte can change a result.
    pub fn body(&mut self, chunk: &[u8]) -> Result<BodyInterest, Error> {
        if !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        Ok(self.feed_body(chunk))
    }

    /// DKIM-Signature fields seen so far, including those not checked.
    pub fn signatures_seen(&self) -> usize {
        self.intake.signatures_seen
    }

    /// The keys still to be looked up, one per distinct name (at most
    /// `max_signatures`). Empty until the header block has ended.
    pub fn key_requests(&self) -> impl Iterator<Item = KeyRequest<'_>> + '_ {
        self.waiting()
            .enumerate()
            .filter(move |(n, req)| {
                // Only the first slot wanting a given name asks for it.
                !self
                    .waiting()
                    .take(*n)
                    .any(|earlier| same_key_name(&earlier, req))
            })
            .map(|(_, req)| req)
    }

    /// The request of every slot still waiting for its key, in slot order.
    fn waiting(&self) -> impl Iterator<Item = KeyRequest<'_>> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, slot)| match slot.key {
                KeyState::Wanted => self.request_for(id, slot.field),
                _ => None,
            })
    }

    /// Answer a key request. The answer also serves every other signature
    /// waiting for the same name.
    pub fn provide_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        let Some(target) = self
            .slots
            .get(id)
            .and_then(|slot| self.request_for(id, slot.field))
        else {
            return;
        };
        let (target_selector, target_domain) = (target.selector, target.domain);
        // Work out each waiting slot's new state first (the requests borrow
        // the store), then store them.
        let mut updates: heapless::Vec<(usize, DkimKeys), SIGS> = heapless::Vec::new();
        for (slot_id, slot) in self.slots.iter().enumerate() {
            if !matches!(slot.key, KeyState::Wanted) {
                continue;
            }
            let Some(sig) = self.signature_at(slot.field) else {
                continue;
            };
            if !(sig.selector.eq_ignore_ascii_case(target_selector)
                && sig.domain.eq_ignore_ascii_case(target_domain))
            {
                continue;
            }
            let state = KeyState::from_answer(answer, |txt| load_dkim_key(txt, sig.algorithm));
            // Cannot overflow: one entry per slot.
            let _ = updates.push((slot_id, state));
        }
        for (slot_id, state) in updates {
            if let Some(slot) = self.slots.get_mut(slot_id) {
                slot.key = state;
            }
        }
    }

    /// Finish the message and compute every result.
    pub fn finish(mut self) -> Result<Verification<HEADER_BYTES, HEADER_FIELDS, SIGS>, Error> {
        self.end_of_input()?;
        let mut hashes: heapless::Vec<BodyHash, SIGS> = heapless::Vec::new();
        for hasher in self.hashers {
            // Same length as `hashers`, so it cannot overflow.
            let _ = hashes.push(hasher.finish());
        }
        let mut checked = heapless::Vec::new();
        for slot in &self.slots {
            let outcome = evaluate(
                &self.options,
                &self.intake,
                slot.field,
                hashes.get(slot.hasher),
                &slot.key,
            );
            // Same length as `slots`.
            let _ = checked.push(outcome);
        }
        Ok(Verification {
            store: self.intake.store,
            checked,
            decided: self.intake.decided,
            signatures_seen: self.intake.signatures_seen,
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

    /// Set up a slot for each signature of the budget, and one body hasher
    /// per (body canonicalization, `l=`). The signatures parsed when their
    /// fields ended.
    fn headers_ended(&mut self) {
        self.headers_done = true;
        let mut slots: heapless::Vec<Slot, SIGS> = heapless::Vec::new();
        let mut hashers: heapless::Vec<BodyHasher, SIGS> = heapless::Vec::new();
        for &field in &self.intake.signatures {
            let Some(sig) = self
                .intake
                .store
                .get(field)
                .and_then(|raw| DkimSignature::parse_field(raw).ok())
            else {
                // It parsed when it was examined.
                continue;
            };
            let (canon, limit) = (sig.canonicalization.body, sig.body_length);
            let hasher = match hashers
                .iter()
                .position(|h| h.canon() == canon && h.limit() == limit)
            {
                Some(i) => i,
                None => {
                    // At most one hasher per slot: fits. It reads past
                    // `l=` to learn whether the body goes on.
                    let _ = hashers.push(BodyHasher::measuring(canon, limit));
                    hashers.len().saturating_sub(1)
                }
            };
            // At most one slot per signature of the budget: fits.
            let _ = slots.push(Slot {
                field,
                hasher,
                key: KeyState::Wanted,
            });
        }
        self.slots = slots;
        self.hashers = hashers;
    }

    fn signature_at(&self, field: usize) -> Option<DkimSignature<'_>> {
        DkimSignature::parse_field(self.intake.store.get(field)?).ok()
    }

    fn request_for(&self, id: usize, field: usize) -> Option<KeyRequest<'_>> {
        let raw = self.intake.store.get(field)?;
        let (selector, domain) = selector_and_domain(raw)?;
        Some(KeyRequest {
            id,
            selector,
            domain,
        })
    }
}

/// `s=` and `d=` of a stored signature field that parsed, without decoding
/// the rest again.
fn selector_and_domain(raw_field: &[u8]) -> Option<(&str, &str)> {
    let (mut selector, mut domain) = (None, None);
    for tag in TagIter::new(field_value(raw_field)) {
        let tag = tag.ok()?;
        match tag.name {
            "s" => selector = Some(tag.value),
            "d" => domain = Some(tag.value),
            _ => {}
        }
    }
    Some((selector?, domain?))
}

fn same_key_name(a: &KeyRequest<'_>, b: &KeyRequest<'_>) -> bool {
    a.selector.eq_ignore_ascii_case(b.selector) && a.domain.eq_ignore_ascii_case(b.domain)
}

/// Verdicts that need no key: rsa-sha1, expiry, a future timestamp.
fn early_decision(options: &VerifyOptions, sig: &DkimSignature<'_>) -> Option<(Verdict, Reason)> {
    if sig.algorithm == SignatureAlgorithm::RsaSha1 {
        return Some((Verdict::Policy, Reason::Sha1));
    }
    if sig.expiration.is_some_and(|x| x < options.now) {
        return Some((Verdict::Policy, Reason::Expired));
    }
    if sig
        .timestamp
        .is_some_and(|t| t > options.now.saturating_add(options.max_clock_skew))
    {
        return Some((Verdict::Policy, Reason::TimestampInFuture));
    }
    None
}

/// Verify one signature with its keys (§6.1.3), then apply local policy.
fn evaluate<const B: usize, const F: usize, const SIGS: usize>(
    options: &VerifyOptions,
    intake: &Intake<B, F, SIGS>,
    field: usize,
    body: Option<&BodyHash>,
    key: &DkimKeys,
) -> Outcome {
    let keys = match key.keys() {
        Ok(keys) => keys,
        Err((verdict, reason)) => return Outcome::new(field, verdict, reason),
    };
    let Some(sig) = intake
        .store
        .get(field)
        .and_then(|raw| DkimSignature::parse_field(raw).ok())
    else {
        // Parsed once already; cannot happen.
        return Outcome::new(
            field,
            Verdict::PermError,
            Reason::Signature(SignatureFieldError::NotDkimSignature),
        );
    };
    let Some(body) = body else {
        return Outcome::new(field, Verdict::TempError, Reason::KeyNotProvided);
    };

    // The header hash is the same for every candidate key.
    let (before, after) = sig.hash_parts();
    let header_digest = header_hash(
        &intake.store,
        sig.canonicalization.header,
        sig.signed_headers().map(str::as_bytes),
        &[before, after],
    );

    let tries = keys.iter().map(|candidate| {
        verify_with(
            options,
            intake,
            field,
            &sig,
            body,
            &header_digest,
            candidate,
        )
    });
    best_of(tries, |o| o.verdict)
        .unwrap_or_else(|| Outcome::new(field, Verdict::PermError, Reason::KeyNotFound))
}

fn verify_with<const B: usize, const F: usize, const SIGS: usize>(
    options: &VerifyOptions,
    intake: &Intake<B, F, SIGS>,
    field: usize,
    sig: &DkimSignature<'_>,
    body: &BodyHash,
    header_digest: &[u8; 32],
    candidate: &CandidateKey,
) -> Outcome {
    let key_bits = candidate.key.rsa_bits();
    let testing = candidate.flags.testing;
    let done = |verdict, reason| Outcome {
        field,
        verdict,
        reason,
        testing,
        key_bits,
    };
    // A failure under a testing key is neutral (§3.6.1, security case 9).
    let failed = |reason| {
        if testing {
            done(Verdict::Neutral, Reason::TestingKey)
        } else {
            done(Verdict::Fail, reason)
        }
    };

    // t=s: i= must be in d= itself, not a subdomain (§3.6.1).
    if candidate.flags.strict && !sig.identity_domain().eq_ignore_ascii_case(sig.domain) {
        return failed(Reason::StrictIdentityMismatch);
    }
    if let Some(l) = sig.body_length
        && l > body.hashed_len
    {
        return done(Verdict::PermError, Reason::BodyLengthExceedsBody);
    }
    if sig.body_hash() != body.digest.as_slice() {
        return failed(Reason::BodyHashMismatch);
    }
    if !candidate.key.verify_sha256(header_digest, sig.signature()) {
        return failed(Reason::SignatureMismatch);
    }

    // The crypto holds; now local policy.
    if let Some(bits) = key_bits
        && bits < crate::dkim::public_key::WEAK_RSA_MODULUS_BITS
    {
        return done(Verdict::Policy, Reason::WeakKey { bits });
    }
    // l= that stops short of the body leaves the rest unsigned (§8.2);
    // one equal to the whole canonical body leaves nothing.
    if sig.body_length.is_some() && body.beyond_limit && !options.allow_body_length {
        return done(Verdict::Policy, Reason::BodyLengthLimit);
    }
    if intake.from_count != 1 {
        return done(
            Verdict::Policy,
            Reason::FromCount {
                count: intake.from_count,
            },
        );
    }
    if let Some(field_name) = unsigned_duplicate(&intake.store, sig) {
        return done(
            Verdict::Policy,
            Reason::UnsignedDuplicate { field: field_name },
        );
    }
    done(Verdict::Pass, Reason::Verified)
}

/// A single-instance field that `sig` signs, with more instances in the
/// message than `h=` names it: the extra instances are above the signed
/// ones (§5.4.2 selects from the bottom) and unsigned.
fn unsigned_duplicate<const B: usize, const F: usize>(
    store: &HeaderStore<B, F>,
    sig: &DkimSignature<'_>,
) -> Option<&'static str> {
    SINGLE_INSTANCE_FIELDS.into_iter().find(|name| {
        let signed = sig
            .signed_headers()
            .filter(|h| h.eq_ignore_ascii_case(name))
            .count();
        signed > 0 && store.count(name.as_bytes()) > signed
    })
}

// The tests sign and verify with RSA keys as well as Ed25519 ones.
#[cfg(all(test, feature = "rsa"))]
mod tests;
