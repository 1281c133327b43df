//! The embedded backend: one SQLite file in WAL mode.
//!
//! One writer connection on a thread of its own that runs writes in turn
//! (SQLite allows one writer at a time anyway) and a few reader
//! connections whose calls run on tokio's blocking pool, so the async
//! runtime never waits on disk; the exception is the short keyed reads of
//! an unread summary, which run in place while a reader is free (the
//! hand-off to the pool costs more than they do).

pub mod backup;
mod bounded;
mod console;
mod counter;
mod depart;
mod device;
mod error;
mod export;
mod file;
mod group;
mod held;
mod message;
mod recent;
mod schema;
mod send;
mod send_cache;
mod session;
mod sync;
mod user;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use super::{StoreError, StoreResult};
use crate::config::SyncMode;
use crate::store::Readiness;
use crate::store::SharedStore;
use async_trait::async_trait;
use error::{is_busy, map_err};
use send_cache::SendState;
pub use send_cache::{SEND_CACHE_ENTRIES, SendCacheStats};

/// File name of the database inside the data directory.
pub const DB_FILE_NAME: &str = "tt-dbproxy.sqlite3";

/// Number of read-only connections.
const READERS: usize = 4;

/// Prepared statements kept per connection: every statement text the
/// handlers use (per-shard message tables included) fits, so none is
/// parsed again (rusqlite keeps 16 by default).
const STATEMENT_CACHE: usize = 256;

/// Most keyed lookups one read may make in place (see
/// `SqliteStore::read_quick`).
const QUICK_LOOKUPS: usize = 16;

/// How long a statement waits for another process's write lock (`admin`
/// writing while the server runs) before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

struct Inner {
    path: PathBuf,
    writer: writer::Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// The embedded store; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    /// Shadow mode: every write refused, reads answered from what is there.
    read_only: bool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock cannot leave the connection in a
    // state SQLite does not recover from (an open transaction is rolled
    // back when the next one begins), so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether SQLite refused because another connection holds a lock.
/// Why a read-only (shadow) store refuses a write.
const READ_ONLY: &str = "read-only store (shadow): write skipped";

/// How the embedded store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// When commits reach the disk (`storage.sync`).
    pub sync: SyncMode,
    /// Most writes per group commit (`storage.batch_max`).
    pub batch_max: usize,
    /// Entries the writer's memory of sends keeps per map (pairs, groups,
    /// senders' group sessions): [`SEND_CACHE_ENTRIES`] by default.
    pub send_cache: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        let storage = crate::config::StorageConfig::default();
        Self {
            sync: storage.sync,
            batch_max: storage.batch_max,
            send_cache: SEND_CACHE_ENTRIES,
        }
    }
}

impl SqliteOptions {
    /// The options `config` asks for.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            sync: config.storage.sync,
            batch_max: config.storage.batch_max,
            send_cache: config.storage.send_cache_entries,
        }
    }
}

fn configure(conn: &Connection, sync: SyncMode) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Plans never depend on bound values, so a cached statement is not
    // recompiled each time a parameter changes (without this, `x = ?1 ...
    // ORDER BY` statements were re-prepared on every execution).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    Ok(())
}

