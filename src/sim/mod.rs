//! A simulator of `account_check` and `query_online_status` for tests, benchmarks and the
//! demo.
//!
//! It checks requests the way the real service does (query parameters, the UserSig by
//! decoding and HMAC, the admin identifier, the number of items, each API's call rate),
//! answering each problem with the real error code, and it can inject every failure the
//! client must survive into either API: scripted per app and API for tests, or at random
//! for the demo and benchmarks.

mod api;
mod fault;
mod server;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use fault::Fault;

use crate::tim::Secret;
use api::Api;

/// An app the simulator knows.
#[derive(Debug, Clone)]
pub struct SimApp {
    pub sdkappid: u64,
    pub admin: String,
    pub key: Secret,
}

impl std::str::FromStr for SimApp {
    type Err = String;

    /// `SDKAPPID:ADMIN:KEY`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, ':');
        let (Some(id), Some(admin), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("expected SDKAPPID:ADMIN:KEY".to_owned());
        };
        let sdkappid = id
            .parse()
            .map_err(|_| format!("SDKAppID {id:?} is not a number"))?;
        if admin.is_empty() || key.is_empty() {
            return Err("expected SDKAPPID:ADMIN:KEY with a non-empty admin and key".to_owned());
        }
        Ok(SimApp {
            sdkappid,
            admin: admin.to_owned(),
            key: Secret::new(key),
        })
    }
}

/// What the simulator says about one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimAccount {
    Imported,
    NotImported,
    /// The account's item always fails with this ResultCode.
    ItemError(i64),
}

/// A login status, as query_online_status spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimPresenceStatus {
    /// The long connection is up.
    Online,
    /// The connection dropped but offline push still reaches the device.
    PushOnline,
    /// Logged out.
    Offline,
}

impl SimPresenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SimPresenceStatus::Online => "Online",
            SimPresenceStatus::PushOnline => "PushOnline",
            SimPresenceStatus::Offline => "Offline",
        }
    }
}

/// What the simulator says about the login state of one imported account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPresence {
    pub status: SimPresenceStatus,
    /// The `Detail` of the reply: each platform with its own status.
    pub platforms: Vec<(String, SimPresenceStatus)>,
}

impl SimPresence {
    fn on(status: SimPresenceStatus, platform: &str) -> Self {
        SimPresence {
            status,
            platforms: vec![(platform.to_owned(), status)],
        }
    }

    /// Online on Android.
    pub fn online() -> Self {
        Self::on(SimPresenceStatus::Online, "Android")
    }

    /// Reachable by push on an iPhone.
    pub fn push_online() -> Self {
        Self::on(SimPresenceStatus::PushOnline, "iPhone")
    }

    /// Offline, on no platform.
    pub fn offline() -> Self {
        SimPresence {
            status: SimPresenceStatus::Offline,
            platforms: Vec::new(),
        }
    }
}

impl Default for SimPresence {
    fn default() -> Self {
        Self::online()
    }
}

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub apps: Vec<SimApp>,
    /// Added before every reply.
    pub latency: Duration,
    /// Probability that a request gets one of `fault_kinds`.
    pub fault_rate: f64,
    pub fault_kinds: Vec<Fault>,
    /// account_check calls per app in any one-second window before 60007 is returned.
    pub rate_limit: u32,
    /// query_online_status calls per app in any one-second window before 60007, counted
    /// apart from `rate_limit`.
    pub presence_rate_limit: u32,
    /// The status of accounts not set with [`Simulator::set_account`].
    pub default_account: SimAccount,
    /// The presence of imported accounts not set with [`Simulator::set_presence`].
    pub default_presence: SimPresence,
    /// How long a `Timeout` fault holds the request.
    pub hang: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            apps: Vec::new(),
            latency: Duration::ZERO,
            fault_rate: 0.0,
            fault_kinds: Fault::TRANSIENT.to_vec(),
            rate_limit: 100,
            presence_rate_limit: 200,
            default_account: SimAccount::Imported,
            default_presence: SimPresence::online(),
            hang: Duration::from_secs(600),
        }
    }
}

