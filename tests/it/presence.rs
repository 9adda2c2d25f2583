//! Presence checks (query_online_status) against the simulator: batching at 500 and one
//! question per UserID, both APIs' rate bounds at once, every fault kind never reading as
//! offline, the 70050 lock-out shared with account_check, the JSON, table, page and
//! metrics, and drift that starts and ends.

use std::sync::Arc;
use std::time::Duration;

use tim_account_exporter::config::AppConfig;
use tim_account_exporter::sim::{Fault, SimAccount, SimOptions, SimPresence, Simulator};
use tim_account_exporter::state::{PresenceValue, Status};

use crate::daemon::{golden_without_web_config, served_families};
use crate::support::*;

/// One app against `sim` with these settings and watch lists.
fn presence_app(sim: &Simulator, settings: &str, lists: &str) -> Arc<AppConfig> {
    app_config(&app_yaml(&sim.endpoint(), settings, lists))
}

#[tokio::test]
async fn presence_is_asked_in_calls_of_500_once_per_user_id() {
    let sim = start_sim().await;
    // 1,201 distinct UserIDs on two presence lists that share 401 of them, and a list
    // without presence that shares some too.
    let all = ids("p", 1201);
    let lists = format!(
        "{}{}{}",
        presence_list_yaml("bots", "online", &all[..801]),
        presence_list_yaml("agents", "reachable", &all[400..]),
        list_yaml("vip", "imported", &ids("v", 50)),
    );
    let report = run_cycle(&presence_app(&sim, "    interval: 30s\n", &lists)).await;
    assert!(report.success, "{:?}", report.attempts);
    let presence = sim.presence_stats(SDKAPPID);
    assert_eq!(presence.requests, 3, "ceil(1201 / 500) calls");
    assert_eq!(presence.items, 1201, "each UserID asked once");
    assert_eq!(presence.max_items, 500);
    let import = sim.stats(SDKAPPID);
    assert_eq!(
        import.items, 1251,
        "import is asked for every distinct UserID once"
    );
    assert_eq!(import.requests, 13);
    assert_eq!(
        presence_of(&report, "bots", "p00400"),
        Some(PresenceValue::Online)
    );
    assert_eq!(
        presence_of(&report, "agents", "p00400"),
        Some(PresenceValue::Online)
    );
    assert_eq!(
        presence_of(&report, "vip", "v00000"),
        None,
        "vip checks no presence"
    );
}

