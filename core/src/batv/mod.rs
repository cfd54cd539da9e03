//! BATV bounce address tags of type `prvs` (draft-levine-smtp-batv-01).
//!
//! ```text
//!  outgoing:  MAIL FROM local@domain ──► tag() ──► prvs=KDDDSSSSSS=local@domain
//!  bounce:    RCPT TO prvs=KDDDSSSSSS=local@domain ──► check() ──► local@domain (a sub-slice)
//! ```
//!
//! - `K` is the key number, one decimal digit; it selects the secret.
//! - `DDD` is the expiry day: (unix time / 86400 + validity days) mod 1000, three digits.
//! - `SSSSSS` is the first three bytes, in lower-case hex, of
//!   HMAC-SHA1(secret, `K` ‖ `DDD` ‖ original address).
//!
//! Exim's `${prvs}` / `${prvscheck}` is the deployed reference and this module
//! matches it byte for byte (checked against Exim 4.96 in `cargo xtask interop`):
//! - the HMAC input is the key digit, the three day digits and the original address
//!   exactly as written (case preserved, nothing between the parts);
//! - the tag prefix `prvs=` is matched without regard to case;
//! - the address is split at its last `@`.
//!
//! Two deliberate differences from Exim, both on the checking side:
//! - upper-case hex digits in `SSSSSS` are accepted (Exim compares them case-sensitively
//!   against its lower-case output; the value is the same number);
//! - an expiry day further ahead than [`CheckPolicy::max_validity_days`] is refused as
//!   [`CheckError::DayOutOfRange`] (Exim accepts any day "ahead" of today), and a
//!   configurable grace period accepts tags that expired recently.
//!
//! RFC 5321 §4.5.3.1.1 limits a local part to 64 octets. Tagging adds 16
//! (`prvs=` + 10 + `=`), so [`tag`] refuses with [`TagError::LocalPartTooLong`] and the
//! caller sends the address untagged and logs it.
//!
//! No clock is read: callers pass `now` as unix seconds. Secrets are borrowed, never
//! copied; the HMAC state is zeroized on drop (the `zeroize` feature of `hmac`/`sha1`).

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The tag type prefix, matched case-insensitively on input.
pub const PRVS_PREFIX: &[u8] = b"prvs=";
/// Length of the tag value `KDDDSSSSSS`.
pub const TAG_VALUE_LEN: usize = 10;
/// Octets that tagging adds in front of the local part: `prvs=` + `KDDDSSSSSS` + `=`.
pub const TAG_OVERHEAD: usize = 16;
/// RFC 5321 §4.5.3.1.1: the longest local part, in octets.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.3: the longest path is 256 octets including `<` and `>`.
pub const MAX_ADDRESS: usize = 254;
/// The validity the draft and Exim use by default, in days.
pub const DEFAULT_VALIDITY_DAYS: u16 = 7;
/// Seconds in a day of unix time.
pub const SECONDS_PER_DAY: u64 = 86_400;
/// Day stamps count modulo this.
pub const DAY_MODULUS: u16 = 1000;
/// Day offsets (validity, grace) must stay below half the modulus, so that "ahead"
/// and "behind" are never ambiguous.
pub const MAX_DAY_OFFSET: u16 = 499;
/// Length of a tagged address for an original address of `n` octets.
pub const fn tagged_len(n: usize) -> usize {
    n.saturating_add(TAG_OVERHEAD)
}

/// A key number `K`, 0 to 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyNumber(u8);

impl KeyNumber {
    /// A key number; above 9 is [`TagError::KeyNumberOutOfRange`].
    pub const fn new(n: u8) -> Result<Self, TagError> {
        if n <= 9 {
            Ok(KeyNumber(n))
        } else {
            Err(TagError::KeyNumberOutOfRange)
        }
    }

    /// The number, 0 to 9.
    pub const fn get(self) -> u8 {
        self.0
    }

    const fn digit(self) -> u8 {
        b'0'.saturating_add(self.0)
    }
}

