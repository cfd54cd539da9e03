//! RFC 6376 Appendix A: the published example signature verifies once
//! errata 3192 (a single space in "game. Are") and 4926 (the indentation of
//! the folded header lines, which simple/simple hashes as written) are
//! applied. The message, signature and key record are the RFC's facts.

use crate::common::at_every_split;
use mass_core::dkim::verify::{KeyAnswer, MessageVerifier, Reason, Verdict, VerifyOptions};

type Verifier = MessageVerifier<16384, 256, 5>;

/// RFC 6376 §A.3, the key record for brisbane._domainkey.example.com.
const KEY_RECORD: &str = "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";

/// RFC 6376 §A.2, the signed message, with both errata applied.
const SIGNED: &[u8] = b"DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n      h=Received : From : To : Subject : Date : Message-ID;\r\n      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n      4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n      KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n      4bmp/YzhwvcubU4=;\r\n\
Received: from client1.football.example.com  [192.0.2.1]\r\n      by submitserver.example.com with SUBMISSION;\r\n      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n\
From: Joe SixPack <joe@football.example.com>\r\n\
To: Suzie Q <suzie@shopping.example.net>\r\n\
Subject: Is dinner ready?\r\n\
Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n\
Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n\
\r\n\
Hi.\r\n\
\r\n\
We lost the game. Are you hungry yet?\r\n\
\r\n\
Joe.\r\n";

fn verify(chunks: &[&[u8]]) -> Vec<(Verdict, Reason)> {
    // The example carries no t=; any `now` will do.
    let mut v = Verifier::new(VerifyOptions::new(1_700_000_000));
    for c in chunks {
        v.update(c).unwrap();
    }
    v.end_of_input().unwrap();
    let ids: Vec<usize> = v.key_requests().map(|r| r.id).collect();
    assert_eq!(
        ids.len(),
        1,
        "one key lookup, for brisbane._domainkey.example.com"
    );
    for id in ids {
        v.provide_key(id, KeyAnswer::Records(&[KEY_RECORD.as_bytes()]));
    }
    v.finish()
        .unwrap()
        .results()
        .map(|r| (r.verdict, r.reason))
        .collect()
}

#[test]
fn rfc6376_appendix_a_with_errata_verifies_at_every_split() {
    let got = at_every_split(SIGNED, verify);
    assert_eq!(got, [(Verdict::Pass, Reason::Verified)]);
}

#[test]
fn rfc6376_appendix_a_without_errata_3192_fails() {
    // The RFC as first printed had two spaces in "game.  Are".
    let text = std::str::from_utf8(SIGNED)
        .unwrap()
        .replace("game. Are", "game.  Are");
    let got = verify(&[text.as_bytes()]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, Verdict::Fail);
}
