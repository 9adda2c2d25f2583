//! The daemon on port 0 against the simulator: the metrics contract, drift in the next
//! cycle, reload (success, failure, removed series), readiness, the page and the JSON.

use std::collections::BTreeSet;
use std::io::Read;
use std::time::Duration;

use tim_account_exporter::sim::{Fault, SimAccount, SimOptions, Simulator};

use crate::support::*;

/// Every `tim_*` family with its type and label names, as the contract says.
pub const GOLDEN: &[(&str, &str, &[&str])] = &[
    (
        "tim_account_drift",
        "gauge",
        &["im_app", "im_region", "user_id", "watchlist"],
    ),
    (
        "tim_account_presence",
        "gauge",
        &["im_app", "im_region", "presence", "user_id", "watchlist"],
    ),
    (
        "tim_account_presence_drift",
        "gauge",
        &["im_app", "im_region", "user_id", "watchlist"],
    ),
    (
        "tim_account_errors_total",
        "counter",
        &["code", "im_app", "im_region"],
    ),
    (
        "tim_account_status",
        "gauge",
        &["im_app", "im_region", "status", "user_id", "watchlist"],
    ),
    (
        "tim_api_errors_total",
        "counter",
        &["api", "code", "im_app", "im_region"],
    ),
    (
        "tim_api_request_duration_seconds",
        "histogram",
        &["api", "im_app", "im_region"],
    ),
    (
        "tim_api_requests_total",
        "counter",
        &["api", "im_app", "im_region"],
    ),
    (
        "tim_api_retries_total",
        "counter",
        &["api", "im_app", "im_region"],
    ),
    (
        "tim_app_info",
        "gauge",
        &["endpoint", "im_app", "im_region", "sdkappid"],
    ),
    (
        "tim_check_cycles_total",
        "counter",
        &["im_app", "im_region"],
    ),
    (
        "tim_check_duration_seconds",
        "gauge",
        &["im_app", "im_region"],
    ),
    (
        "tim_check_last_success_timestamp_seconds",
        "gauge",
        &["im_app", "im_region"],
    ),
    (
        "tim_check_consecutive_failures",
        "gauge",
        &["im_app", "im_region"],
    ),
    (
        "tim_check_interval_seconds",
        "gauge",
        &["im_app", "im_region"],
    ),
    ("tim_check_success", "gauge", &["im_app", "im_region"]),
    (
        "tim_exporter_build_info",
        "gauge",
        &["revision", "rustc_version", "version"],
    ),
    (
        "tim_exporter_config_last_reload_success_timestamp_seconds",
        "gauge",
        &[],
    ),
    ("tim_exporter_config_last_reload_successful", "gauge", &[]),
    ("tim_exporter_shard_ordinal", "gauge", &["shard_ordinal"]),
    ("tim_exporter_total_shards", "gauge", &[]),
    (
        "tim_exporter_web_config_last_reload_successful",
        "gauge",
        &[],
    ),
    (
        "tim_exporter_app_loop_restarts_total",
        "counter",
        &["im_app"],
    ),
    (
        "tim_usersig_expiry_timestamp_seconds",
        "gauge",
        &["im_app", "im_region"],
    ),
    ("tim_usersig_ttl_seconds", "gauge", &["im_app", "im_region"]),
    (
        "tim_watchlist_accounts",
        "gauge",
        &["im_app", "im_region", "status", "watchlist"],
    ),
    (
        "tim_watchlist_drift_accounts",
        "gauge",
        &["im_app", "im_region", "watchlist"],
    ),
    (
        "tim_watchlist_presence_accounts",
        "gauge",
        &["im_app", "im_region", "presence", "watchlist"],
    ),
    (
        "tim_watchlist_presence_drift_accounts",
        "gauge",
        &["im_app", "im_region", "watchlist"],
    ),
];

/// The families served only while a watch list checks presence.
pub const PRESENCE_FAMILIES: [&str; 4] = [
    "tim_account_presence",
    "tim_account_presence_drift",
    "tim_watchlist_presence_accounts",
    "tim_watchlist_presence_drift_accounts",
];

/// The families served only with `--web.config.file`.
pub const WEB_CONFIG_FAMILIES: [&str; 1] = ["tim_exporter_web_config_last_reload_successful"];

