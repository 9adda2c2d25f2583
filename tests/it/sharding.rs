//! Sharding across replicas: three exporter processes with `--total-shards 3` against one
//! simulator split every app's accounts between them, add up to the unsharded run, and
//! together stay within each app's rate limit; `--once` and `--config.check` honour the
//! shard flags; bad flags are usage errors.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tim_account_exporter::shard::Shard;
use tim_account_exporter::sim::{SimAccount, SimApp, SimOptions, SimPresence, Simulator};
use tim_account_exporter::tim::Secret;

use crate::support::*;

const OTHER_SDKAPPID: u64 = 1_400_000_009;
/// Each app's rate limit, in the configuration and in the simulator: a shard's share is 5.
const RATE_LIMIT: u32 = 15;

/// Two apps, each with lists of both expectations and presence, against `sim`.
fn two_apps(sim: &Simulator) -> String {
    let endpoint = sim.endpoint();
    let vip = ids("vip_", 3000);
    let other = ids("other_", 400);
    format!(
        "defaults:\n  interval: 6s\n  timeout: 2s\n  rate_limit: {RATE_LIMIT}\n  presence_rate_limit: {RATE_LIMIT}\napps:\n\
         \x20 - name: app-a\n    sdkappid: {SDKAPPID}\n    region: singapore\n    endpoint: {endpoint}\n    admin: {ADMIN}\n    secret_key: {KEY}\n    watchlists:\n{}{}{}{}\
         \x20 - name: app-b\n    sdkappid: {OTHER_SDKAPPID}\n    region: frankfurt\n    endpoint: {endpoint}\n    admin: {ADMIN}\n    secret_key: {KEY}\n    watchlists:\n{}{}",
        list_yaml("vip", "imported", &vip),
        list_yaml("removed", "not_imported", &ids("gone_", 30)),
        presence_list_yaml("bots", "online", &names(&["ops_bot", "alert_bot", "deploy_bot"])),
        // One UserID: two of the three shards hold this list empty.
        list_yaml("solo", "imported", &names(&["support_01"])),
        list_yaml("everyone", "imported", &other),
        presence_list_yaml("online", "reachable", &other[..250]),
    )
}

