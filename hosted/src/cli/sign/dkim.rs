//! `mass sign` with a DKIM-Signature (RFC 6376; rsa-sha256 or
//! ed25519-sha256, RFC 8463).

use mass_core::{BodyLength, HeaderSelection, SignRequest};

use super::{AlgorithmName, HostMessageSigner, SignArgs, header_names, parse_canon, read_key};
use crate::cli::CliError;
use crate::cli::io::{finish_into_field, read_message, write_signed};
use crate::clock::Clock;
use crate::keys::{KeySigner, SigningKey};

/// Run `mass sign --scheme dkim` (the default).
pub fn run(args: &SignArgs) -> Result<(), CliError> {
    if args.algorithm == Some(AlgorithmName::RsaSha1) {
        return Err(CliError::Usage(
            "--algorithm rsa-sha1 is for --scheme domainkeys; DKIM signs RSA keys with rsa-sha256 (RFC 8301)"
                .into(),
        ));
    }
    let key = read_key(&args.key, args.insecure_key_permissions)?;
    if let Some(name) = args.algorithm {
        name.check_key(&key, &args.key)?;
    }
    let now = Clock::System.now_or(args.now)?;
    let names: Vec<&str> = match &args.headers {
        Some(h) => header_names(h),
        None => mass_core::dkim::sign::DEFAULT_SIGNED_HEADERS.to_vec(),
    };
    let mut req = SignRequest::new(&args.domain, &args.selector, key.algorithm());
    req.canonicalization = parse_canon(args.canon.as_deref().unwrap_or("relaxed/relaxed"))?;
    req.headers = if args.exact_headers {
        HeaderSelection::Exact(&names)
    } else {
        HeaderSelection::Oversign(&names)
    };
    req.timestamp = Some(now);
    req.expiration = match args.expire {
        Some(secs) => Some(
            now.checked_add(secs)
                .ok_or_else(|| CliError::Usage("--expire is too large".into()))?,
        ),
        None => None,
    };
    req.identity = args.identity.as_deref();
    req.body_length = match args.body_length.as_deref() {
        None => BodyLength::Omit,
        Some("whole") => BodyLength::Whole,
        Some(n) => BodyLength::Limit(
            n.parse()
                .map_err(|_| CliError::Usage(format!("--body-length `{n}` is not a number")))?,
        ),
    };
    req.copied_headers = args.copy_headers;

    let mut signer = Box::new(HostMessageSigner::new(&req).map_err(CliError::Sign)?);
    let replay = read_message(args.input.as_deref(), !args.header_only, |c| {
        signer.update(c).map(drop).map_err(CliError::Sign)
    })?;
    // The daemon's signer type, for one signature: RSA blinded through the
    // rsa crate (OpenSSL is not loaded for one signature), Ed25519 as it is.
    let key = SigningKey::for_one_signature(args.domain.clone(), args.selector.clone(), key);
    let mut key_signer = KeySigner::new(&key);
    let required = signer.required_len(&key_signer);
    let field = finish_into_field(required, |buf| signer.finish(&mut key_signer, buf))?;
    write_signed(&field, replay)
}
