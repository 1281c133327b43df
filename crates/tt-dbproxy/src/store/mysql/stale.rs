//! The check of a batch's remembered ids: one `SELECT` inside the batch's
//! transaction, before its writes, finds which remembered relation and
//! session ids still name a row (a relation must also be active); the
//! sends whose ids are gone are answered [`super::CommitFailure::Stale`]
//! and the transaction is rolled back.

use std::collections::HashSet;

use mysql_async::Row;

use super::query::int;
use super::script::{sorted_unique, write_ids};
use crate::store::StoreResult;

/// The two selects over the remembered ids, each `None` with no ids:
/// `what` (the selected columns) of the active relations among
/// `relations`, and of the sessions among `sessions`.
fn selects(what: (&str, &str), relations: &HashSet<u32>, sessions: &HashSet<u32>) -> Vec<String> {
    let tables = [
        (what.0, "IMRelationShip WHERE status = 0 AND", relations),
        (what.1, "IMRecentSession WHERE", sessions),
    ];
    let mut out = Vec::new();
    for (columns, from, ids) in tables {
        if ids.is_empty() {
            continue;
        }
        let mut sql = format!("SELECT {columns} FROM {from} id IN (");
        write_ids(&mut sql, &sorted_unique(ids.iter().copied().collect()));
        sql.push(')');
        out.push(sql);
    }
    out
}

/// The statement that lists which of `relations` and `sessions` exist,
/// as rows (0, relation id) and (1, session id); `None` with no ids.
pub(super) fn check_sql(relations: &HashSet<u32>, sessions: &HashSet<u32>) -> Option<String> {
    let parts = selects(("0, id", "1, id"), relations, sessions);
    (!parts.is_empty()).then(|| parts.join(" UNION ALL "))
}

/// MariaDB's error for a `BIGINT` result out of range: how the guard
/// fails (whatever the `sql_mode`).
pub(super) const GUARD_FAILED: u16 = 1690;

/// A statement that fails ([`GUARD_FAILED`]) unless every id of
/// `relations` (active) and `sessions` names a row; `None` with no ids.
/// It adds the number of ids not found to the largest `BIGINT`: 0 leaves
/// it in range, any more overflows. (Measured against a scalar subquery
/// over a two-row derived table, which fails the same way: about 25 µs
/// less of MariaDB's CPU per batch, docs/benchmarks.md.)
pub(super) fn guard_sql(relations: &HashSet<u32>, sessions: &HashSet<u32>) -> Option<String> {
    let counts: Vec<String> = selects(("COUNT(*)", "COUNT(*)"), relations, sessions)
        .into_iter()
        .map(|count| format!(" - ({count})"))
        .collect();
    (!counts.is_empty()).then(|| {
        format!(
            "SET @tt_ids_gone = {} + ({}{})",
            i64::MAX,
            relations.len() + sessions.len(),
            counts.concat()
        )
    })
}

/// Which relation and session ids the check's rows did not find.
pub(super) fn gone(
    relations: &HashSet<u32>,
    sessions: &HashSet<u32>,
    found: Vec<Row>,
) -> StoreResult<(HashSet<u32>, HashSet<u32>)> {
    let mut found_rel = HashSet::new();
    let mut found_session = HashSet::new();
    for mut r in found {
        let (kind, id) = (int(&mut r, 0)?, int(&mut r, 1)?);
        if kind == 0 {
            found_rel.insert(id);
        } else {
            found_session.insert(id);
        }
    }
    Ok((
        relations.difference(&found_rel).copied().collect(),
        sessions.difference(&found_session).copied().collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_lists_sorted_ids_of_each_kind() {
        let rel: HashSet<u32> = [9, 3].into();
        let ses: HashSet<u32> = [5].into();
        assert_eq!(
            check_sql(&rel, &ses).as_deref(),
            Some(
                "SELECT 0, id FROM IMRelationShip WHERE status = 0 AND id IN (3, 9) \
                 UNION ALL SELECT 1, id FROM IMRecentSession WHERE id IN (5)"
            )
        );
        assert_eq!(
            check_sql(&HashSet::new(), &ses).as_deref(),
            Some("SELECT 1, id FROM IMRecentSession WHERE id IN (5)")
        );
        assert_eq!(check_sql(&HashSet::new(), &HashSet::new()), None);
    }

    #[test]
    fn the_guard_counts_both_kinds() {
        let rel: HashSet<u32> = [9, 3].into();
        let ses: HashSet<u32> = [5].into();
        assert_eq!(
            guard_sql(&rel, &ses).as_deref(),
            Some(
                "SET @tt_ids_gone = 9223372036854775807 + (3 \
                 - (SELECT COUNT(*) FROM IMRelationShip WHERE status = 0 AND id IN (3, 9)) \
                 - (SELECT COUNT(*) FROM IMRecentSession WHERE id IN (5)))"
            )
        );
        assert_eq!(
            guard_sql(&HashSet::new(), &ses).as_deref(),
            Some(
                "SET @tt_ids_gone = 9223372036854775807 + (1 \
                 - (SELECT COUNT(*) FROM IMRecentSession WHERE id IN (5)))"
            )
        );
        assert_eq!(guard_sql(&HashSet::new(), &HashSet::new()), None);
    }
}
