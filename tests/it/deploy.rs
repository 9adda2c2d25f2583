//! The files under `deploy/` checked with the real tools: the systemd unit
//! (`systemd-analyze`, and its command line run with credentials as systemd would), the
//! alert rules and their tests and the Prometheus example (`promtool`), the Alertmanager
//! example (`amtool`), the dashboard's and the rules' metric names against what the
//! exporter serves, and the container image's settings.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::monitoring::*;
use crate::support::*;

const SYSTEMD: &str = "the Debian package systemd";

/// Runs `command`, asserting it succeeds; its output.
fn succeeds(command: &mut Command) -> Output {
    let output = command.output().expect("the tool runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

// ---- systemd ----

const UNIT: &str = "systemd/tim-account-exporter.service";
const SOCKET_UNIT: &str = "systemd/tim-account-exporter.socket";
const INSTALLED_BINARY: &str = "/usr/local/bin/tim-account-exporter";

/// The values of every `key=` line of a unit file, in order.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
        .map(str::to_owned)
        .collect()
}

/// The unit's one value of `key`.
fn unit_value(unit: &str, key: &str) -> String {
    let values = unit_values(unit, key);
    assert_eq!(values.len(), 1, "{key}= is set once: {values:?}");
    values[0].clone()
}

#[test]
fn the_systemd_unit_verifies_and_its_exposure_is_at_most_2() {
    let Some(analyze) = tool("systemd-analyze", SYSTEMD) else {
        return;
    };
    let unit = read_deploy(UNIT);
    // verify checks that the commands exist: point them at the binary under test.
    assert!(unit.contains(INSTALLED_BINARY));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tim-account-exporter.service");
    let binary = env!("CARGO_BIN_EXE_tim-account-exporter");
    std::fs::write(&path, unit.replace(INSTALLED_BINARY, binary)).unwrap();

    // The socket unit beside it, for socket activation (--web.systemd-socket).
    let socket = dir.path().join("tim-account-exporter.socket");
    std::fs::write(&socket, read_deploy(SOCKET_UNIT)).unwrap();
    let output = succeeds(Command::new(&analyze).arg("verify").arg(&path).arg(&socket));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(said.trim(), "", "systemd-analyze verify has no complaint");

    let output = succeeds(
        Command::new(&analyze)
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&path),
    );
    assert_exposure_at_most_2(&String::from_utf8_lossy(&output.stdout));
}

/// Asserts the overall exposure of a `systemd-analyze security` report is at most 2.0.
pub fn assert_exposure_at_most_2(report: &str) {
    let exposure: f64 = report
        .lines()
        .find_map(|line| line.split("Overall exposure level for").nth(1))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in:\n{report}"));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{report}");
}

