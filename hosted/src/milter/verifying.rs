//! Verifying one message with core's [`MessageVerifier`] (RFC 6376 §6,
//! RFC 8301 policy) and writing our Authentication-Results (RFC 8601):
//! incoming fields that claim our authserv-id are deleted (RFC 8601 §5;
//! security case 7) and ours goes on top.
//!
//! Header fields go in at EOH, body chunks as they come; once core needs
//! no more body (or there is no signature) the MTA is told to skip the
//! rest. Key records are fetched at end of message, through the
//! [`KeySource`] of the configuration (DNS, or a zone file for tests).
//!
//! DomainKey-Signature fields (RFC 4870) are checked beside, by core's
//! DomainKeys verifier ([`crate::auth_results::domainkeys`]), and added as legacy
//! `domainkeys=` results that never count as a DKIM pass.

use mass_core::BodyInterest;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, Verdict, VerifyOptions};

use crate::auth_results::domainkeys::{self, HostDkVerifier};
use crate::auth_results::{self, DkimResult, SignatureResult};
use crate::dns::{KeySource, LookupError};

use super::headers::HeaderBuf;
use super::{State, now};

/// Room for the header fields the verifier keeps (signed ones and the
/// DKIM-Signature fields themselves).
const HEADER_BYTES: usize = 64 * 1024;
/// The most kept header fields.
const HEADER_FIELDS: usize = 128;
/// The most signatures checked (the default `max_signatures` is 5).
const SIGNATURES: usize = 8;

type Verifier = MessageVerifier<HEADER_BYTES, HEADER_FIELDS, SIGNATURES>;

/// What to do to the message at its end.
#[derive(Debug)]
pub struct VerifyOutcome {
    /// 1-based indices among Authentication-Results fields to delete, in
    /// the order to delete them (highest first).
    pub delete_auth_results: Vec<usize>,
    /// The value of our Authentication-Results field (after the colon),
    /// folded with LF + tab.
    pub auth_results: String,
    /// The verdicts, for the log line.
    pub summary: String,
}

/// The verifier for one message.
#[derive(Debug)]
pub struct VerifyJob {
    verifier: Option<Box<Verifier>>,
    /// The DomainKeys verifier, when the message has a DomainKey-Signature
    /// (it needs the whole body; a failure of its own only drops it).
    domainkeys: Option<Box<HostDkVerifier>>,
    /// Why the message could not be verified, when it could not.
    broken: Option<String>,
    body_done: bool,
}

impl VerifyJob {
    /// Start verifying; the header fields are all known at this point.
    pub fn start(_state: &State, headers: &HeaderBuf) -> VerifyJob {
        let mut job = VerifyJob {
            verifier: None,
            domainkeys: None,
            broken: None,
            body_done: false,
        };
        if headers.values("DomainKey-Signature").next().is_some() {
            let mut dk = domainkeys::new_verifier();
            let fed = headers
                .fields()
                .try_for_each(|(_, field)| dk.header_field(field))
                .and_then(|()| dk.end_of_headers());
            if fed.is_ok() {
                job.domainkeys = Some(dk);
            }
        }
        if headers.values("DKIM-Signature").next().is_none() {
            // Nothing to check: dkim=none, and no body needed.
            job.body_done = true;
            return job;
        }
        let mut verifier = Box::new(Verifier::new(VerifyOptions::new(now())));
        let fed = headers
            .fields()
            .try_for_each(|(_, field)| verifier.header_field(field))
            .and_then(|()| verifier.end_of_headers());
        match fed {
            Ok(()) => job.verifier = Some(verifier),
            Err(e) => {
                job.broken = Some(format!("header section not verifiable: {e}"));
                job.body_done = true;
            }
        }
        job
    }

