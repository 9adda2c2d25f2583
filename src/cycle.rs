//! One check cycle of one app: ask each API about every distinct UserID it needs once,
//! side by side and within the app's interval, and record what came back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::config::AppConfig;
use crate::report::{self, AppReport, Summary};
use crate::state::{AppState, Cycle};
use crate::tim::{Client, Outcome, Unknown};

/// Runs one cycle. Never fails: whatever goes wrong becomes unknown results with reasons.
pub async fn run(app: &AppConfig, client: &Client) -> Cycle {
    let checked_at = SystemTime::now();
    let started = Instant::now();
    let deadline = started + app.interval;
    let (import_ids, presence_ids) = (app.distinct_user_ids(), app.presence_user_ids());
    let (import, presence) = tokio::join!(client.check(&import_ids, deadline), async {
        if presence_ids.is_empty() {
            Outcome::default()
        } else {
            client.presence(&presence_ids, deadline).await
        }
    });
    let mut attempts = import.attempts;
    attempts.extend(presence.attempts);
    Cycle {
        checked_at,
        duration: started.elapsed(),
        import: import.accounts,
        presence: presence.accounts,
        attempts,
        usersig_expiry: client.usersig_expiry(),
    }
}

/// Records a cycle in the app's state and logs its summary.
pub fn record(state: &AppState, cycle: &Cycle) {
    state.record_cycle(cycle);
    let data = state.lock();
    let mut summary = Summary::default();
    for counts in &data.counts {
        summary.add(counts);
    }
    let failed_calls = cycle.attempts.iter().filter(|a| a.error.is_some()).count();
    tracing::info!(
        app = %data.config.name,
        region = %data.config.region,
        accounts = summary.accounts,
        drift = summary.drift,
        unknown = summary.unknown,
        presence_drift = summary.presence_drift,
        presence_unknown = summary.presence_unknown,
        calls = cycle.attempts.len(),
        failed_calls,
        duration_seconds = cycle.duration.as_secs_f64(),
        "check cycle finished"
    );
    let name = data.config.name.clone();
    drop(data);
    log_unknown_reasons(&name, "accounts with unknown status", cycle.import.values());
    log_unknown_reasons(
        &name,
        "accounts with unknown presence",
        cycle.presence.values(),
    );
}

/// One warning per distinct reason, not per account: a down API must not flood the log.
fn log_unknown_reasons<'a, T: 'a>(
    app: &str,
    what: &str,
    results: impl Iterator<Item = &'a Result<T, Unknown>>,
) {
    let mut reasons: HashMap<&str, (&str, usize)> = HashMap::new();
    for error in results.filter_map(|r| r.as_ref().err()) {
        reasons.entry(&error.code).or_insert((&error.message, 0)).1 += 1;
    }
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_unstable();
    for (code, (message, count)) in reasons {
        tracing::warn!(app, code, accounts = count, reason = message, "{what}");
    }
}

/// Checks one app once with `client` and reports it, as `--once` does.
pub async fn once(app: &Arc<AppConfig>, client: &Client) -> AppReport {
    let state = AppState::new(Arc::clone(app));
    record(&state, &run(app, client).await);
    let data = state.lock();
    report::build(&data)
}

/// Builds a client per app and checks every app once, concurrently.
pub async fn check_all(
    config: &crate::config::Config,
) -> Result<Vec<AppReport>, crate::tim::ClientError> {
    let clients = config
        .apps
        .iter()
        .map(|app| Client::new(app.client_settings()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(futures_util::future::join_all(
        config
            .apps
            .iter()
            .zip(&clients)
            .map(|(app, client)| once(app, client)),
    )
    .await)
}
