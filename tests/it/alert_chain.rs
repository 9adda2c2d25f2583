//! The whole alert chain, end to end, with the real tools: the simulator, the exporter (the
//! binary), a Prometheus server that scrapes it with the shipped rules
//! (`deploy/prometheus/alerts.yml`), and an Alertmanager with the shipped routing
//! (`deploy/alertmanager/alertmanager.example.yml`) that notifies a catcher in the test.
//!
//! An account flipped to not imported in the simulator pages exactly once, with the right
//! `im_app`, `watchlist` and `user_id`; flipped back, the page resolves. An API outage of
//! another app (every call HTTP 502) pages as that app's failing checks, and never as drift.
//!
//! Time runs 60 times faster than in a default deployment, so the chain keeps the shipped
//! proportions: the app's `interval` is 1 s (the default 60 s), Prometheus scrapes and
//! evaluates every 500 ms (the example's 30 s) and resends alerts every second (its default
//! 1 m). The shipped files are not edited; the test loads copies with every duration the
//! timing depends on divided by 60:
//!
//! - the rules: every `for` and `keep_firing_for` (drift `for` 10 s, held 30 s after the
//!   account is back; failing checks `for` 15 s), except `TimExporterMissing`'s, which stays
//!   5 minutes (the exporter's absence before Prometheus's first scrape is not what this
//!   chain is about). Expressions are untouched: their windows do not enter the alerts
//!   watched here;
//! - the routing: every `group_wait`, `group_interval` and `repeat_interval` (500 ms, 5 s,
//!   and 1 m for pages) and `resolve_timeout`. Each receiver becomes a webhook to the
//!   catcher at `/<receiver name>`, so the catcher sees every alert's labels (a PagerDuty
//!   event carries text only; the page's summary is tested in the deploy tests). Routes,
//!   grouping and inhibitions are the shipped ones.
//!
//! The outage needs no waiting for an absence: drift's `for` is shorter than failing
//! checks', so a drift page from the outage would come before the failure page does. The
//! test takes under a minute; it is skipped (outside CI) when a tool is missing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_yaml::Value;
use tim_account_exporter::sim::{Fault, SimAccount, SimApp, SimOptions, Simulator};
use tim_account_exporter::tim::Secret;

use crate::monitoring::*;
use crate::support::*;

/// How much faster than configured the chain runs.
const SPEED: u32 = 60;
/// The app whose account is flipped.
const DRIFT_APP: &str = "prod-sg";
/// The app whose API fails.
const OUTAGE_APP: &str = "prod-jp";
const OUTAGE_SDKAPPID: u64 = SDKAPPID + 1;
/// The account flipped to not imported and back.
const FLIPPED: &str = "vip_01";

/// Two apps with the same lists: `vip` (imported) and `gone` (not imported, and so in the
/// simulator), checked every second.
fn exporter_config(endpoint: &str) -> String {
    let app = |name: &str, sdkappid: u64| {
        format!(
            "  - name: {name}\n    sdkappid: {sdkappid}\n    region: singapore\n    endpoint: {endpoint}\n    admin: {ADMIN}\n    secret_key: {KEY}\n    interval: 1s\n    timeout: 500ms\n    watchlists:\n      - name: vip\n        expect: imported\n        user_ids: [vip_00, vip_01, vip_02]\n      - name: gone\n        expect: not_imported\n        user_ids: [gone_00, gone_01]\n"
        )
    };
    format!(
        "apps:\n{}{}",
        app(DRIFT_APP, SDKAPPID),
        app(OUTAGE_APP, OUTAGE_SDKAPPID)
    )
}