/// Counters of one API of one app, as seen by the simulator.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SimStats {
    /// Requests that reached the app (identified by a known `sdkappid`).
    pub requests: usize,
    /// The most requests that arrived in any one-second window.
    pub max_requests_in_one_second: usize,
    /// Replies by ErrorCode (0 for success); HTTP-level faults are not counted here.
    pub error_codes: HashMap<i64, usize>,
    /// UserIDs asked about, over all requests.
    pub items: usize,
    /// The largest number of items in one request.
    pub max_items: usize,
    /// Distinct values of the `random` parameter (the client draws one per attempt).
    pub distinct_randoms: usize,
    /// Requests that carried `Content-Type: application/json`.
    pub json_requests: usize,
    /// Milliseconds from the first request's arrival to the last's.
    pub arrival_span_ms: u64,
}

#[derive(Default)]
struct ApiLog {
    arrivals: Vec<Instant>,
    error_codes: HashMap<i64, usize>,
    items: usize,
    max_items: usize,
    /// Arrivals of the last second, for the rate check.
    window: VecDeque<Instant>,
    randoms: HashSet<u32>,
    json_requests: usize,
}

/// What one API of one app has been told and has seen.
#[derive(Default)]
struct ApiState {
    scripted: Mutex<VecDeque<Fault>>,
    log: Mutex<ApiLog>,
}

struct AppState {
    app: SimApp,
    accounts: Mutex<HashMap<String, SimAccount>>,
    presences: Mutex<HashMap<String, SimPresence>>,
    account_check: ApiState,
    query_online_status: ApiState,
}

impl AppState {
    fn api(&self, api: Api) -> &ApiState {
        match api {
            Api::AccountCheck => &self.account_check,
            Api::QueryOnlineStatus => &self.query_online_status,
        }
    }
}

