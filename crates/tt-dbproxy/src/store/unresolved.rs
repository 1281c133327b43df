//! Sends whose commit outcome is unknown: the connection failed, or the
//! request's deadline passed, while the message's transaction committed.
//! Such a send was answered "not stored" (`msg_id 0`), so the client will
//! resend it; if the commit did land, the row must never become readable.
//!
//! Each one is recorded here, durably (a small file in the data directory,
//! synced before the reply goes out), and settled once the database
//! answers again: its row, if any, is deleted before any message read is
//! served. No counter was raised for it (counters follow a known commit
//! only).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{StoreError, StoreResult};

/// File name of the journal inside the data directory.
pub const FILE_NAME: &str = "unresolved-sends";

/// One message whose commit may or may not have happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unresolved {
    /// A group message (else one-to-one).
    pub group: bool,
    /// The relation id (one-to-one) or the group id.
    pub conversation: u32,
    /// The message id it was given.
    pub msg_id: u32,
}

impl Unresolved {
    fn line(&self) -> String {
        let kind = if self.group { "group" } else { "single" };
        format!("{kind} {} {}\n", self.conversation, self.msg_id)
    }

    fn parse(line: &str) -> Option<Self> {
        let mut parts = line.split_whitespace();
        let group = match parts.next()? {
            "group" => true,
            "single" => false,
            _ => return None,
        };
        let conversation = parts.next()?.parse().ok()?;
        let msg_id = parts.next()?.parse().ok()?;
        Some(Self {
            group,
            conversation,
            msg_id,
        })
    }
}

/// The journal of unresolved sends, loaded at start-up.
pub struct Journal {
    path: PathBuf,
    pending: Mutex<Vec<Unresolved>>,
    /// Whether `pending` may be non-empty: the hot path's only cost.
    any: AtomicBool,
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("unresolved-sends journal {}: {e}", path.display()))
}

impl Journal {
    /// Opens the journal in `data_dir` (none yet is an empty journal); an
    /// unreadable line is logged and skipped.
    pub fn open(data_dir: &Path) -> Self {
        let path = data_dir.join(FILE_NAME);
        let pending: Vec<Unresolved> = std::fs::read_to_string(&path)
            .map(|text| {
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .filter_map(|l| {
                        let parsed = Unresolved::parse(l);
                        if parsed.is_none() {
                            tracing::warn!(line = l, path = %path.display(), "unreadable line in the unresolved-sends journal; skipped");
                        }
                        parsed
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !pending.is_empty() {
            tracing::warn!(
                count = pending.len(),
                "sends with an unknown commit outcome are settled before messages are read"
            );
        }
        Self {
            any: AtomicBool::new(!pending.is_empty()),
            pending: Mutex::new(pending),
            path,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Unresolved>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether anything waits to be settled.
    pub fn has_pending(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// What waits to be settled.
    pub fn pending(&self) -> Vec<Unresolved> {
        self.lock().clone()
    }

    /// Records `u` and syncs the file before returning.
    pub async fn record(&self, u: Unresolved) -> StoreResult<()> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io_error(&path, e))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io_error(&path, e))?;
            f.write_all(u.line().as_bytes())
                .and_then(|()| f.sync_data())
                .map_err(|e| io_error(&path, e))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("journal task failed: {e}")))??;
        self.lock().push(u);
        self.any.store(true, Ordering::Release);
        Ok(())
    }

    /// Forgets the settled ones and rewrites the file (atomically).
    pub async fn settled(&self, done: &[Unresolved]) -> StoreResult<()> {
        let left: Vec<Unresolved> = {
            let mut p = self.lock();
            p.retain(|u| !done.contains(u));
            p.clone()
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let tmp = path.with_extension("tmp");
            let text: String = left.iter().map(Unresolved::line).collect();
            std::fs::write(&tmp, text)
                .and_then(|()| std::fs::File::open(&tmp).and_then(|f| f.sync_all()))
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| io_error(&path, e))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("journal task failed: {e}")))??;
        let empty = self.lock().is_empty();
        self.any.store(!empty, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_survive_a_restart_until_settled() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path());
        assert!(!j.has_pending());
        let a = Unresolved {
            group: false,
            conversation: 7,
            msg_id: 42,
        };
        let b = Unresolved {
            group: true,
            conversation: 3,
            msg_id: 9,
        };
        j.record(a).await.unwrap();
        j.record(b).await.unwrap();
        let again = Journal::open(dir.path());
        assert!(again.has_pending());
        assert_eq!(again.pending(), vec![a, b]);
        again.settled(&[a]).await.unwrap();
        assert_eq!(Journal::open(dir.path()).pending(), vec![b]);
        again.settled(&[b]).await.unwrap();
        assert!(!again.has_pending());
        assert!(Journal::open(dir.path()).pending().is_empty());
        std::fs::write(dir.path().join(FILE_NAME), "single 1 2\nnonsense\n").unwrap();
        assert_eq!(Journal::open(dir.path()).pending().len(), 1);
    }
}
