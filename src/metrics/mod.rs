//! `/metrics`: the exposition of the [`State`] in the Prometheus text format 0.0.4.
//!
//! Only this module knows the metric names and the `prometheus` crate. Every scrape is
//! built fresh from the state, so a series removed by a reload, or an account that leaves
//! what its list's `account_series` serves, is gone from the next scrape (Prometheus marks
//! it stale). The registry holds the process, build and reload metrics; the per-app
//! families are built from the state ([`apps`]), and the per-account families, the only
//! large ones, are written straight to text ([`accounts`]).

mod accounts;
mod apps;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::{Gauge, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::config::{AccountSeries, AppConfig};
use crate::shard::Shard;
use crate::state::State;

/// The Content-Type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the build was made from, for `tim_exporter_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("TIM_EXPORTER_REVISION");
pub const RUSTC_VERSION: &str = env!("TIM_EXPORTER_RUSTC_VERSION");

/// The registry and the exporter's own gauges.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reload_successful: IntGauge,
    reload_success_timestamp: Gauge,
    shard_ordinal: IntGaugeVec,
    total_shards: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let build_info = IntGauge::with_opts(
            Opts::new(
                "tim_exporter_build_info",
                "A metric with a constant 1 value labeled by the version, revision and rustc version of the exporter.",
            )
            .const_label("version", VERSION)
            .const_label("revision", REVISION)
            .const_label("rustc_version", RUSTC_VERSION),
        )
        .expect("valid build_info");
        build_info.set(1);
        let reload_successful = IntGauge::new(
            "tim_exporter_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful (1) or not (0).",
        )
        .expect("valid gauge");
        let reload_success_timestamp = Gauge::new(
            "tim_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load or reload.",
        )
        .expect("valid gauge");
        // As kube-state-metrics: the ordinal both as a label and as the value, so that
        // the rules can tell which shards are missing.
        let shard_ordinal = IntGaugeVec::new(
            Opts::new(
                "tim_exporter_shard_ordinal",
                "The shard of this exporter (0-based; 0 when not sharded), as value and label.",
            ),
            &["shard_ordinal"],
        )
        .expect("valid gauge");
        let total_shards = IntGauge::new(
            "tim_exporter_total_shards",
            "How many shards share the accounts (--total-shards; 1 when not sharded).",
        )
        .expect("valid gauge");
        for collector in [
            Box::new(build_info) as Box<dyn prometheus::core::Collector>,
            Box::new(reload_successful.clone()),
            Box::new(reload_success_timestamp.clone()),
            Box::new(shard_ordinal.clone()),
            Box::new(total_shards.clone()),
        ] {
            registry.register(collector).expect("distinct metrics");
        }
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("distinct metrics");
        let metrics = Metrics {
            registry,
            reload_successful,
            reload_success_timestamp,
            shard_ordinal,
            total_shards,
        };
        metrics.record_shard(Shard::NONE);
        metrics
    }

    /// Records which shard this exporter is.
    pub fn record_shard(&self, shard: Shard) {
        self.shard_ordinal.reset();
        self.shard_ordinal
            .with_label_values(&[&shard.ordinal().to_string()])
            .set(i64::from(shard.ordinal()));
        self.total_shards.set(i64::from(shard.total()));
    }

    /// Serves the gauge of the web configuration's last reload
    /// (`tim_exporter_web_config_last_reload_successful`), when there is a web configuration.
    pub fn register_web_config(&self, reload_successful: IntGauge) {
        if let Err(e) = self.registry.register(Box::new(reload_successful)) {
            tracing::error!(error = %e, "cannot register the web configuration gauge");
        }
    }

    /// Records the outcome of a configuration load (at start) or reload.
    pub fn record_reload(&self, success: bool, at: SystemTime) {
        self.reload_successful.set(i64::from(success));
        if success {
            self.reload_success_timestamp.set(unix_seconds(at));
        }
    }

    /// The whole exposition.
    pub fn render(&self, state: &State) -> String {
        let apps = state.apps();
        let mut families = self.registry.gather();
        let mut per_app = apps::Families::default();
        let mut per_account = accounts::Writer::default();
        for app in &apps {
            let data = app.lock();
            per_app.add(&data);
            per_account.add(&data);
        }
        families.extend(per_app.finish());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut text = String::with_capacity(per_account.len() + 16 * 1024);
        // Encoding fails only on malformed families, which `apps` does not build.
        if let Err(e) = TextEncoder::new().encode_utf8(&families, &mut text) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        per_account.finish_into(&mut text);
        text
    }
}

/// How many series one app's watch lists give on `/metrics`, from its configuration alone
/// (for `--config.check` and the log): the per-account families by each list's
/// `account_series`, and the watch-list aggregates. An account in two lists counts twice,
/// as it is served twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedSeries {
    /// Per-account series of the lists with `account_series: all`, always served.
    pub per_account: usize,
    /// The most per-account series of the lists with `account_series: problems`, served
    /// only for accounts in drift or unknown (all of them before the first check).
    pub per_account_problems: usize,
    /// Series of the watch-list families (`tim_watchlist_*`), always served.
    pub watchlist: usize,
}

impl ExpectedSeries {
    /// Counts the series of `app`.
    pub fn of(app: &AppConfig) -> Self {
        let mut series = ExpectedSeries {
            per_account: 0,
            per_account_problems: 0,
            watchlist: 0,
        };
        for list in &app.watchlists {
            let per_account = list.user_ids.len() * accounts::series_per_account(list);
            match list.account_series {
                AccountSeries::All => series.per_account += per_account,
                AccountSeries::Problems => series.per_account_problems += per_account,
                AccountSeries::None => {}
            }
            series.watchlist += apps::watchlist_series(list);
        }
        series
    }
}

impl fmt::Display for ExpectedSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.per_account_problems == 0 {
            write!(f, "per-account series: {}", self.per_account)?;
        } else {
            write!(
                f,
                "per-account series: at most {} ({} always, up to {} for accounts in drift or unknown under account_series: problems)",
                self.per_account + self.per_account_problems,
                self.per_account,
                self.per_account_problems
            )?;
        }
        write!(f, ", watch-list series: {}", self.watchlist)
    }
}

/// Unix time in seconds, as a sample value.
fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}
