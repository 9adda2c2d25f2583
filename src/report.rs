//! What is known about each app, as one document: the `--once` output and
//! `/api/v1/status` print it, the status page shows it.
//!
//! [`build`] is the one function that makes it, from an app's state, for the one-shot run
//! and the daemon alike. It copies what it shows, so the app's lock is held only while it
//! runs and the printing happens after.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{Expect, PresenceExpect};
use crate::state::{AppData, ListCounts, PresenceValue, Status};
use crate::tim::{Platform, Region, Unknown};

/// One app.
#[derive(Debug, Clone)]
pub struct AppReport {
    pub name: String,
    pub region: Region,
    pub sdkappid: u64,
    /// When the latest cycle started; `None` before the first.
    pub checked_at: Option<SystemTime>,
    pub duration: Duration,
    /// HTTP calls of the latest cycle, retries included.
    pub calls: usize,
    /// Whether the latest cycle got every result; `false` before the first.
    pub success: bool,
    /// Watch lists in configuration order, with their counts.
    pub lists: Vec<ListReport>,
    /// One row per account of each watch list, lists in configuration order, accounts in
    /// list order (only some of them, as [`Rows`] says).
    pub accounts: Vec<AccountReport>,
    /// Rows that need attention left out by [`Rows::Attention`]'s limit.
    pub omitted: usize,
}

/// One watch list and its counts.
#[derive(Debug, Clone)]
pub struct ListReport {
    pub name: String,
    pub expect: Expect,
    pub presence: Option<PresenceExpect>,
    pub counts: ListCounts,
}

/// One account of one watch list.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountReport {
    pub watchlist: String,
    pub user_id: String,
    pub status: Status,
    pub expected: Expect,
    /// Why the status is unknown; `None` when it is known.
    pub error: Option<Arc<Unknown>>,
    /// When the known status last changed, where that was seen.
    pub since: Option<SystemTime>,
    /// While the status is unknown: since when, where a known status was lost.
    pub unknown_since: Option<SystemTime>,
    /// When the account was first checked; `None` before.
    pub first_checked: Option<SystemTime>,
    /// `None` when the watch list does not check presence (boxed: a report may hold a
    /// million rows).
    pub presence: Option<Box<PresenceReport>>,
}

/// The presence of one account of a watch list that checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceReport {
    pub status: PresenceValue,
    pub expected: PresenceExpect,
    pub error: Option<Arc<Unknown>>,
    /// When the known presence last changed, where that was seen.
    pub since: Option<SystemTime>,
    /// While the presence is unknown: since when, where a known presence was lost.
    pub unknown_since: Option<SystemTime>,
    /// When presence was first checked; `None` before.
    pub first_checked: Option<SystemTime>,
    pub platforms: Vec<Platform>,
}

impl PresenceReport {
    /// A known presence short of the expectation. Unknown is never drift.
    pub fn drift(&self) -> bool {
        self.status.drifts_from(self.expected)
    }
}

impl AccountReport {
    /// A known status that differs from the expectation. Unknown is never drift.
    pub fn drift(&self) -> bool {
        self.status.drifts_from(self.expected)
    }

    /// Whether the presence drifts.
    pub fn presence_drift(&self) -> bool {
        self.presence.as_deref().is_some_and(PresenceReport::drift)
    }

    /// Drift of either kind, or an unknown result of either check.
    pub fn needs_attention(&self) -> bool {
        needs_attention(
            self.status,
            self.expected,
            self.presence.as_ref().map(|p| (p.status, p.expected)),
        )
    }
}

/// The one rule of what needs attention: drift of either kind, or an unknown result of
/// either check.
fn needs_attention(
    status: Status,
    expected: Expect,
    presence: Option<(PresenceValue, PresenceExpect)>,
) -> bool {
    status.drifts_from(expected)
        || status == Status::Unknown
        || presence.is_some_and(|(value, expected)| {
            value == PresenceValue::Unknown || value.drifts_from(expected)
        })
}