#[test]
fn the_systemd_unit_has_the_service_settings_operators_rely_on() {
    let unit = read_deploy(UNIT);
    for (key, value) in [
        ("User", "tim-account-exporter"),
        ("Group", "tim-account-exporter"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
        ("EnvironmentFile", "-/etc/default/tim-account-exporter"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(unit_value(&unit, key), value, "{key}=");
    }
    assert!(unit_value(&unit, "ExecStart").ends_with(" $ARGS"));
    // The memory bound the soak test asserts holds with a fixed mmap threshold.
    assert!(unit_values(&unit, "Environment").contains(&"MALLOC_MMAP_THRESHOLD_=131072".to_owned()));
    // The example file for EnvironmentFile= sets the same variable.
    assert!(read_deploy("systemd/tim-account-exporter.default").contains("\nARGS="));
}

#[tokio::test]
async fn the_unit_command_runs_with_its_credentials_reloads_on_hup_and_stops_on_term() {
    let unit = read_deploy(UNIT);
    let sim = start_sim().await;
    // LoadCredential=<id>:<source>: systemd copies the source to $CREDENTIALS_DIRECTORY/<id>.
    let credential = unit_value(&unit, "LoadCredential");
    let (id, _source) = credential.split_once(':').expect("id:path");
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join(id), format!("{KEY}\n")).unwrap();
    let yaml = app_yaml(
        &sim.endpoint(),
        "",
        &list_yaml("ops-bots", "imported", &ids("bot", 3)),
    )
    .replace(
        &format!("secret_key: {KEY}"),
        &format!("secret_key_file: ${{CREDENTIALS_DIRECTORY}}/{id}"),
    );
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, yaml).unwrap();

    // ExecStart as systemd runs it, with an empty $ARGS and the test's configuration.
    let exec_start = unit_value(&unit, "ExecStart");
    let mut words = exec_start.split_whitespace();
    assert_eq!(words.next(), Some(INSTALLED_BINARY));
    let config_flag = format!("--config.file={}", config.display());
    let args: Vec<&str> = words
        .filter(|word| !word.starts_with('$'))
        .map(|word| {
            if word.starts_with("--config.file=") {
                config_flag.as_str()
            } else {
                word
            }
        })
        .collect();
    assert!(args.contains(&config_flag.as_str()), "{exec_start}");
    let mut daemon =
        DaemonProcess::start_with_env(&args, &[("CREDENTIALS_DIRECTORY", credentials.as_path())]);
    get_until(
        &daemon.url("/-/ready"),
        Duration::from_secs(20),
        |status, _| status == 200,
    )
    .await;
    // The key read from the credentials directory signs calls the service accepts.
    let stats = sim.stats(SDKAPPID);
    assert_eq!(
        stats.error_codes.get(&0),
        Some(&stats.requests),
        "{stats:?}"
    );

    // ExecReload: SIGHUP re-reads the configuration, the key again from the credentials.
    assert_eq!(unit_value(&unit, "ExecReload"), "/bin/kill -HUP $MAINPID");
    daemon.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !daemon.stderr().contains("configuration reloaded") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload:\n{}",
            daemon.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!daemon.stderr().contains(KEY));
    daemon.assert_stops_cleanly_on("TERM");
}

// ---- Prometheus and Alertmanager ----

#[test]
fn the_alert_rules_pass_their_unit_tests_and_the_example_config_loads_them() {
    let Some(promtool) = tool("promtool", PROMETHEUS_PACKAGE) else {
        return;
    };
    let dir = deploy("prometheus");
    succeeds(
        Command::new(&promtool)
            .args(["check", "rules", "alerts.yml"])
            .current_dir(&dir),
    );
    succeeds(
        Command::new(&promtool)
            .args(["test", "rules", "alerts.test.yml"])
            .current_dir(&dir),
    );
    let output = succeeds(
        Command::new(&promtool)
            .args(["check", "config", "prometheus.example.yml"])
            .current_dir(&dir),
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 rule files found"),
        "the example loads alerts.yml"
    );
}

/// Every rule of alerts.yml as a YAML mapping.
fn alert_rules() -> Vec<serde_yaml::Value> {
    let rules: serde_yaml::Value =
        serde_yaml::from_str(&read_deploy("prometheus/alerts.yml")).unwrap();
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules").clone())
        .collect()
}

