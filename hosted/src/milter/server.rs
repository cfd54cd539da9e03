//! The tokio side of `mass serve`: sockets, timeouts, caps and signals.
//!
//! - Listens on `inet:HOST:PORT` or `unix:PATH`; TCP sockets get
//!   TCP_NODELAY, and each batch of replies goes out in one write (Nagle
//!   plus delayed ACKs would otherwise stall every reply by ~40 ms).
//! - Every read has a timeout (`read_timeout`, 30 s by default; between
//!   two messages of a negotiated connection `idle_timeout`, also 30 s by
//!   default, which can be raised towards Postfix's `smtpd_timeout`), and a
//!   packet that has started must be complete within that time too, so a
//!   client that trickles bytes (slowloris) is cut off as well as one that
//!   sends three length bytes and falls silent (security cases row 31).
//! - Connections that have not negotiated yet wait in a pool of their own
//!   (`4 * max_connections`); negotiated ones are capped at
//!   `max_connections`. Past either cap new connections are closed at
//!   once, and the running ones go on. Idle sockets cannot crowd out the
//!   MTA: they never negotiate, so they never take a running slot.
//! - SIGTERM (or SIGINT): stop accepting, let messages in flight finish
//!   for up to `drain_timeout`, close idle connections, exit.
//! - SIGHUP: reload the config and keys; a bad reload keeps the old ones
//!   and logs why.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

use super::codec::{CodecError, Command, Decoder, Reply};
use super::session::{Flow, Session};
use super::{Shared, State, StateError};
use crate::config::Listen;

/// The two connection pools.
struct Caps {
    /// Connections that have not finished option negotiation.
    unnegotiated: Arc<Semaphore>,
    /// Negotiated connections (`max_connections`).
    running: Arc<Semaphore>,
}

/// Why `mass serve` could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration or a key.
    State(StateError),
    /// The tokio runtime.
    Runtime(std::io::Error),
    /// The listening socket.
    Listen(Listen, std::io::Error),
    /// A unix socket path taken by something that is not a socket.
    NotASocket(Listen),
    /// A signal handler.
    Signal(&'static str, std::io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::State(e) => e.fmt(f),
            ServeError::Runtime(e) => write!(f, "tokio runtime: {e}"),
            ServeError::Listen(listen, e) => write!(f, "listen {listen}: {e}"),
            ServeError::NotASocket(listen) => {
                write!(f, "listen {listen}: the path exists and is not a socket")
            }
            ServeError::Signal(name, e) => write!(f, "{name}: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<StateError> for ServeError {
    fn from(e: StateError) -> Self {
        ServeError::State(e)
    }
}

/// Why one milter connection ended early (logged; the MTA applies its
/// `milter_default_action`).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionError {
    /// Bytes that are not a milter conversation.
    Protocol(CodecError),
    /// Reading from the MTA failed.
    Read(std::io::Error),
    /// Writing to the MTA failed.
    Write(std::io::Error),
    /// No packet within the timeout.
    Timeout { seconds: f64, in_message: bool },
    /// `max_connections` negotiated connections are running.
    TooManyConnections,
    /// The MTA closed the connection inside a message.
    ClosedInMessage,
    /// The decoder held a whole packet it did not decode (a bug).
    DecoderFull,
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionError::Protocol(e) => write!(f, "protocol error: {e}"),
            ConnectionError::Read(e) => write!(f, "read: {e}"),
            ConnectionError::Write(e) => write!(f, "write: {e}"),
            ConnectionError::Timeout {
                seconds,
                in_message,
            } => write!(
                f,
                "read timeout ({seconds}s){}",
                if *in_message {
                    " in the middle of a message"
                } else {
                    ""
                }
            ),
            ConnectionError::TooManyConnections => {
                f.write_str("max_connections reached; connection refused")
            }
            ConnectionError::ClosedInMessage => {
                f.write_str("the MTA closed the connection in the middle of a message")
            }
            ConnectionError::DecoderFull => {
                f.write_str("internal error: the milter decoder has no room")
            }
        }
    }
}

impl std::error::Error for ConnectionError {}

