//! A small real HTTP server standing in for TeamTalk's media file server:
//! records uploads, answers them with a configurable JSON body, and serves
//! configured files.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
pub struct State {
    pub uploads: Vec<Vec<u8>>,
    pub upload_reply: String,
    pub files: HashMap<String, Vec<u8>>,
}

pub struct FakeMsfs {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl FakeMsfs {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            upload_reply: r#"{"error_code":0,"url":"http://f/a1"}"#.into(),
            ..State::default()
        }));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(p) = find(&buf, b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = buf[head_end..].to_vec();
                    let mut parts = head.split_whitespace();
                    let (method, path) = (
                        parts.next().unwrap_or(""),
                        parts.next().unwrap_or("").to_string(),
                    );
                    let (status, reply) = {
                        let mut s = st.lock().unwrap();
                        if method == "POST" {
                            s.uploads.push(body);
                            ("200 OK", s.upload_reply.clone().into_bytes())
                        } else if let Some(f) = s.files.get(&path) {
                            ("200 OK", f.clone())
                        } else {
                            ("404 Not Found", b"missing".to_vec())
                        }
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        reply.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&reply).await;
                });
            }
        });
        Self { addr, state }
    }

    pub fn site(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A URL this server serves `bytes` at.
    pub fn serve(&self, path: &str, bytes: &[u8]) -> String {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.to_string(), bytes.to_vec());
        format!("http://{}{path}", self.addr)
    }
}
