//! ARC sealing on the device (link protocol 3): SEAL-BEGIN, the message,
//! SIGN-END, and the ARC-SET answer checked under the slot's public key
//! before anyone uses it.
//!
//! ```text
//!  Device::seal_reading(slot, SealRequest, cv, results, fields, body)
//!    ─► SEAL-BEGIN, HEADER*, BODY* (the body hashed here as it goes), SIGN-END
//!    ◄─ ARC-SET: AAR CRLF AMS CRLF AS
//!    check: three fields, instance N+1, d= s= cv= as asked; the AMS body
//!           hash and header hash (RFC 8617 §5.2 step 4) and the AS over
//!           the chain (§5.1.1, or the new set alone on cv=fail, §5.1.2),
//!           both verified under the public key INFO gave for the slot
//! ```
//!
//! The check needs no second pass over the body: the host hashes it with
//! the AMS body canonicalization while it streams it to the device.

use std::fmt;

use mass_core::SigningAlgorithm;
use mass_core::arc::{
    ArcMessageSignature, ArcSeal, ChainStatus, MAX_INSTANCES, Member, SealRequest, instance_of,
};
use mass_core::canon::Canon;
use mass_core::dkim::public_key::PublicKey;
use mass_core::dkim::sign::{fields_hash, header_hash};
use mass_core::dkim::signature_field::KeyType;
use mass_core::header::{HeaderStore, field_name};
use mass_core::link::{AAR_RESULTS_ENCODED_CAP, Kind, MAX_PAYLOAD, SealBegin};

use super::{Device, DeviceError, DeviceSlot, Exchange};

/// The host's room for the header fields an AMS names, when checking it:
/// eight times the main board's whole header store (8 KiB, 64 fields),
/// which holds them on the device.
const CHECK_BYTES: usize = 64 * 1024;
/// The most such fields.
const CHECK_FIELDS: usize = 512;

/// An ARC set the device sealed and this host checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedArcSet {
    /// The instance, N+1.
    pub instance: u8,
    /// `ARC-Authentication-Results: ...`, without a CRLF.
    pub auth_results: Vec<u8>,
    /// `ARC-Message-Signature: ...`.
    pub message_signature: Vec<u8>,
    /// `ARC-Seal: ...`.
    pub seal: Vec<u8>,
    /// The slot that sealed it, as INFO reported it.
    pub slot: DeviceSlot,
}

impl SealedArcSet {
    /// The three fields joined by CRLF, as the device sent them (and as
    /// core's `ArcSealer::finish` writes them).
    pub fn joined(&self) -> Vec<u8> {
        [
            self.auth_results.as_slice(),
            &self.message_signature,
            &self.seal,
        ]
        .join(&b"\r\n"[..])
    }
}

/// Why the device's ARC set was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSeal(pub String);

impl fmt::Display for BadSeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the ARC set does not check out: {}", self.0)
    }
}

impl std::error::Error for BadSeal {}

/// The SEAL-BEGIN payload.
fn encode_seal_begin(
    key_id: u8,
    request: &SealRequest<'_>,
    chain: ChainStatus,
    results: &[&[u8]],
) -> Result<Vec<u8>, DeviceError> {
    let mut names_buf = vec![0u8; MAX_PAYLOAD];
    let mut results_buf = vec![0u8; AAR_RESULTS_ENCODED_CAP];
    let begin = SealBegin::from_request(
        key_id,
        request,
        chain,
        results,
        &mut names_buf,
        &mut results_buf,
    )
    .map_err(DeviceError::SealRequest)?;
    let mut out = vec![0u8; MAX_PAYLOAD];
    let n = begin
        .encode(&mut out)
        .map_err(|_| DeviceError::Request("SEAL-BEGIN longer than a frame"))?;
    out.truncate(n);
    Ok(out)
}

impl Device {
    /// Seal the next ARC set of one message (RFC 8617 §5.1) with the key
    /// in slot `key_id`: the AAR records `results` under
    /// `request.authserv_id`, the AS says `cv=` `chain` (the caller's
    /// validation of the chain in the message). Every header field goes
    /// to the device, ARC sets included. Returns the set once its AMS and
    /// AS verify under the slot's public key; a set that does not gives
    /// [`DeviceError::BadSeal`] and the link is dropped.
    pub async fn seal<H, B>(
        &self,
        key_id: u8,
        request: &SealRequest<'_>,
        chain: ChainStatus,
        results: &[&[u8]],
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = B>,
    ) -> Result<SealedArcSet, DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        self.seal_reading(
            key_id,
            request,
            chain,
            results,
            header_fields,
            body_chunks.into_iter().map(Ok),
        )
        .await
    }

    /// [`seal`](Self::seal) with a body read from somewhere that can fail
    /// (the milter's spool), as [`Device::sign_reading`].
    pub async fn seal_reading<H, B>(
        &self,
        key_id: u8,
        request: &SealRequest<'_>,
        chain: ChainStatus,
        results: &[&[u8]],
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = std::io::Result<B>>,
    ) -> Result<SealedArcSet, DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        let begin = encode_seal_begin(key_id, request, chain, results)?;
        let fields: Vec<Vec<u8>> = header_fields
            .into_iter()
            .map(|f| f.as_ref().to_vec())
            .collect();
        // Without l= the body hash takes the whole body.
        let ex = Exchange {
            key_id,
            begin: Kind::SealBegin,
            payload: &begin,
            answer: (Kind::ArcSet, "expected ARC-SET"),
            body_canon: request.canonicalization.body,
        };
        self.checked_session(ex, &fields, body_chunks, |payload, slot, digest| {
            check(payload, &fields, digest, request, chain, slot).map_err(DeviceError::BadSeal)
        })
        .await
    }
}

