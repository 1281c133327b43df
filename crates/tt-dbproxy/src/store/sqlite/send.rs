//! A send on the writer thread: the message, its sessions, relation, id,
//! counters and resend memory, all in the write's savepoint of the
//! batch's transaction, so an acknowledged message is committed with
//! everything that goes with it and ids never repeat.
//!
//! A conversation the writer remembers (`send_cache.rs`) costs three
//! statements: the resend memory claimed with the new id (which also
//! tells a resend apart), the sessions revived and touched by id (their
//! changed-row count proves they are still there), the row. Its counters
//! are written once per batch (`SendState::flush`). A conversation it
//! does not remember is looked up (and created) as before and then
//! remembered.

use rusqlite::{Connection, OptionalExtension, params};

use super::held::{CLAIM, TOUCH, group_insert, single_insert};
use super::send_cache::{Group, KIND_RELATION, Member, Pair, SendState};
use super::session::{add, create_relation};
use super::user::u32_col;
use crate::store::{NewMessage, ResendKey, SESSION_GROUP, SESSION_SINGLE};

/// Expired recent-send rows are deleted by one send in
/// [`EXPIRE_EVERY`] (by message id), at most [`EXPIRE_MOST`] at a time:
/// the table shrinks faster than it grows, no send pays for a backlog, and
/// the others skip the statement (it costs about a fifth of a send).
const EXPIRE_EVERY: u32 = 16;
/// See [`EXPIRE_EVERY`].
const EXPIRE_MOST: u32 = 64;

fn next(last: u32) -> rusqlite::Result<u32> {
    last.checked_add(1)
        .ok_or_else(|| rusqlite::Error::ToSqlConversionFailure("message id space exhausted".into()))
}

fn cutoff(k: &ResendKey, now: u32) -> i64 {
    i64::from(now) - i64::from(k.window_s)
}

/// The id of the message `m` resends, if one was stored within its window.
fn resent_id(
    c: &Connection,
    m: &NewMessage,
    k: &ResendKey,
    now: u32,
) -> rusqlite::Result<Option<u32>> {
    c.prepare_cached(
        "SELECT msg_id FROM tt_recent_send WHERE from_id = ?1 AND to_id = ?2 AND grp = ?3 \
         AND client_msg_id = ?4 AND hash = ?5 AND at >= ?6",
    )?
    .query_row(
        params![
            m.from_id,
            m.to_id,
            m.group,
            k.client_msg_id,
            k.data_hash as i64,
            cutoff(k, now)
        ],
        |r| u32_col(r, 0),
    )
    .optional()
}

/// Remembers `m` as stored under `id`, in one statement that also tells
/// a resend: `None` when the memory now holds `id` (a new send: no
/// memory, or an expired one, was there), else the id of the message `m`
/// resends (the upsert changed no row).
fn claim<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    m: &NewMessage,
    k: &ResendKey,
    id: u32,
    now: u32,
) -> rusqlite::Result<Option<u32>> {
    let seq = st.recent_seq(now);
    let changed = st.held.get(c, CLAIM)?.execute(params![
        m.from_id,
        m.to_id,
        m.group,
        k.client_msg_id,
        k.data_hash as i64,
        id,
        now,
        cutoff(k, now),
        seq
    ])?;
    if changed > 0 {
        return Ok(None);
    }
    match resent_id(c, m, k, now)? {
        Some(old) => Ok(Some(old)),
        None => Err(rusqlite::Error::QueryReturnedNoRows),
    }
}

/// Remembers `m` as stored under `id` (a send already known not to be a
/// resend).
fn remember(
    c: &Connection,
    st: &mut SendState,
    m: &NewMessage,
    k: &ResendKey,
    id: u32,
    now: u32,
) -> rusqlite::Result<()> {
    let seq = st.recent_seq(now);
    c.prepare_cached(
        "INSERT OR REPLACE INTO tt_recent_send \
         (from_id, to_id, grp, client_msg_id, hash, msg_id, at, seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        m.from_id,
        m.to_id,
        m.group,
        k.client_msg_id,
        k.data_hash as i64,
        id,
        now,
        seq
    ])?;
    Ok(())
}