pub(crate) struct Inner {
    options: SimOptions,
    apps: HashMap<u64, AppState>,
    /// Every UserSig received, so tests can look for them where they must not be.
    usersigs: Mutex<HashSet<String>>,
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    inner: Arc<Inner>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Serves the simulator on `listener` until the returned value is dropped.
    pub fn serve(listener: tokio::net::TcpListener, options: SimOptions) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let apps = options
            .apps
            .iter()
            .map(|app| {
                let state = AppState {
                    app: app.clone(),
                    accounts: Mutex::default(),
                    presences: Mutex::default(),
                    account_check: ApiState::default(),
                    query_online_status: ApiState::default(),
                };
                (app.sdkappid, state)
            })
            .collect();
        let inner = Arc::new(Inner {
            options,
            apps,
            usersigs: Mutex::default(),
        });
        let server = tokio::spawn(server::run(listener, Arc::clone(&inner)));
        Ok(Simulator {
            inner,
            addr,
            server,
        })
    }

    /// Binds `127.0.0.1:0` and serves there.
    pub async fn start(options: SimOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::serve(listener, options)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure as an app's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn app(&self, sdkappid: u64) -> &AppState {
        self.inner
            .apps
            .get(&sdkappid)
            .unwrap_or_else(|| panic!("the simulator has no app {sdkappid}"))
    }

    /// Sets what the simulator says about one account of an app.
    pub fn set_account(&self, sdkappid: u64, user_id: &str, account: SimAccount) {
        self.app(sdkappid)
            .accounts
            .lock()
            .expect("accounts lock")
            .insert(user_id.to_owned(), account);
    }

    /// Sets the presence of one account of an app; it shows while the account is imported.
    pub fn set_presence(&self, sdkappid: u64, user_id: &str, presence: SimPresence) {
        self.app(sdkappid)
            .presences
            .lock()
            .expect("presences lock")
            .insert(user_id.to_owned(), presence);
    }

    fn push(&self, sdkappid: u64, api: Api, faults: impl IntoIterator<Item = Fault>) {
        self.app(sdkappid)
            .api(api)
            .scripted
            .lock()
            .expect("faults lock")
            .extend(faults);
    }

    /// The next account_check requests of the app get these faults, one each, in order.
    pub fn push_faults(&self, sdkappid: u64, faults: impl IntoIterator<Item = Fault>) {
        self.push(sdkappid, Api::AccountCheck, faults);
    }

    /// The next query_online_status requests of the app get these faults, one each, in order.
    pub fn push_presence_faults(&self, sdkappid: u64, faults: impl IntoIterator<Item = Fault>) {
        self.push(sdkappid, Api::QueryOnlineStatus, faults);
    }

    /// account_check counters of one app since start (or the last [`Simulator::reset_stats`]).
    pub fn stats(&self, sdkappid: u64) -> SimStats {
        self.inner.stats(sdkappid, Api::AccountCheck)
    }

    /// query_online_status counters of one app since start (or the last
    /// [`Simulator::reset_stats`]).
    pub fn presence_stats(&self, sdkappid: u64) -> SimStats {
        self.inner.stats(sdkappid, Api::QueryOnlineStatus)
    }

    /// Clears the counters of both APIs of one app.
    pub fn reset_stats(&self, sdkappid: u64) {
        let app = self.app(sdkappid);
        for api in Api::ALL {
            *app.api(api).log.lock().expect("log lock") = ApiLog::default();
        }
    }

    /// Every distinct UserSig received so far.
    pub fn usersigs_seen(&self) -> Vec<String> {
        self.inner
            .usersigs
            .lock()
            .expect("usersig lock")
            .iter()
            .cloned()
            .collect()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Inner {
    fn stats(&self, sdkappid: u64, api: Api) -> SimStats {
        let Some(app) = self.apps.get(&sdkappid) else {
            return SimStats::default();
        };
        let log = app.api(api).log.lock().expect("log lock");
        SimStats {
            requests: log.arrivals.len(),
            max_requests_in_one_second: max_in_window(&log.arrivals, Duration::from_secs(1)),
            error_codes: log.error_codes.clone(),
            items: log.items,
            max_items: log.max_items,
            distinct_randoms: log.randoms.len(),
            json_requests: log.json_requests,
            arrival_span_ms: match (log.arrivals.first(), log.arrivals.last()) {
                (Some(first), Some(last)) => {
                    u64::try_from(last.duration_since(*first).as_millis()).unwrap_or(u64::MAX)
                }
                _ => 0,
            },
        }
    }
}

/// The most instants of a sorted list that fall in any half-open window of `width`.
fn max_in_window(sorted: &[Instant], width: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, at) in sorted.iter().enumerate() {
        while at.duration_since(sorted[start]) >= width {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counting() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let second = Duration::from_secs(1);
        assert_eq!(max_in_window(&[], second), 0);
        assert_eq!(max_in_window(&[at(0), at(999)], second), 2);
        assert_eq!(max_in_window(&[at(0), at(1000)], second), 1);
        let spread = [at(0), at(10), at(1005), at(1009), at(1500)];
        assert_eq!(max_in_window(&spread, second), 3);
        let bunched = [at(0), at(10), at(20), at(999), at(1500)];
        assert_eq!(max_in_window(&bunched, second), 4);
    }

    #[test]
    fn app_spec_parsing() {
        let app: SimApp = "1400000000:administrator:k:with:colons".parse().unwrap();
        assert_eq!(app.sdkappid, 1_400_000_000);
        assert_eq!(app.admin, "administrator");
        assert_eq!(app.key.expose(), "k:with:colons");
        assert!("1400000000:admin".parse::<SimApp>().is_err());
        assert!("x:admin:key".parse::<SimApp>().is_err());
    }

    #[test]
    fn presences() {
        assert_eq!(SimPresence::default(), SimPresence::online());
        for (presence, status, platforms) in [
            (SimPresence::online(), "Online", vec!["Android"]),
            (SimPresence::push_online(), "PushOnline", vec!["iPhone"]),
            (SimPresence::offline(), "Offline", vec![]),
        ] {
            assert_eq!(presence.status.as_str(), status);
            let names: Vec<&str> = presence.platforms.iter().map(|p| p.0.as_str()).collect();
            assert_eq!(names, platforms);
            assert!(presence.platforms.iter().all(|p| p.1 == presence.status));
        }
    }
}
