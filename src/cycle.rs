//! One check cycle of one app: ask about every distinct UserID once, within the app's
//! interval, and spread the answers over its watch lists.

use std::time::{Instant, SystemTime};

use crate::config::AppConfig;
use crate::report::{AppReport, Summary};
use crate::tim::Client;

/// Runs one cycle. Never fails: whatever goes wrong becomes unknown accounts with reasons.
pub async fn run(app: &AppConfig, client: &Client) -> AppReport {
    let checked_at = SystemTime::now();
    let started = Instant::now();
    let outcome = client
        .check(&app.distinct_user_ids(), started + app.interval)
        .await;
    let report = AppReport::new(app, outcome, checked_at, started.elapsed());
    log_summary(&report);
    report
}

fn log_summary(report: &AppReport) {
    let summary = Summary::of([report]);
    let failed_calls = report.attempts.iter().filter(|a| a.error.is_some()).count();
    tracing::info!(
        app = %report.name,
        region = %report.region,
        accounts = summary.accounts,
        drift = summary.drift,
        unknown = summary.unknown,
        calls = report.calls(),
        failed_calls,
        duration_seconds = report.duration.as_secs_f64(),
        "check cycle finished"
    );
    if summary.unknown > 0 {
        // One line per distinct reason, not per account: a down API must not flood the log.
        let mut reasons: Vec<(&str, &str, usize)> = Vec::new();
        for error in report.accounts.iter().filter_map(|a| a.error.as_ref()) {
            match reasons.iter_mut().find(|(code, _, _)| *code == error.code) {
                Some((_, _, count)) => *count += 1,
                None => reasons.push((&error.code, &error.message, 1)),
            }
        }
        for (code, message, count) in reasons {
            tracing::warn!(app = %report.name, code, accounts = count, reason = message, "accounts with unknown status");
        }
    }
}

/// Builds a client per app and runs one cycle of every app concurrently.
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
            .map(|(app, client)| run(app, client)),
    )
    .await)
}