/// `mass serve --config FILE`: log to stderr (filter in `MASS_LOG`, default
/// `info`), run until SIGTERM, exit 2 on a start-up error.
pub fn main(config_path: &Path) -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MASS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    match run(config_path) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mass serve: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Run the daemon until SIGTERM; builds its own tokio runtime.
pub fn run(config_path: &Path) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mass-serve")
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(serve(config_path.to_path_buf()))
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    async fn bind(listen: &Listen, socket_mode: u32) -> Result<Listener, ServeError> {
        match listen {
            Listen::Inet(addr) => {
                let l = TcpListener::bind(addr.as_str())
                    .await
                    .map_err(|e| ServeError::Listen(listen.clone(), e))?;
                Ok(Listener::Tcp(l))
            }
            Listen::Unix(path) => {
                use std::os::unix::fs::{FileTypeExt, PermissionsExt};
                if let Ok(meta) = std::fs::symlink_metadata(path)
                    && !meta.file_type().is_socket()
                {
                    return Err(ServeError::NotASocket(listen.clone()));
                }
                // Bind beside the final name, set the mode, then rename: the
                // MTA never finds the socket with the wrong mode, and a stale
                // socket from an earlier run is replaced in one step.
                let mut staging = path.as_os_str().to_owned();
                staging.push(format!(".{}.new", std::process::id()));
                let staging = PathBuf::from(staging);
                let _ = std::fs::remove_file(&staging);
                let l = UnixListener::bind(&staging)
                    .map_err(|e| ServeError::Listen(listen.clone(), e))?;
                std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(socket_mode))
                    .and_then(|()| std::fs::rename(&staging, path))
                    .map_err(|e| {
                        let _ = std::fs::remove_file(&staging);
                        ServeError::Listen(listen.clone(), e)
                    })?;
                Ok(Listener::Unix(l, path.clone()))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The daemon's main loop.
pub async fn serve(config_path: PathBuf) -> Result<(), ServeError> {
    let state = State::load(&config_path)?;
    let listen = state.config.listen.clone();
    let max = state.config.max_connections;
    let listener = Listener::bind(&listen, state.config.socket_mode).await?;
    let shared = Arc::new(Shared::new(state));
    announce_device(&shared.current(), None);
    let caps = Caps {
        unnegotiated: Arc::new(Semaphore::new(max.saturating_mul(4))),
        running: Arc::new(Semaphore::new(max)),
    };
    let mut term = signal(SignalKind::terminate()).map_err(|e| ServeError::Signal("SIGTERM", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| ServeError::Signal("SIGINT", e))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| ServeError::Signal("SIGHUP", e))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tracing::info!(
        listen = %listen,
        keys = shared.current().keys.len(),
        max_connections = max,
        "mass serve ready"
    );
    let mut refused: u64 = 0;
    loop {
        let accepted = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                reload(&config_path, &shared, &listen).await;
                continue;
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            a = accept(&listener) => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = caps.unnegotiated.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    peer,
                    refused,
                    "too many connections waiting to negotiate; closing new ones"
                );
            }
            drop(stream);
            continue;
        };
        let running = caps.running.clone();
        let shared = shared.clone();
        let shutdown = shutdown_rx.clone();
        tasks.spawn(async move {
            let result = match stream {
                Stream::Tcp(s) => connection(s, &peer, shared, permit, running, shutdown).await,
                Stream::Unix(s) => connection(s, &peer, shared, permit, running, shutdown).await,
            };
            if let Err(e) = result {
                tracing::warn!(peer, error = %e, "milter connection closed");
            }
        });
    }
    drop(listener);
    let _ = shutdown_tx.send(true);
    let in_flight = tasks.len();
    let drain = shared.current().config.drain_timeout;
    tracing::info!(
        connections = in_flight,
        drain_secs = drain.as_secs_f64(),
        "shutting down"
    );
    let deadline = Instant::now() + drain;
    while !tasks.is_empty() {
        match timeout_at(deadline, tasks.join_next()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(
                    connections = tasks.len(),
                    "drain timeout: closing connections with messages in flight"
                );
                tasks.abort_all();
                break;
            }
        }
    }
    tracing::info!("mass serve stopped");
    Ok(())
}

enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

/// What the connection loop needs from a socket beyond reading and
/// writing.
trait MilterSocket: AsyncRead + AsyncWrite + Unpin {
    /// Called after every read. Postfix does not set TCP_NODELAY on its
    /// milter sockets, and commands that get no reply (macros, and the
    /// `SMFIP_NR_*` ones) would leave its next write waiting for our
    /// delayed ACK (Nagle), about 40 ms. TCP_QUICKACK acks at once; the
    /// kernel drops the flag again after a while, so it is set per read.
    fn after_read(&self) {}
}

impl MilterSocket for tokio::net::TcpStream {
    fn after_read(&self) {
        let _ = socket2::SockRef::from(self).set_tcp_quickack(true);
    }
}

impl MilterSocket for tokio::net::UnixStream {}

async fn accept(listener: &Listener) -> std::io::Result<(Stream, String)> {
    match listener {
        Listener::Tcp(l) => {
            let (s, addr) = l.accept().await?;
            s.set_nodelay(true)?;
            Ok((Stream::Tcp(s), addr.to_string()))
        }
        Listener::Unix(l, path) => {
            let (s, _) = l.accept().await?;
            Ok((Stream::Unix(s), format!("unix:{}", path.display())))
        }
    }
}

/// Check a newly configured signing device in the background.
fn announce_device(state: &State, previous: Option<&State>) {
    let (Some(device), Some(config)) = (&state.device, &state.config.device) else {
        return;
    };
    let kept = previous
        .and_then(|p| p.device.as_ref())
        .is_some_and(|d| Arc::ptr_eq(d, device));
    if !kept || previous.and_then(|p| p.config.device.as_ref()) != Some(config) {
        tokio::spawn(super::device_signing::check_device(
            device.clone(),
            config.clone(),
        ));
    }
}

