//! BATV (draft-levine-smtp-batv-01, `prvs=` tags) for the host: the secret file,
//! the `mass batv sign|check` commands, the `[batv]` config table and the milter's
//! decisions as pure functions.
//!
//! ```text
//!  [batv] config ──► BatvConfig::load ──► BatvPolicy (secret held in Zeroizing)
//!  milter MAIL FROM (internal client) ──► outgoing_mail_from ──► CHGFROM <prvs=...>
//!  milter RCPT TO with MAIL FROM <> ──► bounce_recipient ──► accept | replace (DELRCPT+ADDRCPT)
//!                                                           | 550 5.7.1 | add header
//! ```
//!
//! The tagging and checking themselves are `mass_core::batv`.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use mass_core::batv::{self as core_batv, CheckError, CheckPolicy, KeyNumber, KeyRing, TagError};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Tags an address; the result is a `String` because the input was one.
pub fn tag_address(
    address: &str,
    secret: &[u8],
    params: &core_batv::TagParams,
) -> Result<String, TagError> {
    let mut out = vec![0u8; core_batv::tagged_len(address.len())];
    let n = core_batv::tag(address.as_bytes(), secret, params, &mut out)?;
    out.truncate(n);
    // Tagging adds ASCII in front of a str, so this is UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `<a@b>` -> `a@b`; anything else unchanged (surrounding spaces removed).
pub fn strip_angle_brackets(address: &str) -> &str {
    let t = address.trim();
    t.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(t)
}

/// Why the secret file could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum SecretFileError {
    /// Reading the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Group or others may read it, and no insecure switch was given.
    Insecure {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file holds no secret.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Not a regular file.
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// A directory above it is writable by everyone (and not sticky).
    WritableDirectory {
        /// The file.
        path: PathBuf,
        /// The directory.
        dir: PathBuf,
    },
    /// Longer than [`MAX_SECRET_BYTES`].
    TooLarge {
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for SecretFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretFileError::Io { path, source } => {
                write!(f, "BATV secret file {}: {source}", path.display())
            }
            SecretFileError::Insecure { path, mode } => write!(
                f,
                "BATV secret file {} has mode {mode:04o}: group or others may read it \
                 (chmod 600, or pass the insecure switch)",
                path.display()
            ),
            SecretFileError::Empty { path } => {
                write!(f, "BATV secret file {} is empty", path.display())
            }
            SecretFileError::NotRegular { path } => {
                write!(f, "BATV secret file {}: not a regular file", path.display())
            }
            SecretFileError::WritableDirectory { path, dir } => write!(
                f,
                "BATV secret file {}: directory {} is writable by everyone, so anyone could \
                 replace the secret (or pass the insecure switch)",
                path.display(),
                dir.display()
            ),
            SecretFileError::TooLarge { path } => write!(
                f,
                "BATV secret file {} is longer than {MAX_SECRET_BYTES} bytes",
                path.display()
            ),
        }
    }
}

impl std::error::Error for SecretFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SecretFileError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The longest secret file accepted, in bytes.
pub const MAX_SECRET_BYTES: usize = 4096;

