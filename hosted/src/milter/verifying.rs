//! Verifying one message with core's [`MessageVerifier`] (RFC 6376 §6,
//! RFC 8301 policy) and writing our Authentication-Results (RFC 8601):
//! incoming fields that claim our authserv-id are deleted (RFC 8601 §5;
//! security case 7) and ours goes on top.
//!
//! Header fields go in at EOH, body chunks as they come; once core needs
//! no more body (or there is no signature) the MTA is told to skip the
//! rest. Key records are fetched at end of message through
//! [`dns::provide_keys`], the lookup `mass verify` uses too, from the
//! [`KeySource`] of the configuration (DNS, or a zone file for tests).
//!
//! A header section over `max_header_bytes` is not verified: the fields
//! past the limit were dropped, so the message gets one `dkim=permerror`
//! that says so, never a verdict on part of its header.
//!
//! DomainKey-Signature fields (RFC 4870) are checked beside, by core's
//! DomainKeys verifier ([`crate::auth_results::domainkeys`]), and added as legacy
//! `domainkeys=` results that never count as a DKIM pass.

use mass_core::BodyInterest;
use mass_core::arc::{ChainValidator, ValidateOptions};
use mass_core::dkim::verify::{MessageVerifier, VerifyOptions};

use crate::auth_results::domainkeys::{self, HostDkVerifier};
use crate::auth_results::{self, DkimResult, SignatureResult};
use crate::cli::dkim2::HostDkim2Verifier;
use crate::dns::{self, KeySource, WantsKeys};

use super::State;
use super::headers::HeaderBuf;

/// Room for the header fields the verifier keeps (signed ones and the
/// DKIM-Signature fields themselves).
const HEADER_BYTES: usize = 64 * 1024;
/// The most kept header fields.
const HEADER_FIELDS: usize = 128;
/// The most signatures checked (the default `max_signatures` is 5).
const SIGNATURES: usize = 8;

pub(super) type Verifier = MessageVerifier<HEADER_BYTES, HEADER_FIELDS, SIGNATURES>;

/// The most distinct keys one ARC validation looks up (the core's default
/// budget, `DEFAULT_MAX_KEY_LOOKUPS`, is lower).
const ARC_KEYS: usize = 16;
/// The ARC chain validator (RFC 8617 §5.2): it keeps the ARC fields (at
/// most 3 × 50 of a chain that can pass) and the fields the newest AMS signs.
type ArcValidator = ChainValidator<HEADER_BYTES, 192, ARC_KEYS>;

/// The header fields that make a message worth an ARC validation.
const ARC_FIELDS: [&str; 3] = [
    "ARC-Seal",
    "ARC-Message-Signature",
    "ARC-Authentication-Results",
];

/// The permerror reason when the header section passed `max_header_bytes`.
const OVER_MAX_HEADER_BYTES: &str = "header section over max_header_bytes, not verified";

/// What to do to the message at its end.
#[derive(Debug)]
pub struct VerifyOutcome {
    /// 1-based indices among Authentication-Results fields to delete, in
    /// the order to delete them (highest first).
    pub delete_auth_results: Vec<usize>,
    /// The value of our Authentication-Results field (after the colon),
    /// folded with LF + tab.
    pub auth_results: String,
    /// The verdicts, for the log line.
    pub summary: String,
}

/// The verifier for one message.
#[derive(Debug)]
pub struct VerifyJob {
    verifier: Option<Box<Verifier>>,
    /// The DomainKeys verifier, when the message has a DomainKey-Signature
    /// (it needs the whole body; a failure of its own only drops it).
    domainkeys: Option<Box<HostDkVerifier>>,
    /// The ARC chain validator, when the message has ARC fields; its
    /// `arc=` result goes into our Authentication-Results, where `[arc]`
    /// sealing reads it when the message leaves.
    arc: Option<Box<ArcValidator>>,
    /// Why the ARC chain could not be validated, when it could not.
    arc_broken: Option<String>,
    /// The DKIM2 verifier, when the message has DKIM2 fields and `[dkim2]
    /// verify` is on; its `dkim2=` result goes into our field.
    dkim2: Option<Box<HostDkim2Verifier>>,
    /// Why the DKIM2 chain could not be verified, when it could not.
    dkim2_broken: Option<String>,
    /// Why the message could not be verified, when it could not.
    broken: Option<String>,
    body_done: bool,
}