/// Divides every duration under one of `keys`, anywhere in `document`, by [`SPEED`]; how
/// many it changed.
fn speed_up(document: &mut Value, keys: &[&str]) -> usize {
    match document {
        Value::Mapping(mapping) => mapping
            .iter_mut()
            .map(|(key, value)| match (key.as_str(), value.as_str()) {
                (Some(key), Some(text)) if keys.contains(&key) => {
                    let duration = humantime::parse_duration(text)
                        .unwrap_or_else(|e| panic!("{key}: {text:?}: {e}"));
                    *value = format!("{}ms", duration.as_millis() / u128::from(SPEED)).into();
                    1
                }
                _ => speed_up(value, keys),
            })
            .sum(),
        Value::Sequence(items) => items.iter_mut().map(|item| speed_up(item, keys)).sum(),
        _ => 0,
    }
}

/// The shipped rules with their `for` and `keep_firing_for` sped up.
fn rules() -> String {
    let mut rules: Value = serde_yaml::from_str(&read_deploy("prometheus/alerts.yml")).unwrap();
    let changed = speed_up(&mut rules, &["for", "keep_firing_for"]);
    assert!(changed >= 10, "the rules' durations were found ({changed})");
    // Except the exporter's own absence, which this chain is not about: Prometheus can
    // evaluate `absent(up)` before its first scrape, and on a loaded machine its start
    // can outlast a `for` of 5 s. It keeps the shipped 5 minutes.
    let missing = rules["groups"]
        .as_sequence_mut()
        .expect("groups")
        .iter_mut()
        .flat_map(|group| group["rules"].as_sequence_mut().expect("rules").iter_mut())
        .find(|rule| rule["alert"] == "TimExporterMissing")
        .expect("the TimExporterMissing rule");
    missing["for"] = "5m".into();
    serde_yaml::to_string(&rules).unwrap()
}

/// The shipped routing, sped up, every receiver a webhook to `catcher/<receiver>`.
fn routing(catcher: &str) -> String {
    let mut routing: Value =
        serde_yaml::from_str(&read_deploy("alertmanager/alertmanager.example.yml")).unwrap();
    let changed = speed_up(
        &mut routing,
        &[
            "group_wait",
            "group_interval",
            "repeat_interval",
            "resolve_timeout",
        ],
    );
    assert!(
        changed >= 4,
        "the routing's durations were found ({changed})"
    );
    for receiver in routing["receivers"].as_sequence_mut().expect("receivers") {
        let name = receiver["name"].as_str().expect("a name").to_owned();
        let webhook =
            serde_yaml::from_str(&format!("- url: {catcher}/{name}\n  send_resolved: true\n"))
                .unwrap();
        *receiver = serde_yaml::from_str(&format!("name: {name}\n")).unwrap();
        receiver["webhook_configs"] = webhook;
    }
    serde_yaml::to_string(&routing).unwrap()
}

/// Prometheus scraping `target` every 500 ms with the rules at `rules`, alerting `alertmanager`.
fn prometheus_config(rules: &Path, target: std::net::SocketAddr, alertmanager: &str) -> String {
    format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 500ms\n  evaluation_interval: 500ms\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\nscrape_configs:\n  - job_name: tim-account-exporter\n    static_configs:\n      - targets: ['{target}']\n",
        rules.display(),
        alertmanager.trim_start_matches("http://"),
    )
}

/// One webhook notification as the catcher got it.
#[derive(Debug, Clone)]
struct Notification {
    receiver: String,
    /// `firing` or `resolved`.
    status: String,
    alertname: String,
    im_app: String,
    /// Each alert's status and labels.
    alerts: Vec<(String, BTreeMap<String, String>)>,
}

impl Notification {
    fn from_webhook(path: &str, body: &serde_json::Value) -> Self {
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        let alerts = body["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .map(|alert| {
                let labels = serde_json::from_value(alert["labels"].clone()).expect("labels");
                (text(&alert["status"]), labels)
            })
            .collect();
        Notification {
            receiver: path.trim_start_matches('/').to_owned(),
            status: text(&body["status"]),
            alertname: text(&body["groupLabels"]["alertname"]),
            im_app: text(&body["groupLabels"]["im_app"]),
            alerts,
        }
    }

    fn is(&self, alertname: &str, im_app: &str, status: &str) -> bool {
        self.alertname == alertname && self.im_app == im_app && self.status == status
    }
}

