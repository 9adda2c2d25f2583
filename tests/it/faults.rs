//! Every injected fault, the retry policy, and the rule that a failure is never "not imported".

use std::time::{Duration, Instant};

use tim_account_exporter::sim::{Fault, SimAccount, SimOptions, Simulator};
use tim_account_exporter::state::Status;

use crate::support::*;

/// Settings that keep fault tests quick: a short timeout and interval.
const FAST: &str = "    interval: 4s\n    timeout: 1s\n";

fn users() -> Vec<String> {
    vec!["alice".into(), "bob".into(), "carol".into()]
}

async fn sim_with_hang() -> Simulator {
    Simulator::start(SimOptions {
        hang: Duration::from_secs(30),
        ..sim_options()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn transient_faults_are_retried_and_recover() {
    for fault in [
        Fault::Timeout,
        Fault::Http502,
        Fault::Malformed,
        Fault::NotJson,
        Fault::Oversized,
        Fault::OversizedChunked,
        Fault::Code(60008),
        Fault::Code(60013),
        Fault::Code(60014),
        Fault::Code(70169),
        Fault::Code(70202),
        Fault::Code(70500),
    ] {
        let sim = sim_with_hang().await;
        sim.push_faults(SDKAPPID, [fault]);
        let report = run_cycle(&simple_app(&sim, FAST, &users())).await;
        assert!(report.success, "{fault}: {:?}", report.accounts);
        assert_eq!(sim.stats(SDKAPPID).requests, 2, "{fault}");
        assert_eq!(report.attempts.len(), 2, "{fault}");
        assert!(
            report.attempts[0].error.is_some() && !report.attempts[0].retry,
            "{fault}"
        );
        assert!(
            report.attempts[1].error.is_none() && report.attempts[1].retry,
            "{fault}"
        );
    }
}

#[tokio::test]
async fn attempt_error_labels() {
    for (fault, label) in [
        (Fault::Timeout, "timeout"),
        (Fault::Http502, "http_502"),
        (Fault::Malformed, "decode"),
        (Fault::NotJson, "decode"),
        (Fault::Oversized, "decode"),
        (Fault::OversizedChunked, "decode"),
        (Fault::Code(70169), "70169"),
        (Fault::Code(90001), "other"),
    ] {
        let sim = sim_with_hang().await;
        sim.push_faults(SDKAPPID, [fault]);
        let report = run_cycle(&simple_app(
            &sim,
            &format!("{FAST}    retries: 0\n"),
            &users(),
        ))
        .await;
        assert_eq!(report.attempts.len(), 1);
        assert_eq!(report.attempts[0].error.as_deref(), Some(label), "{fault}");
        for user in users() {
            assert_eq!(status_of(&report, &user), Status::Unknown, "{fault}");
            assert_eq!(
                error_code_of(&report, &user).as_deref(),
                Some(label),
                "{fault}"
            );
        }
    }
}

#[tokio::test]
async fn rate_limit_codes_back_off_longer() {
    for code in [60007, 60011, 60018, 60019] {
        let sim = start_sim().await;
        sim.push_faults(SDKAPPID, [Fault::Code(code)]);
        let started = Instant::now();
        let report = run_cycle(&simple_app(&sim, FAST, &users())).await;
        assert!(report.success, "{code}");
        assert_eq!(sim.stats(SDKAPPID).requests, 2);
        // The first wait after a rate-limit code is 1 s with jitter down to half.
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{code}: {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn retries_are_bounded_by_the_setting() {
    let sim = start_sim().await;
    sim.push_faults(SDKAPPID, [Fault::Code(70169); 10]);
    let report = run_cycle(&simple_app(&sim, "    retries: 2\n", &users())).await;
    assert_eq!(sim.stats(SDKAPPID).requests, 3);
    assert_eq!(report.attempts.len(), 3);
    assert_eq!(report.attempts.iter().filter(|a| a.retry).count(), 2);
    assert_eq!(error_code_of(&report, "alice").as_deref(), Some("70169"));
    assert_eq!(status_of(&report, "alice"), Status::Unknown);
}

#[tokio::test]
async fn retries_are_bounded_by_the_interval() {
    let sim = start_sim().await;
    sim.push_faults(SDKAPPID, [Fault::Code(60007); 10]);
    let started = Instant::now();
    let report = run_cycle(&simple_app(
        &sim,
        "    interval: 2s\n    timeout: 1s\n    retries: 10\n",
        &users(),
    ))
    .await;
    // Rate-limit waits of 1, 2, 4 s (jittered) cannot all fit in 2 s: the cycle gives up
    // rather than run into the next one (the margin is for a slow machine).
    assert!(
        started.elapsed() < Duration::from_millis(2300),
        "{:?}",
        started.elapsed()
    );
    assert!(sim.stats(SDKAPPID).requests < 4);
    assert_eq!(error_code_of(&report, "bob").as_deref(), Some("60007"));
}

#[tokio::test]
async fn permanent_codes_are_not_retried() {
    for code in [
        60002, 60003, 60006, 60010, 60020, 60021, 60026, 70003, 70009, 70013, 70014, 70020, 70206,
        70402, 70403, 12345,
    ] {
        let sim = start_sim().await;
        sim.push_faults(SDKAPPID, [Fault::Code(code)]);
        let report = run_cycle(&simple_app(&sim, "    retries: 5\n", &users())).await;
        assert_eq!(sim.stats(SDKAPPID).requests, 1, "{code}");
        assert_eq!(status_of(&report, "carol"), Status::Unknown, "{code}");
        let label = if (60000..80000).contains(&code) {
            code.to_string()
        } else {
            "other".into()
        };
        assert_eq!(error_code_of(&report, "carol"), Some(label), "{code}");
    }
}

#[tokio::test]
async fn usersig_refusals_renew_and_retry_once() {
    for code in [70001, 70052, 60004, 60005] {
        let sim = start_sim().await;
        sim.push_faults(SDKAPPID, [Fault::Code(code)]);
        let report = run_cycle(&simple_app(&sim, "    retries: 0\n", &users())).await;
        assert!(report.success, "{code}");
        assert_eq!(sim.stats(SDKAPPID).requests, 2, "{code}");
        // The retry carried a new UserSig, even though it was signed in the same second.
        assert_eq!(sim.usersigs_seen().len(), 2, "{code}");

        // A second refusal in a row is not retried again.
        let sim = start_sim().await;
        sim.push_faults(SDKAPPID, [Fault::Code(code), Fault::Code(code)]);
        let report = run_cycle(&simple_app(&sim, "    retries: 0\n", &users())).await;
        assert_eq!(sim.stats(SDKAPPID).requests, 2, "{code}");
        assert_eq!(error_code_of(&report, "alice"), Some(code.to_string()));
    }
}

#[tokio::test]
async fn lockout_after_70050_stops_calls() {
    let sim = start_sim().await;
    sim.push_faults(SDKAPPID, [Fault::Code(70050)]);
    let app = simple_app(&sim, "    retries: 5\n", &users());
    let client = client(&app);
    let first = run_with(&app, &client).await;
    assert_eq!(sim.stats(SDKAPPID).requests, 1);
    assert_eq!(error_code_of(&first, "alice").as_deref(), Some("70050"));
    // The next cycle, within 60 s, makes no call at all and says why.
    let second = run_with(&app, &client).await;
    assert_eq!(sim.stats(SDKAPPID).requests, 1);
    assert!(second.attempts.is_empty());
    let account = second.accounts.iter().find(|a| a.user_id == "bob").unwrap();
    assert_eq!(account.status, Status::Unknown);
    assert!(account
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("after ErrorCode 70050"));
}

#[tokio::test]
async fn item_faults_make_only_their_account_unknown() {
    for (fault, code) in [
        (Fault::ItemError, Some("70500")),
        (Fault::MissingItem, Some("missing")),
        (Fault::BadStatus, Some("bad_status")),
        (Fault::Conflict, Some("bad_status")),
        (Fault::ExtraItem, None),
        (Fault::Reorder, None),
    ] {
        let sim = start_sim().await;
        sim.set_account(SDKAPPID, "bob", SimAccount::NotImported);
        sim.push_faults(SDKAPPID, [fault]);
        let report = run_cycle(&simple_app(&sim, "", &users())).await;
        assert_eq!(
            sim.stats(SDKAPPID).requests,
            1,
            "{fault}: item faults are not retried"
        );
        assert_eq!(error_code_of(&report, "alice").as_deref(), code, "{fault}");
        let alice = if code.is_some() {
            Status::Unknown
        } else {
            Status::Imported
        };
        assert_eq!(status_of(&report, "alice"), alice, "{fault}");
        assert_eq!(status_of(&report, "bob"), Status::NotImported, "{fault}");
        assert_eq!(status_of(&report, "carol"), Status::Imported, "{fault}");
        assert!(!report
            .accounts
            .iter()
            .any(|a| a.user_id == "sim_unrequested_user"));
    }
}

#[tokio::test]
async fn persistent_item_errors_carry_their_result_code() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "carol", SimAccount::ItemError(70107));
    let report = run_cycle(&simple_app(&sim, "", &users())).await;
    assert_eq!(status_of(&report, "carol"), Status::Unknown);
    assert_eq!(error_code_of(&report, "carol").as_deref(), Some("70107"));
    let carol = report
        .accounts
        .iter()
        .find(|a| a.user_id == "carol")
        .unwrap();
    assert!(!carol.drift());
}

/// The central rule: whatever fails, an account the service holds as imported is never
/// reported as not imported.
#[tokio::test]
async fn no_failure_ever_reads_as_not_imported() {
    // Every kind of fault, and whole-call failures of every class.
    let codes = [60007, 70001, 70050, 70403, 70107].map(Fault::Code);
    let faults = Fault::ONE_OF_EACH.into_iter().chain(codes);
    for fault in faults {
        let sim = sim_with_hang().await;
        // Enough faults that even retries fail.
        sim.push_faults(SDKAPPID, [fault; 4]);
        let report = run_cycle(&simple_app(
            &sim,
            &format!("{FAST}    retries: 1\n"),
            &users(),
        ))
        .await;
        for account in &report.accounts {
            assert_ne!(account.status, Status::NotImported, "{fault}: {account:?}");
            assert!(!account.drift(), "{fault}: {account:?}");
            if account.status == Status::Unknown {
                assert!(account.error.is_some(), "{fault}: unknown without a reason");
            }
        }
    }
}

#[tokio::test]
async fn the_usersig_lives_for_usersig_ttl() {
    let sim = start_sim().await;
    let app = simple_app(&sim, "    usersig_ttl: 2h\n", &users());
    let client = client(&app);
    let expiry = client.usersig_expiry();
    let expected = std::time::SystemTime::now() + Duration::from_secs(7200);
    let gap = expected
        .duration_since(expiry)
        .unwrap_or_else(|e| e.duration());
    assert!(gap < Duration::from_secs(2), "expiry {expiry:?}");
    run_with(&app, &client).await;
    let now = unix_now();
    let seen = sim.usersigs_seen();
    let verified =
        tim_account_exporter::tim::usersig::verify(&seen[0], SDKAPPID, ADMIN, KEY, now).unwrap();
    assert_eq!(verified.expire, 7200);
}

#[tokio::test]
async fn lockout_stops_batches_already_waiting_for_their_turn() {
    let sim = start_sim().await;
    sim.push_faults(SDKAPPID, [Fault::Code(70050)]);
    // Five batches paced 200 ms apart: the first is refused long before the others' turn.
    let app = simple_app(&sim, "    rate_limit: 5\n", &ids("u", 500));
    let report = run_cycle(&app).await;
    assert_eq!(sim.stats(SDKAPPID).requests, 1);
    assert_eq!(report.attempts.len(), 1);
    assert!(report
        .accounts
        .iter()
        .all(|a| a.status == Status::Unknown && a.error.as_ref().unwrap().code == "70050"));
}

/// An `https://` endpoint goes through rustls: here the peer speaks plain HTTP, so the
/// handshake fails, which must be a transport failure (retried, then unknown), not a panic.
#[tokio::test]
async fn a_failed_tls_handshake_is_a_transport_failure() {
    let sim = start_sim().await;
    let endpoint = format!("https://{}", sim.addr());
    let app = app_config(&app_yaml(
        &endpoint,
        "    retries: 1\n",
        &list_yaml("vip", "imported", &users()),
    ));
    let report = run_cycle(&app).await;
    assert_eq!(report.attempts.len(), 2);
    assert_eq!(error_code_of(&report, "alice").as_deref(), Some("connect"));
    assert_eq!(status_of(&report, "alice"), Status::Unknown);
}

/// A retry is made only if its backoff and a whole attempt still fit in the interval: one
/// squeezed in would time out and report `timeout` instead of the real cause.
#[tokio::test]
async fn no_retry_without_room_for_a_whole_attempt() {
    let sim = start_sim().await;
    sim.push_faults(SDKAPPID, [Fault::Code(70169)]);
    let app = simple_app(
        &sim,
        "    interval: 2s\n    timeout: 1900ms\n    retries: 3\n",
        &users(),
    );
    let report = run_cycle(&app).await;
    assert_eq!(sim.stats(SDKAPPID).requests, 1);
    assert_eq!(error_code_of(&report, "alice").as_deref(), Some("70169"));
}

/// A reply streamed without end is cut off at 1 MiB, well before the attempt's timeout.
#[tokio::test]
async fn an_endless_body_is_cut_off_by_size() {
    let sim = start_sim().await;
    sim.push_faults(SDKAPPID, [Fault::OversizedChunked]);
    let app = simple_app(&sim, "    timeout: 20s\n    retries: 0\n", &users());
    let report = run_cycle(&app).await;
    assert_eq!(report.attempts[0].error.as_deref(), Some("decode"));
    assert!(
        report.attempts[0].duration < Duration::from_secs(10),
        "{:?}",
        report.attempts[0].duration
    );
}
