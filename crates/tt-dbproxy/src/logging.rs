//! `tracing` output on stderr, text or JSON, with a filter that a reload
//! can replace while the process runs.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Longest log filter accepted.
pub const MAX_FILTER_LEN: usize = 1024;

/// Parses a `tracing` filter such as `info`, `tt_dbproxy=debug` or
/// `tt_dbproxy[connection]=trace`. Only levels, targets and span names are
/// accepted (letters, digits, `_ : . -`, with `= , [ ]` and spaces), at
/// most [`MAX_FILTER_LEN`] bytes: tracing-subscriber 0.3 panics on some
/// non-ASCII filters (it slices the text at byte offsets) and took over
/// 10 s to compile a 380-byte filter of field patterns (`{…}`, compiled as
/// regular expressions); both found by the `config_toml_env` fuzz target.
/// Field filters are therefore not supported. Spaces around each
/// comma-separated directive are dropped.
pub fn parse_filter(level: &str) -> Result<EnvFilter, String> {
    if !level.is_ascii() {
        return Err(format!("{level:?} is not ASCII"));
    }
    if level.len() > MAX_FILTER_LEN {
        return Err(format!("longer than {MAX_FILTER_LEN} bytes"));
    }
    if let Some(c) = level
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_:.-=,[] ".contains(*c)))
    {
        return Err(format!(
            "{c:?} is not allowed: use levels, targets and span names (e.g. info,tt_dbproxy=debug); field filters are not supported"
        ));
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
