//! Reading a configuration: which file, TOML parsing, the environment
//! overlay, then validation with every problem reported at once.

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::keys::{self, KeySpec};
use super::{Config, ConfigError, KeyNaming, Problem, legacy};

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Built-in defaults only (plus environment).
    Defaults,
    /// A `tt-dbproxy.toml` file.
    Toml(PathBuf),
    /// An original `dbproxyserver.conf`.
    Legacy(PathBuf),
}

/// The file name the original reads from its working directory.
pub const LEGACY_FILE_NAME: &str = "dbproxyserver.conf";

impl ConfigSource {
    /// The rule of `serve`: an explicit file wins; with none, a
    /// `dbproxyserver.conf` in `cwd` is loaded as the original would;
    /// otherwise the defaults apply.
    pub fn resolve(toml: Option<PathBuf>, legacy: Option<PathBuf>, cwd: &Path) -> Self {
        match (toml, legacy) {
            (Some(t), _) => Self::Toml(t),
            (None, Some(l)) => Self::Legacy(l),
            (None, None) => {
                let candidate = cwd.join(LEGACY_FILE_NAME);
                if candidate.is_file() {
                    Self::Legacy(candidate)
                } else {
                    Self::Defaults
                }
            }
        }
    }
}

/// The process environment, for [`load`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads and validates the configuration from `source`, with `env`
/// supplying `TT_DBPROXY_*` overrides.
pub fn load(
    source: &ConfigSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })
    };
    match source {
        ConfigSource::Defaults => finish(Config::default(), Vec::new(), KeyNaming::Toml, env),
        ConfigSource::Toml(path) => {
            let text = read(path)?;
            parse_toml(&text, &path.display().to_string(), env)
        }
        ConfigSource::Legacy(path) => from_legacy_str(&read(path)?, env),
    }
}

/// Parses a TOML configuration from a string.
pub fn from_toml_str(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    parse_toml(text, "<string>", env)
}

/// Parses an original `dbproxyserver.conf` from a string.
pub fn from_legacy_str(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let file = legacy::parse(text);
    let (config, problems) = legacy::to_config(&file);
    finish(config, problems, KeyNaming::Legacy, env)
}

fn parse_toml(
    text: &str,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
    let specs = keys::all();
    let mut config = Config::default();
    let mut problems = Vec::new();
    for (section, value) in &table {
        let Value::Table(inner) = value else {
            problems.push(Problem::new(
                section,
                "unknown key (settings live in sections such as [server])",
            ));
            continue;
        };
        for (name, v) in inner {
            let key = format!("{section}.{name}");
            match specs.iter().find(|s| s.key == key) {
                Some(spec) => {
                    if let Err(reason) = (spec.apply)(&mut config, v) {
                        problems.push(Problem::new(key, reason));
                    }
                }
                None => problems.push(Problem::new(key, "unknown key")),
            }
        }
    }
    finish(config, problems, KeyNaming::Toml, env)
}

/// Applies the environment overlay, validates, and returns the config or
/// every problem found along the way.
fn finish(
    mut config: Config,
    mut problems: Vec<Problem>,
    naming: KeyNaming,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    apply_env(&mut config, &keys::all(), env, &mut problems);
    problems.extend(config.resolve_backends(naming));
    // A refused Redis setting is the real problem, not a knock-on "the
    // mysql backend needs Redis".
    let redis_refused = problems.iter().any(|p| {
        p.key.starts_with("redis.")
            || p.key.starts_with("Redis")
            || p.key.starts_with("TT_DBPROXY_REDIS")
    });
    problems.extend(
        config
            .validate(naming)
            .into_iter()
            .filter(|p| !(redis_refused && p.reason.starts_with(super::NEEDS_REDIS))),
    );
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

fn apply_env(
    config: &mut Config,
    specs: &[KeySpec],
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    for spec in specs {
        if let Some(raw) = env(spec.env)
            && let Err(reason) = (spec.apply)(config, &Value::String(raw))
        {
            problems.push(Problem::new(spec.env, reason));
        }
    }
}
