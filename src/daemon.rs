//! The long-running mode: wires the state, the scheduler, the metrics and the HTTP
//! server together, reloads on request (SIGHUP or `POST /-/reload`) and shuts down.
//!
//! The daemon task alone owns the scheduler, so reloads are applied one at a time.

use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::metrics::Metrics;
use crate::scheduler::Scheduler;
use crate::state::State;
use crate::tim::ClientError;
use crate::web::{self, Context, ReloadResult};

/// How long open HTTP responses may take to finish after a shutdown signal.
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
    #[error("cannot serve HTTP: {0}")]
    Serve(std::io::Error),
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(std::io::Error),
}

/// Runs until `shutdown` resolves: checks every app on its schedule and serves HTTP on
/// `listener`. Returns once the loops are stopped and open responses are finished.
pub async fn run(
    source: ConfigSource,
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let state = Arc::new(State::new(&config));
    let metrics = Arc::new(Metrics::new());
    metrics.record_reload(true, SystemTime::now());
    let mut scheduler = Scheduler::start(&config, Arc::clone(&state))?;
    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let context = Arc::new(Context {
        state,
        metrics: Arc::clone(&metrics),
        reload: reload_tx,
    });
    let stop_serving = CancellationToken::new();
    let server = tokio::spawn(
        axum::serve(listener, web::router(context))
            .with_graceful_shutdown(stop_serving.clone().cancelled_owned())
            .into_future(),
    );
    let mut hangups = hangups()?;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(reply) = reload_rx.recv() => {
                let result = reload(&source, &mut scheduler, &metrics);
                // The requester may have gone away; the reload stands either way.
                let _ = reply.send(result);
            }
            Some(()) = hangups.recv() => {
                let _ = reload(&source, &mut scheduler, &metrics);
            }
        }
    }
    tracing::info!("shutting down: stopping checks and finishing open responses");
    stop_serving.cancel();
    scheduler.shutdown().await;
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(DaemonError::Serve(e)),
        Ok(Err(join)) => tracing::error!(error = %join, "the HTTP server task failed"),
        Err(_) => tracing::warn!("open HTTP responses did not finish in time; exiting anyway"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Re-reads the configuration and applies it, or keeps the running one.
fn reload(source: &ConfigSource, scheduler: &mut Scheduler, metrics: &Metrics) -> ReloadResult {
    let loaded = match source {
        ConfigSource::File(path) => config::load(path),
        ConfigSource::Fixed(config) => Ok(config::Loaded {
            config: config.clone(),
            warnings: Vec::new(),
        }),
    };
    let result = loaded.map_err(|e| e.problems).and_then(|loaded| {
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
            let accounts: usize = config
                .apps
                .iter()
                .map(|app| app.distinct_user_ids().len())
                .sum();
            tracing::info!(apps = config.apps.len(), accounts, "configuration reloaded");
            Ok(())
        }
        Err(problems) => {
            tracing::error!(problems = %problems.join("; "),
                "configuration reload failed; the running configuration is unchanged");
            Err(problems)
        }
    }
}

/// A stream of SIGHUPs, as a channel; never yields where there are no such signals.
fn hangups() -> Result<mpsc::Receiver<()>, DaemonError> {
    let (tx, rx) = mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                // A reload already queued will read the newest file; drop extra signals.
                let _ = tx.try_send(());
            }
        });
    }
    #[cfg(not(unix))]
    std::mem::forget(tx);
    Ok(rx)
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the exporter");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