#[tokio::test]
async fn each_api_keeps_its_own_rate_bound_at_the_same_time() {
    let sim = Simulator::start(SimOptions {
        latency: Duration::from_millis(50),
        rate_limit: 10,
        presence_rate_limit: 2,
        ..sim_options()
    })
    .await
    .unwrap();
    // 30 account_check calls at 10/s and 6 query_online_status calls at 2/s: both take
    // about 3 s, side by side.
    let app = presence_app(
        &sim,
        "    rate_limit: 10\n    presence_rate_limit: 2\n    interval: 20s\n",
        &presence_list_yaml("bots", "online", &ids("u", 3000)),
    );
    // The bound is on when calls start. A cold client's first calls reach the server later
    // than the rest (connection set-up), which can put one call too many in the first
    // second as the server counts (the README says so). The pacing is measured warm: one
    // call of each API first, then the cycle with the same client.
    let client = warm_client(&app, &sim).await;
    let report = run_with(&app, &client).await;
    assert!(report.success, "{:?}", report.attempts);
    let (import, presence) = (sim.stats(SDKAPPID), sim.presence_stats(SDKAPPID));
    assert_eq!(
        (import.requests, presence.requests),
        (30, 6),
        "{import:?} {presence:?}"
    );
    assert!(import.max_requests_in_one_second <= 10, "{import:?}");
    assert!(presence.max_requests_in_one_second <= 2, "{presence:?}");
    assert_eq!(import.error_codes.get(&60007), None, "{import:?}");
    assert_eq!(presence.error_codes.get(&60007), None, "{presence:?}");
    // Side by side: the whole cycle takes about as long as the slower API, not the sum.
    assert!(
        report.duration < Duration::from_millis(5500),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn presence_retries_count_against_its_rate() {
    let sim = Simulator::start(SimOptions {
        presence_rate_limit: 2,
        ..sim_options()
    })
    .await
    .unwrap();
    let app = presence_app(
        &sim,
        "    presence_rate_limit: 2\n    rate_limit: 2\n    retries: 5\n    interval: 20s\n",
        &presence_list_yaml("bots", "online", &ids("u", 1000)),
    );
    // account_check is paced slowly too: a burst of its calls opening connections would
    // delay some presence calls' arrival and bunch them at the simulator (the bound is on
    // when calls start; see the README on pacing). For the same reason the client is
    // warmed first, as in the test above: a cold first call arrives late.
    let client = warm_client(&app, &sim).await;
    sim.push_presence_faults(SDKAPPID, [Fault::Http502; 4]);
    let report = run_with(&app, &client).await;
    assert!(report.success, "{:?}", report.attempts);
    let presence = sim.presence_stats(SDKAPPID);
    assert_eq!(
        presence.requests, 6,
        "2 calls and 4 retries: {:?} {presence:?}",
        report.attempts
    );
    assert!(presence.max_requests_in_one_second <= 2, "{presence:?}");
    assert_eq!(presence.error_codes.get(&60007), None, "{presence:?}");
}

/// Whatever goes wrong with a presence call, no account reads `offline` unless the
/// simulator holds it offline; a fault that touches an account makes it `unknown`.
#[tokio::test]
async fn no_fault_ever_reads_as_offline() {
    let users: Vec<String> = ["alice", "bob", "carol"].map(String::from).to_vec();
    let mut faults = Fault::ONE_OF_EACH.to_vec();
    faults.extend([
        Fault::Code(70403),
        Fault::Code(60007),
        Fault::Code(70107),
        Fault::Code(90001),
    ]);
    for fault in faults {
        let sim = Simulator::start(SimOptions {
            hang: Duration::from_secs(30),
            ..sim_options()
        })
        .await
        .unwrap();
        sim.set_presence(SDKAPPID, "carol", SimPresence::offline());
        sim.push_presence_faults(SDKAPPID, [fault]);
        let app = presence_app(
            &sim,
            "    interval: 4s\n    timeout: 1s\n    retries: 0\n",
            &presence_list_yaml("bots", "online", &users),
        );
        let report = run_cycle(&app).await;
        let seen: Vec<_> = users
            .iter()
            .map(|u| presence_of(&report, "bots", u).unwrap())
            .collect();
        for (user, value) in users.iter().zip(&seen) {
            let held = if user == "carol" {
                PresenceValue::Offline
            } else {
                PresenceValue::Online
            };
            assert!(
                *value == held || *value == PresenceValue::Unknown,
                "{fault}: {user} reads {value:?}"
            );
        }
        let harmless = matches!(fault, Fault::ExtraItem | Fault::Reorder);
        assert_eq!(
            seen.contains(&PresenceValue::Unknown),
            !harmless,
            "{fault}: {seen:?}"
        );
        // Import status is asked apart and is untouched by a presence fault.
        for user in &users {
            assert_eq!(status_of(&report, user), Status::Imported, "{fault}");
        }
    }
}

#[tokio::test]
async fn an_account_never_imported_is_offline_and_not_imported() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "ghost", SimAccount::NotImported);
    let app = presence_app(
        &sim,
        "",
        &presence_list_yaml("bots", "reachable", &["ghost".into(), "alice".into()]),
    );
    let report = run_cycle(&app).await;
    assert_eq!(
        presence_of(&report, "bots", "ghost"),
        Some(PresenceValue::Offline)
    );
    assert_eq!(status_of(&report, "ghost"), Status::NotImported);
    let ghost = report
        .accounts
        .iter()
        .find(|a| a.user_id == "ghost")
        .unwrap();
    assert!(ghost.drift() && ghost.presence_drift());
}

