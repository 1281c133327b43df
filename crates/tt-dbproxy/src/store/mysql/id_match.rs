//! A set of ids as an SQL condition: each run of at least
//! [`RUN_AS_RANGE`] consecutive ids as one `BETWEEN` range, the other ids
//! in one `IN` list. MariaDB plans an `IN` list as one index range per
//! value, which costs it more than reading the rows: 100 consecutive
//! users by `IN` took it about 2.5 times as long as by one `BETWEEN`
//! (docs/benchmarks.md). Short runs stay in the list, where a value is
//! cheaper than a range. The values are numbers this program formats, so
//! no client text reaches the SQL.

use std::fmt::Write;

use super::script::write_ids;

/// Shortest run of consecutive ids written as a range.
pub(super) const RUN_AS_RANGE: usize = 8;

/// `column` matching any of `ids` (sorted, each once, not empty), e.g.
/// `(id BETWEEN 1 AND 100 OR id IN (105, 107))`.
pub(super) fn id_condition(column: &str, ids: &[u32]) -> String {
    let mut ranges = Vec::new();
    let mut singles = Vec::new();
    let mut start = 0;
    for end in 1..=ids.len() {
        let run_ends = end == ids.len() || ids[end] != ids[end - 1].wrapping_add(1);
        if run_ends {
            let run = &ids[start..end];
            if run.len() >= RUN_AS_RANGE {
                ranges.push((run[0], run[run.len() - 1]));
            } else {
                singles.extend_from_slice(run);
            }
            start = end;
        }
    }
    let mut out = String::from("(");
    for (i, (low, high)) in ranges.iter().enumerate() {
        if i > 0 {
            out.push_str(" OR ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{column} BETWEEN {low} AND {high}");
    }
    if !singles.is_empty() {
        if !ranges.is_empty() {
            out.push_str(" OR ");
        }
        let _ = write!(out, "{column} IN (");
        write_ids(&mut out, &singles);
        out.push(')');
    }
    out.push(')');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_become_ranges_and_the_rest_a_list() {
        let mut ids: Vec<u32> = (1..=100).collect();
        ids.extend([105, 107]);
        ids.extend(200..208);
        assert_eq!(
            id_condition("id", &ids),
            "(id BETWEEN 1 AND 100 OR id BETWEEN 200 AND 207 OR id IN (105, 107))"
        );
    }

    #[test]
    fn short_runs_stay_in_the_list() {
        let ids: Vec<u32> = (1..RUN_AS_RANGE as u32).chain([20, 21]).collect();
        assert_eq!(
            id_condition("userId", &ids),
            "(userId IN (1, 2, 3, 4, 5, 6, 7, 20, 21))"
        );
        assert_eq!(id_condition("id", &[9]), "(id IN (9))");
    }

    #[test]
    fn a_run_up_to_the_largest_id_ends_there() {
        let ids: Vec<u32> = (u32::MAX - 9..=u32::MAX).collect();
        assert_eq!(
            id_condition("id", &ids),
            format!("(id BETWEEN {} AND {})", u32::MAX - 9, u32::MAX)
        );
    }

    #[test]
    fn every_id_is_matched_once() {
        let ids: Vec<u32> = vec![
            0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15, 16, 17, 18, 40,
        ];
        let cond = id_condition("id", &ids);
        assert_eq!(
            cond,
            "(id BETWEEN 0 AND 7 OR id BETWEEN 11 AND 18 OR id IN (9, 40))"
        );
    }
}
