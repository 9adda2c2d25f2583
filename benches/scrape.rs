//! Benchmark: `/metrics` of a daemon watching many accounts (two apps of five watch
//! lists), run through the real binaries against `tim-im-sim`, in three shapes:
//! 10,000 accounts with every series, 100,000 with every series, and 100,000 with
//! `account_series: problems` and 1% of them in drift.
//!
//! Reports, per shape, the first scrape after the cycle (which renders the state), then
//! the median and 90th percentile of a scrape, plain and with gzip, the size of each, the
//! exporter's CPU per scrape and its resident memory. Run with `cargo bench --bench scrape`
//! (all shapes) or `cargo bench --bench scrape -- 100k-all` (one). `BENCH_EXPORTER=path`
//! measures another build of the exporter.

mod common;

use std::time::Instant;

use common::{cpu_ms, memory_kib, percentile, status_series, wait_until_ready, ScrapeSetup, Shape};

/// A shape, its name, how many scrapes of each kind to time, and its targets.
struct Case {
    name: &'static str,
    shape: Shape,
    scrapes: usize,
    target: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        name: "10k-all",
        shape: Shape::DEFAULT,
        scrapes: 200,
        target: "no slower than 11 ms plain, 20 ms gzip",
    },
    Case {
        name: "100k-all",
        shape: Shape {
            accounts_per_list: 10_000,
            ..Shape::DEFAULT
        },
        scrapes: 100,
        target: "median at most 60 ms plain and gzip, RSS at most 128 MiB",
    },
    Case {
        name: "100k-problems",
        shape: Shape {
            accounts_per_list: 10_000,
            account_series: "problems",
            drift_every: 100,
            drift_in_every_list: true,
        },
        scrapes: 200,
        target: "median at most 5 ms, body at most 1 MiB",
    },
];

/// One scrape: how long until its last byte came, and its length. The body is read as it
/// comes, as a scraper parses it, and not gathered.
async fn timed_scrape(http: &reqwest::Client, url: &str, gzip: bool) -> (f64, usize) {
    let started = Instant::now();
    let mut response = request(http, url, gzip).send().await.expect("scrape");
    let mut length = 0;
    while let Some(chunk) = response.chunk().await.expect("body") {
        length += chunk.len();
    }
    (started.elapsed().as_secs_f64() * 1000.0, length)
}

fn request(http: &reqwest::Client, url: &str, gzip: bool) -> reqwest::RequestBuilder {
    let request = http.get(url);
    if gzip {
        request.header("accept-encoding", "gzip")
    } else {
        request
    }
}

async fn run(case: &Case) {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = ScrapeSetup::start_with(dir.path(), case.shape);
    let exporter = setup.exporter(&[]);
    let http = reqwest::Client::new();
    let base = format!("http://{}", exporter.addr);
    let url = format!("{base}/metrics");
    wait_until_ready(|| http.get(format!("{base}/-/ready"))).await;

    let accounts = case.shape.accounts();
    let served = if case.shape.account_series == "all" {
        accounts
    } else {
        case.shape.drift()
    };
    println!(
        "{} ({accounts} accounts, account_series: {}, {} in drift; target: {})",
        case.name,
        case.shape.account_series,
        case.shape.drift(),
        case.target
    );
    for gzip in [false, true] {
        let (first, _) = timed_scrape(&http, &url, gzip).await;
        let mut times = Vec::with_capacity(case.scrapes);
        let mut size = 0;
        let cpu_before = cpu_ms(exporter.id());
        for _ in 0..case.scrapes {
            let (time, length) = timed_scrape(&http, &url, gzip).await;
            times.push(time);
            size = length;
        }
        let cpu = (cpu_ms(exporter.id()) - cpu_before) / case.scrapes as f64;
        times.sort_by(f64::total_cmp);
        let body = request(&http, &url, gzip)
            .send()
            .await
            .expect("scrape")
            .bytes()
            .await
            .expect("body");
        assert_eq!(
            status_series(&body, gzip),
            served * 3,
            "each served account has its three status series"
        );
        println!(
            "  {:<5} first {first:.1} ms; over {} runs median {:.1} ms, p90 {:.1} ms, body {:.2} MiB, exporter CPU {cpu:.1} ms per scrape",
            if gzip { "gzip" } else { "plain" },
            case.scrapes,
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            size as f64 / 1_048_576.0,
        );
    }
    let (rss, peak) = memory_kib(exporter.id());
    println!(
        "  resident memory {:.1} MiB now, {:.1} MiB peak",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; any other argument names the shapes to run.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for case in &CASES {
        if wanted.is_empty() || wanted.iter().any(|w| w == case.name) {
            run(case).await;
        }
    }
}
