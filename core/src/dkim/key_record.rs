//! DKIM key records, RFC 6376 §3.6.1 (and RFC 8463 §4 for `k=ed25519`).
//!
//! A key record is the TXT data at `selector._domainkey.domain`, its strings
//! joined with nothing between them (§3.6.2.2); the caller does the DNS and
//! the joining. [`KeyRecord::parse`] checks every tag and decodes `p=` into a
//! buffer of [`MAX_KEY_BYTES`], which holds the SubjectPublicKeyInfo of an
//! RSA-8192 key; turning those bytes into a key is [`crate::dkim::public_key`]'s
//! job. [`KeyRecord::check_use`] applies the record's own restrictions
//! (`k=`, `h=`, `s=`, revocation) to a signature algorithm (§6.1.2).
//!
//! DomainKeys (RFC 4870 §3.2.3) records use the same tag-list with `g=`,
//! `k=`, `n=`, `p=` and `t=y`; [`KeyRecord::parse_domainkeys`] reads them
//! into the same type.

use core::fmt;

use crate::dkim::signature_field::{HashAlgorithm, KeyType, SignatureAlgorithm};
use crate::syntax::tag_list::{
    Base64Error, TagList, TagListError, colon_list, decode_base64, parse_tag_list,
};

/// Largest decoded `p=`: the SubjectPublicKeyInfo DER of an RSA-8192 key is
/// about 1060 bytes.
pub const MAX_KEY_BYTES: usize = 1100;

/// Most tag-specs accepted in one key record (7 are defined; unknown tags
/// are ignored, §3.6.1).
pub const MAX_KEY_TAGS: usize = 16;

/// Which record syntax to read.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecordSyntax {
    /// DKIM, RFC 6376 §3.6.1.
    Dkim,
    /// DomainKeys, RFC 4870 §3.2.3.
    DomainKeys,
}

/// Why a key record was rejected; a verifier reports these as permerror
/// (RFC 6376 §6.1.2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyRecordError {
    /// Not a valid tag-list (§3.2): bad syntax, bad tag name, duplicate tag,
    /// a byte outside the grammar.
    TagList(TagListError),
    /// `v=` is present but is not the first tag (§3.6.1).
    VersionNotFirst,
    /// `v=` is not `DKIM1` (e.g. `v=DKIM2`).
    UnsupportedVersion,
    /// There is no `p=` tag (it is required; an empty one means revoked).
    MissingPublicKey,
    /// `p=` is not valid base64.
    BadBase64(Base64Error),
    /// `p=` decodes to more than [`MAX_KEY_BYTES`]: a key over RSA-8192.
    KeyTooLarge,
    /// `k=` names a key type this verifier does not know.
    UnknownKeyType,
}

impl fmt::Display for KeyRecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRecordError::TagList(e) => write!(f, "bad key record tag-list: {e}"),
            KeyRecordError::VersionNotFirst => f.write_str("v= is not the first tag"),
            KeyRecordError::UnsupportedVersion => f.write_str("v= is not DKIM1"),
            KeyRecordError::MissingPublicKey => f.write_str("no p= tag"),
            KeyRecordError::BadBase64(e) => write!(f, "bad base64 in p=: {e}"),
            KeyRecordError::KeyTooLarge => f.write_str("p= is larger than an RSA-8192 key"),
            KeyRecordError::UnknownKeyType => f.write_str("unknown k= key type"),
        }
    }
}

impl core::error::Error for KeyRecordError {}

impl From<TagListError> for KeyRecordError {
    fn from(e: TagListError) -> Self {
        KeyRecordError::TagList(e)
    }
}

/// Why a parsed key record cannot verify a given signature (§6.1.2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyUseError {
    /// `p=` is empty: the key has been revoked. RFC 6376 §6.1.2 and the
    /// security cases (row 11) make this a fail, not a permerror.
    Revoked,
    /// `k=` does not match the signature's algorithm (permerror).
    KeyTypeMismatch,
    /// `h=` does not list the signature's hash (permerror).
    HashNotAllowed,
    /// `s=` lists neither `email` nor `*` (permerror).
    ServiceNotEmail,
}

impl fmt::Display for KeyUseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyUseError::Revoked => "key revoked (empty p=)",
            KeyUseError::KeyTypeMismatch => "key type (k=) does not match a=",
            KeyUseError::HashNotAllowed => "key h= does not allow the hash of a=",
            KeyUseError::ServiceNotEmail => "key s= does not include email",
        })
    }
}

impl core::error::Error for KeyUseError {}

/// The `h=` tag: which hashes the key may be used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AcceptableHashes {
    /// `sha1` is listed.
    pub sha1: bool,
    /// `sha256` is listed.
    pub sha256: bool,
}

impl AcceptableHashes {
    /// Every hash: the default when `h=` is absent.
    pub const ALL: AcceptableHashes = AcceptableHashes {
        sha1: true,
        sha256: true,
    };

    /// True if `hash` is allowed.
    pub fn allows(&self, hash: HashAlgorithm) -> bool {
        match hash {
            HashAlgorithm::Sha1 => self.sha1,
            HashAlgorithm::Sha256 => self.sha256,
        }
    }
}

/// The `t=` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KeyFlags {
    /// `y`: the domain is testing DKIM; verifiers must not treat a failure
    /// differently from an unsigned message (§3.6.1).
    pub testing: bool,
    /// `s`: the `i=` domain must equal `d=`, not be a subdomain (§3.6.1).
    pub strict: bool,
}

