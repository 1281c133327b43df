//! [`MediaServer`]: the client of TeamTalk's media file server (msfs),
//! which stores the bytes of voice messages. Every call has an explicit
//! timeout (the original's upload had none and could hang a worker).

use std::time::Duration;

use bytes::Bytes;

/// Upload timeout.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Download timeout (the original's).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(2);
/// The multipart boundary the original sends.
const BOUNDARY: &str = "WebKitFormBoundary8riBH6S4ZsoT69so";

/// Why a media-server call failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Transport error or timeout.
    #[error("media server request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The reply was not the expected JSON or reported an error.
    #[error("media server refused the upload: {0}")]
    Refused(String),
    /// The download's length is not the stored size.
    #[error("media file has {got} bytes, expected {expected}")]
    Length {
        /// Bytes received.
        got: usize,
        /// `IMAudio.size`.
        expected: usize,
    },
}

/// The media file server.
#[derive(Debug, Clone)]
pub struct MediaServer {
    http: reqwest::Client,
    upload_url: String,
}

impl MediaServer {
    /// A client for `site` (`http://host:port`); uploads go to `site/`.
    pub fn new(site: &str) -> Self {
        let upload_url = if site.ends_with('/') {
            site.to_string()
        } else {
            format!("{site}/")
        };
        Self {
            http: reqwest::Client::new(),
            upload_url,
        }
    }

    /// Uploads an audio file the way the original does (one multipart part
    /// `file`, filename `1.audio`) and returns the URL msfs stored it at.
    pub async fn upload(&self, audio: &[u8]) -> Result<String, MediaError> {
        let mut body = Vec::with_capacity(audio.len() + 256);
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"1.audio\"\r\nContent-Type: image/jpg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(audio);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let reply = self
            .http
            .post(&self.upload_url)
            .timeout(UPLOAD_TIMEOUT)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await?
            .bytes()
            .await?;
        let json: serde_json::Value = serde_json::from_slice(&reply)
            .map_err(|e| MediaError::Refused(format!("not JSON: {e}")))?;
        if json.get("error_code").and_then(serde_json::Value::as_i64) != Some(0) {
            return Err(MediaError::Refused(
                String::from_utf8_lossy(&reply).into_owned(),
            ));
        }
        json.get("url")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| MediaError::Refused("no url in the reply".into()))
    }

    /// Downloads a stored file; it must have exactly `size` bytes.
    pub async fn download(&self, url: &str, size: usize) -> Result<Bytes, MediaError> {
        let bytes = self
            .http
            .get(url)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await?
            .bytes()
            .await?;
        if bytes.len() != size {
            return Err(MediaError::Length {
                got: bytes.len(),
                expected: size,
            });
        }
        Ok(bytes)
    }
}
