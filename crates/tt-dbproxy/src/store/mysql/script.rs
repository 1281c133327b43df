//! A group commit's statements as one text: `START TRANSACTION`, the
//! check of remembered ids, the sessions' `UPDATE`, the multi-row
//! `INSERT`s and `lastChated`, sent in one round trip (and the `COMMIT`
//! in a second) instead of one round trip per statement. On these
//! machines a round trip costs both processes a wake-up and a task
//! switch, more than MariaDB spends running the statement.
//!
//! No text from a client reaches the SQL: every value is a number the
//! program formats, or a message's content written as a hexadecimal
//! literal (`X'…'`), so nothing needs escaping and no character set can
//! change how a value is read.

use std::fmt::Write;

use super::rows::{Column, MAX_ROWS_PER_STATEMENT, MessageInsert};
use crate::store::{GroupMessageRow, SingleMessageRow};

/// Statements are grouped into texts of about this many bytes at most
/// (a single larger statement goes alone), far under MariaDB's smallest
/// `max_allowed_packet` (1 MiB before 10.2, 16 MiB since).
const TEXT_BYTES: usize = 512 * 1024;

/// The statements of one batch, in the order they run, grouped into
/// texts each sent in one round trip; the first starts the transaction.
#[derive(Debug, Default)]
pub(super) struct Script {
    texts: Vec<String>,
    /// One statement per text.
    single: bool,
}

impl Script {
    /// A script that starts a transaction, then (when any ids are to be
    /// checked) the check of remembered ids ([`super::stale::check_sql`]).
    ///
    /// On a Galera node (`galera`) each statement is a text of its own,
    /// and the session first turns `wsrep_retry_autocommit` off: a
    /// statement aborted by a replicated write set then fails (a conflict,
    /// and the batch runs again) rather than being run again on its own
    /// after the node rolled the transaction back, which in the middle of
    /// a multi-statement text could leave the rest autocommitted.
    pub(super) fn begin(check: Option<String>, galera: bool) -> Self {
        let mut s = Self {
            single: galera,
            ..Self::default()
        };
        if galera {
            s.push("SET SESSION wsrep_retry_autocommit = 0".to_owned());
        }
        s.push("START TRANSACTION".to_owned());
        if let Some(sql) = check {
            s.push(sql);
        }
        s
    }

    /// Adds a statement.
    pub(super) fn push(&mut self, sql: String) {
        match self.texts.last_mut() {
            Some(text) if !self.single && text.len() + sql.len() < TEXT_BYTES => {
                text.push_str(";\n");
                text.push_str(&sql);
            }
            _ => self.texts.push(sql),
        }
    }

    /// `UPDATE <table> SET <set> WHERE id IN (ids)` (`set` written by the
    /// caller, numbers only); nothing when `ids` is empty. `ids` sorted,
    /// so concurrent batches lock rows in one order.
    pub(super) fn update_by_ids(&mut self, table: &str, set: &str, ids: &[u32]) {
        if ids.is_empty() {
            return;
        }
        let mut sql = format!("UPDATE {table} SET {set} WHERE id IN (");
        write_ids(&mut sql, ids);
        sql.push(')');
        self.push(sql);
    }

    /// Multi-row `INSERT`s of `rows` into shard `shard` of their table.
    pub(super) fn insert_rows<R: MessageInsert>(&mut self, shard: u32, rows: &[&R]) {
        for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
            let mut sql = format!(
                "INSERT INTO {}_{shard} ({}, status, updated, created) VALUES ",
                R::TABLE,
                R::COLUMNS
            );
            for (i, row) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                let cols = row.columns();
                for (j, col) in cols.iter().take(R::LEADING).enumerate() {
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    literal(&mut sql, col);
                }
                sql.push_str(", 0");
                for col in cols.iter().skip(R::LEADING) {
                    sql.push_str(", ");
                    literal(&mut sql, col);
                }
                sql.push(')');
            }
            self.push(sql);
        }
    }

    /// Ends the script with `COMMIT` (in the last text).
    pub(super) fn commit(&mut self) {
        self.push("COMMIT".to_owned());
    }

    /// The texts, each one round trip.
    pub(super) fn texts(&self) -> &[String] {
        &self.texts
    }
}

/// Single and group rows of a batch, each to its shard.
pub(super) fn insert_all(
    script: &mut Script,
    singles: &std::collections::BTreeMap<u32, Vec<&SingleMessageRow>>,
    groups: &std::collections::BTreeMap<u32, Vec<&GroupMessageRow>>,
) {
    for (shard, rows) in singles {
        script.insert_rows(*shard, rows);
    }
    for (shard, rows) in groups {
        script.insert_rows(*shard, rows);
    }
}

