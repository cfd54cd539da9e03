//! DomainKeys verification (RFC 4870 §3.5).

use super::*;

/// Why a DomainKeys signature got its verdict.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum DkReason {
    /// Everything checked out.
    Verified,
    /// The DomainKey-Signature field was refused (permerror).
    Signature(DkSignatureError),
    /// No key record: NXDOMAIN or no TXT record (permerror).
    KeyNotFound,
    /// The key lookup failed for now (temperror).
    KeyLookupFailed,
    /// The caller never answered the key request (temperror).
    KeyNotProvided,
    /// The key record could not be parsed (permerror).
    KeyRecord(KeyRecordError),
    /// `p=` is empty: the key was revoked (fail).
    KeyRevoked,
    /// The key bytes are not a usable RSA key (permerror).
    PublicKey(PublicKeyError),
    /// No Sender or From field, or no address in it (permerror).
    NoSendingAddress,
    /// The fields `h=` names, below the signature, did not fit the
    /// verifier's store (permerror: no verdict on part of the header).
    HeaderCapacity,
    /// `d=` is neither the sending domain nor a parent of it (fail;
    /// §3.3 `d=`).
    DomainMismatch,
    /// The key's `g=` does not match the local part of the sending address
    /// (fail; §3.2.3).
    GranularityMismatch,
    /// The signature does not verify (fail).
    SignatureMismatch,
    /// The key has `t=y` and the signature failed (neutral; §3.2.3).
    TestingKey,
    /// The signature verifies, but with an RSA key under 1024 bits
    /// (policy).
    WeakKey {
        /// The modulus size.
        bits: u32,
    },
    /// The signature verifies, but the field with the sending address is
    /// not signed: it is above the signature field or not in `h=`
    /// (policy).
    SendingFieldNotSigned,
    /// The signature verifies, but the message has several From or several
    /// Sender fields (policy; security case 1).
    SeveralSendingFields {
        /// Which field is repeated.
        field: SendingField,
    },
}

impl fmt::Display for DkReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DkReason::Verified => f.write_str("signature verified"),
            DkReason::Signature(e) => write!(f, "{e}"),
            DkReason::KeyNotFound => f.write_str("no key record"),
            DkReason::KeyLookupFailed => f.write_str("key lookup failed"),
            DkReason::KeyNotProvided => f.write_str("key not provided"),
            DkReason::KeyRecord(e) => write!(f, "{e}"),
            DkReason::KeyRevoked => f.write_str("key revoked (empty p=)"),
            DkReason::PublicKey(e) => write!(f, "{e}"),
            DkReason::NoSendingAddress => f.write_str("no sending address (Sender or From)"),
            DkReason::HeaderCapacity => {
                f.write_str("the fields h= names are over the verifier's capacity")
            }
            DkReason::DomainMismatch => {
                f.write_str("d= is not the sending domain or a parent of it")
            }
            DkReason::GranularityMismatch => f.write_str("key g= does not match the sender"),
            DkReason::SignatureMismatch => f.write_str("signature did not verify"),
            DkReason::TestingKey => f.write_str("failed under a testing key (t=y)"),
            DkReason::WeakKey { bits } => write!(f, "RSA key of {bits} bits is too weak"),
            DkReason::SendingFieldNotSigned => {
                f.write_str("the sending address field is not signed")
            }
            DkReason::SeveralSendingFields { field } => {
                write!(f, "several {} fields", field.as_str())
            }
        }
    }
}

/// Sender and From fields above the signature field, which the verifier of
/// that signature does not see (RFC 4870 §3.1 takes the sending address
/// from the whole message).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldsAbove {
    /// Sender fields above the signature.
    pub sender: u32,
    /// From fields above the signature.
    pub from: u32,
}

/// The granularity `g=` of a DomainKeys key (§3.2.3).
#[derive(Debug, Clone)]
pub(super) enum Granularity {
    /// Absent or empty: any local part.
    Any,
    /// A literal, or a pattern with one `*` matching any run.
    Pattern(heapless::Vec<u8, GRANULARITY_CAP>),
    /// Longer than any local part can be.
    Nothing,
}

