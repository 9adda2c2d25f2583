//! Secrets (the key and every UserSig) never reach logs at any level, errors, output or Debug text.

use tim_account_exporter::sim::{Fault, SimOptions, Simulator};

use crate::support::*;

/// `--config.check` of the file at `path`.
async fn config_check(path: &std::path::Path) -> std::process::Output {
    run_exporter(vec![
        "--config.file".into(),
        path.display().to_string(),
        "--config.check".into(),
    ])
    .await
}

/// Everything a run printed, standard output then standard error.
fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_no_secret(haystack: &str, secrets: &[String], what: &str) {
    for secret in secrets {
        assert!(
            !haystack.contains(secret.as_str()),
            "{what} contains the secret {secret:?}"
        );
    }
}

/// Runs `--once` at trace level, in both log formats, through every kind of failure, and
/// looks for the key and every UserSig the simulator received in everything printed.
#[tokio::test]
async fn no_secret_in_logs_or_output_at_trace_level() {
    let sim = Simulator::start(SimOptions {
        hang: std::time::Duration::from_secs(30),
        ..sim_options()
    })
    .await
    .unwrap();
    let yaml = app_yaml(
        &sim.endpoint(),
        "    interval: 4s\n    timeout: 1s\n    retries: 3\n",
        &presence_list_yaml("vip", "online", &ids("u", 150)),
    );
    let (_dir, path) = write_config(&yaml);
    let mut printed = String::new();
    for format in ["logfmt", "json"] {
        for output in ["table", "json"] {
            sim.push_faults(
                SDKAPPID,
                [
                    Fault::Code(70001),
                    Fault::Http502,
                    Fault::Timeout,
                    Fault::NotJson,
                    Fault::Code(70403),
                ],
            );
            // The presence API's failures and UserSig renewals are logged too.
            sim.push_presence_faults(
                SDKAPPID,
                [Fault::Code(70001), Fault::Http502, Fault::Malformed],
            );
            let out = run_exporter(vec![
                "--config.file".into(),
                path.display().to_string(),
                "--once".into(),
                "--log.level".into(),
                "trace".into(),
                "--log.format".into(),
                format.into(),
                "--output".into(),
                output.into(),
            ])
            .await;
            printed.push_str(&String::from_utf8_lossy(&out.stdout));
            printed.push_str(&String::from_utf8_lossy(&out.stderr));
        }
    }
    let mut secrets = sim.usersigs_seen();
    assert!(!secrets.is_empty(), "the simulator saw UserSigs");
    secrets.push(KEY.to_owned());
    assert_no_secret(&printed, &secrets, "the output of --once at trace level");
    // The trace logs did run, and show the request URL with the UserSig redacted.
    assert!(
        printed.contains("usersig=<redacted>"),
        "trace logs show the redacted URL"
    );
    assert!(printed.contains("attempt failed"), "{printed}");
    assert!(printed.contains("api=account_check"), "{printed}");
    assert!(printed.contains("api=query_online_status"), "{printed}");
}

#[tokio::test]
async fn no_secret_in_config_check_errors_or_debug_output() {
    let sim = Simulator::start(sim_options()).await.unwrap();
    let yaml = app_yaml(
        &sim.endpoint(),
        "    retries: 99\n",
        &list_yaml("vip", "imported", &["a".into()]),
    );
    let (_dir, path) = write_config(&yaml);
    let out = config_check(&path).await;
    assert_eq!(out.status.code(), Some(2));
    let printed = printed(&out);
    assert_no_secret(&printed, &[KEY.to_owned()], "--config.check");

    let app = simple_app(&sim, "", &["a".into()]);
    let client = client(&app);
    let report = run_with(&app, &client).await;
    let debug = format!("{app:?} {:?} {client:?} {report:?}", app.client_settings());
    let mut secrets = sim.usersigs_seen();
    secrets.push(KEY.to_owned());
    assert_no_secret(&debug, &secrets, "Debug output");
    assert!(debug.contains("<redacted>"));
}

#[tokio::test]
async fn a_password_in_the_endpoint_is_refused_without_printing_it() {
    for endpoint in [
        "https://ops:hunter2@proxy.example.com",
        "http://ops:hunter2@proxy.example.com",
    ] {
        let yaml = app_yaml(endpoint, "", &list_yaml("vip", "imported", &["a".into()]));
        let (_dir, path) = write_config(&yaml);
        let out = config_check(&path).await;
        assert_eq!(out.status.code(), Some(2));
        let printed = printed(&out);
        assert!(
            printed.contains("apps[0].endpoint: must not contain a user or password"),
            "{printed}"
        );
        assert_no_secret(&printed, &["hunter2".to_owned()], "--config.check");
    }
}

#[tokio::test]
async fn an_inline_key_in_a_readable_file_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let yaml = app_yaml(
        "https://adminapisgp.im.qcloud.com",
        "",
        &list_yaml("vip", "imported", &["a".into()]),
    );
    for (mode, warned) in [(0o600, false), (0o620, false), (0o640, true), (0o604, true)] {
        let (_dir, path) = write_config(&yaml);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = config_check(&path).await;
        assert_eq!(out.status.code(), Some(0));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("holds an inline secret_key and is readable by group or others"),
            warned,
            "mode {mode:o}: {stderr}"
        );
        assert_no_secret(&stderr, &[KEY.to_owned()], "the warning");
    }
}

/// The daemon at trace level through failures, renewals and reloads: neither its logs
/// nor anything it serves holds the key or a UserSig.
#[tokio::test]
async fn no_secret_in_what_the_daemon_serves_or_logs() {
    let sim = Simulator::start(sim_options()).await.unwrap();
    let yaml = app_yaml(
        &sim.endpoint(),
        "    interval: 2s\n    timeout: 1s\n    retries: 3\n",
        &presence_list_yaml("vip", "online", &ids("u", 150)),
    );
    let (_dir, path) = write_config(&yaml);
    sim.push_faults(
        SDKAPPID,
        [
            Fault::Code(70001),
            Fault::Http502,
            Fault::NotJson,
            Fault::Code(70403),
        ],
    );
    sim.push_presence_faults(SDKAPPID, [Fault::Code(70001), Fault::Code(70403)]);
    let config = path.display().to_string();
    let mut daemon = DaemonProcess::start(&["--config.file", &config, "--log.level", "trace"]);
    get_until(
        &daemon.url("/-/ready"),
        std::time::Duration::from_secs(20),
        |s, _| s == 200,
    )
    .await;
    let http = reqwest::Client::new();
    let mut served = String::new();
    for path in [
        "/",
        "/metrics",
        "/api/v1/status",
        "/-/ready",
        "/-/healthy",
        "/nowhere",
    ] {
        served.push_str(
            &http
                .get(daemon.url(path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    served.push_str(
        &http
            .post(daemon.url("/-/reload"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    std::fs::write(
        &path,
        yaml.replace("retries: 3", "retries: 3\n    shade: x"),
    )
    .unwrap();
    served.push_str(
        &http
            .post(daemon.url("/-/reload"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        served.contains("shade"),
        "the failed reload's message is served"
    );
    daemon.assert_stops_cleanly_on("TERM");

    let mut secrets = sim.usersigs_seen();
    assert!(secrets.len() >= 2, "the UserSig was renewed after 70001");
    secrets.push(KEY.to_owned());
    assert_no_secret(&served, &secrets, "what the daemon serves");
    let log = daemon.stderr();
    assert!(log.contains("usersig=<redacted>"), "trace logs ran");
    assert_no_secret(&log, &secrets, "the daemon's logs");
}
