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
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use mass_core::link::{
    self, ErrorCode, Event, FrameDecoder, InfoReply, Kind, MAX_FRAME, MAX_PAYLOAD, Provision,
    SEED_LEN, SEQ_UNSOLICITED, SignBegin, SlotInfo, Stats,
};
use mass_core::{SignRequest, SigningAlgorithm};

use crate::keys::KeyError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

/// Why a device call failed.
#[derive(Debug)]
pub enum DeviceError {
    /// Connecting, reading or writing failed.
    Io(std::io::Error),
    /// A connection kept from an earlier call turned out to be closed
    /// before the device answered anything of this call (the other end
    /// hung up while the link was idle). Nothing of the request reached
    /// the device's signer: it is safe to send it again on a new
    /// connection, which the next call opens.
    LinkClosed(std::io::Error),
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
    /// The device speaks another protocol version than this host.
    Version(u8),
    /// The device signed with a slot that its INFO reports empty.
    NoPublicKey(u8),
    /// A seal request the link cannot carry (AAR results over the bound,
    /// names too long).
    SealRequest(link::SealBeginError),
    /// The device's ARC set does not check out under the slot's public key.
    BadSeal(BadSeal),
    /// A DKIM2 hop request the link cannot carry (more recipients, flags
    /// or recipe bytes than it takes, or longer than a frame).
    Dkim2Request(link::Dkim2BeginError),
    /// The device's DKIM2 hop does not check out under the slot's public
    /// key.
    BadHop(BadHop),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Io(e) => write!(f, "signing device I/O: {e}"),
            DeviceError::LinkClosed(e) => {
                write!(f, "signing device link closed while idle: {e}")
            }
            DeviceError::Timeout => f.write_str("signing device did not answer in time"),
            DeviceError::Device(e) => write!(f, "signing device: {e}"),
            DeviceError::Protocol(what) => write!(f, "signing device protocol: {what}"),
            DeviceError::Request(what) => write!(f, "request not sendable to the device: {what}"),
            DeviceError::Busy => f.write_str("signing device busy for longer than busy_timeout"),
            DeviceError::Spool(e) => write!(f, "reading the spooled body: {e}"),
            DeviceError::Version(v) => write!(
                f,
                "signing device speaks link protocol {v}; this host speaks {} (update the firmware or mass)",
                link::PROTOCOL_VERSION
            ),
            DeviceError::NoPublicKey(slot) => write!(
                f,
                "signing device gave no public key for slot {slot}, so its signature cannot be checked"
            ),
            DeviceError::SealRequest(e) => write!(f, "request not sendable to the device: {e}"),
            DeviceError::BadSeal(e) => write!(f, "signing device: {e}"),
            DeviceError::Dkim2Request(e) => write!(f, "request not sendable to the device: {e}"),
            DeviceError::BadHop(e) => write!(f, "signing device: {e}"),
        }
    }
}

impl std::error::Error for DeviceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeviceError::Io(e) | DeviceError::LinkClosed(e) | DeviceError::Spool(e) => Some(e),
            DeviceError::Device(e) => Some(e),
            DeviceError::SealRequest(e) => Some(e),
            DeviceError::BadSeal(e) => Some(e),
            DeviceError::Dkim2Request(e) => Some(e),
            DeviceError::BadHop(e) => Some(e),
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
            DeviceError::Io(_)
                | DeviceError::LinkClosed(_)
                | DeviceError::Timeout
                | DeviceError::Protocol(_)
                // A device or link that returns a bad seal or hop is not
                // trusted further: the next call starts from a fresh INFO.
                | DeviceError::BadSeal(_)
                | DeviceError::BadHop(_)
        )
    }

    /// True for an I/O error that means the other end closed the link
    /// (end of file, reset, broken pipe), as opposed to a stall.
    fn is_hang_up(&self) -> bool {
        use std::io::ErrorKind::*;
        matches!(self, DeviceError::Io(e) if matches!(
            e.kind(),
            UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected
        ))
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
    pub slots: Vec<DeviceSlot>,
}

/// A key slot as INFO reports it (protocol 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSlot {
    /// The key id SIGN-BEGIN names.
    pub key_id: u8,
    /// The key's algorithm, `None` while the slot is empty.
    pub algorithm: Option<SigningAlgorithm>,
    /// Key size in bits.
    pub bits: u16,
    /// The public key as `p=` carries it (SubjectPublicKeyInfo DER for RSA,
    /// 32 bytes for Ed25519); empty for an empty slot.
    pub public_key: Vec<u8>,
}