fn presence_lists() -> String {
    format!(
        "{}{}",
        presence_list_yaml(
            "bots",
            "online",
            &["alice".into(), "bob".into(), "carol".into(), "dave".into()]
        ),
        list_yaml("vip", "imported", &["alice".into(), "erin".into()]),
    )
}

/// alice online, bob offline, carol push-online, dave unknown (an item error).
fn presence_sim(sim: &Simulator) {
    sim.set_presence(SDKAPPID, "bob", SimPresence::offline());
    sim.set_presence(SDKAPPID, "carol", SimPresence::push_online());
}

#[tokio::test]
async fn the_daemon_serves_presence_in_metrics_json_and_page() {
    let sim = start_sim().await;
    presence_sim(&sim);
    sim.push_presence_faults(SDKAPPID, [Fault::ItemError]);
    // An import item error too, so every family is served.
    sim.set_account(SDKAPPID, "erin", SimAccount::ItemError(70500));
    let (_dir, path) = write_config(&app_yaml(
        &sim.endpoint(),
        "    interval: 60s\n    retries: 0\n",
        &presence_lists(),
    ));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let scrape = daemon.scrape().await;
    assert_eq!(served_families(&scrape), golden_without_web_config());

    let app = [("im_app", "test-app"), ("im_region", "singapore")];
    // The item error hits the first item asked; which UserID that is depends on order,
    // so find the one account whose presence is unknown.
    let value = |id: &str, presence: &str| {
        scrape.value(
            "tim_account_presence",
            &[
                app[0],
                app[1],
                ("watchlist", "bots"),
                ("user_id", id),
                ("presence", presence),
            ],
        )
    };
    let mut unknown = Vec::new();
    for id in ["alice", "bob", "carol", "dave"] {
        let ones: Vec<_> = ["online", "push_online", "offline", "unknown"]
            .into_iter()
            .filter(|p| value(id, p) == Some(1.0))
            .collect();
        assert_eq!(ones.len(), 1, "{id}: exactly one presence series is 1");
        if ones[0] == "unknown" {
            unknown.push(id);
        }
    }
    assert_eq!(unknown.len(), 1, "one item error: {unknown:?}");
    let expected = |id: &str| {
        if unknown.contains(&id) {
            "unknown"
        } else {
            match id {
                "bob" => "offline",
                "carol" => "push_online",
                _ => "online",
            }
        }
    };
    for id in ["alice", "bob", "carol", "dave"] {
        assert_eq!(value(id, expected(id)), Some(1.0), "{id}");
        let drift = scrape.value(
            "tim_account_presence_drift",
            &[app[0], app[1], ("watchlist", "bots"), ("user_id", id)],
        );
        let in_drift = matches!(expected(id), "offline" | "push_online");
        assert_eq!(drift, Some(f64::from(u8::from(in_drift))), "{id}");
    }
    assert!(
        scrape
            .find("tim_account_presence", &[("watchlist", "vip")])
            .is_empty(),
        "a list without presence has no presence series"
    );
    let count = |presence: &str| {
        scrape.value(
            "tim_watchlist_presence_accounts",
            &[
                app[0],
                app[1],
                ("watchlist", "bots"),
                ("presence", presence),
            ],
        )
    };
    let of = |value: &str| {
        ["alice", "bob", "carol", "dave"]
            .iter()
            .filter(|id| expected(id) == value)
            .count() as f64
    };
    for presence in ["online", "push_online", "offline", "unknown"] {
        assert_eq!(count(presence), Some(of(presence)), "{presence}");
    }
    assert_eq!(
        scrape.value(
            "tim_watchlist_presence_drift_accounts",
            &[app[0], app[1], ("watchlist", "bots")]
        ),
        Some(of("offline") + of("push_online"))
    );
    assert_eq!(
        scrape.value(
            "tim_api_requests_total",
            &[app[0], app[1], ("api", "query_online_status")]
        ),
        Some(1.0)
    );
    assert_eq!(
        scrape.value("tim_check_success", &[app[0], app[1]]),
        Some(0.0),
        "a presence unknown is a cycle without every result"
    );

    let (status, json) = daemon.get("/api/v1/status").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let drift = (of("offline") + of("push_online")) as u64;
    assert_eq!(json["summary"]["presence_drift"], drift);
    assert_eq!(json["summary"]["presence_unknown"], 1);
    let accounts = json["apps"][0]["accounts"].as_array().unwrap();
    let find = |list: &str, id: &str| {
        accounts
            .iter()
            .find(|a| a["watchlist"] == list && a["user_id"] == id)
            .unwrap_or_else(|| panic!("{list}/{id} in {json}"))
    };
    assert_eq!(find("vip", "alice")["presence"], serde_json::Value::Null);
    for id in ["alice", "bob", "carol", "dave"] {
        let presence = &find("bots", id)["presence"];
        assert_eq!(presence["status"], expected(id), "{id}: {presence}");
        assert_eq!(presence["expected"], "online");
        assert_eq!(
            presence["drift"],
            matches!(expected(id), "offline" | "push_online")
        );
        assert_eq!(
            presence["error"].is_null(),
            expected(id) != "unknown",
            "{presence}"
        );
        assert!(
            presence["since"].is_null(),
            "no change seen yet: {presence}"
        );
        assert!(presence["platforms"].is_array());
    }
    if expected("carol") == "push_online" {
        let platforms = find("bots", "carol")["presence"]["platforms"].clone();
        assert!(
            platforms
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["status"] == "push_online" && p["platform"].is_string()),
            "{platforms}"
        );
    }

    let (status, page) = daemon.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("<th>Presence</th>"), "{page}");
    assert!(page.contains("Presence: in drift:"), "{page}");
    // Every account in presence drift or unknown is in "Needs attention", with why.
    for id in ["alice", "bob", "carol", "dave"] {
        let shown = format!(">{} (expected online)", expected(id));
        assert_eq!(
            page.contains(&shown),
            expected(id) != "online",
            "{id}: {page}"
        );
    }
    assert!(page.contains("presence expected online"), "{page}");
    if expected("carol") == "push_online" {
        assert!(
            page.contains("push_online (expected online); iPhone: push_online"),
            "the platforms are shown: {page}"
        );
    }
    daemon.stop().await;
}