impl VerifyJob {
    /// Start verifying; the header fields are all known at this point.
    /// `now` (Unix seconds) is the time `t=` and `x=` are checked against.
    pub fn start(state: &State, headers: &HeaderBuf, now: u64) -> VerifyJob {
        let mut job = VerifyJob {
            verifier: None,
            domainkeys: None,
            arc: None,
            arc_broken: None,
            dkim2: None,
            dkim2_broken: None,
            broken: None,
            body_done: false,
        };
        if headers.overflowed() {
            // Fields past the limit were dropped: a verdict now would be on
            // part of the header (a signature or a signed field may be among
            // the dropped ones). One permerror for the message, no body.
            job.broken = Some(OVER_MAX_HEADER_BYTES.into());
            job.body_done = true;
            return job;
        }
        if headers.values("DomainKey-Signature").next().is_some() {
            let mut dk = domainkeys::new_verifier();
            let fed = headers
                .fields()
                .try_for_each(|(_, field)| dk.header_field(field))
                .and_then(|()| dk.end_of_headers());
            if fed.is_ok() {
                job.domainkeys = Some(dk);
            }
        }
        if ARC_FIELDS
            .iter()
            .any(|name| headers.values(name).next().is_some())
        {
            let mut arc = Box::new(ArcValidator::new(ValidateOptions::new(now)));
            let fed = headers
                .fields()
                .try_for_each(|(_, field)| arc.header_field(field))
                .and_then(|()| arc.end_of_headers());
            match fed {
                Ok(()) => job.arc = Some(arc),
                Err(e) => job.arc_broken = Some(format!("ARC header section not validatable: {e}")),
            }
        }
        let has_dkim2 = ["DKIM2-Signature", "Message-Instance"]
            .iter()
            .any(|name| headers.values(name).next().is_some());
        if state.config.dkim2.verify && has_dkim2 {
            let options = mass_core::dkim2::VerifyOptions::new(now);
            let mut v = Box::new(HostDkim2Verifier::new(options));
            let fed = headers
                .fields()
                .try_for_each(|(_, field)| v.header_field(field))
                .and_then(|()| v.end_of_headers());
            match fed {
                Ok(()) => job.dkim2 = Some(v),
                Err(e) => {
                    job.dkim2_broken = Some(format!("DKIM2 header section not verifiable: {e}"))
                }
            }
        }
        if headers.values("DKIM-Signature").next().is_none() {
            // Nothing to check: dkim=none, and no body needed.
            job.body_done = true;
            return job;
        }
        let mut verifier = Box::new(Verifier::new(VerifyOptions::new(now)));
        let fed = headers
            .fields()
            .try_for_each(|(_, field)| verifier.header_field(field))
            .and_then(|()| verifier.end_of_headers());
        match fed {
            Ok(()) => job.verifier = Some(verifier),
            Err(e) => {
                job.broken = Some(format!("header section not verifiable: {e}"));
                job.body_done = true;
            }
        }
        job
    }

    /// Leave DKIM2 out: for mail that leaves through us, whose chain is
    /// bound to the transaction that brought it, not to this one (the hop
    /// we sign on exit binds it to this one).
    pub fn skip_dkim2(&mut self) {
        self.dkim2 = None;
        self.dkim2_broken = None;
    }

    /// Feed a body chunk; false when the body is no longer needed.
    pub fn body(&mut self, chunk: &[u8]) -> bool {
        if let Some(dk) = self.domainkeys.as_mut()
            && dk.body(chunk).is_err()
        {
            self.domainkeys = None;
        }
        if let Some(arc) = self.arc.as_mut()
            && let Err(e) = arc.body(chunk)
        {
            self.arc = None;
            self.arc_broken = Some(format!("ARC body not validatable: {e}"));
        }
        if let Some(v) = self.dkim2.as_mut()
            && let Err(e) = v.body(chunk)
        {
            self.dkim2 = None;
            self.dkim2_broken = Some(format!("DKIM2 body not verifiable: {e}"));
        }
        let dk_wants_more = self.domainkeys.is_some() || self.arc.is_some() || self.dkim2.is_some();
        if self.body_done {
            return dk_wants_more;
        }
        let Some(v) = self.verifier.as_mut() else {
            return false;
        };
        match v.body(chunk) {
            Ok(BodyInterest::Done) => self.body_done = true,
            Ok(_) => {}
            Err(e) => {
                self.broken = Some(format!("body not verifiable: {e}"));
                self.body_done = true;
            }
        }
        !self.body_done || dk_wants_more
    }

    /// True when key records must be fetched before [`VerifyJob::finish`].
    pub fn needs_keys(&self) -> bool {
        let dk = self
            .domainkeys
            .as_ref()
            .is_some_and(|v| v.key_requests().next().is_some());
        let arc = self
            .arc
            .as_ref()
            .is_some_and(|v| v.key_requests().next().is_some());
        let dkim2 = self
            .dkim2
            .as_ref()
            .is_some_and(|v| v.key_requests().next().is_some());
        dk || arc
            || dkim2
            || self.broken.is_none()
                && self
                    .verifier
                    .as_ref()
                    .is_some_and(|v| v.key_requests().next().is_some())
    }

