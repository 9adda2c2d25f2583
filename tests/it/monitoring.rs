//! Helpers for the tests that run the real monitoring tools: the files under `deploy/`, a
//! Prometheus server and an Alertmanager on free loopback ports (each killed when dropped),
//! and a catcher that stands in for every receiver Alertmanager notifies.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// Where `prometheus` and `promtool` come from.
pub const PROMETHEUS_PACKAGE: &str = "the Debian package `prometheus`";
/// Where `prometheus-alertmanager` and `amtool` come from.
pub const ALERTMANAGER_PACKAGE: &str = "the Debian package prometheus-alertmanager";

/// A path under `deploy/`.
pub fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

/// The text of a file under `deploy/`.
pub fn read_deploy(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

/// A server of the Prometheus project (Prometheus itself or Alertmanager) on a free
/// loopback port, with its files in a folder of its own, killed when dropped.
pub struct ToolServer {
    pub base: String,
    _process: KillOnDrop,
    _dir: tempfile::TempDir,
}

impl ToolServer {
    /// Starts `binary` with `config` written as its configuration file and `args`, and
    /// waits until `/-/ready` answers 200. `data_flag` names the flag of its data folder.
    async fn start(binary: &Path, config: &str, data_flag: &str, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("config.yml");
        std::fs::write(&path, config).expect("config written");
        let port = free_port();
        let process = Command::new(binary)
            .arg(format!("--config.file={}", path.display()))
            .arg(format!("{data_flag}={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
        let server = ToolServer {
            base: format!("http://127.0.0.1:{port}"),
            _process: KillOnDrop(process),
            _dir: dir,
        };
        get_until(
            &format!("{}/-/ready", server.base),
            Duration::from_secs(30),
            |status, _| status == 200,
        )
        .await;
        server
    }

    /// Prometheus with the configuration `config` (whose relative paths resolve against
    /// the test's working directory, so give rule files as absolute paths).
    pub async fn prometheus(binary: &Path, config: &str, args: &[&str]) -> Self {
        let mut all = vec!["--log.level=warn"];
        all.extend_from_slice(args);
        Self::start(binary, config, "--storage.tsdb.path", &all).await
    }

    /// Alertmanager alone (no cluster) with the configuration `config`.
    pub async fn alertmanager(binary: &Path, config: &str) -> Self {
        Self::start(
            binary,
            config,
            "--storage.path",
            &["--cluster.listen-address="],
        )
        .await
    }

    /// The value of an instant query of this Prometheus that returns exactly one series,
    /// if it does.
    pub async fn query(&self, http: &reqwest::Client, expr: &str) -> Option<f64> {
        let response = http
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", expr)])
            .send()
            .await
            .ok()?;
        let json: serde_json::Value = serde_json::from_str(&response.text().await.ok()?).ok()?;
        match json["data"]["result"].as_array()?.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// A JSON document from this server's API at `path`.
    pub async fn get_json(&self, http: &reqwest::Client, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", self.base);
        let text = http.get(&url).send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: {e}\n{text}"))
    }
}

/// Every notification a receiver endpoint got: (path, JSON body), in arrival order.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

/// An HTTP server on loopback standing in for PagerDuty and the chat webhooks: it keeps
/// every JSON body POSTed to it with its path. Its base URL.
pub async fn notification_catcher(received: Received) -> String {
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, body: axum::extract::Json<serde_json::Value>| {
            let received = received.clone();
            async move {
                received
                    .lock()
                    .unwrap()
                    .push((uri.path().to_owned(), body.0));
                axum::http::StatusCode::ACCEPTED
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}