/// `ids` sorted, each once.
pub(super) fn sorted_unique(mut ids: Vec<u32>) -> Vec<u32> {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `1, 2, 3` into `out`.
pub(super) fn write_ids(out: &mut String, ids: &[u32]) {
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{id}");
    }
}

/// A column's value as an SQL literal: a number, or text as `X'…'`.
fn literal(out: &mut String, col: &Column<'_>) {
    match col {
        Column::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Column::Text(s) => {
            const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
            out.reserve(s.len() * 2 + 3);
            out.push_str("X'");
            for b in s.bytes() {
                out.push(char::from(DIGITS[usize::from(b >> 4)]));
                out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
            }
            out.push('\'');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(content: &str) -> SingleMessageRow {
        SingleMessageRow {
            relation_id: 9,
            from_id: 1,
            to_id: 2,
            msg_id: 7,
            msg_type: 1,
            content: content.into(),
            created: 1_700_000_000,
        }
    }

    #[test]
    fn content_is_a_hex_literal_so_quotes_cannot_end_it() {
        let row = single("a'); DROP TABLE IMUser; -- é");
        let mut s = Script::begin(None, false);
        s.insert_rows(1, &[&row]);
        let text = &s.texts()[0];
        assert!(text.starts_with("START TRANSACTION;\nINSERT INTO IMMessage_1 "));
        assert!(!text.contains("DROP"), "{text}");
        let hex: String = row.content.bytes().map(|b| format!("{b:02X}")).collect();
        assert!(
            text.ends_with(&format!(
                "VALUES (9, 1, 2, 7, X'{hex}', 1, 0, 1700000000, 1700000000)"
            )),
            "{text}"
        );
    }

    #[test]
    fn empty_content_and_several_rows() {
        let (a, b) = (single(""), single("x"));
        let mut s = Script::begin(None, false);
        s.insert_rows(1, &[&a, &b]);
        assert!(s.texts()[0].contains("X'', 1, 0, 1700000000, 1700000000), (9, 1, 2, 7, X'78'"));
    }

    #[test]
    fn rows_of_a_shard_go_in_as_few_statements_of_at_most_32_rows() {
        let rows: Vec<SingleMessageRow> = (0..70).map(|i| single(&i.to_string())).collect();
        let refs: Vec<&SingleMessageRow> = rows.iter().collect();
        let mut s = Script::begin(None, false);
        s.insert_rows(1, &refs[..13]);
        assert_eq!(
            s.texts()[0].matches("INSERT").count(),
            1,
            "13 rows, one statement"
        );
        let mut s = Script::begin(None, false);
        s.insert_rows(1, &refs);
        let text = s.texts().concat();
        assert_eq!(text.matches("INSERT").count(), 3, "70 rows: 32, 32, 6");
        assert_eq!(
            text.matches("(9, 1, 2, 7, X'").count(),
            70,
            "every row once"
        );
    }

    #[test]
    fn updates_list_ids_and_skip_empty_lists() {
        let mut s = Script::begin(None, false);
        s.update_by_ids("IMRecentSession", "status = 0, updated = 5", &[]);
        s.update_by_ids("IMRecentSession", "status = 0, updated = 5", &[3, 4]);
        assert_eq!(
            s.texts(),
            [
                "START TRANSACTION;\nUPDATE IMRecentSession SET status = 0, updated = 5 WHERE id IN (3, 4)"
            ]
        );
    }

    #[test]
    fn on_galera_each_statement_is_a_round_trip_of_its_own() {
        let mut s = Script::begin(Some("SELECT 1".into()), true);
        s.update_by_ids("IMGroup", "lastChated = 5", &[7]);
        assert_eq!(
            s.texts(),
            [
                "SET SESSION wsrep_retry_autocommit = 0",
                "START TRANSACTION",
                "SELECT 1",
                "UPDATE IMGroup SET lastChated = 5 WHERE id IN (7)"
            ]
        );
    }

    #[test]
    fn long_scripts_are_split_into_bounded_texts() {
        let big = "x".repeat(100_000);
        let rows: Vec<SingleMessageRow> = (0..12).map(|_| single(&big)).collect();
        let refs: Vec<&SingleMessageRow> = rows.iter().collect();
        let mut s = Script::begin(None, false);
        for r in &refs {
            s.insert_rows(1, std::slice::from_ref(r));
        }
        assert!(s.texts().len() > 1);
        assert!(s.texts()[0].starts_with("START TRANSACTION;"));
        for t in s.texts() {
            assert!(t.len() < TEXT_BYTES + 250_000, "{}", t.len());
        }
        let inserts: usize = s.texts().iter().map(|t| t.matches("INSERT").count()).sum();
        assert_eq!(inserts, 12, "every statement once");
    }
}
