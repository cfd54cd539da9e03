//! The client for a signing device (`mass-firmware`): the I/O around the
//! sans-IO codec in [`mass_core::link`] (`firmware/PROTOCOL.md`).
//!
//! ```text
//!  mass serve ──► Device::sign(request, header fields, body chunks) ──► DKIM-Signature field
//!                   │  one connection, shared; a signature holds it from SIGN-BEGIN to SIGN-END
//!                   └─► tcp:HOST:PORT (QEMU's UART socket) or a serial device path
//! ```
//!
//! Every exchange has a deadline. On a timeout or an I/O error the connection
//! is dropped and the error returned (the daemon applies its `on_error`
//! action); the next call connects again and resynchronizes the link first.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use mass_core::link::{
    self, ErrorCode, Event, FrameDecoder, InfoReply, Kind, MAX_FRAME, MAX_PAYLOAD, Provision,
    SEED_LEN, SEQ_UNSOLICITED, SignBegin, SlotInfo, Stats,
};
use mass_core::{SignRequest, SigningAlgorithm};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

/// Where the device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAddr {
    /// `tcp:HOST:PORT`, e.g. QEMU's UART on a socket.
    Tcp(String),
    /// A serial device (`/dev/ttyUSB0`, a QEMU pty), set to raw mode.
    Serial(PathBuf),
}

impl std::str::FromStr for DeviceAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(hostport) = s.strip_prefix("tcp:") {
            if hostport
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(format!("device address `{s}`: expected tcp:HOST:PORT"));
            }
            Ok(DeviceAddr::Tcp(hostport.to_string()))
        } else if let Some(path) = s.strip_prefix("serial:") {
            Ok(DeviceAddr::Serial(PathBuf::from(path)))
        } else if s.starts_with('/') {
            Ok(DeviceAddr::Serial(PathBuf::from(s)))
        } else {
            Err(format!(
                "device address `{s}`: expected tcp:HOST:PORT or a serial device path"
            ))
        }
    }
}

impl fmt::Display for DeviceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceAddr::Tcp(a) => write!(f, "tcp:{a}"),
            DeviceAddr::Serial(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why a device call failed.
#[derive(Debug)]
pub enum DeviceError {
    /// Connecting, reading or writing failed.
    Io(std::io::Error),
    /// The device did not answer in time.
    Timeout,
    /// The device answered with a typed error.
    Device(link::DeviceError),
    /// The device answered something the protocol does not allow here.
    Protocol(&'static str),
    /// The request cannot be encoded (a name or list too long for the link).
    Request(&'static str),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Io(e) => write!(f, "signing device I/O: {e}"),
            DeviceError::Timeout => f.write_str("signing device did not answer in time"),
            DeviceError::Device(e) => write!(f, "signing device: {e}"),
            DeviceError::Protocol(what) => write!(f, "signing device protocol: {what}"),
            DeviceError::Request(what) => write!(f, "request not sendable to the device: {what}"),
        }
    }
}

impl std::error::Error for DeviceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeviceError::Io(e) => Some(e),
            DeviceError::Device(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for DeviceError {
    fn from(e: std::io::Error) -> Self {
        DeviceError::Io(e)
    }
}

impl DeviceError {
    /// The device's error code, when the device answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            DeviceError::Device(e) => Some(e.code),
            _ => None,
        }
    }

    /// True when the connection is in doubt and is dropped.
    fn breaks_link(&self) -> bool {
        matches!(
            self,
            DeviceError::Io(_) | DeviceError::Timeout | DeviceError::Protocol(_)
        )
    }
}

/// The SIGN-BEGIN payload for `request` with the key in slot `key_id`.
fn encode_sign_begin(key_id: u8, request: &SignRequest<'_>) -> Result<Vec<u8>, DeviceError> {
    let mut names_buf = vec![0u8; MAX_PAYLOAD];
    let begin = SignBegin::from_request(key_id, request, &mut names_buf)
        .map_err(|_| DeviceError::Request("header list too long"))?;
    let mut out = vec![0u8; MAX_PAYLOAD];
    let n = begin
        .encode(&mut out)
        .map_err(|_| DeviceError::Request("SIGN-BEGIN longer than a frame"))?;
    out.truncate(n);
    Ok(out)
}

/// The INFO answer, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Protocol version.
    pub protocol: u8,
    /// Firmware name and version.
    pub firmware: String,
    /// Board name.
    pub board: String,
    /// Largest payload the device takes.
    pub max_payload: u16,
    /// Signed header bytes the device can hold.
    pub header_bytes: u32,
    /// Signed header fields the device can hold.
    pub header_fields: u16,
    /// Key slots.
    pub slots: Vec<SlotInfo>,
}

