//! The client of http_msg_server's HTTP API, as the PHP admin uses it:
//! `POST /query/CreateGroup` and `/query/ChangeMembers` with a JSON body
//! carrying `app_key`; the answer's `error_code` 0 is success. Going
//! through it (rather than writing the tables) lets msg_server notify the
//! online members.

use std::time::Duration;

use serde_json::{Value, json};

/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why http_msg_server did not do it.
#[derive(Debug, thiserror::Error)]
pub enum MsgServerError {
    /// It could not be reached or did not answer in time.
    #[error("http_msg_server at {url} could not be reached: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// Why.
        reason: String,
    },
    /// It answered with an error.
    #[error("http_msg_server refused: {0}")]
    Refused(String),
}

/// http_msg_server's `/query` API.
#[derive(Debug, Clone)]
pub struct MsgServer {
    base: String,
    app_key: Option<String>,
    http: reqwest::Client,
}

impl MsgServer {
    /// A client of the server at `base` (`http://host:port`).
    pub fn new(base: &str, app_key: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            app_key,
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    async fn call(&self, path: &str, mut body: Value) -> Result<Value, MsgServerError> {
        if let (Some(key), Some(map)) = (&self.app_key, body.as_object_mut()) {
            map.insert("app_key".into(), Value::String(key.clone()));
        }
        let url = format!("{}{path}", self.base);
        let unreachable = |reason: String| MsgServerError::Unreachable {
            url: url.clone(),
            reason,
        };
        let rsp = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = rsp.status();
        let text = rsp.text().await.map_err(|e| unreachable(e.to_string()))?;
        if !status.is_success() {
            return Err(MsgServerError::Refused(format!("HTTP {status}: {text}")));
        }
        let answer: Value = serde_json::from_str(&text)
            .map_err(|_| MsgServerError::Refused(format!("not JSON: {text}")))?;
        match answer.get("error_code").and_then(Value::as_i64) {
            Some(0) => Ok(answer),
            code => Err(MsgServerError::Refused(format!(
                "error_code {}: {}",
                code.map_or_else(|| "missing".into(), |c| c.to_string()),
                answer
                    .get("error_msg")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ))),
        }
    }

    /// Creates a fixed group; returns its id when the answer has one.
    pub async fn create_group(
        &self,
        creator: u32,
        name: &str,
        avatar: &str,
        members: &[u32],
    ) -> Result<Option<u32>, MsgServerError> {
        let answer = self
            .call(
                "/query/CreateGroup",
                json!({
                    "req_user_id": creator,
                    "group_name": name,
                    "group_type": 1,
                    "group_avatar": avatar,
                    "user_id_list": members,
                }),
            )
            .await?;
        Ok(answer
            .get("group_id")
            .and_then(Value::as_u64)
            .and_then(|id| u32::try_from(id).ok()))
    }

    /// Adds (`add`) or removes members.
    pub async fn change_members(
        &self,
        requester: u32,
        group: u32,
        add: bool,
        members: &[u32],
    ) -> Result<(), MsgServerError> {
        self.call(
            "/query/ChangeMembers",
            json!({
                "req_user_id": requester,
                "group_id": group,
                "modify_type": if add { 1 } else { 2 },
                "user_id_list": members,
            }),
        )
        .await
        .map(drop)
    }
}
