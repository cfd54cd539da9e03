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
    /// Other messages held the device for longer than the busy timeout.
    Busy,
    /// The body could not be read back from the host's spool.
    Spool(std::io::Error),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Io(e) => write!(f, "signing device I/O: {e}"),
            DeviceError::Timeout => f.write_str("signing device did not answer in time"),
            DeviceError::Device(e) => write!(f, "signing device: {e}"),
            DeviceError::Protocol(what) => write!(f, "signing device protocol: {what}"),
            DeviceError::Request(what) => write!(f, "request not sendable to the device: {what}"),
            DeviceError::Busy => f.write_str("signing device busy for longer than busy_timeout"),
            DeviceError::Spool(e) => write!(f, "reading the spooled body: {e}"),
        }
    }
}

impl std::error::Error for DeviceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeviceError::Io(e) | DeviceError::Spool(e) => Some(e),
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
    busy_timeout: Duration,
    body_frame: AtomicUsize,
    conn: Mutex<Option<Conn>>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("addr", &self.addr)
            .field("timeout", &self.timeout)
            .field("busy_timeout", &self.busy_timeout)
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
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            body_frame: AtomicUsize::new(MAX_PAYLOAD),
            conn: Mutex::new(None),
        }
    }

    /// The device a `[signer]` table describes.
    pub fn from_config(config: &DeviceConfig) -> Device {
        Device {
            busy_timeout: config.busy_timeout,
            ..Device::new(config.addr.clone(), config.timeout)
        }
    }

    /// True when this device was made from `config`'s address and timeouts,
    /// so a reload can keep it (and its open link).
    pub fn matches(&self, config: &DeviceConfig) -> bool {
        self.addr == config.addr
            && self.timeout == config.timeout
            && self.busy_timeout == config.busy_timeout
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
        // The link carries one signature at a time; a message waits its turn
        // (tokio's mutex is fair), but not forever.
        let mut guard = tokio::time::timeout(self.busy_timeout, self.conn.lock())
            .await
            .map_err(|_| DeviceError::Busy)?;
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
    /// The device signs with the key in slot `key_id`, whatever
    /// `request.algorithm` says.
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
        self.sign_reading(
            key_id,
            request,
            header_fields,
            body_chunks.into_iter().map(Ok),
        )
        .await
    }

    /// [`sign`](Self::sign) with a body read from somewhere that can fail
    /// (the milter's spool): a read error ends the signature with
    /// [`DeviceError::Spool`] and leaves the link usable (the next
    /// SIGN-BEGIN replaces the unfinished signature on the device).
    pub async fn sign_reading<H, B>(
        &self,
        key_id: u8,
        request: &SignRequest<'_>,
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = std::io::Result<B>>,
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
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        // Read the answers so the link stays in step.
                        c.drain_to(0).await?;
                        return Err(DeviceError::Spool(e));
                    }
                };
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

/// The PROVISION key bytes for a PEM key file's contents, read as
/// `mass serve` reads its keys (PKCS#8 RSA or Ed25519, PKCS#1 RSA; text
/// around the PEM block is ignored): the PKCS#8 DER for RSA, the 32-byte
/// secret for Ed25519.
pub fn key_from_pem(pem: &str) -> Result<(SigningAlgorithm, Zeroizing<Vec<u8>>), String> {
    use crate::milter::keys::{KeyMaterial, parse_pem};
    use rsa::pkcs8::EncodePrivateKey;
    match parse_pem(pem)? {
        KeyMaterial::Rsa(k) => {
            let der = k
                .to_pkcs8_der()
                .map_err(|e| format!("re-encoding the RSA key: {e}"))?;
            Ok((
                SigningAlgorithm::RsaSha256,
                Zeroizing::new(der.as_bytes().to_vec()),
            ))
        }
        KeyMaterial::Ed25519(k) => Ok((
            SigningAlgorithm::Ed25519Sha256,
            Zeroizing::new(k.to_bytes().to_vec()),
        )),
    }
}

/// How long a message waits for the device while others use it, unless
/// `[signer] busy_timeout` says otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest body `mass serve` spools for the device, unless
/// `[signer] max_body` says otherwise.
pub const DEFAULT_MAX_BODY: u64 = 64 << 20;

/// `[signer]` in the `mass serve` config.
///
/// ```toml
/// [signer]
/// device = "tcp:127.0.0.1:7878"   # or "/dev/ttyUSB0"
/// timeout = 10                    # seconds for each read or write on the link
/// busy_timeout = 60               # seconds a message may wait for the device
/// max_body = 67108864             # bytes of body spooled for the device at most
/// [[signer.key]]
/// domain = "example.com"
/// selector = "dev"
/// key_id = 0
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Where the device is.
    pub addr: DeviceAddr,
    /// Deadline for each read and each write on the link.
    pub timeout: Duration,
    /// How long a message may wait while the device signs others.
    pub busy_timeout: Duration,
    /// The most body bytes spooled for the device; a larger message fails
    /// (`on_error`) instead of filling the disk.
    pub max_body: u64,
    /// Which device slot signs for which domain and selector.
    pub keys: Vec<DeviceKey>,
}

/// One `[[signer.key]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceKey {
    /// `d=`, lower case.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The device's slot.
    pub key_id: u8,
}