impl Granularity {
    pub(super) fn from_record(g: Option<&str>) -> Self {
        match g.map(str::trim) {
            None | Some("") => Granularity::Any,
            Some(g) => match heapless::Vec::from_slice(g.as_bytes()) {
                Ok(v) => Granularity::Pattern(v),
                Err(_) => Granularity::Nothing,
            },
        }
    }

    pub(super) fn matches(&self, local: &[u8]) -> bool {
        match self {
            Granularity::Any => true,
            Granularity::Nothing => false,
            Granularity::Pattern(p) => match p.iter().position(|&b| b == b'*') {
                None => p.as_slice() == local,
                Some(star) => {
                    let prefix = p.get(..star).unwrap_or_default();
                    let suffix = p.get(star.saturating_add(1)..).unwrap_or_default();
                    local.len() >= prefix.len().saturating_add(suffix.len())
                        && local.starts_with(prefix)
                        && local.ends_with(suffix)
                }
            },
        }
    }
}

/// A key that loaded.
#[derive(Debug, Clone)]
pub(super) struct DkKey {
    pub(super) key: RsaKey,
    pub(super) testing: bool,
    pub(super) granularity: Granularity,
}

impl NoKeyReason for DkReason {
    const NOT_FOUND: Self = DkReason::KeyNotFound;
    const LOOKUP_FAILED: Self = DkReason::KeyLookupFailed;
    const NOT_PROVIDED: Self = DkReason::KeyNotProvided;
}

/// What a DomainKeys signature's key lookup holds.
pub(super) type DkKeyState = KeyState<DkKey, DkReason>;

/// The key a verifier needs: the TXT records of `selector._domainkey.domain`
/// (RFC 4870 §3.2.2, the same name as DKIM's). Its `Display` is that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DkKeyName<'v> {
    /// `s=`.
    pub selector: &'v str,
    /// `d=`.
    pub domain: &'v str,
}

impl fmt::Display for DkKeyName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}._domainkey.{}", self.selector, self.domain)
    }
}

/// The result of one DomainKey-Signature (RFC 8601 `domainkeys=`).
#[derive(Debug, Clone)]
#[must_use]
pub struct DkResult {
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: DkReason,
    /// `d=`, if the signature parsed.
    pub domain: Option<heapless::String<253>>,
    /// `s=`, if the signature parsed.
    pub selector: Option<heapless::String<253>>,
    /// The sending address and the field it came from, if one was found
    /// below the signature.
    pub sending: Option<(SendingField, Mailbox)>,
    /// The key had `t=y`.
    pub testing: bool,
    /// The RSA modulus size of the key used.
    pub key_bits: Option<u32>,
}

/// The verifier of one DomainKey-Signature field (RFC 4870 §3.6), run by
/// a [`DkMessageVerifier`]: it is made from the field, fed the header
/// fields below it through its [`FieldSink`] methods, told where the
/// header block ends (with the message verifier's store of the fields its
/// `h=` names), fed the body, given the key records, then finished.
#[derive(Debug, Clone)]
pub(super) struct DkVerifier {
    pub(super) decided: Option<(Verdict, DkReason)>,
    /// Which DomainKey-Signature field of the message this is (1 for the
    /// top one): results come out in this order.
    pub(super) ordinal: usize,
    /// Where the fields below this signature start in the store.
    pub(super) first_stored: usize,
    pub(super) domain: heapless::String<253>,
    pub(super) selector: heapless::String<253>,
    pub(super) signature: heapless::Vec<u8, SIGNATURE_CAP>,
    pub(super) above: FieldsAbove,
    pub(super) intake: DkIntake,
    pub(super) body: BodyCanonicalizer,
    pub(super) headers_done: bool,
    pub(super) keys: DkKeyState,
}

