//! One loop per app: a cycle right after start (apps spread over a tenth of their
//! interval), then one per `interval`, each recorded in the [`State`].
//!
//! Cycles of one app never overlap; one that overruns its interval delays the next, and
//! missed ticks are not replayed. A reload hands each loop its new configuration: an
//! unchanged app keeps its loop and client (UserSig, pacing, 70050 pause), a loop whose
//! app has accounts never checked (new ones) checks at once, and a loop whose app is gone is cancelled, along
//! with its calls in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{AppConfig, Config};
use crate::cycle;
use crate::state::{AppState, State};
use crate::tim::{Client, ClientError};

/// The share of the interval over which the apps' first cycles are spread.
const START_SPREAD: f64 = 0.1;

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
#[derive(Debug)]
pub struct Scheduler {
    state: Arc<State>,
    loops: HashMap<String, AppLoop>,
    shutdown: CancellationToken,
}

impl Scheduler {
    /// Starts a loop for every app of `config`, recording into `state`.
    pub fn start(config: &Config, state: Arc<State>) -> Result<Self, ClientError> {
        let mut scheduler = Scheduler {
            state,
            loops: HashMap::new(),
            shutdown: CancellationToken::new(),
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
        let task = tokio::spawn(run_loop(
            Arc::clone(&state),
            plan_rx,
            first_delay,
            cancel.clone(),
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
            // A loop only ends by cancellation; a panic inside one is already reported.
            let _ = running.task.await;
        }
    }
}

async fn run_loop(
    state: Arc<AppState>,
    mut plan_rx: watch::Receiver<Arc<Plan>>,
    first_delay: Duration,
    cancel: CancellationToken,
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
            result = cycle::run(&plan.config, &plan.client) => result,
        };
        cycle::record(&state, &result);
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