/// [`GOLDEN`] as a set: every family, as served when a watch list checks presence and a
/// web configuration is in use.
pub fn golden() -> BTreeSet<(String, String, Vec<String>)> {
    golden_where(|_| true)
}

/// The families served without a web configuration, when a watch list checks presence.
pub fn golden_without_web_config() -> BTreeSet<(String, String, Vec<String>)> {
    golden_where(|name| !WEB_CONFIG_FAMILIES.contains(&name))
}

/// The families served when no watch list checks presence, without a web configuration.
fn golden_without_presence() -> BTreeSet<(String, String, Vec<String>)> {
    golden_where(|name| !PRESENCE_FAMILIES.contains(&name) && !WEB_CONFIG_FAMILIES.contains(&name))
}

fn golden_where(keep: impl Fn(&str) -> bool) -> BTreeSet<(String, String, Vec<String>)> {
    GOLDEN
        .iter()
        .filter(|(name, _, _)| keep(name))
        .map(|(name, kind, labels)| {
            (
                (*name).to_owned(),
                (*kind).to_owned(),
                labels.iter().map(|l| (*l).to_owned()).collect(),
            )
        })
        .collect()
}

/// The family a sample belongs to (histogram samples carry suffixes).
fn family_of(scrape: &Scrape, sample: &str) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if scrape.types.get(base).map(String::as_str) == Some("histogram") {
                return base.to_owned();
            }
        }
    }
    sample.to_owned()
}

/// Family → (type, label names without `le`), for the `tim_` families served.
pub fn served_families(scrape: &Scrape) -> BTreeSet<(String, String, Vec<String>)> {
    let mut families = BTreeSet::new();
    for sample in scrape.samples.iter().filter(|s| s.name.starts_with("tim_")) {
        let family = family_of(scrape, &sample.name);
        let labels = sample
            .labels
            .keys()
            .filter(|k| *k != "le")
            .cloned()
            .collect();
        families.insert((family.clone(), scrape.types[&family].clone(), labels));
    }
    families
}

fn lists(sim: &Simulator, settings: &str) -> String {
    app_yaml(
        &sim.endpoint(),
        settings,
        &format!(
            "{}{}",
            list_yaml(
                "vip",
                "imported",
                &["alice".into(), "bob".into(), "carol".into()]
            ),
            list_yaml("removed", "not_imported", &["mallory".into(), "bob".into()]),
        ),
    )
}

const FAST: &str = "    interval: 1s\n    timeout: 500ms\n    retries: 1\n";
const SLOW: &str = "    interval: 60s\n    timeout: 2s\n    retries: 1\n";

