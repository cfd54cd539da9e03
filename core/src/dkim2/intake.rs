//! The header side DKIM2's verifier and signer share: every field is
//! kept in a bounded [`HeaderStore`] (the header hash covers all but trace
//! fields), and each DKIM2 field is filed by its `i=` or `m=` as it ends.

use core::fmt;

use super::MAX_HOPS;
use super::fields::{Dkim2Signature, INSTANCE_FIELD, MessageInstance, SIGNATURE_FIELD};
use super::verify::Reason;
use crate::error::Error;
use crate::header::{FieldSink, HeaderStore};

/// Which DKIM2 field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FieldKind {
    /// DKIM2-Signature.
    Signature,
    /// Message-Instance.
    Instance,
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldKind::Signature => SIGNATURE_FIELD,
            FieldKind::Instance => INSTANCE_FIELD,
        })
    }
}

/// The header side: every field is kept, and each DKIM2 field is filed by
/// its `i=` or `m=` as it ends.
#[derive(Debug, Clone)]
pub(crate) struct Intake<const B: usize, const F: usize> {
    pub(crate) store: HeaderStore<B, F>,
    signatures: [Option<u16>; MAX_HOPS],
    instances: [Option<u16>; MAX_HOPS],
    pub(crate) signature_count: usize,
    pub(crate) instance_count: usize,
    /// The first fault in a DKIM2 field; DKIM2 fields after it are not
    /// kept.
    pub(crate) broken: Option<Reason>,
    examining: Option<FieldKind>,
}

impl<const B: usize, const F: usize> Intake<B, F> {
    pub(crate) fn new() -> Self {
        Intake {
            store: HeaderStore::new(),
            signatures: [None; MAX_HOPS],
            instances: [None; MAX_HOPS],
            signature_count: 0,
            instance_count: 0,
            broken: None,
            examining: None,
        }
    }

    fn file_last(&mut self, kind: FieldKind) -> Result<(), Error> {
        let index = self.store.len().saturating_sub(1);
        let raw = self.store.get(index).unwrap_or_default();
        let number = match kind {
            FieldKind::Signature => Dkim2Signature::parse_field(raw).map(|s| s.instance),
            FieldKind::Instance => MessageInstance::parse_field(raw).map(|m| m.revision),
        };
        let number = match number {
            Ok(n) => n,
            Err(error) => {
                self.broken = Some(Reason::Field { kind, error });
                return Ok(());
            }
        };
        let index = u16::try_from(index).map_err(|_| Error::HeaderFieldsCapacity {
            limit: usize::from(u16::MAX),
        })?;
        let table = match kind {
            FieldKind::Signature => &mut self.signatures,
            FieldKind::Instance => &mut self.instances,
        };
        let slot = usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| table.get_mut(n));
        match slot {
            None => self.broken = Some(Reason::TooManyHops),
            Some(Some(_)) => {
                self.broken = Some(match kind {
                    FieldKind::Signature => Reason::DuplicateHop { instance: number },
                    FieldKind::Instance => Reason::DuplicateInstance { revision: number },
                })
            }
            Some(slot) => *slot = Some(index),
        }
        Ok(())
    }

    /// The signature with `i=instance`.
    pub(crate) fn signature(&self, instance: u32) -> Option<Dkim2Signature<'_>> {
        let raw = self.signature_field(instance)?;
        Dkim2Signature::parse_field(raw).ok()
    }

    /// The raw signature field with `i=instance`.
    pub(crate) fn signature_field(&self, instance: u32) -> Option<&[u8]> {
        let n = usize::try_from(instance).ok()?.checked_sub(1)?;
        let index = (*self.signatures.get(n)?)?;
        self.store.get(usize::from(index))
    }

    /// The Message-Instance with `m=revision`.
    pub(crate) fn instance(&self, revision: u32) -> Option<MessageInstance<'_>> {
        MessageInstance::parse_field(self.instance_field(revision)?).ok()
    }

    /// The raw Message-Instance field with `m=revision`.
    pub(crate) fn instance_field(&self, revision: u32) -> Option<&[u8]> {
        let n = usize::try_from(revision).ok()?.checked_sub(1)?;
        let index = (*self.instances.get(n)?)?;
        self.store.get(usize::from(index))
    }
}

impl<const B: usize, const F: usize> FieldSink for Intake<B, F> {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        self.examining = None;
        let kind = if name.eq_ignore_ascii_case(SIGNATURE_FIELD.as_bytes()) {
            self.signature_count = self.signature_count.saturating_add(1);
            Some(FieldKind::Signature)
        } else if name.eq_ignore_ascii_case(INSTANCE_FIELD.as_bytes()) {
            self.instance_count = self.instance_count.saturating_add(1);
            Some(FieldKind::Instance)
        } else {
            None
        };
        if kind.is_some() && self.broken.is_some() {
            // The chain is a permerror whatever these say.
            return Ok(false);
        }
        self.store.begin()?;
        self.examining = kind;
        Ok(true)
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.store.extend(bytes)
    }

    fn end_field(&mut self) -> Result<(), Error> {
        self.store.end();
        match self.examining.take() {
            Some(kind) => self.file_last(kind),
            None => Ok(()),
        }
    }
}
