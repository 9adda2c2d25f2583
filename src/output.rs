//! The `--once` result for people (a table) and for programs (JSON), and its exit code.

use serde::Serialize;

use crate::report::{AccountReport, AppReport, Status, Summary};

/// Every account matches its watch list.
pub const EXIT_OK: u8 = 0;
/// At least one account drifts.
pub const EXIT_DRIFT: u8 = 1;
/// Configuration or usage error.
pub const EXIT_USAGE: u8 = 2;
/// No account drifts, but at least one status is unknown.
pub const EXIT_UNKNOWN: u8 = 3;

/// The exit code of `--once` for these counts.
pub fn exit_code(summary: Summary) -> u8 {
    if summary.drift > 0 {
        EXIT_DRIFT
    } else if summary.unknown > 0 {
        EXIT_UNKNOWN
    } else {
        EXIT_OK
    }
}

#[derive(Serialize)]
struct StatusDocument<'a> {
    apps: Vec<AppDocument<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct AppDocument<'a> {
    name: &'a str,
    region: &'static str,
    sdkappid: u64,
    /// RFC 3339; `null` before the app's first cycle.
    checked_at: Option<String>,
    duration_seconds: f64,
    calls: usize,
    accounts: Vec<AccountDocument<'a>>,
}

#[derive(Serialize)]
struct AccountDocument<'a> {
    watchlist: &'a str,
    user_id: &'a str,
    status: &'static str,
    expected: &'static str,
    drift: bool,
    error: Option<&'a str>,
}

/// The status document as pretty JSON.
pub fn render_json(reports: &[AppReport]) -> String {
    let document = StatusDocument {
        apps: reports
            .iter()
            .map(|report| AppDocument {
                name: &report.name,
                region: report.region.name(),
                sdkappid: report.sdkappid,
                checked_at: report
                    .checked_at
                    .map(|at| humantime::format_rfc3339_millis(at).to_string()),
                duration_seconds: report.duration.as_secs_f64(),
                calls: report.calls(),
                accounts: report
                    .accounts
                    .iter()
                    .map(|account| AccountDocument {
                        watchlist: &account.watchlist,
                        user_id: &account.user_id,
                        status: account.status.as_str(),
                        expected: account.expected.as_str(),
                        drift: account.drift(),
                        error: account.error.as_ref().map(|e| e.message.as_str()),
                    })
                    .collect(),
            })
            .collect(),
        summary: Summary::of(reports),
    };
    let mut json = serde_json::to_string_pretty(&document).expect("the document serializes");
    json.push('\n');
    json
}

const HEADER: [&str; 7] = [
    "APP",
    "REGION",
    "WATCHLIST",
    "USER_ID",
    "STATUS",
    "EXPECTED",
    "NOTE",
];

/// Drift first, then unknown, then the rest; configuration order within each group.
fn rank(account: &AccountReport) -> u8 {
    if account.drift() {
        0
    } else if account.status == Status::Unknown {
        1
    } else {
        2
    }
}

/// An aligned table of every account, followed by a one-line summary.
pub fn render_table(reports: &[AppReport]) -> String {
    let mut rows: Vec<(u8, [String; 7])> = reports
        .iter()
        .flat_map(|report| report.accounts.iter().map(move |account| (report, account)))
        .map(|(report, account)| {
            let note = if account.drift() {
                format!("DRIFT: expected {}", account.expected)
            } else {
                account
                    .error
                    .as_ref()
                    .map_or_else(String::new, |e| e.message.clone())
            };
            (
                rank(account),
                [
                    report.name.clone(),
                    report.region.name().to_owned(),
                    account.watchlist.clone(),
                    account.user_id.clone(),
                    account.status.as_str().to_owned(),
                    account.expected.as_str().to_owned(),
                    note,
                ],
            )
        })
        .collect();
    rows.sort_by_key(|(rank, _)| *rank);
    let mut widths = HEADER.map(str::len);
    for (_, row) in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &[&str]| {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&HEADER);
    for (_, row) in &rows {
        push_row(&row.each_ref().map(String::as_str));
    }
    let summary = Summary::of(reports);
    out.push_str(&format!(
        "\n{} accounts: {} drift, {} unknown\n",
        summary.accounts, summary.drift, summary.unknown
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::config::Expect;
    use crate::tim::{Region, Unknown};

    fn account(id: &str, status: Status, expected: Expect) -> AccountReport {
        AccountReport {
            watchlist: "vip".into(),
            user_id: id.into(),
            status,
            expected,
            error: (status == Status::Unknown).then(|| Unknown {
                code: "timeout".into(),
                message: "timed out (after 3 attempts)".into(),
                in_reply: false,
            }),
        }
    }

    fn report(accounts: Vec<AccountReport>) -> AppReport {
        AppReport {
            name: "prod-sg".into(),
            region: Region::Singapore,
            sdkappid: 1_400_000_000,
            checked_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            duration: Duration::from_millis(250),
            attempts: Vec::new(),
            accounts,
        }
    }

    #[test]
    fn exit_codes() {
        let s = |drift, unknown| Summary {
            accounts: 5,
            drift,
            unknown,
        };
        assert_eq!(exit_code(s(0, 0)), EXIT_OK);
        assert_eq!(exit_code(s(1, 0)), EXIT_DRIFT);
        assert_eq!(exit_code(s(1, 2)), EXIT_DRIFT);
        assert_eq!(exit_code(s(0, 2)), EXIT_UNKNOWN);
    }

    #[test]
    fn table_puts_drift_then_unknown_first() {
        let table = render_table(&[report(vec![
            account("fine", Status::Imported, Expect::Imported),
            account("lost", Status::Unknown, Expect::Imported),
            account("gone", Status::NotImported, Expect::Imported),
        ])]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with(
                "APP      REGION     WATCHLIST  USER_ID  STATUS        EXPECTED  NOTE"
            ),
            "{table}"
        );
        assert!(lines[1].contains("gone") && lines[1].ends_with("DRIFT: expected imported"));
        assert!(lines[2].contains("lost") && lines[2].ends_with("timed out (after 3 attempts)"));
        assert!(lines[3].contains("fine") && lines[3].ends_with("imported"));
        assert_eq!(lines[5], "3 accounts: 1 drift, 1 unknown");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let json = render_json(&[report(vec![
            account("gone", Status::NotImported, Expect::Imported),
            account("lost", Status::Unknown, Expect::NotImported),
        ])]);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "apps": [{
                    "name": "prod-sg", "region": "singapore", "sdkappid": 1_400_000_000u64,
                    "checked_at": "2023-11-14T22:13:20.000Z", "duration_seconds": 0.25, "calls": 0,
                    "accounts": [
                        {"watchlist": "vip", "user_id": "gone", "status": "not_imported",
                         "expected": "imported", "drift": true, "error": null},
                        {"watchlist": "vip", "user_id": "lost", "status": "unknown",
                         "expected": "not_imported", "drift": false,
                         "error": "timed out (after 3 attempts)"}
                    ]
                }],
                "summary": {"accounts": 2, "drift": 1, "unknown": 1}
            })
        );
    }
}
