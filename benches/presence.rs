//! Benchmark: one cycle of an app with 30,000 UserIDs, all on a watch list with
//! `presence`, at `rate_limit: 100` and `presence_rate_limit: 200` against `tim-im-sim`
//! (its own process, a fresh one per run) with 50 ms of latency. Both APIs run side by
//! side through the exporter's client, as in a real cycle.
//!
//! For each API it reports the calls, the bound (calls / limit), how long the calls took
//! to arrive at the simulator (first to last), when the last reply came back (from the
//! start of the cycle), and the most calls the simulator saw in any one second. Run with
//! `cargo bench --bench presence`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::spawn_logging_address;
use tim_account_exporter::config::{self, AppConfig, Sources};
use tim_account_exporter::tim::{Attempt, Client};

const ACCOUNTS: usize = 30_000;
const RATE_LIMIT: u32 = 100;
const PRESENCE_RATE_LIMIT: u32 = 200;
const RUNS: usize = 5;
const SDKAPPID: u64 = 1_400_000_000;
const KEY: &str = "bench-key-0123456789abcdef";

/// One API's figures in one run.
struct Run {
    calls: usize,
    /// Seconds from the first call's arrival at the simulator to the last's.
    arrival_span: f64,
    /// Seconds from the start of the cycle to the API's last reply.
    finished: f64,
    peak: u64,
    rate_limited: u64,
}

fn app(dir: &Path, endpoint: &str) -> Arc<AppConfig> {
    let ids: String = (0..ACCOUNTS).map(|i| format!("user_{i:06}\n")).collect();
    std::fs::write(dir.join("ids.txt"), ids).expect("ids written");
    let yaml = format!(
        "apps:\n  - name: bench\n    sdkappid: {SDKAPPID}\n    region: singapore\n    endpoint: {endpoint}\n    admin: administrator\n    secret_key: {KEY}\n    rate_limit: {RATE_LIMIT}\n    presence_rate_limit: {PRESENCE_RATE_LIMIT}\n    interval: 60s\n    watchlists:\n      - name: all\n        presence: online\n        user_ids_file: ids.txt\n"
    );
    let no_env = |_: &str| None;
    let loaded = config::from_yaml(
        &yaml,
        &Sources {
            base_dir: PathBuf::from(dir),
            env: &no_env,
        },
    )
    .expect("valid configuration");
    loaded.config.apps.into_iter().next().expect("one app")
}

/// One API's figures from the client's attempts and the simulator's counters.
async fn run_of(attempts: &[Attempt], finished: Duration, addr: &str, api: &str) -> Run {
    let url = format!("http://{addr}/sim/stats?sdkappid={SDKAPPID}&api={api}");
    let body = reqwest::get(url)
        .await
        .expect("stats")
        .bytes()
        .await
        .expect("stats body");
    let stats: serde_json::Value = serde_json::from_slice(&body).expect("stats JSON");
    Run {
        calls: attempts.len(),
        arrival_span: stats["arrival_span_ms"].as_u64().expect("span") as f64 / 1000.0,
        finished: finished.as_secs_f64(),
        peak: stats["max_requests_in_one_second"].as_u64().expect("peak"),
        rate_limited: stats["error_codes"]["60007"].as_u64().unwrap_or(0),
    }
}

fn report(name: &str, limit: u32, runs: &[Run]) {
    let calls = runs[0].calls;
    let bound = calls as f64 / f64::from(limit);
    println!("{name}");
    println!("  calls per cycle         {calls} (limit {limit}/s)");
    println!(
        "  bound (calls / limit)   {bound:.3} s (within 5%: {:.3} s)",
        bound * 1.05
    );
    let arrivals: Vec<f64> = runs.iter().map(|r| r.arrival_span).collect();
    let replies: Vec<f64> = runs.iter().map(|r| r.finished).collect();
    for (what, mut values) in [("first to last arrival", arrivals), ("last reply", replies)] {
        values.sort_by(f64::total_cmp);
        let median = values[values.len() / 2];
        println!(
            "  {what:<22}  median {median:.3} s ({:+.1}% of the bound), min {:.3} s, max {:.3} s",
            (median / bound - 1.0) * 100.0,
            values[0],
            values[values.len() - 1]
        );
    }
    println!(
        "  peak calls in one second at the simulator: {} (limit {limit}); rate-limit replies (60007): {}",
        runs.iter().map(|r| r.peak).max().unwrap_or(0),
        runs.iter().map(|r| r.rate_limited).sum::<u64>()
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut import_runs, mut presence_runs) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let (mut sim, addr) = spawn_logging_address(
            Command::new(env!("CARGO_BIN_EXE_tim-im-sim"))
                .args(["--listen", "127.0.0.1:0", "--latency", "50ms"])
                .args(["--rate-limit", &RATE_LIMIT.to_string()])
                .args(["--presence-rate-limit", &PRESENCE_RATE_LIMIT.to_string()])
                .arg("--app")
                .arg(format!("{SDKAPPID}:administrator:{KEY}")),
        );
        let app = app(dir.path(), &format!("http://{addr}"));
        let client = Client::new(app.client_settings()).expect("client builds");
        let (import_ids, presence_ids) = (app.distinct_user_ids(), app.presence_user_ids());
        let started = Instant::now();
        let deadline = started + app.interval;
        let ((import, import_done), (presence, presence_done)) = tokio::join!(
            async {
                let outcome = client.check(&import_ids, deadline).await;
                (outcome, started.elapsed())
            },
            async {
                let outcome = client.presence(&presence_ids, deadline).await;
                (outcome, started.elapsed())
            }
        );
        assert!(
            import.accounts.values().all(Result::is_ok)
                && presence.accounts.values().all(Result::is_ok),
            "run {run}: every account known"
        );
        import_runs.push(run_of(&import.attempts, import_done, &addr, "account_check").await);
        presence_runs.push(
            run_of(
                &presence.attempts,
                presence_done,
                &addr,
                "query_online_status",
            )
            .await,
        );
        let _ = sim.kill();
        let _ = sim.wait();
    }
    println!("accounts  {ACCOUNTS}, all with presence; 50 ms latency; {RUNS} runs");
    report("account_check", RATE_LIMIT, &import_runs);
    report("query_online_status", PRESENCE_RATE_LIMIT, &presence_runs);
}