#[test]
fn every_alert_has_a_severity_an_action_and_tests_firing_and_not_firing() {
    let tests: serde_yaml::Value =
        serde_yaml::from_str(&read_deploy("prometheus/alerts.test.yml")).unwrap();
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for case in tests["tests"].as_sequence().expect("tests") {
        for check in case["alert_rule_test"].as_sequence().expect("checks") {
            let name = check["alertname"].as_str().unwrap().to_owned();
            let fires = check["exp_alerts"]
                .as_sequence()
                .is_some_and(|alerts| !alerts.is_empty());
            if fires { &mut firing } else { &mut silent }.insert(name);
        }
    }
    let rules = alert_rules();
    assert!(rules.len() >= 10, "{} rules", rules.len());
    for rule in &rules {
        let name = rule["alert"].as_str().expect("an alerting rule");
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: {severity:?}"
        );
        for annotation in ["summary", "description"] {
            let text = rule["annotations"][annotation].as_str().unwrap_or_default();
            assert!(text.len() > 30, "{name} has a {annotation}");
        }
        assert!(firing.contains(name), "{name} is tested firing");
        assert!(silent.contains(name), "{name} is tested not firing");
    }
    let drift = rules
        .iter()
        .find(|rule| rule["alert"] == "TimAccountDrift")
        .expect("the drift alert");
    assert_eq!(drift["for"], "10m");
    assert_eq!(drift["labels"]["severity"], "critical");
    let summary = drift["annotations"]["summary"].as_str().unwrap();
    for label in ["im_app", "watchlist", "user_id"] {
        assert!(summary.contains(&format!("$labels.{label}")), "{summary}");
    }

    let rule = |name: &str| {
        rules
            .iter()
            .find(|rule| rule["alert"] == name)
            .unwrap_or_else(|| panic!("the alert {name}"))
    };
    // Presence drift waits out a reconnect (the service sees a dead connection after about
    // 400 s) and holds through a brief one, and says which presence it found.
    let presence = rule("TimAccountPresenceDrift");
    assert_eq!(presence["for"], "10m");
    assert_eq!(presence["keep_firing_for"], "15m");
    assert_eq!(presence["labels"]["severity"], "critical");
    let summary = presence["annotations"]["summary"].as_str().unwrap();
    for label in ["im_app", "watchlist", "user_id", "presence"] {
        assert!(summary.contains(&format!("$labels.{label}")), "{summary}");
    }
    // Unknown presence of a whole app stays silent while the app's checks fail as a whole.
    let unknown = rule("TimAppPresenceUnknown");
    assert_eq!(unknown["labels"]["severity"], "warning");
    let expr = unknown["expr"].as_str().unwrap();
    let failing = rule("TimAppChecksFailing")["expr"].as_str().unwrap();
    let (_, unless) = expr.split_once("unless").expect("unless");
    let squeeze = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(squeeze(unless).contains(&squeeze(failing)), "{expr}");
    // The API alerts are per api and say which.
    for name in [
        "TimApiRateLimited",
        "TimApiPermissionDenied",
        "TimApiLatencyHigh",
    ] {
        let api = rule(name);
        let expr = api["expr"].as_str().unwrap();
        assert!(!expr.contains("without (api)"), "{name}: {expr}");
        let summary = api["annotations"]["summary"].as_str().unwrap();
        assert!(summary.contains("$labels.api"), "{name}: {summary}");
    }
}

#[test]
fn the_alertmanager_example_is_valid_and_routes_by_severity_and_app() {
    let Some(amtool) = tool("amtool", ALERTMANAGER_PACKAGE) else {
        return;
    };
    let config = deploy("alertmanager/alertmanager.example.yml");
    succeeds(Command::new(&amtool).arg("check-config").arg(&config));
    for (receiver, labels) in [
        (
            "pager",
            "alertname=TimAccountDrift severity=critical im_app=prod-sg",
        ),
        (
            "pager-eu",
            "alertname=TimAccountDrift severity=critical im_app=prod-eu",
        ),
        ("pager", "alertname=TimExporterDown severity=critical"),
        (
            "chat",
            "alertname=TimAccountUnknown severity=warning im_app=prod-sg",
        ),
        (
            "chat-eu",
            "alertname=TimApiRateLimited severity=warning im_app=prod-eu",
        ),
        (
            "pager",
            "alertname=TimAccountPresenceDrift severity=critical im_app=prod-sg",
        ),
        (
            "chat",
            "alertname=TimAppPresenceUnknown severity=warning im_app=prod-sg",
        ),
    ] {
        let mut command = Command::new(&amtool);
        command
            .args(["config", "routes", "test", "--config.file"])
            .arg(&config)
            .arg(format!("--verify.receivers={receiver}"))
            .args(labels.split(' '));
        succeeds(&mut command);
    }
    // Drift alerts are grouped per app and watch list.
    let routing: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let group_by = routing["route"]["group_by"].as_sequence().unwrap();
    for label in ["im_app", "watchlist"] {
        assert!(group_by.iter().any(|l| l == label), "group_by {label}");
    }
}

/// The example configuration with its receivers sent to `catcher` (`/<receiver>`) and
/// short group waits, so a test sees notifications within seconds. The wait is long enough
/// for every alert of one POST to be in its group on a loaded machine before the group is
/// sent (a shorter one sent a partial group, then an update, as a second page).
fn routed_to(catcher: &str) -> String {
    let mut config: serde_yaml::Value =
        serde_yaml::from_str(&read_deploy("alertmanager/alertmanager.example.yml")).unwrap();
    config["route"]["group_wait"] = "4s".into();
    config["route"]["group_interval"] = "1s".into();
    for receiver in config["receivers"].as_sequence_mut().unwrap() {
        let url = format!("{catcher}/{}", receiver["name"].as_str().unwrap());
        for kind in ["pagerduty_configs", "webhook_configs"] {
            for target in receiver[kind].as_sequence_mut().into_iter().flatten() {
                target["url"] = url.clone().into();
            }
        }
    }
    serde_yaml::to_string(&config).unwrap()
}

