use super::*;

/// Owned form of a command, to compare decodes across split points.
fn owned(c: &Command<'_>) -> String {
    match c {
        Command::Macro { stage, macros } => format!(
            "Macro({}, {:?})",
            char::from(*stage),
            macros
                .iter()
                .map(|(n, v)| (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned()
                ))
                .collect::<Vec<_>>()
        ),
        Command::Mail(a) | Command::Rcpt(a) => format!(
            "{}{:?}",
            char::from(c.code()),
            a.iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
        ),
        other => format!("{other:?}"),
    }
}

/// A whole conversation as Postfix sends it.
fn conversation() -> Vec<u8> {
    let mut out = Vec::new();
    let mut opt = Vec::new();
    opt.extend_from_slice(&6u32.to_be_bytes());
    opt.extend_from_slice(&0x1ffu32.to_be_bytes());
    opt.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
    encode_command(b'O', &opt, &mut out);
    encode_command(
        b'D',
        b"Cj\0mx.example\0{daemon_name}\0ORIGINATING\0",
        &mut out,
    );
    encode_command(b'C', b"client.example\x004\x30\x39127.0.0.1\0", &mut out);
    encode_command(b'H', b"client.example\0", &mut out);
    encode_command(b'D', b"Mi\0ABC123\0{auth_authen}\0alice\0", &mut out);
    encode_command(b'M', b"<a@example.com>\0SIZE=100\0", &mut out);
    encode_command(b'R', b"<b@example.net>\0", &mut out);
    encode_command(b'T', b"", &mut out);
    encode_command(b'L', b"From\0 Alice <a@example.com>\0", &mut out);
    encode_command(b'L', b"Subject\0 hi\n\tthere\0", &mut out);
    encode_command(b'N', b"", &mut out);
    encode_command(b'B', b"line one\r\nline two\r\n", &mut out);
    encode_command(b'E', b"", &mut out);
    encode_command(b'A', b"", &mut out);
    encode_command(b'C', b"v6.example\x006\x00\x19::1\0", &mut out);
    encode_command(b'C', b"local\0L\x00\x00/run/sock\0", &mut out);
    encode_command(b'C', b"unknown\0U", &mut out);
    encode_command(b'U', b"XFOO bar\0", &mut out);
    encode_command(b'K', b"", &mut out);
    encode_command(b'Q', b"", &mut out);
    out
}

fn decode_all(chunks: &[&[u8]]) -> Result<Vec<String>, CodecError> {
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    let mut seen = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(c) = d.decode()? {
            seen.push(owned(&c));
        }
    }
    assert_eq!(d.pending(), 0);
    Ok(seen)
}

