//! Answering a verifier's key requests: the one key lookup that `mass
//! verify` and `mass serve` use, for DKIM, DomainKeys and ARC alike (and for
//! any later protocol whose verifier implements [`WantsKeys`]).
//!
//! ```text
//!  verifiers ──(id, name)…──► names, each once ──► KeySource, side by side
//!                                                  (at most MAX_CONCURRENT_LOOKUPS)
//!  verifiers ◄──KeyAnswer for each id── records ordered, junk dropped, ≤ 3
//! ```
//!
//! What every caller gets the same way:
//!
//! - the lookups of one message run side by side, so that five silent name
//!   servers cost one timeout, not five;
//! - a name asked for by several verifiers (a DKIM and a DomainKeys
//!   signature with the same `s=` and `d=`) is looked up once;
//! - the records handed over are chosen by [`records_to_try`]: sorted, junk
//!   skipped, at most [`super::MAX_KEY_RECORD_TRIES`] (RFC 6376 §6.1.2;
//!   security case 13);
//! - a failed lookup becomes a [`KeyAnswer`] through [`key_answer`] alone:
//!   a timeout or SERVFAIL is a temperror, no record or a bad name is
//!   "no key" (permerror).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use mass_core::arc::ChainValidator;
use mass_core::dkim::key_record::KeyRecord;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier};
use mass_core::dkim2::Dkim2Verifier;
use mass_core::domainkeys::DkMessageVerifier;

use super::{KeySource, LookupError, TxtRecord, key_record_candidates, normalize_name};

/// The most key lookups of one message in flight at once. It is above the
/// milter's most signatures per message (8 DKIM and 4 DomainKeys), so a
/// message the milter checks never waits more than one timeout; it bounds
/// what one message can ask of the resolver.
pub const MAX_CONCURRENT_LOOKUPS: usize = 16;

/// A verifier that asks for key records by name and takes the answer for
/// each request by its id. Core's verifiers implement it; a protocol added
/// later (ARC, DKIM2) implements it too and so shares the lookup.
pub trait WantsKeys {
    /// The keys still wanted: (request id, the name to query).
    fn key_names(&self) -> Vec<(usize, String)>;
    /// True if `record` is a key record in this protocol's syntax; the
    /// others at the same name (SPF, site verifications) are skipped.
    fn is_key_record(&self, record: &[u8]) -> bool;
    /// The answer for request `id`.
    fn take_key(&mut self, id: usize, answer: KeyAnswer<'_>);
}

impl<const B: usize, const F: usize, const S: usize> WantsKeys for MessageVerifier<B, F, S> {
    fn key_names(&self) -> Vec<(usize, String)> {
        self.key_requests()
            .map(|request| (request.id, request.to_string()))
            .collect()
    }

    fn is_key_record(&self, record: &[u8]) -> bool {
        KeyRecord::parse(record).is_ok()
    }

    fn take_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        self.provide_key(id, answer);
    }
}

/// ARC (RFC 8617 §5.2): the AMS and AS keys are DKIM key records at the
/// same names (§4.1.2, §4.1.3), so the lookup and its record filter are
/// DKIM's.
impl<const B: usize, const F: usize, const K: usize> WantsKeys for ChainValidator<B, F, K> {
    fn key_names(&self) -> Vec<(usize, String)> {
        self.key_requests()
            .map(|request| (request.id, request.to_string()))
            .collect()
    }

    fn is_key_record(&self, record: &[u8]) -> bool {
        KeyRecord::parse(record).is_ok()
    }

    fn take_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        self.provide_key(id, answer);
    }
}

/// DKIM2: its keys are DKIM key records at the same names.
impl<const B: usize, const F: usize, const K: usize, const R: usize> WantsKeys
    for Dkim2Verifier<B, F, K, R>
{
    fn key_names(&self) -> Vec<(usize, String)> {
        self.key_requests()
            .map(|request| (request.id, request.to_string()))
            .collect()
    }

    fn is_key_record(&self, record: &[u8]) -> bool {
        KeyRecord::parse(record).is_ok()
    }

    fn take_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        self.provide_key(id, answer);
    }
}

