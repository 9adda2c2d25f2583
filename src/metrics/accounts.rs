//! The per-account families, `tim_account_status` and `tim_account_drift`, and for watch
//! lists that check presence `tim_account_presence` and `tim_account_presence_drift`:
//! with thousands of accounts they are nearly all of the exposition.
//!
//! A watch list's `account_series` decides which of its accounts are written: all, only
//! those in drift or unknown (either check), or none. An account left out is simply not
//! in the scrape, so Prometheus marks its series stale. Under `problems` an account no
//! check has reported on yet is left out too: until the first cycle ends every account is
//! unknown, and serving them all would be the very flood of series `problems` is for (4
//! million at a million accounts).

use super::text::{escape, labels, Family, Kind, Text};
use crate::config::{AccountSeries, WatchList};
use crate::state::{AppData, PresenceValue, Status};

/// The series one account of `list` has when it is served: one per status and the drift,
/// and where the list checks presence one per presence and the presence drift.
pub(super) fn series_per_account(list: &WatchList) -> usize {
    let presence = if list.presence.is_some() {
        PresenceValue::ALL.len() + 1
    } else {
        0
    };
    Status::ALL.len() + 1 + presence
}

/// One check of an account as `served` reads it: its value (with whether it drifts from
/// the list's expectation) and whether a check has reported on it yet.
#[derive(Debug, Clone, Copy)]
struct Checked<V> {
    value: V,
    drift: bool,
    checked: bool,
}

/// Whether an account of a list with `mode` is served, given its import status and its
/// presence where the list checks it.
fn served(
    mode: AccountSeries,
    status: Checked<Status>,
    presence: Option<Checked<PresenceValue>>,
) -> bool {
    match mode {
        AccountSeries::All => true,
        AccountSeries::None => false,
        AccountSeries::Problems => {
            status.drift
                || (status.value == Status::Unknown && status.checked)
                || presence
                    .is_some_and(|p| p.drift || (p.value == PresenceValue::Unknown && p.checked))
        }
    }
}

static STATUS: Family = Family {
    name: "tim_account_status",
    kind: Kind::Gauge,
    help: "Status of the account in the latest background check of its app (run every interval): one series per status, exactly one is 1; unknown until checked and whenever the latest check gave no status.",
};
static DRIFT: Family = Family {
    name: "tim_account_drift",
    kind: Kind::Gauge,
    help: "1 when the account's status from the latest background check (run every interval) differs from its watch list's expect, else 0 (0 while unknown).",
};
static PRESENCE: Family = Family {
    name: "tim_account_presence",
    kind: Kind::Gauge,
    help: "Presence of the account (query_online_status) in the latest background check of its app (run every interval), for watch lists that check presence: one series per presence, exactly one is 1; unknown until checked and whenever the latest check gave no presence.",
};
static PRESENCE_DRIFT: Family = Family {
    name: "tim_account_presence_drift",
    kind: Kind::Gauge,
    help: "1 when the account's presence from the latest background check (run every interval) falls short of its watch list's presence (online: online; reachable: online or push_online), else 0 (0 while unknown).",
};

/// One served account of one watch list: its values, its labels being in [`Rows::labels`].
struct Row {
    /// Where its labels end in [`Rows::labels`]; they start where the previous row's end.
    labels_end: usize,
    status: Status,
    drift: bool,
    /// The presence and whether it drifts, where the list checks presence.
    presence: Option<(PresenceValue, bool)>,
}

/// The served accounts of every watch list, lists in configuration order, accounts in
/// list order. The labels of all of them are in one string: a few large allocations
/// rather than one per account, which the allocator would keep after a rendering.
struct Rows {
    /// `im_app`, `im_region`, `watchlist` and `user_id` of each row, escaped.
    labels: String,
    rows: Vec<Row>,
}

