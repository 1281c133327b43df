//! Online backup and restore of the embedded store. A backup is a
//! consistent snapshot taken while the server serves: `VACUUM INTO` runs in
//! one read transaction of its own connection, so it sees exactly the
//! commits made before it began (every acknowledged write up to then) and
//! never blocks the writer. The file is checked and synced before the
//! backup is reported done. A restore puts a checked backup in place of a
//! data directory's database, never over an existing one.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{DB_FILE_NAME, map_err};
use crate::store::{StoreError, StoreResult};

/// What a backup or restore wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Messages in it (one-to-one and group).
    pub messages: u64,
}

fn unavailable(what: &str, path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("{what} {}: {e}", path.display()))
}

/// Whether SQLite finds `conn`'s database intact.
fn check(conn: &Connection, path: &Path) -> StoreResult<()> {
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(map_err)?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(StoreError::InvalidData(format!(
            "{} fails SQLite's check: {verdict}",
            path.display()
        )))
    }
}

fn count_messages(conn: &Connection) -> StoreResult<u64> {
    let mut total = 0u64;
    for shard in 0..crate::store::MESSAGE_SHARDS {
        for table in ["IMMessage", "IMGroupMessage"] {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}_{shard}"), [], |r| {
                    r.get(0)
                })
                .map_err(map_err)?;
            total += u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(total)
}

fn sync_file(path: &Path) -> StoreResult<u64> {
    let f = std::fs::File::open(path).map_err(|e| unavailable("cannot open", path, e))?;
    f.sync_all()
        .map_err(|e| unavailable("cannot sync", path, e))?;
    let len = f
        .metadata()
        .map_err(|e| unavailable("cannot stat", path, e))?
        .len();
    // The directory entry too, so the new file survives a power cut.
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
    Ok(len)
}

/// Writes a consistent snapshot of the store in `data_dir` to `to`, which
/// must not exist. Works while a server (or `admin`) uses the store.
pub fn backup(data_dir: &Path, to: &Path) -> StoreResult<BackupReport> {
    let db = data_dir.join(DB_FILE_NAME);
    if !db.is_file() {
        return Err(StoreError::Unavailable(format!(
            "no embedded store at {}",
            db.display()
        )));
    }
    if to.exists() {
        return Err(StoreError::Unavailable(format!(
            "{} already exists; a backup never overwrites a file",
            to.display()
        )));
    }
    // Written under a temporary name and renamed once checked and
    // synced: a failed backup leaves no file that looks like a backup.
    let partial = PathBuf::from(format!("{}.partial", to.display()));
    let _ = std::fs::remove_file(&partial);
    let written = write_checked(&db, &partial);
    let report = written.and_then(|messages| {
        std::fs::rename(&partial, to).map_err(|e| unavailable("cannot rename to", to, e))?;
        let bytes = sync_file(to)?;
        Ok(BackupReport {
            path: to.to_path_buf(),
            bytes,
            messages,
        })
    });
    if report.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    report
}

/// `VACUUM INTO` `partial`, checked and synced; returns its message count.
fn write_checked(db: &Path, partial: &Path) -> StoreResult<u64> {
    let target = partial
        .to_str()
        .ok_or_else(|| StoreError::Unavailable(format!("{} is not UTF-8", partial.display())))?;
    let conn =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(map_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(map_err)?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(map_err)?;
    drop(conn);
    let copy =
        Connection::open_with_flags(partial, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(map_err)?;
    check(&copy, partial)?;
    let messages = count_messages(&copy)?;
    drop(copy);
    sync_file(partial)?;
    Ok(messages)
}

/// Installs the backup `from` as the database of `data_dir` (created if
/// missing), refusing when that directory already holds one. The server
/// must not be running on `data_dir`.
pub fn restore(from: &Path, data_dir: &Path) -> StoreResult<BackupReport> {
    let db = data_dir.join(DB_FILE_NAME);
    for existing in [db.clone(), data_dir.join(format!("{DB_FILE_NAME}-wal"))] {
        if existing.exists() {
            return Err(StoreError::Unavailable(format!(
                "{} already exists; restore into an empty data directory (move the old one away first)",
                existing.display()
            )));
        }
    }
    let source =
        Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(map_err)?;
    check(&source, from)?;
    let messages = count_messages(&source)?;
    drop(source);
    std::fs::create_dir_all(data_dir).map_err(|e| unavailable("cannot create", data_dir, e))?;
    let partial = data_dir.join(format!("{DB_FILE_NAME}.restoring"));
    std::fs::copy(from, &partial).map_err(|e| unavailable("cannot copy to", &partial, e))?;
    sync_file(&partial)?;
    std::fs::rename(&partial, &db).map_err(|e| unavailable("cannot rename to", &db, e))?;
    let bytes = sync_file(&db)?;
    Ok(BackupReport {
        path: db,
        bytes,
        messages,
    })
}
