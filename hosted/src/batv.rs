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
use std::process::ExitCode;

use mass_core::batv::{self as core_batv, CheckError, CheckPolicy, KeyNumber, KeyRing, TagError};
use serde::Deserialize;
use zeroize::Zeroizing;

/// `mass batv`: sign or check BATV `prvs=` envelope sender tags.
#[derive(clap::Args, Debug)]
pub struct BatvArgs {
    #[command(subcommand)]
    command: BatvCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BatvCommand {
    /// Print the prvs= form of ADDRESS (exit 1 and the address unchanged if it cannot
    /// be tagged, e.g. a local part that would pass 64 octets).
    Sign(SignArgs),
    /// Print the original address of a prvs= ADDRESS; exit 0 if the tag is valid,
    /// 1 if it is invalid, expired or missing.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
struct SecretArgs {
    /// File holding the secret (its bytes, without a final newline). Must not be
    /// readable by group or others.
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// Use the secret file even if group or others may read it.
    #[arg(long)]
    insecure_secret_file: bool,
    /// The time to use, unix seconds (default: now).
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct SignArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// Key number K, 0-9.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=9))]
    keynum: u8,
    /// Days until the tag expires, 0-499.
    #[arg(long, default_value_t = core_batv::DEFAULT_VALIDITY_DAYS,
          value_parser = clap::value_parser!(u16).range(0..=499))]
    days: u16,
    /// The address to tag, local@domain (angle brackets are removed).
    address: String,
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    secret: SecretArgs,
    /// Days after expiry that a tag is still accepted, 0-499.
    #[arg(long, default_value_t = CheckPolicy::default().grace_days,
          value_parser = clap::value_parser!(u16).range(0..=499))]
    grace_days: u16,
    /// The furthest ahead an expiry day may be, 0-499.
    #[arg(long, default_value_t = CheckPolicy::default().max_validity_days,
          value_parser = clap::value_parser!(u16).range(0..=499))]
    max_days: u16,
    /// The tagged address, prvs=KDDDSSSSSS=local@domain.
    address: String,
}

/// Exit status of `mass batv check` for a valid tag / anything else / usage error.
const EXIT_VALID: u8 = 0;
const EXIT_INVALID: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Runs `mass batv ...`.
pub fn run(args: &BatvArgs) -> ExitCode {
    match &args.command {
        BatvCommand::Sign(a) => sign_command(a),
        BatvCommand::Check(a) => check_command(a),
    }
}

