//! `mass sign --scheme domainkeys`: sign one message with a legacy
//! DomainKey-Signature (RFC 4870; rsa-sha1 by design, RSA keys only).
//!
//! The same intake as `mass sign`: the input streams through core in
//! chunks after bare-LF conversion, and the field goes on top of the
//! (converted) message, so it covers every header field below it.

use mass_core::RsaSha256Signer;
use mass_core::canon::DkCanon;
use mass_core::domainkeys::{DkSignRequest, DkSigner};

use super::{AlgorithmName, SignArgs, header_names, read_key};
use crate::cli::CliError;
use crate::cli::io::{finish_into_field, read_message, write_signed};
use crate::keys::KeyMaterial;

/// Parse `--canon` for DomainKeys: `simple` (the default) or `nofws`.
pub fn parse_dk_canon(s: Option<&str>) -> Result<DkCanon, CliError> {
    match s {
        None => Ok(DkCanon::Simple),
        Some(name) => DkCanon::from_name(name.as_bytes()).ok_or_else(|| {
            CliError::Usage(format!(
                "--canon `{name}`: DomainKeys knows simple and nofws"
            ))
        }),
    }
}

/// Run `mass sign --scheme domainkeys`.
pub fn run(args: &SignArgs) -> Result<(), CliError> {
    for (given, flag) in [
        (args.identity.is_some(), "--identity"),
        (args.expire.is_some(), "--expire"),
        (args.body_length.is_some(), "--body-length"),
        (args.copy_headers, "--copy-headers"),
        (args.exact_headers, "--exact-headers"),
    ] {
        if given {
            return Err(CliError::Usage(format!(
                "{flag} has no meaning for --scheme domainkeys"
            )));
        }
    }
    if let Some(a) = args.algorithm
        && !matches!(
            a,
            AlgorithmName::RsaSha1
                | AlgorithmName::Rsa
                | AlgorithmName::Rsa2048
                | AlgorithmName::Rsa3072
                | AlgorithmName::Rsa4096
        )
    {
        return Err(CliError::Usage(format!(
            "--algorithm {}: DomainKeys signs with rsa-sha1 only (rsa-sha1, rsa, or an RSA key size such as rsa-2048)",
            a.as_str()
        )));
    }
    let canon = parse_dk_canon(args.canon.as_deref())?;
    let key = read_key(&args.key, args.insecure_key_permissions)?;
    if let Some(a) = args.algorithm {
        a.check_key(&key, &args.key)?;
    }
    let KeyMaterial::Rsa(rsa_key) = &key else {
        return Err(CliError::Usage(format!(
            "{}: DomainKeys needs an RSA key",
            args.key.display()
        )));
    };
    let names: Vec<&str> = args
        .headers
        .as_deref()
        .map(header_names)
        .unwrap_or_default();
    let mut req = DkSignRequest::new(&args.domain, &args.selector, canon);
    if args.headers.is_some() {
        req.headers = Some(&names);
    }
    let mut signer = Box::new(DkSigner::new(&req).map_err(CliError::Sign)?);
    let replay = read_message(args.input.as_deref(), !args.header_only, |c| {
        signer.update(c).map_err(CliError::Sign)
    })?;
    let mut key_signer =
        RsaSha256Signer::new(&**rsa_key, getrandom::SysRng).map_err(CliError::Sign)?;
    let required = signer.required_len(&key_signer);
    let field = finish_into_field(required, |buf| signer.finish(&mut key_signer, buf))?;
    write_signed(&field, replay)
}
