//! Serial devices, as non-blocking file descriptors in raw mode.

use super::*;
use tokio::net::unix::pipe;

/// A serial port: one file descriptor, read and written.
pub struct Serial {
    rx: pipe::Receiver,
    tx: pipe::Sender,
}

pub fn open(path: &std::path::Path) -> std::io::Result<Serial> {
    raw_mode(path)?;
    let tx = pipe::OpenOptions::new().unchecked(true).open_sender(path)?;
    let rx = pipe::OpenOptions::new()
        .unchecked(true)
        .open_receiver(path)?;
    Ok(Serial { rx, tx })
}

/// Put a terminal into raw mode with `stty` (the workspace forbids the
/// unsafe termios calls). A path that is not a terminal is left alone.
fn raw_mode(path: &std::path::Path) -> std::io::Result<()> {
    let out = std::process::Command::new("stty")
        .arg("-F")
        .arg(path)
        .args(["raw", "-echo"])
        .output()?;
    if !out.status.success() {
        tracing::debug!(path = %path.display(), "stty raw failed; not a terminal?");
    }
    Ok(())
}

impl AsyncRead for Serial {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.rx).poll_read(cx, buf)
    }
}

impl AsyncWrite for Serial {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tx).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tx).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tx).poll_shutdown(cx)
    }
}
