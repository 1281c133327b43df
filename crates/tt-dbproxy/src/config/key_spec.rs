//! What a configuration key is ([`KeySpec`]) and the parsers of its
//! values, shared by [`super::keys`] and [`super::console_keys`].

use std::net::SocketAddr;

use toml::Value;

use super::Config;
use super::cidr::IpNet;

/// Sets one field of a [`Config`] from a TOML value (environment values
/// arrive as strings); the error is the reason shown to the operator.
pub type Apply = fn(&mut Config, &Value) -> Result<(), String>;

/// One configuration key.
pub struct KeySpec {
    /// TOML path, `section.key`.
    pub key: &'static str,
    /// Type as documented.
    pub ty: &'static str,
    /// Default as documented.
    pub default: &'static str,
    /// Environment variable that overrides it.
    pub env: &'static str,
    /// Name in `dbproxyserver.conf`, or "" if it has none.
    pub legacy: &'static str,
    /// Whether a reload can change it without a restart.
    pub reloadable: bool,
    /// What it does.
    pub doc: &'static str,
    /// Setter.
    pub apply: Apply,
}

/// An integer of type `T` from a TOML integer or a decimal string.
pub fn int<T: TryFrom<i64>>(v: &Value) -> Result<T, String> {
    let n = match v {
        Value::Integer(i) => *i,
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("expected a whole number, got {s:?}"))?,
        other => return Err(format!("expected a whole number, got {}", other.type_str())),
    };
    T::try_from(n).map_err(|_| format!("{n} is out of range"))
}

/// A string from a TOML string.
pub fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, got {}", other.type_str())),
    }
}

/// Strings from a TOML array of strings or a comma-separated string.
pub fn strings(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()),
        Value::Array(a) => a.iter().map(string).collect(),
        other => Err(format!("expected a list, got {}", other.type_str())),
    }
}

/// Socket addresses from a TOML array of strings or a comma-separated string.
pub fn addresses(v: &Value) -> Result<Vec<SocketAddr>, String> {
    let items = strings(v)?;
    items
        .iter()
        .map(|s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("{s:?} is not an IP:port address (IPv6 as [::1]:10600)"))
        })
        .collect()
}

/// Address ranges from a TOML array of strings or a comma-separated
/// string (`server.allow_peers`, `AllowPeers`); the first invalid entry
/// is the reason.
pub fn peer_list(v: &Value) -> Result<Vec<IpNet>, String> {
    strings(v)?
        .iter()
        .map(|s| s.parse::<IpNet>().map_err(|e| e.to_string()))
        .collect()
}