#[tokio::test]
async fn the_alertmanager_example_pages_once_per_watch_list_with_a_summary() {
    let Some(alertmanager) = tool("prometheus-alertmanager", ALERTMANAGER_PACKAGE) else {
        return;
    };
    let received = Received::default();
    let catcher = notification_catcher(received.clone()).await;
    let server = ToolServer::alertmanager(&alertmanager, &routed_to(&catcher)).await;
    let base = &server.base;

    // Two accounts of one watch list in drift, one of another team's app, and an app whose
    // checks fail, with one of its accounts and its presences unknown (the same cause). Two
    // accounts in presence drift, one of them not imported (its drift page explains it).
    let alert = |name: &str, severity: &str, labels: &[(&str, &str)], summary: &str| {
        let mut all = serde_json::json!({
            "alertname": name, "severity": severity, "job": "tim-account-exporter",
            "instance": "exporter:9731", "im_region": "singapore",
        });
        for (key, value) in labels {
            all[*key] = (*value).into();
        }
        serde_json::json!({"labels": all, "annotations": {"summary": summary}})
    };
    let drift = |app: &str, user: &str| {
        alert(
            "TimAccountDrift",
            "critical",
            &[
                ("im_app", app),
                ("watchlist", "support"),
                ("user_id", user),
                ("status", "not_imported"),
            ],
            &format!("{user} is not_imported in IM app {app}"),
        )
    };
    let presence_drift = |user: &str| {
        alert(
            "TimAccountPresenceDrift",
            "critical",
            &[
                ("im_app", "prod-sg"),
                ("watchlist", "support-online"),
                ("user_id", user),
                ("presence", "offline"),
            ],
            &format!("{user} is offline in IM app prod-sg"),
        )
    };
    // support_00 is already back: the page must quote an alert still firing.
    let mut resolved = drift("prod-sg", "support_00");
    resolved["startsAt"] = "2026-01-01T00:00:00Z".into();
    resolved["endsAt"] = "2026-01-01T00:05:00Z".into();
    let alerts = serde_json::json!([
        resolved,
        drift("prod-sg", "support_01"),
        drift("prod-sg", "support_02"),
        drift("prod-eu", "support_07"),
        alert(
            "TimAppChecksFailing",
            "critical",
            &[("im_app", "prod-jp")],
            "checks fail"
        ),
        alert(
            "TimAccountUnknown",
            "warning",
            &[
                ("im_app", "prod-jp"),
                ("watchlist", "vip"),
                ("user_id", "vip_1")
            ],
            "vip_1 unknown"
        ),
        alert(
            "TimAppPresenceUnknown",
            "warning",
            &[("im_app", "prod-jp")],
            "presence unknown"
        ),
        presence_drift("support_01"),
        presence_drift("support_05"),
    ]);
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v2/alerts"))
        .header("content-type", "application/json")
        .body(alerts.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let summaries = loop {
        let summaries: Vec<(String, String)> = received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(path, body)| {
                let summary = body["payload"]["summary"].as_str()?;
                Some((path.clone(), summary.to_owned()))
            })
            .collect();
        if summaries.len() >= 4 || std::time::Instant::now() > deadline {
            break summaries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give a stray notification (a second page, an inhibited alert) time to arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut summaries = summaries;
    summaries.sort();
    assert_eq!(
        summaries,
        [
            ("/pager".to_owned(), "TimAccountDrift prod-sg/support: 2 firing; support_01 is not_imported in IM app prod-sg".to_owned()),
            ("/pager".to_owned(), "TimAccountPresenceDrift prod-sg/support-online: 1 firing; support_05 is offline in IM app prod-sg".to_owned()),
            ("/pager".to_owned(), "TimAppChecksFailing prod-jp: 1 firing; checks fail".to_owned()),
            ("/pager-eu".to_owned(), "TimAccountDrift prod-eu/support: 1 firing; support_07 is not_imported in IM app prod-eu".to_owned()),
        ]
    );
    let all = received.lock().unwrap().clone();
    assert_eq!(
        all.len(),
        4,
        "nothing else was sent, the unknown warnings and the presence drift of an account \
         not imported are inhibited: {all:?}"
    );
}

// ---- metric names ----

/// The metric names a PromQL expression selects: identifiers that are not functions,
/// keywords, label names (inside braces or grouping clauses), durations or strings.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Keywords besides CLAUSES, and the aggregation operators, which may take `by (…)`
    // before their `(`.
    const KEYWORDS: [&str; 20] = [
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
        "atan2",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "topk",
        "bottomk",
        "quantile",
    ];
    // Grouping keywords: their parenthesis holds label names.
    const CLAUSES: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    // Set after a grouping keyword: the next parenthesis holds label names.
    let mut labels_follow = false;
    while i < chars.len() {
        let c = chars[i];
        let skip_to = |close: char, from: usize| {
            chars[from + 1..]
                .iter()
                .position(|&x| x == close)
                .map_or(chars.len(), |p| from + 1 + p + 1)
        };
        if c == '"' || c == '\'' || c == '`' {
            i = skip_to(c, i);
        } else if c == '{' {
            i = skip_to('}', i);
        } else if c == '[' {
            i = skip_to(']', i);
        } else if c == '(' && labels_follow {
            labels_follow = false;
            i = skip_to(')', i);
        } else if c == '$' || c.is_ascii_digit() || c == '.' {
            // A variable ($job, $__rate_interval) or a number or duration (5m, 0.99).
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if CLAUSES.contains(&word.as_str()) {
                labels_follow = true;
            } else if next != Some(&'(') && !KEYWORDS.contains(&word.to_lowercase().as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_told_from_functions_labels_and_durations() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, im_app) (rate(tim_api_request_duration_seconds_bucket{job=~"$job", code!="x y"}[$__rate_interval]))) > 2
           and on (instance) group_left (im_region) max without (status) (tim_app_info offset 5m) or vector(1) * time()"#,
    );
    assert_eq!(
        names,
        ["tim_api_request_duration_seconds_bucket", "tim_app_info"]
            .map(String::from)
            .into()
    );
}

/// A scrape of the demo as soon as it serves (the demo never gets the codes alerts watch).
async fn fresh_demo_scrape() -> Scrape {
    let mut demo = DaemonProcess::start(&["--demo"]);
    let text = get_until(
        &demo.url("/metrics"),
        Duration::from_secs(20),
        |status, _| status == 200,
    )
    .await;
    demo.assert_stops_cleanly_on("TERM");
    Scrape::parse(&text)
}

/// Every sample name the exporter serves: its contract families (histograms as their
/// `_bucket`, `_sum` and `_count` series) and what `scrape` has besides.
fn served_names(scrape: &Scrape) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = crate::daemon::GOLDEN
        .iter()
        .flat_map(|(name, kind, _)| match *kind {
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{name}{suffix}"))
                .collect(),
            _ => vec![(*name).to_owned()],
        })
        .collect();
    names.extend(scrape.samples.iter().map(|s| s.name.clone()));
    names
}

