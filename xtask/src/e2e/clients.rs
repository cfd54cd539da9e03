//! SMTP and milter clients for the e2e steps.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

// ---- SMTP and milter clients ------------------------------------------

/// The outcome of one SMTP transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Smtp {
    Accepted,
    TempFail(String),
    PermFail(String),
    Broken(String),
}

fn smtp_reply(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes().get(3) == Some(&b' ') {
            return Ok(all);
        }
    }
}

/// Send one message over SMTP; `tag` goes into the Subject.
pub(super) fn smtp_send(port: u16, tag: &str, body_lines: usize) -> Smtp {
    let go = || -> Result<Smtp, String> {
        let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let mut w = s.try_clone().map_err(|e| e.to_string())?;
        let mut r = BufReader::new(s);
        let classify = |reply: &str| match reply.as_bytes().first() {
            Some(b'4') => Some(Smtp::TempFail(reply.trim().to_string())),
            Some(b'5') => Some(Smtp::PermFail(reply.trim().to_string())),
            _ => None,
        };
        let greet = smtp_reply(&mut r)?;
        if let Some(f) = classify(&greet) {
            return Ok(f);
        }
        let mut msg = format!(
            "From: Sender <sender@example.com>\r\nTo: rcpt@example.net\r\n\
             Subject: {tag}\r\nMessage-ID: <{tag}@example.com>\r\n\
             Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n"
        );
        for i in 0..body_lines {
            msg.push_str(&format!("line {i} of {tag}: the quick brown fox\r\n"));
        }
        msg.push_str(".\r\n");
        for cmd in [
            "EHLO client.e2e.test\r\n",
            "MAIL FROM:<sender@example.com>\r\n",
            "RCPT TO:<rcpt@example.net>\r\n",
            "DATA\r\n",
        ] {
            w.write_all(cmd.as_bytes()).map_err(|e| e.to_string())?;
            let reply = smtp_reply(&mut r)?;
            if let Some(f) = classify(&reply) {
                let _ = w.write_all(b"QUIT\r\n");
                return Ok(f);
            }
        }
        w.write_all(msg.as_bytes()).map_err(|e| e.to_string())?;
        let reply = smtp_reply(&mut r)?;
        let _ = w.write_all(b"QUIT\r\n");
        Ok(classify(&reply).unwrap_or(Smtp::Accepted))
    };
    go().unwrap_or_else(Smtp::Broken)
}

pub(super) fn packet(cmd: u8, data: &[u8]) -> Vec<u8> {
    let mut p = ((data.len() + 1) as u32).to_be_bytes().to_vec();
    p.push(cmd);
    p.extend_from_slice(data);
    p
}

/// A minimal MTA side of the milter protocol.
pub(super) struct MilterClient {
    pub(super) s: TcpStream,
}

impl MilterClient {
    pub(super) fn connect(port: u16) -> Result<MilterClient, String> {
        let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        Ok(MilterClient { s })
    }

    pub(super) fn send(&mut self, cmd: u8, data: &[u8]) -> Result<(), String> {
        self.s
            .write_all(&packet(cmd, data))
            .map_err(|e| e.to_string())
    }

    pub(super) fn reply(&mut self) -> Result<(u8, Vec<u8>), String> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len).map_err(|e| e.to_string())?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > 1 << 20 {
            return Err(format!("bad reply length {len}"));
        }
        let mut data = vec![0u8; len];
        self.s.read_exact(&mut data).map_err(|e| e.to_string())?;
        let code = data.remove(0);
        Ok((code, data))
    }

    pub(super) fn negotiate(&mut self) -> Result<(), String> {
        let mut d = 6u32.to_be_bytes().to_vec();
        d.extend_from_slice(&0x1ffu32.to_be_bytes());
        d.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
        self.send(b'O', &d)?;
        match self.reply()? {
            (b'O', _) => Ok(()),
            (c, _) => Err(format!("negotiation answered {:?}", char::from(c))),
        }
    }

    /// Send a command that expects one reply; return its code.
    pub(super) fn step(&mut self, cmd: u8, data: &[u8]) -> Result<u8, String> {
        self.send(cmd, data)?;
        Ok(self.reply()?.0)
    }

    /// Connect through DATA and the header, as an internal client.
    pub(super) fn start_message(&mut self) -> Result<(), String> {
        self.step(b'C', b"client.e2e.test\x004\x30\x39127.0.0.1\0")?;
        self.send(b'D', b"Mi\0E2EQUEUE\0")?;
        self.step(b'M', b"<sender@example.com>\0")?;
        self.step(b'R', b"<rcpt@example.net>\0")?;
        self.step(b'T', b"")?;
        self.step(b'L', b"From\0 Sender <sender@example.com>\0")?;
        self.step(b'L', b"Subject\0 e2e raw milter\0")?;
        self.step(b'N', b"")?;
        Ok(())
    }

    /// End the message; the replies up to the final one.
    pub(super) fn end_message(&mut self) -> Result<Vec<(u8, Vec<u8>)>, String> {
        self.send(b'E', b"")?;
        let mut replies = Vec::new();
        loop {
            let r = self.reply()?;
            let last = matches!(r.0, b'c' | b'a' | b'r' | b't' | b'y' | b'd');
            replies.push(r);
            if last {
                return Ok(replies);
            }
        }
    }

    /// Time until the server closes the connection (reads EOF or an error).
    pub(super) fn time_to_close(&mut self, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        let _ = self.s.set_read_timeout(Some(limit));
        let mut b = [0u8; 256];
        loop {
            match self.s.read(&mut b) {
                Ok(0) => return Some(t0.elapsed()),
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None;
                }
                Err(_) => return Some(t0.elapsed()),
            }
        }
    }
}

pub(super) fn signed_reply(replies: &[(u8, Vec<u8>)]) -> bool {
    replies.iter().any(|(c, d)| {
        *c == b'i'
            && d.get(4..)
                .is_some_and(|n| n.starts_with(b"DKIM-Signature\0"))
    })
}
