//! The layers of tt-dbproxy's top-level modules, and the check that a
//! module never imports one of a higher layer.
//!
//! The rule: a file may use files of its own top-level module, of modules
//! of its own layer, and of lower layers; never of a higher layer. A
//! top-level module missing from the table is itself a violation, so a new
//! module gets a place in the table when it is added.

/// One layer: a level (higher may use lower) and its modules.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    /// The level; a module may import modules of its level or below.
    pub level: u8,
    /// A short name for the layer.
    pub name: &'static str,
    /// The top-level modules of `src/` in this layer (`main` is the
    /// binary's `main.rs`).
    pub modules: &'static [&'static str],
    /// Why these modules sit here.
    pub why: &'static str,
}

/// The layers, lowest first. Read as: everything on a row may use the rows
/// above it, nothing below it.
pub const LAYERS: &[Layer] = &[
    Layer {
        level: 0,
        name: "base",
        modules: &[
            "clock",
            "rate_log",
            "semaphore",
            "crash_point",
            "service",
            "shutdown",
            "auth",
            "wire",
            "config",
            "logging",
        ],
        why: "utilities and leaf formats: time, log throttling, resizable \
              limits, crash points, systemd notify, signals, TeamTalk's password \
              scheme and login throttle (auth), the PDU wire format, configuration, \
              log output; they know nothing of storage or serving",
    },
    Layer {
        level: 1,
        name: "metrics",
        modules: &["metrics"],
        why: "metric names and the recorder; every layer above reports through it",
    },
    Layer {
        level: 2,
        name: "store",
        modules: &["store", "deadline"],
        why: "the storage interface and its backends (knows domain rows, not requests), \
              and the request deadline that bounds every storage operation (its \
              expiry is a store error)",
    },
    Layer {
        level: 3,
        name: "media",
        modules: &["media"],
        why: "voice messages: audio placeholder text and the media file server client",
    },
    Layer {
        level: 4,
        name: "state",
        modules: &["state", "reload"],
        why: "AppState shared by every connection, and applying a changed configuration to it",
    },
    Layer {
        level: 5,
        name: "handler",
        modules: &["handler"],
        why: "one async fn per command over (&AppState, request)",
    },
    Layer {
        level: 6,
        name: "net",
        modules: &["net"],
        why: "sockets, connections, ordering and drain; dispatches to handlers",
    },
    Layer {
        level: 7,
        name: "tools",
        modules: &[
            "sync", "recovery", "shadow", "copy", "admin", "console", "bench", "client",
        ],
        why: "features built on a running server or on the store: the sync center, \
              start-up recovery, shadow traffic, backend copy, the admin endpoint, \
              the web console, the load generator, the protocol client",
    },
    Layer {
        level: 8,
        name: "cli",
        modules: &["cli"],
        why: "the command line wires everything together",
    },
    Layer {
        level: 9,
        name: "binary",
        modules: &["main"],
        why: "main.rs only parses the command line and runs it",
    },
];

/// The layer of a top-level module, if the table has it.
pub fn layer_of(module: &str) -> Option<&'static Layer> {
    LAYERS.iter().find(|l| l.modules.contains(&module))
}

/// What is wrong with an import from module `from` to module `to`, if
/// anything.
pub fn violation(from: &str, to: &str) -> Option<String> {
    if from == to {
        return None;
    }
    match (layer_of(from), layer_of(to)) {
        (Some(a), Some(b)) if a.level < b.level => Some(format!(
            "{from} (layer {} {}) imports {to} (layer {} {})",
            a.level, a.name, b.level, b.name
        )),
        (Some(_), Some(_)) => None,
        (None, _) => Some(format!("{from} is not in the layer table")),
        (_, None) => Some(format!("{to} is not in the layer table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_no_duplicates() {
        let mut all: Vec<&str> = LAYERS
            .iter()
            .flat_map(|l| l.modules.iter().copied())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn levels_increase() {
        assert!(LAYERS.windows(2).all(|w| w[0].level < w[1].level));
    }

    #[test]
    fn directions() {
        assert!(violation("store", "handler").is_some());
        assert!(violation("handler", "store").is_none());
        assert!(violation("media", "auth").is_none());
        assert!(violation("auth", "media").is_some());
        assert!(violation("nowhere", "store").is_some());
    }
}
