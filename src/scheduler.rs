//! One loop per app: a cycle right after start (apps spread over a tenth of their
//! interval), then one per `interval`, each recorded in the [`State`].
//!
//! Cycles of one app never overlap; one that overruns its interval delays the next, and
//! missed ticks are not replayed. A reload hands each loop its new configuration: an
//! unchanged app keeps its loop and client (UserSig, pacing, 70050 pause), a loop whose
//! app has accounts never checked (new ones) checks at once, and a loop whose app is gone is cancelled, along
//! with its calls in flight.
//!
//! Each loop runs under a supervisor: if it panics (a bug, whatever its cause), the panic is
//! logged with the app, the app's results turn unknown and the restart is counted, and the
//! loop starts again after a backoff, so an app is never silently left unchecked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{AppConfig, Config};
use crate::cycle;
use crate::state::{AppState, Cycle, State};
use crate::tim::{Client, ClientError};

/// The share of the interval over which the apps' first cycles are spread.
const START_SPREAD: f64 = 0.1;
/// The wait before a failed loop restarts, doubling with each failure in a row.
const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(60);

/// What runs one cycle of an app. The daemon's calls the API ([`cycle::run`]); tests may
/// wrap it, to inject a failure.
pub type CycleRunner =
    Arc<dyn Fn(Arc<AppConfig>, Arc<Client>) -> BoxFuture<'static, Cycle> + Send + Sync>;

/// The runner that calls the API.
fn api_runner() -> CycleRunner {
    Arc::new(|app, client| Box::pin(async move { cycle::run(&app, &client).await }))
}

/// What an app's loop runs with.
#[derive(Debug)]
struct Plan {
    config: Arc<AppConfig>,
    client: Arc<Client>,
}

#[derive(Debug)]
struct AppLoop {
    state: Arc<AppState>,
    plan: watch::Sender<Arc<Plan>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// The loops of all apps.
pub struct Scheduler {
    state: Arc<State>,
    loops: HashMap<String, AppLoop>,
    shutdown: CancellationToken,
    runner: CycleRunner,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("loops", &self.loops)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Starts a loop for every app of `config`, recording into `state`.
    pub fn start(config: &Config, state: Arc<State>) -> Result<Self, ClientError> {
        Self::start_with(config, state, api_runner())
    }

    /// [`Scheduler::start`] with cycles run by `runner`.
    pub fn start_with(
        config: &Config,
        state: Arc<State>,
        runner: CycleRunner,
    ) -> Result<Self, ClientError> {
        let mut scheduler = Scheduler {
            state,
            loops: HashMap::new(),
            shutdown: CancellationToken::new(),
            runner,
        };
        scheduler.apply(config, true)?;
        Ok(scheduler)
    }

    /// Applies a reloaded configuration. Fails, changing nothing, if a client cannot be
    /// built.
    pub fn reload(&mut self, config: &Config) -> Result<(), ClientError> {
        self.apply(config, false)
    }

    fn apply(&mut self, config: &Config, starting: bool) -> Result<(), ClientError> {
        // Every fallible step first, so a failure leaves the running loops alone.
        let mut clients = Vec::with_capacity(config.apps.len());
        for app in &config.apps {
            let reusable = self
                .loops
                .get(&app.name)
                .map(|running| running.plan.borrow().clone())
                .filter(|plan| plan.config.client_settings() == app.client_settings());
            clients.push(match reusable {
                Some(plan) => Arc::clone(&plan.client),
                None => Arc::new(Client::new(app.client_settings())?),
            });
        }
        let states = self.state.reconcile(config);
        let mut old = std::mem::take(&mut self.loops);
        let count = config.apps.len();
        for (index, ((app, client), state)) in
            config.apps.iter().zip(clients).zip(states).enumerate()
        {
            let plan = Arc::new(Plan {
                config: Arc::clone(app),
                client,
            });
            state.set_usersig_expiry(plan.client.usersig_expiry());
            let running = match old.remove(&app.name) {
                Some(running) if Arc::ptr_eq(&running.state, &state) => {
                    running.plan.send_replace(plan);
                    running
                }
                other => {
                    if let Some(stale) = other {
                        stale.cancel.cancel();
                    }
                    let delay = if starting {
                        app.interval
                            .mul_f64(START_SPREAD * index as f64 / count.max(1) as f64)
                    } else {
                        Duration::ZERO
                    };
                    self.spawn(state, plan, delay)
                }
            };
            self.loops.insert(app.name.clone(), running);
        }
        for removed in old.into_values() {
            removed.cancel.cancel();
        }
        Ok(())
    }

