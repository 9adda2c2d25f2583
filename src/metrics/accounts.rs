//! The per-account families, `tim_account_status` and `tim_account_drift`, and for watch
//! lists that check presence `tim_account_presence` and `tim_account_presence_drift`,
//! written straight to text: with thousands of accounts they are nearly all of a scrape,
//! and building a protobuf-shaped object per series would cost more than the rest together.

use std::borrow::Cow;
use std::fmt::Write;

use crate::state::{AppData, PresenceValue, Status};

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
    /// Adds the series of every account of every watch list of one app.
    pub(super) fn add(&mut self, data: &AppData) {
        let config = &data.config;
        let app = format!(
            "im_app=\"{}\",im_region=\"{}\"",
            escape(&config.name),
            config.region.name()
        );
        let mut labels = String::new();
        for list in &config.watchlists {
            let list_name = escape(&list.name);
            for id in &list.user_ids {
                let account = data.accounts.get(id);
                let status = account.map_or(Status::Unknown, |a| a.status());
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
                let drift = u8::from(status.drifts_from(list.expect));
                let _ = writeln!(self.drift, "tim_account_drift{{{labels}}} {drift}");
                let Some(expected) = list.presence else {
                    continue;
                };
                let presence = account
                    .and_then(|a| a.presence())
                    .unwrap_or(PresenceValue::Unknown);
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
    use super::escape;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain_id-1@x"), "plain_id-1@x");
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("a\nb"), "a\\nb");
    }
}
