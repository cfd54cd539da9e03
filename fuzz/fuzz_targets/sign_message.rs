//! Message intake and signing: any bytes, split anywhere, give the same
//! result (a signature or a typed error) and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mass_core::{Ed25519Signer, MessageSigner, SignRequest, SigningAlgorithm};

fn sign(chunks: &[&[u8]]) -> Result<Vec<u8>, mass_core::Error> {
    let req = SignRequest::new("example.com", "fuzz", SigningAlgorithm::Ed25519Sha256);
    let mut s = MessageSigner::<2048, 16>::new(&req)?;
    for c in chunks {
        s.update(c)?;
    }
    let mut key = Ed25519Signer::from_seed(&[1; 32]);
    let mut out = vec![0u8; s.required_len(&key)];
    let n = s.finish(&mut key, &mut out)?;
    assert_eq!(n, out.len(), "required_len is exact");
    out.truncate(n);
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, msg)) = data.split_first() else {
        return;
    };
    let whole = sign(&[msg]);
    let at = usize::from(cut).min(msg.len());
    let (a, b) = msg.split_at(at);
    assert_eq!(sign(&[a, b]), whole);
});