/// The secrets, indexed by key number. A tag naming an absent key is
/// [`CheckError::UnknownKey`].
#[derive(Clone, Copy, Default)]
pub struct KeyRing<'a> {
    secrets: [Option<&'a [u8]>; 10],
}

impl fmt::Debug for KeyRing<'_> {
    // Never print secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (n, s) in self.secrets.iter().enumerate() {
            if s.is_some() {
                list.entry(&n);
            }
        }
        list.finish()
    }
}

impl<'a> KeyRing<'a> {
    /// An empty ring.
    pub const fn new() -> Self {
        KeyRing {
            secrets: [None; 10],
        }
    }

    /// The same secret for every key number (what Exim does with a constant secret).
    pub const fn all(secret: &'a [u8]) -> Self {
        KeyRing {
            secrets: [Some(secret); 10],
        }
    }

    /// Sets the secret for one key number.
    pub fn with(mut self, key: KeyNumber, secret: &'a [u8]) -> Self {
        if let Some(slot) = self.secrets.get_mut(usize::from(key.get())) {
            *slot = Some(secret);
        }
        self
    }

    /// The secret for a key number, if held.
    pub fn get(&self, key: KeyNumber) -> Option<&'a [u8]> {
        self.secrets.get(usize::from(key.get())).copied().flatten()
    }
}

/// Why an address was not tagged.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TagError {
    /// The key number is above 9.
    KeyNumberOutOfRange,
    /// The validity is above [`MAX_DAY_OFFSET`] days.
    ValidityOutOfRange,
    /// The address has no `@`, or an empty local part or domain.
    MalformedAddress,
    /// The address already carries a `prvs=` tag.
    AlreadyTagged,
    /// RFC 5321 §4.5.3.1.1: the tagged local part would be `tagged` octets, over 64.
    /// Send the address untagged and log this.
    LocalPartTooLong {
        /// Length the tagged local part would have.
        tagged: usize,
    },
    /// RFC 5321 §4.5.3.1.3: the tagged address would be `tagged` octets, over 254.
    AddressTooLong {
        /// Length the tagged address would have.
        tagged: usize,
    },
    /// The output buffer is too small; `needed` octets are required.
    BufferTooSmall {
        /// Octets required.
        needed: usize,
    },
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagError::KeyNumberOutOfRange => f.write_str("BATV key number above 9"),
            TagError::ValidityOutOfRange => f.write_str("BATV validity above 499 days"),
            TagError::MalformedAddress => {
                f.write_str("address has no @, or an empty local part or domain")
            }
            TagError::AlreadyTagged => f.write_str("address already has a prvs= tag"),
            TagError::LocalPartTooLong { tagged } => write!(
                f,
                "tagged local part would be {tagged} octets, over the RFC 5321 limit of 64"
            ),
            TagError::AddressTooLong { tagged } => write!(
                f,
                "tagged address would be {tagged} octets, over the RFC 5321 limit of 254"
            ),
            TagError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} octets needed")
            }
        }
    }
}

impl core::error::Error for TagError {}

