//! Key records for the verifier: read from a zone file or from mail-auth's dns.json,
//! and served by a DNS server on 127.0.0.1 (TCP) that mail-auth's own hickory
//! resolver queries. So mail-auth takes its usual path: its TXT parsing, its choice
//! among several records, NXDOMAIN as a missing key.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// Owner name (ASCII lower case, no final dot) to its TXT records, each a list of
/// character-strings.
#[derive(Debug, Default)]
pub struct Zone(HashMap<String, Vec<Vec<Vec<u8>>>>);

impl Zone {
    fn add(&mut self, name: &str, strings: Vec<Vec<u8>>) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.0.entry(name).or_default().push(strings);
    }

    /// mail-auth's resources/dkim2/dns.json: `{domain: {label: [["txt", value], ...]}}`.
    pub fn from_json(text: &str) -> Result<Zone, String> {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("dns.json: {e}"))?;
        let mut zone = Zone::default();
        for (domain, labels) in json.as_object().ok_or("dns.json: not an object")? {
            for (label, records) in labels.as_object().ok_or("dns.json: bad domain entry")? {
                for record in records.as_array().ok_or("dns.json: bad record list")? {
                    match (record[0].as_str(), record[1].as_str()) {
                        (Some(kind), Some(value)) if kind.eq_ignore_ascii_case("txt") => {
                            zone.add(&format!("{label}.{domain}"), vec![value.into()]);
                        }
                        (Some(_), Some(_)) => {}
                        _ => return Err(format!("dns.json: bad record under {label}.{domain}")),
                    }
                }
            }
        }
        Ok(zone)
    }

    /// The subset of RFC 1035 §5.1 that `mass verify --zone` reads: `name [ttl] [class]
    /// TXT string...`, `;` comments, `( )` spanning lines, quoted or bare strings with
    /// `\X` and `\DDD` escapes, a leading blank reusing the previous owner, `$TTL`
    /// ignored. Names are absolute with or without the final dot.
    pub fn from_master_file(text: &[u8]) -> Result<Zone, String> {
        let mut zone = Zone::default();
        let mut owner: Option<String> = None;
        // The record being read: its first line, whether that began with a blank, its words.
        let (mut start, mut same_owner, mut words) = (0, false, Vec::new());
        let mut depth = 0;
        for (index, line) in text.split(|&b| b == b'\n').enumerate() {
            let err = |what: &str| format!("zone line {}: {what}", index + 1);
            if depth == 0 {
                start = index + 1;
                same_owner = matches!(line.first(), Some(b' ' | b'\t'));
            }
            let mut pos = 0;
            while pos < line.len() {
                match line[pos] {
                    b' ' | b'\t' | b'\r' => pos += 1,
                    b';' => break,
                    b'(' => (depth, pos) = (depth + 1, pos + 1),
                    b')' if depth == 0 => return Err(err("unbalanced ')'")),
                    b')' => (depth, pos) = (depth - 1, pos + 1),
                    _ => {
                        let word;
                        (word, pos) = read_word(line, pos).map_err(err)?;
                        words.push(word);
                    }
                }
            }
            if depth == 0 && !words.is_empty() {
                let words = std::mem::take(&mut words);
                record(&mut zone, &mut owner, same_owner, words)
                    .map_err(|what| format!("zone line {start}: {what}"))?;
            }
        }
        if depth != 0 {
            return Err(format!("zone line {start}: '(' never closed"));
        }
        Ok(zone)
    }
}

/// A word of a zone file, unescaped. A quoted word is never a keyword.
#[derive(Debug)]
struct Word {
    quoted: bool,
    text: Vec<u8>,
}

/// Reads the quoted or bare word at `line[pos]`; returns it and the position after it.
fn read_word(line: &[u8], mut pos: usize) -> Result<(Word, usize), &'static str> {
    let quoted = line[pos] == b'"';
    pos += usize::from(quoted);
    let mut text = Vec::new();
    loop {
        match (line.get(pos), quoted) {
            (None, true) => return Err("unterminated string"),
            (Some(b'"'), true) => return Ok((Word { quoted, text }, pos + 1)),
            (None | Some(b' ' | b'\t' | b'\r' | b';' | b'(' | b')'), false) => {
                return Ok((Word { quoted, text }, pos));
            }
            (Some(b'\\'), _) => {
                let digits = line.get(pos + 1..pos + 4);
                if let Some(d) = digits.filter(|d| d.iter().all(u8::is_ascii_digit)) {
                    let value = d.iter().fold(0u32, |v, c| v * 10 + u32::from(c - b'0'));
                    text.push(u8::try_from(value).map_err(|_| "bad \\DDD escape")?);
                    pos += 4;
                } else {
                    text.push(*line.get(pos + 1).ok_or("bad escape")?);
                    pos += 2;
                }
            }
            (Some(&byte), _) => {
                text.push(byte);
                pos += 1;
            }
        }
    }
}

