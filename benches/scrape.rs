//! Benchmark: `/metrics` of a daemon watching 10,000 accounts (two apps of five watch
//! lists of 1,000), run through the real binaries against `tim-im-sim`.
//!
//! Reports the median and 90th percentile time of a scrape, plain and with gzip, the size
//! of each, and the daemon's resident memory. Run with `cargo bench --bench scrape`.

mod common;

use std::fmt::Write as _;
use std::io::Read;
use std::process::Command;

use common::spawn_logging_address;
use std::time::{Duration, Instant};

const APPS: [(&str, u64, &str); 2] = [
    ("bench-sg", 1_400_000_001, "singapore"),
    ("bench-eu", 1_400_000_002, "frankfurt"),
];
const LISTS_PER_APP: usize = 5;
const ACCOUNTS_PER_LIST: usize = 1_000;
const SCRAPES: usize = 200;
const KEY: &str = "bench-key-0123456789abcdef";

/// Resident and peak resident memory of a process, in KiB, from /proc.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user and system) a process has used so far, in milliseconds, from /proc.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // /proc counts in clock ticks, 100 per second on Linux.
    ticks * 10.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_tim-im-sim"));
    sim.args(["--listen", "127.0.0.1:0", "--latency", "20ms"]);
    for (_, sdkappid, _) in APPS {
        sim.arg("--app")
            .arg(format!("{sdkappid}:administrator:{KEY}"));
    }
    // Some accounts drift, so the scrape holds every kind of value.
    let drifting: Vec<String> = (0..ACCOUNTS_PER_LIST)
        .step_by(50)
        .map(|i| format!("user_0_{i:04}"))
        .collect();
    sim.arg("--not-imported").arg(drifting.join(","));
    let (mut sim, sim_addr) = spawn_logging_address(&mut sim);

    let mut config = String::from("apps:\n");
    for (name, sdkappid, region) in APPS {
        let _ = write!(
            config,
            "  - name: {name}\n    sdkappid: {sdkappid}\n    region: {region}\n    endpoint: http://{sim_addr}\n    admin: administrator\n    secret_key_env: BENCH_KEY\n    rate_limit: 100\n    interval: 60s\n    watchlists:\n"
        );
        for list in 0..LISTS_PER_APP {
            let file = format!("{name}-{list}.txt");
            let ids: String = (0..ACCOUNTS_PER_LIST)
                .map(|i| format!("user_{list}_{i:04}\n"))
                .collect();
            std::fs::write(dir.path().join(&file), ids).expect("ids written");
            let _ = write!(
                config,
                "      - name: list-{list}\n        user_ids_file: {file}\n"
            );
        }
    }
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, config).expect("config written");

    let (mut exporter, addr) = spawn_logging_address(
        Command::new(env!("CARGO_BIN_EXE_tim-account-exporter"))
            .args([
                "--web.listen-address",
                "127.0.0.1:0",
                "--log.level",
                "info",
                "--config.file",
            ])
            .arg(&config_path)
            .env("BENCH_KEY", KEY),
    );
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = http.get(format!("{base}/-/ready")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "the exporter never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut results = Vec::new();
    for gzip in [false, true] {
        let mut times = Vec::with_capacity(SCRAPES);
        let mut size = 0;
        let mut series = 0;
        let cpu_before = cpu_ms(exporter.id());
        for _ in 0..SCRAPES {
            let mut request = http.get(format!("{base}/metrics"));
            if gzip {
                request = request.header("accept-encoding", "gzip");
            }
            let started = Instant::now();
            let body = request
                .send()
                .await
                .expect("scrape")
                .bytes()
                .await
                .expect("body");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            size = body.len();
            let text = if gzip {
                let mut text = String::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_string(&mut text)
                    .expect("gzip");
                text
            } else {
                String::from_utf8(body.to_vec()).expect("utf-8")
            };
            series = text
                .lines()
                .filter(|l| l.starts_with("tim_account_status{"))
                .count();
        }
        let cpu_per_scrape = (cpu_ms(exporter.id()) - cpu_before) / SCRAPES as f64;
        times.sort_by(f64::total_cmp);
        results.push((
            gzip,
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            size,
            series,
            cpu_per_scrape,
        ));
    }
    let (rss, peak) = memory_kib(exporter.id());
    let _ = exporter.kill();
    let _ = exporter.wait();
    let _ = sim.kill();
    let _ = sim.wait();

    let accounts = APPS.len() * LISTS_PER_APP * ACCOUNTS_PER_LIST;
    println!("accounts                      {accounts}");
    for (gzip, median, p90, size, series, cpu) in results {
        assert_eq!(
            series,
            accounts * 3,
            "every account has its three status series"
        );
        println!(
            "scrape {:<5} over {SCRAPES} runs    median {median:.1} ms, p90 {p90:.1} ms, body {:.2} MiB, exporter CPU {cpu:.1} ms per scrape (target: median under 50 ms)",
            if gzip { "gzip" } else { "plain" },
            size as f64 / 1_048_576.0,
        );
    }
    println!(
        "resident memory               {:.1} MiB now, {:.1} MiB peak (target: under 64 MiB)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}