impl DkVerifier {
    /// The verifier of a signature that parsed, the `ordinal`-th
    /// DomainKey-Signature field, with the Sender and From fields counted
    /// `above` it, whose fields below start at `first_stored` in the store.
    pub(super) fn from_signature(
        sig: &DkSignature<'_>,
        above: FieldsAbove,
        ordinal: usize,
        first_stored: usize,
    ) -> Result<Self, DkSignatureError> {
        let only = match sig.headers {
            None => None,
            Some(_) => {
                let mut names = Names::new();
                for name in sig.header_names() {
                    names
                        .push(name.as_bytes())
                        .map_err(|_| DkSignatureError::TooManyHeaderNames)?;
                }
                Some(names)
            }
        };
        // check_dns_name bounds both names to 253 bytes; the signature was
        // decoded into a buffer of the same capacity.
        let domain = heapless::String::try_from(sig.domain)
            .map_err(|_| DkSignatureError::BadDomain(NameError::TooLong))?;
        let selector = heapless::String::try_from(sig.selector)
            .map_err(|_| DkSignatureError::BadSelector(NameError::TooLong))?;
        let signature = heapless::Vec::from_slice(sig.signature())
            .map_err(|_| DkSignatureError::BadBase64(Base64Error::OutputTooSmall))?;
        let deferred = only.is_some();
        Ok(DkVerifier {
            decided: None,
            ordinal,
            first_stored,
            domain,
            selector,
            signature,
            above,
            intake: DkIntake::new(sig.canonicalization, only, false, deferred),
            body: BodyCanonicalizer::domainkeys(sig.canonicalization),
            headers_done: false,
            keys: DkKeyState::Wanted,
        })
    }

    /// The field begun last is one to store until the header block ends.
    pub(super) fn wants_stored(&self) -> bool {
        self.decided.is_none() && self.intake.wants_stored()
    }

