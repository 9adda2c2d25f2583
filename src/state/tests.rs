use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::*;
use crate::config::{self, Sources};
use crate::report;
use crate::tim::{AccountStatus, Attempt, Presence, PresenceStatus, Unknown};

/// A watch list: name, expect, presence ("" for none), UserIDs.
type List<'a> = (&'a str, &'a str, &'a str, &'a [&'a str]);

/// A configuration of apps given as (name, sdkappid, watch lists).
fn config(apps: &[(&str, u64, &[List<'_>])]) -> Config {
    let mut text = String::from("apps:\n");
    for (name, sdkappid, lists) in apps {
        text.push_str(&format!(
            "  - name: {name}\n    sdkappid: {sdkappid}\n    region: singapore\n    admin: administrator\n    secret_key: k\n    watchlists:\n"
        ));
        for (list, expect, presence, ids) in *lists {
            text.push_str(&format!(
                "      - name: {list}\n        expect: {expect}\n        user_ids: [{}]\n",
                ids.join(", ")
            ));
            if !presence.is_empty() {
                text.push_str(&format!("        presence: {presence}\n"));
            }
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

const IMPORTED: Result<AccountStatus, Unknown> = Ok(AccountStatus::Imported);
const NOT_IMPORTED: Result<AccountStatus, Unknown> = Ok(AccountStatus::NotImported);

fn presence(status: PresenceStatus) -> Result<Presence, Unknown> {
    Ok(Presence {
        status,
        platforms: Vec::new(),
    })
}

/// A cycle of `app` with the given import results (the rest missing from the reply), and
/// no presence results.
fn cycle(
    app: &AppConfig,
    results: &[(&str, Result<AccountStatus, Unknown>)],
    attempts: Vec<Attempt>,
) -> Cycle {
    presence_cycle(app, results, &[], attempts)
}

/// A cycle of `app` with the given import and presence results; UserIDs not given are
/// missing from the reply.
fn presence_cycle(
    app: &AppConfig,
    results: &[(&str, Result<AccountStatus, Unknown>)],
    presences: &[(&str, Result<Presence, Unknown>)],
    attempts: Vec<Attempt>,
) -> Cycle {
    fn pick<T: Clone>(id: &str, given: &[(&str, Result<T, Unknown>)]) -> Result<T, Unknown> {
        given
            .iter()
            .find(|(r, _)| *r == id)
            .map(|(_, r)| r)
            .cloned()
            .unwrap_or_else(|| Err(unknown("missing", true)))
    }
    Cycle {
        checked_at: SystemTime::now(),
        duration: Duration::from_millis(120),
        import: app
            .distinct_user_ids()
            .iter()
            .map(|id| ((*id).to_owned(), pick(id, results)))
            .collect(),
        presence: app
            .presence_user_ids()
            .iter()
            .map(|id| ((*id).to_owned(), pick(id, presences)))
            .collect(),
        attempts,
        usersig_expiry: SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
    }
}

fn attempt(millis: u64, error: Option<&str>, retry: bool) -> Attempt {
    Attempt {
        api: Api::AccountCheck,
        duration: Duration::from_millis(millis),
        error: error.map(str::to_owned),
        retry,
    }
}

const VIP: List<'static> = ("vip", "imported", "", &["alice", "bob"]);
const GONE: List<'static> = ("gone", "not_imported", "", &["mallory", "bob"]);

#[test]
fn every_account_starts_unknown_and_the_state_is_not_ready() {
    let state = State::new(&config(&[("a", 1_400_000_000, &[VIP, GONE])]));
    let apps = state.apps();
    let data = apps[0].lock();
    assert_eq!(data.accounts.len(), 3, "distinct UserIDs");
    for id in ["alice", "bob", "mallory"] {
        assert_eq!(data.status(id), Status::Unknown);
        assert_eq!(
            data.accounts[id].import.error().map(|e| e.code.as_str()),
            Some("not_checked")
        );
    }
    assert!(data.last_cycle.is_none());
    drop(data);
    assert!(!state.ready());
    assert!(report::all(&state, report::Rows::All)[0]
        .checked_at
        .is_none());
}

#[test]
fn a_cycle_sets_statuses_counters_and_readiness() {
    let config = config(&[("a", 1_400_000_000, &[VIP, GONE])]);
    let state = State::new(&config);
    let app = &state.apps()[0];
    let report = cycle(
        &config.apps[0],
        &[
            ("alice", IMPORTED),
            ("bob", IMPORTED),
            ("mallory", NOT_IMPORTED),
        ],
        vec![
            attempt(30, Some("timeout"), false),
            attempt(300, None, true),
        ],
    );
    app.record_cycle(&report);
    assert!(state.ready());
    let data = app.lock();
    assert_eq!(data.status("bob"), Status::Imported);
    assert_eq!(data.cycles, 1);
    assert!(data.last_success.is_some());
    assert!(data.last_cycle.as_ref().is_some_and(|c| c.success));
    assert_eq!(data.api(Api::AccountCheck).requests, 2);
    assert_eq!(data.api(Api::AccountCheck).retries, 1);
    assert_eq!(data.api(Api::AccountCheck).errors.get("timeout"), Some(&1));
    assert_eq!(data.api(Api::AccountCheck).latency.count, 2);
    // 30 ms is above the 25 ms bound and within 50 ms; 300 ms within 500 ms.
    assert_eq!(
        data.api(Api::AccountCheck).latency.cumulative[..6],
        [0, 0, 1, 1, 1, 2]
    );
    assert_eq!(
        data.usersig_expiry,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
    // bob is imported but on the `gone` list: drift there, not on `vip`.
    let report = report::build(&data);
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
        ("alice", IMPORTED),
        ("bob", NOT_IMPORTED),
        ("mallory", NOT_IMPORTED),
    ];
    app.record_cycle(&cycle(&config.apps[0], &all_ok, vec![]));
    let failed = [
        ("alice", Err(unknown("timeout", false))),
        ("bob", Err(unknown("70500", true))),
        ("mallory", NOT_IMPORTED),
    ];
    app.record_cycle(&cycle(&config.apps[0], &failed, vec![]));
    app.record_cycle(&cycle(&config.apps[0], &failed, vec![]));
    assert_eq!(app.lock().consecutive_failures, 2);
    app.record_cycle(&cycle(&config.apps[0], &all_ok, vec![]));
    assert_eq!(
        app.lock().consecutive_failures,
        0,
        "a full success resets the count"
    );
    app.record_cycle(&cycle(&config.apps[0], &failed, vec![]));
    let data = app.lock();
    assert_eq!(data.consecutive_failures, 1);
    assert_eq!(data.status("alice"), Status::Unknown);
    assert_eq!(data.status("bob"), Status::Unknown);
    assert!(!data.last_cycle.as_ref().expect("a cycle").success);
    // bob is on two lists but is one account (once per failed cycle); alice's failure was
    // the call's, not an item's.
    assert_eq!(data.api(Api::AccountCheck).account_errors.len(), 1);
    assert_eq!(
        data.api(Api::AccountCheck).account_errors.get("70500"),
        Some(&3)
    );
    assert_eq!(data.cycles, 5);
    assert!(
        report::build(&data).accounts.iter().all(|a| !a.drift()),
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
        ("alice", IMPORTED),
        ("bob", IMPORTED),
        ("mallory", NOT_IMPORTED),
    ];
    apps[0].record_cycle(&cycle(
        &before.apps[0],
        &all,
        vec![attempt(10, None, false)],
    ));
    apps[1].record_cycle(&cycle(&before.apps[1], &all, vec![]));

    // App a loses mallory and gains carol; app b is gone; app c is new.
    const VIP2: List<'static> = ("vip", "imported", "", &["alice", "bob", "carol"]);
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
    assert_eq!(
        a.api(Api::AccountCheck).requests,
        1,
        "counters survive a reload"
    );
    assert_eq!(report::build(&a).accounts.len(), 3);
    drop(a);
    assert_eq!(apps_after[0].lock().status("alice"), Status::Unknown);
    assert_eq!(
        report::all(&state, report::Rows::All)
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
    state.apps()[0].record_cycle(&cycle(&first.apps[0], &[], vec![]));
    assert!(state.ready());
    state.reconcile(&config(&[
        ("a", 1_400_000_000, &[VIP]),
        ("b", 1_400_000_001, &[VIP]),
    ]));
    assert!(state.ready());

    // Reached but never asked before a reload adds an app: still ready after it.
    let state = State::new(&first);
    state.apps()[0].record_cycle(&cycle(&first.apps[0], &[], vec![]));
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
    let all = [("alice", IMPORTED), ("bob", Err(unknown("timeout", false)))];
    app.record_cycle(&cycle(&first.apps[0], &all, vec![]));
    assert!(
        !app.lock().has_unchecked(),
        "a failed check is still a check"
    );
    const ALICE: List<'static> = ("vip", "imported", "", &["alice"]);
    state.reconcile(&config(&[("a", 1_400_000_000, &[ALICE])]));
    assert!(!app.lock().has_unchecked());
    state.reconcile(&first);
    assert!(app.lock().has_unchecked(), "bob came back and was reset");
}

#[test]
fn a_result_for_an_account_removed_during_the_cycle_is_dropped() {
    let before = config(&[("a", 1_400_000_000, &[VIP, GONE])]);
    let state = State::new(&before);
    const ALICE: List<'static> = ("vip", "imported", "", &["alice"]);
    state.reconcile(&config(&[("a", 1_400_000_000, &[ALICE])]));
    let app = &state.apps()[0];
    let all = [
        ("alice", IMPORTED),
        ("bob", IMPORTED),
        ("mallory", NOT_IMPORTED),
    ];
    app.record_cycle(&cycle(&before.apps[0], &all, vec![]));
    let data = app.lock();
    assert_eq!(data.accounts.len(), 1);
    assert_eq!(data.status("alice"), Status::Imported);
}

const BOTS: List<'static> = ("bots", "imported", "online", &["ops_bot", "alert_bot"]);
const AGENTS: List<'static> = ("agents", "imported", "reachable", &["alert_bot", "agent"]);

#[test]
fn presence_is_one_result_per_account_read_against_each_list() {
    let config = config(&[("a", 1_400_000_000, &[BOTS, AGENTS, VIP])]);
    assert_eq!(
        config.apps[0].presence_user_ids().len(),
        3,
        "alert_bot is asked once"
    );
    let state = State::new(&config);
    let app = &state.apps()[0];
    let imports = [
        ("ops_bot", IMPORTED),
        ("alert_bot", IMPORTED),
        ("agent", IMPORTED),
        ("alice", IMPORTED),
        ("bob", IMPORTED),
    ];
    let presences = [
        ("ops_bot", Err(unknown("70500", true))),
        ("alert_bot", presence(PresenceStatus::PushOnline)),
        ("agent", presence(PresenceStatus::Offline)),
    ];
    app.record_cycle(&presence_cycle(
        &config.apps[0],
        &imports,
        &presences,
        vec![],
    ));
    let data = app.lock();
    assert!(
        data.accounts["alice"].presence.is_none(),
        "vip checks no presence"
    );
    let bots = data.counts[0].presence.expect("bots checks presence");
    assert_eq!((bots.push_online, bots.unknown, bots.drift), (1, 1, 1));
    let agents = data.counts[1].presence.expect("agents checks presence");
    assert_eq!(
        (agents.push_online, agents.offline, agents.drift),
        (1, 1, 1)
    );
    assert!(data.counts[2].presence.is_none());
    assert!(
        !data.last_cycle.as_ref().unwrap().success,
        "ops_bot is unknown"
    );
    assert_eq!(
        data.api(Api::QueryOnlineStatus).account_errors.get("70500"),
        Some(&1)
    );
    let report = report::build(&data);
    let drift: Vec<_> = report
        .accounts
        .iter()
        .filter(|a| a.presence.as_ref().is_some_and(|p| p.drift()))
        .map(|a| (a.watchlist.as_str(), a.user_id.as_str()))
        .collect();
    // push_online is short of online, not of reachable; unknown is never drift.
    assert_eq!(drift, [("bots", "alert_bot"), ("agents", "agent")]);
    // The page's report holds exactly the rows of the whole one that need attention.
    let attention: Vec<_> = report
        .accounts
        .iter()
        .filter(|a| a.needs_attention())
        .cloned()
        .collect();
    assert!(!attention.is_empty() && attention.len() < report.accounts.len());
    assert_eq!(
        report::build_rows(&data, report::Rows::Attention(usize::MAX)).accounts,
        attention
    );
    // With a limit, the rest are counted.
    let limited = report::build_rows(&data, report::Rows::Attention(1));
    assert_eq!(limited.accounts, attention[..1]);
    assert_eq!(limited.omitted, attention.len() - 1);
}

#[test]
fn one_reason_is_kept_once_for_every_account_it_left_unknown() {
    let config = config(&[(
        "a",
        1_400_000_000,
        &[("ops", "imported", "", &["a", "b", "c"])],
    )]);
    let state = State::new(&config);
    let app = &state.apps()[0];
    let timeout = unknown("timeout", false);
    app.record_cycle(&cycle(
        &config.apps[0],
        &[
            ("a", Err(timeout.clone())),
            ("b", Err(timeout.clone())),
            ("c", Err(unknown("70107", true))),
        ],
        vec![],
    ));
    let data = app.lock();
    let error = |id: &str| Arc::clone(data.accounts[id].import.error().expect("unknown"));
    assert!(Arc::ptr_eq(&error("a"), &error("b")));
    assert_eq!(*error("a"), timeout);
    assert_eq!(error("c").code, "70107");
}

#[test]
fn presence_since_moves_on_change_and_not_on_failure() {
    let config = config(&[("a", 1_400_000_000, &[BOTS])]);
    let state = State::new(&config);
    let app = &state.apps()[0];
    let imports = [("ops_bot", IMPORTED), ("alert_bot", IMPORTED)];
    let run = |ops_bot: Result<Presence, Unknown>| {
        let mut cycle = presence_cycle(
            &config.apps[0],
            &imports,
            &[
                ("ops_bot", ops_bot),
                ("alert_bot", presence(PresenceStatus::Online)),
            ],
            vec![],
        );
        cycle.checked_at = SystemTime::now();
        app.record_cycle(&cycle);
        let data = app.lock();
        let observed = data.accounts["ops_bot"].presence.clone().unwrap();
        (observed.since(), data.counts[0].presence.unwrap().drift)
    };
    let (since, drift) = run(presence(PresenceStatus::Online));
    assert_eq!(
        (since, drift),
        (None, 0),
        "the first value was not seen to begin"
    );
    let (offline_since, drift) = run(presence(PresenceStatus::Offline));
    assert!(offline_since.is_some());
    assert_eq!(drift, 1);
    let (since, drift) = run(Err(unknown("timeout", false)));
    assert_eq!(drift, 0, "unknown is never drift");
    assert_eq!(since, offline_since, "a failure does not move since");
    let unknown_since = app.lock().accounts["ops_bot"]
        .presence
        .as_ref()
        .unwrap()
        .unknown_since();
    assert!(
        unknown_since >= offline_since,
        "unknown begins when offline is lost"
    );
    let (since, drift) = run(presence(PresenceStatus::Offline));
    assert_eq!(since, offline_since, "a failure does not restart offline");
    assert_eq!(drift, 1);
    let (online_since, drift) = run(presence(PresenceStatus::Online));
    assert!(online_since > offline_since);
    assert_eq!(drift, 0);
}