#[test]
fn decodes_a_conversation() {
    let all = conversation();
    let seen = decode_all(&[&all]).unwrap();
    assert_eq!(seen.len(), 20);
    assert_eq!(
        seen[0],
        "OptNeg { version: 6, actions: 511, protocol: 2097151 }"
    );
    assert_eq!(
        seen[1],
        r#"Macro(C, [("j", "mx.example"), ("{daemon_name}", "ORIGINATING")])"#
    );
    assert!(seen[2].contains("Inet(127.0.0.1, 12345)"), "{}", seen[2]);
    assert_eq!(seen[5], r#"M["<a@example.com>", "SIZE=100"]"#);
    assert!(seen[14].contains("Inet(::1, 25)"), "{}", seen[14]);
    assert!(seen[15].contains("Unix("), "{}", seen[15]);
    assert!(seen[16].contains("Unknown"), "{}", seen[16]);
    assert_eq!(seen[18], "QuitNewConnection");
    assert_eq!(seen[19], "Quit");
}

#[test]
fn every_split_point_gives_the_same_commands() {
    let all = conversation();
    let whole = decode_all(&[&all]).unwrap();
    for at in 0..=all.len() {
        let (a, b) = all.split_at(at);
        assert_eq!(decode_all(&[a, b]).unwrap(), whole, "split at {at}");
    }
    // And one byte at a time.
    let bytes: Vec<&[u8]> = all.chunks(1).collect();
    assert_eq!(decode_all(&bytes).unwrap(), whole);
}

#[test]
fn header_value_keeps_leading_space_and_folds() {
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    let mut p = Vec::new();
    encode_command(b'L', b"Subject\0 a\n\tb\0", &mut p);
    d.feed(&p);
    assert_eq!(
        d.decode().unwrap(),
        Some(Command::Header {
            name: b"Subject",
            value: b" a\n\tb"
        })
    );
}

#[test]
fn row_30_zero_length_is_an_error() {
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    d.feed(&[0, 0]);
    assert_eq!(d.decode(), Ok(None));
    d.feed(&[0, 0]);
    assert_eq!(d.decode(), Err(CodecError::ZeroLength));
    // Sticky: the connection is dead.
    assert_eq!(d.decode(), Err(CodecError::ZeroLength));
}

#[test]
fn row_30_huge_length_fails_at_once_without_allocating() {
    for claimed in [u32::MAX, DEFAULT_MAX_PACKET + 1, 0x8000_0000] {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        d.feed(&claimed.to_be_bytes());
        assert_eq!(
            d.decode(),
            Err(CodecError::TooLong {
                claimed,
                max: DEFAULT_MAX_PACKET
            })
        );
        assert!(d.buf.capacity() <= FIRST_ROOM, "kept room for the claim");
    }
    // The maximum itself is fine (and waits for its data, without room
    // kept for it).
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    d.feed(&DEFAULT_MAX_PACKET.to_be_bytes());
    d.feed(b"B");
    assert_eq!(d.decode(), Ok(None));
    assert!(d.buf.capacity() <= FIRST_ROOM);
    assert!(d.spare().len() <= FIRST_ROOM);
}

#[test]
fn unknown_command_fails_before_its_data_arrives() {
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    d.feed(&[0, 0, 0x10, 0, b'Z']);
    assert_eq!(d.decode(), Err(CodecError::UnknownCommand(b'Z')));
}

#[test]
fn malformed_data_is_an_error() {
    for (code, data) in [
        (b'O', &b"\0\0\0\x06\0\0"[..]),
        (b'C', b"host-without-nul"),
        (b'C', b"host\0X"),
        (b'C', b"host\x004\0"),
        (b'C', b"host\x004\0\x19not-an-ip\0"),
        (b'L', b"Name\0value-without-nul"),
        (b'D', b""),
    ] {
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        let mut p = Vec::new();
        encode_command(code, data, &mut p);
        d.feed(&p);
        assert_eq!(d.decode(), Err(CodecError::Malformed(code)), "{data:?}");
    }
}

#[test]
fn row_31_three_length_bytes_wait_for_more() {
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    d.feed(&[0, 0, 0]);
    assert_eq!(d.decode(), Ok(None));
    assert!(d.in_packet());
}

#[test]
fn negotiation_keeps_the_common_flags() {
    let n = Negotiated::from_offer(
        6,
        0x1ff,
        protocol::SKIP | protocol::NR_HDR | protocol::NOHELO,
        action::ADDHDRS | action::CHGHDRS,
        protocol::SKIP | protocol::NR_HDR | protocol::HDR_LEADSPC,
    )
    .unwrap();
    assert_eq!(n.actions, action::ADDHDRS | action::CHGHDRS);
    assert_eq!(n.protocol, protocol::SKIP | protocol::NR_HDR);
    assert!(!n.expects_reply(&Command::Header {
        name: b"a",
        value: b"b"
    }));
    assert!(n.expects_reply(&Command::Body(b"x")));
    assert!(n.expects_reply(&Command::EndOfMessage(b"")));
    assert!(!n.expects_reply(&Command::Abort));
    assert_eq!(
        Negotiated::from_offer(2, 0, 0, 0, 0),
        Err(CodecError::UnsupportedVersion(2))
    );
}

#[test]
fn replies_encode_as_libmilter_expects() {
    let mut out = Vec::new();
    Reply::Continue.encode(&mut out);
    assert_eq!(out, b"\0\0\0\x01c");
    out.clear();
    Reply::InsertHeader {
        index: 0,
        name: "DKIM-Signature",
        value: " v=1",
    }
    .encode(&mut out);
    assert_eq!(out, b"\0\0\0\x19i\0\0\0\0DKIM-Signature\0 v=1\0");
    out.clear();
    Reply::ChangeHeader {
        index: 2,
        name: "Authentication-Results",
        value: "",
    }
    .encode(&mut out);
    assert_eq!(out, b"\0\0\0\x1dm\0\0\0\x02Authentication-Results\0\0");
    out.clear();
    Negotiated {
        actions: 0x11,
        protocol: 0x400,
    }
    .reply()
    .encode(&mut out);
    assert_eq!(out, b"\0\0\0\x0dO\0\0\0\x06\0\0\0\x11\0\0\x04\0");
    out.clear();
    Reply::SmtpCode("451 4.7.1 try later").encode(&mut out);
    assert_eq!(&out[..5], b"\0\0\0\x15y");
    // Replies round-trip through the decoder's framing.
    out.clear();
    Reply::Accept.encode(&mut out);
    Reply::Skip.encode(&mut out);
    assert_eq!(out, b"\0\0\0\x01a\0\0\0\x01s");
}

#[test]
fn buffer_is_compacted() {
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    let mut p = Vec::new();
    encode_command(b'B', &[b'x'; 1000], &mut p);
    for _ in 0..1000 {
        d.feed(&p);
        assert!(matches!(d.decode(), Ok(Some(Command::Body(_)))));
    }
    assert!(d.buf.len() <= FIRST_ROOM, "{}", d.buf.len());
}

/// Copy `bytes` into the decoder the way the server reads: into
/// [`Decoder::spare`], at most `read` bytes at a time, then
/// [`Decoder::commit`], decoding after each read.
fn read_into(d: &mut Decoder, mut bytes: &[u8], read: usize, seen: &mut Vec<String>) {
    while !bytes.is_empty() {
        let room = d.spare();
        assert!(!room.is_empty(), "room after every decoded packet");
        let n = room.len().min(bytes.len()).min(read);
        room[..n].copy_from_slice(&bytes[..n]);
        d.commit(n);
        bytes = &bytes[n..];
        while let Some(c) = d.decode().unwrap() {
            seen.push(owned(&c));
        }
    }
}

#[test]
fn spare_and_commit_decode_the_same_at_every_split_point() {
    let all = conversation();
    let whole = decode_all(&[&all]).unwrap();
    for at in 0..=all.len() {
        let (a, b) = all.split_at(at);
        let mut d = Decoder::new(DEFAULT_MAX_PACKET);
        let mut seen = Vec::new();
        read_into(&mut d, a, usize::MAX, &mut seen);
        read_into(&mut d, b, usize::MAX, &mut seen);
        assert_eq!(seen, whole, "split at {at}");
        assert_eq!(d.pending(), 0);
    }
    // And one byte per read.
    let mut d = Decoder::new(DEFAULT_MAX_PACKET);
    let mut seen = Vec::new();
    read_into(&mut d, &all, 1, &mut seen);
    assert_eq!(seen, whole);
}

/// Reads grow the buffer only as bytes arrive, up to one whole packet of
/// the largest length, never more: a packet of the maximum length read in
/// small pieces ends with the buffer exactly that full.
#[test]
fn spare_grows_to_one_largest_packet_and_no_further() {
    let max = 10_000u32;
    let mut p = Vec::new();
    encode_command(b'B', &vec![b'x'; max as usize - 1], &mut p);
    assert_eq!(p.len(), 4 + max as usize);
    let mut d = Decoder::new(max);
    // The length field alone claims 10 KB: no room is made for it.
    d.spare()[..4].copy_from_slice(&p[..4]);
    d.commit(4);
    assert_eq!(d.decode(), Ok(None));
    assert_eq!(d.buf.len(), FIRST_ROOM);
    let mut at = 4;
    while at < p.len() {
        let room = d.spare();
        assert!(!room.is_empty());
        let n = room.len().min(p.len() - at).min(1000);
        room[..n].copy_from_slice(&p[at..at + n]);
        d.commit(n);
        at += n;
        assert!(d.buf.len() <= 4 + max as usize, "{}", d.buf.len());
    }
    assert_eq!(d.buf.len(), 4 + max as usize);
    // Full: the packet must be decoded before the next read.
    assert!(d.spare().is_empty());
    assert!(matches!(d.decode(), Ok(Some(Command::Body(b))) if b.len() == max as usize - 1));
    assert_eq!(d.spare().len(), 4 + max as usize);
}
