//! The shadow's findings: counts per command and result (also Prometheus
//! counters), and the first differences of each command, for `GET /shadow`.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// How a compared read came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Field for field the same.
    Equal,
    /// Different only where tt-dbproxy differs on purpose.
    Expected,
    /// Different, but a write to the same user or conversation was
    /// forwarded meanwhile: not a finding.
    Raced,
    /// Different.
    Different,
    /// The shadow side could not answer (storage error, no reply,
    /// undecodable reply).
    ShadowError,
}

impl Outcome {
    /// The metric label and JSON key.
    pub fn label(self) -> &'static str {
        match self {
            Self::Equal => "equal",
            Self::Expected => "expected",
            Self::Raced => "raced",
            Self::Different => "different",
            Self::ShadowError => "shadow_error",
        }
    }
}

/// Differences kept per command for `/shadow` (and logged).
pub const KEPT_PER_COMMAND: usize = 5;

#[derive(Default)]
struct PerCommand {
    counts: BTreeMap<Outcome, u64>,
    first: Vec<serde_json::Value>,
}

/// What the shadow found so far; shared by its connections.
#[derive(Default)]
pub struct ShadowStats {
    commands: Mutex<BTreeMap<&'static str, PerCommand>>,
}

impl ShadowStats {
    /// Counts one comparison; `detail` (both replies, the paths) is kept
    /// and returned for logging when it is among the command's first.
    pub fn record(
        &self,
        command: &'static str,
        outcome: Outcome,
        detail: impl FnOnce() -> serde_json::Value,
    ) -> Option<serde_json::Value> {
        metrics::counter!(crate::metrics::SHADOW_COMPARISONS, "command" => command, "result" => outcome.label())
            .increment(1);
        let mut all = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        let entry = all.entry(command).or_default();
        *entry.counts.entry(outcome).or_default() += 1;
        if outcome == Outcome::Different && entry.first.len() < KEPT_PER_COMMAND {
            let d = detail();
            entry.first.push(d.clone());
            return Some(d);
        }
        None
    }

    /// The summary `GET /shadow` returns.
    pub fn summary(&self) -> serde_json::Value {
        let all = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        let commands: serde_json::Map<String, serde_json::Value> = all
            .iter()
            .map(|(name, c)| {
                let mut counts = serde_json::Map::new();
                for o in [
                    Outcome::Equal,
                    Outcome::Expected,
                    Outcome::Raced,
                    Outcome::Different,
                    Outcome::ShadowError,
                ] {
                    counts.insert(
                        o.label().into(),
                        c.counts.get(&o).copied().unwrap_or(0).into(),
                    );
                }
                counts.insert("first_differences".into(), c.first.clone().into());
                ((*name).to_string(), counts.into())
            })
            .collect();
        serde_json::json!({ "commands": commands })
    }
}