fn now_or(now: Option<u64>) -> u64 {
    now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

fn sign_command(a: &SignArgs) -> ExitCode {
    let secret = match read_secret_file(&a.secret.secret_file, a.secret.insecure_secret_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mass batv sign: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let Ok(key) = KeyNumber::new(a.keynum) else {
        eprintln!("mass batv sign: key number above 9");
        return ExitCode::from(EXIT_USAGE);
    };
    let params = core_batv::TagParams {
        key,
        validity_days: a.days,
        now: now_or(a.secret.now),
    };
    let address = strip_angle_brackets(&a.address);
    match tag_address(address, &secret, &params) {
        Ok(tagged) => {
            println!("{tagged}");
            ExitCode::from(EXIT_VALID)
        }
        Err(e @ (TagError::LocalPartTooLong { .. } | TagError::AddressTooLong { .. })) => {
            // RFC 5321 §4.5.3.1: leave the address untagged, and say so.
            eprintln!("mass batv sign: not tagged: {e}");
            println!("{address}");
            ExitCode::from(EXIT_INVALID)
        }
        Err(e) => {
            eprintln!("mass batv sign: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn check_command(a: &CheckArgs) -> ExitCode {
    let secret = match read_secret_file(&a.secret.secret_file, a.secret.insecure_secret_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mass batv check: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let policy = CheckPolicy {
        grace_days: a.grace_days,
        max_validity_days: a.max_days,
    };
    let address = strip_angle_brackets(&a.address);
    let ring = KeyRing::all(&secret);
    match core_batv::check(address.as_bytes(), &ring, now_or(a.secret.now), &policy) {
        Ok(c) => {
            println!("{}", String::from_utf8_lossy(c.original));
            ExitCode::from(EXIT_VALID)
        }
        Err(e) => {
            eprintln!("mass batv check: invalid: {e}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

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
mod tests {
    use super::*;

    const NOW: u64 = 20_420 * 86_400 + 3600;

    fn config(action: BatvAction) -> BatvConfig {
        BatvConfig {
            secret_file: PathBuf::from("/nonexistent"),
            insecure_secret_file: false,
            key_number: 4,
            local_domains: vec!["Example.COM".into(), "mail.example.org.".into()],
            action,
            validity_days: 7,
            grace_days: 1,
            max_validity_days: 30,
        }
    }

    fn policy(action: BatvAction) -> BatvPolicy {
        BatvPolicy::new(Zeroizing::new(b"s3cret".to_vec()), &config(action)).unwrap()
    }

    #[test]
    fn config_parses_from_toml() {
        let c: BatvConfig = toml::from_str(
            r#"secret_file = "/etc/mass/batv.secret"
               local_domains = ["example.com"]
               action = "tag""#,
        )
        .unwrap();
        assert_eq!(c.action, BatvAction::Tag);
        assert_eq!(c.key_number, 0);
        assert_eq!(c.validity_days, 7);
        assert!(
            toml::from_str::<BatvConfig>(
                "secret_file = \"x\"\nlocal_domains = []\nactoin = \"tag\""
            )
            .is_err()
        );
        assert!(
            toml::from_str::<BatvConfig>(
                "secret_file = \"x\"\nlocal_domains = []\naction = \"drop\""
            )
            .is_err()
        );
    }

    #[test]
    fn config_limits() {
        let s = || Zeroizing::new(b"k".to_vec());
        let mut c = config(BatvAction::Reject);
        c.key_number = 10;
        assert!(matches!(
            BatvPolicy::new(s(), &c),
            Err(BatvConfigError::KeyNumber(10))
        ));
        let mut c = config(BatvAction::Reject);
        c.validity_days = 31;
        assert!(matches!(
            BatvPolicy::new(s(), &c),
            Err(BatvConfigError::Days)
        ));
        let mut c = config(BatvAction::Reject);
        c.grace_days = 500;
        assert!(matches!(
            BatvPolicy::new(s(), &c),
            Err(BatvConfigError::Days)
        ));
        let mut c = config(BatvAction::Reject);
        c.local_domains.clear();
        assert!(matches!(
            BatvPolicy::new(s(), &c),
            Err(BatvConfigError::NoDomains)
        ));
        assert!(!format!("{:?}", policy(BatvAction::Reject)).contains("s3cret"));
    }

    #[test]
    fn outgoing_rewrites_local_senders_only() {
        let p = policy(BatvAction::Reject);
        let MailFromDecision::Rewrite(r) = outgoing_mail_from(&p, "<Alice.B+x@example.com>", NOW)
        else {
            panic!("not rewritten");
        };
        assert!(
            r.starts_with("<prvs=4427") && r.ends_with("=Alice.B+x@example.com>"),
            "{r}"
        );
        assert!(matches!(
            outgoing_mail_from(&p, "bob@MAIL.example.org", NOW),
            MailFromDecision::Rewrite(_)
        ));
        assert_eq!(outgoing_mail_from(&p, "<>", NOW), MailFromDecision::Keep);
        assert_eq!(
            outgoing_mail_from(&p, "<a@other.example>", NOW),
            MailFromDecision::Keep
        );
        assert_eq!(
            outgoing_mail_from(&p, "<a@sub.example.com>", NOW),
            MailFromDecision::Keep
        );
        assert_eq!(outgoing_mail_from(&p, &r, NOW), MailFromDecision::Keep);
        let long = format!("<{}@example.com>", "l".repeat(49));
        assert_eq!(
            outgoing_mail_from(&p, &long, NOW),
            MailFromDecision::Untagged(TagError::LocalPartTooLong { tagged: 65 })
        );
    }

    #[test]
    fn bounces_to_our_domains_are_checked() {
        let p = policy(BatvAction::Reject);
        let MailFromDecision::Rewrite(tagged) = outgoing_mail_from(&p, "<Carol@example.com>", NOW)
        else {
            panic!()
        };
        // Valid: replace with the untagged recipient.
        assert_eq!(
            bounce_recipient(&p, "<>", &tagged, NOW + 86_400),
            RcptDecision::Replace {
                tagged: tagged.clone(),
                untagged: "<Carol@example.com>".into()
            }
        );
        // In grace (expiry day + 1), then expired.
        assert!(matches!(
            bounce_recipient(&p, "<>", &tagged, NOW + 8 * 86_400),
            RcptDecision::Replace { .. }
        ));
        assert_eq!(
            bounce_recipient(&p, "<>", &tagged, NOW + 9 * 86_400),
            RcptDecision::Reject(CheckError::Expired { days_ago: 2 })
        );
        // Missing and forged.
        assert_eq!(
            bounce_recipient(&p, "<>", "<carol@example.com>", NOW),
            RcptDecision::Reject(CheckError::MissingTag)
        );
        let forged = tagged.replacen("=4", "=3", 1);
        assert_eq!(
            bounce_recipient(&p, "", &forged, NOW),
            RcptDecision::Reject(CheckError::BadHash)
        );
        // Not a bounce, or not our domain: untouched.
        assert_eq!(
            bounce_recipient(&p, "<x@y.example>", "<carol@example.com>", NOW),
            RcptDecision::Accept
        );
        assert_eq!(
            bounce_recipient(&p, "<>", "<carol@elsewhere.example>", NOW),
            RcptDecision::Accept
        );
    }

    #[test]
    fn tag_action_adds_a_header() {
        let p = policy(BatvAction::Tag);
        let RcptDecision::AddHeader { value, reason } =
            bounce_recipient(&p, "<>", "<dave@example.com>", NOW)
        else {
            panic!()
        };
        assert_eq!(reason, CheckError::MissingTag);
        assert_eq!(value, "fail (no prvs= tag) rcpt=<dave@example.com>");
    }

    #[test]
    fn angle_brackets() {
        assert_eq!(strip_angle_brackets(" <a@b> "), "a@b");
        assert_eq!(strip_angle_brackets("a@b"), "a@b");
        assert_eq!(strip_angle_brackets("<>"), "");
        assert_eq!(strip_angle_brackets("<a@b"), "<a@b");
    }

    #[test]
    fn secret_file_permissions_and_newline() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("mass-batv-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("secret");
        std::fs::write(&f, b"abc\r\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file(&f, false).unwrap().as_slice(), b"abc");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            read_secret_file(&f, false),
            Err(SecretFileError::Insecure { mode: 0o640, .. })
        ));
        assert_eq!(read_secret_file(&f, true).unwrap().as_slice(), b"abc");
        std::fs::write(&f, b"\n").unwrap();
        assert!(matches!(
            read_secret_file(&f, true),
            Err(SecretFileError::Empty { .. })
        ));
        assert!(matches!(
            read_secret_file(&dir.join("none"), true),
            Err(SecretFileError::Io { .. })
        ));
        std::fs::write(&f, vec![b'k'; MAX_SECRET_BYTES]).unwrap();
        assert_eq!(read_secret_file(&f, true).unwrap().len(), MAX_SECRET_BYTES);
        std::fs::write(&f, vec![b'k'; MAX_SECRET_BYTES + 1]).unwrap();
        assert!(matches!(
            read_secret_file(&f, true),
            Err(SecretFileError::TooLarge { .. })
        ));
        assert!(matches!(
            read_secret_file(&dir, true),
            Err(SecretFileError::NotRegular { .. })
        ));
        // A directory everyone may write to, without the sticky bit.
        std::fs::write(&f, b"abc").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            read_secret_file(&f, false),
            Err(SecretFileError::WritableDirectory { .. })
        ));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(read_secret_file(&f, false).unwrap().as_slice(), b"abc");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
