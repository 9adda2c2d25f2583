//! `/metrics` between and across changes: the state's text is made once per change and
//! reused, so these check that every scrape is still current (a finished cycle or a
//! reload is in the very next scrape, plain and gzip alike), that concurrent scrapes agree,
//! and that the exporter's own metrics stay in every answer.

use std::io::Read;
use std::time::Duration;

use tim_account_exporter::sim::{SimAccount, Simulator};

use crate::support::*;

const FAST: &str = "    interval: 1s\n    timeout: 500ms\n    retries: 1\n";

fn config(sim: &Simulator, lists: &[(&str, &[&str])]) -> String {
    let lists: String = lists
        .iter()
        .map(|(name, ids)| {
            let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
            list_yaml(name, "imported", &ids)
        })
        .collect();
    app_yaml(&sim.endpoint(), FAST, &lists)
}

/// One scrape, plain or gzip, with what the daemon said of its encoding.
async fn scrape(daemon: &RunningDaemon, gzip: bool) -> Scrape {
    let mut request = reqwest::Client::new().get(daemon.url("/metrics"));
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["vary"], "accept-encoding");
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = response.bytes().await.expect("body");
    assert_eq!(
        headers["content-length"].to_str().unwrap(),
        body.len().to_string()
    );
    let text = if gzip {
        assert_eq!(headers["content-encoding"], "gzip");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("one valid gzip member");
        text
    } else {
        assert!(headers.get("content-encoding").is_none());
        String::from_utf8(body.to_vec()).expect("utf-8")
    };
    let scrape = Scrape::parse(&text);
    assert_eq!(
        scrape.value("tim_exporter_build_info", &[]),
        Some(1.0),
        "the exporter's own metrics are in every answer"
    );
    scrape
}

/// The `tim_` lines of a scrape: what comes from the state and the exporter's gauges.
fn tim_lines(scrape: &Scrape) -> Vec<&str> {
    scrape
        .text
        .lines()
        .filter(|line| line.starts_with("tim_"))
        .collect()
}

async fn status_of_bob(daemon: &RunningDaemon) -> String {
    let (status, json) = daemon.get("/api/v1/status").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    json["apps"][0]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user_id"] == "bob")
        .map(|a| a["status"].as_str().unwrap().to_owned())
        .unwrap()
}

#[tokio::test]
async fn every_scrape_shows_the_latest_cycle_and_reload() {
    let sim = start_sim().await;
    let (_dir, path) = write_config(&config(&sim, &[("vip", &["alice", "bob"])]));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let bob = [("watchlist", "vip"), ("user_id", "bob")];
    for gzip in [false, true] {
        assert_eq!(
            scrape(&daemon, gzip).await.value("tim_account_drift", &bob),
            Some(0.0)
        );
    }

    // A cycle that finds a change: as soon as the state has it, so does the next scrape.
    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while status_of_bob(&daemon).await != "not_imported" {
        assert!(std::time::Instant::now() < deadline, "bob never changed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for gzip in [false, true] {
        let scrape = scrape(&daemon, gzip).await;
        assert_eq!(
            scrape.value("tim_account_drift", &bob),
            Some(1.0),
            "gzip {gzip}"
        );
        let status = [bob[0], bob[1], ("status", "not_imported")];
        assert_eq!(scrape.value("tim_account_status", &status), Some(1.0));
    }

    // A reload: the next scrape has the new list and not the old one.
    std::fs::write(&path, config(&sim, &[("ops", &["carol"])])).expect("config written");
    let (status, body) = daemon.post("/-/reload").await;
    assert_eq!(status, 200, "{body}");
    for gzip in [false, true] {
        let scrape = scrape(&daemon, gzip).await;
        assert!(
            scrape.find("tim_account_drift", &bob).is_empty(),
            "gzip {gzip}"
        );
        assert!(
            !scrape
                .find("tim_watchlist_drift_accounts", &[("watchlist", "ops")])
                .is_empty(),
            "gzip {gzip}"
        );
    }
    daemon.stop().await;
}

#[tokio::test]
async fn concurrent_scrapes_agree_and_between_changes_nothing_moves() {
    let sim = start_sim().await;
    let slow = FAST.replace("interval: 1s", "interval: 60s");
    let ids = ids("user_", 2_000);
    let (_dir, path) = write_config(&app_yaml(
        &sim.endpoint(),
        &slow,
        &list_yaml("many", "imported", &ids),
    ));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    // The first scrapes after the cycle come together: they wait for one rendering.
    let scrapes =
        futures_util::future::join_all((0..16).map(|i| scrape(&daemon, i % 2 == 0))).await;
    let first = tim_lines(&scrapes[0]);
    assert_eq!(
        first
            .iter()
            .filter(|l| l.starts_with("tim_account_status{"))
            .count(),
        3 * ids.len()
    );
    for other in &scrapes[1..] {
        assert_eq!(tim_lines(other), first, "every answer holds the same state");
    }
    // With no cycle and no reload in between, later scrapes hold the same state again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tim_lines(&scrape(&daemon, true).await), first);
    assert_eq!(tim_lines(&scrape(&daemon, false).await), first);
    daemon.stop().await;
}