    /// The key record to look up, or `None` if the result is already known
    /// or a key was given.
    pub(super) fn key_request(&self) -> Option<DkKeyName<'_>> {
        match (&self.decided, &self.keys) {
            (None, DkKeyState::Wanted) => Some(DkKeyName {
                selector: &self.selector,
                domain: &self.domain,
            }),
            _ => None,
        }
    }

    /// The header block has ended. With `h=`, the fields it names are
    /// hashed now, from `store`, in `h=` order; if the store ran out of
    /// room (`store_full`) the result is a permerror, not a verdict on part
    /// of the header.
    pub(super) fn end_of_headers<const B: usize, const F: usize>(
        &mut self,
        store: &HeaderStore<B, F>,
        store_full: bool,
    ) {
        if core::mem::replace(&mut self.headers_done, true) || self.decided.is_some() {
            return;
        }
        if self.intake.deferred {
            if store_full {
                self.decided = Some((Verdict::PermError, DkReason::HeaderCapacity));
                return;
            }
            let canon = self.intake.canon;
            let hash = &mut self.intake.hash;
            if let Some(names) = &self.intake.only {
                present_in_h_order(store, self.first_stored, names, |field| {
                    canonicalize_dk_header(canon, field, hash);
                });
            }
        }
        // §3.4.2.1: the blank line that ends the header block is presented
        // too, as the body's first (empty) line.
        self.body.update(b"\r\n", &mut self.intake.hash);
    }

    /// The next chunk of body.
    pub(super) fn body(&mut self, chunk: &[u8]) {
        if self.decided.is_none() {
            self.body.update(chunk, &mut self.intake.hash);
        }
    }

    /// Answer the key request (§3.2.3 records, read with
    /// [`KeyRecord::parse_domainkeys`]).
    pub(super) fn provide_key(&mut self, answer: KeyAnswer<'_>) {
        if self.decided.is_none() {
            self.keys = KeyState::from_answer(answer, load_key);
        }
    }

    /// Compute the result (after [`end_of_headers`](Self::end_of_headers)).
    pub(super) fn finish(self) -> DkResult {
        let mut result = DkResult::decided(Verdict::TempError, DkReason::KeyNotProvided);
        if let Some((verdict, reason)) = self.decided {
            result.verdict = verdict;
            result.reason = reason;
            return result;
        }
        result.domain = Some(self.domain.clone());
        result.selector = Some(self.selector.clone());

        // §3.1: the sending address is Sender if there is one, else From.
        let intake = &self.intake;
        let kind = if self.above.sender > 0 || intake.sender.count > 0 {
            SendingField::Sender
        } else {
            SendingField::From
        };
        let captured = intake.captured(kind);
        let above = match kind {
            SendingField::Sender => self.above.sender,
            SendingField::From => self.above.from,
        };
        let mailbox = captured.address();
        if let Some(m) = &mailbox {
            result.sending = Some((kind, m.clone()));
        }
        let mut policy: Option<DkReason> = None;
        if captured.count == 0 && above == 0 {
            return result.with(Verdict::PermError, DkReason::NoSendingAddress);
        }
        if captured.count == 0 || !captured.hashed {
            policy = Some(DkReason::SendingFieldNotSigned);
        } else if mailbox.is_none() {
            return result.with(Verdict::PermError, DkReason::NoSendingAddress);
        }
        for (field, count) in [
            (
                SendingField::From,
                intake.from.count.saturating_add(self.above.from),
            ),
            (
                SendingField::Sender,
                intake.sender.count.saturating_add(self.above.sender),
            ),
        ] {
            if count > 1 && policy.is_none() {
                policy = Some(DkReason::SeveralSendingFields { field });
            }
        }
        if let Some(m) = &mailbox
            && !is_same_or_subdomain(m.domain().as_bytes(), self.domain.as_bytes())
        {
            return result.with(Verdict::Fail, DkReason::DomainMismatch);
        }

        let keys = match self.keys.keys() {
            Ok(keys) => keys,
            Err((verdict, reason)) => return result.with(verdict, reason),
        };
        let DkVerifier {
            intake, signature, ..
        } = self;
        let mut hash = intake.hash;
        self.body.finish(&mut hash);
        let digest: [u8; 20] = hash.finalize().into();

        let tries = keys.iter().map(|candidate| {
            let bits = candidate.key.bits();
            let testing = candidate.testing;
            let failed = |reason| {
                if testing {
                    (Verdict::Neutral, DkReason::TestingKey)
                } else {
                    (Verdict::Fail, reason)
                }
            };
            let (verdict, reason) = if mailbox
                .as_ref()
                .is_some_and(|m| !candidate.granularity.matches(m.local()))
            {
                failed(DkReason::GranularityMismatch)
            } else if !candidate.key.verify_sha1(&digest, &signature) {
                failed(DkReason::SignatureMismatch)
            } else if bits < WEAK_RSA_MODULUS_BITS {
                (Verdict::Policy, DkReason::WeakKey { bits })
            } else if let Some(reason) = policy {
                (Verdict::Policy, reason)
            } else {
                (Verdict::Pass, DkReason::Verified)
            };
            (verdict, reason, testing, bits)
        });
        match best_of(tries, |(verdict, ..)| *verdict) {
            Some((verdict, reason, testing, bits)) => {
                result.testing = testing;
                result.key_bits = Some(bits);
                result.with(verdict, reason)
            }
            None => result.with(Verdict::PermError, DkReason::KeyNotFound),
        }
    }
}

impl DkResult {
    /// A result with no signature details.
    pub(super) fn decided(verdict: Verdict, reason: DkReason) -> Self {
        DkResult {
            verdict,
            reason,
            domain: None,
            selector: None,
            sending: None,
            testing: false,
            key_bits: None,
        }
    }

    pub(super) fn with(mut self, verdict: Verdict, reason: DkReason) -> Self {
        self.verdict = verdict;
        self.reason = reason;
        self
    }
}

