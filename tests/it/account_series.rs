//! `account_series` through the daemon's `/metrics`: `all` serves every account, `problems`
//! only accounts in drift or unknown (and an account leaves the scrape when it is fine
//! again), `none` no account; the watch-list aggregates and the JSON keep every account,
//! the page every account in drift, and promtool accepts the scrape in each mode.

use std::time::Duration;

use tim_account_exporter::sim::{SimAccount, SimOptions, SimPresence, Simulator};

use crate::daemon::{golden_without_web_config, served_families};
use crate::prometheus::{assert_promtool_accepts, PROMETHEUS_PACKAGE};
use crate::support::*;

/// The per-account families.
const ACCOUNT_FAMILIES: [&str; 4] = [
    "tim_account_status",
    "tim_account_drift",
    "tim_account_presence",
    "tim_account_presence_drift",
];

/// A watch list of accounts expected imported with `account_series: mode` and extra lines.
fn series_list(name: &str, mode: &str, extra: &str, ids: &[&str]) -> String {
    format!(
        "      - name: {name}\n        account_series: {mode}\n{extra}        user_ids: [{}]\n",
        ids.join(", ")
    )
}

/// The per-account series of `user_id` in `watchlist`, of every per-account family.
fn account_series<'a>(scrape: &'a Scrape, watchlist: &str, user_id: &str) -> Vec<&'a Sample> {
    ACCOUNT_FAMILIES
        .iter()
        .flat_map(|family| scrape.find(family, &[("watchlist", watchlist), ("user_id", user_id)]))
        .collect()
}

/// Starts the daemon on one app against the simulator with `settings` and `lists`, and waits
/// until it is ready; the folder of its configuration must live as long as it runs.
async fn ready_daemon(
    sim: &Simulator,
    settings: &str,
    lists: &str,
) -> (tempfile::TempDir, RunningDaemon) {
    let (dir, path) = write_config(&app_yaml(&sim.endpoint(), settings, lists));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    (dir, daemon)
}

/// Checks a scrape with promtool where it is installed (always in CI).
fn promtool_accepts(scrape: &Scrape) {
    if let Some(promtool) = tool("promtool", PROMETHEUS_PACKAGE) {
        assert_promtool_accepts(&promtool, &scrape.text);
    }
}

