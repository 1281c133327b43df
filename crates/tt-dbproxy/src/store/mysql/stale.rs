//! The check of remembered send ids ([`super::send_ids`]) a group commit
//! makes before it writes: which of a batch's relation ids no longer name
//! an active relation and which session ids no longer name a row. One
//! statement per 32 ids of each kind (usually one per batch), lists padded
//! to a power of two so each connection prepares few statement texts.

use std::collections::HashSet;

use mysql_async::Value;

use super::pool::MysqlPools;
use super::query::{int, params, rows};
use crate::store::StoreResult;

/// Most ids of one kind per statement.
const MAX_IDS: usize = 32;

/// `ids` deduplicated, cut into pieces of at most [`MAX_IDS`], each padded
/// to a power of two by repeating its last id.
fn padded_pieces(ids: &HashSet<u32>) -> Vec<Vec<u32>> {
    let mut ids: Vec<u32> = ids.iter().copied().collect();
    ids.sort_unstable();
    ids.chunks(MAX_IDS)
        .map(|c| {
            let mut piece = c.to_vec();
            if let Some(&last) = c.last() {
                piece.resize(c.len().next_power_of_two(), last);
            }
            piece
        })
        .collect()
}

/// Of `relations` and `sessions`, the ones gone: relations without an
/// active row (`status = 0`), sessions without a row. Read on the primary.
pub(super) async fn gone(
    pools: &MysqlPools,
    relations: &HashSet<u32>,
    sessions: &HashSet<u32>,
) -> StoreResult<(HashSet<u32>, HashSet<u32>)> {
    let rel_pieces = padded_pieces(relations);
    let session_pieces = padded_pieces(sessions);
    let mut found_rel = HashSet::new();
    let mut found_session = HashSet::new();
    let mut c = pools.primary().await?;
    for i in 0..rel_pieces.len().max(session_pieces.len()) {
        let mut parts = Vec::new();
        let mut p: Vec<Value> = Vec::new();
        if let Some(piece) = rel_pieces.get(i) {
            parts.push(format!(
                "SELECT 0, id FROM IMRelationShip WHERE id IN ({}) AND status = 0",
                crate::store::placeholders(piece.len())
            ));
            p.extend(piece.iter().map(|id| Value::from(*id)));
        }
        if let Some(piece) = session_pieces.get(i) {
            parts.push(format!(
                "SELECT 1, id FROM IMRecentSession WHERE id IN ({})",
                crate::store::placeholders(piece.len())
            ));
            p.extend(piece.iter().map(|id| Value::from(*id)));
        }
        for mut r in rows(&mut c, &parts.join(" UNION ALL "), params(p)).await? {
            let (kind, id) = (int(&mut r, 0)?, int(&mut r, 1)?);
            if kind == 0 {
                found_rel.insert(id);
            } else {
                found_session.insert(id);
            }
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
    fn pieces_are_bounded_powers_of_two() {
        let ids: HashSet<u32> = (1..=37).collect();
        let pieces = padded_pieces(&ids);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].len(), 32);
        assert_eq!(pieces[1].len(), 8, "5 ids padded to 8");
        assert_eq!(&pieces[1][4..], &[37, 37, 37, 37]);
        let all: HashSet<u32> = pieces.concat().into_iter().collect();
        assert_eq!(all, ids, "every id, nothing else");
        assert!(padded_pieces(&HashSet::new()).is_empty());
    }
}