impl DeviceInfo {
    /// Decode an INFO-REPLY payload; a device that speaks another protocol
    /// version is refused.
    fn decode(payload: &[u8]) -> Result<DeviceInfo, DeviceError> {
        let i = InfoReply::decode(payload).map_err(|_| {
            // The version byte comes first; name it when it is the cause.
            match payload.first() {
                Some(&v) if v != link::PROTOCOL_VERSION => DeviceError::Version(v),
                _ => DeviceError::Protocol("bad INFO-REPLY"),
            }
        })?;
        if i.protocol != link::PROTOCOL_VERSION {
            return Err(DeviceError::Version(i.protocol));
        }
        Ok(DeviceInfo {
            protocol: i.protocol,
            firmware: i.firmware.to_string(),
            board: i.board.to_string(),
            max_payload: i.max_payload,
            header_bytes: i.header_bytes,
            header_fields: i.header_fields,
            slots: i
                .slots
                .iter()
                .map(|s: &SlotInfo<'_>| DeviceSlot {
                    key_id: s.key_id,
                    algorithm: s.algorithm,
                    bits: s.bits,
                    public_key: s.public_key.to_vec(),
                })
                .collect(),
        })
    }

    /// The slot `key_id`, when it holds a key.
    pub fn slot(&self, key_id: u8) -> Option<&DeviceSlot> {
        self.slots
            .iter()
            .find(|s| s.key_id == key_id && s.algorithm.is_some() && !s.public_key.is_empty())
    }
}

/// A signature the device made, with the slot's public key as INFO gave it
/// on the same connection, to check the signature against.
#[derive(Debug, Clone)]
pub struct SignedField {
    /// The whole `DKIM-Signature: ...` field, without the final CRLF.
    pub field: Vec<u8>,
    /// The slot that signed it.
    pub slot: DeviceSlot,
}

