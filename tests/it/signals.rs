//! The binary as a service manager runs it: port 0 logged, SIGHUP reloads, SIGTERM and
//! SIGINT stop it with exit code 0 within 5 seconds, even with calls in flight.

use std::time::{Duration, Instant};

use tim_account_exporter::sim::{SimAccount, SimOptions, Simulator};

use crate::support::*;

#[tokio::test]
async fn sighup_reloads_and_sigterm_exits_cleanly() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
    let yaml = |ids: &[&str]| {
        app_yaml(
            &sim.endpoint(),
            "    interval: 60s\n    timeout: 2s\n",
            &list_yaml(
                "vip",
                "imported",
                &ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            ),
        )
    };
    let (_dir, path) = write_config(&yaml(&["alice", "bob"]));
    let config = path.display().to_string();
    let mut daemon = DaemonProcess::start(&["--config.file", &config]);
    get_until(&daemon.url("/-/ready"), Duration::from_secs(20), |s, _| {
        s == 200
    })
    .await;
    let metrics = get_until(&daemon.url("/metrics"), Duration::from_secs(5), |_, b| {
        b.contains("tim_account_drift")
    })
    .await;
    let scrape = Scrape::parse(&metrics);
    assert_eq!(
        scrape.value("tim_account_drift", &[("user_id", "bob")]),
        Some(1.0)
    );

    std::fs::write(&path, yaml(&["alice", "carol"])).unwrap();
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
            "tim_account_status",
            &[("user_id", "alice"), ("status", "imported")]
        ),
        Some(1.0)
    );

    let stopping = Instant::now();
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(stopping.elapsed() < Duration::from_secs(5));
    let log = daemon.stderr();
    assert!(log.contains("check cycle finished"), "{log}");
    assert!(
        log.contains("message=\"account drifted\"") && log.contains("user_id=bob"),
        "{log}"
    );
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
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
    let stopping = Instant::now();
    daemon.signal("INT");
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(stopping.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_bad_listen_address_is_a_usage_error() {
    let out = run_exporter(vec![
        "--demo".into(),
        "--web.listen-address".into(),
        "256.0.0.1:http".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on 256.0.0.1:http"));
}
