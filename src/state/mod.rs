//! The daemon's memory and the one account model every output reads: per app, one entry
//! per distinct UserID with the latest result of each check it needs, per watch list the
//! counts, and the API statistics.
//!
//! The scheduler writes it (after each cycle, and on reload); `--once` records its single
//! cycle here too. `/metrics`, the status page, `/api/v1/status` and the `--once` output
//! only read it. It does no I/O and knows nothing of Prometheus. A reload that leaves an
//! app in place keeps what is known about its remaining accounts.

mod account;
mod api;
mod counts;
mod drift_log;

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

pub use account::{Account, Observed, PresenceValue, Status};
pub use api::{ApiStats, Latency, API_LATENCY_BUCKETS};
pub use counts::{ListCounts, PresenceCounts};

use crate::config::{AppConfig, Config};
use crate::shard::Shard;
use crate::tim::{AccountResult, Api, Attempt, PresenceResult, Region, Unknown};

/// Every configured UserID of an app, once, and what is known of it. A map of entries in
/// one vector and an index of their positions: at a million accounts it takes half the
/// memory of a `HashMap`, whose buckets (a power of two, at most 7/8 full) each hold a
/// whole entry. Readers go by the watch lists' order, never by the map's.
pub type Accounts = indexmap::IndexMap<String, Account>;

/// Every app the daemon watches, in configuration order.
#[derive(Debug, Default)]
pub struct State {
    apps: RwLock<Vec<Arc<AppState>>>,
    /// Set once every app has finished a cycle; stays set across reloads.
    ready: AtomicBool,
    /// The shard whose accounts these are, from the configuration in force.
    shard: RwLock<Shard>,
    /// Reconciliations so far: with each app's version, tells readers what changed.
    generation: AtomicU64,
    /// Held by a reconciliation from start to end.
    reconciling: Mutex<()>,
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
        // A panic elsewhere while this was held must not take every reader down with it.
        self.apps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The shard whose accounts the state holds.
    pub fn shard(&self) -> Shard {
        *self.shard.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the state is at: it differs from an earlier one as soon as a cycle, a failed
    /// loop, a new UserSig or a reload changed anything. `/metrics` renders anew only then.
    pub fn version(&self) -> Vec<u64> {
        let apps = self.apps.read().unwrap_or_else(PoisonError::into_inner);
        let mut version = Vec::with_capacity(apps.len() + 1);
        // Read first: a reconciliation during the read shows in the next version.
        version.push(self.generation.load(Ordering::Acquire));
        version.extend(apps.iter().map(|app| app.version.load(Ordering::Acquire)));
        version
    }

    /// Makes the state match a new configuration and returns its apps in order.
    ///
    /// An app keeps its state when its name, region, SDKAppID and endpoint are unchanged
    /// (it is the same app): accounts still configured keep their results, new ones start
    /// unknown, removed ones are gone. Any other app starts afresh.
    ///
    /// The work on each app (a million accounts take a second or two) is done before the
    /// list of apps is swapped, so readers, `/metrics` among them, are not held up by it.
    pub fn reconcile(&self, config: &Config) -> Vec<Arc<AppState>> {
        // One reconciliation at a time: each starts from the apps the one before left.
        let _one = self
            .reconciling
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Readiness reached before this reload stays, even if nobody has asked yet.
        self.ready();
        let mut old: HashMap<String, Arc<AppState>> = self
            .apps()
            .into_iter()
            .map(|app| (app.identity.name.clone(), app))
            .collect();
        let apps: Vec<Arc<AppState>> = config
            .apps
            .iter()
            .map(|config| match old.remove(&config.name) {
                Some(app) if app.identity == Identity::of(config) => {
                    app.write().set_config(Arc::clone(config));
                    app
                }
                _ => Arc::new(AppState::new(Arc::clone(config))),
            })
            .collect();
        *self.shard.write().unwrap_or_else(PoisonError::into_inner) = config.shard;
        *self.apps.write().unwrap_or_else(PoisonError::into_inner) = apps.clone();
        self.generation.fetch_add(1, Ordering::AcqRel);
        apps
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

/// What one cycle of an app found, as the client returned it.
#[derive(Debug)]
pub struct Cycle {
    /// When the cycle started.
    pub checked_at: SystemTime,
    pub duration: Duration,
    /// The import status of every distinct UserID of the app.
    pub import: HashMap<String, AccountResult>,
    /// The presence of every distinct UserID of the app's lists that check it.
    pub presence: HashMap<String, PresenceResult>,
    /// Every HTTP attempt of the cycle, retries included, of both APIs.
    pub attempts: Vec<Attempt>,
    /// When the UserSig the cycle used expires.
    pub usersig_expiry: SystemTime,
}

impl Cycle {
    /// Whether every account got every result it needed.
    pub fn success(&self) -> bool {
        self.import.values().all(Result::is_ok) && self.presence.values().all(Result::is_ok)
    }
}

/// One app's state, shared by its scheduler loop and the readers.
#[derive(Debug)]
pub struct AppState {
    identity: Identity,
    data: Mutex<AppData>,
    /// Changes so far, counted as each write ends.
    version: AtomicU64,
}

/// An app's data, locked for reading.
#[derive(Debug)]
pub struct Locked<'a>(MutexGuard<'a, AppData>);

impl Deref for Locked<'_> {
    type Target = AppData;

    fn deref(&self) -> &AppData {
        &self.0
    }
}

/// An app's data, locked for a change: the app's version moves on when it is dropped,
/// still under the lock, so a reader that sees the old version renders again.
struct Written<'a> {
    data: MutexGuard<'a, AppData>,
    version: &'a AtomicU64,
}

