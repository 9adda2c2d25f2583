//! The long-running mode: wires the state, the scheduler, the metrics and the HTTP
//! server together, reloads on request (SIGHUP or `POST /-/reload`) and shuts down.
//!
//! The daemon task alone owns the scheduler, so reloads are applied one at a time.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::metrics::Metrics;
use crate::scheduler::Scheduler;
use crate::shard::Shard;
use crate::state::State;
use crate::tim::ClientError;
use crate::web::{self, Context, LiveWebConfig, ReloadResult};

/// How long stopping may take, from the signal: the loops' end, then open responses.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// Where a reload reads the configuration from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// `--config.file`: re-read with its secret and watch-list files.
    File(PathBuf),
    /// A built-in configuration (the demo): a reload re-applies it.
    Fixed(Config),
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What tells the daemon to reload or to stop.
pub struct Signals {
    hangups: mpsc::Receiver<()>,
    stop: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signals").finish_non_exhaustive()
    }
}

impl Signals {
    /// Registers SIGHUP (reload), SIGTERM and SIGINT (stop). Call it before announcing the
    /// daemon, so that no signal arriving early finds the default action (death) in place.
    #[cfg(unix)]
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = signal(SignalKind::hangup())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let (tx, hangups) = mpsc::channel(1);
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                // A reload already queued will read the newest file; extra signals merge.
                let _ = tx.try_send(());
            }
        });
        let stop = Box::pin(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        });
        Ok(Signals { hangups, stop })
    }

    /// Ctrl-C stops; there is no reload signal.
    #[cfg(not(unix))]
    pub fn install() -> std::io::Result<Self> {
        Ok(Self::stop_on(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }

    /// No process signals: the daemon stops when `stop` resolves (for embedding and tests).
    pub fn stop_on(stop: impl Future<Output = ()> + Send + 'static) -> Self {
        let (_never, hangups) = mpsc::channel(1);
        Signals {
            hangups,
            stop: Box::pin(stop),
        }
    }
}

/// Runs until told to stop: checks every app on its schedule and serves HTTP on every
/// one of `listeners` alike. Returns once the loops are stopped and open responses are finished, or
/// [`SHUTDOWN_GRACE`] after the stop.
pub async fn run(
    source: ConfigSource,
    config: Config,
    listeners: Vec<TcpListener>,
    signals: Signals,
) -> Result<(), DaemonError> {
    run_with(source, config, listeners, None, signals).await
}

/// [`run`], serving as the web configuration (`--web.config.file`) says: TLS, basic auth,
/// headers and rate limit.
pub async fn run_with(
    source: ConfigSource,
    config: Config,
    listeners: Vec<TcpListener>,
    web_config: Option<Arc<LiveWebConfig>>,
    signals: Signals,
) -> Result<(), DaemonError> {
    let Signals {
        mut hangups,
        stop: shutdown,
    } = signals;
    log_config(&config, "configuration loaded");
    // Empty: the scheduler fills it from the configuration as it starts the loops.
    let state = Arc::new(State::default());
    let metrics = Arc::new(Metrics::new());
    metrics.record_reload(true, SystemTime::now());
    // The shard comes from the flags, so it holds for every reload too.
    let shard = config.shard;
    metrics.record_shard(shard);
    if let Some(live) = &web_config {
        metrics.register_web_config(live.reload_gauge());
    }
    let mut scheduler = Scheduler::start(&config, Arc::clone(&state))?;
    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let context = Arc::new(Context {
        state,
        metrics: Arc::clone(&metrics),
        reload: reload_tx,
    });
    let stop_serving = CancellationToken::new();
    let router = web::router(context, web_config.clone());
    let servers: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            tokio::spawn(web::serve(
                listener,
                router.clone(),
                web_config.clone(),
                stop_serving.clone(),
            ))
        })
        .collect();
    let server = futures_util::future::join_all(servers);
    tokio::pin!(shutdown);
    loop {
        let reply = tokio::select! {
            () = &mut shutdown => break,
            Some(reply) = reload_rx.recv() => Some(reply),
            Some(()) = hangups.recv() => None,
        };
        // Reading files can hang (a stalled network mount): it must not hold up a stop.
        let loaded = tokio::select! {
            () = &mut shutdown => break,
            loaded = load(&source, shard) => loaded,
        };
        let result = apply(loaded, &mut scheduler, &metrics);
        if let Some(reply) = reply {
            // The requester may have gone away; the reload stands either way.
            let _ = reply.send(result);
        }
    }
    tracing::info!("shutting down: stopping checks and finishing open responses");
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    // A reload asked for now is refused at once rather than left waiting.
    drop(reload_rx);
    stop_serving.cancel();
    if tokio::time::timeout_at(deadline, scheduler.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("check loops did not stop in time; exiting anyway");
    }
    match tokio::time::timeout_at(deadline, server).await {
        Err(_) => tracing::warn!("open HTTP responses did not finish in time; exiting anyway"),
        Ok(served) => {
            for result in served {
                if let Err(join) = result {
                    tracing::error!(error = %join, "the HTTP server task failed");
                }
            }
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Re-reads the configuration with its files, on a blocking thread: `shard`'s part of it.
async fn load(source: &ConfigSource, shard: Shard) -> Result<config::Loaded, Vec<String>> {
    match source {
        ConfigSource::File(path) => {
            let path = path.clone();
            match tokio::task::spawn_blocking(move || config::load_for_shard(&path, shard)).await {
                Ok(loaded) => loaded.map_err(|e| e.problems),
                Err(e) => Err(vec![format!("reading the configuration failed: {e}")]),
            }
        }
        ConfigSource::Fixed(config) => Ok(config::Loaded {
            config: config.clone(),
            warnings: Vec::new(),
        }),
    }
}

/// Applies a re-read configuration, or keeps the running one.
fn apply(
    loaded: Result<config::Loaded, Vec<String>>,
    scheduler: &mut Scheduler,
    metrics: &Metrics,
) -> ReloadResult {
    let result = loaded.and_then(|loaded| {
        for warning in &loaded.warnings {
            tracing::warn!(warning = %warning, "configuration warning");
        }
        scheduler
            .reload(&loaded.config)
            .map(|()| loaded.config)
            .map_err(|e| vec![e.to_string()])
    });
    metrics.record_reload(result.is_ok(), SystemTime::now());
    match result {
        Ok(config) => {
            log_config(&config, "configuration reloaded");
            Ok(())
        }
        Err(problems) => {
            tracing::error!(problems = %problems.join("; "),
                "configuration reload failed; the running configuration is unchanged");
            Err(problems)
        }
    }
}

/// One info line with the size of a configuration now in force.
fn log_config(config: &Config, message: &str) {
    let accounts: usize = config
        .apps
        .iter()
        .map(|app| app.distinct_user_ids().len())
        .sum();
    let lists: usize = config.apps.iter().map(|app| app.watchlists.len()).sum();
    tracing::info!(
        apps = config.apps.len(),
        watchlists = lists,
        accounts,
        shard = config.shard.ordinal(),
        total_shards = config.shard.total(),
        "{message}"
    );
    for app in &config.apps {
        let series = crate::metrics::ExpectedSeries::of(app);
        tracing::info!(
            im_app = %app.name,
            per_account_series = series.per_account,
            per_account_series_problems_max = series.per_account_problems,
            watchlist_series = series.watchlist,
            series = %series,
            "series expected on /metrics"
        );
    }
}