/// How many requests may be in flight before the client reads answers.
const PIPELINE: usize = 8;

trait Link: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Link for T {}

/// One open connection with its decoder and request numbering.
struct Conn {
    io: Box<dyn Link>,
    /// Deadline for each read and each write.
    timeout: Duration,
    rx: Box<FrameDecoder<MAX_FRAME>>,
    seq: u8,
    /// Requests sent whose answers are not read yet.
    in_flight: VecDeque<u8>,
    frame: Vec<u8>,
}

impl Conn {
    async fn open(addr: &DeviceAddr, timeout: Duration) -> Result<Conn, DeviceError> {
        let io: Box<dyn Link> = match addr {
            DeviceAddr::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a).await?;
                s.set_nodelay(true)?;
                Box::new(s)
            }
            DeviceAddr::Serial(p) => Box::new(serial::open(p)?),
        };
        Ok(Conn {
            io,
            timeout,
            rx: Box::new(FrameDecoder::new()),
            seq: 0,
            in_flight: VecDeque::new(),
            frame: vec![0u8; MAX_FRAME],
        })
    }

    fn next_seq(&mut self) -> u8 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == SEQ_UNSOLICITED {
            self.seq = 1;
        }
        self.seq
    }

    /// Send one request without waiting for its answer.
    async fn send(&mut self, kind: Kind, payload: &[u8]) -> Result<(), DeviceError> {
        let seq = self.next_seq();
        let n = link::encode_frame(seq, kind, payload, &mut self.frame)
            .map_err(|_| DeviceError::Request("payload longer than a frame"))?;
        let write = self.io.write_all(&self.frame[..n]);
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| DeviceError::Timeout)??;
        self.in_flight.push_back(seq);
        Ok(())
    }

    /// Read the answer to the oldest request in flight.
    async fn answer(&mut self) -> Result<(Kind, Vec<u8>), DeviceError> {
        let want = self
            .in_flight
            .pop_front()
            .ok_or(DeviceError::Protocol("no request in flight"))?;
        loop {
            while let Some(ev) = self.rx.next_event() {
                match ev {
                    Event::Frame(f) if f.seq == want => {
                        let kind = Kind::from_u8(f.kind)
                            .ok_or(DeviceError::Protocol("unknown answer kind"))?;
                        return Ok((kind, f.payload.to_vec()));
                    }
                    Event::Frame(f) if f.seq == SEQ_UNSOLICITED => {
                        let e = link::DeviceError::decode(f.payload);
                        tracing::debug!(?e, "signing device reported a link fault");
                    }
                    Event::Frame(f) => {
                        tracing::debug!(
                            seq = f.seq,
                            want,
                            "stale answer from the signing device skipped"
                        );
                    }
                    Event::Error(e) => {
                        tracing::debug!(%e, "garbled bytes from the signing device");
                    }
                }
            }
            let spare = self.rx.spare();
            let n = tokio::time::timeout(self.timeout, self.io.read(spare))
                .await
                .map_err(|_| DeviceError::Timeout)??;
            if n == 0 {
                return Err(DeviceError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.rx.commit(n);
        }
    }

    /// Read answers until at most `keep` requests are in flight; the first
    /// error answer among them is returned after all were read.
    async fn drain_to(&mut self, keep: usize) -> Result<(), DeviceError> {
        let mut first_err = None;
        while self.in_flight.len() > keep {
            let (kind, payload) = self.answer().await?;
            if let Err(e) = expect_ok(kind, &payload)
                && first_err.is_none()
            {
                first_err = Some(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Send a request and read its answer (after any in flight).
    async fn request(
        &mut self,
        kind: Kind,
        payload: &[u8],
    ) -> Result<(Kind, Vec<u8>), DeviceError> {
        self.drain_to(0).await?;
        self.send(kind, payload).await?;
        let (k, p) = self.answer().await?;
        if k == Kind::Error {
            return Err(DeviceError::Device(
                link::DeviceError::decode(&p)
                    .map_err(|_| DeviceError::Protocol("bad error frame"))?,
            ));
        }
        Ok((k, p))
    }

    /// Bring the link to a known state: complete any truncated frame with
    /// zeros, drop any signature in progress, and skip everything until the
    /// answer to that ABORT.
    async fn resync(&mut self) -> Result<(), DeviceError> {
        self.in_flight.clear();
        let zeros = vec![0u8; MAX_FRAME];
        tokio::time::timeout(self.timeout, self.io.write_all(&zeros))
            .await
            .map_err(|_| DeviceError::Timeout)??;
        let (kind, payload) = self.request(Kind::Abort, &[]).await?;
        expect_ok(kind, &payload)
    }
}

fn expect_ok(kind: Kind, payload: &[u8]) -> Result<(), DeviceError> {
    match kind {
        Kind::Ok => Ok(()),
        Kind::Error => Err(DeviceError::Device(
            link::DeviceError::decode(payload)
                .map_err(|_| DeviceError::Protocol("bad error frame"))?,
        )),
        _ => Err(DeviceError::Protocol("expected OK")),
    }
}

/// A signing device: one shared connection, opened on first use and again
/// after a failure.
pub struct Device {
    addr: DeviceAddr,
    timeout: Duration,
    body_frame: AtomicUsize,
    conn: Mutex<Option<Conn>>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("addr", &self.addr)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device at `addr`; every read and write on the link must finish
    /// within `timeout`.
    /// Nothing is opened until the first call.
    pub fn new(addr: DeviceAddr, timeout: Duration) -> Device {
        Device {
            addr,
            timeout,
            body_frame: AtomicUsize::new(MAX_PAYLOAD),
            conn: Mutex::new(None),
        }
    }

    /// Send the body in frames of `len` bytes (1..=4096; 4096 by default).
    /// Body chunks given to [`sign`](Self::sign) are gathered into frames of
    /// this size, so tiny chunks do not cost a frame each.
    pub fn set_body_frame(&self, len: usize) {
        self.body_frame
            .store(len.clamp(1, MAX_PAYLOAD), Ordering::Relaxed);
    }

    /// Close the connection (the next call opens it again).
    pub async fn close(&self) {
        *self.conn.lock().await = None;
    }

    /// Where the device is.
    pub fn addr(&self) -> &DeviceAddr {
        &self.addr
    }

    /// Lock the connection, opening and resynchronizing it if needed.
    async fn lock(&self) -> Result<MutexGuard<'_, Option<Conn>>, DeviceError> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            let opened = tokio::time::timeout(self.timeout, async {
                let mut c = Conn::open(&self.addr, self.timeout).await?;
                c.resync().await?;
                Ok::<_, DeviceError>(c)
            })
            .await
            .map_err(|_| DeviceError::Timeout)
            .and_then(|r| r);
            match opened {
                Ok(c) => {
                    tracing::info!(device = %self.addr, "connected to the signing device");
                    *guard = Some(c);
                }
                Err(e) => {
                    tracing::warn!(device = %self.addr, error = %e, "signing device unreachable");
                    return Err(e);
                }
            }
        }
        Ok(guard)
    }

    /// Run `f` on the connection with the deadline; drop the connection if
    /// the link is in doubt afterwards.
    async fn with_conn<T>(
        &self,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, DeviceError>,
    ) -> Result<T, DeviceError> {
        let mut guard = self.lock().await?;
        let Some(conn) = guard.as_mut() else {
            return Err(DeviceError::Protocol("no connection"));
        };
        // Each read and write has the deadline (a 10 MiB body may take long
        // in all, but the device must keep answering).
        let r = f(conn).await;
        if let Err(e) = &r
            && e.breaks_link()
        {
            tracing::warn!(device = %self.addr, error = %e, "dropping the link to the signing device");
            *guard = None;
        }
        r
    }

    /// INFO: firmware, limits and key slots.
    pub async fn info(&self) -> Result<DeviceInfo, DeviceError> {
        self.with_conn(async |c| {
            let (kind, p) = c.request(Kind::Info, &[]).await?;
            if kind != Kind::InfoReply {
                return Err(DeviceError::Protocol("expected INFO-REPLY"));
            }
            let i = InfoReply::decode(&p).map_err(|_| DeviceError::Protocol("bad INFO-REPLY"))?;
            Ok(DeviceInfo {
                protocol: i.protocol,
                firmware: i.firmware.to_string(),
                board: i.board.to_string(),
                max_payload: i.max_payload,
                header_bytes: i.header_bytes,
                header_fields: i.header_fields,
                slots: i.slots.to_vec(),
            })
        })
        .await
    }

    /// STATS: the device's measurement counters.
    pub async fn stats(&self) -> Result<Stats, DeviceError> {
        self.with_conn(async |c| {
            let (kind, p) = c.request(Kind::Stats, &[]).await?;
            if kind != Kind::StatsReply {
                return Err(DeviceError::Protocol("expected STATS-REPLY"));
            }
            Stats::decode(&p).map_err(|_| DeviceError::Protocol("bad STATS-REPLY"))
        })
        .await
    }

    /// PROVISION: put a key into an empty slot, with a fresh RNG seed for
    /// RSA blinding. `key` is PKCS#8 DER (RSA) or the 32-byte secret (Ed25519);
    /// [`key_from_pem`] makes it from a key file.
    pub async fn provision(
        &self,
        key_id: u8,
        algorithm: SigningAlgorithm,
        key: &[u8],
        seed: &[u8; SEED_LEN],
    ) -> Result<(), DeviceError> {
        let mut payload = Zeroizing::new(vec![0u8; MAX_PAYLOAD]);
        let n = Provision {
            key_id,
            algorithm,
            seed,
            key,
        }
        .encode(&mut payload)
        .map_err(|_| DeviceError::Request("key too long for a frame"))?;
        self.with_conn(async |c| {
            let (kind, p) = c.request(Kind::Provision, &payload[..n]).await?;
            expect_ok(kind, &p)
        })
        .await
    }

    /// Sign one message: SIGN-BEGIN, a HEADER per field (raw, `Name:value`
    /// with folding, no final CRLF), the body in chunks of any size, SIGN-END.
    /// Returns the whole `DKIM-Signature: ...` field without the final CRLF.
    ///
    /// The device's slot must hold a key of `request.algorithm`.
    pub async fn sign<H, B>(
        &self,
        key_id: u8,
        request: &SignRequest<'_>,
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = B>,
    ) -> Result<Vec<u8>, DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        let begin = encode_sign_begin(key_id, request)?;
        self.with_conn(async |c| {
            c.drain_to(0).await?;
            c.send(Kind::SignBegin, &begin).await?;
            for field in header_fields {
                c.send(Kind::Header, field.as_ref()).await?;
                c.drain_to(PIPELINE).await?;
            }
            let frame = self.body_frame.load(Ordering::Relaxed);
            let mut pending: Vec<u8> = Vec::with_capacity(frame);
            for chunk in body_chunks {
                let mut rest = chunk.as_ref();
                while !rest.is_empty() {
                    let take = rest.len().min(frame - pending.len());
                    pending.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if pending.len() == frame {
                        c.send(Kind::Body, &pending).await?;
                        pending.clear();
                        c.drain_to(PIPELINE).await?;
                    }
                }
            }
            if !pending.is_empty() {
                c.send(Kind::Body, &pending).await?;
            }
            c.drain_to(0).await?;
            let (kind, p) = c.request(Kind::SignEnd, &[]).await?;
            if kind != Kind::Signature {
                return Err(DeviceError::Protocol("expected SIGNATURE"));
            }
            Ok(p)
        })
        .await
    }

    /// Send raw bytes on the link (tests of the device's resilience).
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), DeviceError> {
        self.with_conn(async |c| {
            tokio::time::timeout(c.timeout, c.io.write_all(bytes))
                .await
                .map_err(|_| DeviceError::Timeout)??;
            Ok(())
        })
        .await
    }

    /// Send one request of any kind and return the answer's kind and payload
    /// (an ERROR answer is returned as `Ok((Kind::Error, ..))`).
    pub async fn raw_request(
        &self,
        kind: Kind,
        payload: &[u8],
    ) -> Result<(Kind, Vec<u8>), DeviceError> {
        self.with_conn(async |c| {
            c.drain_to(0).await?;
            c.send(kind, payload).await?;
            c.answer().await
        })
        .await
    }

    /// Resynchronize the link now (as after a reconnect).
    pub async fn resync(&self) -> Result<(), DeviceError> {
        self.with_conn(async |c| c.resync().await).await
    }
}

