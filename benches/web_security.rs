//! Benchmark: what TLS and basic authentication cost a scrape. Two exporters with the same
//! 10,000 accounts (two apps of five watch lists of 1,000) run side by side against
//! `tim-im-sim`: one plain, one with `--web.config.file` (TLS with an ECDSA P-256
//! certificate, and basic auth with a bcrypt hash of cost 10).
//!
//! - Latency: 200 scrapes of `/metrics` of each, without and with gzip, each series on one
//!   kept-alive connection, the plain and the secured scrape in turn (their order swapped
//!   every round) so a busy machine slows both alike. Median, p90, their ratio, and the
//!   exporter's CPU time per scrape.
//! - Throughput: 50 clients, each on its own kept-alive connection, scrape `/metrics` as
//!   fast as they can for 10 s per exporter (two halves of 5 s, in turn).
//! - The first request: what a new TLS connection and an uncached bcrypt check add, which
//!   kept-alive scrapes after the first do not pay (checks are cached by design).
//!
//! Client and exporters share the machine's cores, so the client's own TLS work slows the
//! secured figures too. Run with `cargo bench --bench web_security`.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{cpu_ms, memory_kib, percentile, status_series, wait_until_ready, Running};
use common::{ScrapeSetup, Shape};
use tokio::sync::Barrier;

const SCRAPES: usize = 200;
const CLIENTS: usize = 50;
/// Each exporter is loaded this long per half, in two halves.
const LOAD_HALF: Duration = Duration::from_secs(5);
/// bcrypt's cost; exporter-toolkit's documentation uses 10 too.
const BCRYPT_COST: u32 = 10;
const USER: &str = "prometheus";
const PASSWORD: &str = "bench-password-0123";
/// Users that scrape once each, so their first request pays a bcrypt check.
const FIRST_USERS: usize = 5;
/// The target: a secured scrape takes at most this many times a plain one.
const TARGET_RATIO: f64 = 1.5;

/// One exporter under test and how to reach it.
struct Target {
    name: &'static str,
    exporter: Running,
    base: String,
    /// `Some` for the secured exporter: the CA that signed its certificate.
    ca: Option<reqwest::Certificate>,
}

impl Target {
    /// A new client: its own pool, so its own connection, kept alive between requests.
    fn client(&self) -> reqwest::Client {
        let mut builder = reqwest::Client::builder();
        if let Some(ca) = &self.ca {
            builder = builder.add_root_certificate(ca.clone());
        }
        builder.build().expect("client")
    }

    fn get(&self, client: &reqwest::Client, path: &str, user: &str) -> reqwest::RequestBuilder {
        let request = client.get(format!("{}{path}", self.base));
        if self.ca.is_some() {
            request.basic_auth(user, Some(PASSWORD))
        } else {
            request
        }
    }

    /// One request, timed from sending to the last byte; checks the answer is a 200.
    async fn timed(
        &self,
        client: &reqwest::Client,
        path: &str,
        user: &str,
        gzip: bool,
    ) -> (f64, impl std::ops::Deref<Target = [u8]>) {
        let mut request = self.get(client, path, user);
        if gzip {
            request = request.header("accept-encoding", "gzip");
        }
        let started = Instant::now();
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 200, "{} {path}", self.name);
        let body = response.bytes().await.expect("body");
        (started.elapsed().as_secs_f64() * 1000.0, body)
    }
}

/// One latency series: a target, with or without gzip, on one client.
struct Series<'a> {
    target: &'a Target,
    gzip: bool,
    client: reqwest::Client,
    times: Vec<f64>,
    cpu: f64,
    size: usize,
}

/// What the load of one target gave.
#[derive(Default)]
struct Load {
    requests: u64,
    bytes: u64,
    seconds: f64,
    exporter_cpu: f64,
    client_cpu: f64,
}

fn web_config(dir: &Path, hash: &str, first_users: &[String]) -> std::path::PathBuf {
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web-config/certs");
    let mut yaml = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {USER}: \"{hash}\"\n",
        certs.join("server.crt").display(),
        certs.join("server.key").display(),
    );
    for (i, first) in first_users.iter().enumerate() {
        let _ = writeln!(yaml, "  first-{i}: \"{first}\"");
    }
    let path = dir.join("web-config.yml");
    std::fs::write(&path, yaml).expect("web config written");
    path
}

