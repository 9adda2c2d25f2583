//! The daemon's memory: what the latest cycles found about every configured account, per
//! app, and the API statistics of each app.
//!
//! The scheduler writes it (after each cycle, and on reload); `/metrics`, the status page
//! and `/api/v1/status` only read it. It does no I/O and knows nothing of Prometheus.
//! Statuses are kept per UserID, so an account on two watch lists is one entry, and a
//! reload that leaves an app in place keeps what is known about its remaining accounts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use crate::config::{AppConfig, Config};
use crate::report::{AccountReport, AppReport, Status};
use crate::tim::{Attempt, Region, Unknown};

/// Upper bounds, in seconds, of the API latency histogram's buckets (10 ms to 10 s).
pub const API_LATENCY_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Every app the daemon watches, in configuration order.
#[derive(Debug, Default)]
pub struct State {
    apps: RwLock<Vec<Arc<AppState>>>,
    /// Set once every app has finished a cycle; stays set across reloads.
    ready: AtomicBool,
}

impl State {
    /// State for `config`: every account unknown, no cycle run.
    pub fn new(config: &Config) -> Self {
        let state = State::default();
        state.reconcile(config);
        state
    }

    /// The apps, in configuration order.
    pub fn apps(&self) -> Vec<Arc<AppState>> {
        self.apps.read().expect("state lock").clone()
    }

    /// Makes the state match a new configuration and returns its apps in order.
    ///
    /// An app keeps its state when its name, region, SDKAppID and endpoint are unchanged
    /// (it is the same app): accounts still configured keep their status, new ones start
    /// unknown, removed ones are gone. Any other app starts afresh.
    pub fn reconcile(&self, config: &Config) -> Vec<Arc<AppState>> {
        // Readiness reached before this reload stays, even if nobody has asked yet.
        self.ready();
        let mut apps = self.apps.write().expect("state lock");
        let mut old: HashMap<String, Arc<AppState>> = apps
            .drain(..)
            .map(|app| (app.identity.name.clone(), app))
            .collect();
        *apps = config
            .apps
            .iter()
            .map(|config| match old.remove(&config.name) {
                Some(app) if app.identity == Identity::of(config) => {
                    app.lock().set_config(config);
                    app
                }
                _ => Arc::new(AppState::new(config)),
            })
            .collect();
        apps.clone()
    }

    /// Whether every app has finished its first cycle. Once true, stays true: an app
    /// added by a reload shows as unknown until its first cycle, without taking the
    /// exporter out of service.
    pub fn ready(&self) -> bool {
        if self.ready.load(Ordering::Relaxed) {
            return true;
        }
        let apps = self.apps();
        let ready = !apps.is_empty() && apps.iter().all(|app| app.lock().last_cycle.is_some());
        if ready {
            self.ready.store(true, Ordering::Relaxed);
        }
        ready
    }

    /// What is known now, in the shape of the `--once` result.
    pub fn reports(&self) -> Vec<AppReport> {
        self.apps().iter().map(|app| app.lock().report()).collect()
    }
}

/// What makes two configurations of an app the same app: results of one are valid for
/// the other.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    name: String,
    region: Region,
    sdkappid: u64,
    endpoint: String,
}

impl Identity {
    fn of(config: &AppConfig) -> Self {
        Identity {
            name: config.name.clone(),
            region: config.region,
            sdkappid: config.sdkappid,
            endpoint: config.endpoint.clone(),
        }
    }
}

/// One app's state, shared by its scheduler loop and the readers.
#[derive(Debug)]
pub struct AppState {
    identity: Identity,
    data: Mutex<AppData>,
}

impl AppState {
    fn new(config: &AppConfig) -> Self {
        let mut data = AppData {
            config: Arc::new(config.clone()),
            accounts: HashMap::new(),
            last_cycle: None,
            last_success: None,
            usersig_expiry: None,
            cycles: 0,
            consecutive_failures: 0,
            api: ApiStats::default(),
        };
        data.set_config(config);
        AppState {
            identity: Identity::of(config),
            data: Mutex::new(data),
        }
    }

    /// The app's data, locked. Hold it briefly: the scheduler waits on it to record a cycle.
    pub fn lock(&self) -> MutexGuard<'_, AppData> {
        self.data.lock().expect("app state lock")
    }

    /// Records a finished cycle: statuses, API statistics, and drift changes in the log.
    pub fn record_cycle(&self, report: &AppReport, usersig_expiry: SystemTime) {
        let finished_at = SystemTime::now();
        let mut data = self.lock();
        data.usersig_expiry = Some(usersig_expiry);
        data.record_cycle(report, finished_at);
    }

    /// Records when the app's current UserSig expires.
    pub fn set_usersig_expiry(&self, expiry: SystemTime) {
        self.lock().usersig_expiry = Some(expiry);
    }
}

