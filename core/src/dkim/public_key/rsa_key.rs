//! RSA public keys (RFC 6376 §3.6.1, RFC 5280 §4.1.2.7, RFC 8017 §A.1.1),
//! read from DER with their size and exponent checked before any
//! big-number arithmetic (RFC 8301 §3.2). Only with the `rsa` feature.

use rsa::{BoxedUint, PublicKey as RsaPublicKey};

use super::{
    MAX_RSA_EXPONENT, MAX_RSA_MODULUS_BITS, MIN_RSA_MODULUS_BITS, PublicKeyError,
    WEAK_RSA_MODULUS_BITS,
};

/// An RSA public key that passed the size checks.
#[derive(Debug, Clone)]
pub struct RsaKey {
    key: RsaPublicKey,
    bits: u32,
}

impl RsaKey {
    /// The key, for `rsa`'s verification functions.
    pub fn key(&self) -> &RsaPublicKey {
        &self.key
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// True if the modulus is under [`WEAK_RSA_MODULUS_BITS`]: signatures
    /// made with it must not pass (RFC 8301 §3.2).
    pub fn is_weak(&self) -> bool {
        self.bits < WEAK_RSA_MODULUS_BITS
    }

    /// Does `signature` verify over the SHA-256 `digest` (RSASSA-PKCS1-v1_5,
    /// rsa-sha256)?
    pub fn verify_sha256(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        self.key
            .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), digest, signature)
            .is_ok()
    }

    /// Does `signature` verify over the SHA-1 `digest` (RSASSA-PKCS1-v1_5,
    /// DomainKeys' rsa-sha1, RFC 4870 §3.2.1)? No DKIM path calls this.
    pub fn verify_sha1(&self, digest: &[u8; 20], signature: &[u8]) -> bool {
        self.key
            .verify(rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), digest, signature)
            .is_ok()
    }
}

/// DER tags used here.
pub(super) const SEQUENCE: u8 = 0x30;
pub(super) const INTEGER: u8 = 0x02;
pub(super) const BIT_STRING: u8 = 0x03;
pub(super) const OBJECT_IDENTIFIER: u8 = 0x06;
pub(super) const NULL: u8 = 0x05;

/// 1.2.840.113549.1.1.1, rsaEncryption (RFC 8017 §A.1).
pub(super) const RSA_ENCRYPTION_OID: &[u8] =
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// Read one DER TLV with the expected tag: returns (contents, rest).
/// Lengths of up to two bytes are enough for any key accepted here; longer
/// or indefinite lengths are [`PublicKeyError::BadDer`].
fn read_tlv(input: &[u8], expected_tag: u8) -> Result<(&[u8], &[u8]), PublicKeyError> {
    let (&tag, rest) = input.split_first().ok_or(PublicKeyError::BadDer)?;
    if tag != expected_tag {
        return Err(PublicKeyError::BadDer);
    }
    let (&first, rest) = rest.split_first().ok_or(PublicKeyError::BadDer)?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&b, rest) = rest.split_first().ok_or(PublicKeyError::BadDer)?;
            (usize::from(b), rest)
        }
        0x82 => match rest {
            [hi, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
            _ => return Err(PublicKeyError::BadDer),
        },
        _ => return Err(PublicKeyError::BadDer),
    };
    rest.split_at_checked(len).ok_or(PublicKeyError::BadDer)
}

/// The magnitude of a DER INTEGER: its bytes without leading zeros.
/// Negative integers are refused with `negative`.
fn unsigned_integer(contents: &[u8], negative: PublicKeyError) -> Result<&[u8], PublicKeyError> {
    match contents.first() {
        None => Err(PublicKeyError::BadDer),
        Some(b) if b & 0x80 != 0 => Err(negative),
        Some(_) => {
            let start = contents
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(contents.len());
            Ok(contents.get(start..).unwrap_or_default())
        }
    }
}

/// Size in bits of a big-endian magnitude without leading zeros.
fn bit_length(magnitude: &[u8]) -> u32 {
    match magnitude.first() {
        None => 0,
        Some(&top) => {
            let len = u32::try_from(magnitude.len()).unwrap_or(u32::MAX);
            len.saturating_sub(1)
                .saturating_mul(8)
                .saturating_add(8u32.saturating_sub(top.leading_zeros()))
        }
    }
}

/// Load an RSA public key from SubjectPublicKeyInfo DER, or from a bare
/// PKCS#1 RSAPublicKey. Size and exponent limits are checked on the DER
/// bytes before any arithmetic on them.
pub fn load_rsa(der: &[u8]) -> Result<RsaKey, PublicKeyError> {
    let (outer, trailing) = read_tlv(der, SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(PublicKeyError::BadDer);
    }
    let rsa_public_key = match outer.first() {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
        Some(&INTEGER) => outer,
        // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier,
        //                                     subjectPublicKey BIT STRING }
        Some(&SEQUENCE) => {
            let (algorithm, rest) = read_tlv(outer, SEQUENCE)?;
            let (oid, params) = read_tlv(algorithm, OBJECT_IDENTIFIER)?;
            if oid != RSA_ENCRYPTION_OID {
                return Err(PublicKeyError::NotRsa);
            }
            // Parameters: NULL, or (leniently) absent.
            if !params.is_empty() && params != [NULL, 0] {
                return Err(PublicKeyError::BadDer);
            }
            let (bits, rest) = read_tlv(rest, BIT_STRING)?;
            if !rest.is_empty() {
                return Err(PublicKeyError::BadDer);
            }
            let inner = match bits.split_first() {
                Some((0, inner)) => inner,
                _ => return Err(PublicKeyError::BadDer),
            };
            let (inner, trailing) = read_tlv(inner, SEQUENCE)?;
            if !trailing.is_empty() {
                return Err(PublicKeyError::BadDer);
            }
            inner
        }
        _ => return Err(PublicKeyError::BadDer),
    };

    let (n, rest) = read_tlv(rsa_public_key, INTEGER)?;
    let (e, rest) = read_tlv(rest, INTEGER)?;
    if !rest.is_empty() {
        return Err(PublicKeyError::BadDer);
    }
    let n = unsigned_integer(n, PublicKeyError::BadModulus)?;
    let e = unsigned_integer(e, PublicKeyError::BadExponent)?;

    let bits = bit_length(n);
    if bits > MAX_RSA_MODULUS_BITS {
        return Err(PublicKeyError::ModulusTooLarge { bits });
    }
    if bits < MIN_RSA_MODULUS_BITS {
        return Err(PublicKeyError::ModulusTooSmall { bits });
    }
    if e.len() > 8 {
        return Err(PublicKeyError::ExponentTooLarge);
    }
    let e = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if e > MAX_RSA_EXPONENT {
        return Err(PublicKeyError::ExponentTooLarge);
    }
    if e < 3 || e % 2 == 0 {
        return Err(PublicKeyError::BadExponent);
    }
    if n.last().is_none_or(|low| low % 2 == 0) {
        return Err(PublicKeyError::BadModulus);
    }

    let key = RsaPublicKey::new_with_size_limits(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from(e),
        (MIN_RSA_MODULUS_BITS as usize)..=(MAX_RSA_MODULUS_BITS as usize),
    )
    .map_err(|_| PublicKeyError::BadModulus)?;
    Ok(RsaKey { key, bits })
}
