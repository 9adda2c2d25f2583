//! Helpers shared by the integration tests.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use tim_account_exporter::config::{self, AppConfig, Sources};
use tim_account_exporter::report::{self, AppReport};
use tim_account_exporter::sim::{SimApp, SimOptions, Simulator};
use tim_account_exporter::state::{AppState, PresenceValue, Status};
use tim_account_exporter::tim::{Attempt, Client, Secret};
use tim_account_exporter::{cycle, daemon};

pub const SDKAPPID: u64 = 1_400_000_000;
pub const ADMIN: &str = "administrator";
pub const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";

/// Simulator options with the one test app and otherwise the defaults.
pub fn sim_options() -> SimOptions {
    SimOptions {
        apps: vec![SimApp {
            sdkappid: SDKAPPID,
            admin: ADMIN.to_owned(),
            key: Secret::new(KEY),
        }],
        ..SimOptions::default()
    }
}

pub async fn start_sim() -> Simulator {
    Simulator::start(sim_options())
        .await
        .expect("simulator starts")
}

/// YAML of one app against `endpoint`; `settings` are extra app lines (4-space indented),
/// `lists` the watch lists (6-space indented items).
pub fn app_yaml(endpoint: &str, settings: &str, lists: &str) -> String {
    format!(
        "apps:\n  - name: test-app\n    sdkappid: {SDKAPPID}\n    region: singapore\n    endpoint: {endpoint}\n    admin: {ADMIN}\n    secret_key: {KEY}\n{settings}    watchlists:\n{lists}"
    )
}

/// A watch list in YAML.
pub fn list_yaml(name: &str, expect: &str, ids: &[String]) -> String {
    format!(
        "      - name: {name}\n        expect: {expect}\n        user_ids: [{}]\n",
        ids.join(", ")
    )
}

/// A watch list of accounts expected imported that also checks `presence`.
pub fn presence_list_yaml(name: &str, presence: &str, ids: &[String]) -> String {
    format!(
        "{}        presence: {presence}\n",
        list_yaml(name, "imported", ids)
    )
}

/// The presence of `user_id` on `watchlist` in a report; `None` when the list checks none.
pub fn presence_of(report: &AppReport, watchlist: &str, user_id: &str) -> Option<PresenceValue> {
    report
        .accounts
        .iter()
        .find(|a| a.watchlist == watchlist && a.user_id == user_id)
        .unwrap_or_else(|| panic!("{watchlist}/{user_id} is in the report"))
        .presence
        .as_ref()
        .map(|p| p.status)
}

pub fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i:05}")).collect()
}

pub fn app_config(yaml: &str) -> Arc<AppConfig> {
    let no_env = |_: &str| None;
    let loaded = config::from_yaml(
        yaml,
        &Sources {
            base_dir: PathBuf::from("."),
            env: &no_env,
        },
    )
    .unwrap_or_else(|e| panic!("test config is valid: {e}\n{yaml}"));
    loaded.config.apps.into_iter().next().expect("one app")
}

/// One app with one watch list of `ids` expected imported.
pub fn simple_app(sim: &Simulator, settings: &str, ids: &[String]) -> Arc<AppConfig> {
    app_config(&app_yaml(
        &sim.endpoint(),
        settings,
        &list_yaml("vip", "imported", ids),
    ))
}

pub fn client(app: &AppConfig) -> Client {
    Client::new(app.client_settings()).expect("client builds")
}

/// What one cycle gave: the report the daemon would serve after it, and its HTTP attempts.
#[derive(Debug)]
pub struct Checked {
    pub report: AppReport,
    pub attempts: Vec<Attempt>,
}

impl Deref for Checked {
    type Target = AppReport;
    fn deref(&self) -> &AppReport {
        &self.report
    }
}

/// Runs one cycle with a fresh client.
/// A client of `app` that has made one call of each API (so its connections are open),
/// with the simulator's counters reset a second later. The rate bound is on when calls
/// start, and a cold client's first call reaches the server late (connection set-up), so
/// a test that holds the simulator's limit equal to the client's measures a warm client.
pub async fn warm_client(app: &AppConfig, sim: &Simulator) -> Client {
    let client = client(app);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let one = ["warm".to_owned()];
    tokio::join!(
        client.check(&one, deadline),
        client.presence(&one, deadline)
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    sim.reset_stats(SDKAPPID);
    client
}

pub async fn run_cycle(app: &Arc<AppConfig>) -> Checked {
    run_with(app, &client(app)).await
}

/// Runs one cycle with `client`, recorded in a fresh state as `--once` does.
pub async fn run_with(app: &Arc<AppConfig>, client: &Client) -> Checked {
    let state = AppState::new(Arc::clone(app));
    let checked = cycle::run(app, client).await;
    cycle::record(&state, &checked);
    let report = report::build(&state.lock());
    Checked {
        report,
        attempts: checked.attempts,
    }
}

pub fn status_of(report: &AppReport, user_id: &str) -> Status {
    report
        .accounts
        .iter()
        .find(|a| a.user_id == user_id)
        .unwrap_or_else(|| panic!("{user_id} is in the report"))
        .status
}

pub fn error_code_of(report: &AppReport, user_id: &str) -> Option<String> {
    report
        .accounts
        .iter()
        .find(|a| a.user_id == user_id)
        .and_then(|a| a.error.as_ref())
        .map(|e| e.code.clone())
}

/// The path of the tool `name` on PATH, which `source` provides. Missing: a failure
/// under CI (`.ci/run` installs every tool), else `None` and a message, so the test skips.
pub fn tool(name: &str, source: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed, and CI is set: install {source}"
        );
        eprintln!("skipping: {name} is not installed ({source} has it)");
    }
    found
}

