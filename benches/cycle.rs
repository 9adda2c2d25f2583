//! Benchmark: one cycle of an app with 30,000 UserIDs at `rate_limit: 100` against
//! `tim-im-sim` with 50 ms of latency, run through the real binaries.
//!
//! Reports calls, cycle duration, the bound (calls / rate_limit), and the most calls the
//! simulator saw in any one second. Run with `cargo bench --bench cycle`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{sim_stats, spawn_logging_address};

const ACCOUNTS: usize = 30_000;
const RATE_LIMIT: u32 = 100;
const RUNS: usize = 5;
const SDKAPPID: u64 = 1_400_000_000;
const KEY: &str = "bench-key-0123456789abcdef";

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut sim, addr) = spawn_logging_address(
        Command::new(env!("CARGO_BIN_EXE_tim-im-sim"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--latency",
                "50ms",
                "--rate-limit",
            ])
            .arg(RATE_LIMIT.to_string())
            .arg("--app")
            .arg(format!("{SDKAPPID}:administrator:{KEY}")),
    );
    let ids: String = (0..ACCOUNTS).map(|i| format!("user_{i:06}\n")).collect();
    std::fs::write(dir.path().join("ids.txt"), ids).expect("ids written");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "apps:\n  - name: bench\n    sdkappid: {SDKAPPID}\n    region: singapore\n    endpoint: http://{addr}\n    admin: administrator\n    secret_key_env: BENCH_KEY\n    rate_limit: {RATE_LIMIT}\n    interval: 60s\n    watchlists:\n      - name: all\n        user_ids_file: ids.txt\n"
        ),
    )
    .expect("config written");

    let mut durations = Vec::new();
    let mut calls = 0;
    for run in 0..RUNS {
        let out = Command::new(env!("CARGO_BIN_EXE_tim-account-exporter"))
            .args([
                "--once",
                "--output",
                "json",
                "--log.level",
                "warn",
                "--config.file",
            ])
            .arg(&config)
            .env("BENCH_KEY", KEY)
            .output()
            .expect("exporter runs");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        let app = &json["apps"][0];
        assert_eq!(
            json["summary"]["unknown"], 0,
            "run {run}: every account known"
        );
        calls = app["calls"].as_u64().expect("calls") as usize;
        durations.push(app["duration_seconds"].as_f64().expect("duration"));
        // Runs are apart by more than a second, so one window never spans two runs.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let stats = sim_stats(&addr, SDKAPPID).await;
    let _ = sim.kill();
    let _ = sim.wait();

    durations.sort_by(f64::total_cmp);
    let bound = calls as f64 / f64::from(RATE_LIMIT);
    let median = durations[durations.len() / 2];
    println!("accounts                      {ACCOUNTS}");
    println!("calls per cycle               {calls}");
    println!("rate_limit                    {RATE_LIMIT}/s");
    println!(
        "bound (calls / rate_limit)    {bound:.3} s (target: within 5%, {:.3} s)",
        bound * 1.05
    );
    println!(
        "cycle duration over {RUNS} runs   median {median:.3} s, min {:.3} s, max {:.3} s",
        durations[0],
        durations[durations.len() - 1]
    );
    println!(
        "median vs bound               {:+.1}%",
        (median / bound - 1.0) * 100.0
    );
    println!(
        "most calls the simulator saw in one second: {} (limit {RATE_LIMIT}); rate-limit replies (60007): {}",
        stats["max_requests_in_one_second"],
        stats["error_codes"]["60007"].as_u64().unwrap_or(0)
    );
}
