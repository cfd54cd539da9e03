//! Input and output that the `mass` subcommands share: the message from a
//! file or standard input, through bare-LF conversion (RFC 6376 §5.3), and
//! a signature field written on top of the message.
//!
//! The input streams in 64 KiB chunks, so memory stays small whatever the
//! message size. Standard input that must be written out again after its
//! signature is spooled to an unlinked 0600 file ([`crate::spool`]).

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use mass_core::canon::normalize::LineEndings;

use crate::cli::CliError;
use crate::spool::spool_file;

/// The size of the pieces read and written.
pub const CHUNK: usize = 64 * 1024;

/// The input source: a file that can be read twice, or standard input.
#[derive(Debug)]
pub enum Input {
    /// A file named on the command line.
    File(File),
    /// Standard input (no name, or `-`).
    Stdin(io::Stdin),
}

impl Input {
    /// Open `path`, or standard input for `None` and `-`.
    pub fn open(path: Option<&Path>) -> Result<Self, CliError> {
        match path {
            None => Ok(Input::Stdin(io::stdin())),
            Some(p) if p == Path::new("-") => Ok(Input::Stdin(io::stdin())),
            Some(p) => File::open(p).map(Input::File).map_err(CliError::io(p)),
        }
    }
}

/// Stream `reader` through line-ending conversion into `each`. A read
/// error becomes an `E` through `From<io::Error>`.
///
/// `each` is called about once per read, not once per line: the converter
/// hands over a run per line of a file with bare LF line ends (and a CRLF
/// after it), and calling the signer or verifier twice per line costs far
/// more than copying the line. So short runs are gathered into one buffer
/// with a single copy each and passed on together; runs of [`DIRECT`]
/// bytes or more, such as a whole read of a CRLF file, go on uncopied.
pub fn stream<E: From<io::Error>>(
    mut reader: impl Read,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = vec![0u8; CHUNK];
    // The conversion of one read: at most twice as long, so it never grows.
    let mut gathered: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut lines = LineEndings::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        lines.update(buf.get(..n).unwrap_or_default(), |run| {
            if run.len() < DIRECT {
                gathered.extend_from_slice(run);
                return Ok(());
            }
            if !gathered.is_empty() {
                each(&gathered)?;
                gathered.clear();
            }
            each(run)
        })?;
        if !gathered.is_empty() {
            each(&gathered)?;
            gathered.clear();
        }
    }
}

/// Runs at least this long go from [`stream`]'s converter to its consumer
/// without being gathered (copied) first.
const DIRECT: usize = 4096;

/// Where a signed message is read again from: the input file itself, or
/// standard input spooled (already converted).
#[derive(Debug)]
pub enum Replay {
    /// The input file, to be converted again as it is copied.
    File(File),
    /// The spool of standard input, copied as it is.
    Spooled(File),
}

/// Read the message at `input` (a file, or standard input) through bare-LF
/// conversion into `each`. With `keep`, returns where it can be read again.
pub fn read_message(
    input: Option<&Path>,
    keep: bool,
    mut each: impl FnMut(&[u8]) -> Result<(), CliError>,
) -> Result<Option<Replay>, CliError> {
    match Input::open(input)? {
        Input::File(mut f) => {
            stream(&mut f, each)?;
            Ok(keep.then_some(Replay::File(f)))
        }
        Input::Stdin(stdin) => {
            let mut spool = if keep {
                Some(io::BufWriter::new(spool_file().map_err(CliError::Spool)?))
            } else {
                None
            };
            stream(stdin.lock(), |c| {
                if let Some(s) = spool.as_mut() {
                    s.write_all(c).map_err(CliError::Spool)?;
                }
                each(c)
            })?;
            spool
                .map(|s| {
                    s.into_inner()
                        .map(Replay::Spooled)
                        .map_err(|e| CliError::Spool(e.into_error()))
                })
                .transpose()
        }
    }
}

/// The signature field `finish` writes, in a buffer of the size the
/// signer asked for beforehand (`required_len`), so nothing is guessed.
pub fn finish_into_field(
    required: usize,
    finish: impl FnOnce(&mut [u8]) -> Result<usize, mass_core::Error>,
) -> Result<Vec<u8>, CliError> {
    let mut field = vec![0u8; required];
    let n = finish(&mut field).map_err(CliError::Sign)?;
    field.truncate(n);
    Ok(field)
}

/// Write `field` and a CRLF to standard output, then the message again
/// from `replay` when there is one.
pub fn write_signed(field: &[u8], replay: Option<Replay>) -> Result<(), CliError> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(CHUNK, stdout.lock());
    out.write_all(field).map_err(CliError::Write)?;
    out.write_all(b"\r\n").map_err(CliError::Write)?;
    match replay {
        None => {}
        Some(Replay::File(mut f)) => {
            f.rewind().map_err(CliError::Read)?;
            stream(f, |c| out.write_all(c).map_err(CliError::Write))?;
        }
        Some(Replay::Spooled(mut f)) => {
            f.rewind().map_err(CliError::Spool)?;
            io::copy(&mut f, &mut out).map_err(CliError::Write)?;
        }
    }
    out.flush().map_err(CliError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes in reads of the sizes given, in
    /// turn.
    struct Pieces<'a> {
        data: &'a [u8],
        sizes: &'a [usize],
        next: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.next % self.sizes.len()];
            self.next += 1;
            let n = size.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Bare LF to CRLF, the plain way.
    fn converted(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = 0u8;
        for &b in data {
            if b == b'\n' && prev != b'\r' {
                out.push(b'\r');
            }
            out.push(b);
            prev = b;
        }
        out
    }

    #[test]
    fn stream_converts_and_hands_on_about_one_piece_per_read() {
        // Short LF lines, CRLF lines, a CR at the end of a read, and
        // lines longer than DIRECT, which go on uncopied.
        let mut data = Vec::new();
        for i in 0..3000usize {
            match i % 7 {
                0 => data.extend_from_slice(b"short line\n"),
                1 => data.extend_from_slice(b"crlf line\r\n"),
                2 => data.extend_from_slice(b"bare cr\r"),
                3 if i % 100 == 3 => {
                    data.extend(std::iter::repeat_n(b'x', DIRECT + i % 13));
                    data.push(b'\n');
                }
                _ => data.extend_from_slice(b"text of a line of mail\n"),
            }
        }
        let want = converted(&data);
        for sizes in [&[CHUNK][..], &[1, 7, 100, 5000], &[4097, 3, 65536]] {
            let mut reads = Pieces {
                data: &data,
                sizes,
                next: 0,
            };
            let mut got = Vec::new();
            let mut calls = 0usize;
            stream::<io::Error>(&mut reads, |c| {
                got.extend_from_slice(c);
                calls += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!(got, want, "reads of {sizes:?}");
            // At most: per read, the gathered runs before each long run,
            // the long runs, and what is gathered at the end.
            let long_runs = 3000 / 100 + 1;
            assert!(calls <= reads.next + 2 * long_runs * 2, "{calls} calls");
        }
    }

    #[test]
    fn crlf_input_goes_on_as_read() {
        let data = b"a: b\r\n\r\nbody\r\n".repeat(10_000);
        let mut calls = Vec::new();
        stream::<io::Error>(&data[..], |c| {
            calls.push(c.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(calls.iter().sum::<usize>(), data.len());
        assert!(calls.iter().all(|&n| n == CHUNK || n == data.len() % CHUNK));
    }
}
