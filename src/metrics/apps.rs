//! The per-app families: check results, watch-list counts (import and presence), API
//! statistics per API, and info.

use std::collections::HashMap;

use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};

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

/// Name, type and HELP of every per-app family, in the order they are built.
const FAMILIES: [(&str, MetricType, &str); 19] = [
    ("tim_app_info", MetricType::GAUGE,
     "Information about an IM app checked in the background every interval; always 1."),
    ("tim_check_success", MetricType::GAUGE,
     "1 when the app's latest background check cycle (run every interval) got a status (and, where a watch list asks, a presence) for every account, else 0."),
    ("tim_check_last_success_timestamp_seconds", MetricType::GAUGE,
     "Unix time at the end of the app's latest background check cycle with tim_check_success 1; 0 until there is one."),
    ("tim_check_duration_seconds", MetricType::GAUGE,
     "Wall time of the app's latest background check cycle (run every interval); 0 until there is one."),
    ("tim_check_cycles_total", MetricType::COUNTER,
     "Background check cycles run for the app (one every interval)."),
    ("tim_check_consecutive_failures", MetricType::GAUGE,
     "Background check cycles in a row, up to the latest, with tim_check_success 0; 0 after a fully successful one."),
    ("tim_check_interval_seconds", MetricType::GAUGE,
     "The configured interval between the app's background check cycles."),
    ("tim_usersig_expiry_timestamp_seconds", MetricType::GAUGE,
     "Unix time at which the admin UserSig used by the app's background checks (every interval) expires."),
    ("tim_usersig_ttl_seconds", MetricType::GAUGE,
     "The configured lifetime of the app's admin UserSig; it is renewed once 80% of it has passed."),
    ("tim_watchlist_accounts", MetricType::GAUGE,
     "Accounts of the watch list in each status, from the latest background check of each account (every interval)."),
    ("tim_watchlist_drift_accounts", MetricType::GAUGE,
     "Accounts of the watch list whose status from the latest background check (every interval) differs from the list's expect."),
    ("tim_watchlist_presence_accounts", MetricType::GAUGE,
     "Accounts of a watch list that checks presence with each presence, from the latest background check of each account (every interval)."),
    ("tim_watchlist_presence_drift_accounts", MetricType::GAUGE,
     "Accounts of a watch list that checks presence whose known presence from the latest background check (every interval) falls short of the list's presence."),
    ("tim_api_request_duration_seconds", MetricType::HISTOGRAM,
     "Duration of every HTTP attempt to the IM REST API made by the background checks (every interval), retries included."),
    ("tim_api_requests_total", MetricType::COUNTER,
     "HTTP attempts to the IM REST API made by the background checks (every interval), retries included."),
    ("tim_api_errors_total", MetricType::COUNTER,
     "Failed HTTP attempts of the background checks (every interval) by code: the ErrorCode (60000-79999), other, timeout, connect, http_<status> or decode."),
    ("tim_api_retries_total", MetricType::COUNTER,
     "HTTP attempts of the background checks (every interval) that repeated an earlier attempt."),
    ("tim_exporter_app_loop_restarts_total", MetricType::COUNTER,
     "Times the app's background check loop failed (a bug: it is logged) and was restarted; its accounts are unknown until it has run again."),
    ("tim_account_errors_total", MetricType::COUNTER,
     "Accounts left without an import status inside a successful account_check reply of the background checks (every interval), by code: the ResultCode (60000-79999, else other), missing or bad_status."),
];

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

/// The per-app families being built over one scrape.
#[derive(Default)]
pub(super) struct Families {
    metrics: HashMap<&'static str, Vec<Metric>>,
}

fn label_pairs(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_owned());
            pair.set_value((*value).to_owned());
            pair
        })
        .collect()
}

fn gauge(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut gauge = proto::Gauge::default();
    gauge.set_value(value);
    let mut metric = Metric::from_label(label_pairs(pairs));
    metric.set_gauge(gauge);
    metric
}

fn counter(pairs: &[(&str, &str)], value: u64) -> Metric {
    let mut counter = proto::Counter::default();
    counter.set_value(value as f64);
    let mut metric = Metric::from_label(label_pairs(pairs));
    metric.set_counter(counter);
    metric
}

impl Families {
    fn push(&mut self, name: &'static str, metric: Metric) {
        self.metrics.entry(name).or_default().push(metric);
    }