/// A parsed key record, borrowing from the TXT data.
#[derive(Debug, Clone)]
pub struct KeyRecord<'a> {
    /// Which syntax this was read as.
    pub syntax: RecordSyntax,
    /// `k=` (default `rsa`).
    pub key_type: KeyType,
    /// `h=` (default: all).
    pub hashes: AcceptableHashes,
    /// `s=` includes `email` or `*` (default: yes).
    pub email_service: bool,
    /// `t=`.
    pub flags: KeyFlags,
    /// `n=`, if present.
    pub notes: Option<&'a str>,
    /// DomainKeys `g=` (RFC 4870 §3.2.3), if present; always `None` for
    /// DKIM records, where RFC 6376 dropped it.
    pub granularity: Option<&'a str>,
    public_key: heapless::Vec<u8, MAX_KEY_BYTES>,
}

impl<'a> KeyRecord<'a> {
    /// Parse a DKIM key record (RFC 6376 §3.6.1).
    pub fn parse(txt: &'a [u8]) -> Result<Self, KeyRecordError> {
        Self::parse_as(txt, RecordSyntax::Dkim)
    }

    /// Parse a DomainKeys key record (RFC 4870 §3.2.3).
    pub fn parse_domainkeys(txt: &'a [u8]) -> Result<Self, KeyRecordError> {
        Self::parse_as(txt, RecordSyntax::DomainKeys)
    }

    /// Parse a key record in the given syntax.
    pub fn parse_as(txt: &'a [u8], syntax: RecordSyntax) -> Result<Self, KeyRecordError> {
        let tags: TagList<'a, MAX_KEY_TAGS> = parse_tag_list(txt)?;

        if syntax == RecordSyntax::Dkim {
            check_version(&tags)?;
        }

        let key_type = match tags.get("k").map(|t| t.value) {
            None => KeyType::Rsa,
            Some(k) if k.eq_ignore_ascii_case("rsa") => KeyType::Rsa,
            Some(k) if syntax == RecordSyntax::Dkim && k.eq_ignore_ascii_case("ed25519") => {
                KeyType::Ed25519
            }
            Some(_) => return Err(KeyRecordError::UnknownKeyType),
        };

        let mut hashes = AcceptableHashes::ALL;
        let mut email_service = true;
        let mut granularity = None;
        if syntax == RecordSyntax::Dkim {
            if let Some(h) = tags.get("h") {
                hashes = AcceptableHashes {
                    sha1: false,
                    sha256: false,
                };
                for alg in colon_list(h.value) {
                    hashes.sha1 |= alg.eq_ignore_ascii_case("sha1");
                    hashes.sha256 |= alg.eq_ignore_ascii_case("sha256");
                }
            }
            if let Some(s) = tags.get("s") {
                email_service =
                    colon_list(s.value).any(|t| t == "*" || t.eq_ignore_ascii_case("email"));
            }
        } else {
            granularity = tags.get("g").map(|g| g.value);
        }

        let mut flags = KeyFlags::default();
        if let Some(t) = tags.get("t") {
            for flag in colon_list(t.value) {
                flags.testing |= flag.eq_ignore_ascii_case("y");
                // DomainKeys defines only t=y.
                flags.strict |= syntax == RecordSyntax::Dkim && flag.eq_ignore_ascii_case("s");
            }
        }

        let p = tags.get("p").ok_or(KeyRecordError::MissingPublicKey)?;
        let mut public_key = heapless::Vec::new();
        public_key
            .resize_default(MAX_KEY_BYTES)
            .map_err(|_| KeyRecordError::KeyTooLarge)?;
        let n = decode_base64(p.value.as_bytes(), &mut public_key).map_err(|e| match e {
            Base64Error::OutputTooSmall => KeyRecordError::KeyTooLarge,
            e => KeyRecordError::BadBase64(e),
        })?;
        public_key.truncate(n);

        Ok(KeyRecord {
            syntax,
            key_type,
            hashes,
            email_service,
            flags,
            notes: tags.get("n").map(|n| n.value),
            granularity,
            public_key,
        })
    }

    /// The decoded `p=`: SubjectPublicKeyInfo (or PKCS#1) DER for RSA, 32
    /// raw bytes for Ed25519. Empty if revoked.
    pub fn public_key_bytes(&self) -> &[u8] {
        &self.public_key
    }

    /// True if `p=` is empty: the key has been revoked (§3.6.1).
    pub fn is_revoked(&self) -> bool {
        self.public_key.is_empty()
    }

    /// Check that this record may verify a signature made with `algorithm`
    /// (§6.1.2: revocation, `k=`, `h=`, `s=`).
    pub fn check_use(&self, algorithm: SignatureAlgorithm) -> Result<(), KeyUseError> {
        if self.is_revoked() {
            return Err(KeyUseError::Revoked);
        }
        if !self.email_service {
            return Err(KeyUseError::ServiceNotEmail);
        }
        if self.key_type != algorithm.key_type() {
            return Err(KeyUseError::KeyTypeMismatch);
        }
        if !self.hashes.allows(algorithm.hash()) {
            return Err(KeyUseError::HashNotAllowed);
        }
        Ok(())
    }
}

/// `v=`, if present, must be the first tag and be exactly `DKIM1`.
fn check_version<const N: usize>(tags: &TagList<'_, N>) -> Result<(), KeyRecordError> {
    for (index, tag) in tags.tags().iter().enumerate() {
        if tag.name == "v" {
            if index != 0 {
                return Err(KeyRecordError::VersionNotFirst);
            }
            if tag.value != "DKIM1" {
                return Err(KeyRecordError::UnsupportedVersion);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