impl FieldSink for DkVerifier {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        if self.decided.is_some() {
            return Ok(false);
        }
        self.intake.begin_field(name)
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.intake.field_bytes(bytes)
    }

    fn end_field(&mut self) -> Result<(), Error> {
        self.intake.end_field()
    }
}

/// One DomainKeys key record (§3.2.3, read with
/// [`KeyRecord::parse_domainkeys`]) as a key: an empty `p=` is a revoked
/// key (fail), anything else wrong is permerror.
pub(super) fn load_key(txt: &[u8]) -> Result<DkKey, (Verdict, DkReason)> {
    let record = KeyRecord::parse_domainkeys(txt)
        .map_err(|e| (Verdict::PermError, DkReason::KeyRecord(e)))?;
    if record.is_revoked() {
        return Err((Verdict::Fail, DkReason::KeyRevoked));
    }
    let key = load_rsa(record.public_key_bytes())
        .map_err(|e| (Verdict::PermError, DkReason::PublicKey(e)))?;
    Ok(DkKey {
        key,
        testing: record.flags.testing,
        granularity: Granularity::from_record(record.granularity),
    })
}

/// The header side of a [`DkMessageVerifier`]: it hands each field to the
/// verifiers of the signatures above it, stores the fields that their
/// `h=` lists name, and starts a verifier at each DomainKey-Signature
/// field that parses, while the budget lasts.
#[derive(Debug, Clone)]
pub(super) struct Dispatch<const SIGS: usize, const B: usize, const F: usize> {
    pub(super) verifiers: heapless::Vec<DkVerifier, SIGS>,
    pub(super) keep: [bool; SIGS],
    /// The budget: signatures that get a key lookup and a check.
    pub(super) max: usize,
    /// DomainKey-Signature fields seen.
    pub(super) seen: usize,
    /// DomainKey-Signature fields parsed (at most
    /// [`MAX_SIGNATURE_FIELDS_EXAMINED`]).
    pub(super) examined: usize,
    pub(super) capturing: bool,
    pub(super) field: heapless::Vec<u8, MAX_SIGNATURE_FIELD>,
    pub(super) field_overflow: bool,
    pub(super) above: FieldsAbove,
    /// Fields that did not parse, `(ordinal, why)`, top first: reported,
    /// at no cost to the budget, while there is room.
    pub(super) broken: heapless::Vec<(usize, DkSignatureError), SIGS>,
    /// The fields below a signature that its `h=` names, for hashing in
    /// `h=` order when the header block ends.
    pub(super) store: HeaderStore<B, F>,
    /// The field begun last is being stored.
    pub(super) storing: bool,
    /// The store ran out of room: every signature with `h=` is permerror.
    pub(super) store_full: bool,
}

impl<const SIGS: usize, const B: usize, const F: usize> Dispatch<SIGS, B, F> {
    /// A verifier for the signature field captured last, or why there is
    /// none.
    fn start_verifier(&mut self) {
        let (ordinal, above, first) = (self.seen, self.above, self.store.len());
        let parsed = if self.field_overflow {
            Err(DkSignatureError::FieldTooLong)
        } else {
            DkSignature::parse_field(&self.field)
                .and_then(|sig| DkVerifier::from_signature(&sig, above, ordinal, first))
        };
        match parsed {
            // Capturing began only with room in the budget.
            Ok(verifier) => {
                let _ = self.verifiers.push(verifier);
            }
            // No room left to report it: counted in `seen` only.
            Err(e) => {
                let _ = self.broken.push((ordinal, e));
            }
        }
    }
}

