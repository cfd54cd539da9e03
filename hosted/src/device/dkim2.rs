//! DKIM2 hops on the device (link protocol 4): DKIM2-BEGIN, the message,
//! SIGN-END, and the DKIM2-HOP answer checked under the slot's public key
//! before anyone uses it.
//!
//! ```text
//!  Device::dkim2_hop(slot, selector, HopRequest, fields, body)
//!    ─► DKIM2-BEGIN, HEADER* (the fields a hop needs), BODY* (hashed here as it goes), SIGN-END
//!    ◄─ DKIM2-HOP: DKIM2-Signature [CRLF Message-Instance]
//!    check: i= and m= next in the message's chain, d= t= n= f= and mf=/rt= or nd= as asked,
//!           one s= entry (the selector, the slot's algorithm); the new instance's header
//!           and body hashes and recipe; the signature over its input (every instance up to
//!           m=, every earlier hop, itself), verified under the public key INFO gave
//! ```
//!
//! The device signs one key per hop (its slot). A hop signed with two keys
//! at once (RSA and Ed25519 in one `s=`) needs both on one signer: a
//! host's, not the device's.

use std::fmt;

use mass_core::SigningAlgorithm;
use mass_core::canon::Canon;
use mass_core::dkim::public_key::PublicKey;
use mass_core::dkim::signature_field::SignatureAlgorithm;
use mass_core::dkim2::fields::{INSTANCE_FIELD, SIGNATURE_FIELD, decode_path, rcpt_items};
use mass_core::dkim2::hash::{header_hash, is_unsigned_field, signature_input_hash};
use mass_core::dkim2::sign::{Destination, HopRequest};
use mass_core::dkim2::{Binding, Dkim2Signature, MAX_PATH, MessageInstance};
use mass_core::header::{FieldSink, HeaderSplitter, HeaderStore, field_name};
use mass_core::link::{Dkim2Begin, Kind, MAX_PAYLOAD, split_hop_answer};
use mass_core::syntax::tag_list::decode_base64;

use super::seal::key_type;
use super::{Device, DeviceError, DeviceSlot, Exchange};

/// The host's room for the header block when checking a hop: eight times
/// the main board's store, which holds the fields the hop needs.
const CHECK_BYTES: usize = 64 * 1024;
/// The most fields.
const CHECK_FIELDS: usize = 512;

/// A DKIM2 hop the device signed and this host checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dkim2Hop {
    /// `DKIM2-Signature: ...`, without a CRLF.
    pub signature: Vec<u8>,
    /// `Message-Instance: ...`, when the hop added one.
    pub instance: Option<Vec<u8>>,
    /// The slot that signed it, as INFO reported it.
    pub slot: DeviceSlot,
}

impl Dkim2Hop {
    /// The new fields (without CRLFs) in the order they go on top of the
    /// message: the DKIM2-Signature, then the Message-Instance, as
    /// `mass dkim2 sign` writes them with a key file.
    pub fn fields(&self) -> Vec<Vec<u8>> {
        std::iter::once(self.signature.clone())
            .chain(self.instance.clone())
            .collect()
    }
}

/// Why the device's DKIM2 hop was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHop(pub String);

impl fmt::Display for BadHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the DKIM2 hop does not check out: {}", self.0)
    }
}

impl std::error::Error for BadHop {}

/// True for a header field a DKIM2 hop needs: one its header hash covers,
/// or a field of the chain (DKIM2-Signature, Message-Instance). The rest
/// (trace, authentication and `X-` fields) change nothing the hop signs,
/// so they are not sent to the device and take none of its header
/// capacity.
pub fn hop_needs(field: &[u8]) -> bool {
    let name = field_name(field);
    !is_unsigned_field(name)
        || name.eq_ignore_ascii_case(SIGNATURE_FIELD.as_bytes())
        || name.eq_ignore_ascii_case(INSTANCE_FIELD.as_bytes())
}