impl DeviceKey {
    /// `domain/selector(slot N)`, for logs.
    pub fn label(&self) -> String {
        format!(
            "{}/{}(device slot {})",
            self.domain, self.selector, self.key_id
        )
    }
}

/// A positive number of seconds, integer or float.
fn seconds(t: &toml::Table, name: &str, default: Duration) -> Result<Duration, String> {
    match t.get(name) {
        None => Ok(default),
        Some(v) => match (v.as_integer(), v.as_float()) {
            (Some(i), _) if i > 0 => Ok(Duration::from_secs(i.unsigned_abs())),
            (_, Some(f)) if f > 0.0 && f < 1e9 => Ok(Duration::from_secs_f64(f)),
            _ => Err(format!(
                "[signer]: `{name}` must be a positive number of seconds"
            )),
        },
    }
}

impl DeviceConfig {
    /// Parse the `[signer]` table.
    pub fn from_table(t: &toml::Table) -> Result<DeviceConfig, String> {
        for k in t.keys() {
            if !matches!(
                k.as_str(),
                "device" | "timeout" | "busy_timeout" | "max_body" | "key"
            ) {
                return Err(format!("[signer]: unknown key `{k}`"));
            }
        }
        let addr = t
            .get("device")
            .and_then(|v| v.as_str())
            .ok_or("[signer]: `device` (\"tcp:HOST:PORT\" or a path) is required")?
            .parse()?;
        let timeout = seconds(t, "timeout", Duration::from_secs(10))?;
        let busy_timeout = seconds(t, "busy_timeout", DEFAULT_BUSY_TIMEOUT)?;
        let max_body = match t.get("max_body") {
            None => DEFAULT_MAX_BODY,
            Some(v) => v
                .as_integer()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or("[signer]: `max_body` must be a positive number of bytes")?,
        };
        let mut keys: Vec<DeviceKey> = Vec::new();
        if let Some(list) = t.get("key") {
            let list = list
                .as_array()
                .ok_or("[signer]: `key` must be [[signer.key]] tables")?;
            for k in list {
                let k = k
                    .as_table()
                    .ok_or("[signer]: `key` must be [[signer.key]] tables")?;
                for name in k.keys() {
                    if !matches!(name.as_str(), "domain" | "selector" | "key_id") {
                        return Err(format!("[[signer.key]]: unknown key `{name}`"));
                    }
                }
                let text = |name: &str| {
                    k.get(name)
                        .ok_or(format!("[[signer.key]]: `{name}` is required"))?
                        .as_str()
                        .filter(|v| {
                            !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == ';')
                        })
                        .map(str::to_string)
                        .ok_or(format!(
                            "[[signer.key]]: `{name}` must be a name without spaces or `;`"
                        ))
                };
                let domain = text("domain")?.trim_end_matches('.').to_ascii_lowercase();
                let selector = text("selector")?;
                let key_id = k
                    .get("key_id")
                    .ok_or("[[signer.key]]: `key_id` is required")?
                    .as_integer()
                    .and_then(|i| u8::try_from(i).ok())
                    .ok_or("[[signer.key]]: `key_id` must be 0..=255")?;
                if keys
                    .iter()
                    .any(|o| o.domain == domain && o.selector == selector)
                {
                    return Err(format!(
                        "[[signer.key]]: {domain}/{selector} is listed twice"
                    ));
                }
                keys.push(DeviceKey {
                    domain,
                    selector,
                    key_id,
                });
            }
        }
        if keys.is_empty() {
            return Err("[signer]: no [[signer.key]]: name the domain, selector and key_id each device key signs for".into());
        }
        Ok(DeviceConfig {
            addr,
            timeout,
            busy_timeout,
            max_body,
            keys,
        })
    }

    /// Every device key for a domain (case-insensitive), in config order.
    pub fn keys_for<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = &'a DeviceKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.domain.eq_ignore_ascii_case(domain.trim_end_matches('.')))
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
        assert_eq!(c.busy_timeout, DEFAULT_BUSY_TIMEOUT);
        assert_eq!(c.max_body, DEFAULT_MAX_BODY);
        let slots: Vec<u8> = c.keys_for("EXAMPLE.com.").map(|k| k.key_id).collect();
        assert_eq!(slots, [1]);
        for bad in [
            "device = \"tcp:x:1\"\nspeed = 3\n[[key]]\ndomain = \"a\"\nselector = \"b\"\nkey_id = 0\n",
            "device = \"tcp:x:1\"\n",
            "device = \"tcp:x:1\"\n[[key]]\ndomain = \"a b\"\nselector = \"s\"\nkey_id = 0\n",
            "device = \"tcp:x:1\"\n[[key]]\ndomain = \"a\"\nselector = \"s\"\nkey_id = 256\n",
            "device = \"tcp:x:1\"\ntimeout = 0\n[[key]]\ndomain = \"a\"\nselector = \"s\"\nkey_id = 0\n",
            "device = \"tcp:x:1\"\n[[key]]\ndomain = \"a\"\nselector = \"s\"\nkey_id = 0\n\
             [[key]]\ndomain = \"A\"\nselector = \"s\"\nkey_id = 1\n",
        ] {
            let t: toml::Table = toml::from_str(bad).unwrap();
            assert!(DeviceConfig::from_table(&t).is_err(), "{bad}");
        }
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