/// A free TCP port on loopback, for a server that takes its port as a flag.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process killed when dropped, so a failing test leaves no server behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The exporter binary.
pub fn exporter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tim-account-exporter"))
}

/// Runs the exporter in a blocking thread, so the simulator keeps serving meanwhile.
pub async fn run_exporter(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || exporter().args(args).output().expect("binary runs"))
        .await
        .expect("thread joins")
}

/// Runs `--config.check` on one app (against the Singapore domain) with `lists` as its
/// watch lists.
pub async fn config_check_lists(lists: &str) -> Output {
    let (_dir, path) = write_config(&app_yaml("https://adminapisgp.im.qcloud.com", "", lists));
    run_exporter(vec![
        "--config.file".into(),
        path.display().to_string(),
        "--config.check".into(),
    ])
    .await
}

/// Writes `text` as `config.yaml` in a new temporary folder.
pub fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).expect("config written");
    set_private(&path);
    (dir, path)
}

#[cfg(unix)]
pub fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

/// The current Unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// A daemon started in-process on `127.0.0.1:0`.
pub struct RunningDaemon {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), daemon::DaemonError>>,
    http: reqwest::Client,
}

impl RunningDaemon {
    pub async fn start(source: daemon::ConfigSource, config: config::Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stop_on = daemon::Signals::stop_on(async {
            let _ = stopped.await;
        });
        let task = tokio::spawn(daemon::run(source, config, vec![listener], stop_on));
        RunningDaemon {
            addr,
            stop: Some(stop),
            task,
            http: reqwest::Client::new(),
        }
    }

    /// Starts the daemon on the configuration file at `path`, as `--config.file` does.
    pub async fn from_file(path: &Path) -> Self {
        let config = config::load(path).expect("valid config").config;
        Self::start(daemon::ConfigSource::File(path.to_path_buf()), config).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    pub async fn post(&self, path: &str) -> (u16, String) {
        let response = self.http.post(self.url(path)).send().await.expect("POST");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    pub async fn scrape(&self) -> Scrape {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "{text}");
        Scrape::parse(&text)
    }

    /// Waits (up to `limit`) until `check` holds for a scrape, and returns that scrape.
    pub async fn scrape_until(
        &self,
        limit: std::time::Duration,
        what: &str,
        check: impl Fn(&Scrape) -> bool,
    ) -> Scrape {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let scrape = self.scrape().await;
            if check(&scrape) {
                return scrape;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; last scrape:\n{}",
                scrape.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.get("/-/ready").await.0 != 200 {
            assert!(std::time::Instant::now() < deadline, "never ready");
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        let _ = self.stop.take().expect("running").send(());
        let result = (&mut self.task).await.expect("daemon task joins");
        result.expect("daemon ran cleanly");
    }
}

/// One sample of a scrape.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition in the text format.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub text: String,
    pub types: std::collections::BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let mut types = std::collections::BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))),
                None => (series, std::collections::BTreeMap::new()),
            };
            samples.push(Sample {
                name: name.to_owned(),
                labels,
                value: value
                    .parse()
                    .unwrap_or_else(|_| panic!("value in {line:?}")),
            });
        }
        Scrape {
            text: text.to_owned(),
            types,
            samples,
        }
    }

    /// The samples of `name` whose labels include every pair of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample of `name` with `labels`, if there is exactly one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        match self.find(name, labels).as_slice() {
            [one] => Some(one.value),
            [] => None,
            many => panic!("{} samples of {name} match {labels:?}", many.len()),
        }
    }
}

/// `a="x",b="y"` into a map; values may hold escaped quotes and backslashes.
fn parse_labels(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut labels = std::collections::BTreeMap::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => break,
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(name.trim_start_matches(',').to_owned(), value);
        rest = &after[end..];
    }
    labels
}

/// The exporter binary running as a daemon, its standard error collected.
pub struct DaemonProcess {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl DaemonProcess {
    /// Starts the binary with `args` plus `--web.listen-address 127.0.0.1:0`, and waits
    /// for the address it logs.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env::<&str>(args, &[])
    }

    /// [`DaemonProcess::start`] with extra environment variables.
    pub fn start_with_env<V: AsRef<std::ffi::OsStr>>(args: &[&str], env: &[(&str, V)]) -> Self {
        use std::io::BufRead;
        let mut child = exporter()
            .args(args)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .args(["--web.listen-address", "127.0.0.1:0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("binary starts");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let collected = std::sync::Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if let Some(addr) = line
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix("address="))
                {
                    let _ = tx.send(addr.trim_matches('"').to_owned());
                }
                let mut all = collected.lock().expect("stderr lock");
                all.push_str(&line);
                all.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no listening address logged:\n{}", stderr.lock().unwrap()))
            .parse()
            .expect("a socket address");
        DaemonProcess {
            child,
            addr,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything written to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// Sends `signal` and asserts the process exits with code 0 within 5 seconds.
    pub fn assert_stops_cleanly_on(&mut self, signal: &str) {
        let stopping = std::time::Instant::now();
        self.signal(signal);
        assert_eq!(self.wait_exit(std::time::Duration::from_secs(5)), Some(0));
        assert!(stopping.elapsed() < std::time::Duration::from_secs(5));
    }

    /// Waits up to `limit` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("did not exit within {limit:?}:\n{}", self.stderr());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `url` until `check` holds for its body (up to `limit`), then returns the body.
pub async fn get_until(
    url: &str,
    limit: std::time::Duration,
    check: impl Fn(u16, &str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Ok(response) = reqwest::get(url).await {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            if check(status, &body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out on {url}; last: {status}\n{body}"
            );
        }
        assert!(std::time::Instant::now() < deadline, "timed out on {url}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