impl Deref for Written<'_> {
    type Target = AppData;

    fn deref(&self) -> &AppData {
        &self.data
    }
}

impl DerefMut for Written<'_> {
    fn deref_mut(&mut self) -> &mut AppData {
        &mut self.data
    }
}

impl Drop for Written<'_> {
    fn drop(&mut self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }
}

impl AppState {
    /// State for one app: every account unknown, no cycle run.
    pub fn new(config: Arc<AppConfig>) -> Self {
        let mut data = AppData {
            config: Arc::clone(&config),
            accounts: Accounts::default(),
            counts: Vec::new(),
            last_cycle: None,
            last_success: None,
            usersig_expiry: None,
            cycles: 0,
            consecutive_failures: 0,
            loop_restarts: 0,
            api: Default::default(),
        };
        data.set_config(Arc::clone(&config));
        AppState {
            identity: Identity::of(&config),
            data: Mutex::new(data),
            version: AtomicU64::new(0),
        }
    }

    /// The app's data, locked for reading. Hold it briefly: the scheduler waits on it to
    /// record a cycle.
    ///
    /// A panic while it was held (a bug) leaves the lock poisoned; the data is taken as it
    /// is rather than failing every later reader: counts are recomputed on every change,
    /// and the loop that panicked marks the app unknown when it restarts.
    pub fn lock(&self) -> Locked<'_> {
        Locked(self.data.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The app's data, locked for a change. Every change goes through here.
    fn write(&self) -> Written<'_> {
        Written {
            data: self.data.lock().unwrap_or_else(PoisonError::into_inner),
            version: &self.version,
        }
    }

    /// Records that the app's check loop failed (panicked) and is restarting: every
    /// result becomes unknown with that reason, so nothing stale reads as current.
    pub fn loop_failed(&self, at: SystemTime) {
        let mut data = self.write();
        data.loop_restarts += 1;
        data.consecutive_failures += 1;
        if let Some(last) = data.last_cycle.as_mut() {
            last.success = false;
        }
        let failed = Arc::new(Unknown {
            code: "loop_failed".to_owned(),
            message: "the app's check loop failed and is restarting".to_owned(),
            in_reply: false,
        });
        for account in data.accounts.values_mut() {
            account.import.record(Err(Arc::clone(&failed)), at);
            if let Some(presence) = account.presence.as_mut() {
                presence.record(Err(Arc::clone(&failed)), at);
                account.platforms = Box::default();
            }
        }
        data.count();
    }

