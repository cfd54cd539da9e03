//! `mass sign --scheme domainkeys`: sign one message with a legacy
//! DomainKey-Signature (RFC 4870; rsa-sha1 by design, RSA keys only).
//!
//! The same intake as `mass sign`: the input streams through core in
//! chunks after bare-LF conversion, and the field goes on top of the
//! (converted) message, so it covers every header field below it.

use std::io::{self, Seek, Write};
use std::path::Path;

use mass_core::RsaSha256Signer;
use mass_core::canon::DkCanon;
use mass_core::domainkeys::{DkSignRequest, DkSigner};

use crate::milter::keys::KeyMaterial;
use crate::sign_cli::{CHUNK, Input, SignArgs, read_key, spool_file, stream};

/// Parse `--canon` for DomainKeys: `simple` (the default) or `nofws`.
pub fn parse_dk_canon(s: Option<&str>) -> Result<DkCanon, String> {
    match s {
        None => Ok(DkCanon::Simple),
        Some(name) => DkCanon::from_name(name.as_bytes())
            .ok_or_else(|| format!("--canon `{name}`: DomainKeys knows simple and nofws")),
    }
}

/// Run `mass sign --scheme domainkeys`.
pub fn run(args: &SignArgs) -> Result<(), String> {
    for (given, flag) in [
        (args.identity.is_some(), "--identity"),
        (args.expire.is_some(), "--expire"),
        (args.body_length.is_some(), "--body-length"),
        (args.copy_headers, "--copy-headers"),
        (args.exact_headers, "--exact-headers"),
    ] {
        if given {
            return Err(format!("{flag} has no meaning for --scheme domainkeys"));
        }
    }
    if let Some(a) = args.algorithm.as_deref()
        && !matches!(a, "rsa-sha1" | "rsa")
    {
        return Err(format!(
            "--algorithm `{a}`: DomainKeys signs with rsa-sha1 only"
        ));
    }
    let canon = parse_dk_canon(args.canon.as_deref())?;
    let key = read_key(&args.key, args.insecure_key_permissions)?;
    let KeyMaterial::Rsa(rsa_key) = &key else {
        return Err(format!(
            "{}: DomainKeys needs an RSA key",
            args.key.display()
        ));
    };
    let names: Vec<&str> = args
        .headers
        .as_deref()
        .map(|h| {
            h.split(':')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut req = DkSignRequest::new(&args.domain, &args.selector, canon);
    if args.headers.is_some() {
        req.headers = Some(&names);
    }
    let mut signer = Box::new(DkSigner::new(&req).map_err(|e| format!("cannot sign: {e}"))?);
    let sign_err = |e: mass_core::Error| format!("cannot sign: {e}");

    let mut replay = None;
    match Input::open(args.input.as_deref())? {
        Input::File(mut f) => {
            stream(&mut f, |c| signer.update(c).map_err(sign_err))?;
            replay = Some(f);
        }
        Input::Stdin(stdin) => {
            let mut spool = if args.header_only {
                None
            } else {
                Some(io::BufWriter::new(spool_file()?))
            };
            stream(stdin.lock(), |c| {
                if let Some(s) = spool.as_mut() {
                    s.write_all(c)
                        .map_err(|e| format!("spool write error: {e}"))?;
                }
                signer.update(c).map_err(sign_err)
            })?;
            if let Some(s) = spool {
                replay = Some(
                    s.into_inner()
                        .map_err(|e| format!("spool write error: {e}"))?,
                );
            }
        }
    }

    let mut key_signer = RsaSha256Signer::new(&**rsa_key, getrandom::SysRng)
        .map_err(|e| format!("cannot use the key: {e}"))?;
    let mut field = vec![0u8; 4096];
    let n = match signer.clone().finish(&mut key_signer, &mut field) {
        Ok(n) => n,
        Err(mass_core::Error::BufferTooSmall { required }) => {
            field.resize(required, 0);
            signer
                .finish(&mut key_signer, &mut field)
                .map_err(sign_err)?
        }
        Err(e) => return Err(sign_err(e)),
    };

    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(CHUNK, stdout.lock());
    let write_err = |e: io::Error| format!("write error: {e}");
    out.write_all(&field[..n]).map_err(write_err)?;
    out.write_all(b"\r\n").map_err(write_err)?;
    if !args.header_only {
        let mut f = replay.ok_or("internal error: nothing to replay")?;
        f.rewind()
            .map_err(|e| format!("cannot re-read the input: {e}"))?;
        if matches!(args.input.as_deref(), Some(p) if p != Path::new("-")) {
            stream(f, |c| out.write_all(c).map_err(write_err))?;
        } else {
            io::copy(&mut f, &mut out).map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)
}