fn names(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

async fn simulator() -> Simulator {
    let mut options = sim_options();
    options.apps.push(SimApp {
        sdkappid: OTHER_SDKAPPID,
        admin: ADMIN.to_owned(),
        key: Secret::new(KEY),
    });
    let sim = Simulator::start(SimOptions {
        rate_limit: RATE_LIMIT,
        presence_rate_limit: RATE_LIMIT,
        latency: Duration::from_millis(20),
        ..options
    })
    .await
    .expect("simulator starts");
    // Drift, unknown and presence of every kind, spread over the shards by their UserIDs.
    for id in ids("vip_", 3000).iter().step_by(97) {
        sim.set_account(SDKAPPID, id, SimAccount::NotImported);
    }
    for id in ids("vip_", 3000).iter().skip(5).step_by(301) {
        sim.set_account(SDKAPPID, id, SimAccount::ItemError(70500));
    }
    // Every fourth removed account is back (drift); the rest stay removed.
    for (index, id) in ids("gone_", 30).iter().enumerate() {
        if index % 4 != 0 {
            sim.set_account(SDKAPPID, id, SimAccount::NotImported);
        }
    }
    sim.set_presence(SDKAPPID, "deploy_bot", SimPresence::offline());
    sim.set_presence(SDKAPPID, "alert_bot", SimPresence::push_online());
    for id in ids("other_", 400).iter().step_by(7) {
        sim.set_presence(OTHER_SDKAPPID, id, SimPresence::push_online());
    }
    for id in ids("other_", 400).iter().step_by(11) {
        sim.set_account(OTHER_SDKAPPID, id, SimAccount::NotImported);
    }
    sim
}

/// Scrapes `daemon` once every app has finished `cycles` cycles.
async fn scrape_after(daemon: &DaemonProcess, cycles: f64) -> Scrape {
    let done = |text: &str| {
        let scrape = Scrape::parse(text);
        let counts = scrape.find("tim_check_cycles_total", &[]);
        counts.len() == 2 && counts.iter().all(|s| s.value >= cycles)
    };
    let text = get_until(
        &daemon.url("/metrics"),
        Duration::from_secs(40),
        |s, text| s == 200 && done(text),
    )
    .await;
    Scrape::parse(&text)
}

const PER_ACCOUNT: [&str; 4] = [
    "tim_account_status",
    "tim_account_drift",
    "tim_account_presence",
    "tim_account_presence_drift",
];
const AGGREGATES: [&str; 4] = [
    "tim_watchlist_accounts",
    "tim_watchlist_drift_accounts",
    "tim_watchlist_presence_accounts",
    "tim_watchlist_presence_drift_accounts",
];

/// The labels of a sample without `drop`, as one sortable key.
fn key(sample: &Sample, drop: &[&str]) -> String {
    sample
        .labels
        .iter()
        .filter(|(name, _)| !drop.contains(&name.as_str()))
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every sample of the aggregate families, summed by labels.
fn aggregates(scrapes: &[&Scrape]) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for scrape in scrapes {
        for family in AGGREGATES {
            for sample in scrape.find(family, &[]) {
                *sums
                    .entry(format!("{family}{{{}}}", key(sample, &[])))
                    .or_insert(0.0) += sample.value;
            }
        }
    }
    sums
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_split_the_accounts_add_up_and_share_the_rate() {
    let sim = simulator().await;
    let (_dir, config) = write_config(&two_apps(&sim));

    let whole = DaemonProcess::start(&["--config.file", config.to_str().unwrap()]);
    let unsharded = scrape_after(&whole, 2.0).await;
    drop(whole);
    assert_eq!(unsharded.value("tim_exporter_total_shards", &[]), Some(1.0));
    assert_eq!(
        unsharded.value("tim_exporter_shard_ordinal", &[("shard_ordinal", "0")]),
        Some(0.0)
    );

    // Three replicas at once, as a StatefulSet runs them; the last takes its ordinal from
    // its pod name, as the chart passes it.
    let config_arg = config.to_str().unwrap().to_owned();
    let starts = [
        vec!["--total-shards", "3", "--shard", "0"],
        vec!["--total-shards", "3", "--shard", "1"],
        vec![
            "--total-shards",
            "3",
            "--shard.pod-name",
            "tim-account-exporter-2",
        ],
    ];
    let shards: Vec<DaemonProcess> = starts
        .iter()
        .map(|flags| {
            let mut args = vec!["--config.file", config_arg.as_str()];
            args.extend_from_slice(flags);
            DaemonProcess::start(&args)
        })
        .collect();
    // The bound is on when calls start: a cold process's first call reaches the server
    // later than the ones after it, which can put one call too many of each replica into
    // the first second as the server counts (see the README on pacing). So the rate is
    // measured on the second cycles, which the three replicas also run side by side.
    for shard in &shards {
        get_until(&shard.url("/-/ready"), Duration::from_secs(30), |s, _| {
            s == 200
        })
        .await;
    }
    for sdkappid in [SDKAPPID, OTHER_SDKAPPID] {
        sim.reset_stats(sdkappid);
    }
    let mut scrapes = Vec::new();
    for (ordinal, shard) in shards.iter().enumerate() {
        let scrape = scrape_after(shard, 2.0).await;
        let ordinal_text = ordinal.to_string();
        assert_eq!(scrape.value("tim_exporter_total_shards", &[]), Some(3.0));
        assert_eq!(
            scrape.value(
                "tim_exporter_shard_ordinal",
                &[("shard_ordinal", &ordinal_text)]
            ),
            Some(ordinal as f64),
            "{}",
            scrape.text
        );
        scrapes.push(scrape);
    }

    // Every per-account series of the unsharded run is served by exactly one shard.
    for family in PER_ACCOUNT {
        let whole: BTreeSet<String> = unsharded
            .find(family, &[])
            .iter()
            .map(|s| key(s, &[]))
            .collect();
        assert!(!whole.is_empty(), "{family}");
        let mut union = BTreeSet::new();
        for (ordinal, scrape) in scrapes.iter().enumerate() {
            for sample in scrape.find(family, &[]) {
                let labels = key(sample, &[]);
                assert!(
                    union.insert(labels.clone()),
                    "{family}{{{labels}}} is served by two shards (again by {ordinal})"
                );
            }
        }
        assert_eq!(union, whole, "{family}");
    }
    // Each shard holds about a third of the big list.
    for scrape in &scrapes {
        let vip = scrape
            .find(
                "tim_account_drift",
                &[("im_app", "app-a"), ("watchlist", "vip")],
            )
            .len();
        assert!((800..1200).contains(&vip), "{vip} of 3000");
    }

    // The aggregates of the shards add up to the unsharded run's, label for label.
    let whole = aggregates(&[&unsharded]);
    let summed = aggregates(&scrapes.iter().collect::<Vec<_>>());
    assert_eq!(summed, whole);
    assert!(
        whole["tim_watchlist_drift_accounts{im_app=app-a,im_region=singapore,watchlist=vip}"] > 0.0
    );
    // The list with one UserID is served by all three shards, empty in two of them.
    let solo = scrapes
        .iter()
        .map(|s| {
            s.value(
                "tim_watchlist_accounts",
                &[("watchlist", "solo"), ("status", "imported")],
            )
            .expect("served by every shard")
        })
        .collect::<Vec<_>>();
    assert_eq!(solo.iter().sum::<f64>(), 1.0, "{solo:?}");

    // Together the shards never asked an app more than its rate limit in any second.
    for sdkappid in [SDKAPPID, OTHER_SDKAPPID] {
        for stats in [sim.stats(sdkappid), sim.presence_stats(sdkappid)] {
            assert!(stats.requests > 0, "{sdkappid}: {stats:?}");
            assert!(
                stats.max_requests_in_one_second <= RATE_LIMIT as usize,
                "{sdkappid}: {stats:?}"
            );
            assert_eq!(stats.error_codes.get(&60007), None, "{sdkappid}: {stats:?}");
        }
    }
    // app-a's accounts need about 30 calls a cycle, which the shards made between them
    // (each its own part, in calls of 100), paced at 5 per second each while they
    // overlapped: no call was refused or retried.
    let calls: usize = (0..3)
        .map(|ordinal| {
            let shard = Shard::new(ordinal, 3).unwrap();
            let vip = ids("vip_", 3000).iter().filter(|id| shard.owns(id)).count();
            let gone = ids("gone_", 30).iter().filter(|id| shard.owns(id)).count();
            let others = ["ops_bot", "alert_bot", "deploy_bot", "support_01"]
                .iter()
                .filter(|id| shard.owns(id))
                .count();
            (vip + gone + others).div_ceil(100)
        })
        .sum();
    assert_eq!(
        sim.stats(SDKAPPID).requests,
        calls,
        "{:?}",
        sim.stats(SDKAPPID)
    );

    // The page and the JSON say which shard they show.
    let json: serde_json::Value = serde_json::from_str(
        &get_until(
            &shards[1].url("/api/v1/status"),
            Duration::from_secs(5),
            |s, _| s == 200,
        )
        .await,
    )
    .unwrap();
    assert_eq!(json["shard"], serde_json::json!({"ordinal": 1, "total": 3}));
    let page = get_until(&shards[2].url("/"), Duration::from_secs(5), |s, _| s == 200).await;
    assert!(page.contains("Shard 2 of 3"), "{page}");
    let log = shards[2].stderr();
    assert!(
        log.contains("shard=2") && log.contains("total_shards=3"),
        "{log}"
    );
}

#[tokio::test]
async fn once_and_config_check_honour_the_shard_flags() {
    let sim = simulator().await;
    let (_dir, config) = write_config(&two_apps(&sim));
    let run = |flags: &[&str]| {
        let mut args = vec![
            "--config.file".to_owned(),
            config.to_str().unwrap().to_owned(),
        ];
        args.extend(flags.iter().map(|f| (*f).to_owned()));
        run_exporter(args)
    };
    let accounts = |stdout: &[u8]| -> BTreeSet<(String, String, String)> {
        let json: serde_json::Value = serde_json::from_slice(stdout).expect("JSON");
        json["apps"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|app| {
                let name = app["name"].as_str().unwrap().to_owned();
                app["accounts"].as_array().unwrap().iter().map(move |a| {
                    (
                        name.clone(),
                        a["watchlist"].as_str().unwrap().to_owned(),
                        a["user_id"].as_str().unwrap().to_owned(),
                    )
                })
            })
            .collect()
    };
    let whole = run(&["--once", "--output", "json"]).await;
    let whole_accounts = accounts(&whole.stdout);
    let mut union = BTreeSet::new();
    for ordinal in ["0", "1", "2"] {
        let out = run(&[
            "--once",
            "--output",
            "json",
            "--total-shards",
            "3",
            "--shard",
            ordinal,
        ])
        .await;
        // Drift is in every shard's part here, so each exits 1.
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["shard"]["ordinal"], ordinal.parse::<u64>().unwrap());
        assert_eq!(json["shard"]["total"], 3);
        for account in accounts(&out.stdout) {
            assert!(union.insert(account.clone()), "{account:?} twice");
        }
    }
    assert_eq!(union, whole_accounts);
    let table = run(&["--once", "--total-shards", "3", "--shard", "1"]).await;
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table
            .trim_end()
            .ends_with("(shard 1 of 3: only its own accounts)"),
        "{table}"
    );

    let check = run(&["--config.check", "--total-shards", "3", "--shard", "2"]).await;
    assert_eq!(check.status.code(), Some(0), "{check:?}");
    let said = String::from_utf8(check.stdout).unwrap();
    assert!(
        said.starts_with("configuration is valid (shard 2 of 3:"),
        "{said}"
    );
    // The capacity check runs on the share. At rate_limit 5, app-a's 31 calls fit a 10 s
    // interval unsharded (the last starts after 6.06 s, then a 2 s timeout), but a shard's
    // share is 1 call/s (5 / 3 rounded down), and its 10 or 11 calls do not fit.
    let tight = std::fs::read_to_string(&config)
        .unwrap()
        .replace("interval: 6s", "interval: 10s")
        .replace(
            &format!("rate_limit: {RATE_LIMIT}\n  presence_rate_limit"),
            "rate_limit: 5\n  presence_rate_limit",
        );
    let (_tight_dir, tight) = write_config(&tight);
    let tight_args = |flags: &[&str]| {
        let mut args = vec![
            "--config.check".to_owned(),
            "--config.file".to_owned(),
            tight.to_str().unwrap().to_owned(),
        ];
        args.extend(flags.iter().map(|f| (*f).to_owned()));
        args
    };
    let unsharded = run_exporter(tight_args(&[])).await;
    assert_eq!(unsharded.status.code(), Some(0), "{unsharded:?}");
    let sharded = run_exporter(tight_args(&["--total-shards", "3"])).await;
    assert_eq!(sharded.status.code(), Some(2), "{sharded:?}");
    let stderr = String::from_utf8(sharded.stderr).unwrap();
    assert!(
        stderr.contains("at rate_limit 1 (shard 0 of 3's share)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn bad_shard_flags_are_usage_errors() {
    let sim = start_sim().await;
    let (_dir, config) = write_config(&app_yaml(
        &sim.endpoint(),
        "",
        &list_yaml("vip", "imported", &ids("u", 3)),
    ));
    let config = config.to_str().unwrap().to_owned();
    for (flags, message) in [
        (
            vec!["--total-shards", "3", "--shard", "3"],
            "--shard 3 is not below --total-shards 3: shards are numbered 0 to 2",
        ),
        (
            vec!["--total-shards", "0"],
            "--total-shards must be at least 1",
        ),
        (
            vec![
                "--total-shards",
                "3",
                "--shard.pod-name",
                "tim-account-exporter",
            ],
            "--shard.pod-name \"tim-account-exporter\" does not end in -<ordinal>",
        ),
        (
            vec!["--total-shards", "2", "--shard.pod-name", "exporter-2"],
            "names shard 2, which is not below --total-shards 2",
        ),
    ] {
        for mode in [&["--once"][..], &["--config.check"], &[]] {
            let mut args = vec!["--config.file".to_owned(), config.clone()];
            args.extend(flags.iter().chain(mode).map(|f| (*f).to_owned()));
            let out = run_exporter(args).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flags:?} {mode:?}: {stderr}");
            assert!(stderr.contains(message), "{flags:?} {mode:?}: {stderr}");
        }
    }
}