#[tokio::test]
async fn each_mode_serves_its_accounts_and_every_list_keeps_its_aggregates() {
    let sim = start_sim().await;
    for id in ["all_drift", "prob_drift", "none_drift"] {
        sim.set_account(SDKAPPID, id, SimAccount::NotImported);
    }
    sim.set_account(SDKAPPID, "prob_unknown", SimAccount::ItemError(70500));
    sim.set_presence(SDKAPPID, "prob_offline", SimPresence::offline());
    let lists = [
        series_list("everyone", "all", "", &["all_ok", "all_drift"]),
        series_list(
            "problems",
            "problems",
            "        presence: online\n",
            &["prob_ok", "prob_drift", "prob_unknown", "prob_offline"],
        ),
        series_list("quiet", "none", "", &["none_ok", "none_drift"]),
    ]
    .concat();
    let (_dir, daemon) = ready_daemon(&sim, "    interval: 60s\n    retries: 0\n", &lists).await;
    let scrape = daemon.scrape().await;
    // Every family is still served: the `problems` list serves all four per-account ones.
    assert_eq!(served_families(&scrape), golden_without_web_config());

    // all: every account, 3 status series and the drift.
    for id in ["all_ok", "all_drift"] {
        assert_eq!(account_series(&scrape, "everyone", id).len(), 4, "{id}");
    }
    let drift = |list: &str, id: &str| {
        scrape.value("tim_account_drift", &[("watchlist", list), ("user_id", id)])
    };
    assert_eq!(drift("everyone", "all_ok"), Some(0.0));
    assert_eq!(drift("everyone", "all_drift"), Some(1.0));

    // problems: the account as expected in both checks is left out; the others have all
    // 9 series (3 status, drift, 4 presence, presence drift).
    assert!(account_series(&scrape, "problems", "prob_ok").is_empty());
    for id in ["prob_drift", "prob_unknown", "prob_offline"] {
        assert_eq!(account_series(&scrape, "problems", id).len(), 9, "{id}");
    }
    assert_eq!(drift("problems", "prob_drift"), Some(1.0));
    let status = |id: &str, status: &str| {
        scrape.value(
            "tim_account_status",
            &[
                ("watchlist", "problems"),
                ("user_id", id),
                ("status", status),
            ],
        )
    };
    assert_eq!(status("prob_unknown", "unknown"), Some(1.0));
    assert_eq!(status("prob_offline", "imported"), Some(1.0));
    assert_eq!(
        scrape.value(
            "tim_account_presence_drift",
            &[("watchlist", "problems"), ("user_id", "prob_offline")]
        ),
        Some(1.0)
    );

    // none: no per-account series at all.
    for family in ACCOUNT_FAMILIES {
        assert!(
            scrape.find(family, &[("watchlist", "quiet")]).is_empty(),
            "{family}"
        );
    }

    // The aggregates count every account of every list.
    let aggregate = |family: &str, labels: &[(&str, &str)]| {
        scrape
            .value(family, labels)
            .unwrap_or_else(|| panic!("{family} {labels:?}"))
    };
    for (list, accounts, drifting) in [
        ("everyone", 2.0, 1.0),
        ("problems", 4.0, 1.0),
        ("quiet", 2.0, 1.0),
    ] {
        let total: f64 = scrape
            .find("tim_watchlist_accounts", &[("watchlist", list)])
            .iter()
            .map(|s| s.value)
            .sum();
        assert_eq!(total, accounts, "{list}");
        assert_eq!(
            aggregate("tim_watchlist_drift_accounts", &[("watchlist", list)]),
            drifting,
            "{list}"
        );
    }
    assert_eq!(
        aggregate(
            "tim_watchlist_presence_drift_accounts",
            &[("watchlist", "problems")]
        ),
        2.0,
        "prob_offline and prob_drift (never imported: offline)"
    );

    // The JSON and the page show every account whatever the mode.
    let (_, json) = daemon.get("/api/v1/status").await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let shown: Vec<(String, String)> = json["apps"][0]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["watchlist"].as_str().unwrap().to_owned(),
                a["user_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(shown.len(), 8, "{shown:?}");
    for (list, id) in [
        ("problems", "prob_ok"),
        ("quiet", "none_ok"),
        ("quiet", "none_drift"),
    ] {
        assert!(
            shown.contains(&(list.to_owned(), id.to_owned())),
            "{list}/{id}"
        );
    }
    // The page lists the accounts that need attention, of a `none` list too.
    let (_, page) = daemon.get("/").await;
    for id in ["all_drift", "prob_unknown", "none_drift"] {
        assert!(page.contains(id), "the page shows {id}");
    }

    promtool_accepts(&scrape);
    daemon.stop().await;
}

#[tokio::test]
async fn none_alone_serves_no_per_account_family() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "b", SimAccount::NotImported);
    let lists = series_list("quiet", "none", "        presence: online\n", &["a", "b"]);
    let (_dir, daemon) = ready_daemon(&sim, "    interval: 60s\n", &lists).await;
    let scrape = daemon.scrape().await;
    for family in ACCOUNT_FAMILIES {
        assert!(scrape.find(family, &[]).is_empty(), "{family}");
        assert!(
            !scrape.types.contains_key(family),
            "no HELP or TYPE of {family}"
        );
    }
    assert_eq!(
        scrape.value("tim_watchlist_drift_accounts", &[("watchlist", "quiet")]),
        Some(1.0)
    );
    assert_eq!(
        scrape.value(
            "tim_watchlist_presence_accounts",
            &[("watchlist", "quiet"), ("presence", "online")]
        ),
        Some(1.0)
    );
    promtool_accepts(&scrape);
    daemon.stop().await;
}

