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
pub fn stream<E: From<io::Error>>(
    mut reader: impl Read,
    mut each: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = vec![0u8; CHUNK];
    let mut lines = LineEndings::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        lines.update(buf.get(..n).unwrap_or_default(), &mut each)?;
    }
}

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
