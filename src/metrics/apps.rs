//! The per-app families: check results, watch-list counts (import and presence), API
//! statistics per API, and info. Each family is written whole, over every app in turn.

use super::text::{labels, Family, Float, Kind, Text};
use super::unix_seconds;
use crate::config::WatchList;
use crate::state::{AppData, Latency, PresenceValue, Status, API_LATENCY_BUCKETS};
use crate::tim::Api;

/// ErrorCodes that call for an operator (rate limits; refused credentials, a wrong app,
/// region or allow list). Their `tim_api_errors_total` series are served at 0 from the
/// start, so that `increase()` in an alert sees their first occurrence; other codes'
/// series appear when they first occur. The alerts in deploy/prometheus watch these.
pub const PRESET_ERROR_CODES: [&str; 22] = [
    "60006", "60007", "60010", "60011", "60016", "60017", "60018", "60019", "60020", "60021",
    "60025", "60026", "60028", "70003", "70009", "70013", "70014", "70016", "70020", "70050",
    "70051", "70403",
];

static APP_INFO: Family = Family {
    name: "tim_app_info",
    kind: Kind::Gauge,
    help: "Information about an IM app checked in the background every interval; always 1.",
};
static CHECK_SUCCESS: Family = Family {
    name: "tim_check_success",
    kind: Kind::Gauge,
    help: "1 when the app's latest background check cycle (run every interval) got a status (and, where a watch list asks, a presence) for every account, else 0.",
};
static CHECK_LAST_SUCCESS_TIMESTAMP_SECONDS: Family = Family {
    name: "tim_check_last_success_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Unix time at the end of the app's latest background check cycle with tim_check_success 1; 0 until there is one.",
};
static CHECK_DURATION_SECONDS: Family = Family {
    name: "tim_check_duration_seconds",
    kind: Kind::Gauge,
    help: "Wall time of the app's latest background check cycle (run every interval); 0 until there is one.",
};
static CHECK_CYCLES_TOTAL: Family = Family {
    name: "tim_check_cycles_total",
    kind: Kind::Counter,
    help: "Background check cycles run for the app (one every interval).",
};
static CHECK_CONSECUTIVE_FAILURES: Family = Family {
    name: "tim_check_consecutive_failures",
    kind: Kind::Gauge,
    help: "Background check cycles in a row, up to the latest, with tim_check_success 0; 0 after a fully successful one.",
};
static CHECK_INTERVAL_SECONDS: Family = Family {
    name: "tim_check_interval_seconds",
    kind: Kind::Gauge,
    help: "The configured interval between the app's background check cycles.",
};
static USERSIG_EXPIRY_TIMESTAMP_SECONDS: Family = Family {
    name: "tim_usersig_expiry_timestamp_seconds",
    kind: Kind::Gauge,
    help: "Unix time at which the admin UserSig used by the app's background checks (every interval) expires.",
};
static USERSIG_TTL_SECONDS: Family = Family {
    name: "tim_usersig_ttl_seconds",
    kind: Kind::Gauge,
    help: "The configured lifetime of the app's admin UserSig; it is renewed once 80% of it has passed.",
};
static WATCHLIST_ACCOUNTS: Family = Family {
    name: "tim_watchlist_accounts",
    kind: Kind::Gauge,
    help: "Accounts of the watch list in each status, from the latest background check of each account (every interval).",
};
static WATCHLIST_DRIFT_ACCOUNTS: Family = Family {
    name: "tim_watchlist_drift_accounts",
    kind: Kind::Gauge,
    help: "Accounts of the watch list whose status from the latest background check (every interval) differs from the list's expect.",
};
static WATCHLIST_PRESENCE_ACCOUNTS: Family = Family {
    name: "tim_watchlist_presence_accounts",
    kind: Kind::Gauge,
    help: "Accounts of a watch list that checks presence with each presence, from the latest background check of each account (every interval).",
};
static WATCHLIST_PRESENCE_DRIFT_ACCOUNTS: Family = Family {
    name: "tim_watchlist_presence_drift_accounts",
    kind: Kind::Gauge,
    help: "Accounts of a watch list that checks presence whose known presence from the latest background check (every interval) falls short of the list's presence.",
};
static API_REQUEST_DURATION_SECONDS: Family = Family {
    name: "tim_api_request_duration_seconds",
    kind: Kind::Histogram,
    help: "Duration of every HTTP attempt to the IM REST API made by the background checks (every interval), retries included.",
};
static API_REQUESTS_TOTAL: Family = Family {
    name: "tim_api_requests_total",
    kind: Kind::Counter,
    help: "HTTP attempts to the IM REST API made by the background checks (every interval), retries included.",
};
static API_ERRORS_TOTAL: Family = Family {
    name: "tim_api_errors_total",
    kind: Kind::Counter,
    help: "Failed HTTP attempts of the background checks (every interval) by code: the ErrorCode (60000-79999), other, timeout, connect, http_<status> or decode.",
};
static API_RETRIES_TOTAL: Family = Family {
    name: "tim_api_retries_total",
    kind: Kind::Counter,
    help:
        "HTTP attempts of the background checks (every interval) that repeated an earlier attempt.",
};
static EXPORTER_APP_LOOP_RESTARTS_TOTAL: Family = Family {
    name: "tim_exporter_app_loop_restarts_total",
    kind: Kind::Counter,
    help: "Times the app's background check loop failed (a bug: it is logged) and was restarted; its accounts are unknown until it has run again.",
};
static ACCOUNT_ERRORS_TOTAL: Family = Family {
    name: "tim_account_errors_total",
    kind: Kind::Counter,
    help: "Accounts left without an import status inside a successful account_check reply of the background checks (every interval), by code: the ResultCode (60000-79999, else other), missing or bad_status.",
};

