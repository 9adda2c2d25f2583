//! The per-account families, `tim_account_status` and `tim_account_drift`, and for watch
//! lists that check presence `tim_account_presence` and `tim_account_presence_drift`,
//! written straight to text: with thousands of accounts they are nearly all of a scrape,
//! and building a protobuf-shaped object per series would cost more than the rest together.
//!
//! A watch list's `account_series` decides which of its accounts are written: all, only
//! those in drift or unknown (either check), or none. An account left out is simply not
//! in the scrape, so Prometheus marks its series stale.

use std::borrow::Cow;
use std::fmt::Write;

use crate::config::{AccountSeries, PresenceExpect, WatchList};
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

/// Whether an account of a list with `mode` is served, given its import status (already
/// compared with the list's expect) and its presence where the list checks it.
fn served(
    mode: AccountSeries,
    status: Status,
    status_drift: bool,
    presence: Option<(PresenceValue, PresenceExpect)>,
) -> bool {
    match mode {
        AccountSeries::All => true,
        AccountSeries::None => false,
        AccountSeries::Problems => {
            status == Status::Unknown
                || status_drift
                || presence.is_some_and(|(value, expected)| {
                    value == PresenceValue::Unknown || value.drifts_from(expected)
                })
        }
    }
}

const STATUS_HEADER: &str = "# HELP tim_account_status Status of the account in the latest background check of its app (run every interval): one series per status, exactly one is 1; unknown until checked and whenever the latest check gave no status.\n# TYPE tim_account_status gauge\n";
const DRIFT_HEADER: &str = "# HELP tim_account_drift 1 when the account's status from the latest background check (run every interval) differs from its watch list's expect, else 0 (0 while unknown).\n# TYPE tim_account_drift gauge\n";

const PRESENCE_HEADER: &str = "# HELP tim_account_presence Presence of the account (query_online_status) in the latest background check of its app (run every interval), for watch lists that check presence: one series per presence, exactly one is 1; unknown until checked and whenever the latest check gave no presence.\n# TYPE tim_account_presence gauge\n";
const PRESENCE_DRIFT_HEADER: &str = "# HELP tim_account_presence_drift 1 when the account's presence from the latest background check (run every interval) falls short of its watch list's presence (online: online; reachable: online or push_online), else 0 (0 while unknown).\n# TYPE tim_account_presence_drift gauge\n";

/// The four families being written over one scrape.
#[derive(Default)]
pub(super) struct Writer {
    status: String,
    drift: String,
    presence: String,
    presence_drift: String,
}

/// A label value escaped for the text format: backslash, double quote and line feed.
fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut escaped = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

impl Writer {
    /// Adds the series of the accounts of every watch list of one app that its
    /// `account_series` serves.
    pub(super) fn add(&mut self, data: &AppData) {
        let config = &data.config;
        let app = format!(
            "im_app=\"{}\",im_region=\"{}\"",
            escape(&config.name),
            config.region.name()
        );
        let mut labels = String::new();
        for list in &config.watchlists {
            if list.account_series == AccountSeries::None {
                continue;
            }
            let list_name = escape(&list.name);
            for id in &list.user_ids {
                let account = data.accounts.get(id);
                let status = account.map_or(Status::Unknown, |a| a.status());
                let drift = status.drifts_from(list.expect);
                let presence = list.presence.map(|expected| {
                    let value = account
                        .and_then(|a| a.presence())
                        .unwrap_or(PresenceValue::Unknown);
                    (value, expected)
                });
                if !served(list.account_series, status, drift, presence) {
                    continue;
                }
                labels.clear();
                let _ = write!(
                    labels,
                    "{app},watchlist=\"{list_name}\",user_id=\"{}\"",
                    escape(id)
                );
                for candidate in Status::ALL {
                    let value = u8::from(candidate == status);
                    // Writing to a String cannot fail.
                    let _ = writeln!(
                        self.status,
                        "tim_account_status{{{labels},status=\"{}\"}} {value}",
                        candidate.as_str()
                    );
                }
                let _ = writeln!(
                    self.drift,
                    "tim_account_drift{{{labels}}} {}",
                    u8::from(drift)
                );
                let Some((presence, expected)) = presence else {
                    continue;
                };
                for candidate in PresenceValue::ALL {
                    let value = u8::from(candidate == presence);
                    let _ = writeln!(
                        self.presence,
                        "tim_account_presence{{{labels},presence=\"{}\"}} {value}",
                        candidate.as_str()
                    );
                }
                let drift = u8::from(presence.drifts_from(expected));
                let _ = writeln!(
                    self.presence_drift,
                    "tim_account_presence_drift{{{labels}}} {drift}"
                );
            }
        }
    }

    /// The length of the text so far.
    pub(super) fn len(&self) -> usize {
        self.status.len() + self.drift.len() + self.presence.len() + self.presence_drift.len()
    }

    /// Appends the families with series, each with its HELP and TYPE, to `out`.
    pub(super) fn finish_into(self, out: &mut String) {
        for (header, body) in [
            (STATUS_HEADER, self.status),
            (DRIFT_HEADER, self.drift),
            (PRESENCE_HEADER, self.presence),
            (PRESENCE_DRIFT_HEADER, self.presence_drift),
        ] {
            if !body.is_empty() {
                out.push_str(header);
                out.push_str(&body);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{escape, served};
    use crate::config::{AccountSeries, PresenceExpect};
    use crate::state::{PresenceValue, Status};

    #[test]
    fn problems_serves_accounts_in_drift_or_unknown_in_either_check() {
        use AccountSeries::{All, Problems};
        let online = Some((PresenceValue::Online, PresenceExpect::Online));
        let offline = Some((PresenceValue::Offline, PresenceExpect::Online));
        let push = Some((PresenceValue::PushOnline, PresenceExpect::Reachable));
        let unknown = Some((PresenceValue::Unknown, PresenceExpect::Reachable));
        let imported = Status::Imported;
        // (status, status drift, presence, served under problems)
        let cases = [
            (imported, false, None, false),
            (imported, false, online, false),
            (imported, false, push, false),
            (Status::NotImported, true, None, true),
            (Status::Unknown, false, None, true),
            (imported, false, offline, true),
            (imported, false, unknown, true),
            (Status::Unknown, false, online, true),
        ];
        for (status, drift, presence, problem) in cases {
            let case = format!("{status:?} {drift} {presence:?}");
            assert!(served(All, status, drift, presence), "{case}");
            assert!(
                !served(AccountSeries::None, status, drift, presence),
                "{case}"
            );
            assert_eq!(served(Problems, status, drift, presence), problem, "{case}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain_id-1@x"), "plain_id-1@x");
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("a\nb"), "a\\nb");
    }
}
