//! [`AppState`]: everything a handler may use, built once at start-up and
//! shared by every connection (no globals, so tests run servers side by
//! side).

use std::sync::{Arc, OnceLock};

use arc_swap::{ArcSwap, Guard};

use crate::auth::LoginThrottle;
use crate::clock::Clock;
use crate::config::Config;
use crate::config::ConfigSource;
use crate::logging::LogFilter;
use crate::media::msfs::MediaServer;
use crate::media::placeholder::audio_placeholder;
use crate::store::{
    CounterStore, DepartmentStore, DeviceStore, FileStore, GroupStore, MessageStore, Readiness,
    SessionStore, SharedStore, Store, SyncStore, UserStore,
};

/// Where a reload reads from, set once by `serve`.
#[derive(Debug)]
pub struct ReloadSource {
    /// Where the configuration was read at start-up.
    pub(crate) source: ConfigSource,
    /// The log filter a reload updates, when logging is set up.
    pub(crate) log: Option<LogFilter>,
    /// One reload at a time.
    pub(crate) one_at_a_time: tokio::sync::Mutex<()>,
}

impl ReloadSource {
    /// Reloads read `source`; `log` (when logging is set up) takes the new
    /// `log.level`.
    pub fn new(source: ConfigSource, log: Option<LogFilter>) -> Self {
        Self {
            source,
            log,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }
}

/// Live figures of a server for `/status`.
#[derive(Debug)]
pub struct ServerStats {
    /// When the state was built.
    pub started: std::time::Instant,
    open_connections: std::sync::atomic::AtomicU64,
}

impl ServerStats {
    fn new() -> Self {
        Self {
            started: std::time::Instant::now(),
            open_connections: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts a connection that opened.
    pub fn connection_opened(&self) {
        self.open_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts a connection that closed.
    pub fn connection_closed(&self) {
        self.open_connections
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Connections open now.
    pub fn open_connections(&self) -> u64 {
        self.open_connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Shared state of one server instance.
pub struct AppState {
    /// The running configuration; a reload swaps it (see [`crate::reload`]).
    config: ArcSwap<Config>,
    /// Tells the server loop that the configuration was swapped.
    config_changes: tokio::sync::watch::Sender<Arc<Config>>,
    /// Where a reload reads the configuration from; unset in tests that
    /// build the state by hand.
    reload_source: OnceLock<ReloadSource>,
    /// The storage backend chosen at start-up.
    pub store: Arc<dyn Store>,
    /// "Now" for stored times and the throttle.
    pub clock: Clock,
    /// Failed-login lock-out.
    pub throttle: LoginThrottle,
    /// `[语音]` encrypted with `aesKey`: the last-message text of a voice
    /// message.
    pub audio_placeholder: Vec<u8>,
    /// The media file server (voice messages).
    pub media: MediaServer,
    /// Live figures for `/status`.
    pub stats: ServerStats,
}

impl AppState {
    /// Builds the state of a server.
    ///
    /// The configuration must be validated (`aesKey` of 32 bytes); with
    /// any other key the placeholder is empty.
    pub fn new(config: Config, store: Arc<dyn Store>, clock: Clock) -> Arc<Self> {
        let audio_placeholder = audio_placeholder(&config.media.aes_key)
            .map(String::into_bytes)
            .unwrap_or_default();
        let media = MediaServer::new(&config.media.msfs_site);
        let config = Arc::new(config);
        Arc::new(Self {
            stats: ServerStats::new(),
            media,
            config_changes: tokio::sync::watch::Sender::new(config.clone()),
            config: ArcSwap::new(config),
            reload_source: OnceLock::new(),
            store,
            clock,
            throttle: LoginThrottle::default(),
            audio_placeholder,
        })
    }

    /// The running configuration (cheap: no lock, no allocation).
    pub fn config(&self) -> Guard<Arc<Config>> {
        self.config.load()
    }

    /// Swaps in a new configuration and tells the subscribers.
    pub(crate) fn replace_config(&self, config: Config) {
        let config = Arc::new(config);
        self.config.store(config.clone());
        self.config_changes.send_replace(config);
    }

    /// Notified after each [`replace_config`](Self::replace_config).
    pub fn config_changes(&self) -> tokio::sync::watch::Receiver<Arc<Config>> {
        self.config_changes.subscribe()
    }

    /// Enables reloading from `source` (done once, by `serve`); a second
    /// call is ignored.
    pub fn enable_reload(&self, source: ReloadSource) {
        let _ = self.reload_source.set(source);
    }

    /// Where a reload reads from, if reloading is enabled.
    pub(crate) fn reload_source(&self) -> Option<&ReloadSource> {
        self.reload_source.get()
    }
}

/// The store by domain: a handler names the domains it uses
/// (`state.users().users_by_ids(…)`), each a view of the one store.
impl AppState {
    /// Probe, reconfiguration, recovery of pending sends.
    pub fn readiness(&self) -> &dyn Readiness {
        &*self.store
    }

    /// Users and the user-list change gate.
    pub fn users(&self) -> &dyn UserStore {
        &*self.store
    }

    /// Departments.
    pub fn departments(&self) -> &dyn DepartmentStore {
        &*self.store
    }

    /// Recent sessions, relations, last messages.
    pub fn sessions(&self) -> &dyn SessionStore {
        &*self.store
    }

    /// The send, history, messages by id, audio.
    pub fn messages(&self) -> &dyn MessageStore {
        &*self.store
    }

    /// Unread counters, group totals and read marks.
    pub fn counters(&self) -> &dyn CounterStore {
        &*self.store
    }

    /// Groups: membership, push settings.
    pub fn groups(&self) -> &dyn GroupStore {
        &*self.store
    }

    /// The sync center's steps.
    pub fn sync_steps(&self) -> &dyn SyncStore {
        &*self.store
    }

    /// Push device tokens.
    pub fn devices(&self) -> &dyn DeviceStore {
        &*self.store
    }

    /// Offline files.
    pub fn files(&self) -> &dyn FileStore {
        &*self.store
    }

    /// What instances share: login throttle, sync lease.
    pub fn shared(&self) -> &dyn SharedStore {
        &*self.store
    }
}
