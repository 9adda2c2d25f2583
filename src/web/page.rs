//! The status page for people: plain server-rendered HTML, a little inline CSS, no
//! scripts and no external assets. Shows no secret: the reports carry none.

use std::borrow::Cow;
use std::fmt::Write;

use crate::metrics::{REVISION, VERSION};
use crate::report::{AppReport, Status, Summary};

/// The most accounts listed under "needs attention"; the rest are counted.
const MAX_ATTENTION_ROWS: usize = 1000;

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

fn status_cell(status: Status, drift: bool) -> String {
    let class = match (status, drift) {
        (_, true) => "drift",
        (Status::Unknown, _) => "unknown",
        _ => "ok",
    };
    format!("<td class=\"{class}\">{}</td>", status.as_str())
}

/// The whole page. Writing to a `String` cannot fail, so results of `write!` are ignored.
pub(super) fn render(reports: &[AppReport], ready: bool) -> String {
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
                report.calls().to_string(),
                if report.success() {
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
    let _ = writeln!(
        page,
        "<h3>Watch lists of {}</h3>\n<table><tr><th>Watch list</th><th>Expect</th>\
         <th>Imported</th><th>Not imported</th><th>Unknown</th><th>Drift</th></tr>",
        html(&report.name)
    );
    let mut start = 0;
    while start < report.accounts.len() {
        let name = &report.accounts[start].watchlist;
        let end = report.accounts[start..]
            .iter()
            .position(|a| &a.watchlist != name)
            .map_or(report.accounts.len(), |n| start + n);
        let list = &report.accounts[start..end];
        let count = |status| list.iter().filter(|a| a.status == status).count();
        let drift = list.iter().filter(|a| a.drift()).count();
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{drift}</td></tr>",
            html(name),
            list[0].expected.as_str(),
            count(Status::Imported),
            count(Status::NotImported),
            count(Status::Unknown),
            if drift > 0 { "drift" } else { "ok" },
        );
        start = end;
    }
    page.push_str("</table>\n");
}

fn attention_table(page: &mut String, reports: &[AppReport]) {
    let accounts = reports.iter().flat_map(|report| {
        report
            .accounts
            .iter()
            .filter(|a| a.drift() || a.status == Status::Unknown)
            .map(move |a| (report, a))
    });
    page.push_str(
        "<h2>Needs attention</h2>\n<table><tr><th>App</th><th>Watch list</th><th>UserID</th>\
         <th>Status</th><th>Expected</th><th>Reason</th></tr>\n",
    );
    let mut total = 0;
    for (report, account) in accounts {
        total += 1;
        if total > MAX_ATTENTION_ROWS {
            continue;
        }
        let reason = match (&account.error, account.drift()) {
            (Some(error), _) => format!("{}: {}", error.code, error.message),
            (None, true) => format!("expected {}", account.expected.as_str()),
            (None, false) => String::new(),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
            html(&report.name),
            html(&account.watchlist),
            html(&account.user_id),
            status_cell(account.status, account.drift()),
            account.expected.as_str(),
            html(&reason),
        );
    }
    page.push_str("</table>\n");
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