/// The latest known status of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    pub status: Status,
    /// Why the status is unknown.
    pub error: Option<Unknown>,
    /// The latest status that was not unknown, for logging drift changes once.
    last_known: Option<Status>,
    /// Whether any cycle has reported on the account since it was configured.
    checked: bool,
    /// Indices of the watch lists holding the account, in the configuration in force.
    lists: Vec<usize>,
}

impl AccountState {
    fn not_checked() -> Self {
        AccountState {
            status: Status::Unknown,
            error: Some(Unknown {
                code: "not_checked".to_owned(),
                message: "not checked yet".to_owned(),
                in_reply: false,
            }),
            last_known: None,
            checked: false,
            lists: Vec::new(),
        }
    }
}

/// The latest finished cycle of an app.
#[derive(Debug, Clone)]
pub struct CycleRecord {
    pub checked_at: SystemTime,
    pub finished_at: SystemTime,
    pub duration: Duration,
    pub attempts: Vec<Attempt>,
    /// Every account of the cycle got a status.
    pub success: bool,
}

/// Counters of an app's API use since the app was first configured.
#[derive(Debug, Clone, Default)]
pub struct ApiStats {
    /// HTTP attempts, retries included.
    pub requests: u64,
    /// Attempts that repeated an earlier one.
    pub retries: u64,
    /// Failed attempts by error label.
    pub errors: BTreeMap<String, u64>,
    /// Accounts without a status in a reply that came, by label.
    pub account_errors: BTreeMap<String, u64>,
    pub latency: Latency,
}