/// The PROVISION key bytes for a PKCS#8 PEM key file's contents: the DER for
/// RSA, the 32-byte secret for Ed25519.
pub fn key_from_pem(pem: &str) -> Result<(SigningAlgorithm, Zeroizing<Vec<u8>>), String> {
    use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    if let Ok(k) = rsa::PrivateKey::from_pkcs8_pem(pem) {
        let der = k
            .to_pkcs8_der()
            .map_err(|e| format!("re-encoding the RSA key: {e}"))?;
        return Ok((
            SigningAlgorithm::RsaSha256,
            Zeroizing::new(der.as_bytes().to_vec()),
        ));
    }
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        return Ok((
            SigningAlgorithm::Ed25519Sha256,
            Zeroizing::new(k.to_bytes().to_vec()),
        ));
    }
    Err("not a PKCS#8 RSA or Ed25519 private key".to_string())
}

/// `[signer]` in the `mass serve` config.
///
/// ```toml
/// [signer]
/// device = "tcp:127.0.0.1:7878"   # or "/dev/ttyUSB0"
/// timeout = 10                    # seconds per exchange
/// [[signer.key]]
/// domain = "example.com"
/// selector = "dev"
/// key_id = 0
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Where the device is.
    pub addr: DeviceAddr,
    /// Deadline for each exchange.
    pub timeout: Duration,
    /// Which device slot signs for which domain and selector.
    pub keys: Vec<DeviceKey>,
}