#[tokio::test]
async fn after_a_cycle_the_series_and_values_match_the_contract() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    sim.set_account(SDKAPPID, "mallory", SimAccount::NotImported);
    sim.set_account(SDKAPPID, "carol", SimAccount::ItemError(70500));
    sim.push_faults(SDKAPPID, [Fault::Http502]);
    let (_dir, path) = write_config(&lists(&sim, SLOW));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;

    let response = reqwest::get(daemon.url("/metrics")).await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let scrape = Scrape::parse(&response.text().await.unwrap());

    assert_eq!(served_families(&scrape), golden_without_presence());
    let mut series = BTreeSet::new();
    for line in scrape.text.lines().filter(|l| !l.starts_with('#')) {
        let (name_and_labels, _) = line.rsplit_once(' ').unwrap();
        assert!(
            series.insert(name_and_labels),
            "{name_and_labels} is served twice"
        );
    }
    for family in scrape.types.keys() {
        assert!(
            scrape.text.contains(&format!("# HELP {family} ")),
            "{family} has a HELP text"
        );
    }
    // Each family's lines are together: a name seen once never comes back after another.
    let mut finished = BTreeSet::new();
    let mut current = String::new();
    for line in scrape.text.lines().filter(|l| !l.starts_with('#')) {
        let family = family_of(&scrape, line.split(['{', ' ']).next().unwrap());
        if family != current {
            assert!(finished.insert(current.clone()), "{current} is split");
            assert!(!finished.contains(&family), "{family} is split");
            current = family;
        }
    }
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(scrape.types.contains_key(family), "{family} is served");
    }

    let app = [("im_app", "test-app"), ("im_region", "singapore")];
    let status = |list: &str, id: &str, status: &str| {
        scrape.value(
            "tim_account_status",
            &[
                app[0],
                app[1],
                ("watchlist", list),
                ("user_id", id),
                ("status", status),
            ],
        )
    };
    // Exactly one of the three series is 1 for every account.
    for (list, id, expected) in [
        ("vip", "alice", "imported"),
        ("vip", "bob", "not_imported"),
        ("vip", "carol", "unknown"),
        ("removed", "mallory", "not_imported"),
        ("removed", "bob", "not_imported"),
    ] {
        for candidate in ["imported", "not_imported", "unknown"] {
            let want = f64::from(u8::from(candidate == expected));
            assert_eq!(
                status(list, id, candidate),
                Some(want),
                "{list}/{id}/{candidate}"
            );
        }
    }
    let drift = |list: &str, id: &str| {
        scrape.value(
            "tim_account_drift",
            &[app[0], ("watchlist", list), ("user_id", id)],
        )
    };
    assert_eq!(drift("vip", "alice"), Some(0.0));
    assert_eq!(drift("vip", "bob"), Some(1.0));
    assert_eq!(drift("vip", "carol"), Some(0.0), "unknown is never drift");
    assert_eq!(drift("removed", "bob"), Some(0.0));
    let counts = |list: &str, status: &str| {
        scrape.value(
            "tim_watchlist_accounts",
            &[("watchlist", list), ("status", status)],
        )
    };
    assert_eq!(counts("vip", "imported"), Some(1.0));
    assert_eq!(counts("vip", "not_imported"), Some(1.0));
    assert_eq!(counts("vip", "unknown"), Some(1.0));
    assert_eq!(counts("removed", "not_imported"), Some(2.0));
    assert_eq!(
        scrape.value("tim_watchlist_drift_accounts", &[("watchlist", "vip")]),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("tim_watchlist_drift_accounts", &[("watchlist", "removed")]),
        Some(0.0)
    );
    assert_eq!(
        scrape.value("tim_check_success", &app),
        Some(0.0),
        "carol is unknown"
    );
    assert_eq!(
        scrape.value("tim_check_last_success_timestamp_seconds", &app),
        Some(0.0)
    );
    assert_eq!(scrape.value("tim_check_cycles_total", &app), Some(1.0));
    assert_eq!(scrape.value("tim_check_interval_seconds", &app), Some(60.0));
    assert_eq!(
        scrape.value("tim_check_consecutive_failures", &app),
        Some(1.0),
        "carol is unknown"
    );
    // Codes an alert watches are served at 0 before they ever occur.
    assert_eq!(
        scrape.value("tim_api_errors_total", &[app[0], ("code", "70009")]),
        Some(0.0)
    );
    assert!(scrape.value("tim_check_duration_seconds", &app).unwrap() > 0.0);
    let sdkappid = SDKAPPID.to_string();
    assert_eq!(
        scrape.value(
            "tim_app_info",
            &[
                app[0],
                ("sdkappid", &sdkappid),
                ("endpoint", &sim.endpoint())
            ]
        ),
        Some(1.0)
    );
    let expiry = scrape
        .value("tim_usersig_expiry_timestamp_seconds", &app)
        .unwrap();
    assert!(
        (expiry - (unix_now() + 24 * 3600) as f64).abs() < 120.0,
        "{expiry}"
    );
    assert_eq!(
        scrape.value("tim_usersig_ttl_seconds", &app),
        Some(24.0 * 3600.0)
    );
    // One 502 then a good retry: two attempts, one error, one retry.
    let api = [app[0], app[1], ("api", "account_check")];
    assert_eq!(scrape.value("tim_api_requests_total", &api), Some(2.0));
    assert_eq!(scrape.value("tim_api_retries_total", &api), Some(1.0));
    assert_eq!(
        scrape.value("tim_api_errors_total", &[api[0], ("code", "http_502")]),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("tim_api_request_duration_seconds_count", &api),
        Some(2.0)
    );
    assert_eq!(
        scrape.value(
            "tim_api_request_duration_seconds_bucket",
            &[api[0], ("le", "+Inf")]
        ),
        Some(2.0)
    );
    assert_eq!(
        scrape.value("tim_account_errors_total", &[app[0], ("code", "70500")]),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("tim_exporter_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let build = scrape.find(
        "tim_exporter_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
    );
    assert_eq!(build.len(), 1);
    assert!(!build[0].labels["rustc_version"].is_empty());
    daemon.stop().await;
}