    /// Feed a body chunk; false when the body is no longer needed.
    pub fn body(&mut self, chunk: &[u8]) -> bool {
        if let Some(dk) = self.domainkeys.as_mut()
            && dk.body(chunk).is_err()
        {
            self.domainkeys = None;
        }
        let dk_wants_more = self.domainkeys.is_some();
        if self.body_done {
            return dk_wants_more;
        }
        let Some(v) = self.verifier.as_mut() else {
            return false;
        };
        match v.body(chunk) {
            Ok(BodyInterest::Done) => self.body_done = true,
            Ok(_) => {}
            Err(e) => {
                self.broken = Some(format!("body not verifiable: {e}"));
                self.body_done = true;
            }
        }
        !self.body_done || dk_wants_more
    }

    /// True when key records must be fetched before [`VerifyJob::finish`].
    pub fn needs_keys(&self) -> bool {
        let dk = self
            .domainkeys
            .as_ref()
            .is_some_and(|v| v.key_requests().next().is_some());
        dk || self.broken.is_none()
            && self
                .verifier
                .as_ref()
                .is_some_and(|v| v.key_requests().next().is_some())
    }

    /// Fetch every key record the verifier asks for.
    pub async fn fetch_keys<K: KeySource>(&mut self, source: &K) {
        if let Some(dk) = self.domainkeys.as_mut() {
            domainkeys::provide_keys(dk, source).await;
        }
        let Some(v) = self.verifier.as_mut() else {
            return;
        };
        let requests: Vec<(usize, String)> =
            v.key_requests().map(|r| (r.id, r.to_string())).collect();
        for (id, name) in requests {
            match source.txt_records(&name).await {
                Ok(records) => {
                    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                    v.provide_key(id, KeyAnswer::Records(&refs));
                }
                Err(e) if e.is_temporary() => v.provide_key(id, KeyAnswer::TempFail),
                Err(LookupError::NoRecord) | Err(_) => v.provide_key(id, KeyAnswer::NotFound),
            }
        }
    }