/// One `[[signer.key]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The device's slot.
    pub key_id: u8,
}

impl DeviceConfig {
    /// Parse the `[signer]` table.
    pub fn from_table(t: &toml::Table) -> Result<DeviceConfig, String> {
        let addr = t
            .get("device")
            .and_then(|v| v.as_str())
            .ok_or("[signer]: `device` (\"tcp:HOST:PORT\" or a path) is required")?
            .parse()?;
        let timeout = match t.get("timeout") {
            None => Duration::from_secs(10),
            Some(v) => match (v.as_integer(), v.as_float()) {
                (Some(i), _) if i > 0 => Duration::from_secs(i as u64),
                (_, Some(f)) if f > 0.0 => Duration::from_secs_f64(f),
                _ => return Err("[signer]: `timeout` must be a positive number of seconds".into()),
            },
        };
        let mut keys = Vec::new();
        if let Some(list) = t.get("key") {
            let list = list
                .as_array()
                .ok_or("[signer]: `key` must be [[signer.key]] tables")?;
            for k in list {
                let field = |name: &str| {
                    k.get(name)
                        .ok_or(format!("[[signer.key]]: `{name}` is required"))
                };
                let domain = field("domain")?
                    .as_str()
                    .ok_or("[[signer.key]]: `domain` must be a string")?
                    .to_string();
                let selector = field("selector")?
                    .as_str()
                    .ok_or("[[signer.key]]: `selector` must be a string")?
                    .to_string();
                let key_id = field("key_id")?
                    .as_integer()
                    .and_then(|i| u8::try_from(i).ok())
                    .ok_or("[[signer.key]]: `key_id` must be 0..=255")?;
                keys.push(DeviceKey {
                    domain,
                    selector,
                    key_id,
                });
            }
        }
        for k in t.keys() {
            if !matches!(k.as_str(), "device" | "timeout" | "key") {
                return Err(format!("[signer]: unknown key `{k}`"));
            }
        }
        Ok(DeviceConfig {
            addr,
            timeout,
            keys,
        })
    }