async fn reload(config_path: &Path, shared: &Shared, listen: &Listen) {
    let path = config_path.to_path_buf();
    let previous = shared.current();
    let loaded = tokio::task::spawn_blocking(move || State::reload(&path, Some(&previous))).await;
    match loaded {
        Ok(Ok(state)) => {
            if &state.config.listen != listen {
                tracing::warn!(
                    old = %listen,
                    new = %state.config.listen,
                    "listen address changes need a restart; keeping the old socket"
                );
            }
            let keys = state.keys.len();
            let previous = shared.current();
            shared.replace(state);
            announce_device(&shared.current(), Some(&previous));
            tracing::info!(keys, "configuration reloaded");
        }
        Ok(Err(why)) => {
            tracing::error!(error = %why, "reload failed; keeping the old configuration and keys")
        }
        Err(e) => tracing::error!(error = %e, "reload failed; keeping the old configuration"),
    }
}

/// While end of message waits on I/O (key lookups, or a signing device
/// that streams a large body over a slow link), tell the MTA every
/// [`PROGRESS_EVERY`] that work goes on (`SMFIR_PROGRESS`): Postfix and
/// Sendmail then restart their timeout instead of giving up on the milter.
async fn finish_with_progress<S: MilterSocket>(
    session: &mut Session,
    out: &mut Vec<u8>,
    stream: &mut S,
) -> Result<(), ConnectionError> {
    let finish = session.finish_message(out);
    tokio::pin!(finish);
    let mut ticks = tokio::time::interval_at(Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let mut progress = Vec::new();
    Reply::Progress.encode(&mut progress);
    loop {
        tokio::select! {
            () = &mut finish => return Ok(()),
            _ = ticks.tick() => stream
                .write_all(&progress)
                .await
                .map_err(ConnectionError::Write)?,
        }
    }
}

/// How often a long end of message reports progress to the MTA.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Serve one milter connection until QUIT, EOF, an error, a timeout or
/// shutdown.
async fn connection<S: MilterSocket>(
    mut stream: S,
    peer: &str,
    shared: Arc<Shared>,
    unnegotiated: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ConnectionError> {
    let (read_timeout, idle_timeout, max_packet) = {
        let s = shared.current();
        (
            s.config.read_timeout,
            s.config.idle_timeout,
            s.config.max_packet,
        )
    };
    let mut waiting_permit = Some(unnegotiated);
    let mut running_permit: Option<OwnedSemaphorePermit> = None;
    let mut decoder = Decoder::new(max_packet);
    let mut session = Session::new(shared, peer.to_string());
    let mut out = Vec::with_capacity(1024);
    let mut packet_started = Instant::now();
    loop {
        loop {
            let command = match decoder.decode() {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => return Err(ConnectionError::Protocol(e)),
            };
            packet_started = Instant::now();
            if running_permit.is_none() && matches!(command, Command::OptNeg { .. }) {
                match running.clone().try_acquire_owned() {
                    Ok(p) => {
                        running_permit = Some(p);
                        waiting_permit = None;
                    }
                    Err(_) => {
                        return Err(ConnectionError::TooManyConnections);
                    }
                }
            }
            let mut flow = session
                .handle(&command, &mut out)
                .map_err(ConnectionError::Protocol)?;
            if flow == Flow::Finish {
                finish_with_progress(&mut session, &mut out, &mut stream).await?;
                flow = Flow::Continue;
            }
            if !out.is_empty() {
                stream
                    .write_all(&out)
                    .await
                    .map_err(ConnectionError::Write)?;
                out.clear();
            }
            if flow == Flow::Close {
                return Ok(());
            }
        }
        let draining = *shutdown.borrow();
        if draining && !session.in_message() && !decoder.in_packet() {
            return Ok(());
        }
        // Inside a packet: the whole packet within read_timeout. Between
        // messages of a negotiated connection (the MTA waits for its SMTP
        // client): idle_timeout. Otherwise each read within read_timeout.
        let between_messages =
            running_permit.is_some() && !session.in_message() && !decoder.in_packet();
        let wait = if between_messages {
            idle_timeout
        } else {
            read_timeout
        };
        let deadline = if decoder.in_packet() {
            packet_started + read_timeout
        } else {
            Instant::now() + wait
        };
        let was_between_packets = !decoder.in_packet();
        // Read straight into the decoder. Its room is empty only while a
        // whole packet waits undecoded, and the loop above decodes them all.
        let room = decoder.spare();
        if room.is_empty() {
            return Err(ConnectionError::DecoderFull);
        }
        let n = tokio::select! {
            r = timeout_at(deadline, stream.read(room)) => match r {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(ConnectionError::Read(e)),
                Err(_) => {
                    return Err(ConnectionError::Timeout {
                        seconds: wait.as_secs_f64(),
                        in_message: session.in_message(),
                    })
                }
            },
            _ = shutdown.changed(), if !draining => continue,
        };
        if n == 0 {
            if decoder.in_packet() || session.in_message() {
                return Err(ConnectionError::ClosedInMessage);
            }
            return Ok(());
        }
        stream.after_read();
        if was_between_packets {
            packet_started = Instant::now();
        }
        decoder.commit(n);
        let _ = &waiting_permit;
    }
}
