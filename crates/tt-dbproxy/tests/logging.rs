//! Log lines an operator relies on: a slow-request warning above the
//! configured threshold, and one line per connection open/close with the
//! peer and the reason.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tt_dbproxy::store::StoreOp;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// Single-threaded runtime: every task logs on this thread, so the
// thread-local subscriber sees the server's lines.
#[tokio::test(flavor = "current_thread")]
async fn slow_requests_and_connections_are_logged() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = TestServer::start_with(|c| c.log.slow_request_ms = 50).await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    assert!(
        !out.text().contains("slow request"),
        "a fast request is not logged"
    );
    s.store
        .delay_next(StoreOp::FindActiveUserByName, 1, Duration::from_millis(120));
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    drop(c);
    eventually("close logged", || async {
        out.text().contains("connection closed")
    })
    .await;
    let text = out.text();
    let slow: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("slow request"))
        .collect();
    assert_eq!(slow.len(), 1, "{text}");
    assert!(
        slow[0].contains("command=\"validate\"") || slow[0].contains("command=validate"),
        "{}",
        slow[0]
    );
    assert!(
        text.lines()
            .any(|l| l.contains("connection opened") && l.contains("peer=127.0.0.1:")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("connection closed") && l.contains("reason=closed by peer")),
        "{text}"
    );
}