impl Rows {
    fn of(apps: &[&AppData]) -> Rows {
        let mut rows = Rows {
            labels: String::new(),
            rows: Vec::new(),
        };
        for data in apps {
            let config = &data.config;
            let app = labels(&[
                ("im_app", &config.name),
                ("im_region", config.region.name()),
            ]);
            for list in &config.watchlists {
                if list.account_series == AccountSeries::None {
                    continue;
                }
                let list_labels = format!("{app},{}", labels(&[("watchlist", &list.name)]));
                for id in &list.user_ids {
                    let account = data.accounts.get(id);
                    let status = account.map_or(Status::Unknown, |a| a.status());
                    let drift = status.drifts_from(list.expect);
                    let presence = list.presence.map(|expected| {
                        let observed = account.and_then(|a| a.presence.as_deref());
                        let value = account
                            .and_then(|a| a.presence())
                            .unwrap_or(PresenceValue::Unknown);
                        Checked {
                            value,
                            drift: value.drifts_from(expected),
                            checked: observed.is_some_and(|p| p.checked()),
                        }
                    });
                    let import = Checked {
                        value: status,
                        drift,
                        checked: account.is_some_and(|a| a.import.checked()),
                    };
                    if !served(list.account_series, import, presence) {
                        continue;
                    }
                    rows.labels.push_str(&list_labels);
                    rows.labels.push_str(",user_id=\"");
                    rows.labels.push_str(&escape(id));
                    rows.labels.push('"');
                    rows.rows.push(Row {
                        labels_end: rows.labels.len(),
                        status,
                        drift,
                        presence: presence.map(|p| (p.value, p.drift)),
                    });
                }
            }
        }
        rows
    }

    /// Each row with its labels.
    fn iter(&self) -> impl Iterator<Item = (&str, &Row)> {
        let mut start = 0;
        self.rows.iter().map(move |row| {
            let labels = &self.labels[start..row.labels_end];
            start = row.labels_end;
            (labels, row)
        })
    }
}

/// Writes the per-account families of `apps`, each account as its list's
/// `account_series` says.
pub(super) fn write(text: &mut Text, apps: &[&AppData]) {
    let rows = Rows::of(apps);
    text.family(&STATUS);
    for (labels, row) in rows.iter() {
        for status in Status::ALL {
            let value = u8::from(status == row.status);
            text.sample("", labels, Some(("status", status.as_str())), value);
        }
    }
    text.family(&DRIFT);
    for (labels, row) in rows.iter() {
        text.sample("", labels, None, u8::from(row.drift));
    }
    text.family(&PRESENCE);
    for (labels, row) in rows.iter() {
        let Some((presence, _)) = row.presence else {
            continue;
        };
        for value in PresenceValue::ALL {
            let one = u8::from(value == presence);
            text.sample("", labels, Some(("presence", value.as_str())), one);
        }
    }
    text.family(&PRESENCE_DRIFT);
    for (labels, row) in rows.iter() {
        if let Some((_, drift)) = row.presence {
            text.sample("", labels, None, u8::from(drift));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{served, Checked};
    use crate::config::{AccountSeries, PresenceExpect};
    use crate::state::{PresenceValue, Status};

    fn status(value: Status, checked: bool) -> Checked<Status> {
        Checked {
            value,
            drift: value.drifts_from(crate::config::Expect::Imported),
            checked,
        }
    }

    fn presence(value: PresenceValue, checked: bool) -> Option<Checked<PresenceValue>> {
        Some(Checked {
            value,
            drift: value.drifts_from(PresenceExpect::Online),
            checked,
        })
    }

    #[test]
    fn problems_serves_accounts_in_drift_or_unknown_in_either_check() {
        use AccountSeries::{All, Problems};
        use PresenceValue::{Offline, Online, PushOnline};
        let imported = status(Status::Imported, true);
        let unknown = PresenceValue::Unknown;
        // (import status, presence, served under problems)
        let cases = [
            (imported, None, false),
            (imported, presence(Online, true), false),
            (status(Status::NotImported, true), None, true),
            (status(Status::Unknown, true), None, true),
            (imported, presence(Offline, true), true),
            (imported, presence(PushOnline, true), true),
            (imported, presence(unknown, true), true),
            (status(Status::Unknown, true), presence(Online, true), true),
            // No check has reported yet: unknown, but not a problem found.
            (status(Status::Unknown, false), None, false),
            (
                status(Status::Unknown, false),
                presence(unknown, false),
                false,
            ),
            (imported, presence(unknown, false), false),
            (
                status(Status::Unknown, false),
                presence(Offline, true),
                true,
            ),
        ];
        for (status, presence, problem) in cases {
            let case = format!("{status:?} {presence:?}");
            assert!(served(All, status, presence), "{case}");
            assert!(!served(AccountSeries::None, status, presence), "{case}");
            assert_eq!(served(Problems, status, presence), problem, "{case}");
        }
    }
}
