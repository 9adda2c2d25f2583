//! The `--once` result for people (a table) and for programs (JSON), and its exit code.

use std::time::SystemTime;

use serde::Serialize;

use crate::report::{AccountReport, AppReport, PresenceReport, Summary};
use crate::shard::Shard;

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
    if summary.drift > 0 || summary.presence_drift > 0 {
        EXIT_DRIFT
    } else if summary.unknown > 0 || summary.presence_unknown > 0 {
        EXIT_UNKNOWN
    } else {
        EXIT_OK
    }
}

#[derive(Serialize)]
struct StatusDocument<'a> {
    /// Which shard's accounts the document holds (0 of 1 when not sharded).
    shard: ShardDocument,
    apps: Vec<AppDocument<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct ShardDocument {
    ordinal: u32,
    total: u32,
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
    accounts: AccountDocuments<'a>,
}

/// The accounts of an app, each made into its document as it is written: a million of
/// them are never all held as documents at once.
struct AccountDocuments<'a>(&'a [AccountReport]);

impl Serialize for AccountDocuments<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(account_document))
    }
}

#[derive(Serialize)]
struct AccountDocument<'a> {
    watchlist: &'a str,
    user_id: &'a str,
    status: &'static str,
    expected: &'static str,
    drift: bool,
    error: Option<&'a str>,
    since: Option<String>,
    presence: Option<PresenceDocument<'a>>,
}

#[derive(Serialize)]
struct PresenceDocument<'a> {
    status: &'static str,
    expected: &'static str,
    drift: bool,
    error: Option<&'a str>,
    since: Option<String>,
    platforms: Vec<PlatformDocument<'a>>,
}

#[derive(Serialize)]
struct PlatformDocument<'a> {
    platform: &'a str,
    status: &'a str,
}

fn rfc3339(at: Option<SystemTime>) -> Option<String> {
    at.map(|at| humantime::format_rfc3339_millis(at).to_string())
}

fn account_document(account: &AccountReport) -> AccountDocument<'_> {
    AccountDocument {
        watchlist: &account.watchlist,
        user_id: &account.user_id,
        status: account.status.as_str(),
        expected: account.expected.as_str(),
        drift: account.drift(),
        error: account.error.as_ref().map(|e| e.message.as_str()),
        since: rfc3339(account.since),
        presence: account.presence.as_deref().map(presence_document),
    }
}

fn presence_document(presence: &PresenceReport) -> PresenceDocument<'_> {
    PresenceDocument {
        status: presence.status.as_str(),
        expected: presence.expected.as_str(),
        drift: presence.drift(),
        error: presence.error.as_ref().map(|e| e.message.as_str()),
        since: rfc3339(presence.since),
        platforms: presence
            .platforms
            .iter()
            .map(|p| PlatformDocument {
                platform: &p.platform,
                status: &p.status,
            })
            .collect(),
    }
}

/// The status document of `shard`'s accounts as pretty JSON.
pub fn render_json(reports: &[AppReport], shard: Shard) -> String {
    let document = StatusDocument {
        shard: ShardDocument {
            ordinal: shard.ordinal(),
            total: shard.total(),
        },
        apps: reports
            .iter()
            .map(|report| AppDocument {
                name: &report.name,
                region: report.region.name(),
                sdkappid: report.sdkappid,
                checked_at: rfc3339(report.checked_at),
                duration_seconds: report.duration.as_secs_f64(),
                calls: report.calls,
                accounts: AccountDocuments(&report.accounts),
            })
            .collect(),
        summary: Summary::of(reports),
    };
    let mut json = serde_json::to_string_pretty(&document).expect("the document serializes");
    json.push('\n');
    json
}

/// Drift of either kind first, then unknown results, then the rest; configuration order
/// within each group.
fn rank(account: &AccountReport) -> u8 {
    if account.drift() || account.presence_drift() {
        0
    } else if account.needs_attention() {
        1
    } else {
        2
    }
}

/// What the NOTE column says: drift of each kind, else why a result is unknown.
fn note(account: &AccountReport) -> String {
    let mut notes = Vec::new();
    if account.drift() {
        notes.push(format!("DRIFT: expected {}", account.expected));
    } else if let Some(error) = &account.error {
        notes.push(error.message.clone());
    }
    if let Some(presence) = &account.presence {
        if presence.drift() {
            notes.push(format!("PRESENCE DRIFT: expected {}", presence.expected));
        } else if let Some(error) = &presence.error {
            notes.push(format!("presence: {}", error.message));
        }
    }
    notes.join("; ")
}

