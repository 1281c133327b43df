//! A console under test and a cookie-keeping HTTP client that submits its
//! forms the way a browser does (the CSRF token taken from the page).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::routing::post;

use tokio_util::sync::CancellationToken;
use tt_dbproxy::config::Config;
use tt_dbproxy::store::prelude::*;

use crate::common::{Backend, TestServer};

/// md5("admin"), the PHP admin's shipped `IMAdmin` password.
pub const ADMIN_MD5: &str = "21232f297a57a5a743894a0e4a801fc3";
/// The password tests give the accounts they create.
pub const GOOD: &str = "console-pass-1";

/// A server with the console on its admin listener.
pub struct ConsoleServer {
    pub s: TestServer,
    pub http: SocketAddr,
    pub token: CancellationToken,
}

impl ConsoleServer {
    /// The console on `backend`, with `tweak` applied to the config.
    pub async fn start(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let s = TestServer::start_on(backend, |c| {
            c.console.enabled = true;
            tweak(c);
        })
        .await;
        tt_dbproxy::metrics::install();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = l.local_addr().unwrap();
        let token = CancellationToken::new();
        tokio::spawn(tt_dbproxy::admin::serve(l, s.state.clone(), token.clone()));
        s.store.prepare_console().await.unwrap();
        Self { s, http, token }
    }

    /// Inserts the PHP admin's shipped `admin`/`admin` row (unsalted md5).
    pub async fn seed_php_admin(&self) {
        let sql = format!(
            "INSERT INTO IMAdmin (uname, pwd, status, created, updated) VALUES ('admin', '{ADMIN_MD5}', 0, 0, 0)"
        );
        match &self.s.mysql {
            Some(db) => db.exec(&[&sql]).await,
            None => {
                let c =
                    rusqlite::Connection::open(self.s.data_dir.join("tt-dbproxy.sqlite3")).unwrap();
                c.execute(&sql, []).unwrap();
            }
        }
    }

    /// An account `name` with password [`GOOD`] (Argon2id already).
    pub async fn account(&self, name: &str) -> u32 {
        let hash = tt_dbproxy::console::auth::hash(GOOD).unwrap();
        self.s
            .store
            .add_console_account(name, &hash, self.s.clock.now_secs())
            .await
            .unwrap()
    }

    /// A client signed in as a fresh account `name`.
    pub async fn signed_in(&self, name: &str) -> Web {
        self.account(name).await;
        let mut w = Web::new(self.http);
        let r = w.sign_in(name, GOOD).await;
        assert_eq!(r.location.as_deref(), Some("/console/"), "{}", r.body);
        w
    }
}

impl Drop for ConsoleServer {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// Whether the page shows `text` (as HTML source).
    pub fn shows(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

/// A cookie-keeping client that does not follow redirects.
pub struct Web {
    pub base: String,
    pub http: reqwest::Client,
    pub cookies: HashMap<String, String>,
    /// The CSRF token of the last page with a form.
    pub csrf: String,
    /// Extra headers sent with every request.
    pub headers: Vec<(String, String)>,
}

impl Web {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            csrf: String::new(),
            headers: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, rsp: reqwest::Response) -> Page {
        let status = rsp.status().as_u16();
        for v in rsp.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let first = text.split(';').next().unwrap();
            let (k, val) = first.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        let location = rsp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        let body = rsp.text().await.unwrap();
        if let Some(rest) = body.split(r#"name="csrf" value=""#).nth(1) {
            self.csrf = rest.split('"').next().unwrap().to_string();
        }
        Page {
            status,
            location,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let mut req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let rsp = req.send().await.unwrap();
        self.finish(rsp).await
    }

    /// `POST path` with `fields` as a form, without adding anything.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let rsp = req.send().await.unwrap();
        self.finish(rsp).await
    }

    /// `POST path` with `fields` and the CSRF token of the last page.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Opens the sign-in page and submits it.
    pub async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, 200);
        self.post("/console/login", &[("name", name), ("password", password)])
            .await
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A stub http_msg_server: records each request's path and JSON.
pub async fn stub() -> (SocketAddr, Arc<Mutex<Vec<(String, serde_json::Value)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/query/CreateGroup",
            post(move |Json(v): Json<serde_json::Value>| async move {
                a.lock().unwrap().push(("CreateGroup".into(), v));
                Json(serde_json::json!({"error_code": 0, "error_msg": "ok", "group_id": 99}))
            }),
        )
        .route(
            "/query/ChangeMembers",
            post(move |Json(v): Json<serde_json::Value>| async move {
                b.lock().unwrap().push(("ChangeMembers".into(), v));
                Json(serde_json::json!({"error_code": 0, "error_msg": "ok"}))
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (addr, seen)
}