/// 50 clients on their own connections scrape `/metrics` of `target` for `span`.
async fn load(target: &Arc<Target>, gzip: bool, span: Duration) -> Load {
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let target = Arc::clone(target);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let client = target.client();
            // Connect (and for TLS shake hands) before the clock starts.
            target.timed(&client, "/-/healthy", USER, false).await;
            barrier.wait().await;
            let end = Instant::now() + span;
            let (mut requests, mut bytes) = (0, 0);
            while Instant::now() < end {
                let (_, body) = target.timed(&client, "/metrics", USER, gzip).await;
                requests += 1;
                bytes += body.len() as u64;
            }
            (requests, bytes)
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    let (exporter_before, client_before) =
        (cpu_ms(target.exporter.id()), cpu_ms(std::process::id()));
    let mut result = Load::default();
    for task in tasks {
        let (requests, bytes) = task.await.expect("client task");
        result.requests += requests;
        result.bytes += bytes;
    }
    result.seconds = started.elapsed().as_secs_f64();
    result.exporter_cpu = cpu_ms(target.exporter.id()) - exporter_before;
    result.client_cpu = cpu_ms(std::process::id()) - client_before;
    result
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(&values, 0.5)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let setup = ScrapeSetup::start(dir.path());

    let hash = bcrypt::hash(PASSWORD, BCRYPT_COST).expect("bcrypt");
    let first_users: Vec<String> = (0..FIRST_USERS)
        .map(|_| bcrypt::hash(PASSWORD, BCRYPT_COST).expect("bcrypt"))
        .collect();
    let web_config = web_config(dir.path(), &hash, &first_users);
    let ca =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web-config/certs/ca.crt"))
            .expect("CA certificate");

    let plain = setup.exporter(&[]);
    let secured = setup.exporter(&["--web.config.file", web_config.to_str().expect("utf-8")]);
    let plain = Arc::new(Target {
        name: "plain HTTP",
        base: format!("http://{}", plain.addr),
        exporter: plain,
        ca: None,
    });
    let secured = Arc::new(Target {
        name: "TLS + basic auth",
        base: format!("https://{}", secured.addr),
        exporter: secured,
        ca: Some(reqwest::Certificate::from_pem(&ca).expect("CA PEM")),
    });
    let targets = [&plain, &secured];
    for target in targets {
        let client = target.client();
        wait_until_ready(|| target.get(&client, "/-/ready", USER)).await;
    }
    // The secured exporter really asks for a password: the figures below are of TLS and
    // authentication at work.
    let anonymous = secured
        .client()
        .get(format!("{}/metrics", secured.base))
        .send()
        .await
        .expect("request");
    assert_eq!(
        anonymous.status(),
        401,
        "a scrape without a user is refused"
    );

    // Latency: one scrape of each series per round, plain and secured in turn.
    let mut series: Vec<Series<'_>> = [false, true]
        .into_iter()
        .flat_map(|gzip| {
            targets.map(|target| Series {
                target,
                gzip,
                client: target.client(),
                times: Vec::with_capacity(SCRAPES),
                cpu: 0.0,
                size: 0,
            })
        })
        .collect();
    for round in 0..SCRAPES {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..series.len()).collect()
        } else {
            (0..series.len()).rev().collect()
        };
        for i in order {
            let s = &mut series[i];
            let pid = s.target.exporter.id();
            let cpu_before = cpu_ms(pid);
            let (ms, body) = s.target.timed(&s.client, "/metrics", USER, s.gzip).await;
            s.cpu += cpu_ms(pid) - cpu_before;
            s.times.push(ms);
            s.size = body.len();
            // Checking every body would double the client's work; the first and last do.
            if round == 0 || round == SCRAPES - 1 {
                assert_eq!(
                    status_series(&body, s.gzip),
                    Shape::DEFAULT.accounts() * 3,
                    "{}: every account has its three status series",
                    s.target.name
                );
            }
        }
    }

    // The first request: a new connection, and a user whose check is not cached yet.
    let mut costs: Vec<(&str, Vec<f64>)> = vec![
        ("plain: new connection, first request", Vec::new()),
        ("TLS: new connection, cached user", Vec::new()),
        ("TLS: new connection, uncached user (bcrypt)", Vec::new()),
        ("TLS: kept-alive connection, cached user", Vec::new()),
    ];
    for i in 0..FIRST_USERS {
        let (ms, _) = plain
            .timed(&plain.client(), "/-/healthy", USER, false)
            .await;
        costs[0].1.push(ms);
        let client = secured.client();
        let (ms, _) = secured.timed(&client, "/-/healthy", USER, false).await;
        costs[1].1.push(ms);
        let (ms, _) = secured.timed(&client, "/-/healthy", USER, false).await;
        costs[3].1.push(ms);
        let first = format!("first-{i}");
        let (ms, _) = secured
            .timed(&secured.client(), "/-/healthy", &first, false)
            .await;
        costs[2].1.push(ms);
    }
    let verify_started = Instant::now();
    assert!(bcrypt::verify(PASSWORD, &hash).expect("bcrypt"));
    let verify_ms = verify_started.elapsed().as_secs_f64() * 1000.0;

    // Throughput: both exporters in turn, twice, for each encoding.
    let mut loads = Vec::new();
    for gzip in [false, true] {
        let mut totals = [Load::default(), Load::default()];
        for half in 0..2 {
            let order = if half == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let got = load(targets[i], gzip, LOAD_HALF).await;
                let total = &mut totals[i];
                total.requests += got.requests;
                total.bytes += got.bytes;
                total.seconds += got.seconds;
                total.exporter_cpu += got.exporter_cpu;
                total.client_cpu += got.client_cpu;
            }
        }
        loads.push((gzip, totals));
    }
    let memory = targets.map(|t| memory_kib(t.exporter.id()));

    println!("accounts {}, bcrypt cost {BCRYPT_COST}, {SCRAPES} scrapes per series, plain and secured in turn", Shape::DEFAULT.accounts());
    println!();
    println!("latency of /metrics on a kept-alive connection (request to last byte)");
    println!(
        "{:<26} {:>10} {:>10} {:>10} {:>16}",
        "series", "median ms", "p90 ms", "body MiB", "exporter CPU ms"
    );
    let mut ratios = Vec::new();
    for pair in series.chunks_mut(2) {
        for s in pair.iter_mut() {
            s.times.sort_by(f64::total_cmp);
            println!(
                "{:<26} {:>10.1} {:>10.1} {:>10.2} {:>16.1}",
                format!("{}{}", s.target.name, if s.gzip { ", gzip" } else { "" }),
                percentile(&s.times, 0.5),
                percentile(&s.times, 0.9),
                s.size as f64 / 1_048_576.0,
                s.cpu / SCRAPES as f64,
            );
        }
        let ratio = |p| percentile(&pair[1].times, p) / percentile(&pair[0].times, p);
        let (median_ratio, p90_ratio) = (ratio(0.5), ratio(0.9));
        let cpu_ratio = pair[1].cpu / pair[0].cpu;
        println!(
            "{:<26} {:>9.2}x {:>9.2}x {:>10} {:>15.2}x   target: median within {TARGET_RATIO}x: {}",
            "ratio secured / plain",
            median_ratio,
            p90_ratio,
            "",
            cpu_ratio,
            if median_ratio <= TARGET_RATIO {
                "met"
            } else {
                "NOT met"
            }
        );
        ratios.push(median_ratio);
    }
    println!();
    println!(
        "throughput of /metrics, {CLIENTS} clients on their own kept-alive connections, {} s per exporter",
        2 * LOAD_HALF.as_secs()
    );
    println!(
        "{:<26} {:>10} {:>10} {:>22} {:>20}",
        "series", "requests", "per s", "exporter CPU ms/req", "client CPU ms/req"
    );
    for (gzip, totals) in &loads {
        for (target, total) in targets.iter().zip(totals) {
            println!(
                "{:<26} {:>10} {:>10.1} {:>22.1} {:>20.1}",
                format!("{}{}", target.name, if *gzip { ", gzip" } else { "" }),
                total.requests,
                total.requests as f64 / total.seconds,
                total.exporter_cpu / total.requests as f64,
                total.client_cpu / total.requests as f64,
            );
        }
    }
    println!();
    println!("the first request (median of {FIRST_USERS}, /-/healthy)");
    for (name, values) in costs {
        println!("{name:<46} {:>8.1} ms", median(values));
    }
    println!(
        "{:<46} {verify_ms:>8.1} ms",
        "one bcrypt check in this process"
    );
    println!();
    for (target, (rss, peak)) in targets.iter().zip(memory) {
        println!(
            "resident memory, {:<16} {:.1} MiB now, {:.1} MiB peak",
            target.name,
            rss as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
}