/// Runs `f` on the next reader connection (on the blocking pool). Never
/// inlined, so the instruction-count benchmark (`benches/hot_path.rs`) can
/// find it.
#[inline(never)]
fn on_reader<T>(
    inner: &Inner,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
    f(&lock(&inner.readers[i]))
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and migrates
    /// it, with the default options (every commit synced).
    pub async fn open(data_dir: &Path) -> StoreResult<Self> {
        Self::open_with(data_dir, SqliteOptions::default()).await
    }

    /// Opens (creating if needed) the database in `data_dir` with
    /// `options` and migrates it.
    pub async fn open_with(data_dir: &Path, options: SqliteOptions) -> StoreResult<Self> {
        let dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir, options))
            .await
            .map_err(|e| StoreError::Unavailable(format!("open task failed: {e}")))?
    }

    fn open_blocking(data_dir: &Path, options: SqliteOptions) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path = data_dir.join(DB_FILE_NAME);
        let mut writer = Connection::open(&path).map_err(map_err)?;
        configure(&writer, options.sync).map_err(map_err)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(map_err)?;
        schema::migrate(&mut writer).map_err(map_err)?;
        let readers = (0..READERS)
            .map(|_| {
                let c = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c, options.sync)?;
                Ok(Mutex::new(c))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(map_err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: writer::Writer::start(writer, options.batch_max, options.send_cache)?,
                readers,
                next_reader: AtomicUsize::new(0),
            }),
            read_only: false,
        })
    }

    /// The same store refusing every write (`shadow`): a read never
    /// changes a table.
    pub fn into_read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// SQLite's `synchronous` setting of every connection (writer first),
    /// as the connections report it: 2 is FULL, 1 NORMAL. For tests and
    /// diagnostics.
    pub async fn synchronous(&self) -> StoreResult<Vec<i64>> {
        const SQL: &str = "PRAGMA synchronous";
        let mut out = vec![self.write(|c| c.query_row(SQL, [], |r| r.get(0))).await?];
        for reader in &self.inner.readers {
            out.push(
                lock(reader)
                    .query_row(SQL, [], |r| r.get(0))
                    .map_err(map_err)?,
            );
        }
        Ok(out)
    }

    /// How many entries the writer's memory of sends holds (read on the
    /// writer thread, after the writes queued before). For tests and
    /// diagnostics.
    pub async fn send_cache_stats(&self) -> StoreResult<SendCacheStats> {
        self.inner
            .writer
            .run_send(|_, state| Ok(state.stats()))
            .await
    }

    /// Applies the reloadable settings (`storage.batch_max`).
    pub(crate) fn apply(&self, config: &crate::config::Config) {
        self.inner.writer.set_batch_max(config.storage.batch_max);
    }

    /// Runs `f` on a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let task = tokio::task::spawn_blocking(move || on_reader(&inner, f));
        // Past the request's deadline the read is left to finish on its
        // own (it changes nothing) and the request is answered. Outside a
        // request a local read just runs.
        let joined = match crate::deadline::current() {
            Some(end) => tokio::time::timeout_at(end, task)
                .await
                .map_err(|_| crate::deadline::expired("a read"))?,
            None => task.await,
        };
        joined
            .map_err(|e| StoreError::Unavailable(format!("storage task failed: {e}")))?
            .map_err(map_err)
    }

    /// Runs a short indexed read (a few rows by key) on the calling
    /// thread when a reader is free, saving the hand-off to the blocking
    /// pool and back, which costs more than such a read; otherwise as
    /// [`Self::read`]. Only for reads bounded by a key; `lookups` is the
    /// number of keyed lookups `f` makes, and more than [`QUICK_LOOKUPS`]
    /// go to the blocking pool.
    ///
    /// In place it never waits for a lock: if SQLite reports the database
    /// busy (a checkpoint restarting the WAL, another process's recovery)
    /// the read is retried on the blocking pool, where it may wait up to
    /// the busy timeout without holding up the async runtime.
    async fn read_quick<T, F>(&self, lookups: usize, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if lookups > QUICK_LOOKUPS {
            return self.read(f).await;
        }
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.inner.readers.len();
        for i in 0..n {
            if let Ok(conn) = self.inner.readers[(start + i) % n].try_lock() {
                conn.busy_timeout(std::time::Duration::ZERO)
                    .map_err(map_err)?;
                let result = f(&conn);
                conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
                match result {
                    Err(e) if is_busy(&e) => break,
                    other => return other.map_err(map_err),
                }
            }
        }
        self.read(f).await
    }

    /// Runs `f` on the writer connection, on its thread, atomically (see
    /// `Writer::run`).
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if self.read_only {
            return Err(StoreError::Unavailable(READ_ONLY.into()));
        }
        self.inner.writer.run(f).await
    }

    /// As [`Self::write`], for a write that leaves the writer's memory of
    /// sends right (see `Writer::run_keeping`).
    async fn write_keeping<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if self.read_only {
            return Err(StoreError::Unavailable(READ_ONLY.into()));
        }
        self.inner.writer.run_keeping(f).await
    }

    /// As [`Self::write`], for a write that may change a session's status
    /// or time (see `Writer::run_on_sessions`).
    async fn write_on_sessions<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        if self.read_only {
            return Err(StoreError::Unavailable(READ_ONLY.into()));
        }
        self.inner.writer.run_on_sessions(f).await
    }

    /// As [`Self::write`], for a send (see `Writer::run_send`).
    async fn write_send<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Connection, &mut SendState<'c>) -> rusqlite::Result<T>
            + Send
            + 'static,
    {
        if self.read_only {
            return Err(StoreError::Unavailable(READ_ONLY.into()));
        }
        self.inner.writer.run_send(f).await
    }
}