#[tokio::test]
async fn every_series_exists_from_start_up_as_unknown() {
    let sim = Simulator::start(SimOptions {
        latency: Duration::from_secs(30),
        ..sim_options()
    })
    .await
    .unwrap();
    let (_dir, path) = write_config(&lists(&sim, SLOW));
    let daemon = RunningDaemon::from_file(&path).await;
    let scrape = daemon.scrape().await;
    for (list, id) in [
        ("vip", "alice"),
        ("vip", "bob"),
        ("vip", "carol"),
        ("removed", "mallory"),
        ("removed", "bob"),
    ] {
        let labels = [("watchlist", list), ("user_id", id)];
        assert_eq!(scrape.find("tim_account_status", &labels).len(), 3);
        let unknown = [labels[0], labels[1], ("status", "unknown")];
        assert_eq!(scrape.value("tim_account_status", &unknown), Some(1.0));
        assert_eq!(scrape.value("tim_account_drift", &labels), Some(0.0));
    }
    assert_eq!(
        scrape.value(
            "tim_watchlist_accounts",
            &[("watchlist", "vip"), ("status", "unknown")]
        ),
        Some(3.0)
    );
    assert_eq!(scrape.value("tim_check_success", &[]), Some(0.0));
    assert_eq!(scrape.value("tim_check_cycles_total", &[]), Some(0.0));
    // The first cycle is still waiting on the API: readiness says so, health does not care.
    let (status, body) = daemon.get("/-/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("0 of 1 apps"), "{body}");
    assert_eq!(daemon.get("/-/healthy").await.0, 200);
    let json: serde_json::Value =
        serde_json::from_str(&daemon.get("/api/v1/status").await.1).unwrap();
    assert_eq!(json["apps"][0]["checked_at"], serde_json::Value::Null);
    assert_eq!(json["summary"]["unknown"], 5);
    // Shutdown does not wait for the call in flight.
    let started = std::time::Instant::now();
    daemon.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_account_flipped_in_the_simulator_drifts_in_the_next_cycle() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "mallory", SimAccount::NotImported);
    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    let (_dir, path) = write_config(&lists(&sim, FAST));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let alice = [("watchlist", "vip"), ("user_id", "alice")];
    let scrape = daemon.scrape().await;
    assert_eq!(scrape.value("tim_account_drift", &alice), Some(0.0));
    let cycles = scrape.value("tim_check_cycles_total", &[]).unwrap();

    sim.set_account(SDKAPPID, "alice", SimAccount::NotImported);
    let scrape = daemon
        .scrape_until(Duration::from_secs(5), "alice in drift", |s| {
            s.value("tim_account_drift", &alice) == Some(1.0)
        })
        .await;
    assert_eq!(
        scrape.value(
            "tim_account_status",
            &[alice[0], alice[1], ("status", "not_imported")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("tim_watchlist_drift_accounts", &[("watchlist", "vip")]),
        Some(2.0)
    );
    let later = scrape.value("tim_check_cycles_total", &[]).unwrap();
    assert!(
        later >= cycles + 1.0 && later <= cycles + 5.0,
        "{cycles} then {later}"
    );

    sim.set_account(SDKAPPID, "alice", SimAccount::Imported);
    daemon
        .scrape_until(Duration::from_secs(5), "alice back", |s| {
            s.value("tim_account_drift", &alice) == Some(0.0)
        })
        .await;
    daemon.stop().await;
}

#[tokio::test]
async fn a_reload_applies_the_new_config_and_keeps_what_is_known() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "mallory", SimAccount::NotImported);
    let (dir, path) = write_config(&lists(&sim, SLOW));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    assert_eq!(sim.stats(SDKAPPID).requests, 1);

    // The `removed` list goes, dave joins `vip`, and a second app appears.
    let second = format!(
        "  - name: second-app\n    sdkappid: {SDKAPPID}\n    region: frankfurt\n    endpoint: {}\n    admin: {ADMIN}\n    secret_key: {KEY}\n{SLOW}    watchlists:\n{}",
        sim.endpoint(),
        list_yaml("bots", "imported", &["erin".into()])
    );
    let text = format!(
        "{}{second}",
        app_yaml(
            &sim.endpoint(),
            SLOW,
            &list_yaml(
                "vip",
                "imported",
                &["alice".into(), "bob".into(), "carol".into(), "dave".into()]
            ),
        )
    );
    std::fs::write(&path, &text).unwrap();
    let (status, body) = daemon.post("/-/reload").await;
    assert_eq!(status, 200, "{body}");

    // At once: the removed list's series are gone, known accounts stay known.
    let scrape = daemon.scrape().await;
    assert!(scrape
        .find("tim_account_status", &[("watchlist", "removed")])
        .is_empty());
    assert!(scrape
        .find("tim_account_drift", &[("user_id", "mallory")])
        .is_empty());
    assert!(scrape
        .find("tim_watchlist_accounts", &[("watchlist", "removed")])
        .is_empty());
    let app = [("im_app", "test-app")];
    let imported = |id: &str| {
        scrape.value(
            "tim_account_status",
            &[app[0], ("user_id", id), ("status", "imported")],
        )
    };
    assert_eq!(
        imported("alice"),
        Some(1.0),
        "a reload must not make known accounts unknown"
    );
    assert_eq!(imported("bob"), Some(1.0));
    assert!(scrape
        .value(
            "tim_account_status",
            &[("user_id", "erin"), ("status", "unknown")]
        )
        .is_some());
    assert_eq!(
        scrape.value("tim_exporter_config_last_reload_successful", &[]),
        Some(1.0)
    );

    // The new accounts are checked at once, without waiting for the interval.
    let scrape = daemon
        .scrape_until(Duration::from_secs(5), "dave and erin checked", |s| {
            s.value(
                "tim_account_status",
                &[("user_id", "dave"), ("status", "imported")],
            ) == Some(1.0)
                && s.value(
                    "tim_account_status",
                    &[("user_id", "erin"), ("status", "imported")],
                ) == Some(1.0)
        })
        .await;
    assert_eq!(
        scrape.value("tim_check_cycles_total", &[("im_app", "test-app")]),
        Some(2.0)
    );
    assert_eq!(
        scrape.value(
            "tim_app_info",
            &[("im_app", "second-app"), ("im_region", "frankfurt")]
        ),
        Some(1.0)
    );

    // Removing the app removes every series of it at once.
    std::fs::write(&path, lists(&sim, SLOW)).unwrap();
    assert_eq!(daemon.post("/-/reload").await.0, 200);
    let scrape = daemon.scrape().await;
    assert!(
        scrape
            .samples
            .iter()
            .all(|s| s.labels.get("im_app").map(String::as_str) != Some("second-app")),
        "{}",
        scrape.text
    );
    drop(dir);
    daemon.stop().await;
}