/// Split the answer into its fields: a CRLF not followed by WSP ends one.
fn split_fields(payload: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < payload.len() {
        if payload[i] == b'\r'
            && payload[i + 1] == b'\n'
            && !matches!(payload.get(i + 2), Some(b' ' | b'\t'))
        {
            out.push(&payload[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    out.push(&payload[start..]);
    out
}

/// The key type of a slot's algorithm, to load its public key.
pub(super) fn key_type(a: SigningAlgorithm) -> KeyType {
    match a {
        SigningAlgorithm::RsaSha256 => KeyType::Rsa,
        SigningAlgorithm::Ed25519Sha256 => KeyType::Ed25519,
    }
}

/// The one field of `member` at `instance` among `fields`.
fn arc_field(fields: &[Vec<u8>], instance: u8, member: Member) -> Option<&[u8]> {
    let mut found = fields.iter().filter(|f| {
        Member::from_field_name(field_name(f)) == Some(member)
            && instance_of(member, f) == Ok(instance)
    });
    let first = found.next()?;
    found.next().is_none().then_some(first.as_slice())
}

/// Check the device's set (see the module comment).
fn check(
    payload: &[u8],
    fields: &[Vec<u8>],
    body_hash: &[u8; 32],
    request: &SealRequest<'_>,
    chain: ChainStatus,
    slot: DeviceSlot,
) -> Result<SealedArcSet, BadSeal> {
    let bad = |why: &str| BadSeal(why.to_string());
    let [aar, ams, seal] = split_fields(payload)[..] else {
        return Err(bad("not three fields"));
    };
    let members = [aar, ams, seal].map(|f| Member::from_field_name(field_name(f)));
    if members != Member::ALL.map(Some) {
        return Err(bad("not AAR, AMS and AS in that order"));
    }
    let previous = fields
        .iter()
        .filter_map(|f| {
            let m = Member::from_field_name(field_name(f))?;
            instance_of(m, f).ok()
        })
        .max()
        .unwrap_or(0);
    let instance = previous + 1;
    if usize::from(instance) > MAX_INSTANCES
        || Member::ALL
            .into_iter()
            .zip([aar, ams, seal])
            .any(|(m, f)| instance_of(m, f) != Ok(instance))
    {
        return Err(BadSeal(format!("not instance {instance}")));
    }
    let algorithm = slot.algorithm.ok_or(bad("the slot is empty"))?;
    let key = PublicKey::load(key_type(algorithm), &slot.public_key)
        .map_err(|e| BadSeal(format!("the slot's public key: {e}")))?;

    // The AMS: the body hash, then the header hash (§5.2 step 4).
    let parsed =
        ArcMessageSignature::parse_field(ams).map_err(|e| BadSeal(format!("the AMS: {e}")))?;
    let sig = &parsed.signature;
    if !sig.domain.eq_ignore_ascii_case(request.domain) || sig.selector != request.selector {
        return Err(bad("the AMS names another d= or s="));
    }
    if sig.canonicalization != request.canonicalization {
        return Err(bad("the AMS has another c="));
    }
    if sig.body_hash() != body_hash.as_slice() {
        return Err(bad("the AMS body hash is not the body's"));
    }
    let named: Vec<&str> = sig.signed_headers().collect();
    let mut store: Box<HeaderStore<CHECK_BYTES, CHECK_FIELDS>> = Box::default();
    for f in fields {
        let name = field_name(f);
        if named
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(name))
        {
            store
                .begin()
                .and_then(|()| store.extend(f))
                .map_err(|e| BadSeal(format!("the signed fields: {e}")))?;
            store.end();
        }
    }
    let (before, after) = sig.hash_parts();
    let digest = header_hash(
        &store,
        sig.canonicalization.header,
        sig.signed_headers().map(str::as_bytes),
        &[before, after],
    );
    if !key.verify_sha256(&digest, sig.signature()) {
        return Err(bad("the AMS signature does not verify"));
    }

    // The AS over the earlier sets and the new AAR and AMS (§5.1.1), or
    // the new set alone when the chain failed (§5.1.2).
    let parsed = ArcSeal::parse_field(seal).map_err(|e| BadSeal(format!("the AS: {e}")))?;
    let want = if previous == 0 {
        ChainStatus::None
    } else {
        chain
    };
    if parsed.chain != want {
        return Err(BadSeal(format!("the AS says cv={}", parsed.chain)));
    }
    if !parsed.domain.eq_ignore_ascii_case(request.domain) || parsed.selector != request.selector {
        return Err(bad("the AS names another d= or s="));
    }
    let mut sealed: Vec<&[u8]> = Vec::new();
    if want == ChainStatus::Pass {
        for i in 1..instance {
            for m in Member::ALL {
                sealed.push(
                    arc_field(fields, i, m)
                        .ok_or(BadSeal(format!("no single {m} i={i} for cv=pass")))?,
                );
            }
        }
    }
    sealed.extend([aar, ams]);
    let (before, after) = parsed.hash_parts();
    let digest = fields_hash(sealed, Canon::Relaxed, &[before, after]);
    if !key.verify_sha256(&digest, parsed.signature()) {
        return Err(bad("the AS signature does not verify"));
    }
    Ok(SealedArcSet {
        instance,
        auth_results: aar.to_vec(),
        message_signature: ams.to_vec(),
        seal: seal.to_vec(),
        slot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mass_core::Ed25519Signer;
    use mass_core::arc::ArcSealer;
    use mass_core::canon::body_hash::BodyHasher;

    const FIELDS: [&[u8]; 3] = [
        b"From: a@example.org",
        b"To: b@example.net",
        b"Subject: hello\r\n there",
    ];
    const BODY: &[u8] = b"Hello,\r\n\r\nthe body.\r\n";

    fn sealed(chain_fields: &[Vec<u8>], chain: ChainStatus) -> (Vec<u8>, Vec<Vec<u8>>) {
        let req = request();
        let mut sealer: ArcSealer<16384, 64> = ArcSealer::new(&req).unwrap();
        let mut fields: Vec<Vec<u8>> = chain_fields.to_vec();
        fields.extend(FIELDS.iter().map(|f| f.to_vec()));
        for f in &fields {
            sealer.header_field(f).unwrap();
        }
        sealer.end_of_headers().unwrap();
        sealer.body(BODY).unwrap();
        let mut out = vec![0u8; 4096];
        let set = sealer
            .finish(
                &[b"dkim=pass header.d=example.org"],
                chain,
                &mut Ed25519Signer::from_seed(&[7; 32]),
                &mut out,
            )
            .unwrap();
        out.truncate(set.len);
        (out, fields)
    }

    fn request() -> SealRequest<'static> {
        let mut req = SealRequest::new(
            "example.org",
            "arc",
            SigningAlgorithm::Ed25519Sha256,
            "mx.example.org",
        );
        req.timestamp = Some(1_790_000_000);
        req
    }

    fn slot() -> DeviceSlot {
        DeviceSlot {
            key_id: 1,
            algorithm: Some(SigningAlgorithm::Ed25519Sha256),
            bits: 256,
            public_key: Ed25519Signer::from_seed(&[7; 32]).public_key().to_vec(),
        }
    }

    fn body_hash() -> [u8; 32] {
        let mut h = BodyHasher::new(Canon::Relaxed, None);
        h.update(BODY);
        h.finish().digest
    }

    fn checked(payload: &[u8], fields: &[Vec<u8>], chain: ChainStatus) -> Result<u8, BadSeal> {
        check(payload, fields, &body_hash(), &request(), chain, slot()).map(|s| s.instance)
    }

    #[test]
    fn a_good_set_checks_out_at_every_depth() {
        let (first, fields) = sealed(&[], ChainStatus::None);
        assert_eq!(checked(&first, &fields, ChainStatus::None), Ok(1));
        let chain = split_fields(&first)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        let (second, fields) = sealed(&chain, ChainStatus::Pass);
        assert_eq!(checked(&second, &fields, ChainStatus::Pass), Ok(2));
        let (failed, fields) = sealed(&chain, ChainStatus::Fail);
        assert_eq!(checked(&failed, &fields, ChainStatus::Fail), Ok(2));
        // cv= must be what was asked.
        assert!(checked(&failed, &fields, ChainStatus::Pass).is_err());
    }

    #[test]
    fn a_changed_byte_is_refused() {
        let (set, fields) = sealed(&[], ChainStatus::None);
        let text = String::from_utf8(set.clone()).unwrap();
        // Change a character inside each b= value in turn, and the AAR.
        for at in [
            text.find("; b=").unwrap() + 6,
            text.rfind("; b=").unwrap() + 6,
            text.find("dkim=pass").unwrap(),
        ] {
            let mut bad = set.clone();
            bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
            assert!(checked(&bad, &fields, ChainStatus::None).is_err(), "{at}");
        }
        // Another body.
        let other = check(
            &set,
            &fields,
            &[0; 32],
            &request(),
            ChainStatus::None,
            slot(),
        );
        assert!(other.is_err());
        // Two fields only.
        let cut = set.len() - text.split("\r\nARC-Seal").nth(1).unwrap().len() - 10;
        assert!(checked(&set[..cut], &fields, ChainStatus::None).is_err());
    }
}
