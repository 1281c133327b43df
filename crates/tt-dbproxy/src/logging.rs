//! `tracing` output on stderr, text or JSON, with a filter that a reload
//! can replace while the process runs.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::LogFormat;

/// Parses a `tracing` filter such as `info` or `tt_dbproxy=debug`. Only
/// ASCII is accepted: tracing-subscriber 0.3 panics on some non-ASCII
/// filters (it slices the text at byte offsets; found by the
/// `config_toml_env` fuzz target), and no level or target needs more.
/// Spaces around each comma-separated directive are dropped.
pub fn parse_filter(level: &str) -> Result<EnvFilter, String> {
    if !level.is_ascii() {
        return Err(format!("{level:?} is not ASCII"));
    }
    // tracing-subscriber trims each directive but slices the untrimmed
    // text, so " tt_dbproxy=debug" would filter on " tt_dbprox".
    let directives: Vec<&str> = level.split(',').map(str::trim).collect();
    EnvFilter::try_new(directives.join(",")).map_err(|e| e.to_string())
}

/// Replaces the log filter of the running process (`log.level` on reload).
#[derive(Clone)]
pub struct LogFilter {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl std::fmt::Debug for LogFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogFilter")
    }
}

impl LogFilter {
    /// Switches to `level` (a `tracing` filter such as `info` or
    /// `tt_dbproxy=debug`); the error says why it was refused.
    pub fn set(&self, level: &str) -> Result<(), String> {
        let filter = parse_filter(level)?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}

/// Sets up logging on stderr. Returns the filter handle, or `None` when a
/// subscriber was already installed (only possible in tests).
pub fn init(level: &str, format: LogFormat) -> Option<LogFilter> {
    let filter = parse_filter(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let output = match format {
        LogFormat::Text => output.boxed(),
        LogFormat::Json => output.json().boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .ok()
        .map(|()| LogFilter { handle })
}