#[tokio::test]
async fn a_failed_reload_keeps_the_running_config() {
    let sim = start_sim().await;
    let (_dir, path) = write_config(&lists(&sim, SLOW));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let before = daemon.scrape().await;

    // Valid lists that differ (mallory and the `removed` list go, zoe comes), next to a
    // problem: nothing of it may be applied.
    let bad = app_yaml(
        &sim.endpoint(),
        "    interval: 1m\n    timeout: 2m\n    colour: blue\n",
        &list_yaml("vip", "imported", &["alice".into(), "zoe".into()]),
    );
    std::fs::write(&path, bad).unwrap();
    let (status, body) = daemon.post("/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("colour"), "{body}");
    assert!(body.contains("unchanged"), "{body}");
    assert!(!body.contains(KEY));

    let after = daemon.scrape().await;
    assert_eq!(
        after.value("tim_exporter_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(
        after.value(
            "tim_exporter_config_last_reload_success_timestamp_seconds",
            &[]
        ),
        before.value(
            "tim_exporter_config_last_reload_success_timestamp_seconds",
            &[]
        )
    );
    let accounts = |s: &Scrape| {
        s.find("tim_account_status", &[])
            .iter()
            .map(|s| {
                let label = |name: &str| s.labels[name].clone();
                (
                    label("watchlist"),
                    label("user_id"),
                    label("status"),
                    s.value.to_string(),
                )
            })
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(accounts(&after), accounts(&before));
    assert!(after
        .find("tim_account_status", &[("user_id", "zoe")])
        .is_empty());
    assert_eq!(
        after
            .find("tim_account_status", &[("user_id", "mallory")])
            .len(),
        3
    );
    assert_eq!(
        sim.stats(SDKAPPID).requests,
        1,
        "no check for the refused config"
    );

    // Only POST reloads.
    for method in [reqwest::Method::GET, reqwest::Method::PUT] {
        let response = reqwest::Client::new()
            .request(method.clone(), daemon.url("/-/reload"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method}");
    }
    daemon.stop().await;
}

#[tokio::test]
async fn metrics_are_gzipped_for_scrapers_that_accept_it() {
    let sim = start_sim().await;
    let (_dir, path) = write_config(&lists(&sim, SLOW));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let response = reqwest::Client::new()
        .get(daemon.url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let body = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    let scrape = Scrape::parse(&text);
    assert_eq!(scrape.find("tim_account_status", &[]).len(), 15);
    let plain = reqwest::get(daemon.url("/metrics")).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    daemon.stop().await;
}

#[tokio::test]
async fn the_page_and_the_json_show_the_latest_cycle() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    sim.set_account(SDKAPPID, "mallory", SimAccount::NotImported);
    sim.set_account(SDKAPPID, "carol", SimAccount::ItemError(70500));
    let (_dir, path) = write_config(&lists(&sim, SLOW));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;

    let (status, page) = daemon.get("/").await;
    assert_eq!(status, 200);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(env!("CARGO_PKG_VERSION")));
    assert!(page.contains("test-app") && page.contains("singapore"));
    assert!(page.contains("Needs attention"));
    assert!(
        page.contains("<td>bob</td><td class=\"drift\">not_imported</td>"),
        "{page}"
    );
    assert!(page.contains("70500"), "carol's reason is shown");
    assert!(!page.contains("<td>alice</td>"), "alice is as expected");
    for link in [
        "href=\"metrics\"",
        "href=\"api/v1/status\"",
        "href=\"-/healthy\"",
        "href=\"-/ready\"",
    ] {
        assert!(page.contains(link), "{link}");
    }
    assert!(
        !page.contains("http://") && !page.contains("<script"),
        "no external assets"
    );
    assert!(
        !page.contains("Presence"),
        "no presence column or totals when no list checks presence"
    );

    let (status, json) = daemon.get("/api/v1/status").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["summary"],
        serde_json::json!({"accounts": 5, "drift": 1, "unknown": 1, "presence_drift": 0, "presence_unknown": 0})
    );
    let app = &json["apps"][0];
    assert_eq!(app["name"], "test-app");
    assert_eq!(app["calls"], 1);
    assert!(app["checked_at"].is_string());
    let bob = app["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["watchlist"] == "vip" && a["user_id"] == "bob")
        .unwrap();
    assert_eq!(bob["status"], "not_imported");
    assert_eq!(bob["drift"], true);
    daemon.stop().await;
}

/// The README's metric table lists exactly the families served, with their types and
/// labels, so the documentation cannot drift from the code.
#[test]
fn the_readme_metric_table_matches_the_contract() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let documented: BTreeSet<(String, String, Vec<String>)> = readme
        .lines()
        .filter(|line| line.starts_with("| `tim_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let ticked = |cell: &str| -> Vec<String> {
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect()
            };
            let mut labels = ticked(cells[3]);
            labels.sort();
            (ticked(cells[1])[0].clone(), cells[2].to_owned(), labels)
        })
        .collect();
    assert_eq!(documented, golden());
}

#[tokio::test]
async fn an_account_removed_and_added_back_is_checked_at_once() {
    let sim = start_sim().await;
    let (_dir, path) = write_config(&lists(&sim, SLOW));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let only = |ids: &[&str]| {
        let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
        app_yaml(&sim.endpoint(), SLOW, &list_yaml("vip", "imported", &ids))
    };
    std::fs::write(&path, only(&["bob"])).unwrap();
    assert_eq!(daemon.post("/-/reload").await.0, 200);
    std::fs::write(&path, only(&["alice", "bob"])).unwrap();
    assert_eq!(daemon.post("/-/reload").await.0, 200);
    let alice = [("user_id", "alice"), ("status", "imported")];
    daemon
        .scrape_until(Duration::from_secs(5), "alice checked again", |s| {
            s.value("tim_account_status", &alice) == Some(1.0)
        })
        .await;
    assert_eq!(sim.stats(SDKAPPID).requests, 2);
    daemon.stop().await;
}

#[tokio::test]
async fn an_api_outage_makes_known_accounts_unknown_never_drift() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    sim.set_account(SDKAPPID, "mallory", SimAccount::NotImported);
    let (_dir, path) = write_config(&lists(&sim, FAST));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let app = [("im_app", "test-app")];
    let known = daemon
        .scrape_until(Duration::from_secs(5), "a successful cycle", |s| {
            s.value("tim_check_success", &app) == Some(1.0)
        })
        .await;
    let last_success = known
        .value("tim_check_last_success_timestamp_seconds", &app)
        .unwrap();
    assert!(last_success > 0.0);

    // Every call of the next cycles fails.
    sim.push_faults(SDKAPPID, std::iter::repeat_n(Fault::Http502, 10_000));
    let scrape = daemon
        .scrape_until(Duration::from_secs(5), "a failed cycle", |s| {
            s.value("tim_check_success", &app) == Some(0.0)
        })
        .await;
    for id in ["alice", "bob", "carol", "mallory"] {
        let unknown = [("user_id", id), ("status", "unknown")];
        assert!(
            scrape
                .find("tim_account_status", &unknown)
                .iter()
                .all(|s| s.value == 1.0),
            "{id} is unknown"
        );
        let not_imported = [("user_id", id), ("status", "not_imported")];
        assert!(
            scrape
                .find("tim_account_status", &not_imported)
                .iter()
                .all(|s| s.value == 0.0),
            "{id} is never not_imported on a failure"
        );
    }
    assert!(scrape
        .find("tim_account_drift", &[])
        .iter()
        .all(|s| s.value == 0.0));
    assert_eq!(
        scrape.value("tim_check_last_success_timestamp_seconds", &app),
        Some(last_success),
        "the last success stays where it was"
    );
    assert!(
        scrape
            .value("tim_api_errors_total", &[("code", "http_502")])
            .unwrap()
            >= 2.0
    );
    daemon.stop().await;
}