impl<const S: usize> WantsKeys for DkMessageVerifier<S> {
    fn key_names(&self) -> Vec<(usize, String)> {
        self.key_requests()
            .map(|(id, name)| (id, name.to_string()))
            .collect()
    }

    fn is_key_record(&self, record: &[u8]) -> bool {
        KeyRecord::parse_domainkeys(record).is_ok()
    }

    fn take_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        self.provide_key(id, answer);
    }
}

/// What the verifier is told when a lookup failed: a timeout or a server
/// failure is [`KeyAnswer::TempFail`] (temperror); NXDOMAIN, no TXT record
/// or a name that is not a DNS name is [`KeyAnswer::NotFound`] (permerror,
/// RFC 6376 §6.1.2 "no key for signature"). Every path maps errors here.
pub fn key_answer(error: LookupError) -> KeyAnswer<'static> {
    if error.is_temporary() {
        KeyAnswer::TempFail
    } else {
        KeyAnswer::NotFound
    }
}

/// The records of one lookup to hand a verifier: those `is_key_record`
/// accepts, in a fixed order, at most three (security case 13). When none
/// is accepted, the first few as they are, so the verdict says why.
pub fn records_to_try(
    records: &[TxtRecord],
    mut is_key_record: impl FnMut(&[u8]) -> bool,
) -> Vec<TxtRecord> {
    let chosen = key_record_candidates(records.to_vec(), &mut is_key_record);
    if chosen.is_empty() {
        key_record_candidates(records.to_vec(), |_| true)
    } else {
        chosen
    }
}

/// Looks up every key the `verifiers` ask for and hands the answers over.
/// Call it once their header blocks have ended. Each distinct name is
/// queried once, the queries run side by side (at most
/// [`MAX_CONCURRENT_LOOKUPS`] at a time), and each verifier gets the
/// records in its own syntax, chosen by [`records_to_try`], or the
/// [`key_answer`] for the error.
pub async fn provide_keys<K: KeySource>(verifiers: Vec<&mut (dyn WantsKeys + Send)>, keys: &K) {
    // (verifier, request id, index into `names`) for every request.
    let mut wanted: Vec<(usize, usize, usize)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (which, verifier) in verifiers.iter().enumerate() {
        for (id, name) in verifier.key_names() {
            let key = normalize_name(&name);
            let at = match names.iter().position(|n| normalize_name(n) == key) {
                Some(at) => at,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            };
            wanted.push((which, id, at));
        }
    }
    let lookups = names.iter().map(|name| keys.txt_records(name)).collect();
    let answers = join_bounded(lookups, MAX_CONCURRENT_LOOKUPS).await;
    let mut verifiers = verifiers;
    for (which, id, at) in wanted {
        let (Some(verifier), Some(answer)) = (verifiers.get_mut(which), answers.get(at)) else {
            continue;
        };
        match answer {
            Ok(records) => {
                let records = records_to_try(records, |r| verifier.is_key_record(r));
                let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                verifier.take_key(id, KeyAnswer::Records(&refs));
            }
            Err(error) => verifier.take_key(id, key_answer(*error)),
        }
    }
}

/// Polls the futures to completion, at most `limit` at a time (a new one
/// starts as one ends), and returns their outputs in order.
pub(crate) async fn join_bounded<F: Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    let limit = limit.max(1);
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    // Futures before `started` have been polled; the rest wait their turn.
    let mut started = 0usize;
    let mut done = 0usize;
    std::future::poll_fn(|cx| {
        loop {
            started = pending.len().min(done + limit).max(started);
            let before = done;
            for (future, output) in pending.iter_mut().zip(outputs.iter_mut()).take(started) {
                if output.is_none()
                    && let Poll::Ready(value) = future.as_mut().poll(cx)
                {
                    *output = Some(value);
                    done += 1;
                }
            }
            if done == pending.len() {
                return Poll::Ready(());
            }
            if done == before {
                return Poll::Pending;
            }
            // Some ended: start the next ones now, so they are polled
            // (and their wakers set) before this task sleeps.
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
