//! Reads that concurrent requests share ([`crate::store::coalesce::Coalescer`]):
//! users by ids requested while another such read is in flight are
//! answered by one statement over the union of their ids, each request
//! then taking the rows of its own ids; the unread summaries' reads (a
//! user's groups and the newest message of each remembered
//! conversation) by one `UNION ALL` of all their parts, tagged by
//! request. MariaDB spends most of a small read on the statement, not
//! its rows (docs/benchmarks.md, 2026-12-07, ninth session), and
//! requests that ask for the same users share the rows too.
//!
//! Only reads that may be served anywhere ([`ReadAt::Anywhere`]) are
//! shared: the batch runs on a task of its own, outside the caller's
//! routing, so a read that must see a write runs alone. A batch whose
//! statement fails on a row (invalid data) runs each request alone, so
//! one bad row fails only the requests that asked for it.

use std::fmt::Write;
use std::sync::Arc;

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use super::error::map_err;
use super::id_match::id_condition;
use super::pool::MysqlPools;
use super::query::{id_params, int, params, rows};
use super::read_at::{self, ReadAt};
use super::read_rows::{
    GROUPS_TAG, RELATIONS_TAG, USER_COLUMNS, Wanted, active_relation, group_row, groups_branch,
    last_message, newest, newest_first, relations_branch, still_valid, union_all, user,
};
use super::script::sorted_unique;
use crate::store::coalesce::{BatchRun, Coalescer};
use crate::store::{ID_CHUNK, LastMessage, StoreError, StoreResult, UserRecord};

/// Requests in one shared read at most.
const BATCH_MAX: usize = 8;
/// Most conversations of an unread summary read shared with others
/// (more: read alone); also bounds a message row's tag ([`TAG_STRIDE`]).
const SHARED_CONVERSATIONS: usize = 8;
/// A message row's tag in a shared unread read: request × `TAG_STRIDE` +
/// the conversation's index in the request's [`Wanted`] list (far below
/// the groups' and relations' tags).
const TAG_STRIDE: u32 = 1024;

/// The users of `ids` (sorted, each once), ordered by id.
async fn select_users(pools: &MysqlPools, ids: &[u32]) -> StoreResult<Vec<UserRecord>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut c = pools.replica().await?;
    for chunk in ids.chunks(ID_CHUNK) {
        let (cond, values) = id_condition("id", chunk);
        let sql = format!("SELECT {USER_COLUMNS} FROM IMUser WHERE {cond} ORDER BY id");
        for r in rows(&mut c, &sql, id_params(&values)).await? {
            out.push(user(r)?);
        }
    }
    Ok(out)
}

/// Counts a shared read of `n` requests.
fn record_size(read: &'static str, n: usize) {
    metrics::histogram!(crate::metrics::SHARED_READ_BATCH_SIZE, "read" => read).record(n as f64);
}

/// Runs the users-by-ids reads of a batch as one.
struct UsersByIds(Arc<MysqlPools>);

impl BatchRun for UsersByIds {
    type Item = Vec<u32>;
    type Output = StoreResult<Vec<UserRecord>>;
    const WHAT: &'static str = "a shared users read";

