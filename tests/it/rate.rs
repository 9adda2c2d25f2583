//! The per-app call rate: never more than rate_limit calls start in any one second, retries included, while calls still overlap.

use std::time::Duration;

use tim_account_exporter::sim::{Fault, SimOptions, Simulator};

use crate::support::*;

/// Calls of one app overlap (latency does not serialise them) yet never more than
/// `rate_limit` start in any one-second window, as the simulator counts them.
#[tokio::test]
async fn the_rate_bound_holds_with_concurrent_calls() {
    let sim = Simulator::start(SimOptions {
        latency: Duration::from_millis(50),
        rate_limit: 10,
        ..sim_options()
    })
    .await
    .unwrap();
    let app = simple_app(
        &sim,
        "    rate_limit: 10\n    interval: 30s\n",
        &ids("u", 2500),
    );
    let report = run_with(&app, &warm_client(&app, &sim).await).await;
    let stats = sim.stats(SDKAPPID);
    assert_eq!(stats.requests, 25);
    assert!(stats.max_requests_in_one_second <= 10, "{stats:?}");
    assert_eq!(stats.error_codes.get(&60007), None, "{stats:?}");
    assert!(report.success);
    // 25 calls paced at 10/s take about 2.4 s plus latency; serial calls would not
    // be slower here, so the overlap itself is checked in the next test.
    assert!(
        report.duration >= Duration::from_millis(2400),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn latency_does_not_cap_throughput() {
    // 10 calls at rate 100 with 400 ms latency: serial calls would take 4 s.
    let sim = Simulator::start(SimOptions {
        latency: Duration::from_millis(400),
        ..sim_options()
    })
    .await
    .unwrap();
    let app = simple_app(&sim, "    rate_limit: 100\n", &ids("u", 1000));
    let report = run_cycle(&app).await;
    assert_eq!(sim.stats(SDKAPPID).requests, 10);
    assert!(
        report.duration < Duration::from_millis(2000),
        "{:?}",
        report.duration
    );
}

#[tokio::test]
async fn retries_count_against_the_rate() {
    let sim = Simulator::start(SimOptions {
        rate_limit: 5,
        ..sim_options()
    })
    .await
    .unwrap();
    let app = simple_app(
        &sim,
        "    rate_limit: 5\n    retries: 3\n    interval: 30s\n",
        &ids("u", 1000),
    );
    let client = warm_client(&app, &sim).await;
    // Every first attempt of the first batches fails: their retries share the same budget.
    sim.push_faults(SDKAPPID, [Fault::Http502; 6]);
    let report = run_with(&app, &client).await;
    let stats = sim.stats(SDKAPPID);
    assert!(
        report.success,
        "{:?}",
        report.accounts.iter().find(|a| a.error.is_some())
    );
    assert_eq!(stats.requests, 16);
    assert!(stats.max_requests_in_one_second <= 5, "{stats:?}");
    assert_eq!(report.attempts.iter().filter(|a| a.retry).count(), 6);
}
