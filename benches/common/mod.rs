//! What the benchmarks share: starting a binary that logs the address it listens on, the
//! scrape setup of 10,000 accounts (`tim-im-sim` and its configuration), starting the
//! exporter on it, and the figures read from `/proc`.
//!
//! Each benchmark is its own crate that compiles this module whole and uses only part of
//! it, so what one of them leaves unused is not dead code.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The apps of the scrape setup: name, SDKAppID, region.
pub const APPS: [(&str, u64, &str); 2] = [
    ("bench-sg", 1_400_000_001, "singapore"),
    ("bench-eu", 1_400_000_002, "frankfurt"),
];
pub const LISTS_PER_APP: usize = 5;

/// How large the scrape setup is and what its lists serve.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Accounts in each of the five watch lists of each app.
    pub accounts_per_list: usize,
    /// The lists' `account_series`.
    pub account_series: &'static str,
    /// One account in this many is not imported: of the first list only, or of every list.
    pub drift_every: usize,
    pub drift_in_every_list: bool,
}

impl Shape {
    /// 10,000 accounts, every series served, 1 in 50 of each app's first list in drift.
    pub const DEFAULT: Shape = Shape {
        accounts_per_list: 1_000,
        account_series: "all",
        drift_every: 50,
        drift_in_every_list: false,
    };

    /// Every account watched.
    pub fn accounts(&self) -> usize {
        APPS.len() * LISTS_PER_APP * self.accounts_per_list
    }

    /// The accounts not imported at the simulator (each in both apps).
    fn drifting(&self) -> Vec<String> {
        let lists = if self.drift_in_every_list {
            LISTS_PER_APP
        } else {
            1
        };
        (0..lists)
            .flat_map(|list| {
                (0..self.accounts_per_list)
                    .step_by(self.drift_every)
                    .map(move |i| format!("user_{list}_{i:04}"))
            })
            .collect()
    }

    /// Accounts in drift over both apps.
    pub fn drift(&self) -> usize {
        APPS.len() * self.drifting().len()
    }
}
const KEY: &str = "bench-key-0123456789abcdef";

/// Starts `command` and returns it with the address it logs (`address=...`).
pub fn spawn_logging_address(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("an address is logged").expect("utf-8");
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining standard error so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// A child process that is killed when dropped, so a failed assertion leaves none behind.
pub struct Running {
    pub child: Child,
    /// The address it logged.
    pub addr: String,
}

impl Running {
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The scrape setup: `tim-im-sim` with 20 ms of latency serving two apps, and a
/// configuration in `dir` watching accounts on it (two apps of five watch lists), some not
/// imported so the scrape holds every kind of value.
pub struct ScrapeSetup {
    pub sim: Running,
    pub config: PathBuf,
}

impl ScrapeSetup {
    /// The default shape: 10,000 accounts.
    pub fn start(dir: &Path) -> ScrapeSetup {
        Self::start_with(dir, Shape::DEFAULT)
    }

    pub fn start_with(dir: &Path, shape: Shape) -> ScrapeSetup {
        let mut sim = Command::new(env!("CARGO_BIN_EXE_tim-im-sim"));
        sim.args(["--listen", "127.0.0.1:0", "--latency", "20ms"]);
        for (_, sdkappid, _) in APPS {
            sim.arg("--app")
                .arg(format!("{sdkappid}:administrator:{KEY}"));
        }
        sim.arg("--not-imported").arg(shape.drifting().join(","));
        let (child, sim_addr) = spawn_logging_address(&mut sim);
        let sim = Running {
            child,
            addr: sim_addr,
        };

        let mut config = String::from("apps:\n");
        for (name, sdkappid, region) in APPS {
            let _ = write!(
                config,
                "  - name: {name}\n    sdkappid: {sdkappid}\n    region: {region}\n    endpoint: http://{}\n    admin: administrator\n    secret_key_env: BENCH_KEY\n    rate_limit: 100\n    interval: 60s\n    watchlists:\n",
                sim.addr
            );
            for list in 0..LISTS_PER_APP {
                let file = format!("{name}-{list}.txt");
                let ids: String = (0..shape.accounts_per_list)
                    .map(|i| format!("user_{list}_{i:04}\n"))
                    .collect();
                std::fs::write(dir.join(&file), ids).expect("ids written");
                let _ = write!(
                    config,
                    "      - name: list-{list}\n        user_ids_file: {file}\n        account_series: {}\n",
                    shape.account_series
                );
            }
        }
        let path = dir.join("config.yaml");
        std::fs::write(&path, config).expect("config written");
        ScrapeSetup { sim, config: path }
    }

    /// Starts the exporter (release build, or the binary `BENCH_EXPORTER` names, to
    /// compare another build) on the setup's configuration, on a free loopback port, with
    /// `extra` arguments.
    pub fn exporter(&self, extra: &[&str]) -> Running {
        let binary = std::env::var_os("BENCH_EXPORTER")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_tim-account-exporter").into());
        let (child, addr) = spawn_logging_address(
            Command::new(binary)
                .args(["--web.listen-address", "127.0.0.1:0", "--log.level", "info"])
                .args(extra)
                .arg("--config.file")
                .arg(&self.config)
                .env("BENCH_KEY", KEY),
        );
        Running { child, addr }
    }
}

/// Waits until the request `ready` makes succeeds: every app has finished its first
/// cycle when it asks for `/-/ready`.
pub async fn wait_until_ready(ready: impl Fn() -> reqwest::RequestBuilder) {
    wait_until_ready_within(ready, Duration::from_secs(60)).await;
}

/// [`wait_until_ready`], for a first cycle that may take up to `limit`.
pub async fn wait_until_ready_within(ready: impl Fn() -> reqwest::RequestBuilder, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let answer = ready().send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "the exporter never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What `tim-im-sim` at `addr` saw of app `sdkappid` (`/sim/stats`), as JSON.
pub async fn sim_stats(addr: &str, sdkappid: u64) -> serde_json::Value {
    let body = reqwest::get(format!("http://{addr}/sim/stats?sdkappid={sdkappid}"))
        .await
        .expect("stats")
        .bytes()
        .await
        .expect("stats body");
    serde_json::from_slice(&body).expect("stats JSON")
}

/// How many `tim_account_status` series a `/metrics` body holds, decompressing it first
/// when it is gzip.
pub fn status_series(body: &[u8], gzip: bool) -> usize {
    let text = if gzip {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(body), &mut text)
            .expect("gzip");
        text
    } else {
        String::from_utf8(body.to_vec()).expect("utf-8")
    };
    text.lines()
        .filter(|l| l.starts_with("tim_account_status{"))
        .count()
}

/// Resident and peak resident memory of a process, in KiB, from /proc.
pub fn memory_kib(pid: u32) -> (u64, u64) {
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
pub fn cpu_ms(pid: u32) -> f64 {
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

/// The value at fraction `p` of `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
