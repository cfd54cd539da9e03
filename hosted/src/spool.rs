//! Spooling bytes the host must read again later: standard input that
//! `mass sign` writes out after its signature, and the body of a message
//! `mass serve` hands to a signing device at end of message (the device
//! takes one signature at a time, so a body cannot stream to it while the
//! SMTP client is still sending).
//!
//! Spool files are created mode 0600 in `$TMPDIR` (else `/tmp`) and
//! unlinked at once: nothing is left behind, whatever ends the process.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// An unlinked, private temporary file. The error keeps the operating
/// system's kind (a full disk is `StorageFull`) and names the directory.
pub fn spool_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    for n in 0..100u32 {
        let path = dir.join(format!("mass-{}-{n}.spool", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(
            opts.read(true).write(true).create_new(true),
            0o600,
        );
        match opts.open(&path) {
            Ok(f) => {
                let _ = std::fs::remove_file(&path);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create a spool file in {}: {e}", dir.display()),
                ));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "cannot create a spool file in {}: 100 names taken",
            dir.display()
        ),
    ))
}

/// Bytes kept in memory up to a limit, then in a [`spool_file`].
#[derive(Debug)]
pub struct Spool {
    memory: Vec<u8>,
    memory_limit: usize,
    file: Option<File>,
    len: u64,
}

/// Size of the pieces a file-backed spool is read back in.
const READ_CHUNK: usize = 64 * 1024;

impl Spool {
    /// A spool that keeps up to `memory_limit` bytes in memory.
    pub fn new(memory_limit: usize) -> Spool {
        Spool {
            memory: Vec::new(),
            memory_limit,
            file: None,
            len: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `bytes`, moving everything to a file once the memory limit
    /// would be passed.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() + bytes.len() > self.memory_limit {
            let mut file = spool_file()?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(f) => f.write_all(bytes)?,
            None => self.memory.extend_from_slice(bytes),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Everything written, from the start, in pieces; may be called again.
    pub fn chunks(&mut self) -> io::Result<Chunks<'_>> {
        if let Some(f) = &mut self.file {
            f.flush()?;
            f.seek(SeekFrom::Start(0))?;
        }
        Ok(Chunks {
            memory: Some(&self.memory).filter(|m| !m.is_empty()),
            file: self.file.as_mut(),
            left: self.len,
        })
    }
}

/// The pieces of a [`Spool`], from [`Spool::chunks`]: the memory part
/// borrowed whole, or the file read back in 64 KiB pieces.
#[derive(Debug)]
pub struct Chunks<'a> {
    memory: Option<&'a Vec<u8>>,
    file: Option<&'a mut File>,
    left: u64,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = io::Result<Cow<'a, [u8]>>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(file) = self.file.as_mut() else {
            return self.memory.take().map(|m| Ok(Cow::Borrowed(m.as_slice())));
        };
        if self.left == 0 {
            return None;
        }
        let n = usize::try_from(self.left).map_or(READ_CHUNK, |left| left.min(READ_CHUNK));
        let mut buf = vec![0u8; n];
        match file.read_exact(&mut buf) {
            Ok(()) => {
                self.left -= n as u64;
                Some(Ok(Cow::Owned(buf)))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(spool: &mut Spool) -> Vec<u8> {
        let mut all = Vec::new();
        for c in spool.chunks().unwrap() {
            all.extend_from_slice(&c.unwrap());
        }
        all
    }

    #[test]
    fn memory_then_file_read_back_twice() {
        for limit in [0, 1, 10, 1000, 1 << 20] {
            let mut spool = Spool::new(limit);
            let mut want = Vec::new();
            for i in 0..300u32 {
                let piece = vec![(i % 251) as u8; (i as usize * 37) % 1500];
                spool.write(&piece).unwrap();
                want.extend_from_slice(&piece);
            }
            assert_eq!(spool.len(), want.len() as u64);
            assert_eq!(read_back(&mut spool), want, "limit {limit}");
            assert_eq!(read_back(&mut spool), want, "limit {limit}, again");
        }
    }

    #[test]
    fn empty_spool_has_no_chunks() {
        let mut spool = Spool::new(10);
        assert!(spool.is_empty());
        assert_eq!(spool.chunks().unwrap().count(), 0);
    }
}