#[tokio::test]
async fn odd_user_ids_are_escaped_in_metrics_and_on_the_page() {
    let sim = start_sim().await;
    let odd = [r#"quo"te"#, r"back\slash", "<b>bold</b>", "ünï&còdé"];
    let yaml = app_yaml(
        &sim.endpoint(),
        SLOW,
        &format!(
            "      - name: \"odd \\\"list\\\"\"\n        user_ids: [{}]\n",
            odd.iter()
                .map(|id| format!("'{id}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    // The page lists accounts in drift: make one of them so.
    sim.set_account(SDKAPPID, "<b>bold</b>", SimAccount::NotImported);
    let (_dir, path) = write_config(&yaml);
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let scrape = daemon.scrape().await;
    for id in odd {
        let status = if id.starts_with('<') {
            "not_imported"
        } else {
            "imported"
        };
        let labels = [
            ("watchlist", "odd \"list\""),
            ("user_id", id),
            ("status", status),
        ];
        assert_eq!(
            scrape.value("tim_account_status", &labels),
            Some(1.0),
            "{id}"
        );
    }
    if let Some(promtool) = tool("promtool", crate::prometheus::PROMETHEUS_PACKAGE) {
        crate::prometheus::assert_promtool_accepts(&promtool, &scrape.text);
    }
    let page = daemon.get("/").await.1;
    assert!(page.contains("<td>&lt;b&gt;bold&lt;/b&gt;</td>"), "{page}");
    assert!(page.contains("odd &quot;list&quot;"));
    assert!(!page.contains("<b>bold</b>"));
    daemon.stop().await;
}
