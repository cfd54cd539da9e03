//! The header fields a DomainKeys signature needs: the sending address (RFC 4870 §3.1) and the fields above it.

use super::*;

/// Which field gave the sending address (RFC 4870 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendingField {
    /// The Sender field.
    Sender,
    /// The From field (there was no Sender).
    From,
}

impl SendingField {
    /// The field name in lower case, as in Authentication-Results
    /// (`header.sender`, `header.from`).
    pub fn as_str(self) -> &'static str {
        match self {
            SendingField::Sender => "sender",
            SendingField::From => "from",
        }
    }
}

/// One Sender or From field kept: the first instance seen, how many there
/// were, and whether the first was hashed.
#[derive(Debug, Clone)]
pub(super) struct Captured {
    pub(super) raw: heapless::Vec<u8, MAX_ADDRESS_FIELD>,
    pub(super) count: u32,
    pub(super) overflow: bool,
    pub(super) hashed: bool,
}

impl Captured {
    pub(super) fn new() -> Self {
        Captured {
            raw: heapless::Vec::new(),
            count: 0,
            overflow: false,
            hashed: false,
        }
    }

    /// The address of the first instance, if it was kept whole and parses.
    pub(super) fn address(&self) -> Option<Mailbox> {
        if self.count == 0 || self.overflow {
            return None;
        }
        Mailbox::parse(field_value(&self.raw))
    }
}

/// The header side shared by signer and verifier: it hashes the fields it
/// is told to and keeps Sender and From.
#[derive(Debug, Clone)]
pub(super) struct DkIntake {
    pub(super) canon: DkCanon,
    pub(super) hash: Sha1,
    /// `h=` in force: only these names are hashed.
    pub(super) only: Option<Names>,
    /// A verifier's `h=` fields are not hashed as they stream by: the
    /// message verifier stores them and they are hashed in `h=` order
    /// when the header block ends ([`present_in_h_order`]). The signer,
    /// and a verifier without `h=`, hash in message order as they go.
    pub(super) deferred: bool,
    /// The signer's record of the names hashed, in order, for its `h=`.
    pub(super) hashed_names: Option<Names>,
    pub(super) hashing: bool,
    pub(super) capture: Option<SendingField>,
    pub(super) sender: Captured,
    pub(super) from: Captured,
}

impl DkIntake {
    pub(super) fn new(
        canon: DkCanon,
        only: Option<Names>,
        record_names: bool,
        deferred: bool,
    ) -> Self {
        DkIntake {
            canon,
            hash: Sha1::new(),
            only,
            deferred,
            hashed_names: record_names.then(Names::new),
            hashing: false,
            capture: None,
            sender: Captured::new(),
            from: Captured::new(),
        }
    }

    pub(super) fn captured(&self, which: SendingField) -> &Captured {
        match which {
            SendingField::Sender => &self.sender,
            SendingField::From => &self.from,
        }
    }

    /// The field begun last is one to store for hashing later.
    pub(super) fn wants_stored(&self) -> bool {
        self.deferred && self.hashing
    }

    pub(super) fn captured_mut(&mut self) -> Option<&mut Captured> {
        match self.capture? {
            SendingField::Sender => Some(&mut self.sender),
            SendingField::From => Some(&mut self.from),
        }
    }
}

impl FieldSink for DkIntake {
    fn begin_field(&mut self, name: &[u8]) -> Result<bool, Error> {
        self.hashing = self.only.as_ref().is_none_or(|o| o.contains(name));
        if self.hashing
            && let Some(names) = self.hashed_names.as_mut()
        {
            names.push(name)?;
        }
        self.capture = if names_match(name, b"sender") {
            Some(SendingField::Sender)
        } else if names_match(name, b"from") {
            Some(SendingField::From)
        } else {
            None
        };
        let hashing = self.hashing;
        if let Some(c) = self.captured_mut() {
            c.count = c.count.saturating_add(1);
            if c.count == 1 {
                c.hashed = hashing;
            }
        }
        Ok(self.hashing || self.capture.is_some())
    }

    fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.hashing && !self.deferred {
            canonicalize_dk_header_piece(self.canon, bytes, &mut self.hash);
        }
        if let Some(c) = self.captured_mut()
            && c.count == 1
            && c.raw.extend_from_slice(bytes).is_err()
        {
            c.overflow = true;
        }
        Ok(())
    }

    fn end_field(&mut self) -> Result<(), Error> {
        if self.hashing && !self.deferred {
            self.hash.write(b"\r\n");
        }
        self.hashing = false;
        self.capture = None;
        Ok(())
    }
}