/// A histogram of attempt durations over [`API_LATENCY_BUCKETS`].
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Per bucket, the attempts at or under its bound (cumulative, as exposed).
    pub cumulative: [u64; API_LATENCY_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

impl Latency {
    fn observe(&mut self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        for (bound, count) in API_LATENCY_BUCKETS.iter().zip(&mut self.cumulative) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }
}

/// Everything known about one app.
#[derive(Debug)]
pub struct AppData {
    /// The configuration in force.
    pub config: Arc<AppConfig>,
    /// Every configured UserID of the app, and its status.
    pub accounts: HashMap<String, AccountState>,
    pub last_cycle: Option<CycleRecord>,
    /// End of the latest cycle that got a status for every account.
    pub last_success: Option<SystemTime>,
    pub usersig_expiry: Option<SystemTime>,
    /// Cycles finished.
    pub cycles: u64,
    /// Cycles in a row, up to the latest, that left an account without a status.
    pub consecutive_failures: u64,
    pub api: ApiStats,
}

impl AppData {
    /// Takes a new configuration of the same app: keeps the status of accounts still in it.
    fn set_config(&mut self, config: &AppConfig) {
        let mut lists: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, list) in config.watchlists.iter().enumerate() {
            for id in &list.user_ids {
                lists.entry(id.as_str()).or_default().push(index);
            }
        }
        self.accounts
            .retain(|id, _| lists.contains_key(id.as_str()));
        for (id, indices) in lists {
            self.accounts
                .entry(id.to_owned())
                .or_insert_with(AccountState::not_checked)
                .lists = indices;
        }
        let old = std::mem::replace(&mut self.config, Arc::new(config.clone()));
        self.log_drift_changes_of_reload(&old);
    }

    /// A changed `expect`, or a known account moved to another list, can start or end a
    /// drift without any new check: logged like the drift changes of a cycle.
    fn log_drift_changes_of_reload(&self, old: &AppConfig) {
        let drifting = |config: &'_ AppConfig| -> HashSet<(String, String)> {
            config
                .watchlists
                .iter()
                .flat_map(|list| list.user_ids.iter().map(move |id| (list, id)))
                .filter(|(list, id)| {
                    self.accounts
                        .get(*id)
                        .and_then(|a| a.last_known)
                        .is_some_and(|known| known.drifts_from(list.expect))
                })
                .map(|(list, id)| (list.name.clone(), id.clone()))
                .collect()
        };
        let (before, after) = (drifting(old), drifting(&self.config));
        for (list, user_id) in after.difference(&before) {
            tracing::warn!(app = %self.config.name, watchlist = %list, user_id = %user_id,
                "account drifted after a configuration reload");
        }
        // Only where the account is still on the list: a removal is not a recovery.
        let listed = |list: &str, user_id: &str| {
            self.accounts.get(user_id).is_some_and(|a| {
                a.lists
                    .iter()
                    .any(|&i| self.config.watchlists[i].name == list)
            })
        };
        for (list, user_id) in before.difference(&after) {
            if listed(list, user_id) {
                tracing::info!(app = %self.config.name, watchlist = %list, user_id = %user_id,
                    "account back as expected after a configuration reload");
            }
        }
    }

    /// Whether an account has never been reported on by a cycle (it is new).
    pub fn has_unchecked(&self) -> bool {
        self.accounts.values().any(|a| !a.checked)
    }

    /// The status of a configured account (unknown if it is not configured).
    pub fn status(&self, user_id: &str) -> Status {
        self.accounts
            .get(user_id)
            .map_or(Status::Unknown, |a| a.status)
    }

    fn record_cycle(&mut self, report: &AppReport, finished_at: SystemTime) {
        let config = Arc::clone(&self.config);
        let mut seen = HashSet::with_capacity(report.accounts.len());
        for account in &report.accounts {
            if !seen.insert(account.user_id.as_str()) {
                continue;
            }
            if let Some(error) = account.error.as_ref().filter(|e| e.in_reply) {
                *self
                    .api
                    .account_errors
                    .entry(error.code.clone())
                    .or_default() += 1;
            }
            // An account removed by a reload during the cycle is not brought back.
            let Some(state) = self.accounts.get_mut(&account.user_id) else {
                continue;
            };
            let before = state.last_known;
            state.checked = true;
            state.status = account.status;
            state.error = account.error.clone();
            if account.status != Status::Unknown {
                state.last_known = Some(account.status);
            }
            log_drift_changes(&config, state, &account.user_id, before);
        }
        for attempt in &report.attempts {
            self.api.requests += 1;
            self.api.retries += u64::from(attempt.retry);
            if let Some(code) = &attempt.error {
                *self.api.errors.entry(code.clone()).or_default() += 1;
            }
            self.api.latency.observe(attempt.duration);
        }
        let success = report.success();
        self.cycles += 1;
        if success {
            self.last_success = Some(finished_at);
            self.consecutive_failures = 0;
        } else {
            self.consecutive_failures += 1;
        }
        self.last_cycle = Some(CycleRecord {
            checked_at: report.checked_at.unwrap_or(finished_at),
            finished_at,
            duration: report.duration,
            attempts: report.attempts.clone(),
            success,
        });
    }

    /// The app's accounts as a report, watch lists in configuration order.
    pub fn report(&self) -> AppReport {
        let accounts = self
            .config
            .watchlists
            .iter()
            .flat_map(|list| list.user_ids.iter().map(move |id| (list, id)))
            .map(|(list, id)| {
                let state = self.accounts.get(id);
                AccountReport {
                    watchlist: list.name.clone(),
                    user_id: id.clone(),
                    status: state.map_or(Status::Unknown, |s| s.status),
                    expected: list.expect,
                    error: state.and_then(|s| s.error.clone()),
                }
            })
            .collect();
        AppReport {
            name: self.config.name.clone(),
            region: self.config.region,
            sdkappid: self.config.sdkappid,
            checked_at: self.last_cycle.as_ref().map(|c| c.checked_at),
            duration: self
                .last_cycle
                .as_ref()
                .map_or(Duration::ZERO, |c| c.duration),
            attempts: self
                .last_cycle
                .as_ref()
                .map_or_else(Vec::new, |c| c.attempts.clone()),
            accounts,
        }
    }
}

/// A warning for every watch list on which the account went into drift, an info line
/// for every one on which it came back. Unknown results change nothing here.
fn log_drift_changes(
    config: &AppConfig,
    account: &AccountState,
    user_id: &str,
    before: Option<Status>,
) {
    let Some(after) = account.last_known.filter(|after| before != Some(*after)) else {
        return;
    };
    for list in account.lists.iter().map(|&i| &config.watchlists[i]) {
        let was = before.is_some_and(|s| s.drifts_from(list.expect));
        let is = after.drifts_from(list.expect);
        if is && !was {
            tracing::warn!(app = %config.name, watchlist = %list.name, user_id,
                status = after.as_str(), expected = list.expect.as_str(), "account drifted");
        } else if was && !is {
            tracing::info!(app = %config.name, watchlist = %list.name, user_id,
                status = after.as_str(), "account back as expected");
        }
    }
}

#[cfg(test)]
mod tests;
