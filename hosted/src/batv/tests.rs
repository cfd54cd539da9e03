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
        toml::from_str::<BatvConfig>("secret_file = \"x\"\nlocal_domains = []\nactoin = \"tag\"")
            .is_err()
    );
    assert!(
        toml::from_str::<BatvConfig>("secret_file = \"x\"\nlocal_domains = []\naction = \"drop\"")
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