/// Hand `present` the stored fields from index `first` on that `names`
/// (an `h=` list) selects, in the order RFC 4870 §3.3 gives them: "the
/// order presented to the signing algorithm" is the `h=` order, and "a
/// verifier must include all occurrences" of a listed header. Where a name
/// is listed several times, as deployed signers and Mail::DKIM read it:
/// each mention after the first takes one instance, counted from the
/// bottom, the last mention the bottom-most; the first mention takes all
/// the instances left, in message order. A name listed once therefore
/// plays back every instance together, and an `h=` that lists each field
/// once in message order (what mass's signer writes) gives message order.
///
/// Time: names × (names + fields), both bounded (64 names, the store's
/// field capacity).
pub(super) fn present_in_h_order<const B: usize, const F: usize>(
    store: &HeaderStore<B, F>,
    first: usize,
    names: &Names,
    mut present: impl FnMut(&[u8]),
) {
    let below = || store.iter().skip(first);
    for (pos, name) in names.iter().enumerate() {
        let same = |n: &&[u8]| names_match(n, name);
        let earlier = names.iter().take(pos).filter(same).count();
        let later = names
            .iter()
            .skip(pos.saturating_add(1))
            .filter(same)
            .count();
        let instances = || below().filter(|f| names_match(field_name(f), name));
        // The later mentions take the bottom-most `later` instances.
        let left = instances().count().saturating_sub(later);
        let mine = instances().take(left);
        if earlier > 0 {
            if let Some(field) = mine.last() {
                present(field);
            }
        } else {
            mine.for_each(&mut present);
        }
    }
}

/// An addr-spec taken from a Sender or From field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub(super) bytes: heapless::Vec<u8, ADDRESS_CAP>,
    pub(super) at: usize,
}

impl Mailbox {
    /// The first mailbox of an address list (RFC 5322 §3.4): the
    /// angle-addr if there is one, else the addr-spec; comments and
    /// whitespace removed. `None` if it has no `@`, an empty local part or
    /// a domain that is not a plain DNS name.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let mut plain: heapless::Vec<u8, ADDRESS_CAP> = heapless::Vec::new();
        let mut angle: Option<heapless::Vec<u8, ADDRESS_CAP>> = None;
        let mut in_angle = false;
        let mut depth = 0u32;
        let mut quoted = false;
        let mut escaped = false;
        for &b in value {
            let target = if in_angle {
                angle.as_mut()
            } else {
                Some(&mut plain)
            };
            if escaped {
                escaped = false;
                if depth == 0 {
                    target?.push(b).ok()?;
                }
                continue;
            }
            match b {
                b'\\' if quoted || depth > 0 => {
                    escaped = true;
                    if depth == 0 {
                        target?.push(b).ok()?;
                    }
                }
                b'"' if depth == 0 => {
                    quoted = !quoted;
                    target?.push(b).ok()?;
                }
                _ if quoted => target?.push(b).ok()?,
                b'(' => depth = depth.saturating_add(1),
                b')' if depth > 0 => depth = depth.saturating_sub(1),
                _ if depth > 0 => {}
                b'<' if !in_angle => {
                    in_angle = true;
                    angle = Some(heapless::Vec::new());
                }
                b'>' if in_angle => {
                    in_angle = false;
                    break;
                }
                b',' if !in_angle => break,
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => target?.push(b).ok()?,
            }
        }
        let bytes = match angle {
            Some(a) if !in_angle => a,
            Some(_) => return None,
            None => plain,
        };
        let at = bytes.iter().rposition(|&b| b == b'@')?;
        let mailbox = Mailbox { bytes, at };
        let domain = mailbox.domain();
        if mailbox.local().is_empty() || check_dns_name(domain.as_bytes()).is_err() {
            return None;
        }
        Some(mailbox)
    }

    /// The local part, as written (quotes kept).
    pub fn local(&self) -> &[u8] {
        self.bytes.get(..self.at).unwrap_or_default()
    }

    /// The domain, without a trailing dot.
    pub fn domain(&self) -> &str {
        let d = self
            .bytes
            .get(self.at.saturating_add(1)..)
            .unwrap_or_default();
        let d = d.strip_suffix(b".").unwrap_or(d);
        core::str::from_utf8(d).unwrap_or_default()
    }

    /// The whole addr-spec.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}