/// The series of one watch list in the watch-list families: one per status and the drift
/// count, and where the list checks presence one per presence and the presence drift count.
pub(super) fn watchlist_series(list: &WatchList) -> usize {
    let presence = if list.presence.is_some() {
        PresenceValue::ALL.len() + 1
    } else {
        0
    };
    Status::ALL.len() + 1 + presence
}

/// One app and its labels, escaped once.
struct App<'a> {
    data: &'a AppData,
    /// `im_app` and `im_region`.
    labels: String,
}

/// A family with one series per app, labelled `im_app` and `im_region`, and its value
/// (none: the app has no series).
type PerApp = (&'static Family, fn(&AppData) -> Option<f64>);

/// The families with one series per app, in the order they are written.
const PER_APP: [PerApp; 7] = [
    (&CHECK_SUCCESS, |data| {
        let success = data.last_cycle.as_ref().is_some_and(|c| c.success);
        Some(f64::from(u8::from(success)))
    }),
    (&CHECK_LAST_SUCCESS_TIMESTAMP_SECONDS, |data| {
        Some(data.last_success.map_or(0.0, unix_seconds))
    }),
    (&CHECK_DURATION_SECONDS, |data| {
        Some(
            data.last_cycle
                .as_ref()
                .map_or(0.0, |c| c.duration.as_secs_f64()),
        )
    }),
    (&CHECK_CYCLES_TOTAL, |data| Some(data.cycles as f64)),
    (&CHECK_CONSECUTIVE_FAILURES, |data| {
        Some(data.consecutive_failures as f64)
    }),
    (&CHECK_INTERVAL_SECONDS, |data| {
        Some(data.config.interval.as_secs_f64())
    }),
    (&USERSIG_EXPIRY_TIMESTAMP_SECONDS, |data| {
        data.usersig_expiry.map(unix_seconds)
    }),
];

/// Writes every per-app family of `apps`.
pub(super) fn write(text: &mut Text, apps: &[&AppData]) {
    let apps: Vec<App<'_>> = apps
        .iter()
        .map(|data| App {
            data,
            labels: labels(&[
                ("im_app", &data.config.name),
                ("im_region", data.config.region.name()),
            ]),
        })
        .collect();
    text.family(&APP_INFO);
    for app in &apps {
        let config = &app.data.config;
        let sdkappid = config.sdkappid.to_string();
        let info = labels(&[("sdkappid", &sdkappid), ("endpoint", &config.endpoint)]);
        text.sample("", &format!("{},{info}", app.labels), None, 1);
    }
    for (family, value) in PER_APP {
        text.family(family);
        for app in &apps {
            if let Some(value) = value(app.data) {
                text.sample("", &app.labels, None, Float(value));
            }
        }
    }
    text.family(&USERSIG_TTL_SECONDS);
    for app in &apps {
        let ttl = app.data.config.usersig_ttl.as_secs_f64();
        text.sample("", &app.labels, None, Float(ttl));
    }
    write_watchlists(text, &apps);
    write_apis(text, &apps);
    text.family(&EXPORTER_APP_LOOP_RESTARTS_TOTAL);
    for app in &apps {
        let name = labels(&[("im_app", &app.data.config.name)]);
        text.sample("", &name, None, app.data.loop_restarts);
    }
    text.family(&ACCOUNT_ERRORS_TOTAL);
    for app in &apps {
        for (code, count) in &app.data.api(Api::AccountCheck).account_errors {
            text.sample("", &app.labels, Some(("code", code)), count);
        }
    }
}

/// The watch-list families: counts per status and presence, and drift.
fn write_watchlists(text: &mut Text, apps: &[App<'_>]) {
    let lists: Vec<(String, &App<'_>, usize)> = apps
        .iter()
        .flat_map(|app| {
            app.data
                .config
                .watchlists
                .iter()
                .enumerate()
                .map(move |(index, list)| {
                    let name = labels(&[("watchlist", &list.name)]);
                    (format!("{},{name}", app.labels), app, index)
                })
        })
        .collect();
    text.family(&WATCHLIST_ACCOUNTS);
    for (labels, app, index) in &lists {
        let counts = &app.data.counts[*index];
        for status in Status::ALL {
            let count = counts.status(status);
            text.sample("", labels, Some(("status", status.as_str())), count);
        }
    }
    text.family(&WATCHLIST_DRIFT_ACCOUNTS);
    for (labels, app, index) in &lists {
        text.sample("", labels, None, app.data.counts[*index].drift);
    }
    text.family(&WATCHLIST_PRESENCE_ACCOUNTS);
    for (labels, app, index) in &lists {
        let Some(presence) = &app.data.counts[*index].presence else {
            continue;
        };
        for value in PresenceValue::ALL {
            let count = presence.value(value);
            text.sample("", labels, Some(("presence", value.as_str())), count);
        }
    }
    text.family(&WATCHLIST_PRESENCE_DRIFT_ACCOUNTS);
    for (labels, app, index) in &lists {
        if let Some(presence) = &app.data.counts[*index].presence {
            text.sample("", labels, None, presence.drift);
        }
    }
}

/// The API families, per app and API (query_online_status only where a list checks
/// presence).
fn write_apis(text: &mut Text, apps: &[App<'_>]) {
    let apis: Vec<(String, &App<'_>, Api)> = apps
        .iter()
        .flat_map(|app| {
            let presence = app.data.config.checks_presence();
            Api::ALL
                .into_iter()
                .filter(move |api| *api != Api::QueryOnlineStatus || presence)
                .map(move |api| (format!("{},api=\"{}\"", app.labels, api.label()), app, api))
        })
        .collect();
    text.family(&API_REQUEST_DURATION_SECONDS);
    for (labels, app, api) in &apis {
        write_histogram(text, labels, &app.data.api(*api).latency);
    }
    text.family(&API_REQUESTS_TOTAL);
    for (labels, app, api) in &apis {
        text.sample("", labels, None, app.data.api(*api).requests);
    }
    text.family(&API_ERRORS_TOTAL);
    for (labels, app, api) in &apis {
        let stats = app.data.api(*api);
        let preset = PRESET_ERROR_CODES
            .iter()
            .filter(|code| !stats.errors.contains_key(**code))
            .map(|code| (*code, 0));
        let seen = stats.errors.iter().map(|(code, n)| (code.as_str(), *n));
        let mut errors: Vec<(&str, u64)> = preset.chain(seen).collect();
        errors.sort_unstable();
        for (code, count) in errors {
            text.sample("", labels, Some(("code", code)), count);
        }
    }
    text.family(&API_RETRIES_TOTAL);
    for (labels, app, api) in &apis {
        text.sample("", labels, None, app.data.api(*api).retries);
    }
}

fn write_histogram(text: &mut Text, labels: &str, latency: &Latency) {
    for (bound, count) in API_LATENCY_BUCKETS.iter().zip(latency.cumulative) {
        text.sample(
            "_bucket",
            labels,
            Some(("le", &Float(*bound).to_string())),
            count,
        );
    }
    text.sample("_bucket", labels, Some(("le", "+Inf")), latency.count);
    text.sample("_sum", labels, None, Float(latency.sum_seconds));
    text.sample("_count", labels, None, latency.count);
}
