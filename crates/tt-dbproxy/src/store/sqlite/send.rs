//! A send on the writer thread: the message, its sessions, relation, id,
//! counters and resend memory, all in the write's savepoint of the
//! batch's transaction, so an acknowledged message is committed with
//! everything that goes with it and ids never repeat.
//!
//! A conversation the writer remembers (`send_cache.rs`) costs three
//! statements: the send appended to the resend memory's log (after it is
//! looked up there: in the writer's copy of the newest sends, else by one
//! indexed read; `recent.rs`), the sessions revived and touched by id
//! (their changed-row count proves they are still there), the row. Its
//! counters are written once per batch (`SendState::flush`). A
//! conversation it does not remember is looked up (and created) as before
//! and then remembered.

use rusqlite::{Connection, params};

use super::held::{TOUCH, group_insert, single_insert};
use super::recent::cutoff;
use super::send_cache::{Group, KIND_RELATION, Member, Pair, SendState};
use super::session::{add, create_relation};
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

/// The id of the message `m` resends, if it carries a resend key and
/// one was stored within its window.
fn resent_id<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    m: &NewMessage,
    now: u32,
) -> rusqlite::Result<Option<u32>> {
    match &m.resend {
        Some(k) => st.recent.find(c, &mut st.held, m, k, now),
        None => Ok(None),
    }
}

/// Remembers `m` as stored under `id`, if it carries a resend key.
fn remember<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    m: &NewMessage,
    id: u32,
    now: u32,
) -> rusqlite::Result<()> {
    match &m.resend {
        Some(k) => st.recent.remember(c, &mut st.held, m, k, id, now),
        None => Ok(()),
    }
}

/// The id of the message `m` resends, or `None` once `m` is remembered
/// as stored under `id`.
fn claim<'c>(
    c: &'c Connection,
    st: &mut SendState<'c>,
    m: &NewMessage,
    id: u32,
    now: u32,
) -> rusqlite::Result<Option<u32>> {
    if let Some(old) = resent_id(c, st, m, now)? {
        return Ok(Some(old));
    }
    remember(c, st, m, id, now)?;
    Ok(None)
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
            if let Some(old) = claim(c, st, m, id, now)? {
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
                if again != id {
                    remember(c, st, m, again, now)?;
                }
                (found, again)
            }
        }
        None => {
            if let Some(old) = resent_id(c, st, m, now)? {
                return Ok(resent(old));
            }
            let found = look_up_pair(c, st, m, now)?;
            let id = next(found.last)?;
            remember(c, st, m, id, now)?;
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
            if let Some(old) = claim(c, st, m, id, now)? {
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
            if let Some(old) = resent_id(c, st, m, now)? {
                return Ok(resent(old));
            }
            let session = add(c, m.from_id, g, SESSION_GROUP, now)?;
            let known = st.group(c, g)?;
            let id = next(known.last)?;
            remember(c, st, m, id, now)?;
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
        let c = super::super::schema::migrated_in_memory();
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
}