#[async_trait]
impl Readiness for SqliteStore {
    async fn ready(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn reconfigure(&self, config: &crate::config::Config) -> StoreResult<()> {
        self.apply(config);
        Ok(())
    }
}

impl SharedStore for SqliteStore {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MESSAGE_SHARDS, MessageStore, NewMessage};

    /// A send refused inside a batch (after another job of it, so only
    /// its savepoint is rolled back) leaves no memory of its id: its
    /// resend is refused again, not answered with an id that has no row.
    #[tokio::test]
    async fn a_send_refused_inside_a_batch_is_not_remembered_for_resends() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store
            .write(|c| {
                (0..MESSAGE_SHARDS).try_for_each(|n| {
                    c.execute_batch(&format!(
                        "CREATE TRIGGER refuse_{n} BEFORE INSERT ON IMMessage_{n} \
                         WHEN NEW.content = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END;"
                    ))
                })
            })
            .await
            .unwrap();
        let msg = |from: u32, data: &str| NewMessage {
            from_id: from,
            to_id: from + 100,
            group: false,
            msg_type: 1,
            content: data.into(),
            created: 1000,
            resend: crate::store::resend::key(7, data.as_bytes(), 120),
        };
        // Held for a moment, the writer takes the three as one batch.
        let hold = store.inner.writer.run(|_| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok(())
        });
        let (held, good, refused) = tokio::join!(
            hold,
            store.store_message(msg(1, "good"), 1000),
            store.store_message(msg(2, "poison"), 1000),
        );
        assert!(held.is_ok() && good.is_ok(), "{held:?} {good:?}");
        assert!(refused.is_err(), "{refused:?}");
        let resent = store.store_message(msg(2, "poison"), 1001).await;
        assert!(resent.is_err(), "a resend of a refused send: {resent:?}");
        let stored = store.single_history(2, 102, 0, 10).await.unwrap();
        assert!(stored.is_empty(), "{stored:?}");
    }

    /// A cached statement of the shape the unread summary uses (`x = ?1`
    /// and an ORDER BY) runs again with new values without being compiled
    /// again.
    #[test]
    fn cached_statements_are_not_recompiled_per_binding() {
        let c = Connection::open_in_memory().unwrap();
        configure(&c, SyncMode::Full).unwrap();
        c.execute_batch(
            "CREATE TABLE t (a INTEGER NOT NULL, b INTEGER NOT NULL, n INTEGER NOT NULL, \
             PRIMARY KEY (a, b)); INSERT INTO t VALUES (1, 2, 3), (2, 3, 4);",
        )
        .unwrap();
        let sql = "SELECT b, n FROM t WHERE a = ?1 AND n > 0 ORDER BY b";
        let mut found = Vec::new();
        for a in 1..=3u32 {
            let mut stmt = c.prepare_cached(sql).unwrap();
            let rows: Vec<u32> = stmt
                .query_map([a], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            found.push(rows);
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "binding {a}"
            );
        }
        assert_eq!(found, vec![vec![2], vec![3], vec![]]);
    }
}
