//! `copy --verify`: asks both stores what the handlers would ask and
//! compares the answers — per user the unread counts and group counters,
//! recent sessions with their last messages, user info, device tokens and
//! offline files; per conversation the whole history page by page and
//! every message by id; per
//! group its info, members and push settings; every voice message's
//! file record; and the user-list gate and sync cursor.

use std::collections::BTreeMap;
use std::fmt::Debug;

use crate::store::export::{Cell, Portable, Row, Table, tables};
use crate::store::{ID_CHUNK, MESSAGE_SHARDS, SESSION_GROUP, SESSION_SINGLE, Store, StoreResult};

/// Messages per history page (clients ask for at most 200; smaller pages
/// also check that paging by id lines up on both sides).
const HISTORY_PAGE: u32 = 64;
/// Differences kept for the report.
const KEEP: usize = 20;
/// Sessions asked for per user (more than any user has).
const ALL_SESSIONS: u32 = 1_000_000;

/// One answer that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// What was asked.
    pub what: String,
    /// The source's answer.
    pub source: String,
    /// The target's answer.
    pub target: String,
}

/// What `--verify` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Answers compared.
    pub checked: u64,
    /// Answers that differ.
    pub differences: u64,
    /// The first differences.
    pub first: Vec<Difference>,
    /// Messages compared one by one (each stored message once).
    pub messages: u64,
}

impl VerifyReport {
    fn check<T: Debug + PartialEq>(&mut self, what: impl FnOnce() -> String, a: &T, b: &T) {
        self.checked += 1;
        if a != b {
            self.differences += 1;
            if self.first.len() < KEEP {
                self.first.push(Difference {
                    what: what(),
                    source: format!("{a:?}"),
                    target: format!("{b:?}"),
                });
            }
        }
    }
}

/// Every row of `table` in `store`.
async fn all_rows(store: &dyn Portable, table: &str) -> StoreResult<Vec<Row>> {
    let table: Table = tables()
        .into_iter()
        .find(|t| t.name == table)
        .ok_or_else(|| crate::store::StoreError::Query(format!("unknown table {table}")))?;
    let mut out: Vec<Row> = Vec::new();
    let mut pages = super::Pages::new(store, &table);
    while let Some(page) = pages.next().await? {
        out.extend(page);
    }
    Ok(out)
}

