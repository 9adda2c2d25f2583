//! What one check cycle of one app found: every account of every watch list, its status,
//! what was expected, and why a status is unknown.
//!
//! Plain data built from the client's outcome; the daemon's state, the metrics and the
//! `--once` output all read it.

use std::time::{Duration, SystemTime};

use crate::config::{AppConfig, Expect};
use crate::tim::{AccountStatus, Attempt, CheckOutcome, Region, Unknown};

/// The state of one account as last checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Imported,
    NotImported,
    /// Not checked yet, or the latest check gave no status.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Imported => "imported",
            Status::NotImported => "not_imported",
            Status::Unknown => "unknown",
        }
    }
}

impl Status {
    /// Whether this status differs from what the watch list expects. Unknown never does.
    pub fn drifts_from(self, expected: Expect) -> bool {
        match self {
            Status::Imported => expected != Expect::Imported,
            Status::NotImported => expected != Expect::NotImported,
            Status::Unknown => false,
        }
    }
}

impl From<AccountStatus> for Status {
    fn from(status: AccountStatus) -> Self {
        match status {
            AccountStatus::Imported => Status::Imported,
            AccountStatus::NotImported => Status::NotImported,
        }
    }
}

/// One account of one watch list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountReport {
    pub watchlist: String,
    pub user_id: String,
    pub status: Status,
    pub expected: Expect,
    /// Why the status is unknown; `None` when it is known.
    pub error: Option<Unknown>,
}

impl AccountReport {
    /// A known status that differs from the expectation. Unknown is never drift.
    pub fn drift(&self) -> bool {
        self.status.drifts_from(self.expected)
    }
}

/// One cycle of one app.
#[derive(Debug, Clone)]
pub struct AppReport {
    pub name: String,
    pub region: Region,
    pub sdkappid: u64,
    /// When the cycle started; `None` while the daemon has not finished one yet.
    pub checked_at: Option<SystemTime>,
    pub duration: Duration,
    /// Every HTTP attempt of the cycle, retries included.
    pub attempts: Vec<Attempt>,
    /// Watch lists in configuration order, accounts in list order.
    pub accounts: Vec<AccountReport>,
}

impl AppReport {
    /// Spreads the client's per-UserID results over the app's watch lists.
    pub fn new(
        app: &AppConfig,
        outcome: CheckOutcome,
        checked_at: SystemTime,
        duration: Duration,
    ) -> Self {
        let CheckOutcome {
            accounts: results,
            attempts,
        } = outcome;
        let accounts = app
            .watchlists
            .iter()
            .flat_map(|list| list.user_ids.iter().map(move |id| (list, id)))
            .map(|(list, id)| {
                let result = results.get(id).cloned().unwrap_or_else(|| {
                    Err(Unknown {
                        code: "missing".to_owned(),
                        message: "not checked".to_owned(),
                        in_reply: false,
                    })
                });
                let (status, error) = match result {
                    Ok(status) => (Status::from(status), None),
                    Err(unknown) => (Status::Unknown, Some(unknown)),
                };
                AccountReport {
                    watchlist: list.name.clone(),
                    user_id: id.clone(),
                    status,
                    expected: list.expect,
                    error,
                }
            })
            .collect();
        AppReport {
            name: app.name.clone(),
            region: app.region,
            sdkappid: app.sdkappid,
            checked_at: Some(checked_at),
            duration,
            attempts,
            accounts,
        }
    }

    /// HTTP calls made in the cycle, retries included.
    pub fn calls(&self) -> usize {
        self.attempts.len()
    }

    /// Whether every account got a status.
    pub fn success(&self) -> bool {
        self.accounts.iter().all(|a| a.status != Status::Unknown)
    }
}

/// Counts over a set of reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub accounts: usize,
    pub drift: usize,
    pub unknown: usize,
}

impl Summary {
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a AppReport>) -> Self {
        let mut summary = Summary::default();
        for account in reports.into_iter().flat_map(|r| &r.accounts) {
            summary.accounts += 1;
            summary.drift += usize::from(account.drift());
            summary.unknown += usize::from(account.status == Status::Unknown);
        }
        summary
    }
}
