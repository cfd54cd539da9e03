//! The checks that need no key and no body: the chain's numbering, the
//! envelope binding of the newest hop, and the custody from each hop to
//! the next.

use super::{Dkim2Result, Envelope, Intake, Reason, Status, VerifyOptions};
use crate::dkim2::fields::{Binding, Dkim2Signature, decode_path, rcpt_items};
use crate::dkim2::{MAX_AGE, MAX_HOPS, MAX_PATH};
use crate::syntax::dns_name::is_same_or_subdomain;

/// The local part and domain of a path, angle brackets left out.
fn local_and_domain(path: &str) -> (&str, &str) {
    let inner = path.strip_prefix('<').unwrap_or(path);
    let inner = inner.strip_suffix('>').unwrap_or(inner);
    inner.rsplit_once('@').unwrap_or((inner, ""))
}

/// Two paths name one mailbox: the local part exactly, the domain without
/// regard to case.
fn same_mailbox(a: &str, b: &str) -> bool {
    let (al, ad) = local_and_domain(a);
    let (bl, bd) = local_and_domain(b);
    al == bl && ad.eq_ignore_ascii_case(bd)
}

fn is_path(p: &str) -> bool {
    p.len() >= 2 && p.starts_with('<') && p.ends_with('>')
}

/// The header-block checks, in the order the verdict is decided: `Ok(n)`
/// with n hops when the chain may be checked further.
pub(super) fn structure<const B: usize, const F: usize>(
    intake: &Intake<B, F>,
    options: &VerifyOptions,
) -> Result<u32, Dkim2Result> {
    let perm = |hops, reason| Err(Dkim2Result::new(Status::PermError, hops, reason));
    if let Some(reason) = intake.broken {
        return perm(
            u32::try_from(intake.signature_count).unwrap_or(u32::MAX),
            reason,
        );
    }
    let n = intake.signature_count;
    if n == 0 {
        if intake.instance_count > 0 {
            return perm(0, Reason::UnsignedInstance);
        }
        return Err(Dkim2Result::new(Status::None, 0, Reason::NoSignature));
    }
    let hops = u32::try_from(n).unwrap_or(u32::MAX);
    if n > MAX_HOPS {
        return perm(hops, Reason::TooManyHops);
    }
    // i= runs 1..=n, each once.
    for i in 1..=hops {
        if intake.signature(i).is_none() {
            return perm(hops, Reason::HopMissing { instance: i });
        }
    }
    let sigs = || (1..=hops).filter_map(|i| intake.signature(i));
    for sig in sigs() {
        let i = sig.instance;
        if let Binding::Envelope { mail_from, rcpt_to } = sig.binding {
            let mut buf = [0u8; MAX_PATH];
            let from_ok = decode_path(mail_from, &mut buf).is_ok_and(is_path);
            let rcpts_ok = rcpt_items(rcpt_to).all(|r| {
                let mut buf = [0u8; MAX_PATH];
                decode_path(r, &mut buf).is_ok_and(is_path)
            });
            if options.strict && !(from_ok && rcpts_ok) {
                return perm(hops, Reason::NotAPath { instance: i });
            }
        }
        if options.now.saturating_sub(sig.timestamp) > MAX_AGE {
            return perm(hops, Reason::Expired { instance: i });
        }
    }
    // m= runs 1..=M, each once, and M is the newest signature's m=.
    let m = u32::try_from(intake.instance_count).unwrap_or(u32::MAX);
    for r in 1..=m {
        if intake.instance(r).is_none() {
            return perm(hops, Reason::InstanceMissing { revision: r });
        }
    }
    if m == 0 {
        return perm(hops, Reason::InstanceMissing { revision: 1 });
    }
    let newest = intake.signature(hops).ok_or(Dkim2Result::new(
        Status::PermError,
        hops,
        Reason::HopMissing { instance: hops },
    ))?;
    if newest.revision != m {
        return perm(
            hops,
            Reason::RevisionMismatch {
                instance: hops,
                revision: newest.revision,
                newest: m,
            },
        );
    }
    for sig in sigs() {
        if sig.revision > m {
            return perm(
                hops,
                Reason::RevisionMismatch {
                    instance: sig.instance,
                    revision: sig.revision,
                    newest: m,
                },
            );
        }
    }
    for i in 2..=hops {
        if let (Some(prev), Some(cur)) =
            (intake.signature(i.saturating_sub(1)), intake.signature(i))
        {
            custody(&prev, &cur).map_err(|r| Dkim2Result::new(Status::PermError, hops, r))?;
        }
    }
    Ok(hops)
}

/// The newest hop was signed for this very transaction: its `mf=` is the
/// MAIL FROM, every RCPT TO is in its `rt=`, and its `mf=` lies within
/// its `d=` (§7.7). This is what defeats replay to other recipients.
pub(super) fn binding(newest: &Dkim2Signature<'_>, envelope: &Envelope<'_>) -> Result<(), Reason> {
    let i = newest.instance;
    let Binding::Envelope { mail_from, rcpt_to } = newest.binding else {
        return Err(Reason::NextDomainAtEnd { instance: i });
    };
    let mut buf = [0u8; MAX_PATH];
    let signed_from =
        decode_path(mail_from, &mut buf).map_err(|_| Reason::NotAPath { instance: i })?;
    if !same_mailbox(envelope.mail_from, signed_from) {
        return Err(Reason::MailFromMismatch { instance: i });
    }
    for rcpt in envelope.rcpt_to {
        let listed = rcpt_items(rcpt_to).any(|item| {
            let mut buf = [0u8; MAX_PATH];
            decode_path(item, &mut buf).is_ok_and(|p| same_mailbox(rcpt, p))
        });
        if !listed {
            return Err(Reason::RcptToMismatch { instance: i });
        }
    }
    let (_, domain) = local_and_domain(signed_from);
    if signed_from != "<>" && !is_same_or_subdomain(domain.as_bytes(), newest.domain.as_bytes()) {
        return Err(Reason::MailFromOutsideDomain { instance: i });
    }
    Ok(())
}

/// Hop `cur` took the message from hop `prev`: `prev` named it with
/// `nd=`, or `cur`'s MAIL FROM domain (its `d=` for an `nd=` hop) lies
/// within the domain of one of `prev`'s recipients.
fn custody(prev: &Dkim2Signature<'_>, cur: &Dkim2Signature<'_>) -> Result<(), Reason> {
    let i = cur.instance;
    match prev.binding {
        Binding::NextDomain(nd) => {
            if !nd.eq_ignore_ascii_case(cur.domain) {
                return Err(Reason::NextDomainMismatch { instance: i });
            }
        }
        Binding::Envelope { rcpt_to, .. } => {
            let mut buf = [0u8; MAX_PATH];
            let cur_domain = match cur.binding {
                Binding::Envelope { mail_from, .. } => {
                    let path = decode_path(mail_from, &mut buf)
                        .map_err(|_| Reason::NotAPath { instance: i })?;
                    local_and_domain(path).1
                }
                Binding::NextDomain(_) => cur.domain,
            };
            let held = rcpt_items(rcpt_to).any(|item| {
                let mut buf = [0u8; MAX_PATH];
                decode_path(item, &mut buf).is_ok_and(|p| {
                    let (_, rcpt_domain) = local_and_domain(p);
                    is_same_or_subdomain(cur_domain.as_bytes(), rcpt_domain.as_bytes())
                })
            });
            if !held {
                return Err(Reason::CustodyBreak { instance: i });
            }
        }
    }
    Ok(())
}