#[tokio::test]
async fn once_prints_presence_and_exits_by_it() {
    let sim = start_sim().await;
    let (_dir, path) = write_config(&app_yaml(
        &sim.endpoint(),
        "",
        &presence_list_yaml("bots", "reachable", &["alice".into(), "carol".into()]),
    ));
    let once = |output: &'static str| {
        let path = path.clone();
        async move {
            run_exporter(vec![
                "--config.file".into(),
                path.display().to_string(),
                "--once".into(),
                "--output".into(),
                output.into(),
            ])
            .await
        }
    };
    // push_online is reachable: no drift, exit 0.
    sim.set_presence(SDKAPPID, "carol", SimPresence::push_online());
    let out = once("table").await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.lines().next().unwrap().contains("PRESENCE"),
        "{table}"
    );
    assert!(table.contains("push_online"), "{table}");

    // Offline: presence drift, exit 1, drift rows first.
    sim.set_presence(SDKAPPID, "carol", SimPresence::offline());
    let out = once("table").await;
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    let first_row = table.lines().nth(1).unwrap();
    assert!(
        first_row.contains("carol") && first_row.contains("offline"),
        "{table}"
    );
    let out = once("json").await;
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["presence_drift"], 1);
    assert_eq!(json["summary"]["drift"], 0);
    let carol = &json["apps"][0]["accounts"][1];
    assert_eq!(carol["user_id"], "carol");
    assert_eq!(carol["since"], serde_json::Value::Null);
    assert_eq!(carol["presence"]["status"], "offline");
    assert_eq!(carol["presence"]["expected"], "reachable");
    assert_eq!(carol["presence"]["drift"], true);

    // Presence unknown and nothing in drift: exit 3.
    sim.set_presence(SDKAPPID, "carol", SimPresence::online());
    sim.push_presence_faults(SDKAPPID, [Fault::Code(70403)]);
    let out = once("json").await;
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["presence_unknown"], 2);
    assert_eq!(json["summary"]["unknown"], 0);
}

