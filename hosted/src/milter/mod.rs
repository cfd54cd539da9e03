//! `mass serve`: the milter daemon.
//!
//! ```text
//! socket ─► server (tokio: accept, timeouts, caps, signals)
//!             └─► codec::Decoder ─► session::Session ─► signing / verifying ─► core
//!                                          └─► codec::Reply bytes ─► one write
//! ```

mod arc;
mod batv;
pub mod codec;
pub mod device_signing;
pub mod dkim2;
mod headers;
pub mod server;
mod session;
mod signing;
mod verifying;

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::SigningKey;

/// A loaded configuration with its keys: what one message is handled with.
#[derive(Debug)]
pub struct State {
    /// The configuration.
    pub config: Config,
    /// Every `[[key]]`, loaded.
    pub keys: Vec<Arc<SigningKey>>,
    /// Where verify mode fetches key records.
    pub key_source: Arc<KeySources>,
    /// The signing device of `[signer]`, if any.
    pub device: Option<Arc<crate::device::Device>>,
    /// The `[arc]` sealing key, when sealing is on.
    pub arc_key: Option<Arc<SigningKey>>,
}

/// Where key records come from: DNS, or a zone file (`key_zone_file`, for
/// tests and closed networks).
#[derive(Debug)]
pub enum KeySources {
    /// The system resolver.
    Dns(Box<crate::dns::DnsKeySource>),
    /// A zone file read at start and on SIGHUP.
    Zone(crate::dns::ZoneKeySource),
}

impl crate::dns::KeySource for KeySources {
    async fn txt_records(
        &self,
        name: &str,
    ) -> Result<Vec<crate::dns::TxtRecord>, crate::dns::LookupError> {
        match self {
            KeySources::Dns(d) => d.txt_records(name).await,
            KeySources::Zone(z) => z.txt_records(name).await,
        }
    }
}

/// Why a configuration cannot be loaded (at start, or on SIGHUP).
#[derive(Debug)]
#[non_exhaustive]
pub enum StateError {
    /// The config file itself.
    Config(crate::config::ConfigError),
    /// A `[[key]]` file.
    Key(crate::keys::KeyError),
    /// `key_zone_file`.
    Zone(std::path::PathBuf, crate::dns::ZoneReadError),
    /// The DNS resolver could not be set up.
    Resolver(String),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Config(e) => e.fmt(f),
            StateError::Key(e) => e.fmt(f),
            StateError::Zone(path, e) => write!(f, "key_zone_file {}: {e}", path.display()),
            StateError::Resolver(e) => write!(f, "DNS resolver: {e}"),
        }
    }
}

impl std::error::Error for StateError {}

/// One finished signature, ready for `SMFIR_INSHEADER`.
#[derive(Debug)]
pub struct Signature {
    /// `DKIM-Signature` or `DomainKey-Signature`.
    pub name: &'static str,
    /// `domain/selector(algorithm)`, for logs.
    pub label: String,
    /// The DKIM-Signature value after the colon, folded with LF + tab
    /// (the MTA writes its own line ends).
    pub value: String,
}

impl State {
    /// Read the config file and every key it names. Errors name the line or
    /// the file.
    pub fn load(path: &Path) -> Result<State, StateError> {
        State::reload(path, None)
    }

    /// [`State::load`], keeping `previous`'s signing device (and its open
    /// link) when `[signer]` still names the same one: a device link such
    /// as QEMU's UART socket serves one connection at a time.
    pub fn reload(path: &Path, previous: Option<&State>) -> Result<State, StateError> {
        let config = Config::load(path).map_err(StateError::Config)?;
        let mut keys = Vec::new();
        for k in &config.keys {
            let material = crate::keys::load_key(&k.file).map_err(StateError::Key)?;
            let key =
                SigningKey::new(k.domain.clone(), k.selector.clone(), material).map_err(|e| {
                    StateError::Key(crate::keys::KeyError::File(k.file.clone(), Box::new(e)))
                })?;
            keys.push(Arc::new(key));
        }
        let key_source = match &config.key_zone_file {
            Some(zone) => KeySources::Zone(
                crate::dns::ZoneKeySource::read(zone)
                    .map_err(|e| StateError::Zone(zone.clone(), e))?,
            ),
            None => KeySources::Dns(Box::new(
                match config.dns_server {
                    Some(server) => {
                        crate::dns::DnsKeySource::with_server(server, config.dns_timeout)
                    }
                    None => crate::dns::DnsKeySource::system(config.dns_timeout),
                }
                .map_err(|e| StateError::Resolver(e.to_string()))?,
            )),
        };
        let arc_key = match config.arc.as_ref().filter(|a| a.seal) {
            Some(a) => {
                let material = crate::keys::load_key(&a.file).map_err(StateError::Key)?;
                let key = SigningKey::new(a.domain.clone(), a.selector.clone(), material).map_err(
                    |e| StateError::Key(crate::keys::KeyError::File(a.file.clone(), Box::new(e))),
                )?;
                Some(Arc::new(key))
            }
            None => None,
        };
        let device = config.device.as_ref().map(|dc| {
            previous
                .and_then(|p| p.device.clone())
                .filter(|d| d.matches(dc))
                .unwrap_or_else(|| Arc::new(crate::device::Device::from_config(dc)))
        });
        Ok(State {
            config,
            keys,
            key_source: Arc::new(key_source),
            device,
            arc_key,
        })
    }
}

/// What every connection shares: the current state, swapped on SIGHUP,
/// and the clock each message reads once when it starts (its `now` for
/// `t=`, `x=`, the verifier and BATV).
#[derive(Debug)]
pub struct Shared {
    state: RwLock<Arc<State>>,
    clock: Clock,
    /// Arrivals kept for DKIM2 recipes (`[dkim2] record_changes`); kept
    /// across reloads.
    arrivals: dkim2::Arrivals,
}

impl Shared {
    /// Shared state starting from `state`, on the system clock.
    pub fn new(state: State) -> Self {
        Shared::with_clock(state, Clock::System)
    }

    /// Shared state starting from `state`, on `clock` (tests pin the time).
    pub fn with_clock(state: State, clock: Clock) -> Self {
        Shared {
            state: RwLock::new(Arc::new(state)),
            clock,
            arrivals: dkim2::Arrivals::default(),
        }
    }

    /// The arrivals kept for DKIM2 recipes.
    pub fn arrivals(&self) -> &dkim2::Arrivals {
        &self.arrivals
    }

    /// The clock messages read.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The state new messages use. A message keeps the state it started
    /// with, so a reload never changes keys in the middle of a message.
    pub fn current(&self) -> Arc<State> {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Use `state` for messages from now on.
    pub fn replace(&self, state: State) {
        let state = Arc::new(state);
        match self.state.write() {
            Ok(mut s) => *s = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }
}