/// Every PromQL expression of a Grafana dashboard: panel targets' `expr` and template
/// variables' queries (the metric selector of `label_values(selector, label)`).
fn dashboard_queries(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => found.push(expr.clone()),
                    ("query", serde_json::Value::String(query))
                        if query.starts_with("label_values(") =>
                    {
                        let inner = query["label_values(".len()..].trim_end_matches(')');
                        let selector = inner.rsplit_once(',').map_or(inner, |(s, _)| s);
                        found.push(selector.to_owned());
                    }
                    _ => dashboard_queries(value, found),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                dashboard_queries(item, found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_dashboard_and_the_alert_rules_use_only_metrics_the_exporter_serves() {
    let scrape = fresh_demo_scrape().await;
    let served = served_names(&scrape);
    let dashboard: serde_json::Value =
        serde_json::from_str(&read_deploy("grafana/dashboard.json")).expect("valid JSON");
    let mut queries = Vec::new();
    dashboard_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 10, "{} queries", queries.len());
    let mut used = BTreeSet::new();
    for query in &queries {
        let names = metric_names(query);
        assert!(!names.is_empty(), "no metric in {query}");
        for name in names {
            assert!(served.contains(&name), "the dashboard uses {name}: {query}");
            used.insert(name);
        }
    }
    // The panels the operators asked for.
    for name in [
        "tim_watchlist_accounts",
        "tim_watchlist_drift_accounts",
        "tim_account_status",
        "tim_account_drift",
        "tim_api_request_duration_seconds_bucket",
        "tim_api_errors_total",
        "tim_api_retries_total",
        "tim_check_duration_seconds",
        "tim_usersig_expiry_timestamp_seconds",
    ]
    .into_iter()
    .chain(crate::daemon::PRESENCE_FAMILIES)
    {
        assert!(used.contains(name), "the dashboard shows {name}");
    }
    // The API panels split by api.
    for query in queries.iter().filter(|q| q.contains("tim_api_")) {
        assert!(query.contains("api)") || query.contains("api,"), "{query}");
    }

    // An alert on an error code sees its first occurrence only if the code's series is
    // served (at 0) before it: every code the rules name is served for every app from the
    // start.
    let apps: BTreeSet<&str> = scrape
        .find("tim_app_info", &[])
        .iter()
        .map(|s| s.labels["im_app"].as_str())
        .collect();
    assert_eq!(apps.len(), 2);
    let mut watched = 0;
    for rule in alert_rules() {
        let expr = rule["expr"].as_str().unwrap();
        for codes in expr.split(r#"tim_api_errors_total{code=~""#).skip(1) {
            let codes = codes.split('"').next().unwrap();
            for code in codes.split('|') {
                watched += 1;
                for app in &apps {
                    // One series per API the app calls (the demo's prod-sg calls both).
                    let series =
                        scrape.find("tim_api_errors_total", &[("im_app", app), ("code", code)]);
                    let apis = scrape
                        .find("tim_api_requests_total", &[("im_app", app)])
                        .len();
                    assert_eq!(
                        series.len(),
                        apis,
                        "{code} of {app} is served for every api"
                    );
                    for sample in series {
                        assert_eq!(
                            sample.value, 0.0,
                            "{code} of {app} is served at 0 from the start: {sample:?}"
                        );
                    }
                }
            }
        }
        for name in metric_names(expr) {
            // `up` is Prometheus's own series for the scrape.
            assert!(
                name == "up" || served.contains(&name),
                "{} uses {name}",
                rule["alert"].as_str().unwrap()
            );
        }
    }
    assert_eq!(watched, 22, "the rate-limit and permission codes");
}

// ---- container image ----

#[test]
fn the_container_image_runs_the_binary_as_non_root_on_the_default_port() {
    let dockerfile = read_deploy("docker/Dockerfile");
    let instructions: Vec<(&str, &str)> = dockerfile
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .collect();
    let last = |keyword: &str| {
        instructions
            .iter()
            .rev()
            .find(|(k, _)| *k == keyword)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {keyword}"))
    };
    let stages = instructions.iter().filter(|(k, _)| *k == "FROM").count();
    assert!(stages >= 2, "multi-stage");
    assert_eq!(last("FROM"), "scratch");
    let user = last("USER");
    assert!(!["root", "0", "0:0"].contains(&user.as_str()), "{user}");
    assert_eq!(last("EXPOSE"), "9731");
    assert_eq!(last("ENTRYPOINT"), r#"["/tim-account-exporter"]"#);

    // The builder's Rust is at least the crate's rust-version.
    let version = |text: &str| -> (u32, u32) {
        let mut parts = text
            .trim_matches('"')
            .split('.')
            .map(|p| p.parse().unwrap());
        (parts.next().unwrap(), parts.next().unwrap())
    };
    let builder = instructions
        .iter()
        .find_map(|(k, v)| v.strip_prefix("RUST_VERSION=").filter(|_| *k == "ARG"))
        .map(version);
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let required = manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .map(version);
    assert!(builder.is_some() && required.is_some() && builder >= required);

    // The default arguments are flags the binary knows (clap stops at an unknown one
    // before it reaches --help).
    let cmd: Vec<String> = serde_json::from_str(&last("CMD")).expect("CMD in JSON form");
    let output = exporter().args(&cmd).arg("--help").output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
