//! `tt-dbproxy copy`: moves a whole deployment between backends (the
//! embedded store and MySQL + Redis, either way), keeping every id, and
//! checks afterwards that both answer the same ([`verify`]).
//!
//! Rows go table by table in pages by id; then the state the original
//! keeps in Redis (unread counters, group totals and read marks, push
//! settings, device tokens, message-id counters, the user-list gate and
//! the sync cursor). Nobody should write to either side meanwhile: the
//! copy reads pages one after another, not one snapshot.

pub mod verify;

use std::time::Instant;

use crate::store::StoreError;
use crate::store::export::{Cell, Portable, Row, Table, tables};

/// Rows read (and written) per step.
pub const PAGE_ROWS: usize = 1_000;

/// Why a copy did not run or stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target holds data and overwriting was not asked for.
    #[error("the target already holds data ({0}); use --overwrite to copy over it")]
    TargetNotEmpty(String),
    /// A backend failed.
    #[error("{side}: {source}")]
    Store {
        /// `source` or `target` and what was being done.
        side: String,
        /// The failure.
        source: StoreError,
    },
}

fn on(side: &str, what: &str) -> impl FnOnce(StoreError) -> CopyError {
    let side = format!("{side} ({what})");
    move |source| CopyError::Store { side, source }
}

/// What was copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Rows per table, in copy order (tables without rows included).
    pub tables: Vec<(String, u64)>,
    /// State items written.
    pub state_items: usize,
}

impl CopyReport {
    /// Rows over every table.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// A row's `id` (its first column).
fn row_id(row: &Row) -> Option<i64> {
    match row.first() {
        Some(Cell::Int(id)) => Some(*id),
        _ => None,
    }
}

/// The rows of one table in pages of [`PAGE_ROWS`], in id order.
pub(crate) struct Pages<'a> {
    store: &'a dyn Portable,
    table: &'a Table,
    /// Where the next page starts; `None` once the last one was read.
    after: Option<i64>,
    /// Pages read so far.
    read: u64,
}

impl<'a> Pages<'a> {
    pub(crate) fn new(store: &'a dyn Portable, table: &'a Table) -> Self {
        Self {
            store,
            table,
            after: Some(i64::MIN),
            read: 0,
        }
    }

    /// The next page, `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<Row>>, StoreError> {
        let Some(after) = self.after else {
            return Ok(None);
        };
        let rows = self.store.read_rows(self.table, after, PAGE_ROWS).await?;
        // A short page is the last; a full one goes on after its last id.
        self.after = (rows.len() == PAGE_ROWS)
            .then(|| rows.last().and_then(row_id))
            .flatten();
        if rows.is_empty() {
            return Ok(None);
        }
        self.read += 1;
        Ok(Some(rows))
    }
}

/// What a store holds that a copy would land on: the first table with a
/// row, or the state; `None` when it is empty.
pub async fn holds_data(store: &dyn Portable) -> Result<Option<String>, StoreError> {
    for table in tables() {
        if !store.read_rows(&table, i64::MIN, 1).await?.is_empty() {
            return Ok(Some(format!("{} has rows", table.name)));
        }
    }
    let state = store.read_state().await?;
    Ok((!state.is_empty()).then(|| format!("{} counter or setting entries", state.len())))
}

/// Copies everything from `from` to `to`. Without `overwrite` a target
/// that holds data is refused before anything is written; with it, rows
/// and entries with the same keys are replaced and others kept.
/// `progress` gets a line per table and every 10 pages.
pub async fn copy(
    from: &dyn Portable,
    to: &dyn Portable,
    overwrite: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<CopyReport, CopyError> {
    if !overwrite && let Some(what) = holds_data(to).await.map_err(on("target", "checking"))? {
        return Err(CopyError::TargetNotEmpty(what));
    }
    from.settle_for_export()
        .await
        .map_err(on("source", "settling pending sends"))?;
    let started = Instant::now();
    let mut report = CopyReport::default();
    let mut groups = Vec::new();
    for table in tables() {
        let mut copied = 0u64;
        let mut pages = Pages::new(from, &table);
        while let Some(rows) = pages.next().await.map_err(on("source", &table.name))? {
            if table.name == "IMGroup" {
                groups.extend(rows.iter().filter_map(|r| u32::try_from(row_id(r)?).ok()));
            }
            let n = rows.len();
            to.write_rows(&table, rows, overwrite)
                .await
                .map_err(on("target", &table.name))?;
            copied += n as u64;
            if pages.read.is_multiple_of(10) {
                progress(&format!("{}: {copied} rows so far", table.name));
            }
        }
        progress(&format!("{}: {copied} rows", table.name));
        report.tables.push((table.name.clone(), copied));
    }
    let state = from
        .read_state()
        .await
        .map_err(on("source", "counters and settings"))?;
    report.state_items = state.len();
    to.write_state(state, &groups)
        .await
        .map_err(on("target", "counters and settings"))?;
    progress(&format!(
        "counters and settings: {} entries ({} rows in all, {:.1} s)",
        report.state_items,
        report.rows(),
        started.elapsed().as_secs_f64()
    ));
    Ok(report)
}
