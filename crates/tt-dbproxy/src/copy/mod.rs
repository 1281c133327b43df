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
use crate::store::export::{Cell, Portable, tables};

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
    let started = Instant::now();
    let mut report = CopyReport::default();
    let mut groups = Vec::new();
    for table in tables() {
        let mut after = i64::MIN;
        let mut copied = 0u64;
        let mut pages = 0u64;
        loop {
            let rows = from
                .read_rows(&table, after, PAGE_ROWS)
                .await
                .map_err(on("source", &table.name))?;
            let Some(Cell::Int(last)) = rows.last().and_then(|r| r.first()).cloned() else {
                break;
            };
            if table.name == "IMGroup" {
                groups.extend(rows.iter().filter_map(|r| match r.first() {
                    Some(Cell::Int(id)) => u32::try_from(*id).ok(),
                    _ => None,
                }));
            }
            let n = rows.len();
            to.write_rows(&table, rows, overwrite)
                .await
                .map_err(on("target", &table.name))?;
            copied += n as u64;
            pages += 1;
            if pages.is_multiple_of(10) {
                progress(&format!("{}: {copied} rows so far", table.name));
            }
            if n < PAGE_ROWS {
                break;
            }
            after = last;
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
