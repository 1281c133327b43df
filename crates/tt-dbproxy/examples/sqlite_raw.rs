//! SQLite alone on this disk, the raw baseline of the embedded send
//! figures: one connection (SQLite has one writer) inserting rows shaped
//! like `IMMessage_<n>` for a few seconds, ROWS rows per transaction, in
//! WAL mode with the given `synchronous` setting. Prints rows/s.
//!
//! ```text
//! cargo run --release --example sqlite_raw -- DIR full 16 5
//! ```

use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or("/tmp/sqlite-raw", String::as_str));
    let sync = args.get(2).map_or("full", String::as_str).to_string();
    let rows: usize = args.get(3).map_or(Ok(16), |s| s.parse())?;
    let secs: u64 = args.get(4).map_or(Ok(5), |s| s.parse())?;
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("raw-{sync}-{rows}.sqlite3"));
    let _ = std::fs::remove_file(&path);
    let mut c = rusqlite::Connection::open(&path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", &sync)?;
    c.execute_batch(
        "CREATE TABLE IMMessage_0 (id INTEGER PRIMARY KEY AUTOINCREMENT, relateId INTEGER NOT NULL, \
         fromId INTEGER NOT NULL, toId INTEGER NOT NULL, msgId INTEGER NOT NULL, content TEXT NOT NULL, \
         type INTEGER NOT NULL, status INTEGER NOT NULL, updated INTEGER NOT NULL, created INTEGER NOT NULL); \
         CREATE INDEX idx_relateId_status_created ON IMMessage_0 (relateId, status, created); \
         CREATE UNIQUE INDEX idx_relateId_msgId ON IMMessage_0 (relateId, msgId);",
    )?;
    let (start, mut n, mut next) = (Instant::now(), 0u64, 1u32);
    while start.elapsed() < Duration::from_secs(secs) {
        let tx = c.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO IMMessage_0 (relateId, fromId, toId, msgId, content, type, status, updated, created) \
                 VALUES (?1, 1, 2, ?2, 'bench message', 1, 0, 0, 0)",
            )?;
            for _ in 0..rows {
                stmt.execute(rusqlite::params![next % 16, next])?;
                next += 1;
            }
        }
        tx.commit()?;
        n += rows as u64;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("sqlite synchronous={sync} rows_per_txn={rows}: {rate:.0} rows/s");
    Ok(())
}