/// Reads a BATV secret: the file's bytes less one final `\n` or `\r\n` (so a secret
/// written with `echo` is the same string Exim is given).
///
/// As for key files, unless `allow_insecure`: the file must be a regular file that
/// group and others cannot read or write, in no directory that everyone may write to
/// without the sticky bit (someone could swap the secret and forge tags we accept).
/// The buffer is allocated once at its final size, so no copy of the secret is left
/// behind by a reallocation, and it is zeroized on drop.
pub fn read_secret_file(
    path: &Path,
    allow_insecure: bool,
) -> Result<Zeroizing<Vec<u8>>, SecretFileError> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let io = |source| SecretFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(SecretFileError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if !allow_insecure {
        if mode & 0o077 != 0 {
            return Err(SecretFileError::Insecure {
                path: path.to_path_buf(),
                mode,
            });
        }
        let absolute = std::fs::canonicalize(path).map_err(io)?;
        for dir in absolute.ancestors().skip(1) {
            let Ok(m) = std::fs::metadata(dir) else {
                continue;
            };
            if m.mode() & 0o002 != 0 && m.mode() & 0o1000 == 0 {
                return Err(SecretFileError::WritableDirectory {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                });
            }
        }
    }
    let mut secret = Zeroizing::new(Vec::with_capacity(MAX_SECRET_BYTES + 1));
    let limit = u64::try_from(MAX_SECRET_BYTES + 1).unwrap_or(u64::MAX);
    file.take(limit).read_to_end(&mut secret).map_err(io)?;
    if secret.len() > MAX_SECRET_BYTES {
        return Err(SecretFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    if secret.last() == Some(&b'\n') {
        secret.pop();
        if secret.last() == Some(&b'\r') {
            secret.pop();
        }
    }
    if secret.is_empty() {
        return Err(SecretFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(secret)
}

// ---------------------------------------------------------------------------
// The milter's BATV decisions.

/// What to do with a bounce to a BATV domain whose tag is missing, invalid or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatvAction {
    /// Refuse the recipient with 550 5.7.1.
    #[default]
    Reject,
    /// Accept it and add a [`BATV_HEADER`] field saying why it failed.
    Tag,
}

/// The `[batv]` table of the daemon's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatvConfig {
    /// The secret, as for `mass batv --secret-file`.
    pub secret_file: PathBuf,
    /// Accept a secret file that group or others may read.
    #[serde(default)]
    pub insecure_secret_file: bool,
    /// Key number K written into new tags, 0-9. Checking accepts any K with this secret.
    #[serde(default)]
    pub key_number: u8,
    /// Domains whose senders are tagged and whose bounces are checked.
    pub local_domains: Vec<String>,
    /// What to do with a bad bounce: "reject" (default) or "tag".
    #[serde(default)]
    pub action: BatvAction,
    /// Validity of new tags in days (default 7).
    #[serde(default = "default_validity")]
    pub validity_days: u16,
    /// Days after expiry a tag is still accepted (default 0).
    #[serde(default)]
    pub grace_days: u16,
    /// The furthest ahead an expiry day may be (default 30).
    #[serde(default = "default_max_validity")]
    pub max_validity_days: u16,
}

fn default_validity() -> u16 {
    core_batv::DEFAULT_VALIDITY_DAYS
}

fn default_max_validity() -> u16 {
    CheckPolicy::default().max_validity_days
}

/// Why a `[batv]` table cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatvConfigError {
    /// The secret file.
    Secret(SecretFileError),
    /// key_number above 9.
    KeyNumber(u8),
    /// A day count above 499, or a validity the checker would refuse.
    Days,
    /// No local domains.
    NoDomains,
}

impl fmt::Display for BatvConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatvConfigError::Secret(e) => e.fmt(f),
            BatvConfigError::KeyNumber(n) => write!(f, "[batv] key_number {n} is above 9"),
            BatvConfigError::Days => f.write_str(
                "[batv] validity_days, grace_days and max_validity_days must be at most 499, \
                 and validity_days at most max_validity_days",
            ),
            BatvConfigError::NoDomains => f.write_str("[batv] local_domains is empty"),
        }
    }
}

impl std::error::Error for BatvConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BatvConfigError::Secret(e) => Some(e),
            _ => None,
        }
    }
}

/// A loaded `[batv]` table: what the milter consults.
pub struct BatvPolicy {
    secret: Zeroizing<Vec<u8>>,
    key: KeyNumber,
    local_domains: Vec<String>,
    action: BatvAction,
    validity_days: u16,
    check: CheckPolicy,
}

impl fmt::Debug for BatvPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatvPolicy")
            .field("secret", &"<redacted>")
            .field("key", &self.key)
            .field("local_domains", &self.local_domains)
            .field("action", &self.action)
            .field("validity_days", &self.validity_days)
            .field("check", &self.check)
            .finish()
    }
}

impl BatvConfig {
    /// Reads the secret file (a relative path is taken from `base`, the config file's
    /// directory) and checks the numbers. `allow_insecure` also lets a group- or
    /// other-readable secret through, as `insecure_secret_file` does.
    pub fn load(&self, base: &Path, allow_insecure: bool) -> Result<BatvPolicy, BatvConfigError> {
        let path = base.join(&self.secret_file);
        let secret = read_secret_file(&path, allow_insecure || self.insecure_secret_file)
            .map_err(BatvConfigError::Secret)?;
        BatvPolicy::new(secret, self)
    }
}