/// The raw header fields of `message` (`Name:value` with folding, no final
/// CRLF), split as core's signer splits them, and where its body starts.
pub fn split_message(message: &[u8]) -> Result<(Vec<Vec<u8>>, usize), mass_core::Error> {
    #[derive(Default)]
    struct Fields(Vec<Vec<u8>>);
    impl FieldSink for Fields {
        fn begin_field(&mut self, _: &[u8]) -> Result<bool, mass_core::Error> {
            self.0.push(Vec::new());
            Ok(true)
        }
        fn field_bytes(&mut self, bytes: &[u8]) -> Result<(), mass_core::Error> {
            if let Some(f) = self.0.last_mut() {
                f.extend_from_slice(bytes);
            }
            Ok(())
        }
        fn end_field(&mut self) -> Result<(), mass_core::Error> {
            Ok(())
        }
    }
    let mut fields = Fields::default();
    let mut splitter = HeaderSplitter::new();
    let body = match splitter.push(message, &mut fields)? {
        Some(n) => n,
        None => {
            splitter.finish(&mut fields)?;
            message.len()
        }
    };
    Ok((fields.0, body))
}

/// The DKIM2-BEGIN payload.
fn encode_dkim2_begin(
    key_id: u8,
    selector: &str,
    request: &HopRequest<'_>,
) -> Result<Vec<u8>, DeviceError> {
    let mut rcpt_buf = vec![0u8; MAX_PAYLOAD];
    let mut flags_buf = vec![0u8; MAX_PAYLOAD];
    let begin = Dkim2Begin::from_request(key_id, selector, request, &mut rcpt_buf, &mut flags_buf)
        .map_err(DeviceError::Dkim2Request)?;
    let mut out = vec![0u8; MAX_PAYLOAD];
    let n = begin
        .encode(&mut out)
        .map_err(|e| DeviceError::Dkim2Request(e.into()))?;
    out.truncate(n);
    Ok(out)
}

impl Device {
    /// Sign the next DKIM2 hop of one message with the key in slot
    /// `key_id`, as `selector`, for `request` (its envelope or `nd=`, `t=`,
    /// nonce, flags, and the recipe when this hop changed the message).
    /// `header_fields` are every field of the message; those the hop does
    /// not need ([`hop_needs`]) stay here. Returns the hop once its
    /// signature verifies under the slot's public key over this message;
    /// one that does not gives [`DeviceError::BadHop`] and the link is
    /// dropped.
    pub async fn dkim2_hop<H, B>(
        &self,
        key_id: u8,
        selector: &str,
        request: &HopRequest<'_>,
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = B>,
    ) -> Result<Dkim2Hop, DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        self.dkim2_hop_reading(
            key_id,
            selector,
            request,
            header_fields,
            body_chunks.into_iter().map(Ok),
        )
        .await
    }

    /// [`dkim2_hop`](Self::dkim2_hop) with a body read from somewhere that
    /// can fail (a spool), as [`Device::sign_reading`].
    pub async fn dkim2_hop_reading<H, B>(
        &self,
        key_id: u8,
        selector: &str,
        request: &HopRequest<'_>,
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = std::io::Result<B>>,
    ) -> Result<Dkim2Hop, DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        let begin = encode_dkim2_begin(key_id, selector, request)?;
        let fields: Vec<Vec<u8>> = header_fields
            .into_iter()
            .map(|f| f.as_ref().to_vec())
            .collect();
        let ex = Exchange {
            key_id,
            begin: Kind::Dkim2Begin,
            payload: &begin,
            answer: (Kind::Dkim2Hop, "expected DKIM2-HOP"),
            body_canon: Canon::Simple,
        };
        let needed = fields.iter().filter(|f| hop_needs(f));
        self.checked_session(ex, needed, body_chunks, |payload, slot, digest| {
            check(payload, &fields, digest, request, selector, slot).map_err(DeviceError::BadHop)
        })
        .await
    }
}

fn signature_algorithm(a: SigningAlgorithm) -> SignatureAlgorithm {
    match a {
        SigningAlgorithm::RsaSha256 => SignatureAlgorithm::RsaSha256,
        SigningAlgorithm::Ed25519Sha256 => SignatureAlgorithm::Ed25519Sha256,
    }
}

