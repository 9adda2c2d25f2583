//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tim_account_exporter::config::{self, AppConfig, Sources};
use tim_account_exporter::cycle;
use tim_account_exporter::report::{AppReport, Status};
use tim_account_exporter::sim::{SimApp, SimOptions, Simulator};
use tim_account_exporter::tim::{Client, Secret};

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

pub fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i:05}")).collect()
}

pub fn app_config(yaml: &str) -> AppConfig {
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
pub fn simple_app(sim: &Simulator, settings: &str, ids: &[String]) -> AppConfig {
    app_config(&app_yaml(
        &sim.endpoint(),
        settings,
        &list_yaml("vip", "imported", ids),
    ))
}

pub fn client(app: &AppConfig) -> Client {
    Client::new(app.client_settings()).expect("client builds")
}

/// Runs one cycle with a fresh client.
pub async fn run_cycle(app: &AppConfig) -> AppReport {
    cycle::run(app, &client(app)).await
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