/// Forgets a few expired sends, on one send in [`EXPIRE_EVERY`]: of the
/// [`EXPIRE_MOST`] stored first (by `seq`), those past the window, so the
/// statement reads a bounded number of rows whether or not any expired.
fn expire(c: &Connection, k: &ResendKey, id: u32, now: u32) -> rusqlite::Result<()> {
    if !id.is_multiple_of(EXPIRE_EVERY) {
        return Ok(());
    }
    c.prepare_cached(
        "DELETE FROM tt_recent_send WHERE (from_id, to_id, grp, client_msg_id, hash) IN \
         (SELECT from_id, to_id, grp, client_msg_id, hash FROM \
          (SELECT from_id, to_id, grp, client_msg_id, hash, at FROM tt_recent_send ORDER BY seq LIMIT ?2) \
          WHERE at < ?1)",
    )?
    .execute(params![cutoff(k, now), EXPIRE_MOST])?;
    Ok(())
}

fn resent(id: u32) -> u32 {
    metrics::counter!(crate::metrics::RESENDS, "backend" => "sqlite").increment(1);
    id
}

/// Stores `m` (or finds the message it resends); returns its id.
pub(super) fn store<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    m: &NewMessage,
    now: u32,
) -> rusqlite::Result<u32> {
    if m.group {
        group(c, st, m, now)
    } else {
        single(c, st, m, now)
    }
}