/// online → offline → online: drift starts and ends in /metrics, and `since` moves.
#[tokio::test]
async fn presence_drift_starts_and_ends_with_since_moving() {
    let sim = start_sim().await;
    let (_dir, path) = write_config(&app_yaml(
        &sim.endpoint(),
        "    interval: 1s\n    timeout: 500ms\n",
        &presence_list_yaml("bots", "online", &["alice".into(), "bob".into()]),
    ));
    let daemon = RunningDaemon::from_file(&path).await;
    daemon.wait_ready().await;
    let drift_is = |value: f64| {
        move |scrape: &Scrape| {
            scrape.value(
                "tim_account_presence_drift",
                &[("watchlist", "bots"), ("user_id", "bob")],
            ) == Some(value)
        }
    };
    let since = || async {
        let (_, json) = daemon.get("/api/v1/status").await;
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let bob = json["apps"][0]["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["user_id"] == "bob")
            .unwrap()
            .clone();
        (
            bob["presence"]["status"].clone(),
            bob["presence"]["since"].clone(),
        )
    };
    daemon
        .scrape_until(Duration::from_secs(10), "bob online", drift_is(0.0))
        .await;
    assert_eq!(since().await, ("online".into(), serde_json::Value::Null));

    sim.set_presence(SDKAPPID, "bob", SimPresence::offline());
    let scrape = daemon
        .scrape_until(Duration::from_secs(10), "bob in drift", drift_is(1.0))
        .await;
    assert_eq!(
        scrape.value(
            "tim_watchlist_presence_drift_accounts",
            &[("watchlist", "bots")]
        ),
        Some(1.0)
    );
    let (status, offline_since) = since().await;
    assert_eq!(status, "offline");
    let offline_since = offline_since.as_str().expect("since is set").to_owned();

    sim.set_presence(SDKAPPID, "bob", SimPresence::online());
    daemon
        .scrape_until(Duration::from_secs(10), "bob back", drift_is(0.0))
        .await;
    let (status, online_since) = since().await;
    assert_eq!(status, "online");
    let online_since = online_since.as_str().expect("since is set").to_owned();
    assert!(
        online_since > offline_since,
        "{online_since} after {offline_since}"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn config_check_counts_the_accounts_with_presence() {
    let lists = format!(
        "{}{}",
        presence_list_yaml("bots", "online", &ids("b", 3)),
        list_yaml("vip", "imported", &ids("v", 4)),
    );
    let out = config_check_lists(&lists).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("apps: 1, watch lists: 2, distinct accounts: 7, with presence: 3"));
}

/// 70050 from query_online_status stops the app's calls to both APIs, as from
/// account_check: they share the admin's UserSig.
#[tokio::test]
async fn a_70050_lockout_from_presence_stops_both_apis() {
    let sim = start_sim().await;
    sim.push_presence_faults(SDKAPPID, [Fault::Code(70050)]);
    let app = presence_app(
        &sim,
        "    retries: 3\n",
        &presence_list_yaml("bots", "online", &["alice".into()]),
    );
    let client = client(&app);
    let first = run_with(&app, &client).await;
    assert_eq!(
        sim.presence_stats(SDKAPPID).requests,
        1,
        "70050 is not retried"
    );
    assert_eq!(
        presence_of(&first, "bots", "alice"),
        Some(PresenceValue::Unknown)
    );
    let import_calls = sim.stats(SDKAPPID).requests;
    let second = run_with(&app, &client).await;
    assert!(second.attempts.is_empty(), "{:?}", second.attempts);
    assert_eq!(sim.presence_stats(SDKAPPID).requests, 1);
    assert_eq!(sim.stats(SDKAPPID).requests, import_calls);
    assert_eq!(
        presence_of(&second, "bots", "alice"),
        Some(PresenceValue::Unknown)
    );
    assert_eq!(status_of(&second, "alice"), Status::Unknown);
}