/// Which accounts a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// Every account.
    All,
    /// Only those that need attention (what the status page lists), at most this many;
    /// the rest are counted in [`AppReport::omitted`]. A large state then costs in
    /// proportion to what is shown, even while every account is unknown before the first
    /// cycle.
    Attention(usize),
}

/// The report of one app, from its state, with every account.
pub fn build(data: &AppData) -> AppReport {
    build_rows(data, Rows::All)
}

/// The report of one app, from its state, with the accounts `rows` says.
pub fn build_rows(data: &AppData, rows: Rows) -> AppReport {
    let config = &data.config;
    let lists = config
        .watchlists
        .iter()
        .zip(&data.counts)
        .map(|(list, counts)| ListReport {
            name: list.name.clone(),
            expect: list.expect,
            presence: list.presence,
            counts: *counts,
        })
        .collect();
    let mut accounts = Vec::new();
    let mut omitted = 0;
    for list in &config.watchlists {
        for id in &list.user_ids {
            let Some(account) = data.accounts.get(id) else {
                continue;
            };
            if let Rows::Attention(limit) = rows {
                let status = account.status();
                if !needs_attention(status, list.expect, account.presence().zip(list.presence)) {
                    continue;
                }
                if accounts.len() == limit {
                    omitted += 1;
                    continue;
                }
            }
            let presence =
                list.presence
                    .zip(account.presence.as_ref())
                    .map(|(expected, presence)| PresenceReport {
                        status: PresenceValue::from(presence.value()),
                        expected,
                        error: presence.error().cloned(),
                        since: presence.since(),
                        unknown_since: presence.unknown_since(),
                        first_checked: presence.first_checked(),
                        platforms: account.platforms.to_vec(),
                    });
            accounts.push(AccountReport {
                watchlist: list.name.clone(),
                user_id: id.clone(),
                status: account.status(),
                expected: list.expect,
                error: account.import.error().cloned(),
                since: account.import.since(),
                unknown_since: account.import.unknown_since(),
                first_checked: account.import.first_checked(),
                presence: presence.map(Box::new),
            });
        }
    }
    let last = data.last_cycle.as_ref();
    AppReport {
        name: config.name.clone(),
        region: config.region,
        sdkappid: config.sdkappid,
        checked_at: last.map(|c| c.checked_at),
        duration: last.map_or(Duration::ZERO, |c| c.duration),
        calls: last.map_or(0, |c| c.calls),
        success: last.is_some_and(|c| c.success),
        lists,
        accounts,
        omitted,
    }
}

impl AppReport {
    /// Whether any watch list of the app checks presence.
    pub fn checks_presence(&self) -> bool {
        self.lists.iter().any(|list| list.presence.is_some())
    }
}

/// Counts over a set of reports, from their watch lists' counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Accounts of every watch list (an account on two lists counts twice).
    pub accounts: usize,
    /// Accounts whose import status drifts.
    pub drift: usize,
    /// Accounts whose import status is unknown.
    pub unknown: usize,
    /// Accounts whose presence drifts.
    pub presence_drift: usize,
    /// Accounts whose presence is checked and unknown.
    pub presence_unknown: usize,
}

impl Summary {
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a AppReport>) -> Self {
        let mut summary = Summary::default();
        for counts in reports
            .into_iter()
            .flat_map(|r| &r.lists)
            .map(|l| &l.counts)
        {
            summary.add(counts);
        }
        summary
    }

    /// Adds one watch list's counts.
    pub fn add(&mut self, counts: &ListCounts) {
        self.accounts += counts.accounts();
        self.drift += counts.drift;
        self.unknown += counts.unknown;
        if let Some(presence) = &counts.presence {
            self.presence_drift += presence.drift;
            self.presence_unknown += presence.unknown;
        }
    }
}

/// The report of every app of the daemon's state, in configuration order, with the
/// accounts `rows` says. Each app is read under its lock, one at a time.
pub fn all(state: &crate::state::State, rows: Rows) -> Vec<AppReport> {
    state
        .apps()
        .iter()
        .map(|app| build_rows(&app.lock(), rows))
        .collect()
}
