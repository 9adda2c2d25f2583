//! Benchmark: one app watching 1,000,000 distinct UserIDs from a `user_ids_file`, with
//! `account_series: problems` and 1 in 1,000 not imported, run through the real binaries
//! against `tim-im-sim` (20 ms of latency, its rate limit at 100 calls/s).
//!
//! Reports how long `--config.check` takes to load and validate the configuration, the
//! first cycle of the daemon against its bound (10,000 calls at `rate_limit` 100), the
//! resident memory after it, `/metrics`, the page and `/api/v1/status`, and the longest
//! `/metrics` took while `/api/v1/status` was being built, and a reload. Run with
//! `cargo bench --bench million` (about three minutes).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    memory_kib, percentile, sim_stats, spawn_logging_address, wait_until_ready_within, Running,
};

const ACCOUNTS: usize = 1_000_000;
/// One account in this many is not imported at the simulator.
const DRIFT_EVERY: usize = 1_000;
const RATE_LIMIT: u32 = 100;
/// account_check takes 100 UserIDs a call.
const CALLS: usize = ACCOUNTS / 100;
const SDKAPPID: u64 = 1_400_000_000;
const KEY: &str = "bench-key-0123456789abcdef";

fn user_id(i: usize) -> String {
    format!("bench-user-{i:09}")
}

/// The value of the first sample of `/metrics` text whose line starts with `prefix`.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix}"))
}

async fn timed_get(http: &reqwest::Client, url: &str) -> (f64, usize) {
    let started = Instant::now();
    let response = http.get(url).send().await.expect("request");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let length = response.bytes().await.expect("body").len();
    (started.elapsed().as_secs_f64() * 1000.0, length)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids: String = (0..ACCOUNTS).map(|i| user_id(i) + "\n").collect();
    std::fs::write(dir.path().join("ids.txt"), &ids).expect("ids written");
    let drifting: Vec<String> = (0..ACCOUNTS).step_by(DRIFT_EVERY).map(user_id).collect();

    let mut sim = Command::new(env!("CARGO_BIN_EXE_tim-im-sim"));
    sim.args([
        "--listen",
        "127.0.0.1:0",
        "--latency",
        "20ms",
        "--rate-limit",
    ])
    .arg(RATE_LIMIT.to_string())
    .arg("--app")
    .arg(format!("{SDKAPPID}:administrator:{KEY}"));
    // One argument may not pass 128 KiB: the UserIDs go in several.
    for chunk in drifting.chunks(1_000) {
        sim.arg("--not-imported").arg(chunk.join(","));
    }
    let (child, sim_addr) = spawn_logging_address(&mut sim);
    let sim = Running {
        child,
        addr: sim_addr,
    };
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "apps:\n  - name: bench\n    sdkappid: {SDKAPPID}\n    region: singapore\n    endpoint: http://{}\n    admin: administrator\n    secret_key_env: BENCH_KEY\n    rate_limit: {RATE_LIMIT}\n    interval: 110s\n    timeout: 5s\n    watchlists:\n      - name: all\n        user_ids_file: ids.txt\n        account_series: problems\n",
            sim.addr
        ),
    )
    .expect("config written");
    let binary = env!("CARGO_BIN_EXE_tim-account-exporter");
    println!(
        "one app, {ACCOUNTS} UserIDs from user_ids_file ({:.1} MiB), account_series: problems, {} not imported",
        ids.len() as f64 / 1_048_576.0,
        drifting.len()
    );
    drop(ids);

    let mut checks = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = Command::new(binary)
            .arg("--config.check")
            .arg("--config.file")
            .arg(&config)
            .env("BENCH_KEY", KEY)
            .output()
            .expect("--config.check runs");
        checks.push(started.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    checks.sort_by(f64::total_cmp);
    println!(
        "  --config.check (load and validate): median {:.2} s of 3 (target: at most 3 s)",
        checks[1]
    );

    let started = Instant::now();
    let (child, addr) = spawn_logging_address(
        Command::new(binary)
            .args(["--web.listen-address", "127.0.0.1:0", "--log.level", "info"])
            .arg("--config.file")
            .arg(&config)
            .env("BENCH_KEY", KEY),
    );
    let exporter = Running { child, addr };
    println!(
        "  daemon listening after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let http = reqwest::Client::new();
    let base = format!("http://{}", exporter.addr);
    let metrics = format!("{base}/metrics");
    wait_until_ready_within(
        || http.get(format!("{base}/-/ready")),
        Duration::from_secs(300),
    )
    .await;
    let text = http
        .get(&metrics)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let duration = sample(&text, "tim_check_duration_seconds{");
    let bound = CALLS as f64 / f64::from(RATE_LIMIT);
    assert_eq!(
        sample(&text, "tim_check_success{"),
        1.0,
        "every account got a status"
    );
    let drift_series = text
        .lines()
        .filter(|l| l.starts_with("tim_account_drift{") && l.ends_with(" 1"))
        .count();
    assert_eq!(
        drift_series,
        drifting.len(),
        "every account in drift has its series"
    );
    println!(
        "  first cycle: {CALLS} calls in {duration:.2} s, bound {bound:.1} s ({:+.1}%; target: within 5%)",
        (duration / bound - 1.0) * 100.0
    );
    let stats = sim_stats(&sim.addr, SDKAPPID).await;
    println!(
        "  most calls the simulator saw in one second: {} (limit {RATE_LIMIT})",
        stats["max_requests_in_one_second"]
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, peak) = memory_kib(exporter.id());
    println!(
        "  resident memory after the cycle {:.1} MiB, peak {:.1} MiB (target: at most 512 MiB)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );

    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..50 {
        let (time, length) = timed_get(&http, &metrics).await;
        times.push(time);
        size = length;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "  /metrics: median {:.1} ms, p90 {:.1} ms, body {:.1} KiB, {drift_series} drift series",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        size as f64 / 1024.0
    );
    let (page, page_size) = timed_get(&http, &format!("{base}/")).await;
    println!("  page: {page:.0} ms, {:.1} KiB", page_size as f64 / 1024.0);

    // /api/v1/status of every account, with /metrics scraped all the while.
    let status = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/api/v1/status");
        async move { timed_get(&http, &url).await }
    });
    let mut during = Vec::new();
    while !status.is_finished() {
        during.push(timed_get(&http, &metrics).await.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (json, json_size) = status.await.expect("status task");
    during.sort_by(f64::total_cmp);
    println!(
        "  /api/v1/status: {:.2} s, {:.1} MiB; /metrics meanwhile: {} scrapes, longest {:.1} ms",
        json / 1000.0,
        json_size as f64 / 1_048_576.0,
        during.len(),
        during.last().copied().unwrap_or(0.0)
    );

    // A reload of the same configuration (`POST /-/reload`), with /metrics scraped all the
    // while.
    let reload = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/-/reload");
        async move {
            let started = Instant::now();
            let response = http.post(&url).send().await.expect("reload");
            assert!(
                response.status().is_success(),
                "reload: {}",
                response.status()
            );
            started.elapsed().as_secs_f64()
        }
    });
    let mut during = Vec::new();
    while !reload.is_finished() {
        during.push(timed_get(&http, &metrics).await.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reload = reload.await.expect("reload task");
    during.sort_by(f64::total_cmp);
    println!(
        "  reload: {reload:.2} s; /metrics meanwhile: {} scrapes, longest {:.1} ms",
        during.len(),
        during.last().copied().unwrap_or(0.0)
    );
    let (rss, peak) = memory_kib(exporter.id());
    println!(
        "  resident memory at the end {:.1} MiB, peak {:.1} MiB",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}