    /// Records a finished cycle: results, API statistics, counts, and drift changes in the
    /// log.
    pub fn record_cycle(&self, cycle: &Cycle) {
        let finished_at = SystemTime::now();
        self.write().record_cycle(cycle, finished_at);
    }

    /// Records when the app's current UserSig expires.
    pub fn set_usersig_expiry(&self, expiry: SystemTime) {
        self.write().usersig_expiry = Some(expiry);
    }
}

/// The latest finished cycle of an app.
#[derive(Debug, Clone)]
pub struct CycleRecord {
    pub checked_at: SystemTime,
    pub finished_at: SystemTime,
    pub duration: Duration,
    /// HTTP attempts of both APIs, retries included.
    pub calls: usize,
    /// Every account got every result it needed.
    pub success: bool,
}

/// Everything known about one app.
#[derive(Debug)]
pub struct AppData {
    /// The configuration in force.
    pub config: Arc<AppConfig>,
    /// Every configured UserID of the app, once, and what is known of it.
    pub accounts: Accounts,
    /// The counts of each watch list, in configuration order.
    pub counts: Vec<ListCounts>,
    pub last_cycle: Option<CycleRecord>,
    /// End of the latest cycle that got every result.
    pub last_success: Option<SystemTime>,
    pub usersig_expiry: Option<SystemTime>,
    /// Cycles finished.
    pub cycles: u64,
    /// Cycles in a row, up to the latest, that left a result unknown (a failed loop counts
    /// as one).
    pub consecutive_failures: u64,
    /// Times the app's check loop failed and was restarted.
    pub loop_restarts: u64,
    api: [ApiStats; 2],
}

impl AppData {
    /// Takes a new configuration of the same app: keeps what is known of accounts still
    /// in it, and starts a presence check where a list newly asks for one.
    fn set_config(&mut self, config: Arc<AppConfig>) {
        // Most accounts are in one list: its index is kept apart, and a vector made only
        // for the few in more.
        let listed = config.watchlists.iter().map(|l| l.user_ids.len()).sum();
        let mut lists: HashMap<&str, (u32, Vec<u32>, bool)> = HashMap::with_capacity(listed);
        for (index, list) in config.watchlists.iter().enumerate() {
            // Watch lists are few: validation bounds the configuration's size.
            let index = u32::try_from(index).expect("fewer than 2^32 watch lists");
            for id in &list.user_ids {
                let (first, more, presence) =
                    lists
                        .entry(id.as_str())
                        .or_insert((index, Vec::new(), false));
                if *first != index {
                    more.push(index);
                }
                *presence |= list.presence.is_some();
            }
        }
        self.accounts
            .retain(|id, _| lists.contains_key(id.as_str()));
        self.accounts
            .reserve(lists.len().saturating_sub(self.accounts.len()));
        for (id, (first, more, presence)) in lists {
            // An account kept from the configuration before costs no copy of its UserID.
            let index = match self.accounts.get_index_of(id) {
                Some(index) => index,
                None => self.accounts.insert_full(id.to_owned(), Account::new()).0,
            };
            let account = &mut self.accounts[index];
            // Most reloads leave an account's lists as they were: no new allocation then.
            if account.lists.split_first() != Some((&first, more.as_slice())) {
                account.lists = std::iter::once(first).chain(more).collect();
            }
            match (presence, &account.presence) {
                (true, None) => account.presence = Some(Box::new(Observed::not_checked())),
                (false, Some(_)) => {
                    account.presence = None;
                    account.platforms = Box::default();
                }
                _ => {}
            }
        }
        self.accounts.shrink_to_fit();
        let old = std::mem::replace(&mut self.config, config);
        drift_log::log_reload_changes(&old, &self.config, &self.accounts);
        self.count();
    }

