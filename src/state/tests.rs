use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::*;
use crate::config::{self, Sources};
use crate::tim::Attempt;

/// A watch list: name, expect, UserIDs.
type List<'a> = (&'a str, &'a str, &'a [&'a str]);

/// A configuration of apps given as (name, sdkappid, watch lists).
fn config(apps: &[(&str, u64, &[List<'_>])]) -> Config {
    let mut text = String::from("apps:\n");
    for (name, sdkappid, lists) in apps {
        text.push_str(&format!(
            "  - name: {name}\n    sdkappid: {sdkappid}\n    region: singapore\n    admin: administrator\n    secret_key: k\n    watchlists:\n"
        ));
        for (list, expect, ids) in *lists {
            text.push_str(&format!(
                "      - name: {list}\n        expect: {expect}\n        user_ids: [{}]\n",
                ids.join(", ")
            ));
        }
    }
    let no_env = |_: &str| None;
    config::from_yaml(
        &text,
        &Sources {
            base_dir: PathBuf::from("."),
            env: &no_env,
        },
    )
    .unwrap_or_else(|e| panic!("valid: {e}\n{text}"))
    .config
}

fn unknown(code: &str, in_reply: bool) -> Unknown {
    Unknown {
        code: code.to_owned(),
        message: format!("failed with {code}"),
        in_reply,
    }
}

/// A cycle report of `app` with the given status (or failure) per UserID.
fn cycle(
    app: &AppConfig,
    results: &[(&str, Result<Status, Unknown>)],
    attempts: Vec<Attempt>,
) -> AppReport {
    let accounts = app
        .watchlists
        .iter()
        .flat_map(|list| list.user_ids.iter().map(move |id| (list, id)))
        .map(|(list, id)| {
            let result = results
                .iter()
                .find(|(r, _)| r == id)
                .map(|(_, r)| r.clone())
                .unwrap_or_else(|| Err(unknown("missing", true)));
            AccountReport {
                watchlist: list.name.clone(),
                user_id: id.clone(),
                status: result.clone().unwrap_or(Status::Unknown),
                expected: list.expect,
                error: result.err(),
            }
        })
        .collect();
    AppReport {
        name: app.name.clone(),
        region: app.region,
        sdkappid: app.sdkappid,
        checked_at: Some(SystemTime::now()),
        duration: Duration::from_millis(120),
        attempts,
        accounts,
    }
}

fn attempt(millis: u64, error: Option<&str>, retry: bool) -> Attempt {
    Attempt {
        duration: Duration::from_millis(millis),
        error: error.map(str::to_owned),
        retry,
    }
}

const VIP: List<'static> = ("vip", "imported", &["alice", "bob"]);
const GONE: List<'static> = ("gone", "not_imported", &["mallory", "bob"]);

#[test]
fn every_account_starts_unknown_and_the_state_is_not_ready() {
    let state = State::new(&config(&[("a", 1_400_000_000, &[VIP, GONE])]));
    let apps = state.apps();
    let data = apps[0].lock();
    assert_eq!(data.accounts.len(), 3, "distinct UserIDs");
    for id in ["alice", "bob", "mallory"] {
        assert_eq!(data.status(id), Status::Unknown);
        assert_eq!(
            data.accounts[id].error.as_ref().map(|e| e.code.as_str()),
            Some("not_checked")
        );
    }
    assert!(data.last_cycle.is_none());
    drop(data);
    assert!(!state.ready());
    assert!(state.reports()[0].checked_at.is_none());
}

#[test]
fn a_cycle_sets_statuses_counters_and_readiness() {
    let config = config(&[("a", 1_400_000_000, &[VIP, GONE])]);
    let state = State::new(&config);
    let app = &state.apps()[0];
    let report = cycle(
        &config.apps[0],
        &[
            ("alice", Ok(Status::Imported)),
            ("bob", Ok(Status::Imported)),
            ("mallory", Ok(Status::NotImported)),
        ],
        vec![
            attempt(30, Some("timeout"), false),
            attempt(300, None, true),
        ],
    );
    app.record_cycle(
        &report,
        SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
    );
    assert!(state.ready());
    let data = app.lock();
    assert_eq!(data.status("bob"), Status::Imported);
    assert_eq!(data.cycles, 1);
    assert!(data.last_success.is_some());
    assert!(data.last_cycle.as_ref().is_some_and(|c| c.success));
    assert_eq!(data.api.requests, 2);
    assert_eq!(data.api.retries, 1);
    assert_eq!(data.api.errors.get("timeout"), Some(&1));
    assert_eq!(data.api.latency.count, 2);
    // 30 ms is above the 25 ms bound and within 50 ms; 300 ms within 500 ms.
    assert_eq!(data.api.latency.cumulative[..6], [0, 0, 1, 1, 1, 2]);
    assert_eq!(
        data.usersig_expiry,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
    // bob is imported but on the `gone` list: drift there, not on `vip`.
    let report = data.report();
    let drift: Vec<_> = report
        .accounts
        .iter()
        .filter(|a| a.drift())
        .map(|a| (a.watchlist.as_str(), a.user_id.as_str()))
        .collect();
    assert_eq!(drift, [("gone", "bob")]);
}

#[test]
fn a_failed_check_makes_a_known_account_unknown_and_counts_item_errors_once() {
    let config = config(&[("a", 1_400_000_000, &[VIP, GONE])]);
    let state = State::new(&config);
    let app = &state.apps()[0];
    let all_ok = [
        ("alice", Ok(Status::Imported)),
        ("bob", Ok(Status::NotImported)),
        ("mallory", Ok(Status::NotImported)),
    ];
    app.record_cycle(&cycle(&config.apps[0], &all_ok, vec![]), SystemTime::now());
    let failed = [
        ("alice", Err(unknown("timeout", false))),
        ("bob", Err(unknown("70500", true))),
        ("mallory", Ok(Status::NotImported)),
    ];
    app.record_cycle(&cycle(&config.apps[0], &failed, vec![]), SystemTime::now());
    app.record_cycle(&cycle(&config.apps[0], &failed, vec![]), SystemTime::now());
    assert_eq!(app.lock().consecutive_failures, 2);
    app.record_cycle(&cycle(&config.apps[0], &all_ok, vec![]), SystemTime::now());
    assert_eq!(
        app.lock().consecutive_failures,
        0,
        "a full success resets the count"
    );
    app.record_cycle(&cycle(&config.apps[0], &failed, vec![]), SystemTime::now());
    let data = app.lock();
    assert_eq!(data.consecutive_failures, 1);
    assert_eq!(data.status("alice"), Status::Unknown);
    assert_eq!(data.status("bob"), Status::Unknown);
    assert!(!data.last_cycle.as_ref().expect("a cycle").success);
    // bob is on two lists but is one account (once per failed cycle); alice's failure was
    // the call's, not an item's.
    assert_eq!(data.api.account_errors.len(), 1);
    assert_eq!(data.api.account_errors.get("70500"), Some(&3));
    assert_eq!(data.cycles, 5);
    assert!(
        data.report().accounts.iter().all(|a| !a.drift()),
        "unknown is never drift"
    );
}

#[test]
fn a_reload_keeps_what_is_known_of_the_same_app_and_drops_the_rest() {
    let before = config(&[
        ("a", 1_400_000_000, &[VIP, GONE]),
        ("b", 1_400_000_001, &[VIP]),
    ]);
    let state = State::new(&before);
    let apps = state.apps();
    let all = [
        ("alice", Ok(Status::Imported)),
        ("bob", Ok(Status::Imported)),
        ("mallory", Ok(Status::NotImported)),
    ];
    apps[0].record_cycle(
        &cycle(&before.apps[0], &all, vec![attempt(10, None, false)]),
        SystemTime::now(),
    );
    apps[1].record_cycle(&cycle(&before.apps[1], &all, vec![]), SystemTime::now());

    // App a loses mallory and gains carol; app b is gone; app c is new.
    const VIP2: List<'static> = ("vip", "imported", &["alice", "bob", "carol"]);
    let after = config(&[("c", 1_400_000_002, &[VIP]), ("a", 1_400_000_000, &[VIP2])]);
    let apps_after = state.reconcile(&after);
    assert_eq!(apps_after.len(), 2);
    assert!(
        Arc::ptr_eq(&apps_after[1], &apps[0]),
        "app a keeps its state"
    );
    let a = apps_after[1].lock();
    assert_eq!(a.status("alice"), Status::Imported);
    assert_eq!(a.status("carol"), Status::Unknown);
    assert!(!a.accounts.contains_key("mallory"));
    assert_eq!(a.api.requests, 1, "counters survive a reload");
    assert_eq!(a.report().accounts.len(), 3);
    drop(a);
    assert_eq!(apps_after[0].lock().status("alice"), Status::Unknown);
    assert_eq!(
        state
            .reports()
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["c", "a"]
    );

    // The same name with another SDKAppID is another app: nothing carries over.
    let moved = config(&[("a", 1_400_000_009, &[VIP2])]);
    let apps_moved = state.reconcile(&moved);
    assert!(!Arc::ptr_eq(&apps_moved[0], &apps[0]));
    assert_eq!(apps_moved[0].lock().status("alice"), Status::Unknown);
}

#[test]
fn readiness_stays_once_reached() {
    let first = config(&[("a", 1_400_000_000, &[VIP])]);
    let state = State::new(&first);
    state.apps()[0].record_cycle(&cycle(&first.apps[0], &[], vec![]), SystemTime::now());
    assert!(state.ready());
    state.reconcile(&config(&[
        ("a", 1_400_000_000, &[VIP]),
        ("b", 1_400_000_001, &[VIP]),
    ]));
    assert!(state.ready());

    // Reached but never asked before a reload adds an app: still ready after it.
    let state = State::new(&first);
    state.apps()[0].record_cycle(&cycle(&first.apps[0], &[], vec![]), SystemTime::now());
    state.reconcile(&config(&[
        ("a", 1_400_000_000, &[VIP]),
        ("b", 1_400_000_001, &[VIP]),
    ]));
    assert!(state.ready());
}

#[test]
fn accounts_new_to_the_config_are_unchecked_until_a_cycle_reports_them() {
    let first = config(&[("a", 1_400_000_000, &[VIP])]);
    let state = State::new(&first);
    let app = &state.apps()[0];
    assert!(app.lock().has_unchecked());
    let all = [
        ("alice", Ok(Status::Imported)),
        ("bob", Err(unknown("timeout", false))),
    ];
    app.record_cycle(&cycle(&first.apps[0], &all, vec![]), SystemTime::now());
    assert!(
        !app.lock().has_unchecked(),
        "a failed check is still a check"
    );
    const ALICE: List<'static> = ("vip", "imported", &["alice"]);
    state.reconcile(&config(&[("a", 1_400_000_000, &[ALICE])]));
    assert!(!app.lock().has_unchecked());
    state.reconcile(&first);
    assert!(app.lock().has_unchecked(), "bob came back and was reset");
}

#[test]
fn a_result_for_an_account_removed_during_the_cycle_is_dropped() {
    let before = config(&[("a", 1_400_000_000, &[VIP, GONE])]);
    let state = State::new(&before);
    const ALICE: List<'static> = ("vip", "imported", &["alice"]);
    state.reconcile(&config(&[("a", 1_400_000_000, &[ALICE])]));
    let app = &state.apps()[0];
    let all = [
        ("alice", Ok(Status::Imported)),
        ("bob", Ok(Status::Imported)),
        ("mallory", Ok(Status::NotImported)),
    ];
    app.record_cycle(&cycle(&before.apps[0], &all, vec![]), SystemTime::now());
    let data = app.lock();
    assert_eq!(data.accounts.len(), 1);
    assert_eq!(data.status("alice"), Status::Imported);
}
