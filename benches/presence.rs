//! Benchmark: one cycle of an app with 30,000 UserIDs, all on a watch list with
//! `presence`, at `rate_limit: 100` and `presence_rate_limit: 200` against the simulator
//! with 50 ms of latency. Both APIs run side by side, as in a real cycle.
//!
//! For each API it reports the calls, when the last call started and when the last reply
//! came back (from the start of the cycle), the bound (calls / limit), and the most calls
//! the simulator saw in any one second. Run with `cargo bench --bench presence`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tim_account_exporter::config::{self, AppConfig, Sources};
use tim_account_exporter::sim::{SimApp, SimOptions, SimStats, Simulator};
use tim_account_exporter::tim::{Attempt, Client, Secret};

const ACCOUNTS: usize = 30_000;
const RATE_LIMIT: u32 = 100;
const PRESENCE_RATE_LIMIT: u32 = 200;
const RUNS: usize = 5;
const SDKAPPID: u64 = 1_400_000_000;
const KEY: &str = "bench-key-0123456789abcdef";

/// One API's figures in one run.
struct Run {
    calls: usize,
    finished: f64,
    peak: usize,
    rate_limited: usize,
}

fn app(dir: &std::path::Path, endpoint: &str) -> Arc<AppConfig> {
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

fn run_of(attempts: &[Attempt], finished: Duration, stats: &SimStats) -> Run {
    Run {
        calls: attempts.len(),
        finished: finished.as_secs_f64(),
        peak: stats.max_requests_in_one_second,
        rate_limited: stats.error_codes.get(&60007).copied().unwrap_or(0),
    }
}

fn report(name: &str, limit: u32, runs: &[Run]) {
    let calls = runs[0].calls;
    let bound = calls as f64 / f64::from(limit);
    let mut finished: Vec<f64> = runs.iter().map(|r| r.finished).collect();
    finished.sort_by(f64::total_cmp);
    let median = finished[finished.len() / 2];
    // The last call may start at (calls - 1) spacings of 1.01 s / limit.
    let last_start = (calls - 1) as f64 * 1.01 / f64::from(limit);
    println!("{name}");
    println!("  calls per cycle             {calls} (limit {limit}/s)");
    println!(
        "  bound (calls / limit)       {bound:.3} s (within 5%: {:.3} s)",
        bound * 1.05
    );
    println!(
        "  last call starts at         {last_start:.3} s ({:+.1}% of the bound)",
        (last_start / bound - 1.0) * 100.0
    );
    println!(
        "  last reply, over {RUNS} runs    median {median:.3} s ({:+.1}%), min {:.3} s, max {:.3} s",
        (median / bound - 1.0) * 100.0,
        finished[0],
        finished[finished.len() - 1]
    );
    println!(
        "  peak calls in one second    {} (limit {limit}); rate-limit replies (60007): {}",
        runs.iter().map(|r| r.peak).max().unwrap_or(0),
        runs.iter().map(|r| r.rate_limited).sum::<usize>()
    );
}

#[tokio::main]
async fn main() {
    let sim = Simulator::start(SimOptions {
        apps: vec![SimApp {
            sdkappid: SDKAPPID,
            admin: "administrator".to_owned(),
            key: Secret::new(KEY),
        }],
        latency: Duration::from_millis(50),
        rate_limit: RATE_LIMIT,
        presence_rate_limit: PRESENCE_RATE_LIMIT,
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app(dir.path(), &sim.endpoint());
    let client = Client::new(app.client_settings()).expect("client builds");
    let (import_ids, presence_ids) = (app.distinct_user_ids(), app.presence_user_ids());
    let (mut import_runs, mut presence_runs) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        sim.reset_stats(SDKAPPID);
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
        import_runs.push(run_of(&import.attempts, import_done, &sim.stats(SDKAPPID)));
        presence_runs.push(run_of(
            &presence.attempts,
            presence_done,
            &sim.presence_stats(SDKAPPID),
        ));
        // Runs are apart by more than a second, so one window never spans two runs.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    println!("accounts                      {ACCOUNTS}, all with presence, 50 ms latency");
    report("account_check", RATE_LIMIT, &import_runs);
    report("query_online_status", PRESENCE_RATE_LIMIT, &presence_runs);
}