/// Why a recipient address did not check as a valid `prvs` tag.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CheckError {
    /// The address does not start with `prvs=` (case-insensitive).
    MissingTag,
    /// The tag value is not ten characters followed by `=`.
    MalformedTag,
    /// `K` is not a decimal digit (a key number above 9).
    KeyNumberOutOfRange,
    /// `DDD` is not three decimal digits.
    DayNotDecimal,
    /// `SSSSSS` is not six hex digits.
    HashNotHex,
    /// The original address has no `@`, or an empty local part or domain.
    MalformedAddress,
    /// No secret is configured for this key number.
    UnknownKey {
        /// The key number from the tag.
        key: u8,
    },
    /// The hash does not match: a forged or altered tag.
    BadHash,
    /// The tag is authentic but expired more than the grace period ago.
    Expired {
        /// Days since the expiry day.
        days_ago: u16,
    },
    /// The tag is authentic but its expiry day is further ahead than any tag we accept.
    DayOutOfRange {
        /// Days from today to the expiry day.
        days_ahead: u16,
    },
    /// The check policy's grace or validity is above [`MAX_DAY_OFFSET`] days.
    PolicyOutOfRange,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::MissingTag => f.write_str("no prvs= tag"),
            CheckError::MalformedTag => f.write_str("prvs tag value is not KDDDSSSSSS="),
            CheckError::KeyNumberOutOfRange => f.write_str("prvs key number is not 0-9"),
            CheckError::DayNotDecimal => f.write_str("prvs day is not three digits"),
            CheckError::HashNotHex => f.write_str("prvs hash is not six hex digits"),
            CheckError::MalformedAddress => {
                f.write_str("tagged address has no @, or an empty local part or domain")
            }
            CheckError::UnknownKey { key } => write!(f, "no secret for prvs key {key}"),
            CheckError::BadHash => f.write_str("prvs hash does not match"),
            CheckError::Expired { days_ago } => {
                write!(f, "prvs tag expired {days_ago} day(s) ago")
            }
            CheckError::DayOutOfRange { days_ahead } => {
                write!(
                    f,
                    "prvs expiry day is {days_ahead} days ahead, out of range"
                )
            }
            CheckError::PolicyOutOfRange => f.write_str("BATV check policy above 499 days"),
        }
    }
}

impl core::error::Error for CheckError {}

/// Settings for tagging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TagParams {
    /// The key number written as `K`.
    pub key: KeyNumber,
    /// Days from today to the expiry day; at most [`MAX_DAY_OFFSET`].
    pub validity_days: u16,
    /// The current time, unix seconds.
    pub now: u64,
}

impl TagParams {
    /// Key 0 and the default validity of 7 days.
    pub const fn new(now: u64) -> Self {
        TagParams {
            key: KeyNumber(0),
            validity_days: DEFAULT_VALIDITY_DAYS,
            now,
        }
    }
}

/// Settings for checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CheckPolicy {
    /// Days after the expiry day that a tag is still accepted (clock skew, slow bounces).
    pub grace_days: u16,
    /// The furthest ahead an expiry day may be. It must cover the signer's validity.
    pub max_validity_days: u16,
}

impl Default for CheckPolicy {
    /// No grace, as Exim; accept expiry days up to 30 days ahead.
    fn default() -> Self {
        CheckPolicy {
            grace_days: 0,
            max_validity_days: 30,
        }
    }
}

/// A tag that checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Checked<'a> {
    /// The original (untagged) address, a sub-slice of the input.
    pub original: &'a [u8],
    /// The key number from the tag.
    pub key: KeyNumber,
    /// The expiry day, 0 to 999.
    pub expiry_day: u16,
    /// Whole days until the tag expires (0 on its last day); negative within the grace period.
    pub days_left: i16,
}

/// The day stamp `(now / 86400 + offset) mod 1000`.
pub const fn day_stamp(now: u64, offset_days: u16) -> u16 {
    const MODULUS: u64 = DAY_MODULUS as u64;
    let today = now / SECONDS_PER_DAY % MODULUS;
    // today < 1000 and offset < 65536, so the sum cannot wrap; the result is < 1000.
    (today.wrapping_add(offset_days as u64) % MODULUS) as u16
}

/// Splits an address at its last `@` into a non-empty local part and domain.
fn split_address(address: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = address.iter().rposition(|&b| b == b'@')?;
    let local = address.get(..at)?;
    let domain = address.get(at.saturating_add(1)..)?;
    if local.is_empty() || domain.is_empty() {
        None
    } else {
        Some((local, domain))
    }
}

fn has_prvs_prefix(address: &[u8]) -> bool {
    address
        .get(..PRVS_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PRVS_PREFIX))
}

fn three_digits(day: u16) -> [u8; 3] {
    let d = day % DAY_MODULUS;
    // Each quotient is a single digit, so the additions stay within ASCII.
    [
        b'0'.saturating_add((d / 100) as u8),
        b'0'.saturating_add((d / 10 % 10) as u8),
        b'0'.saturating_add((d % 10) as u8),
    ]
}

