//! Benchmark: `/metrics` of a daemon watching 10,000 accounts (two apps of five watch
//! lists of 1,000), run through the real binaries against `tim-im-sim`.
//!
//! Reports the median and 90th percentile time of a scrape, plain and with gzip, the size
//! of each, and the daemon's resident memory. Run with `cargo bench --bench scrape`.

mod common;

use std::time::Instant;

use common::{cpu_ms, memory_kib, percentile, status_series, wait_until_ready, ScrapeSetup};

const SCRAPES: usize = 200;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = ScrapeSetup::start(dir.path());
    let exporter = setup.exporter(&[]);
    let http = reqwest::Client::new();
    let base = format!("http://{}", exporter.addr);
    wait_until_ready(|| http.get(format!("{base}/-/ready"))).await;

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
            series = status_series(&body, gzip);
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
    drop(exporter);
    drop(setup);

    let accounts = common::ACCOUNTS;
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