    /// Adds one app's series.
    pub(super) fn add(&mut self, data: &AppData) {
        let config = &data.config;
        let app = [
            ("im_app", config.name.as_str()),
            ("im_region", config.region.name()),
        ];
        let sdkappid = config.sdkappid.to_string();
        self.push(
            "tim_app_info",
            gauge(
                &[
                    app[0],
                    app[1],
                    ("sdkappid", &sdkappid),
                    ("endpoint", &config.endpoint),
                ],
                1.0,
            ),
        );
        let last = data.last_cycle.as_ref();
        let success = last.is_some_and(|c| c.success);
        self.push(
            "tim_check_success",
            gauge(&app, f64::from(u8::from(success))),
        );
        self.push(
            "tim_check_last_success_timestamp_seconds",
            gauge(&app, data.last_success.map_or(0.0, unix_seconds)),
        );
        self.push(
            "tim_check_duration_seconds",
            gauge(&app, last.map_or(0.0, |c| c.duration.as_secs_f64())),
        );
        self.push("tim_check_cycles_total", counter(&app, data.cycles));
        self.push(
            "tim_check_consecutive_failures",
            gauge(&app, data.consecutive_failures as f64),
        );
        self.push(
            "tim_check_interval_seconds",
            gauge(&app, config.interval.as_secs_f64()),
        );
        self.push(
            "tim_exporter_app_loop_restarts_total",
            counter(&[app[0]], data.loop_restarts),
        );
        if let Some(expiry) = data.usersig_expiry {
            self.push(
                "tim_usersig_expiry_timestamp_seconds",
                gauge(&app, unix_seconds(expiry)),
            );
        }
        self.push(
            "tim_usersig_ttl_seconds",
            gauge(&app, config.usersig_ttl.as_secs_f64()),
        );
        for (list, counts) in config.watchlists.iter().zip(&data.counts) {
            let list_labels = [app[0], app[1], ("watchlist", list.name.as_str())];
            self.push_per_value(
                "tim_watchlist_accounts",
                list_labels,
                "status",
                Status::ALL.map(|status| (status.as_str(), counts.status(status))),
            );
            self.push(
                "tim_watchlist_drift_accounts",
                gauge(&list_labels, counts.drift as f64),
            );
            let Some(presence) = &counts.presence else {
                continue;
            };
            self.push_per_value(
                "tim_watchlist_presence_accounts",
                list_labels,
                "presence",
                PresenceValue::ALL.map(|value| (value.as_str(), presence.value(value))),
            );
            self.push(
                "tim_watchlist_presence_drift_accounts",
                gauge(&list_labels, presence.drift as f64),
            );
        }
        let presence = config.checks_presence();
        for api in Api::ALL {
            if api == Api::QueryOnlineStatus && !presence {
                continue;
            }
            self.add_api(app, api, data);
        }
        let account_errors = &data.api(Api::AccountCheck).account_errors;
        for (code, count) in account_errors {
            self.push(
                "tim_account_errors_total",
                counter(&[app[0], app[1], ("code", code)], *count),
            );
        }
    }

    /// Adds one count per value of `label` to a watch list's family.
    fn push_per_value<const N: usize>(
        &mut self,
        family: &'static str,
        list_labels: [(&str, &str); 3],
        label: &str,
        counts: [(&str, usize); N],
    ) {
        for (value, count) in counts {
            let [app, region, list] = list_labels;
            self.push(
                family,
                gauge(&[app, region, list, (label, value)], count as f64),
            );
        }
    }

    /// Adds the series of one API of an app.
    fn add_api(&mut self, app: [(&str, &str); 2], api: Api, data: &AppData) {
        let stats = data.api(api);
        let labels = [app[0], app[1], ("api", api.label())];
        self.push(
            "tim_api_request_duration_seconds",
            histogram(&labels, &stats.latency),
        );
        self.push("tim_api_requests_total", counter(&labels, stats.requests));
        self.push("tim_api_retries_total", counter(&labels, stats.retries));
        let preset = PRESET_ERROR_CODES
            .iter()
            .filter(|code| !stats.errors.contains_key(**code))
            .map(|code| (*code, 0));
        let seen = stats.errors.iter().map(|(code, n)| (code.as_str(), *n));
        let mut errors: Vec<(&str, u64)> = preset.chain(seen).collect();
        errors.sort_unstable();
        for (code, count) in errors {
            self.push(
                "tim_api_errors_total",
                counter(&[labels[0], labels[1], labels[2], ("code", code)], count),
            );
        }
    }

    /// The families with at least one series.
    pub(super) fn finish(mut self) -> Vec<MetricFamily> {
        FAMILIES
            .iter()
            .filter_map(|(name, kind, help)| {
                let metrics = self.metrics.remove(name)?;
                let mut family = MetricFamily::default();
                family.set_name((*name).to_owned());
                family.set_help((*help).to_owned());
                family.set_field_type(*kind);
                family.set_metric(metrics);
                Some(family)
            })
            .collect()
    }
}

fn histogram(pairs: &[(&str, &str)], latency: &Latency) -> Metric {
    let buckets = API_LATENCY_BUCKETS
        .iter()
        .zip(latency.cumulative)
        .map(|(bound, count)| {
            let mut bucket = proto::Bucket::default();
            bucket.set_upper_bound(*bound);
            bucket.set_cumulative_count(count);
            bucket
        })
        .collect();
    let mut histogram = proto::Histogram::default();
    histogram.set_bucket(buckets);
    histogram.set_sample_count(latency.count);
    histogram.set_sample_sum(latency.sum_seconds);
    let mut metric = Metric::from_label(label_pairs(pairs));
    metric.set_histogram(histogram);
    metric
}