/// A path with its angle brackets, as `mf=` and `rt=` carry it.
fn bracketed(path: &str) -> String {
    let p = path.trim();
    if p.len() >= 2 && p.starts_with('<') && p.ends_with('>') {
        p.to_string()
    } else {
        format!("<{p}>")
    }
}

/// The decoded base64 value (whitespace inside allowed).
fn base64(value: &str, what: &str) -> Result<Vec<u8>, BadHop> {
    let mut out = vec![0u8; value.len()];
    let n = decode_base64(value.as_bytes(), &mut out)
        .map_err(|_| BadHop(format!("{what} is not base64")))?;
    out.truncate(n);
    Ok(out)
}

/// The chain's fields of one name among `fields`, by their number
/// (`i=` or `m=`), oldest first; every number from 1 once.
fn chain_of<'f>(
    fields: &'f [Vec<u8>],
    name: &str,
    number: impl Fn(&[u8]) -> Option<u32>,
) -> Result<Vec<&'f [u8]>, BadHop> {
    let mut found: Vec<(u32, &[u8])> = Vec::new();
    for f in fields {
        if field_name(f).eq_ignore_ascii_case(name.as_bytes()) {
            let n = number(f).ok_or_else(|| BadHop(format!("a {name} of the message")))?;
            found.push((n, f));
        }
    }
    found.sort_by_key(|(n, _)| *n);
    if found.iter().zip(1u32..).any(|((n, _), want)| *n != want) {
        return Err(BadHop(format!(
            "the message's {name} fields are not 1 to N"
        )));
    }
    Ok(found.into_iter().map(|(_, f)| f).collect())
}