/// Adds the record made of `words` (`name [ttl] [class] TXT string...`, without the
/// name if `same_owner`), or takes a `$TTL` directive.
fn record(
    zone: &mut Zone,
    owner: &mut Option<String>,
    same_owner: bool,
    words: Vec<Word>,
) -> Result<(), String> {
    let mut words = words.into_iter().peekable();
    if let Some(first) = words.next_if(|w| !w.quoted && w.text.first() == Some(&b'$')) {
        return match first.text.eq_ignore_ascii_case(b"$TTL") {
            true => Ok(()),
            false => Err(format!(
                "directive {} is not supported",
                String::from_utf8_lossy(&first.text)
            )),
        };
    }
    if !same_owner {
        let name = words.next().ok_or("no owner name")?;
        if name.quoted || name.text == b"@" {
            return Err("bad owner name".into());
        }
        *owner = Some(String::from_utf8(name.text).map_err(|_| "owner name is not ASCII")?);
    }
    let name = owner.clone().ok_or("no previous owner name")?;
    // TTL and class, in either order, then the type.
    let ttl_or_class = |w: &Word| {
        !w.quoted && (w.text.iter().all(u8::is_ascii_digit) || w.text.eq_ignore_ascii_case(b"IN"))
    };
    while words.next_if(ttl_or_class).is_some() {}
    match words.next() {
        Some(t) if !t.quoted && t.text.eq_ignore_ascii_case(b"TXT") => {}
        Some(t) => {
            return Err(format!(
                "type {} is not TXT",
                String::from_utf8_lossy(&t.text)
            ));
        }
        None => return Err("no type".into()),
    }
    let strings: Vec<Vec<u8>> = words.map(|w| w.text).collect();
    if strings.is_empty() {
        return Err("TXT record without strings".into());
    }
    zone.add(&name, strings);
    Ok(())
}

/// Serves `zone` over DNS/TCP on 127.0.0.1; returns the address.
pub fn serve(zone: Zone) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let zone = Arc::new(zone);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let zone = zone.clone();
            std::thread::spawn(move || session(stream, &zone));
        }
    });
    Ok(addr)
}

fn session(mut stream: TcpStream, zone: &Zone) {
    let mut len = [0u8; 2];
    while stream.read_exact(&mut len).is_ok() {
        let mut query = vec![0; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut query).is_err() {
            return;
        }
        let Some(response) = answer(&query, zone) else {
            return;
        };
        let Ok(len) = u16::try_from(response.len()) else {
            return;
        };
        if stream.write_all(&len.to_be_bytes()).is_err() || stream.write_all(&response).is_err() {
            return;
        }
    }
}

/// The response to one query: the TXT records of the name, NXDOMAIN for a name
/// that has none.
fn answer(query: &[u8], zone: &Zone) -> Option<Vec<u8>> {
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    pos += 4;
    let question = query.get(12..pos)?;
    let records = zone.0.get(&labels.join("."));
    let answers = match records {
        Some(records) if qtype == 16 || qtype == 255 => records.as_slice(),
        _ => &[],
    };

    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[..2]);
    out.push(0x84 | (query[2] & 0x79)); // QR, opcode, AA, RD
    out.push(if records.is_some() { 0x80 } else { 0x83 }); // RA, NOERROR or NXDOMAIN
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&u16::try_from(answers.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for strings in answers {
        let mut rdata = Vec::new();
        for string in strings {
            // Longer strings are cut into character-strings; readers join them.
            let mut chunks = string.chunks(255).peekable();
            if chunks.peek().is_none() {
                rdata.push(0);
            }
            for chunk in chunks {
                rdata.push(chunk.len() as u8);
                rdata.extend_from_slice(chunk);
            }
        }
        out.extend_from_slice(&[0xC0, 0x0C, 0, 16, 0, 1, 0, 0, 0x0E, 0x10]); // TXT IN 3600
        out.extend_from_slice(&u16::try_from(rdata.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}