fn notifications(received: &Received) -> Vec<Notification> {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|(path, body)| Notification::from_webhook(path, body))
        .collect()
}

/// Waits up to `limit` for a notification that `check` accepts.
async fn wait_for(
    received: &Received,
    limit: Duration,
    what: &str,
    check: impl Fn(&Notification) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !notifications(received).iter().any(&check) {
        assert!(
            Instant::now() < deadline,
            "no notification of {what} within {limit:?}; got {:#?}",
            notifications(received)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_pages_once_then_resolves_and_an_outage_pages_as_failing_checks_not_drift() {
    let (Some(prometheus), Some(alertmanager)) = (
        tool("prometheus", PROMETHEUS_PACKAGE),
        tool("prometheus-alertmanager", ALERTMANAGER_PACKAGE),
    ) else {
        return;
    };
    let started = Instant::now();
    let sim_app = |sdkappid| SimApp {
        sdkappid,
        admin: ADMIN.to_owned(),
        key: Secret::new(KEY),
    };
    let sim = Simulator::start(SimOptions {
        apps: vec![sim_app(SDKAPPID), sim_app(OUTAGE_SDKAPPID)],
        ..SimOptions::default()
    })
    .await
    .unwrap();
    for sdkappid in [SDKAPPID, OUTAGE_SDKAPPID] {
        for user_id in ["gone_00", "gone_01"] {
            sim.set_account(sdkappid, user_id, SimAccount::NotImported);
        }
    }
    let (_config_dir, config) = write_config(&exporter_config(&sim.endpoint()));
    let daemon = DaemonProcess::start(&["--config.file", &config.display().to_string()]);

    let received = Received::default();
    let catcher = notification_catcher(received.clone()).await;
    let alertmanager = ToolServer::alertmanager(&alertmanager, &routing(&catcher)).await;
    let rules_dir = tempfile::tempdir().unwrap();
    let rules_path = rules_dir.path().join("alerts.yml");
    std::fs::write(&rules_path, rules()).unwrap();
    let resend = format!("--rules.alert.resend-delay={}ms", 60_000 / SPEED);
    let prometheus = ToolServer::prometheus(
        &prometheus,
        &prometheus_config(&rules_path, daemon.addr, &alertmanager.base),
        &[&resend],
    )
    .await;

    // Both apps checked and scraped: every account has its status in Prometheus.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while prometheus
        .query(
            &http,
            r#"count(tim_account_status{status!="unknown"} == 1)"#,
        )
        .await
        != Some(10.0)
    {
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw every account; exporter log:\n{}",
            daemon.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = started.elapsed();

    // At once: vip_01 of prod-sg deleted, and every call of prod-jp failing with HTTP 502
    // (more scripted faults than the test makes calls) until the end.
    sim.set_account(SDKAPPID, FLIPPED, SimAccount::NotImported);
    sim.push_faults(
        OUTAGE_SDKAPPID,
        std::iter::repeat_n(Fault::Http502, 100_000),
    );
    let flipped = Instant::now();

    wait_for(&received, Duration::from_secs(60), "the drift page", |n| {
        n.is("TimAccountDrift", DRIFT_APP, "firing")
    })
    .await;
    let paged = flipped.elapsed();
    sim.set_account(SDKAPPID, FLIPPED, SimAccount::Imported);
    let back = Instant::now();
    wait_for(
        &received,
        Duration::from_secs(90),
        "the drift resolved",
        |n| n.is("TimAccountDrift", DRIFT_APP, "resolved"),
    )
    .await;
    let resolved = back.elapsed();
    wait_for(&received, Duration::from_secs(60), "the outage page", |n| {
        n.is("TimAppChecksFailing", OUTAGE_APP, "firing")
    })
    .await;
    // A stray notification (a second page, a late drift) would come at the next flush of
    // its group, one group_interval (5 s) later.
    tokio::time::sleep(Duration::from_secs(6)).await;

    // The outage made prod-jp's accounts unknown: never not imported, never drift.
    assert_eq!(
        prometheus
            .query(
                &http,
                r#"sum(tim_account_status{im_app="prod-jp",status="unknown"})"#
            )
            .await,
        Some(5.0),
        "prod-jp's accounts are unknown in the outage"
    );

    // The failing checks explain the unknown accounts: TimAccountUnknown fires for them in
    // Prometheus, and Alertmanager inhibits it, so it reaches no receiver. (The app-wide
    // alert carries no `instance`, being summed over shards: the inhibition must not ask
    // for one.)
    let deadline = Instant::now() + Duration::from_secs(20);
    while prometheus
        .query(
            &http,
            r#"count(ALERTS{alertname="TimAccountUnknown",im_app="prod-jp",alertstate="firing"})"#,
        )
        .await
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "TimAccountUnknown never fired for prod-jp"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Past its group's wait and a resend, a notification not inhibited would be here.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let all = notifications(&received);
    assert!(
        !all.iter()
            .any(|n| n.alertname == "TimAccountUnknown" && n.im_app == OUTAGE_APP),
        "the outage's unknown accounts were not inhibited: {all:#?}"
    );
    let drift: Vec<&Notification> = all
        .iter()
        .filter(|n| n.alertname == "TimAccountDrift")
        .collect();
    // Exactly one page for the drift, on the pager, naming the account, then one resolved.
    assert_eq!(
        drift
            .iter()
            .map(|n| (n.receiver.as_str(), n.im_app.as_str(), n.status.as_str()))
            .collect::<Vec<_>>(),
        [
            ("pager", DRIFT_APP, "firing"),
            ("pager", DRIFT_APP, "resolved")
        ],
        "drift notifications: {drift:#?}"
    );
    for (notification, status) in drift.iter().zip(["firing", "resolved"]) {
        let [(alert_status, labels)] = notification.alerts.as_slice() else {
            panic!("one alert in {notification:#?}");
        };
        assert_eq!(alert_status, status);
        for (label, value) in [
            ("alertname", "TimAccountDrift"),
            ("severity", "critical"),
            ("im_app", DRIFT_APP),
            ("watchlist", "vip"),
            ("user_id", FLIPPED),
            ("status", "not_imported"),
        ] {
            assert_eq!(
                labels.get(label).map(String::as_str),
                Some(value),
                "{label} of {labels:?}"
            );
        }
    }

    // The outage: a page for prod-jp's failing checks, and nothing else pages for it.
    let outage_pages: Vec<&Notification> = all
        .iter()
        .filter(|n| n.receiver == "pager" && n.im_app == OUTAGE_APP)
        .collect();
    assert!(!outage_pages.is_empty());
    for page in &outage_pages {
        assert!(
            page.is("TimAppChecksFailing", OUTAGE_APP, "firing"),
            "only failing checks page for the outage: {page:#?}"
        );
        assert!(page.alerts.iter().all(|(status, labels)| status == "firing"
            && labels["im_app"] == OUTAGE_APP
            && labels["severity"] == "critical"));
    }
    // Nothing else reached the pager; warnings (the chat) may tell of the outage too.
    assert!(
        all.iter()
            .filter(|n| n.receiver == "pager")
            .all(|n| n.alertname == "TimAccountDrift" || n.alertname == "TimAppChecksFailing"),
        "{all:#?}"
    );
    let sent: Vec<String> = all
        .iter()
        .map(|n| format!("{} {} {} {}", n.receiver, n.alertname, n.im_app, n.status))
        .collect();
    eprintln!(
        "alert chain: ready after {ready:?}; drift paged {paged:?} after the flip, resolved \
         {resolved:?} after the flip back; {:?} in all; notifications: {sent:?}",
        started.elapsed()
    );
}