/// Check the device's hop (see the module comment).
fn check(
    payload: &[u8],
    fields: &[Vec<u8>],
    body_hash: &[u8; 32],
    request: &HopRequest<'_>,
    selector: &str,
    slot: DeviceSlot,
) -> Result<Dkim2Hop, BadHop> {
    let bad = |why: &str| BadHop(why.to_string());
    let answer = split_hop_answer(payload)
        .map_err(|_| bad("not a DKIM2-Signature and an optional Message-Instance"))?;
    let hops = chain_of(fields, SIGNATURE_FIELD, |f| {
        Dkim2Signature::parse_field(f).ok().map(|s| s.instance)
    })?;
    let instances = chain_of(fields, INSTANCE_FIELD, |f| {
        MessageInstance::parse_field(f).ok().map(|m| m.revision)
    })?;
    let new_instance = instances.is_empty() || request.recipe.is_some();
    if answer.instance.is_some() != new_instance {
        return Err(bad(if new_instance {
            "no Message-Instance, though the hop needs one"
        } else {
            "a Message-Instance, though the hop changed nothing"
        }));
    }
    let revision = instances.len() + usize::from(new_instance);
    let algorithm = slot.algorithm.ok_or(bad("the slot is empty"))?;

    // The signature's tags, as asked.
    let sig = Dkim2Signature::parse_field(answer.signature)
        .map_err(|e| BadHop(format!("the DKIM2-Signature: {e}")))?;
    if sig.instance as usize != hops.len() + 1 || sig.revision as usize != revision {
        return Err(BadHop(format!(
            "i={} m={}, not i={} m={revision}",
            sig.instance,
            sig.revision,
            hops.len() + 1
        )));
    }
    if !sig.domain.eq_ignore_ascii_case(request.domain) || sig.timestamp != request.timestamp {
        return Err(bad("another d= or t="));
    }
    if sig.nonce != request.nonce || !sig.flag_names().eq(request.flags.iter().copied()) {
        return Err(bad("another n= or f="));
    }
    let mut path = [0u8; MAX_PATH];
    let same_path = |b64: &str, want: &str, path: &mut [u8; MAX_PATH]| {
        decode_path(b64, path).is_ok_and(|p| p == bracketed(want))
    };
    let bound = match (sig.binding, request.destination) {
        (
            Binding::Envelope { mail_from, rcpt_to },
            Destination::Envelope {
                mail_from: mf,
                rcpt_to: rt,
            },
        ) => {
            same_path(mail_from, mf, &mut path)
                && rcpt_items(rcpt_to).count() == rt.len()
                && rcpt_items(rcpt_to)
                    .zip(rt)
                    .all(|(b64, want)| same_path(b64, want, &mut path))
        }
        (Binding::NextDomain(nd), Destination::NextDomain(want)) => nd.eq_ignore_ascii_case(want),
        _ => false,
    };
    if !bound {
        return Err(bad("another envelope (mf=, rt=) or nd="));
    }
    let [entry] = sig.signatures.as_slice() else {
        return Err(bad("not one s= entry"));
    };
    if entry.selector != selector || entry.algorithm != signature_algorithm(algorithm) {
        return Err(bad("an s= entry for another selector or algorithm"));
    }

    // The new instance: this message's hashes and the recipe asked for.
    if let Some(raw) = answer.instance {
        let mi = MessageInstance::parse_field(raw)
            .map_err(|e| BadHop(format!("the Message-Instance: {e}")))?;
        let mut store: Box<HeaderStore<CHECK_BYTES, CHECK_FIELDS>> = Box::default();
        for f in fields {
            store
                .begin()
                .and_then(|()| store.extend(f))
                .map_err(|e| BadHop(format!("the header block: {e}")))?;
            store.end();
        }
        let recipe = mi.recipe.map(|r| base64(r, "r=")).transpose()?;
        if mi.revision as usize != revision
            || mi.sha256 != Some((header_hash(&store), *body_hash))
            || recipe.as_deref() != request.recipe
        {
            return Err(bad(
                "the Message-Instance has another m=, header hash, body hash or recipe",
            ));
        }
    }

    // The signature over its input, under the slot's key.
    let key = PublicKey::load(key_type(algorithm), &slot.public_key)
        .map_err(|e| BadHop(format!("the slot's public key: {e}")))?;
    let earlier = instances
        .iter()
        .copied()
        .chain(answer.instance)
        .chain(hops.iter().copied());
    let digest = signature_input_hash(earlier, answer.signature, sig.s_span);
    if !key.verify_sha256(&digest, &base64(entry.signature, "the signature")?) {
        return Err(bad("the signature does not verify"));
    }
    Ok(Dkim2Hop {
        signature: answer.signature.to_vec(),
        instance: answer.instance.map(<[u8]>::to_vec),
        slot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mass_core::Ed25519Signer;
    use mass_core::canon::body_hash::BodyHasher;
    use mass_core::dkim2::Dkim2Signer;
    use mass_core::link::hop_answer;

    const MESSAGE: &[u8] = b"Received: from x by y\r\nFrom: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\n there\r\nX-Loop: 1\r\n\r\nHello,\r\n\r\nthe body.\r\n";

    fn slot() -> DeviceSlot {
        DeviceSlot {
            key_id: 1,
            algorithm: Some(SigningAlgorithm::Ed25519Sha256),
            bits: 256,
            public_key: Ed25519Signer::from_seed(&[7; 32]).public_key().to_vec(),
        }
    }

    /// The hop as the device answers it (core's signer on the fields the
    /// host sends), and the message's fields and body hash.
    fn answer(message: &[u8], request: &HopRequest<'_>) -> (Vec<u8>, Vec<Vec<u8>>, [u8; 32]) {
        let (fields, body_at) = split_message(message).unwrap();
        let mut signer: Box<Dkim2Signer<'_, 8192, 64>> =
            Box::new(Dkim2Signer::new(request).unwrap());
        for f in fields.iter().filter(|f| hop_needs(f)) {
            signer.header_field(f).unwrap();
        }
        signer.end_of_headers().unwrap();
        signer.body(&message[body_at..]).unwrap();
        let mut key = Ed25519Signer::from_seed(&[7; 32]);
        let mut keys: [(&str, &mut dyn mass_core::DigestSigner); 1] = [("dev", &mut key)];
        let mut out = vec![0u8; MAX_PAYLOAD];
        let hop = signer
            .finish(&mut keys, &mut out[..MAX_PAYLOAD - 2])
            .unwrap();
        let n = hop_answer(
            &mut out,
            hop.instance.map_or(0, |s| s.len()),
            hop.signature.len(),
        )
        .unwrap();
        out.truncate(n);
        let mut body = BodyHasher::new(Canon::Simple, None);
        let _ = body.update(&message[body_at..]);
        (out, fields, body.finish().digest)
    }

    fn on_top(hop: &Dkim2Hop, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in hop.fields() {
            out.extend_from_slice(&f);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(message);
        out
    }

    #[test]
    fn good_hops_check_out_and_equal_the_host_signers() {
        let rcpt = ["b@example.net", "<c@example.com>"];
        let first = HopRequest::new("example.org", "a@example.org", &rcpt, 1_790_000_000);
        let (payload, fields, bh) = answer(MESSAGE, &first);
        let hop = check(&payload, &fields, &bh, &first, "dev", slot()).unwrap();
        assert!(hop.instance.is_some());
        // The fields the host sends leave out Received and X-Loop, but the
        // hop is the one a host signer makes over the whole message.
        let key = crate::keys::SigningKey::for_one_signature(
            "example.org".into(),
            "dev".into(),
            crate::keys::KeyMaterial::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(
                &[7; 32],
            ))),
        );
        let host = crate::dkim2::sign_hop(&first, MESSAGE, &[&key]).unwrap();
        assert_eq!(hop.fields(), host);
        // A second hop that changed nothing: no instance.
        let signed = on_top(&hop, MESSAGE);
        let mut second = HopRequest::new(
            "example.net",
            "b@example.net",
            &["<d@example.com>"],
            1_790_000_100,
        );
        second.nonce = Some("n-1");
        second.flags = &["feedback"];
        let (payload, fields, bh) = answer(&signed, &second);
        let hop2 = check(&payload, &fields, &bh, &second, "dev", slot()).unwrap();
        assert_eq!(hop2.instance, None);
        // A next-domain hop with a recipe adds one.
        let mut third = HopRequest::new("example.com", "", &[], 1_790_000_200);
        third.destination = Destination::NextDomain("next.example");
        third.recipe = Some(br#"{"h":{}}"#);
        let signed = on_top(&hop2, &signed);
        let (payload, fields, bh) = answer(&signed, &third);
        let hop3 = check(&payload, &fields, &bh, &third, "dev", slot()).unwrap();
        assert!(String::from_utf8_lossy(&hop3.instance.unwrap()).contains("m=2;"));
    }

    #[test]
    fn what_was_not_asked_for_is_refused() {
        let rcpt = ["b@example.net"];
        let req = HopRequest::new("example.org", "a@example.org", &rcpt, 1_790_000_000);
        let (payload, fields, bh) = answer(MESSAGE, &req);
        let text = String::from_utf8(payload.clone()).unwrap();
        let checked = |p: &[u8], r: &HopRequest<'_>, bh: &[u8; 32]| {
            check(p, &fields, bh, r, "dev", slot()).map(drop)
        };
        assert_eq!(checked(&payload, &req, &bh), Ok(()));
        // A changed signature byte, and a changed hash byte.
        for at in [
            text.find("ed25519-sha256:").unwrap() + 16,
            text.find("h=sha256:").unwrap() + 10,
        ] {
            let mut bad = payload.clone();
            bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
            assert!(checked(&bad, &req, &bh).is_err(), "{at}");
        }
        // Another body, another envelope, t=, selector, key.
        assert!(checked(&payload, &req, &[0; 32]).is_err());
        let other = HopRequest::new(
            "example.org",
            "a@example.org",
            &["x@example.net"],
            1_790_000_000,
        );
        assert!(checked(&payload, &other, &bh).is_err());
        let later = HopRequest::new("example.org", "a@example.org", &rcpt, 1_790_000_001);
        assert!(checked(&payload, &later, &bh).is_err());
        assert!(check(&payload, &fields, &bh, &req, "other", slot()).is_err());
        let mut wrong = slot();
        wrong.public_key = Ed25519Signer::from_seed(&[8; 32]).public_key().to_vec();
        assert!(check(&payload, &fields, &bh, &req, "dev", wrong).is_err());
        // The signature alone, when an instance is due.
        let sig_only = text.split("\r\nMessage-Instance").next().unwrap();
        assert!(checked(sig_only.as_bytes(), &req, &bh).is_err());
    }
}
