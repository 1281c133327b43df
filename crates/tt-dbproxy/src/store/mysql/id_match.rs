//! A set of ids as an SQL condition with its parameters: each run of at
//! least [`RUN_AS_RANGE`] consecutive ids as one `BETWEEN` range, the
//! other ids in one `IN` list. MariaDB plans an `IN` list as one index
//! range per value, which costs it more than reading the rows: 100
//! consecutive users by `IN` took it about 2.5 times as long as by one
//! `BETWEEN` (docs/benchmarks.md). Short runs stay in the list, where a
//! value is cheaper than a range.
//!
//! The condition is a prepared statement's (binary rows: no numbers
//! written as text and parsed back), so its shape is kept to a few: the
//! ranges and the list are each padded to a power of two by repeating
//! their last entry, which matches nothing more, and each shape is
//! prepared once per connection (the pools' statement cache).

/// Shortest run of consecutive ids written as a range.
pub(super) const RUN_AS_RANGE: usize = 8;

/// `column` matching any of `ids` (sorted, each once, not empty), as the
/// condition with `?` placeholders, e.g. `(id BETWEEN ? AND ? OR id IN
/// (?, ?))`, and its parameters in order.
pub(super) fn id_condition(column: &str, ids: &[u32]) -> (String, Vec<u32>) {
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
    pad(&mut ranges);
    pad(&mut singles);
    let mut parts: Vec<String> = ranges
        .iter()
        .map(|_| format!("{column} BETWEEN ? AND ?"))
        .collect();
    if !singles.is_empty() {
        parts.push(format!(
            "{column} IN ({})",
            vec!["?"; singles.len()].join(", ")
        ));
    }
    let mut values: Vec<u32> = ranges.iter().flat_map(|&(low, high)| [low, high]).collect();
    values.extend(singles);
    (format!("({})", parts.join(" OR ")), values)
}

/// Repeats the last entry of `v` up to the next power of two.
fn pad<T: Copy>(v: &mut Vec<T>) {
    if let Some(&last) = v.last() {
        v.resize(v.len().next_power_of_two(), last);
    }
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
            (
                "(id BETWEEN ? AND ? OR id BETWEEN ? AND ? OR id IN (?, ?))".to_string(),
                vec![1, 100, 200, 207, 105, 107]
            )
        );
    }

    #[test]
    fn short_runs_stay_in_the_list_padded_to_a_power_of_two() {
        let ids: Vec<u32> = (1..RUN_AS_RANGE as u32).chain([20, 21]).collect();
        let (cond, values) = id_condition("userId", &ids);
        assert_eq!(cond, format!("(userId IN ({}))", vec!["?"; 16].join(", ")));
        let mut expected: Vec<u32> = (1..RUN_AS_RANGE as u32).chain([20, 21]).collect();
        expected.resize(16, 21);
        assert_eq!(values, expected);
        assert_eq!(
            id_condition("id", &[9]),
            ("(id IN (?))".to_string(), vec![9])
        );
    }

    #[test]
    fn ranges_are_padded_too_and_shapes_stay_few() {
        let ids: Vec<u32> = (0..8).chain(20..28).chain(40..48).collect();
        assert_eq!(
            id_condition("id", &ids),
            (
                format!("({})", ["id BETWEEN ? AND ?"; 4].join(" OR ")),
                vec![0, 7, 20, 27, 40, 47, 40, 47]
            )
        );
        // Every count of singles from 1 to 500 makes one of 10 shapes.
        let shapes: std::collections::HashSet<String> = (1..=500u32)
            .map(|n| id_condition("id", &(0..n).map(|i| i * 2).collect::<Vec<_>>()).0)
            .collect();
        assert_eq!(shapes.len(), 10);
    }

    #[test]
    fn a_run_up_to_the_largest_id_ends_there() {
        let ids: Vec<u32> = (u32::MAX - 9..=u32::MAX).collect();
        assert_eq!(
            id_condition("id", &ids),
            (
                "(id BETWEEN ? AND ?)".to_string(),
                vec![u32::MAX - 9, u32::MAX]
            )
        );
    }

    #[test]
    fn every_id_is_matched_once() {
        let ids: Vec<u32> = vec![
            0, 1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15, 16, 17, 18, 40,
        ];
        assert_eq!(
            id_condition("id", &ids),
            (
                "(id BETWEEN ? AND ? OR id BETWEEN ? AND ? OR id IN (?, ?))".to_string(),
                vec![0, 7, 11, 18, 9, 40]
            )
        );
    }
}
