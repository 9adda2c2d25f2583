//! A panic in an app's check loop, injected through the scheduler's cycle runner while the
//! app's state lock is held: it is logged and counted, the app's accounts turn unknown, the
//! loop restarts after a backoff, and the other app, /metrics and the report keep working.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tim_account_exporter::config::{self, Sources};
use tim_account_exporter::metrics::Metrics;
use tim_account_exporter::scheduler::{CycleRunner, Scheduler};
use tim_account_exporter::state::{State, Status};
use tim_account_exporter::{cycle, report};

use crate::support::*;

/// Two apps against `sim`: `steady` and `flaky`, each checking one account every second.
fn two_apps(endpoint: &str) -> config::Config {
    let app = |name: &str, sdkappid: u64| {
        format!(
            "  - name: {name}\n    sdkappid: {sdkappid}\n    region: singapore\n    endpoint: {endpoint}\n    admin: {ADMIN}\n    secret_key: {KEY}\n    interval: 1s\n    timeout: 500ms\n    watchlists:\n      - name: vip\n        user_ids: [alice]\n"
        )
    };
    let yaml = format!(
        "apps:\n{}{}",
        app("steady", SDKAPPID),
        app("flaky", SDKAPPID)
    );
    let no_env = |_: &str| None;
    config::from_yaml(
        &yaml,
        &Sources {
            base_dir: PathBuf::from("."),
            env: &no_env,
        },
    )
    .expect("valid")
    .config
}

#[tokio::test]
async fn a_panicking_loop_is_restarted_and_its_accounts_read_unknown_meanwhile() {
    let sim = start_sim().await;
    let config = two_apps(&sim.endpoint());
    let state = Arc::new(State::default());
    // flaky's 2nd and 3rd cycles panic while holding its state lock; all else is real.
    let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let panics = Arc::new(AtomicUsize::new(0));
    let runner: CycleRunner = {
        let (state, calls, panics) = (Arc::clone(&state), Arc::clone(&calls), Arc::clone(&panics));
        Arc::new(move |app, client| {
            let call = {
                let mut calls = calls.lock().unwrap();
                let count = calls.entry(app.name.clone()).or_default();
                *count += 1;
                *count
            };
            let (state, panics) = (Arc::clone(&state), Arc::clone(&panics));
            Box::pin(async move {
                if app.name == "flaky" && (call == 2 || call == 3) {
                    let held = state
                        .apps()
                        .into_iter()
                        .find(|a| a.lock().config.name == "flaky");
                    let _guard = held.as_ref().map(|a| a.lock());
                    panics.fetch_add(1, Ordering::SeqCst);
                    panic!("injected failure {call}");
                }
                cycle::run(&app, &client).await
            })
        })
    };
    let began = Instant::now();
    let scheduler = Scheduler::start_with(&config, Arc::clone(&state), runner).unwrap();
    let metrics = Metrics::new();
    let flaky = || {
        let apps = state.apps();
        let app = apps
            .iter()
            .find(|a| a.lock().config.name == "flaky")
            .cloned()
            .unwrap();
        let data = app.lock();
        let alice = &data.accounts["alice"];
        (
            alice.status(),
            alice.import.error().map(|e| e.code.clone()),
            data.loop_restarts,
        )
    };

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_unknown_after_a_panic = false;
    loop {
        // Whatever the loops are doing, /metrics and the report answer for both apps.
        let scrape = metrics.scrape(&state, false).await.expect("a scrape");
        let text: String = scrape
            .body
            .iter()
            .map(|part| std::str::from_utf8(part).expect("utf-8"))
            .collect();
        let scrape = Scrape::parse(&text);
        assert_eq!(report::all(&state, report::Rows::All).len(), 2);
        let (status, code, restarts) = flaky();
        if code.as_deref() == Some("loop_failed") {
            assert_eq!(
                status,
                Status::Unknown,
                "a failed loop's accounts are unknown"
            );
            seen_unknown_after_a_panic = true;
        }
        let steady_known = scrape.value(
            "tim_account_status",
            &[("im_app", "steady"), ("status", "imported")],
        ) == Some(1.0);
        if restarts == 2 && status == Status::Imported && steady_known {
            assert_eq!(
                scrape.value(
                    "tim_exporter_app_loop_restarts_total",
                    &[("im_app", "flaky")]
                ),
                Some(2.0)
            );
            assert_eq!(
                scrape.value(
                    "tim_exporter_app_loop_restarts_total",
                    &[("im_app", "steady")]
                ),
                Some(0.0)
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "flaky never recovered: {:?}, panics {}\n{text}",
            flaky(),
            panics.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen_unknown_after_a_panic,
        "the accounts read unknown while the loop was down"
    );
    assert_eq!(panics.load(Ordering::SeqCst), 2);
    // The backoff doubles: the first cycle, a 1 s interval to the first panic, a 1 s wait,
    // the second panic, a 2 s wait, then the cycle that recovered.
    assert!(calls.lock().unwrap()["flaky"] >= 4);
    assert!(
        began.elapsed() >= Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    scheduler.shutdown().await;
}