fn int(row: &Row, i: usize) -> u32 {
    match row.get(i) {
        Some(Cell::Int(n)) => u32::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}

/// A whole conversation, newest first, read page by page with `page`
/// (`begin` 0, then below the smallest id seen).
async fn history<F, Fut>(mut page: F) -> StoreResult<Vec<crate::store::MessageRow>>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Vec<crate::store::MessageRow>>>,
{
    let mut out = Vec::new();
    let mut begin = 0u32;
    loop {
        let rows = page(begin).await?;
        let lowest = rows.iter().map(|m| m.msg_id).min().unwrap_or(0);
        let full = rows.len() == HISTORY_PAGE as usize;
        out.extend(rows);
        // Stops at the oldest page, and never asks for the same page twice.
        if !full || lowest <= 1 || (begin != 0 && lowest >= begin) {
            return Ok(out);
        }
        begin = lowest - 1;
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Compares what `a` and `b` answer for every user, conversation and
/// group `a` holds.
pub async fn verify(a: &dyn Portable, b: &dyn Portable) -> StoreResult<VerifyReport> {
    let mut r = VerifyReport::default();
    let users = a.list_users().await?;
    r.check(|| "user list".into(), &users, &b.list_users().await?);
    r.check(
        || "departments".into(),
        &a.list_departments().await?,
        &b.list_departments().await?,
    );
    r.check(
        || "user-list gate".into(),
        &a.user_list_gate().await?,
        &b.user_list_gate().await?,
    );
    r.check(
        || "sync cursor".into(),
        &a.group_sync_cursor().await?,
        &b.group_sync_cursor().await?,
    );
    for user in &users {
        verify_user(&mut r, a, b, user.id).await?;
    }
    let mut pairs = BTreeMap::new();
    for rel in all_rows(a, "IMRelationShip").await? {
        let (small, big) = (int(&rel, 1), int(&rel, 2));
        pairs.insert(int(&rel, 0), (small, big));
        let pa = history(|begin| a.single_history(small, big, begin, HISTORY_PAGE)).await?;
        let pb = history(|begin| b.single_history(small, big, begin, HISTORY_PAGE)).await?;
        r.check(|| format!("history {small}-{big}"), &pa, &pb);
    }
    verify_messages_by_id(&mut r, a, b, &pairs).await?;
    for audio in all_rows(a, "IMAudio").await? {
        let id = int(&audio, 0);
        r.check(
            || format!("audio {id}"),
            &a.audio(id).await?,
            &b.audio(id).await?,
        );
    }
    let groups = a.list_groups().await?;
    r.check(|| "group list".into(), &groups, &b.list_groups().await?);
    for g in groups.iter().map(|g| g.id) {
        r.check(
            || format!("group {g} members"),
            &sorted(a.group_members(g).await?),
            &sorted(b.group_members(g).await?),
        );
        r.check(
            || format!("group {g} push settings"),
            &sorted(a.group_push_shields(g).await?),
            &sorted(b.group_push_shields(g).await?),
        );
        let pa = history(|begin| a.group_history(g, 0, begin, HISTORY_PAGE)).await?;
        let pb = history(|begin| b.group_history(g, 0, begin, HISTORY_PAGE)).await?;
        r.check(|| format!("group {g} history"), &pa, &pb);
    }
    Ok(r)
}

/// Every stored message, asked for by id in its conversation: history
/// pages are ordered by time but bounded by id, so paging alone can step
/// over messages whose ids and times disagree (concurrent sends); this
/// reads each one. `pairs` maps a relation id to its users.
async fn verify_messages_by_id(
    r: &mut VerifyReport,
    a: &dyn Portable,
    b: &dyn Portable,
    pairs: &BTreeMap<u32, (u32, u32)>,
) -> StoreResult<()> {
    for shard in 0..MESSAGE_SHARDS {
        for group in [false, true] {
            let table = if group {
                format!("IMGroupMessage_{shard}")
            } else {
                format!("IMMessage_{shard}")
            };
            // (conversation, msgId) of each row; the id column is 4 for
            // one-to-one rows (after relateId, fromId, toId), 3 for group.
            let id_col = if group { 3 } else { 4 };
            let mut ids: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for row in all_rows(a, &table).await? {
                ids.entry(int(&row, 1)).or_default().push(int(&row, id_col));
            }
            for (conv, mut list) in ids {
                list.sort_unstable();
                list.dedup();
                for chunk in list.chunks(ID_CHUNK) {
                    let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
                    let (pa, pb) = if group {
                        (
                            a.group_messages_by_id(conv, 0, chunk, n).await?,
                            b.group_messages_by_id(conv, 0, chunk, n).await?,
                        )
                    } else {
                        let Some(&(small, big)) = pairs.get(&conv) else {
                            continue;
                        };
                        (
                            a.single_messages_by_id(small, big, chunk, n).await?,
                            b.single_messages_by_id(small, big, chunk, n).await?,
                        )
                    };
                    r.messages += pa.len() as u64;
                    let kind = if group { "group" } else { "relation" };
                    r.check(|| format!("{kind} {conv} messages by id"), &pa, &pb);
                }
            }
        }
    }
    Ok(())
}

/// What a user's own requests read.
async fn verify_user(
    r: &mut VerifyReport,
    a: &dyn Store,
    b: &dyn Store,
    u: u32,
) -> StoreResult<()> {
    r.check(
        || format!("user {u} info"),
        &a.users_by_ids(&[u]).await?,
        &b.users_by_ids(&[u]).await?,
    );
    r.check(
        || format!("user {u} unread counts"),
        &sorted(a.unread_counts(u).await?),
        &sorted(b.unread_counts(u).await?),
    );
    let groups = sorted(a.user_groups(u).await?);
    r.check(
        || format!("user {u} groups"),
        &groups,
        &sorted(b.user_groups(u).await?),
    );
    r.check(
        || format!("user {u} group counters"),
        &a.group_counters(u, &groups).await?,
        &b.group_counters(u, &groups).await?,
    );
    // Sessions updated in the same second may come in either order.
    let by_id = |mut v: Vec<crate::store::SessionRecord>| {
        v.sort_by_key(|s| s.id);
        v
    };
    let sessions = by_id(a.recent_sessions(u, 0, ALL_SESSIONS).await?);
    r.check(
        || format!("user {u} recent sessions"),
        &sessions,
        &by_id(b.recent_sessions(u, 0, ALL_SESSIONS).await?),
    );
    let pairs: Vec<(u32, u32)> = sessions
        .iter()
        .filter(|s| s.session_type == SESSION_SINGLE || s.session_type == SESSION_GROUP)
        .map(|s| (s.peer_id, s.session_type))
        .collect();
    r.check(
        || format!("user {u} last messages"),
        &a.last_messages(u, &pairs).await?,
        &b.last_messages(u, &pairs).await?,
    );
    r.check(
        || format!("user {u} device token"),
        &a.device_tokens(&[u]).await?,
        &b.device_tokens(&[u]).await?,
    );
    r.check(
        || format!("user {u} offline files"),
        &a.offline_files_for(u).await?,
        &b.offline_files_for(u).await?,
    );
    Ok(())
}