#[tokio::test]
async fn under_problems_an_account_appears_in_drift_and_goes_when_back() {
    let sim = start_sim().await;
    let lists = series_list("vip", "problems", "", &["alice", "bob"]);
    let (_dir, daemon) = ready_daemon(&sim, "    interval: 1s\n    timeout: 500ms\n", &lists).await;
    let none_served = |scrape: &Scrape| {
        ACCOUNT_FAMILIES
            .iter()
            .all(|family| scrape.find(family, &[]).is_empty())
    };
    // Once checked, neither is served (nor was either before, while unchecked).
    let scrape = daemon
        .scrape_until(Duration::from_secs(10), "both fine", none_served)
        .await;
    assert_eq!(
        scrape.value("tim_watchlist_accounts", &[("status", "imported")]),
        Some(2.0)
    );
    promtool_accepts(&scrape);

    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    let scrape = daemon
        .scrape_until(Duration::from_secs(10), "bob in drift", |scrape| {
            scrape.value("tim_account_drift", &[("user_id", "bob")]) == Some(1.0)
        })
        .await;
    assert_eq!(
        scrape.value(
            "tim_account_status",
            &[("user_id", "bob"), ("status", "not_imported")]
        ),
        Some(1.0)
    );
    assert!(account_series(&scrape, "vip", "alice").is_empty());
    assert_eq!(account_series(&scrape, "vip", "bob").len(), 4);
    assert_eq!(scrape.value("tim_watchlist_drift_accounts", &[]), Some(1.0));
    promtool_accepts(&scrape);

    sim.set_account(SDKAPPID, "bob", SimAccount::Imported);
    let scrape = daemon
        .scrape_until(Duration::from_secs(10), "bob back and gone", none_served)
        .await;
    assert_eq!(scrape.value("tim_watchlist_drift_accounts", &[]), Some(0.0));
    promtool_accepts(&scrape);
    daemon.stop().await;
}

#[tokio::test]
async fn config_check_reports_the_series_each_app_serves() {
    let check = |lists: String| async move {
        let out = config_check_lists(&lists).await;
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // 2 accounts of 4 series; 3 of 9 (presence); none: 0. The aggregates: 4, 9 and 4.
    let mixed = check(
        [
            series_list("everyone", "all", "", &["a", "b"]),
            series_list(
                "problems",
                "problems",
                "        presence: online\n",
                &["c", "d", "e"],
            ),
            series_list("quiet", "none", "", &["f", "g"]),
        ]
        .concat(),
    )
    .await;
    assert!(
        mixed.contains("app test-app: per-account series: at most 35 (8 always, up to 27 for accounts in drift or unknown under account_series: problems), watch-list series: 17"),
        "{mixed}"
    );
    let all = check(series_list("everyone", "all", "", &["a", "b"])).await;
    assert!(
        all.contains("app test-app: per-account series: 8, watch-list series: 4"),
        "{all}"
    );
    let none = check(series_list("quiet", "none", "", &["a", "b"])).await;
    assert!(
        none.contains("app test-app: per-account series: 0, watch-list series: 4"),
        "{none}"
    );
}

#[tokio::test]
async fn a_bad_account_series_is_a_configuration_error() {
    let out = config_check_lists(&series_list("vip", "some", "", &["a"])).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "apps[0].watchlists[0].account_series: \"some\" is not one of all, problems, none"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn under_problems_accounts_no_check_has_reported_on_are_not_served() {
    // A slow service: the first cycle is still running when the daemon is scraped. Under
    // `all` every account is served as unknown from start-up; under `problems` none is,
    // or a list of a million would serve four million series until its first cycle ends.
    let sim = Simulator::start(SimOptions {
        latency: Duration::from_secs(30),
        ..sim_options()
    })
    .await
    .unwrap();
    let lists = [
        series_list("everyone", "all", "", &["a", "b"]),
        series_list("few", "problems", "        presence: online\n", &["c", "d"]),
    ]
    .concat();
    let (_dir, path) = write_config(&app_yaml(&sim.endpoint(), "    interval: 60s\n", &lists));
    let daemon = RunningDaemon::from_file(&path).await;
    let scrape = daemon.scrape().await;
    for id in ["a", "b"] {
        assert_eq!(
            scrape.value(
                "tim_account_status",
                &[("user_id", id), ("status", "unknown")]
            ),
            Some(1.0),
            "{id}"
        );
    }
    for id in ["c", "d"] {
        assert!(account_series(&scrape, "few", id).is_empty(), "{id}");
    }
    // The aggregates count them as unknown all the same.
    assert_eq!(
        scrape.value(
            "tim_watchlist_accounts",
            &[("watchlist", "few"), ("status", "unknown")]
        ),
        Some(2.0)
    );
    promtool_accepts(&scrape);
    daemon.stop().await;
}
