//! The keys of the web console (`console.*`) and of the public discovery
//! endpoint (`discovery.listen`), kept apart from [`super::keys`] (which
//! holds the server's and the backends' keys).

use std::net::SocketAddr;
use std::path::PathBuf;

use toml::Value;

use super::key_spec::{KeySpec, string};
use super::{Config, Problem};

/// A boolean from a TOML boolean or `true`/`false`/`1`/`0` text.
pub fn boolean(v: &Value) -> Result<bool, String> {
    match v {
        Value::Boolean(b) => Ok(*b),
        Value::String(s) => match s.trim() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            other => Err(format!("expected true or false, got {other:?}")),
        },
        other => Err(format!("expected true or false, got {}", other.type_str())),
    }
}

/// An optional `IP:port`: the empty string is `None`.
fn optional_address(v: &Value) -> Result<Option<SocketAddr>, String> {
    let s = string(v)?;
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("{s:?} is not an IP:port address (IPv6 as [::1]:10602)"))
}

/// An optional string: the empty string is `None`.
fn optional_string(v: &Value) -> Result<Option<String>, String> {
    let s = string(v)?;
    Ok(if s.trim().is_empty() {
        None
    } else {
        Some(s.trim().to_string())
    })
}

/// The console's and the discovery endpoint's keys, in documentation
/// order.
pub fn all() -> Vec<KeySpec> {
    vec![
        KeySpec {
            key: "console.enabled",
            ty: "boolean",
            default: "false",
            env: "TT_DBPROXY_CONSOLE_ENABLED",
            legacy: "",
            reloadable: false,
            doc: "Serve the web console under /console/ (off: /console/ answers 404).",
            apply: |c, v| {
                c.console.enabled = boolean(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "console.listen",
            ty: "IP:port or \"\"",
            default: "\"\" (the admin listener)",
            env: "TT_DBPROXY_CONSOLE_LISTEN",
            legacy: "",
            reloadable: false,
            doc: "Where the console listens; empty: on the admin endpoint. A non-loopback address needs TLS.",
            apply: |c, v| {
                c.console.listen = optional_address(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "console.tls_cert",
            ty: "path",
            default: "none",
            env: "TT_DBPROXY_CONSOLE_TLS_CERT",
            legacy: "",
            reloadable: false,
            doc: "PEM certificate chain; with console.tls_key the console serves HTTPS.",
            apply: |c, v| {
                c.console.tls_cert = optional_string(v)?.map(PathBuf::from);
                Ok(())
            },
        },
        KeySpec {
            key: "console.tls_key",
            ty: "path",
            default: "none",
            env: "TT_DBPROXY_CONSOLE_TLS_KEY",
            legacy: "",
            reloadable: false,
            doc: "PEM private key of console.tls_cert.",
            apply: |c, v| {
                c.console.tls_key = optional_string(v)?.map(PathBuf::from);
                Ok(())
            },
        },
        KeySpec {
            key: "console.host",
            ty: "host name",
            default: "none",
            env: "TT_DBPROXY_CONSOLE_HOST",
            legacy: "",
            reloadable: false,
            doc: "The name browsers reach the console by; requests with another Host (other than a loopback address) are refused.",
            apply: |c, v| {
                c.console.host = optional_string(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "console.http_msg_server",
            ty: "URL",
            default: "none",
            env: "TT_DBPROXY_CONSOLE_HTTP_MSG_SERVER",
            legacy: "",
            reloadable: false,
            doc: "http_msg_server's base URL: group creation and member changes go through its /query API so online members are notified.",
            apply: |c, v| {
                c.console.http_msg_server = optional_string(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "console.http_msg_server_app_key",
            ty: "string",
            default: "none",
            env: "TT_DBPROXY_CONSOLE_HTTP_MSG_SERVER_APP_KEY",
            legacy: "",
            reloadable: false,
            doc: "The app_key sent to http_msg_server; secret, never shown.",
            apply: |c, v| {
                c.console.http_msg_server_app_key = optional_string(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "discovery.listen",
            ty: "IP:port or \"\"",
            default: "\"\" (off)",
            env: "TT_DBPROXY_DISCOVERY_LISTEN",
            legacy: "",
            reloadable: false,
            doc: "Public, read-only GET /api/discovery (the PHP admin's JSON of active discovery items); empty: off.",
            apply: |c, v| {
                c.discovery_listen = optional_address(v)?;
                Ok(())
            },
        },
    ]
}

impl Config {
    /// The console's effective address: `console.listen`, else the admin
    /// listener.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console.listen.or(self.admin_listen)
    }

    /// Problems of the console's settings (only checked when it is on,
    /// except for a half-given TLS pair and the URL's form).
    pub(super) fn validate_console(&self) -> Vec<Problem> {
        let c = &self.console;
        let mut p = Vec::new();
        if c.tls_cert.is_some() != c.tls_key.is_some() {
            p.push(Problem::new(
                "console.tls_cert",
                "console.tls_cert and console.tls_key go together",
            ));
        }
        if let Some(url) = &c.http_msg_server
            && !url.starts_with("http://")
        {
            p.push(Problem::new(
                "console.http_msg_server",
                "must be an http:// URL (http_msg_server speaks plain HTTP)",
            ));
        }
        if let Some(h) = &c.host
            && (h.len() > 253
                || !h
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-.:[]".contains(ch)))
        {
            p.push(Problem::new(
                "console.host",
                "must be a host name (letters, digits, - and .), optionally with :port",
            ));
        }
        if !c.enabled {
            return p;
        }
        match self.console_addr() {
            None => p.push(Problem::new(
                "console.enabled",
                "the console needs console.listen or admin.listen",
            )),
            Some(a) if !a.ip().is_loopback() && !c.tls() => p.push(Problem::new(
                "console.listen",
                format!(
                    "{a} is not a loopback address: the console refuses to serve it without TLS \
                     (set console.tls_cert and console.tls_key)"
                ),
            )),
            Some(_) => {}
        }
        p
    }

    /// The console's settings for [`Config::show`], the app key masked.
    pub(super) fn show_console(&self) -> String {
        let c = &self.console;
        format!(
            " console.enabled={} console.listen={:?} console.tls={} console.host={:?} console.http_msg_server={:?} console.http_msg_server_app_key={} discovery.listen={:?}",
            c.enabled,
            self.console_addr(),
            c.tls(),
            c.host,
            c.http_msg_server,
            if c.http_msg_server_app_key.is_some() {
                "***"
            } else {
                "none"
            },
            self.discovery_listen,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_and_optional_values() {
        assert_eq!(boolean(&Value::Boolean(true)), Ok(true));
        assert_eq!(boolean(&Value::String("1".into())), Ok(true));
        assert_eq!(boolean(&Value::String("false".into())), Ok(false));
        assert!(boolean(&Value::String("maybe".into())).is_err());
        assert_eq!(optional_address(&Value::String(String::new())), Ok(None));
        assert!(optional_address(&Value::String("x".into())).is_err());
        assert_eq!(optional_string(&Value::String(" ".into())), Ok(None));
    }

    fn problems(c: &Config) -> Vec<String> {
        c.validate_console().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn the_console_refuses_a_public_address_without_tls() {
        let mut c = Config::default();
        c.console.enabled = true;
        assert!(problems(&c).is_empty(), "loopback admin listener");
        c.console.listen = Some("0.0.0.0:10602".parse().unwrap());
        let p = problems(&c);
        assert!(p.iter().any(|l| l.contains("without TLS")), "{p:?}");
        c.console.tls_cert = Some("c.pem".into());
        assert!(problems(&c).iter().any(|l| l.contains("go together")));
        c.console.tls_key = Some("k.pem".into());
        assert!(problems(&c).is_empty());
        c.console.listen = None;
        c.admin_listen = None;
        assert!(
            problems(&c)
                .iter()
                .any(|l| l.contains("needs console.listen"))
        );
        c.console.enabled = false;
        assert!(problems(&c).is_empty(), "off: nothing to check");
        c.console.http_msg_server = Some("ftp://x".into());
        assert_eq!(problems(&c).len(), 1);
    }

    #[test]
    fn the_app_key_is_never_shown() {
        let mut c = Config::default();
        c.console.http_msg_server_app_key = Some("s3cret-key".into());
        let shown = c.show();
        assert!(!shown.contains("s3cret-key"), "{shown}");
        assert!(shown.contains("console.http_msg_server_app_key=***"));
    }
}