fn pair_key(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

/// Finds or creates both sessions (revived and touched) and the relation
/// of `m`'s pair, and its last id.
fn look_up_pair(
    c: &Connection,
    st: &SendState,
    m: &NewMessage,
    now: u32,
) -> rusqlite::Result<Pair> {
    let own = add(c, m.from_id, m.to_id, SESSION_SINGLE, now)?;
    let peer = add(c, m.to_id, m.from_id, SESSION_SINGLE, now)?;
    let relation = create_relation(c, m.from_id, m.to_id, now)?;
    let sessions = if m.from_id < m.to_id {
        [own, peer]
    } else {
        [peer, own]
    };
    Ok(Pair {
        relation,
        sessions,
        last: st.counter(c, KIND_RELATION, relation)?,
        touched: st.stamp(now),
    })
}

/// Revives and touches sessions by id (one statement each: an `IN`
/// list costs more than two lookups by id): whether every one was there.
fn touch<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    sessions: &[u32],
    now: u32,
) -> rusqlite::Result<bool> {
    let stmt = st.held.get(c, TOUCH)?;
    for id in sessions {
        if stmt.execute(params![now, id])? != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn single<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    m: &NewMessage,
    now: u32,
) -> rusqlite::Result<u32> {
    let key = pair_key(m.from_id, m.to_id);
    let (pair, id) = match st.pairs.get_mut(&key).map(|p| *p) {
        Some(known) => {
            let id = next(known.last)?;
            if let Some(k) = &m.resend
                && let Some(old) = claim(c, st, m, k, id, now)?
            {
                return Ok(resent(old));
            }
            let stamp = st.stamp(now);
            if known.touched == stamp {
                (known, id)
            } else if touch(c, st, &known.sessions, now)? {
                (
                    Pair {
                        touched: stamp,
                        ..known
                    },
                    id,
                )
            } else {
                // A session row is gone (deleted outside tt-dbproxy): look
                // the pair up again; the relation may be new too.
                st.pairs.remove(&key);
                let found = look_up_pair(c, st, m, now)?;
                let again = next(found.last)?;
                if again != id
                    && let Some(k) = &m.resend
                {
                    remember(c, st, m, k, again, now)?;
                }
                (found, again)
            }
        }
        None => {
            if let Some(k) = &m.resend
                && let Some(old) = resent_id(c, m, k, now)?
            {
                return Ok(resent(old));
            }
            let found = look_up_pair(c, st, m, now)?;
            let id = next(found.last)?;
            if let Some(k) = &m.resend {
                remember(c, st, m, k, id, now)?;
            }
            (found, id)
        }
    };
    st.held
        .get(c, single_insert(pair.relation)?)?
        .execute(params![
            pair.relation,
            m.from_id,
            m.to_id,
            id,
            m.content,
            m.msg_type,
            m.created
        ])?;
    if let Some(k) = &m.resend {
        expire(c, k, id, now)?;
    }
    st.stored_single(key, Pair { last: id, ..pair }, m.to_id, m.from_id);
    Ok(id)
}

fn group<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    m: &NewMessage,
    now: u32,
) -> rusqlite::Result<u32> {
    let (g, member) = (m.to_id, (m.from_id, m.to_id));
    let known = st.groups.get_mut(&g).map(|x| *x);
    let session = st.members.get_mut(&member).map(|x| *x);
    let (known, session, id) = match (known, session) {
        (Some(known), Some(Member { session, touched })) => {
            let id = next(known.last)?;
            if let Some(k) = &m.resend
                && let Some(old) = claim(c, st, m, k, id, now)?
            {
                return Ok(resent(old));
            }
            let session = if touched == st.stamp(now) || touch(c, st, &[session], now)? {
                session
            } else {
                // Gone (deleted outside tt-dbproxy): found or created
                // again; the group's ids do not depend on it.
                add(c, m.from_id, g, SESSION_GROUP, now)?
            };
            (known, session, id)
        }
        _ => {
            if let Some(k) = &m.resend
                && let Some(old) = resent_id(c, m, k, now)?
            {
                return Ok(resent(old));
            }
            let session = add(c, m.from_id, g, SESSION_GROUP, now)?;
            let known = st.group(c, g)?;
            let id = next(known.last)?;
            if let Some(k) = &m.resend {
                remember(c, st, m, k, id, now)?;
            }
            (known, session, id)
        }
    };
    let total = next(known.total)?;
    st.held
        .get(c, group_insert(g)?)?
        .execute(params![g, m.from_id, id, m.content, m.msg_type, m.created])?;
    if let Some(k) = &m.resend {
        expire(c, k, id, now)?;
    }
    st.stored_group(g, Group { last: id, total }, m.from_id, session, now);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_recent(rows: &[(i64, i64)]) -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c).unwrap();
        for (i, (at, seq)) in rows.iter().enumerate() {
            c.execute(
                "INSERT INTO tt_recent_send (from_id, to_id, grp, client_msg_id, hash, msg_id, at, seq) \
                 VALUES (?1, 2, 0, ?2, 0, ?2, ?3, ?4)",
                params![(i % 7) as i64 + 1, i as i64 + 1, at, seq],
            )
            .unwrap();
        }
        c
    }

    fn left(c: &Connection) -> (i64, i64) {
        c.query_row(
            "SELECT COUNT(*), COALESCE(SUM(at < 1380), 0) FROM tt_recent_send",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    #[test]
    fn expiry_deletes_the_oldest_rows_past_the_window_a_bounded_number_at_a_time() {
        // 70 rows past the window (at 1000, cut-off 1380) stored before 30
        // within it; 5 of the old ones from before `seq` existed (0).
        let mut rows: Vec<(i64, i64)> = (0..5).map(|_| (1000, 0)).collect();
        rows.extend((5..70).map(|i| (1000, 1000 << 20 | i)));
        rows.extend((70..100).map(|i| (2000, 2000 << 20 | i)));
        let c = store_with_recent(&rows);
        let k = ResendKey {
            client_msg_id: 1,
            data_hash: 0,
            window_s: 120,
        };
        expire(&c, &k, 15, 1500).unwrap();
        assert_eq!(left(&c), (100, 70), "only one send in 16 expires rows");
        expire(&c, &k, 16, 1500).unwrap();
        assert_eq!(left(&c), (36, 6), "at most 64, the oldest first");
        expire(&c, &k, 32, 1500).unwrap();
        assert_eq!(left(&c), (30, 0));
        expire(&c, &k, 48, 1500).unwrap();
        assert_eq!(left(&c), (30, 0), "rows within the window stay");
    }

    #[test]
    fn a_later_row_of_the_resend_memory_sorts_later() {
        let mut st = SendState::new(4);
        let a = st.recent_seq(1000);
        let b = st.recent_seq(1000);
        let c = st.recent_seq(1001);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(a >> 20, 1000);
        assert_eq!(c >> 20, 1001);
    }
}