/// An aligned table of every account, followed by a one-line summary (which names the
/// shard when sharded). A PRESENCE column appears when any watch list checks presence.
pub fn render_table(reports: &[AppReport], shard: Shard) -> String {
    let with_presence = reports.iter().any(AppReport::checks_presence);
    let mut header = vec![
        "APP",
        "REGION",
        "WATCHLIST",
        "USER_ID",
        "STATUS",
        "EXPECTED",
    ];
    if with_presence {
        header.push("PRESENCE");
    }
    header.push("NOTE");
    let mut rows: Vec<(u8, Vec<String>)> = reports
        .iter()
        .flat_map(|report| report.accounts.iter().map(move |account| (report, account)))
        .map(|(report, account)| {
            let mut cells = vec![
                report.name.clone(),
                report.region.name().to_owned(),
                account.watchlist.clone(),
                account.user_id.clone(),
                account.status.as_str().to_owned(),
                account.expected.as_str().to_owned(),
            ];
            if with_presence {
                cells.push(account.presence.as_ref().map_or_else(
                    || "-".to_owned(),
                    |p| format!("{} ({})", p.status.as_str(), p.expected),
                ));
            }
            cells.push(note(account));
            (rank(account), cells)
        })
        .collect();
    rows.sort_by_key(|(rank, _)| *rank);
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for (_, row) in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &[&str]| {
        let mut line = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(&header);
    for (_, row) in &rows {
        push_row(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let summary = Summary::of(reports);
    out.push_str(&format!(
        "\n{} accounts: {} drift, {} unknown",
        summary.accounts, summary.drift, summary.unknown
    ));
    if with_presence {
        out.push_str(&format!(
            "; presence: {} drift, {} unknown",
            summary.presence_drift, summary.presence_unknown
        ));
    }
    if shard.is_sharded() {
        out.push_str(&format!(" ({shard}: only its own accounts)"));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::config::{self, Sources};
    use crate::report;
    use crate::state::{AppState, Cycle};
    use crate::tim::{AccountStatus, Platform, Presence, PresenceStatus, Unknown};

    fn timed_out() -> Unknown {
        Unknown {
            code: "timeout".into(),
            message: "timed out (after 3 attempts)".into(),
            in_reply: false,
        }
    }

    /// The report of app prod-sg with these watch lists (YAML) after one cycle with these
    /// results; every UserID must have one.
    fn report(
        lists: &str,
        import: &[(&str, Result<AccountStatus, Unknown>)],
        presence: &[(&str, Result<Presence, Unknown>)],
    ) -> AppReport {
        let text = format!(
            "apps:\n  - name: prod-sg\n    sdkappid: 1400000000\n    region: singapore\n    admin: a\n    secret_key: k\n    watchlists:\n{lists}"
        );
        let no_env = |_: &str| None;
        let app = config::from_yaml(
            &text,
            &Sources {
                base_dir: PathBuf::from("."),
                env: &no_env,
            },
        )
        .expect("valid")
        .config
        .apps
        .remove(0);
        fn results<T: Clone>(
            given: &[(&str, Result<T, Unknown>)],
        ) -> HashMap<String, Result<T, Unknown>> {
            given
                .iter()
                .map(|(id, r)| ((*id).to_owned(), r.clone()))
                .collect()
        }
        let state = AppState::new(Arc::clone(&app));
        state.record_cycle(&Cycle {
            checked_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            duration: Duration::from_millis(250),
            import: results(import),
            presence: results(presence),
            attempts: Vec::new(),
            usersig_expiry: UNIX_EPOCH,
        });
        let data = state.lock();
        report::build(&data)
    }

    const VIP: &str = "      - name: vip\n        user_ids: [fine, lost, gone]\n";

    fn vip() -> AppReport {
        report(
            VIP,
            &[
                ("fine", Ok(AccountStatus::Imported)),
                ("lost", Err(timed_out())),
                ("gone", Ok(AccountStatus::NotImported)),
            ],
            &[],
        )
    }

    const BOTS: &str = "      - name: bots\n        presence: online\n        user_ids: [up, away, down, mute]\n      - name: ops\n        user_ids: [up]\n";

    fn bots() -> AppReport {
        let on = |status| {
            Ok(Presence {
                status,
                platforms: vec![Platform {
                    platform: "Android".into(),
                    status: "online".into(),
                }],
            })
        };
        report(
            BOTS,
            &[
                ("up", Ok(AccountStatus::Imported)),
                ("away", Ok(AccountStatus::Imported)),
                ("down", Ok(AccountStatus::Imported)),
                ("mute", Ok(AccountStatus::Imported)),
            ],
            &[
                ("up", on(PresenceStatus::Online)),
                ("away", on(PresenceStatus::PushOnline)),
                (
                    "down",
                    Ok(Presence {
                        status: PresenceStatus::Offline,
                        platforms: Vec::new(),
                    }),
                ),
                ("mute", Err(timed_out())),
            ],
        )
    }

    #[test]
    fn exit_codes() {
        let s = |drift, unknown, presence_drift, presence_unknown| Summary {
            accounts: 5,
            drift,
            unknown,
            presence_drift,
            presence_unknown,
        };
        assert_eq!(exit_code(s(0, 0, 0, 0)), EXIT_OK);
        assert_eq!(exit_code(s(1, 0, 0, 0)), EXIT_DRIFT);
        assert_eq!(exit_code(s(1, 2, 0, 0)), EXIT_DRIFT);
        assert_eq!(exit_code(s(0, 2, 0, 0)), EXIT_UNKNOWN);
        assert_eq!(exit_code(s(0, 0, 1, 0)), EXIT_DRIFT);
        assert_eq!(exit_code(s(0, 0, 0, 1)), EXIT_UNKNOWN);
        assert_eq!(exit_code(s(0, 1, 1, 0)), EXIT_DRIFT);
    }

    #[test]
    fn table_puts_drift_then_unknown_first() {
        let table = render_table(&[vip()], Shard::NONE);
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
    fn the_table_gains_a_presence_column_with_presence_drift_first() {
        let table = render_table(&[bots()], Shard::NONE);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].contains("EXPECTED  PRESENCE") && lines[0].ends_with("NOTE"),
            "{table}"
        );
        let user = |line: &str| {
            line.split_whitespace()
                .nth(3)
                .unwrap_or_default()
                .to_owned()
        };
        let order: Vec<String> = lines[1..6].iter().map(|l| user(l)).collect();
        assert_eq!(order, ["away", "down", "mute", "up", "up"], "{table}");
        assert!(lines[1].contains("push_online (online)"), "{table}");
        assert!(
            lines[1].ends_with("PRESENCE DRIFT: expected online"),
            "{table}"
        );
        assert!(
            lines[3].ends_with("presence: timed out (after 3 attempts)"),
            "{table}"
        );
        assert!(
            lines[5].contains(" ops ") && lines[5].ends_with("  -"),
            "{table}"
        );
        assert_eq!(
            lines[7],
            "5 accounts: 0 drift, 0 unknown; presence: 2 drift, 1 unknown"
        );
    }

    #[test]
    fn json_has_the_documented_shape() {
        let value: serde_json::Value =
            serde_json::from_str(&render_json(&[vip()], Shard::NONE)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "shard": {"ordinal": 0, "total": 1},
                "apps": [{
                    "name": "prod-sg", "region": "singapore", "sdkappid": 1_400_000_000u64,
                    "checked_at": "2023-11-14T22:13:20.000Z", "duration_seconds": 0.25, "calls": 0,
                    "accounts": [
                        {"watchlist": "vip", "user_id": "fine", "status": "imported",
                         "expected": "imported", "drift": false, "error": null, "since": null,
                         "presence": null},
                        {"watchlist": "vip", "user_id": "lost", "status": "unknown",
                         "expected": "imported", "drift": false,
                         "error": "timed out (after 3 attempts)", "since": null, "presence": null},
                        {"watchlist": "vip", "user_id": "gone", "status": "not_imported",
                         "expected": "imported", "drift": true, "error": null, "since": null,
                         "presence": null}
                    ]
                }],
                "summary": {"accounts": 3, "drift": 1, "unknown": 1,
                            "presence_drift": 0, "presence_unknown": 0}
            })
        );
    }

    #[test]
    fn json_presence_objects() {
        let value: serde_json::Value =
            serde_json::from_str(&render_json(&[bots()], Shard::NONE)).unwrap();
        let accounts = &value["apps"][0]["accounts"];
        assert_eq!(
            accounts[0]["presence"],
            serde_json::json!({"status": "online", "expected": "online", "drift": false,
                "error": null, "since": null,
                "platforms": [{"platform": "Android", "status": "online"}]})
        );
        assert_eq!(accounts[1]["presence"]["status"], "push_online");
        assert_eq!(accounts[1]["presence"]["drift"], true);
        assert_eq!(
            accounts[2]["presence"],
            serde_json::json!({"status": "offline", "expected": "online", "drift": true,
                "error": null, "since": null, "platforms": []})
        );
        assert_eq!(accounts[3]["presence"]["status"], "unknown");
        assert_eq!(
            accounts[3]["presence"]["drift"], false,
            "unknown is never drift"
        );
        assert_eq!(
            accounts[3]["presence"]["error"],
            "timed out (after 3 attempts)"
        );
        assert_eq!(accounts[4]["watchlist"], "ops");
        assert_eq!(accounts[4]["presence"], serde_json::Value::Null);
        assert_eq!(
            value["summary"],
            serde_json::json!({"accounts": 5, "drift": 0, "unknown": 0,
                "presence_drift": 2, "presence_unknown": 1})
        );
    }
}
