//! `/metrics`: the exposition of the [`State`] in the Prometheus text format 0.0.4.
//!
//! Only this module knows the metric names. One path writes every family of the state
//! ([`apps`] and [`accounts`], through the writer of [`text`]); the `prometheus` registry
//! holds the exporter's own metrics (build, reloads, shard, process), encoded by its
//! `TextEncoder`. Between two changes of the state only the exporter's own metrics move,
//! so the state's text, and its gzip form ([`gzip`]), are made once per change and reused
//! by every scrape until the next: a finished cycle or a reload is in the next scrape,
//! and a series it removed (or an account that leaves what its list's `account_series`
//! serves) is gone from it, so Prometheus marks it stale.

mod accounts;
mod apps;
mod gzip;
mod text;

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use prometheus::{Gauge, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::config::{AccountSeries, AppConfig};
use crate::shard::Shard;
use crate::state::{AppData, State};

/// The Content-Type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the build was made from, for `tim_exporter_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("TIM_EXPORTER_REVISION");
pub const RUSTC_VERSION: &str = env!("TIM_EXPORTER_RUSTC_VERSION");

/// The registry and the exporter's own gauges, and the state's text as last rendered.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reload_successful: IntGauge,
    reload_success_timestamp: Gauge,
    shard_ordinal: IntGaugeVec,
    total_shards: IntGauge,
    /// Held while a scrape renders, so that scrapes arriving meanwhile wait for that one
    /// text rather than each making their own.
    rendered: tokio::sync::Mutex<Option<Rendered>>,
}

/// The state's text at one version of the state.
#[derive(Debug)]
struct Rendered {
    version: Vec<u64>,
    text: Bytes,
    /// Made when a scrape first asks for gzip.
    gzip: Option<Arc<gzip::Prefix>>,
}

/// One scrape's answer: the body, in pieces, and whether it is gzip.
#[derive(Debug)]
pub struct Scrape {
    pub body: Vec<Bytes>,
    pub gzip: bool,
}

/// Why a scrape has no answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the metrics: {0}")]
pub struct RenderError(String);

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
            rendered: tokio::sync::Mutex::new(None),
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

    /// The whole exposition, gzip when `gzip`: the state's text, made anew only when the
    /// state changed since it was last made, then the exporter's own metrics, always
    /// current.
    pub async fn scrape(&self, state: &Arc<State>, gzip: bool) -> Result<Scrape, RenderError> {
        let mut rendered = self.rendered.lock().await;
        let version = state.version();
        if rendered.as_ref().is_none_or(|r| r.version != version) {
            // The old text goes before the new one is made: one at a time in memory.
            *rendered = None;
            let state = Arc::clone(state);
            let text = blocking(move || render(&state)).await?;
            *rendered = Some(Rendered {
                version,
                text: Bytes::from(text),
                gzip: None,
            });
        }
        let Some(rendered) = rendered.as_mut() else {
            unreachable!("rendered just above");
        };
        let own = self.own_text();
        if !gzip {
            return Ok(Scrape {
                body: vec![rendered.text.clone(), Bytes::from(own)],
                gzip,
            });
        }
        let prefix = match &rendered.gzip {
            Some(prefix) => Arc::clone(prefix),
            None => {
                let text = rendered.text.clone();
                let prefix = Arc::new(blocking(move || gzip::Prefix::of(&text)).await?);
                rendered.gzip = Some(Arc::clone(&prefix));
                prefix
            }
        };
        Ok(Scrape {
            body: vec![
                prefix.bytes.clone(),
                Bytes::from(prefix.finish(own.as_bytes())),
            ],
            gzip,
        })
    }

    /// The exporter's own metrics, from the registry.
    fn own_text(&self) -> String {
        let mut text = String::with_capacity(8 * 1024);
        // Encoding fails only on malformed families, which the registry does not hold.
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        text
    }
}

/// Runs `work` on the blocking pool: rendering and compressing a large state takes long
/// enough to hold up other requests on the runtime's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RenderError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RenderError(e.to_string()))
}

/// Every family of the state, as text. The apps are locked together, so the text is
/// one moment of the state.
pub fn render(state: &State) -> String {
    let apps = state.apps();
    let locked: Vec<_> = apps.iter().map(|app| app.lock()).collect();
    let data: Vec<&AppData> = locked.iter().map(|data| &**data).collect();
    // A large text grows by remapping its pages, not by copying them.
    let mut text = text::Text::with_capacity(64 * 1024);
    apps::write(&mut text, &data);
    accounts::write(&mut text, &data);
    text.finish()
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