    /// The verdicts and the header changes.
    pub fn finish(self, state: &State, headers: &HeaderBuf) -> VerifyOutcome {
        let id = &state.config.authserv_id;
        let fields = headers
            .fields()
            .map(|(name, field)| (name, field.get(name.len() + 1..).unwrap_or_default()));
        let delete_auth_results = auth_results::own_fields_to_delete(fields, id);
        let mut results = Vec::new();
        let mut broken = self.broken;
        if let (Some(v), None) = (self.verifier, &broken) {
            match v.finish() {
                Ok(verification) => {
                    for r in verification.results() {
                        results.push(SignatureResult {
                            result: Some(auth_results::dkim_result(r.verdict)),
                            reason: (r.verdict != Verdict::Pass).then(|| r.reason.to_string()),
                            domain: r.domain.map(String::from),
                            selector: r.selector.map(String::from),
                            algorithm: r.algorithm.map(|a| a.as_str().to_string()),
                            signature: (!r.b_prefix.is_empty()).then(|| r.b_prefix.to_string()),
                        });
                    }
                }
                Err(e) => broken = Some(format!("not verifiable: {e}")),
            }
        }
        if let Some(why) = &broken {
            results.push(SignatureResult {
                result: Some(DkimResult::Permerror),
                reason: Some(why.clone()),
                ..SignatureResult::default()
            });
        }
        let dk_reports = self
            .domainkeys
            .map(domainkeys::reports)
            .and_then(Result::ok)
            .unwrap_or_default();
        let mut field = auth_results::write_field(id, &results, "\n\t");
        domainkeys::append_to_field(&mut field, &dk_reports, "\n\t");
        let value = field
            .split_once(':')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let dk_summary: String = dk_reports
            .iter()
            .map(|r| {
                format!(
                    " domainkeys:{}/{}",
                    r.result,
                    r.domain.as_deref().unwrap_or("-")
                )
            })
            .collect();
        let summary = if results.is_empty() {
            "none".to_string() + &dk_summary
        } else {
            results
                .iter()
                .map(|r| {
                    format!(
                        "{}:{}/{}",
                        r.result.map(|x| x.as_str()).unwrap_or("permerror"),
                        r.domain.as_deref().unwrap_or("-"),
                        r.selector.as_deref().unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
                + &dk_summary
        };
        VerifyOutcome {
            delete_auth_results,
            auth_results: value,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64ct::{Base64, Encoding};
    use mass_core::RsaSha256Signer;
    use mass_core::canon::DkCanon;
    use mass_core::domainkeys::{DkSignRequest, DkSigner};

    use super::*;
    use crate::config::Config;
    use crate::keys::{KeyMaterial, parse_pem};
    use crate::milter::KeySources;

    /// RFC 8463 §A.1, the RSA-1024 key (PKCS#1).
    const RSA_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
-----END RSA PRIVATE KEY-----
";

    #[test]
    fn domainkeys_signatures_get_a_legacy_result() {
        let KeyMaterial::Rsa(key) = parse_pem(RSA_PEM).unwrap() else {
            panic!("not RSA");
        };
        let head: &[(&str, &str)] = &[
            ("From", " Joe <joe@example.com>"),
            ("To", " jane@example.net"),
            ("Subject", " lunch\r\n today"),
        ];
        let body = b"Hi.\r\n\r\nWe lost.\r\n";
        let mut signer =
            DkSigner::new(&DkSignRequest::new("example.com", "dk", DkCanon::Nofws)).unwrap();
        for (name, value) in head {
            signer
                .header_field(format!("{name}:{value}").as_bytes())
                .unwrap();
        }
        signer.end_of_headers().unwrap();
        signer.body(body).unwrap();
        let mut sha1 = RsaSha256Signer::new(&*key, getrandom::SysRng).unwrap();
        let mut out = vec![0u8; 2048];
        let n = signer.finish(&mut sha1, &mut out).unwrap();
        let field = String::from_utf8(out[..n].to_vec()).unwrap();
        let (name, value) = field.split_once(':').unwrap();

        let mut headers = HeaderBuf::default();
        headers.push(name.as_bytes(), value.as_bytes(), true, 1 << 20);
        for (name, value) in head {
            headers.push(name.as_bytes(), value.as_bytes(), true, 1 << 20);
        }

        use rsa::pkcs8::EncodePublicKey;
        let der = key.to_public_key().to_public_key_der().unwrap();
        let record = format!("k=rsa; p={}", Base64::encode_string(der.as_bytes()));
        let strings: Vec<String> = record
            .as_bytes()
            .chunks(200)
            .map(|c| format!("\"{}\"", std::str::from_utf8(c).unwrap()))
            .collect();
        let zone_text = format!("dk._domainkey.example.com. IN TXT {}\n", strings.join(" "));
        let zone = crate::dns::ZoneKeySource::parse(zone_text.as_bytes()).unwrap();
        let config = Config::parse(
            "listen = \"inet:127.0.0.1:1\"\nauthserv_id = \"mx.example.net\"\n",
            "test",
            std::path::Path::new("."),
        )
        .unwrap();
        let state = State {
            config,
            keys: Vec::new(),
            key_source: Arc::new(KeySources::Zone(zone)),
            device: None,
        };

        for tamper in [false, true] {
            let mut job = VerifyJob::start(&state, &headers);
            let chunk: &[u8] = if tamper {
                b"Hi.\r\n\r\nWe won.\r\n"
            } else {
                body
            };
            assert!(job.body(chunk), "DomainKeys needs the whole body");
            assert!(job.needs_keys());
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(job.fetch_keys(&*state.key_source));
            let outcome = job.finish(&state, &headers);
            let ar = outcome.auth_results.replace("\n\t", " ");
            let want = if tamper { "fail" } else { "pass" };
            assert!(ar.contains("dkim=none;"), "{ar}");
            assert!(
                ar.contains(&format!(
                    "domainkeys={want} (legacy DomainKeys SHA-1 result, never a DKIM pass"
                )),
                "{ar}"
            );
            assert!(
                outcome
                    .summary
                    .ends_with(&format!("domainkeys:{want}/example.com")),
                "{}",
                outcome.summary
            );
        }
    }
}
