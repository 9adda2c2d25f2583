//! The binary as a user runs it: --config.check, --once with its outputs and exit codes, --demo, --version.

use std::path::Path;

use tim_account_exporter::sim::{Fault, SimAccount};

use crate::support::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn args(config: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--config.file".to_owned(), config.display().to_string()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test]
async fn config_check_accepts_a_valid_config() {
    let (_dir, path) = write_config(&app_yaml(
        "https://adminapisgp.im.qcloud.com",
        "",
        &list_yaml("vip", "imported", &ids("u", 5)),
    ));
    let out = run_exporter(args(&path, &["--config.check"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout)
        .contains("configuration is valid: apps: 1, watch lists: 1, distinct accounts: 5"));
}

#[tokio::test]
async fn config_check_lists_every_problem_and_exits_2() {
    let yaml = app_yaml(
        "http://example.com",
        "    retries: 12\n",
        &list_yaml("vip", "imported", &["'  spaced'".into()]),
    );
    let (_dir, path) = write_config(&yaml);
    let out = run_exporter(args(&path, &["--config.check"])).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for expected in [
        "apps[0].retries: 12 is out of range 0..=10",
        "apps[0].endpoint: \"http://example.com/\" must use https://",
        "apps[0].watchlists[0].user_ids[0]: UserID \"  spaced\" has surrounding whitespace",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains(&path.display().to_string()));
}

#[tokio::test]
async fn a_missing_config_file_is_a_usage_error() {
    let out = run_exporter(vec![
        "--config.file".into(),
        "/nonexistent/config.yaml".into(),
        "--once".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/config.yaml"));
    let out = run_exporter(vec!["--no-such-flag".into()]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = run_exporter(vec![
        "--config.file".into(),
        "/nonexistent/config.yaml".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2), "no mode chosen");
}

#[tokio::test]
async fn the_example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("config.yaml");
    std::fs::copy(&example, &copy).unwrap();
    set_private(&copy);
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/prod-sg.key"), "example-key\n").unwrap();
    std::fs::write(
        dir.path().join("support-agents.txt"),
        "# agents\nsupport_01\nsupport_02\n",
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        exporter()
            .args(["--config.check", "--config.file"])
            .arg(&copy)
            .env("TIM_PROD_EU_KEY", "example-key-eu")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Exit code 0 when all matches, 1 on drift, 3 when only unknown.
#[tokio::test]
async fn once_exit_codes() {
    let sim = start_sim().await;
    let yaml = app_yaml(
        &sim.endpoint(),
        "    retries: 0\n",
        &format!(
            "{}{}",
            list_yaml("vip", "imported", &["alice".into(), "bob".into()]),
            list_yaml("removed", "not_imported", &["mallory".into()])
        ),
    );
    let (_dir, path) = write_config(&yaml);
    sim.set_account(SDKAPPID, "mallory", SimAccount::NotImported);
    let out = run_exporter(args(&path, &["--once"])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("3 accounts: 0 drift, 0 unknown"));

    sim.push_faults(SDKAPPID, [Fault::ItemError]);
    let out = run_exporter(args(&path, &["--once"])).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));

    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    sim.push_faults(SDKAPPID, [Fault::ItemError]);
    let out = run_exporter(args(&path, &["--once"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stdout = text(&out.stdout);
    let first_row = stdout.lines().nth(1).unwrap();
    assert!(
        first_row.contains("bob") && first_row.contains("DRIFT"),
        "{stdout}"
    );
    assert!(
        stdout.lines().nth(2).unwrap().contains("unknown"),
        "{stdout}"
    );

    // The whole API down: unknown, never drift.
    sim.set_account(SDKAPPID, "bob", SimAccount::Imported);
    sim.push_faults(SDKAPPID, [Fault::Http502]);
    let out = run_exporter(args(&path, &["--once", "--output", "json"])).await;
    assert_eq!(out.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["summary"],
        serde_json::json!({"accounts": 3, "drift": 0, "unknown": 3, "presence_drift": 0, "presence_unknown": 0})
    );
    let accounts = json["apps"][0]["accounts"].as_array().unwrap();
    assert!(accounts
        .iter()
        .all(|a| a["status"] == "unknown" && a["drift"] == false));
    assert_eq!(
        accounts[0]["error"],
        "HTTP status 502 (gave up after 1 attempt)"
    );
    assert_eq!(json["apps"][0]["calls"], 1);
    assert_eq!(json["apps"][0]["region"], "singapore");
}

#[tokio::test]
async fn demo_once_prints_its_table() {
    let out = run_exporter(vec![
        "--demo".into(),
        "--once".into(),
        "--log.level".into(),
        "error".into(),
    ])
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "the demo has drift:\n{stdout}");
    assert!(stdout.starts_with("APP"));
    for expected in [
        "prod-sg",
        "prod-eu",
        "singapore",
        "frankfurt",
        "support_04",
        "ex_employee_42",
        "DRIFT",
    ] {
        assert!(stdout.contains(expected), "{expected} in\n{stdout}");
    }
    assert!(stdout.contains("security_alerts") && stdout.contains("unknown"));
    // The presence list: one bot offline (drift against reachable), one push-online.
    assert!(stdout.lines().next().unwrap().contains("PRESENCE"));
    let row = |id: &str| {
        stdout
            .lines()
            .find(|l| l.contains("bots-online") && l.contains(id))
            .unwrap_or_else(|| panic!("{id} on bots-online in\n{stdout}"))
            .to_owned()
    };
    assert!(row("deploy_bot").contains("PRESENCE DRIFT"), "{stdout}");
    assert!(
        row("alert_bot").contains("push_online (reachable)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn version_flag() {
    let out = run_exporter(vec!["--version".into()]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("tim-account-exporter {}", env!("CARGO_PKG_VERSION"))
    );
}

/// An interval too long to add to a clock once overflowed there and panicked; it is now a
/// configuration error like any other, for every mode.
#[tokio::test]
async fn an_interval_past_a_day_is_refused_not_a_panic() {
    let (_dir, path) = write_config(&app_yaml(
        "https://adminapisgp.im.qcloud.com",
        "    interval: 18446744073709551615s\n",
        &list_yaml("vip", "imported", &ids("u", 1)),
    ));
    for mode in ["--config.check", "--once"] {
        let out = run_exporter(args(&path, &[mode])).await;
        assert_eq!(out.status.code(), Some(2), "{mode}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("apps[0].interval: ")
                && text(&out.stderr).contains("is longer than the maximum of 24h"),
            "{mode}: {}",
            text(&out.stderr)
        );
    }
}
