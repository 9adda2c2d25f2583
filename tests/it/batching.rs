//! Batching: at most 100 UserIDs per call, the fewest calls, and de-duplication across watch lists.

use tim_account_exporter::sim::SimAccount;
use tim_account_exporter::state::Status;

use crate::support::*;

#[tokio::test]
async fn fewest_calls_of_at_most_100_ids() {
    for (count, calls) in [(1, 1), (100, 1), (101, 2), (250, 3), (1000, 10)] {
        let sim = start_sim().await;
        let app = simple_app(&sim, "", &ids("user_", count));
        let report = run_cycle(&app).await;
        let stats = sim.stats(SDKAPPID);
        assert_eq!(stats.requests, calls, "{count} ids");
        assert_eq!(report.calls, calls);
        assert_eq!(stats.items, count);
        assert!(stats.max_items <= 100);
        assert!(report.success);
        assert_eq!(report.accounts.len(), count);
    }
}

#[tokio::test]
async fn a_user_in_several_lists_is_checked_once_and_reported_in_each() {
    let sim = start_sim().await;
    sim.set_account(SDKAPPID, "shared", SimAccount::NotImported);
    let mut vip = ids("vip_", 80);
    vip.push("shared".into());
    let mut removed = ids("gone_", 30);
    removed.push("shared".into());
    removed.push("vip_00001".into());
    let lists = format!(
        "{}{}",
        list_yaml("vip", "imported", &vip),
        list_yaml("removed", "not_imported", &removed)
    );
    let app = app_config(&app_yaml(&sim.endpoint(), "", &lists));
    assert_eq!(app.distinct_user_ids().len(), 80 + 1 + 30);
    let report = run_cycle(&app).await;
    // 111 distinct UserIDs: two calls, each UserID asked once.
    assert_eq!(sim.stats(SDKAPPID).requests, 2);
    assert_eq!(sim.stats(SDKAPPID).items, 111);
    assert_eq!(report.accounts.len(), 81 + 32);
    let shared: Vec<_> = report
        .accounts
        .iter()
        .filter(|a| a.user_id == "shared")
        .collect();
    assert_eq!(shared.len(), 2);
    assert!(shared.iter().all(|a| a.status == Status::NotImported));
    assert!(shared.iter().any(|a| a.watchlist == "vip" && a.drift()));
    assert!(shared
        .iter()
        .any(|a| a.watchlist == "removed" && !a.drift()));
    let vip1: Vec<_> = report
        .accounts
        .iter()
        .filter(|a| a.user_id == "vip_00001")
        .collect();
    assert_eq!(vip1.len(), 2);
    assert!(vip1.iter().any(|a| a.watchlist == "removed" && a.drift()));
}

#[tokio::test]
async fn statuses_are_mapped_per_user() {
    let sim = start_sim().await;
    let users = ids("u", 150);
    for id in users.iter().step_by(3) {
        sim.set_account(SDKAPPID, id, SimAccount::NotImported);
    }
    let report = run_cycle(&simple_app(&sim, "", &users)).await;
    for (i, id) in users.iter().enumerate() {
        let expected = if i % 3 == 0 {
            Status::NotImported
        } else {
            Status::Imported
        };
        assert_eq!(status_of(&report, id), expected, "{id}");
    }
}