    /// Fetch every key record the verifiers ask for, through the one key
    /// lookup `mass verify` uses too: all names side by side, each once.
    pub async fn fetch_keys<K: KeySource>(&mut self, source: &K) {
        let mut verifiers: Vec<&mut (dyn WantsKeys + Send)> = Vec::new();
        if let Some(dk) = self.domainkeys.as_mut() {
            verifiers.push(&mut **dk);
        }
        if let Some(arc) = self.arc.as_mut() {
            verifiers.push(&mut **arc);
        }
        if let Some(v) = self.dkim2.as_mut() {
            verifiers.push(&mut **v);
        }
        if let (Some(v), None) = (self.verifier.as_mut(), &self.broken) {
            verifiers.push(&mut **v);
        }
        dns::provide_keys(verifiers, source).await;
    }

    /// The verdicts and the header changes.
    pub fn finish(
        self,
        state: &State,
        headers: &HeaderBuf,
        envelope: &super::dkim2::Envelope,
    ) -> VerifyOutcome {
        let id = &state.config.authserv_id;
        let fields = headers
            .fields()
            .map(|(name, field)| (name, field.get(name.len() + 1..).unwrap_or_default()));
        let mut delete_auth_results = auth_results::own_fields_to_delete(fields, id);
        // Authentication-Results fields past max_header_bytes were never
        // read, so whether they claim our authserv-id is unknown: delete
        // them all, last first, so that a forged result hidden behind
        // padding cannot reach the reader (security case 7).
        let kept = headers
            .fields()
            .filter(|(name, _)| auth_results::is_authentication_results(name))
            .count();
        let unread = (kept + 1..=kept + headers.auth_results_dropped()).rev();
        delete_auth_results.splice(0..0, unread);
        let mut results = Vec::new();
        let mut broken = self.broken;
        if let (Some(v), None) = (self.verifier, &broken) {
            match v.finish() {
                Ok(verification) => results = auth_results::signature_results(&verification),
                Err(e) => broken = Some(format!("not verifiable: {e}")),
            }
        }
        if let Some(why) = &broken {
            results.push(SignatureResult {
                result: Some(DkimResult::Permerror),
                reason: Some(why.clone()),
                ..SignatureResult::default()
            });
        }
        let dk_reports = self
            .domainkeys
            .map(domainkeys::reports)
            .and_then(Result::ok)
            .unwrap_or_default();
        let mut field = auth_results::write_field(id, &results, "\n\t");
        domainkeys::append_to_field(&mut field, &dk_reports, "\n\t");
        let arc = match (self.arc, self.arc_broken) {
            (Some(v), None) => match v.finish() {
                Ok(result) => Some(auth_results::arc_entry(&result)),
                Err(e) => Some(auth_results::arc_fail_entry(&format!(
                    "not validatable: {e}"
                ))),
            },
            (_, Some(why)) => Some(auth_results::arc_fail_entry(&why)),
            (None, None) => None,
        };
        if let Some(arc) = &arc {
            auth_results::append_resinfo(&mut field, arc, "\n\t");
        }
        let rcpts: Vec<&str> = envelope.rcpt_to.iter().map(String::as_str).collect();
        let dkim2 = match (self.dkim2, self.dkim2_broken) {
            (Some(v), None) => match v.finish(&mass_core::dkim2::Envelope {
                mail_from: &envelope.mail_from,
                rcpt_to: &rcpts,
            }) {
                Ok(result) => Some(auth_results::dkim2_entry(&result)),
                Err(e) => Some(format!("dkim2=permerror (not verifiable: {e})")),
            },
            (_, Some(why)) => Some(format!("dkim2=permerror ({why})")),
            (None, None) => None,
        };
        if let Some(dkim2) = &dkim2 {
            auth_results::append_resinfo(&mut field, dkim2, "\n\t");
        }
        let value = field
            .split_once(':')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let dk_summary: String = dk_reports
            .iter()
            .map(|r| {
                format!(
                    " domainkeys:{}/{}",
                    r.result,
                    r.domain.as_deref().unwrap_or("-")
                )
            })
            .collect();
        let dk_summary = match arc.as_deref().and_then(|a| a.split(' ').next()) {
            Some(arc) => format!("{dk_summary} {arc}"),
            None => dk_summary,
        };
        let dk_summary = match dkim2.as_deref().and_then(|a| a.split(' ').next()) {
            Some(d) => format!("{dk_summary} {d}"),
            None => dk_summary,
        };
        let summary = if results.is_empty() {
            "none".to_string() + &dk_summary
        } else {
            results
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}/{}",
                        r.result.map(|x| x.as_str()).unwrap_or("permerror"),
                        r.domain.as_deref().unwrap_or("-"),
                        r.selector.as_deref().unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
                + &dk_summary
        };
        VerifyOutcome {
            delete_auth_results,
            auth_results: value,
            summary,
        }
    }
}

#[cfg(test)]
mod tests;
