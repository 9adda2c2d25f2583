//! The status page for people: plain server-rendered HTML, a little inline CSS, no
//! scripts and no external assets. Shows no secret: the reports carry none.

use std::borrow::Cow;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use crate::metrics::{REVISION, VERSION};
use crate::report::{AccountReport, AppReport, PresenceReport, Summary};
use crate::shard::Shard;
use crate::state::{PresenceValue, Status};

/// The most accounts listed under "needs attention"; the rest are counted.
pub(super) const MAX_ATTENTION_ROWS: usize = 1000;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left}\
th{background:#f3f3f3}.drift{color:#b00020;font-weight:bold}.unknown{color:#a05a00}\
.ok{color:#1b5e20}code{font-size:0.95em}";

/// Text escaped for HTML.
fn html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn cell(value: &str, drift: bool, unknown: bool) -> String {
    let class = match (drift, unknown) {
        (true, _) => "drift",
        (_, true) => "unknown",
        _ => "ok",
    };
    format!("<td class=\"{class}\">{value}</td>")
}

/// How long a state has lasted: from when it began where that was seen, else at least
/// since the account was first checked.
fn since_text(
    since: Option<SystemTime>,
    first_checked: Option<SystemTime>,
    now: SystemTime,
) -> String {
    let age = |at: SystemTime| {
        let seconds = now.duration_since(at).unwrap_or_default().as_secs();
        humantime::format_duration(Duration::from_secs(seconds)).to_string()
    };
    match (since, first_checked) {
        (Some(at), _) => format!(
            "{} ({} ago)",
            humantime::format_rfc3339_seconds(at),
            age(at)
        ),
        (None, Some(at)) => format!(
            "at least {} (since the first check, {})",
            age(at),
            humantime::format_rfc3339_seconds(at)
        ),
        (None, None) => "not checked yet".to_owned(),
    }
}

/// The whole page. Writing to a `String` cannot fail, so results of `write!` are ignored.
pub(super) fn render(reports: &[AppReport], ready: bool, shard: Shard) -> String {
    let summary = Summary::of(reports);
    let mut page = String::with_capacity(8 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>tim-account-exporter</title><style>{STYLE}</style></head><body>\n\
         <h1>tim-account-exporter</h1>\n<p>Version {VERSION} (revision {}). {}</p>\n\
         <p>Accounts: {}, in drift: <span class=\"{}\">{}</span>, unknown: <span class=\"{}\">{}</span>.</p>\n",
        html(REVISION),
        if ready {
            "Every app has finished its first check cycle."
        } else {
            "Waiting for the first check cycle of every app."
        },
        summary.accounts,
        if summary.drift > 0 { "drift" } else { "ok" },
        summary.drift,
        if summary.unknown > 0 { "unknown" } else { "ok" },
        summary.unknown,
    );
    if shard.is_sharded() {
        let _ = writeln!(
            page,
            "<p>Shard {} of {} (numbered from 0): this page shows only the accounts of this shard; the other shards show the rest.</p>",
            shard.ordinal(),
            shard.total()
        );
    }
    if reports.iter().any(AppReport::checks_presence) {
        let _ = writeln!(
            page,
            "<p>Presence: in drift: <span class=\"{}\">{}</span>, unknown: <span class=\"{}\">{}</span>.</p>",
            if summary.presence_drift > 0 { "drift" } else { "ok" },
            summary.presence_drift,
            if summary.presence_unknown > 0 { "unknown" } else { "ok" },
            summary.presence_unknown,
        );
    }
    apps_table(&mut page, reports);
    for report in reports {
        watchlists_table(&mut page, report);
    }
    attention_table(&mut page, reports);
    page.push_str(
        "<h2>Endpoints</h2>\n<ul><li><a href=\"metrics\">/metrics</a>: Prometheus metrics</li>\
         <li><a href=\"api/v1/status\">/api/v1/status</a>: every account as JSON</li>\
         <li><a href=\"-/healthy\">/-/healthy</a></li><li><a href=\"-/ready\">/-/ready</a></li>\
         <li><code>POST /-/reload</code>: reload the configuration</li></ul>\n</body></html>\n",
    );
    page
}

fn apps_table(page: &mut String, reports: &[AppReport]) {
    page.push_str(
        "<h2>Apps</h2>\n<table><tr><th>App</th><th>Region</th><th>SDKAppID</th>\
         <th>Last cycle</th><th>Duration</th><th>Calls</th><th>Success</th></tr>\n",
    );
    for report in reports {
        let (at, duration, calls, success) = match report.checked_at {
            Some(at) => (
                humantime::format_rfc3339_seconds(at).to_string(),
                format!("{:.3}s", report.duration.as_secs_f64()),
                report.calls.to_string(),
                if report.success {
                    "<td class=\"ok\">yes</td>"
                } else {
                    "<td class=\"unknown\">no</td>"
                },
            ),
            None => (
                "not yet".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
                "<td class=\"unknown\">-</td>",
            ),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{at}</td><td>{duration}</td><td>{calls}</td>{success}</tr>",
            html(&report.name),
            report.region.name(),
            report.sdkappid,
        );
    }
    page.push_str("</table>\n");
}

fn watchlists_table(page: &mut String, report: &AppReport) {
    let presence = report.checks_presence();
    let _ = write!(
        page,
        "<h3>Watch lists of {}</h3>\n<table><tr><th>Watch list</th><th>Expect</th>\
         <th>Imported</th><th>Not imported</th><th>Unknown</th><th>Drift</th>",
        html(&report.name)
    );
    if presence {
        page.push_str(
            "<th>Presence</th><th>Online</th><th>Push online</th><th>Offline</th>\
             <th>Presence unknown</th><th>Presence drift</th>",
        );
    }
    page.push_str("</tr>\n");
    let class = |count: usize, bad: &'static str| if count > 0 { bad } else { "ok" };
    for list in &report.lists {
        let counts = &list.counts;
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td>",
            html(&list.name),
            list.expect.as_str(),
            counts.imported,
            counts.not_imported,
            counts.unknown,
            class(counts.drift, "drift"),
            counts.drift,
        );
        match (&list.presence, &counts.presence) {
            (Some(expected), Some(p)) => {
                let _ = write!(
                    page,
                    "<td>{expected}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td>",
                    p.online,
                    p.push_online,
                    p.offline,
                    class(p.unknown, "unknown"),
                    p.unknown,
                    class(p.drift, "drift"),
                    p.drift,
                );
            }
            _ if presence => {
                page.push_str("<td>not checked</td><td></td><td></td><td></td><td></td><td></td>")
            }
            _ => {}
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
}

/// A presence as shown: the value, the expectation, and the platforms the service named.
fn presence_text(presence: &PresenceReport) -> String {
    let mut text = format!(
        "{} (expected {})",
        presence.status.as_str(),
        presence.expected
    );
    if !presence.platforms.is_empty() {
        let platforms: Vec<String> = presence
            .platforms
            .iter()
            .map(|p| format!("{}: {}", p.platform, p.status))
            .collect();
        text.push_str(&format!("; {}", platforms.join(", ")));
    }
    text
}

/// The reason a row needs attention: drift of each kind, else why a result is unknown.
fn reasons(account: &AccountReport) -> String {
    let mut reasons = Vec::new();
    match (&account.error, account.drift()) {
        (_, true) => reasons.push(format!("expected {}", account.expected.as_str())),
        (Some(error), _) => reasons.push(format!("{}: {}", error.code, error.message)),
        (None, false) => {}
    }
    if let Some(presence) = &account.presence {
        match (&presence.error, presence.drift()) {
            (_, true) => reasons.push(format!("presence expected {}", presence.expected)),
            (Some(error), _) => reasons.push(format!("presence {}: {}", error.code, error.message)),
            (None, false) => {}
        }
    }
    reasons.join("; ")
}

fn attention_table(page: &mut String, reports: &[AppReport]) {
    let now = SystemTime::now();
    let accounts = reports.iter().flat_map(|report| {
        report
            .accounts
            .iter()
            .filter(|a| a.needs_attention())
            .map(move |a| (report, a))
    });
    let with_presence = reports.iter().any(AppReport::checks_presence);
    let _ = writeln!(
        page,
        "<h2>Needs attention</h2>\n<table><tr><th>App</th><th>Watch list</th><th>UserID</th>\
         <th>Status</th><th>Expected</th>{}<th>Since</th><th>Reason</th></tr>",
        if with_presence {
            "<th>Presence</th>"
        } else {
            ""
        }
    );
    let mut total = 0;
    for (report, account) in accounts {
        total += 1;
        if total > MAX_ATTENTION_ROWS {
            continue;
        }
        // The row's state is its drift or unknown result; its age is that result's.
        let import_attention = account.drift() || account.status == Status::Unknown;
        let presence_cell = match &account.presence {
            _ if !with_presence => String::new(),
            None => "<td>-</td>".to_owned(),
            Some(p) => cell(
                &html(&presence_text(p)),
                p.drift(),
                p.status == PresenceValue::Unknown,
            ),
        };
        // The age of the state the row is about: an unknown result's since it was lost,
        // a known one's since it last changed.
        let (since, first_checked) = match &account.presence {
            Some(p) if !import_attention => (
                if p.status == PresenceValue::Unknown {
                    p.unknown_since
                } else {
                    p.since
                },
                p.first_checked,
            ),
            _ => (
                if account.status == Status::Unknown {
                    account.unknown_since
                } else {
                    account.since
                },
                account.first_checked,
            ),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td>{presence_cell}<td>{}</td><td>{}</td></tr>",
            html(&report.name),
            html(&account.watchlist),
            html(&account.user_id),
            cell(
                account.status.as_str(),
                account.drift(),
                account.status == Status::Unknown
            ),
            account.expected.as_str(),
            since_text(since, first_checked, now),
            html(&reasons(account)),
        );
    }
    page.push_str("</table>\n");
    total += reports.iter().map(|report| report.omitted).sum::<usize>();
    if total == 0 {
        page.push_str("<p class=\"ok\">Every account is as expected.</p>\n");
    } else if total > MAX_ATTENTION_ROWS {
        let _ = writeln!(
            page,
            "<p>{} more not shown; see <a href=\"api/v1/status\">/api/v1/status</a>.</p>",
            total - MAX_ATTENTION_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::html;

    #[test]
    fn text_is_escaped() {
        assert_eq!(html("ops_bot"), "ops_bot");
        assert_eq!(
            html("<script>\"a\" & 'b'"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;"
        );
    }
}