impl<const SIGS: usize, const B: usize, const F: usize> FieldSink for Dispatch<SIGS, B, F> {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        let mut any = false;
        let mut wanted = false;
        for (v, keep) in self.verifiers.iter_mut().zip(self.keep.iter_mut()) {
            *keep = v.begin_field(name)?;
            any |= *keep;
            wanted |= v.wants_stored();
        }
        self.storing = false;
        if wanted && !self.store_full {
            match self.store.begin() {
                Ok(()) => self.storing = true,
                Err(_) => self.store_full = true,
            }
        }
        if names_match(name, b"sender") {
            self.above.sender = self.above.sender.saturating_add(1);
        } else if names_match(name, b"from") {
            self.above.from = self.above.from.saturating_add(1);
        }
        self.capturing = false;
        if names_match(name, b"domainkey-signature") {
            self.seen = self.seen.saturating_add(1);
            if self.verifiers.len() < self.max && self.examined < MAX_SIGNATURE_FIELDS_EXAMINED {
                self.examined = self.examined.saturating_add(1);
                self.capturing = true;
                self.field.clear();
                self.field_overflow = false;
            }
        }
        Ok(any || self.capturing || self.storing)
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        for (v, keep) in self.verifiers.iter_mut().zip(self.keep.iter()) {
            if *keep {
                v.field_bytes(bytes)?;
            }
        }
        if self.storing && self.store.extend(bytes).is_err() {
            self.storing = false;
            self.store_full = true;
        }
        if self.capturing && self.field.extend_from_slice(bytes).is_err() {
            self.field_overflow = true;
        }
        Ok(())
    }

    fn end_field(&mut self) -> Result<(), Error> {
        for (v, keep) in self.verifiers.iter_mut().zip(self.keep.iter_mut()) {
            if core::mem::take(keep) {
                v.end_field()?;
            }
        }
        if core::mem::take(&mut self.storing) {
            self.store.end();
        }
        if core::mem::take(&mut self.capturing) {
            self.start_verifier();
        }
        Ok(())
    }
}

/// Streaming verifier of the DomainKey-Signature fields of one message. It
/// can run beside the DKIM verifier over the same input.
///
/// The work is bounded as for DKIM: at most `max_signatures` (and at most
/// `SIGS`) signatures that parse get a key lookup and a check, top first;
/// fields that do not parse cost nothing and are reported while there is
/// room among the `SIGS` results; at most
/// [`MAX_SIGNATURE_FIELDS_EXAMINED`] fields are parsed at all; the rest
/// are counted.
///
/// `HEADER_BYTES` and `HEADER_FIELDS` bound the store of the fields that
/// `h=` lists name below their signature, kept until the header block
/// ends to be hashed in `h=` order; past them, those signatures are
/// permerror ([`DkReason::HeaderCapacity`]).
#[derive(Debug, Clone)]
pub struct DkMessageVerifier<
    const SIGS: usize,
    const HEADER_BYTES: usize = DEFAULT_HEADER_BYTES,
    const HEADER_FIELDS: usize = DEFAULT_HEADER_FIELDS,
> {
    pub(super) splitter: HeaderSplitter,
    pub(super) dispatch: Dispatch<SIGS, HEADER_BYTES, HEADER_FIELDS>,
    pub(super) headers_done: bool,
}

impl<const SIGS: usize, const B: usize, const F: usize> Default for DkMessageVerifier<SIGS, B, F> {
    fn default() -> Self {
        Self::new(SIGS)
    }
}

impl<const SIGS: usize, const B: usize, const F: usize> DkMessageVerifier<SIGS, B, F> {
    /// A verifier that checks at most `max_signatures` (and at most
    /// `SIGS`) DomainKeys signatures.
    pub fn new(max_signatures: usize) -> Self {
        DkMessageVerifier {
            splitter: HeaderSplitter::new(),
            dispatch: Dispatch {
                verifiers: heapless::Vec::new(),
                keep: [false; SIGS],
                max: max_signatures.min(SIGS),
                seen: 0,
                examined: 0,
                capturing: false,
                field: heapless::Vec::new(),
                field_overflow: false,
                above: FieldsAbove::default(),
                broken: heapless::Vec::new(),
                store: HeaderStore::new(),
                storing: false,
                store_full: false,
            },
            headers_done: false,
        }
    }