fn mac(secret: &[u8], key: KeyNumber, day: &[u8; 3], address: &[u8]) -> HmacSha1 {
    // HMAC accepts keys of any length, so this never fails; an empty key is legal too.
    let mut mac = match HmacSha1::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => HmacSha1::new(&Default::default()),
    };
    mac.update(&[key.digit()]);
    mac.update(day);
    mac.update(address);
    mac
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_lower(nibble: u8) -> u8 {
    HEX.get(usize::from(nibble & 0x0f)).copied().unwrap_or(b'0')
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

/// Tags `address` (`local@domain`, without angle brackets) into `out` as
/// `prvs=KDDDSSSSSS=local@domain`; returns the length written.
///
/// The address is hashed exactly as given. On [`TagError::LocalPartTooLong`] the caller
/// sends the address untagged (RFC 5321 §4.5.3.1.1) and logs it.
pub fn tag(
    address: &[u8],
    secret: &[u8],
    params: &TagParams,
    out: &mut [u8],
) -> Result<usize, TagError> {
    if params.validity_days > MAX_DAY_OFFSET {
        return Err(TagError::ValidityOutOfRange);
    }
    let (local, _domain) = split_address(address).ok_or(TagError::MalformedAddress)?;
    if has_prvs_prefix(address) {
        return Err(TagError::AlreadyTagged);
    }
    let tagged_local = tagged_len(local.len());
    if tagged_local > MAX_LOCAL_PART {
        return Err(TagError::LocalPartTooLong {
            tagged: tagged_local,
        });
    }
    let needed = tagged_len(address.len());
    if needed > MAX_ADDRESS {
        return Err(TagError::AddressTooLong { tagged: needed });
    }
    let dst = out
        .get_mut(..needed)
        .ok_or(TagError::BufferTooSmall { needed })?;

    let day = three_digits(day_stamp(params.now, params.validity_days));
    let digest = mac(secret, params.key, &day, address)
        .finalize()
        .into_bytes();

    // prvs= K DDD SSSSSS = address: `needed` bytes in all.
    let mut hash = [0u8; 6];
    for (pair, byte) in hash.chunks_exact_mut(2).zip(digest.iter()) {
        if let [hi, lo] = pair {
            *hi = hex_lower(byte >> 4);
            *lo = hex_lower(*byte);
        }
    }
    let key = [params.key.digit()];
    let parts: [&[u8]; 6] = [PRVS_PREFIX, &key, &day, &hash, b"=", address];
    let mut at = 0usize;
    for part in parts {
        at = crate::bytes::copy_at(dst, at, part).ok_or(TagError::BufferTooSmall { needed })?;
    }
    Ok(at)
}

/// The parts of a syntactically valid tagged address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Parsed<'a> {
    /// The key number `K`.
    pub key: KeyNumber,
    /// The expiry day `DDD`.
    pub expiry_day: u16,
    /// `SSSSSS` decoded.
    pub hash: [u8; 3],
    /// The original address.
    pub original: &'a [u8],
}