impl BatvPolicy {
    /// A policy from a secret and the rest of a `[batv]` table.
    pub fn new(secret: Zeroizing<Vec<u8>>, cfg: &BatvConfig) -> Result<Self, BatvConfigError> {
        let key = KeyNumber::new(cfg.key_number)
            .map_err(|_| BatvConfigError::KeyNumber(cfg.key_number))?;
        let max = core_batv::MAX_DAY_OFFSET;
        if cfg.validity_days > max
            || cfg.grace_days > max
            || cfg.max_validity_days > max
            || cfg.validity_days > cfg.max_validity_days
        {
            return Err(BatvConfigError::Days);
        }
        if cfg.local_domains.is_empty() {
            return Err(BatvConfigError::NoDomains);
        }
        Ok(BatvPolicy {
            secret,
            key,
            local_domains: cfg
                .local_domains
                .iter()
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            action: cfg.action,
            validity_days: cfg.validity_days,
            check: CheckPolicy {
                grace_days: cfg.grace_days,
                max_validity_days: cfg.max_validity_days,
            },
        })
    }

    /// True if the address's domain (after its last `@`) is one of ours; case-insensitive.
    pub fn is_local_domain(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, d)| {
            let d = d.trim_end_matches('.');
            self.local_domains.iter().any(|l| l.eq_ignore_ascii_case(d))
        })
    }
}

/// What to do with MAIL FROM of mail we sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailFromDecision {
    /// Leave it: the null sender, a domain that is not ours, or already tagged.
    Keep,
    /// Replace the envelope sender (SMFIR_CHGFROM) with this, angle brackets included.
    Rewrite(String),
    /// Could not tag it (e.g. the local part would pass 64 octets, RFC 5321 §4.5.3.1.1);
    /// send it untagged and log the error.
    Untagged(TagError),
}

/// Decides MAIL FROM for outgoing (signed) mail. `mail_from` is the milter's first
/// MAIL argument, with or without angle brackets.
pub fn outgoing_mail_from(policy: &BatvPolicy, mail_from: &str, now: u64) -> MailFromDecision {
    let address = strip_angle_brackets(mail_from);
    if address.is_empty()
        || !policy.is_local_domain(address)
        || core_batv::is_tagged(address.as_bytes())
    {
        return MailFromDecision::Keep;
    }
    let params = core_batv::TagParams {
        key: policy.key,
        validity_days: policy.validity_days,
        now,
    };
    match tag_address(address, &policy.secret, &params) {
        Ok(tagged) => MailFromDecision::Rewrite(format!("<{tagged}>")),
        Err(e) => MailFromDecision::Untagged(e),
    }
}

/// The header field added with `action = "tag"` for a bounce that failed BATV.
pub const BATV_HEADER: &str = "X-BATV";

/// The SMTP reply for a refused bounce recipient.
pub const REJECT_REPLY: (&str, &str, &str) = (
    "550",
    "5.7.1",
    "bounce to an address this domain did not send from (BATV)",
);

/// What to do with one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    /// Nothing to do: not a bounce, or not one of our domains.
    Accept,
    /// A valid tag: at end of message, remove `tagged` (SMFIR_DELRCPT) and add
    /// `untagged` (SMFIR_ADDRCPT), both with angle brackets.
    Replace {
        /// The recipient as given.
        tagged: String,
        /// The original address.
        untagged: String,
    },
    /// Refuse this recipient: reply [`REJECT_REPLY`] (550 5.7.1).
    Reject(CheckError),
    /// `action = "tag"`: accept, and add a [`BATV_HEADER`] field with this value.
    AddHeader {
        /// The header field value.
        value: String,
        /// Why.
        reason: CheckError,
    },
}

/// Decides one recipient. A bounce is MAIL FROM `<>`; only bounces to our domains are
/// checked (draft-levine-smtp-batv-01: tags are only meaningful on bounces).
pub fn bounce_recipient(
    policy: &BatvPolicy,
    mail_from: &str,
    rcpt: &str,
    now: u64,
) -> RcptDecision {
    if !strip_angle_brackets(mail_from).is_empty() {
        return RcptDecision::Accept;
    }
    let address = strip_angle_brackets(rcpt);
    if !policy.is_local_domain(address) {
        return RcptDecision::Accept;
    }
    let ring = KeyRing::all(&policy.secret);
    match core_batv::check(address.as_bytes(), &ring, now, &policy.check) {
        Ok(c) => RcptDecision::Replace {
            tagged: format!("<{address}>"),
            untagged: format!("<{}>", String::from_utf8_lossy(c.original)),
        },
        Err(reason) => match policy.action {
            BatvAction::Reject => RcptDecision::Reject(reason),
            BatvAction::Tag => RcptDecision::AddHeader {
                value: format!("fail ({reason}) rcpt=<{address}>"),
                reason,
            },
        },
    }
}

#[cfg(test)]
mod tests;