/// What a checked session ([`Device::checked_session`]) sends and expects.
struct Exchange<'a> {
    /// The slot that signs.
    key_id: u8,
    /// The BEGIN request's kind.
    begin: Kind,
    /// Its payload.
    payload: &'a [u8],
    /// The kind SIGN-END must answer with, and the protocol error if not.
    answer: (Kind, &'static str),
    /// How the host hashes the body as it streams, to check the answer.
    body_canon: mass_core::Canon,
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
    /// Answers read on this connection, in all.
    answers: u64,
    /// What INFO reported on this connection, last.
    info: Option<DeviceInfo>,
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
            answers: 0,
            info: None,
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
                        self.answers += 1;
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

    /// [`drain_to`](Self::drain_to) while a message streams: on an error
    /// answer (the device dropped the session, say at its BEGIN) every
    /// answer still in flight is read before the error is returned, so
    /// the next call does not find them and take their `NoSession` for
    /// its own.
    async fn settle_to(&mut self, keep: usize) -> Result<(), DeviceError> {
        match self.drain_to(keep).await {
            Err(e @ DeviceError::Device(_)) => match self.drain_to(0).await {
                Err(broken) if broken.breaks_link() => Err(broken),
                _ => Err(e),
            },
            r => r,
        }
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

    /// After a SIGN-BEGIN or SEAL-BEGIN: a HEADER per field, then the body
    /// gathered into BODY frames of `frame` bytes (`tap` sees every body
    /// byte), pipelined; returns once every answer was read. A body read
    /// error ends with [`DeviceError::Spool`], the link still in step.
    async fn stream_message<H, B>(
        &mut self,
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = std::io::Result<B>>,
        frame: usize,
        mut tap: impl FnMut(&[u8]),
    ) -> Result<(), DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        for field in header_fields {
            self.send(Kind::Header, field.as_ref()).await?;
            self.settle_to(PIPELINE).await?;
        }
        let mut pending: Vec<u8> = Vec::with_capacity(frame);
        for chunk in body_chunks {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    // Read the answers so the link stays in step.
                    self.drain_to(0).await?;
                    return Err(DeviceError::Spool(e));
                }
            };
            tap(chunk.as_ref());
            let mut rest = chunk.as_ref();
            while !rest.is_empty() {
                let take = rest.len().min(frame - pending.len());
                pending.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if pending.len() == frame {
                    self.send(Kind::Body, &pending).await?;
                    pending.clear();
                    self.settle_to(PIPELINE).await?;
                }
            }
        }
        if !pending.is_empty() {
            self.send(Kind::Body, &pending).await?;
        }
        self.drain_to(0).await
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

    /// INFO, kept on the connection for checking signatures.
    async fn info(&mut self) -> Result<&DeviceInfo, DeviceError> {
        let (kind, p) = self.request(Kind::Info, &[]).await?;
        if kind != Kind::InfoReply {
            return Err(DeviceError::Protocol("expected INFO-REPLY"));
        }
        Ok(self.info.insert(DeviceInfo::decode(&p)?))
    }

    /// The slot `key_id` as INFO reports it, asking again when the last
    /// answer had no key there (it may have been provisioned since).
    async fn slot(&mut self, key_id: u8) -> Result<DeviceSlot, DeviceError> {
        if let Some(s) = self.info.as_ref().and_then(|i| i.slot(key_id)) {
            return Ok(s.clone());
        }
        self.info()
            .await?
            .slot(key_id)
            .cloned()
            .ok_or(DeviceError::NoPublicKey(key_id))
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

    /// Lock the connection, opening and resynchronizing it if needed; true
    /// when it was opened by this call.
    async fn lock(&self) -> Result<(MutexGuard<'_, Option<Conn>>, bool), DeviceError> {
        // The link carries one signature at a time; a message waits its turn
        // (tokio's mutex is fair), but not forever.
        let mut guard = tokio::time::timeout(self.busy_timeout, self.conn.lock())
            .await
            .map_err(|_| DeviceError::Busy)?;
        let fresh = guard.is_none();
        if fresh {
            let opened = tokio::time::timeout(self.timeout, async {
                let mut c = Conn::open(&self.addr, self.timeout).await?;
                c.resync().await?;
                // The slots' public keys, to check every signature against.
                c.info().await?;
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
        Ok((guard, fresh))
    }

    /// Run `f` on the connection with the deadline; drop the connection if
    /// the link is in doubt afterwards. A kept connection that proves closed
    /// before the device answered anything gives [`DeviceError::LinkClosed`].
    async fn with_conn<T>(
        &self,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, DeviceError>,
    ) -> Result<T, DeviceError> {
        let (mut guard, fresh) = self.lock().await?;
        let Some(conn) = guard.as_mut() else {
            return Err(DeviceError::Protocol("no connection"));
        };
        let answers = conn.answers;
        // Each read and write has the deadline (a 10 MiB body may take long
        // in all, but the device must keep answering).
        let r = match f(conn).await {
            Err(e) if !fresh && conn.answers == answers && e.is_hang_up() => {
                let DeviceError::Io(io) = e else {
                    return Err(e);
                };
                Err(DeviceError::LinkClosed(io))
            }
            r => r,
        };
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
        self.with_conn(async |c| c.info().await.cloned()).await
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
    /// Returns the whole `DKIM-Signature: ...` field without the final CRLF,
    /// and the slot's public key from INFO on the same connection: the
    /// caller checks the signature against it before using it.
    ///
    /// The device signs with the key in slot `key_id`, whatever
    /// `request.algorithm` says.
    pub async fn sign<H, B>(
        &self,
        key_id: u8,
        request: &SignRequest<'_>,
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = B>,
    ) -> Result<SignedField, DeviceError>
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
    ) -> Result<SignedField, DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        let begin = encode_sign_begin(key_id, request)?;
        let frame = self.body_frame.load(Ordering::Relaxed);
        self.with_conn(async |c| {
            c.drain_to(0).await?;
            c.send(Kind::SignBegin, &begin).await?;
            c.stream_message(header_fields, body_chunks, frame, |_| {})
                .await?;
            let (kind, p) = c.request(Kind::SignEnd, &[]).await?;
            if kind != Kind::Signature {
                return Err(DeviceError::Protocol("expected SIGNATURE"));
            }
            let slot = c.slot(key_id).await?;
            Ok(SignedField { field: p, slot })
        })
        .await
    }

    /// One session whose answer is checked before anyone uses it (a seal,
    /// a DKIM2 hop): the BEGIN of `ex`, `header_fields`, the body chunks
    /// (hashed with `ex.body_canon` as they stream, whole), and SIGN-END,
    /// whose answer must be of kind `ex.answer`. `check` gets the answer,
    /// the slot as INFO reported it and the body hash; a check that fails
    /// with an error that breaks the link drops it.
    async fn checked_session<H, B, T>(
        &self,
        ex: Exchange<'_>,
        header_fields: impl IntoIterator<Item = H>,
        body_chunks: impl IntoIterator<Item = std::io::Result<B>>,
        check: impl FnOnce(&[u8], DeviceSlot, &[u8; 32]) -> Result<T, DeviceError>,
    ) -> Result<T, DeviceError>
    where
        H: AsRef<[u8]>,
        B: AsRef<[u8]>,
    {
        let frame = self.body_frame.load(Ordering::Relaxed);
        let mut body = mass_core::canon::body_hash::BodyHasher::new(ex.body_canon, None);
        self.with_conn(async |c| {
            c.drain_to(0).await?;
            c.send(ex.begin, ex.payload).await?;
            c.stream_message(header_fields, body_chunks, frame, |chunk| {
                let _: mass_core::BodyInterest = body.update(chunk);
            })
            .await?;
            let (kind, payload) = c.request(Kind::SignEnd, &[]).await?;
            if kind != ex.answer.0 {
                return Err(DeviceError::Protocol(ex.answer.1));
            }
            let slot = c.slot(ex.key_id).await?;
            check(&payload, slot, &body.clone().finish().digest)
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
pub fn key_from_pem(pem: &str) -> Result<(SigningAlgorithm, Zeroizing<Vec<u8>>), KeyError> {
    use crate::keys::{KeyMaterial, parse_pem};
    use rsa::pkcs8::EncodePrivateKey;
    match parse_pem(pem)? {
        KeyMaterial::Rsa(k) => {
            let der = k.to_pkcs8_der().map_err(|_| KeyError::EncodePrivate)?;
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

mod addr;
mod config;
mod dkim2;
mod seal;
mod serial;

pub use addr::{DeviceAddr, DeviceAddrError};
pub use config::*;
pub use dkim2::{BadHop, Dkim2Hop, hop_needs, split_message};
pub use seal::{BadSeal, SealedArcSet};

#[cfg(test)]
mod tests;
