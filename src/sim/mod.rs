//! A simulator of `account_check` for tests, benchmarks and the demo.
//!
//! It checks requests the way the real service does (query parameters, the UserSig by
//! decoding and HMAC, the admin identifier, 1..=100 items, the call rate), answering each
//! problem with the real error code, and it can inject every failure the client must
//! survive: scripted per app for tests, or at random for the demo and benchmarks.

mod fault;
mod server;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

pub use fault::Fault;

use crate::tim::Secret;

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

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub apps: Vec<SimApp>,
    /// Added before every reply.
    pub latency: Duration,
    /// Probability that a request gets one of `fault_kinds`.
    pub fault_rate: f64,
    pub fault_kinds: Vec<Fault>,
    /// Calls per app in any one-second window before 60007 is returned.
    pub rate_limit: u32,
    /// The status of accounts not set with [`Simulator::set_account`].
    pub default_account: SimAccount,
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
            default_account: SimAccount::Imported,
            hang: Duration::from_secs(600),
        }
    }
}

/// Counters of one app, as seen by the simulator.
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
}

#[derive(Default)]
struct AppLog {
    arrivals: Vec<Instant>,
    error_codes: HashMap<i64, usize>,
    items: usize,
    max_items: usize,
    /// Arrivals of the last second, for the rate check.
    window: VecDeque<Instant>,
    randoms: HashSet<u32>,
    json_requests: usize,
}

struct AppState {
    app: SimApp,
    accounts: Mutex<HashMap<String, SimAccount>>,
    scripted: Mutex<VecDeque<Fault>>,
    log: Mutex<AppLog>,
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
                    scripted: Mutex::default(),
                    log: Mutex::default(),
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

    /// The next requests of the app get these faults, one each, in order.
    pub fn push_faults(&self, sdkappid: u64, faults: impl IntoIterator<Item = Fault>) {
        self.app(sdkappid)
            .scripted
            .lock()
            .expect("faults lock")
            .extend(faults);
    }

    /// Counters of one app since start (or the last [`Simulator::reset_stats`]).
    pub fn stats(&self, sdkappid: u64) -> SimStats {
        self.inner.stats(sdkappid)
    }

    pub fn reset_stats(&self, sdkappid: u64) {
        *self.app(sdkappid).log.lock().expect("log lock") = AppLog::default();
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
    pub(crate) fn stats(&self, sdkappid: u64) -> SimStats {
        let Some(app) = self.apps.get(&sdkappid) else {
            return SimStats::default();
        };
        let log = app.log.lock().expect("log lock");
        SimStats {
            requests: log.arrivals.len(),
            max_requests_in_one_second: max_in_window(&log.arrivals, Duration::from_secs(1)),
            error_codes: log.error_codes.clone(),
            items: log.items,
            max_items: log.max_items,
            distinct_randoms: log.randoms.len(),
            json_requests: log.json_requests,
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
}