    /// Feed the next chunk of the raw message, split anywhere.
    pub fn update(&mut self, raw: &[u8]) -> Result<(), Error> {
        if self.headers_done {
            self.feed_body(raw);
            return Ok(());
        }
        if let Some(n) = self.splitter.push(raw, &mut self.dispatch)? {
            self.headers_ended();
            self.feed_body(raw.get(n..).unwrap_or_default());
        }
        Ok(())
    }

    /// Feed one whole header field as a milter receives it.
    pub fn header_field(&mut self, raw_field: &[u8]) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_field(raw_field, &mut self.dispatch)
    }

    /// The header block is complete.
    pub fn end_of_headers(&mut self) -> Result<(), Error> {
        if self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.splitter.push_end_of_headers(&mut self.dispatch)?;
        self.headers_ended();
        Ok(())
    }

    /// The raw input has ended (if it ended inside the header block, the
    /// body is empty). Call it before asking for keys when feeding raw
    /// input; [`finish`](Self::finish) also does it.
    pub fn end_of_input(&mut self) -> Result<(), Error> {
        if !self.headers_done {
            self.splitter.finish(&mut self.dispatch)?;
            self.headers_ended();
        }
        Ok(())
    }

    /// Feed the next chunk of body.
    pub fn body(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if !self.headers_done {
            return Err(Error::OutOfOrder);
        }
        self.feed_body(chunk);
        Ok(())
    }

    pub(super) fn headers_ended(&mut self) {
        self.headers_done = true;
        let Dispatch {
            verifiers,
            store,
            store_full,
            ..
        } = &mut self.dispatch;
        for v in verifiers.iter_mut() {
            v.end_of_headers(store, *store_full);
        }
    }

    pub(super) fn feed_body(&mut self, chunk: &[u8]) {
        for v in self.dispatch.verifiers.iter_mut() {
            v.body(chunk);
        }
    }

    /// DomainKey-Signature fields seen, including those not checked.
    pub fn signatures_seen(&self) -> usize {
        self.dispatch.seen
    }

    /// The keys to look up: `(id, name)` for [`provide_key`](Self::provide_key).
    /// Empty until the header block has ended.
    pub fn key_requests(&self) -> impl Iterator<Item = (usize, DkKeyName<'_>)> + '_ {
        self.dispatch
            .verifiers
            .iter()
            .enumerate()
            .filter(|_| self.headers_done)
            .filter_map(|(id, v)| Some((id, v.key_request()?)))
    }

    /// Answer key request `id`.
    pub fn provide_key(&mut self, id: usize, answer: KeyAnswer<'_>) {
        if let Some(v) = self.dispatch.verifiers.get_mut(id) {
            v.provide_key(answer);
        }
    }

    /// Finish the message: one result per signature checked, and per field
    /// that did not parse while there is room among the `SIGS` results,
    /// top first.
    pub fn finish(mut self) -> Result<heapless::Vec<DkResult, SIGS>, Error> {
        self.end_of_input()?;
        let Dispatch {
            verifiers, broken, ..
        } = self.dispatch;
        let room = SIGS.saturating_sub(verifiers.len());
        let mut checked = verifiers
            .into_iter()
            .map(|v| (v.ordinal, v.finish()))
            .peekable();
        let mut refused = broken
            .into_iter()
            .take(room)
            .map(|(ordinal, e)| {
                let result = DkResult::decided(Verdict::PermError, DkReason::Signature(e));
                (ordinal, result)
            })
            .peekable();
        let mut results = heapless::Vec::new();
        loop {
            let from_checked = match (checked.peek(), refused.peek()) {
                (Some((a, _)), Some((b, _))) => a <= b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if from_checked {
                checked.next()
            } else {
                refused.next()
            };
            // At most SIGS: every checked one, and the refused ones room
            // was left for.
            if let Some((_, result)) = next {
                let _ = results.push(result);
            }
        }
        Ok(results)
    }
}
