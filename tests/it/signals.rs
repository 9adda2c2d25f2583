//! The binary as a service manager runs it: port 0 logged, SIGHUP reloads, SIGTERM and
//! SIGINT stop it with exit code 0 within 5 seconds, even with calls in flight.

use std::time::{Duration, Instant};

use tim_account_exporter::sim::{SimAccount, SimOptions, Simulator};

use crate::support::*;

#[tokio::test]
async fn sighup_reloads_and_sigterm_exits_cleanly() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    let names = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let settings = "    interval: 1s\n    timeout: 500ms\n";
    let (_dir, path) = write_config(&app_yaml(
        &sim.endpoint(),
        settings,
        &list_yaml("vip", "imported", &names(&["alice", "bob"])),
    ));
    let config = path.display().to_string();
    let mut daemon = DaemonProcess::start(&["--config.file", &config]);
    let drift_of = |body: &str, user_id: &str| {
        Scrape::parse(body).value("tim_account_drift", &[("user_id", user_id)])
    };
    get_until(&daemon.url("/metrics"), Duration::from_secs(10), |_, b| {
        drift_of(b, "bob") == Some(1.0)
    })
    .await;
    sim.set_account(SDKAPPID, "bob", SimAccount::Imported);
    get_until(&daemon.url("/metrics"), Duration::from_secs(10), |_, b| {
        drift_of(b, "bob") == Some(0.0)
    })
    .await;

    // bob leaves, carol joins, and alice is now expected gone on a new list.
    std::fs::write(
        &path,
        app_yaml(
            &sim.endpoint(),
            settings,
            &format!(
                "{}{}",
                list_yaml("vip", "imported", &names(&["alice", "carol"])),
                list_yaml("removed", "not_imported", &names(&["alice"]))
            ),
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    let metrics = get_until(&daemon.url("/metrics"), Duration::from_secs(10), |_, b| {
        let scrape = Scrape::parse(b);
        scrape.value(
            "tim_account_status",
            &[("user_id", "carol"), ("status", "imported")],
        ) == Some(1.0)
    })
    .await;
    let scrape = Scrape::parse(&metrics);
    assert!(scrape
        .find("tim_account_status", &[("user_id", "bob")])
        .is_empty());
    assert_eq!(
        scrape.value(
            "tim_account_drift",
            &[("watchlist", "removed"), ("user_id", "alice")]
        ),
        Some(1.0)
    );

    daemon.assert_stops_cleanly_on("TERM");
    let log = daemon.stderr();
    let line_with = |parts: &[&str]| log.lines().any(|l| parts.iter().all(|p| l.contains(p)));
    assert!(line_with(&["check cycle finished", "accounts=2"]), "{log}");
    assert!(
        line_with(&["level=warn", "message=\"account drifted\"", "user_id=bob"]),
        "{log}"
    );
    assert!(
        line_with(&["level=info", "account back as expected", "user_id=bob"]),
        "{log}"
    );
    assert!(
        line_with(&[
            "level=warn",
            "account drifted after a configuration reload",
            "watchlist=removed",
            "user_id=alice"
        ]),
        "{log}"
    );
    assert!(
        line_with(&["configuration reloaded", "accounts=2"]),
        "{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
}

#[tokio::test]
async fn signals_right_after_start_up_are_obeyed_not_fatal() {
    let sim = start_sim().await;
    let yaml = app_yaml(
        &sim.endpoint(),
        "",
        &list_yaml("vip", "imported", &ids("u", 3)),
    );
    let (_dir, path) = write_config(&yaml);
    let config = path.display().to_string();
    for _ in 0..5 {
        // SIGHUP at once: a reload, not the default action (death).
        let mut daemon = DaemonProcess::start(&["--config.file", &config]);
        daemon.signal("HUP");
        get_until(&daemon.url("/-/healthy"), Duration::from_secs(5), |s, _| {
            s == 200
        })
        .await;
        assert!(
            daemon.child.try_wait().unwrap().is_none(),
            "alive after SIGHUP"
        );
        // SIGTERM at once: a clean exit.
        let mut fresh = DaemonProcess::start(&["--config.file", &config]);
        fresh.assert_stops_cleanly_on("TERM");
        daemon.assert_stops_cleanly_on("TERM");
    }
}

#[tokio::test]
async fn sigint_with_a_call_in_flight_exits_within_5_seconds() {
    let sim = Simulator::start(SimOptions {
        latency: Duration::from_secs(60),
        ..sim_options()
    })
    .await
    .unwrap();
    let yaml = app_yaml(
        &sim.endpoint(),
        "    interval: 120s\n    timeout: 90s\n",
        &list_yaml("vip", "imported", &ids("u", 3)),
    );
    let (_dir, path) = write_config(&yaml);
    let config = path.display().to_string();
    let mut daemon = DaemonProcess::start(&["--config.file", &config]);
    // The call is in flight: the simulator has it, the daemon is not ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.stats(SDKAPPID).requests == 0 {
        assert!(Instant::now() < deadline, "no call made");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        reqwest::get(daemon.url("/-/ready"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        503
    );
    daemon.assert_stops_cleanly_on("INT");
}

/// Every malformed address, out-of-range port included, is a usage error that names it,
/// never a panic.
#[tokio::test]
async fn a_bad_listen_address_is_a_usage_error() {
    for address in [
        "256.0.0.1:http",
        ":65536",
        ":-1",
        "127.0.0.1:18446744073709551617",
        "localhost:0x50",
        "127.0.0.1",
        "::::",
        "",
    ] {
        let out = run_exporter(vec![
            "--demo".into(),
            "--web.listen-address".into(),
            address.into(),
        ])
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{address:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot listen on {address}: ")),
            "{address:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_reload_stuck_on_a_file_does_not_hold_up_the_stop() {
    let sim = start_sim().await;
    let lists = |file: &str| {
        app_yaml(
            &sim.endpoint(),
            "",
            &format!("      - name: vip\n        user_ids_file: {file}\n"),
        )
    };
    let (dir, path) = write_config(&lists("ids.txt"));
    std::fs::write(dir.path().join("ids.txt"), "alice\nbob\n").unwrap();
    let config = path.display().to_string();
    let mut daemon = DaemonProcess::start(&["--config.file", &config]);
    get_until(&daemon.url("/-/ready"), Duration::from_secs(10), |s, _| {
        s == 200
    })
    .await;

    // A FIFO nobody writes to: opening it blocks, like a file on a hung network mount.
    let fifo = dir.path().join("stuck");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(&path, lists("stuck")).unwrap();
    daemon.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reqwest::get(daemon.url("/metrics"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    daemon.assert_stops_cleanly_on("TERM");
}

/// Every `--web.listen-address` is served the same way.
#[tokio::test]
async fn several_listen_addresses_serve_alike() {
    let sim = start_sim().await;
    let (_dir, path) = write_config(&app_yaml(
        &sim.endpoint(),
        "",
        &list_yaml("vip", "imported", &["alice".into()]),
    ));
    let config = path.display().to_string();
    // The harness adds one more 127.0.0.1:0.
    let mut daemon = DaemonProcess::start(&[
        "--config.file",
        &config,
        "--web.listen-address",
        "127.0.0.1:0",
    ]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let addresses = loop {
        let addresses: Vec<String> = daemon
            .stderr()
            .lines()
            .filter(|l| l.contains("message=listening"))
            .filter_map(|l| {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix("address="))
                    .map(str::to_owned)
            })
            .collect();
        if addresses.len() == 2 {
            break addresses;
        }
        assert!(Instant::now() < deadline, "{}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(addresses[0], addresses[1]);
    for address in &addresses {
        let body = get_until(
            &format!("http://{address}/metrics"),
            Duration::from_secs(10),
            |status, body| status == 200 && body.contains("tim_account_status{"),
        )
        .await;
        assert!(body.contains("user_id=\"alice\""));
    }
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(6)), Some(0));
}

#[tokio::test]
async fn systemd_socket_without_a_passed_socket_is_a_clear_error() {
    let (_dir, path) = write_config(&app_yaml(
        "https://adminapisgp.im.qcloud.com",
        "",
        &list_yaml("vip", "imported", &["alice".into()]),
    ));
    let out = run_exporter(vec![
        "--config.file".into(),
        path.display().to_string(),
        "--web.systemd-socket".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--web.systemd-socket: systemd passed no socket"),
        "{stderr}"
    );
}

/// Socket activation as systemd does it: `systemd-socket-activate` listens, and on the first
/// connection starts the exporter with the listening socket passed in `LISTEN_FDS`.
#[tokio::test]
async fn socket_activation_serves_on_the_passed_socket() {
    let Some(activate) = tool("systemd-socket-activate", "Debian's systemd package") else {
        return;
    };
    let sim = start_sim().await;
    let (_dir, path) = write_config(&app_yaml(
        &sim.endpoint(),
        "",
        &list_yaml("vip", "imported", &["alice".into()]),
    ));
    let address = format!("127.0.0.1:{}", free_port());
    let _activator = KillOnDrop(
        std::process::Command::new(activate)
            .args(["--listen", &address, "--"])
            .arg(env!("CARGO_BIN_EXE_tim-account-exporter"))
            .args(["--web.systemd-socket", "--config.file"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("systemd-socket-activate starts"),
    );
    let body = get_until(
        &format!("http://{address}/metrics"),
        Duration::from_secs(20),
        |status, body| status == 200 && body.contains("tim_account_status{"),
    )
    .await;
    assert!(body.contains("user_id=\"alice\""));
}