    fn count(&mut self) {
        self.counts = self
            .config
            .watchlists
            .iter()
            .map(|list| counts::count(list, &self.accounts))
            .collect();
    }

    /// The counters of one API.
    pub fn api(&self, api: Api) -> &ApiStats {
        &self.api[usize::from(api == Api::QueryOnlineStatus)]
    }

    fn api_mut(&mut self, api: Api) -> &mut ApiStats {
        &mut self.api[usize::from(api == Api::QueryOnlineStatus)]
    }

    /// Whether a check an account needs has never reported on it (it is new).
    pub fn has_unchecked(&self) -> bool {
        self.accounts.values().any(Account::has_unchecked)
    }

    /// The import status of a configured account (unknown if it is not configured).
    pub fn status(&self, user_id: &str) -> Status {
        self.accounts
            .get(user_id)
            .map_or(Status::Unknown, Account::status)
    }

    fn record_cycle(&mut self, cycle: &Cycle, finished_at: SystemTime) {
        let config = Arc::clone(&self.config);
        let at = cycle.checked_at;
        let count_in_reply = |stats: &mut ApiStats, error: Option<&crate::tim::Unknown>| {
            if let Some(error) = error.filter(|e| e.in_reply) {
                *stats.account_errors.entry(error.code.clone()).or_default() += 1;
            }
        };
        // One reason is kept once, however many accounts it left unknown.
        let mut reasons: HashMap<&Unknown, Arc<Unknown>> = HashMap::new();
        for (id, result) in &cycle.import {
            count_in_reply(self.api_mut(Api::AccountCheck), result.as_ref().err());
            // An account removed by a reload during the cycle is not brought back.
            let Some(account) = self.accounts.get_mut(id) else {
                continue;
            };
            let change = account.import.record(
                result.as_ref().copied().map_err(|e| share(&mut reasons, e)),
                at,
            );
            drift_log::log_cycle_changes(&config, id, account, change, None);
        }
        for (id, result) in &cycle.presence {
            count_in_reply(self.api_mut(Api::QueryOnlineStatus), result.as_ref().err());
            let Some(account) = self.accounts.get_mut(id) else {
                continue;
            };
            // A list that stopped checking presence during the cycle takes no result.
            let Some(presence) = account.presence.as_mut() else {
                continue;
            };
            let change = presence.record(
                result
                    .as_ref()
                    .map(|p| p.status)
                    .map_err(|e| share(&mut reasons, e)),
                at,
            );
            account.platforms = result
                .as_ref()
                .map_or_else(|_| Box::default(), |p| p.platforms.as_slice().into());
            drift_log::log_cycle_changes(&config, id, account, None, change);
        }
        for attempt in &cycle.attempts {
            self.api_mut(attempt.api).record(attempt);
        }
        let success = cycle.success();
        self.cycles += 1;
        if success {
            self.last_success = Some(finished_at);
            self.consecutive_failures = 0;
        } else {
            self.consecutive_failures += 1;
        }
        self.usersig_expiry = Some(cycle.usersig_expiry);
        self.last_cycle = Some(CycleRecord {
            checked_at: cycle.checked_at,
            finished_at,
            duration: cycle.duration,
            calls: cycle.attempts.len(),
            success,
        });
        self.count();
    }
}

/// `error` as kept in the state: the one copy of it in `reasons`, made on first sight.
fn share<'a>(reasons: &mut HashMap<&'a Unknown, Arc<Unknown>>, error: &'a Unknown) -> Arc<Unknown> {
    Arc::clone(
        reasons
            .entry(error)
            .or_insert_with(|| Arc::new(error.clone())),
    )
}

#[cfg(test)]
mod tests;