    fn spawn(&self, state: Arc<AppState>, plan: Arc<Plan>, first_delay: Duration) -> AppLoop {
        let cancel = self.shutdown.child_token();
        let (plan_tx, plan_rx) = watch::channel(plan);
        let task = tokio::spawn(supervise(
            Arc::clone(&state),
            plan_rx,
            first_delay,
            cancel.clone(),
            Arc::clone(&self.runner),
        ));
        AppLoop {
            state,
            plan: plan_tx,
            cancel,
            task,
        }
    }

    /// Stops every loop, cancelling calls in flight, and waits for them to end.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for running in self.loops.into_values() {
            // A supervisor only ends by cancellation.
            let _ = running.task.await;
        }
    }
}

/// Runs an app's loop, and runs it again after a backoff whenever it panics.
async fn supervise(
    state: Arc<AppState>,
    plan_rx: watch::Receiver<Arc<Plan>>,
    first_delay: Duration,
    cancel: CancellationToken,
    runner: CycleRunner,
) {
    let mut delay = first_delay;
    let mut failures_in_a_row: u32 = 0;
    loop {
        let started = Instant::now();
        let task = tokio::spawn(run_loop(
            Arc::clone(&state),
            plan_rx.clone(),
            delay,
            cancel.clone(),
            Arc::clone(&runner),
        ));
        // The loop only returns when cancelled; anything else is a panic.
        let Err(failure) = task.await else { return };
        if cancel.is_cancelled() || !failure.is_panic() {
            return;
        }
        let plan = Arc::clone(&plan_rx.borrow());
        // A loop that ran a while before failing starts its backoff afresh.
        if started.elapsed() > plan.config.interval.saturating_mul(2) {
            failures_in_a_row = 0;
        }
        failures_in_a_row = failures_in_a_row.saturating_add(1);
        delay = FIRST_RESTART_DELAY
            .saturating_mul(2u32.saturating_pow(failures_in_a_row - 1))
            .min(MAX_RESTART_DELAY);
        let panic = failure.into_panic();
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        tracing::error!(app = %plan.config.name, panic = %message,
            restart_in_seconds = delay.as_secs_f64(),
            "the app's check loop failed; its accounts are unknown until it runs again");
        state.loop_failed(SystemTime::now());
    }
}

async fn run_loop(
    state: Arc<AppState>,
    mut plan_rx: watch::Receiver<Arc<Plan>>,
    first_delay: Duration,
    cancel: CancellationToken,
    runner: CycleRunner,
) {
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = tokio::time::sleep(first_delay) => {}
    }
    loop {
        let plan = Arc::clone(&plan_rx.borrow_and_update());
        let started = Instant::now();
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            result = runner(Arc::clone(&plan.config), Arc::clone(&plan.client)) => result,
        };
        cycle::record(&state, &result);
        // What the cycle found is in the state now; its own copy is not kept until the next.
        drop(result);
        let mut next = started + plan.config.interval;
        let now = Instant::now();
        if now > next {
            tracing::warn!(app = %plan.config.name, interval = %humantime::format_duration(plan.config.interval),
                overrun_seconds = (now - next).as_secs_f64(),
                "check cycle overran its interval; the next one starts now");
            next = now;
        }
        // Wait for the next tick; a reload that adds accounts has them checked at once.
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(next.into()) => break,
                changed = plan_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let new = Arc::clone(&plan_rx.borrow_and_update());
                    if state.lock().has_unchecked() {
                        break;
                    }
                    next = (started + new.config.interval).max(Instant::now());
                }
            }
        }
    }
}