/// Parses `prvs=KDDDSSSSSS=local@domain` without checking the hash or the day.
pub fn parse(tagged: &[u8]) -> Result<Parsed<'_>, CheckError> {
    if !has_prvs_prefix(tagged) {
        return Err(CheckError::MissingTag);
    }
    let rest = tagged
        .get(PRVS_PREFIX.len()..)
        .ok_or(CheckError::MissingTag)?;
    let eq = rest
        .iter()
        .position(|&b| b == b'=')
        .ok_or(CheckError::MalformedTag)?;
    let value = rest.get(..eq).ok_or(CheckError::MalformedTag)?;
    let original = rest
        .get(eq.saturating_add(1)..)
        .ok_or(CheckError::MalformedTag)?;
    let [k, d0, d1, d2, s @ ..] = value else {
        return Err(CheckError::MalformedTag);
    };
    if !k.is_ascii_digit() {
        // Fixed-width: a key number of two digits shows up as a tag value one too long.
        return Err(
            if k.is_ascii_alphanumeric() && value.len() == TAG_VALUE_LEN {
                CheckError::KeyNumberOutOfRange
            } else {
                CheckError::MalformedTag
            },
        );
    }
    if value.len() != TAG_VALUE_LEN {
        let two_digit_key = value.len() == TAG_VALUE_LEN.saturating_add(1)
            && value.get(1).is_some_and(u8::is_ascii_digit)
            && value
                .get(2..5)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
        return Err(if two_digit_key {
            CheckError::KeyNumberOutOfRange
        } else {
            CheckError::MalformedTag
        });
    }
    let key = KeyNumber(k.wrapping_sub(b'0'));
    let mut expiry_day: u16 = 0;
    for d in [d0, d1, d2] {
        if !d.is_ascii_digit() {
            return Err(CheckError::DayNotDecimal);
        }
        expiry_day = expiry_day
            .saturating_mul(10)
            .saturating_add(u16::from(d.wrapping_sub(b'0')));
    }
    let mut hash = [0u8; 3];
    for (h, pair) in hash.iter_mut().zip(s.chunks_exact(2)) {
        let [hi, lo] = pair else {
            return Err(CheckError::HashNotHex);
        };
        let hi = hex_value(*hi).ok_or(CheckError::HashNotHex)?;
        let lo = hex_value(*lo).ok_or(CheckError::HashNotHex)?;
        *h = (hi << 4) | lo;
    }
    if split_address(original).is_none() {
        return Err(CheckError::MalformedAddress);
    }
    Ok(Parsed {
        key,
        expiry_day,
        hash,
        original,
    })
}

/// Checks a tagged recipient address; on success returns the original address.
///
/// The hash is compared in constant time. The day is judged modulo 1000 around today:
/// up to `max_validity_days` ahead is valid, up to `grace_days` behind is valid
/// (negative `days_left`), further behind is [`CheckError::Expired`], and further
/// ahead than the validity is [`CheckError::DayOutOfRange`]. Ahead and behind split
/// the 1000-day circle in half.
pub fn check<'a>(
    tagged: &'a [u8],
    keys: &KeyRing<'_>,
    now: u64,
    policy: &CheckPolicy,
) -> Result<Checked<'a>, CheckError> {
    if policy.grace_days > MAX_DAY_OFFSET || policy.max_validity_days > MAX_DAY_OFFSET {
        return Err(CheckError::PolicyOutOfRange);
    }
    let parsed = parse(tagged)?;
    let secret = keys.get(parsed.key).ok_or(CheckError::UnknownKey {
        key: parsed.key.get(),
    })?;
    let day = three_digits(parsed.expiry_day);
    mac(secret, parsed.key, &day, parsed.original)
        .verify_truncated_left(&parsed.hash)
        .map_err(|_| CheckError::BadHash)?;

    let today = day_stamp(now, 0);
    // Both are < 1000, so this is in 0..1000.
    let ahead = (parsed.expiry_day % DAY_MODULUS)
        .wrapping_add(DAY_MODULUS)
        .wrapping_sub(today)
        % DAY_MODULUS;
    let behind = DAY_MODULUS.wrapping_sub(ahead) % DAY_MODULUS;
    let days_left = if ahead <= policy.max_validity_days {
        i16::try_from(ahead).unwrap_or(i16::MAX)
    } else if behind <= policy.grace_days {
        0i16.saturating_sub_unsigned(behind)
    } else if ahead <= MAX_DAY_OFFSET {
        return Err(CheckError::DayOutOfRange { days_ahead: ahead });
    } else {
        return Err(CheckError::Expired { days_ago: behind });
    };
    Ok(Checked {
        original: parsed.original,
        key: parsed.key,
        expiry_day: parsed.expiry_day,
        days_left,
    })
}

/// True if the address starts with a `prvs=` tag prefix (case-insensitive).
pub fn is_tagged(address: &[u8]) -> bool {
    has_prvs_prefix(address)
}

#[cfg(test)]
mod tests;
