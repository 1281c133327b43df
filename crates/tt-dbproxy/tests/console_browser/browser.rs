//! Debian's `chromium`, headless, driven over WebDriver (`chromedriver`)
//! with `fantoccini`. Missing browser: the test fails under `CI=true`
//! and is skipped with a message elsewhere. Every page a step ends on is
//! saved as a PNG under the target directory
//! (`tmp/console-screenshots/`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A headless Chromium session; the driver is killed on drop.
pub struct Browser {
    pub c: Client,
    driver: Child,
    shots: PathBuf,
    label: String,
    step: u32,
}

impl Browser {
    /// A browser, or `None` (with a message) when Chromium is missing
    /// outside CI.
    pub async fn open(label: &str) -> Option<Self> {
        let driver_bin = chromedriver();
        if driver_bin.is_none() || !std::path::Path::new(CHROMIUM).exists() {
            let msg = "chromium and chromium-driver are needed for the browser tests \
                       (apt-get install chromium chromium-driver)";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
            eprintln!("skipping: {msg}");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin?)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--no-first-run", "--disable-extensions"],
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let c = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "chromedriver: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Self {
            c,
            driver,
            shots,
            label: label.to_string(),
            step: 0,
        })
    }

    /// Saves a screenshot of the current page as `<label>-<n>-<what>.png`.
    pub async fn shot(&mut self, what: &str) {
        self.step += 1;
        let png = self.c.screenshot().await.unwrap();
        let path = self
            .shots
            .join(format!("{}-{:02}-{what}.png", self.label, self.step));
        std::fs::write(path, png).unwrap();
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.c.goto(url).await.unwrap();
    }

    /// Fills the form `form` (a CSS selector) with `fields` by name and
    /// submits it with its submit button.
    pub async fn submit(&self, form: &str, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            let el = self
                .c
                .find(Locator::Css(&format!("{form} [name=\"{name}\"]")))
                .await
                .unwrap_or_else(|e| panic!("{form} [name={name}]: {e}"));
            let tag = el.tag_name().await.unwrap();
            if tag == "select" {
                el.select_by_value(value).await.unwrap();
            } else {
                el.clear().await.unwrap();
                el.send_keys(value).await.unwrap();
            }
        }
        self.c
            .execute("window.__ttOldPage = true;", vec![])
            .await
            .unwrap();
        self.c
            .find(Locator::Css(&format!("{form} button[type=submit]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.wait_for_new_page().await;
    }

    /// Waits until the page marked old has been replaced and loaded.
    pub async fn wait_for_new_page(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done = self
                .c
                .execute(
                    "return window.__ttOldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if done {
                return;
            }
            assert!(Instant::now() < deadline, "no new page within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.c
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The current URL's path.
    pub async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }

    /// The text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.c.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