    /// The device slot for a domain (case-insensitive), with its selector.
    pub fn key_for(&self, domain: &str) -> Option<&DeviceKey> {
        self.keys
            .iter()
            .find(|k| k.domain.eq_ignore_ascii_case(domain))
    }
}

/// Serial devices, as non-blocking file descriptors in raw mode.
mod serial {
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

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.tx).poll_shutdown(cx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            "tcp:127.0.0.1:7878".parse::<DeviceAddr>(),
            Ok(DeviceAddr::Tcp("127.0.0.1:7878".into()))
        );
        assert_eq!(
            "/dev/ttyUSB0".parse::<DeviceAddr>(),
            Ok(DeviceAddr::Serial("/dev/ttyUSB0".into()))
        );
        assert!("tcp:localhost".parse::<DeviceAddr>().is_err());
        assert!("udp:1.2.3.4:5".parse::<DeviceAddr>().is_err());
    }

    #[test]
    fn signer_table_parses() {
        let t: toml::Table = toml::from_str(
            "device = \"tcp:127.0.0.1:7878\"\ntimeout = 3\n[[key]]\ndomain = \"example.com\"\nselector = \"dev\"\nkey_id = 1\n",
        )
        .unwrap();
        let c = DeviceConfig::from_table(&t).unwrap();
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.key_for("EXAMPLE.com").map(|k| k.key_id), Some(1));
        let bad: toml::Table = toml::from_str("device = \"tcp:x:1\"\nspeed = 3\n").unwrap();
        assert!(DeviceConfig::from_table(&bad).is_err());
    }

    /// A device that never answers gives a timeout, not a hang.
    #[tokio::test]
    async fn silent_device_times_out() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(s);
        });
        let d = Device::new(
            DeviceAddr::Tcp(addr.to_string()),
            Duration::from_millis(200),
        );
        assert!(matches!(d.info().await, Err(DeviceError::Timeout)));
        hold.abort();
    }
}