    async fn run(&self, requests: Vec<Vec<u32>>) -> StoreResult<Vec<Self::Output>> {
        record_size("users", requests.len());
        if let [only] = requests.as_slice() {
            return Ok(vec![select_users(&self.0, only).await]);
        }
        let union = sorted_unique(requests.iter().flatten().copied().collect());
        let found = match select_users(&self.0, &union).await {
            Ok(found) => found,
            Err(StoreError::InvalidData(_)) => {
                // Each alone: only the requests whose rows fail fail.
                let mut out = Vec::with_capacity(requests.len());
                for ids in &requests {
                    out.push(select_users(&self.0, ids).await);
                }
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        Ok(requests
            .iter()
            .map(|ids| {
                Ok(found
                    .iter()
                    .filter(|u| ids.binary_search(&u.id).is_ok())
                    .cloned()
                    .collect())
            })
            .collect())
    }
}

/// One unread summary's read: the user and its remembered conversations.
pub(super) type UnreadRead = (u32, Vec<Wanted>);
/// Its answer: the user's groups, newest membership first, and the
/// newest message found by position.
pub(super) type UnreadFound = (Vec<u32>, Vec<(usize, LastMessage)>);

/// The reads of `requests` in one statement: one branch for the groups of
/// all their users, one per conversation for its newest message (tagged
/// with its request and index), one checking the remembered relations.
/// One request's read is a prepared statement, as
/// it has few shapes; several requests' reads are sent as text, numbers
/// written in (a prepared statement per combination of message tables
/// would be prepared again and again: measured, docs/benchmarks.md).
async fn select_unread(
    pools: &MysqlPools,
    requests: &[UnreadRead],
) -> StoreResult<Vec<UnreadFound>> {
    let users = sorted_unique(requests.iter().map(|(user, _)| *user).collect());
    let mut branches = vec![groups_branch(&users)];
    for (n, (_, wanted)) in (0u32..).zip(requests) {
        // Tagged by the index in `wanted` (below SHARED_CONVERSATIONS),
        // not the position in the request, which may be any number.
        for (j, &(_, kind, key, _)) in (0u32..).zip(wanted) {
            branches.push((newest(kind, key), vec![n * TAG_STRIDE + j, key]));
        }
    }
    branches.extend(relations_branch(requests.iter().flat_map(|(_, w)| w)));
    let (sql, values) = union_all(branches);
    let mut groups: Vec<Vec<(u32, u32, u32)>> = vec![Vec::new(); requests.len()];
    let mut messages: Vec<(&Wanted, usize, LastMessage)> = Vec::new();
    let mut active = Vec::new();
    let mut c = pools.replica().await?;
    let found_rows = if requests.len() == 1 {
        let values = values.into_iter().map(Value::from).collect();
        rows(&mut c, &sql, params(values)).await?
    } else {
        c.query(with_numbers(&sql, &values))
            .await
            .map_err(map_err)?
    };
    for mut r in found_rows {
        let tag = int(&mut r, 0)?;
        match tag {
            RELATIONS_TAG => active.push(active_relation(&mut r)?),
            GROUPS_TAG => {
                let (user, group) = group_row(&mut r)?;
                // To every request of the user (a user may ask twice).
                for (g, _) in groups
                    .iter_mut()
                    .zip(requests)
                    .filter(|(_, req)| req.0 == user)
                {
                    g.push(group);
                }
            }
            _ => {
                let (n, j) = ((tag / TAG_STRIDE) as usize, (tag % TAG_STRIDE) as usize);
                if let Some(w) = requests.get(n).and_then(|(_, wanted)| wanted.get(j)) {
                    messages.push((w, n, last_message(&mut r)?));
                }
            }
        }
    }
    // A remembered relation no longer active: its message is not taken.
    let mut found: Vec<Vec<(usize, LastMessage)>> = vec![Vec::new(); requests.len()];
    for (w, n, last) in messages {
        if let Some(f) = found.get_mut(n).filter(|_| still_valid(w, &active)) {
            f.push((w.0, last));
        }
    }
    Ok(groups.into_iter().map(newest_first).zip(found).collect())
}

/// `sql` with each `?` replaced by the next of `values` (`sql` holds no
/// other `?`, as the statements above).
fn with_numbers(sql: &str, values: &[u32]) -> String {
    let mut out = String::with_capacity(sql.len() + values.len() * 8);
    let mut values = values.iter();
    for (i, piece) in sql.split('?').enumerate() {
        if i > 0 {
            // Writing to a String cannot fail.
            let _ = write!(out, "{}", values.next().copied().unwrap_or(0));
        }
        out.push_str(piece);
    }
    out
}

/// Runs the unread summaries' reads of a batch as one.
struct UnreadReads(Arc<MysqlPools>);

impl BatchRun for UnreadReads {
    type Item = UnreadRead;
    type Output = StoreResult<UnreadFound>;
    const WHAT: &'static str = "a shared unread read";

    async fn run(&self, requests: Vec<UnreadRead>) -> StoreResult<Vec<Self::Output>> {
        record_size("unread", requests.len());
        match select_unread(&self.0, &requests).await {
            Ok(found) => Ok(found.into_iter().map(Ok).collect()),
            Err(StoreError::InvalidData(_)) if requests.len() > 1 => {
                // Each alone: only the requests whose rows fail fail.
                let mut out = Vec::with_capacity(requests.len());
                for r in &requests {
                    let found = select_unread(&self.0, std::slice::from_ref(r)).await;
                    out.push(found.and_then(|mut f| {
                        f.pop().ok_or_else(|| {
                            StoreError::InvalidData("no unread read answered".into())
                        })
                    }));
                }
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }
}

/// The shared reads of a MySQL store.
pub(super) struct SharedReads {
    pools: Arc<MysqlPools>,
    users: Arc<Coalescer<UsersByIds>>,
    unread: Arc<Coalescer<UnreadReads>>,
}

impl SharedReads {
    /// On `pools`, at most `lanes` shared reads of a kind in flight.
    pub(super) fn new(pools: Arc<MysqlPools>, lanes: usize) -> Self {
        Self {
            users: Arc::new(Coalescer::with_lanes(
                UsersByIds(pools.clone()),
                BATCH_MAX,
                lanes,
            )),
            unread: Arc::new(Coalescer::with_lanes(
                UnreadReads(pools.clone()),
                BATCH_MAX,
                lanes,
            )),
            pools,
        }
    }

    /// An unread summary's read of `user`'s groups and the newest message
    /// of the conversations `wanted`, shared with concurrent ones; `None`
    /// when it must run alone (it must see a write, or has more than
    /// [`SHARED_CONVERSATIONS`] conversations).
    pub(super) async fn groups_and_newest(
        &self,
        user: u32,
        wanted: &[Wanted],
    ) -> StoreResult<Option<UnreadFound>> {
        if wanted.len() > SHARED_CONVERSATIONS || read_at::current() != ReadAt::Anywhere {
            return Ok(None);
        }
        self.unread.call((user, wanted.to_vec())).await?.map(Some)
    }

    /// The users of `ids`, ordered by id; shared with concurrent requests
    /// when the read may be served anywhere and asks for at most
    /// [`ID_CHUNK`] users.
    pub(super) async fn users_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<UserRecord>> {
        let ids = sorted_unique(ids.to_vec());
        if ids.len() > ID_CHUNK || read_at::current() != ReadAt::Anywhere {
            return select_users(&self.pools, &ids).await;
        }
        self.users.call(ids).await?
    }
}

/// Shared reads in flight per kind: half the cores (at least one), so
/// on a small machine requests wait for a batch and share it, and on a
/// large one reads still run side by side.
pub(super) fn lanes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}
