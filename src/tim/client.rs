//! The client of one app: UserSig upkeep, batching, pacing and retries, for account_check
//! and query_online_status.
//!
//! [`Client::check`] and [`Client::presence`] take distinct UserIDs and return a result
//! for every one of them. A failure never turns into `NotImported` or `Offline`: an
//! account the service did not clearly answer for is [`Unknown`], with the reason kept.
//! Both APIs share the app's UserSig and its 70050 pause; each has its own pacer. The
//! client does no logging above `debug`; callers summarise a cycle.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use futures_util::stream::{FuturesOrdered, StreamExt};
use reqwest::header::CONTENT_TYPE;

use super::api::Api;
use super::error::{from_reqwest, AttemptError};
use super::matcher;
use super::pacer::Pacer;
use super::presence::{self, Presence};
use super::retry::{backoff, classify, RetryClass};
use super::secret::Secret;
use super::signer::{Now, Signer, SignerSettings};
use super::wire::{self, AccountStatus, DecodeError, Reply, MAX_REPLY_BYTES};

/// How long no call is made for an app after ErrorCode 70050.
pub const LOCKOUT_AFTER_70050: Duration = Duration::from_secs(60);

/// Everything a client needs to know about its app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The app's name, used in log fields only.
    pub name: String,
    /// Scheme and host (and optional path prefix) of the REST API, without trailing `/`.
    pub endpoint: String,
    pub sdkappid: u64,
    /// The admin UserID, sent as `identifier` and signed into the UserSig.
    pub admin: String,
    pub key: Secret,
    /// The limit of one HTTP attempt.
    pub timeout: Duration,
    /// Extra attempts for retryable failures.
    pub retries: u32,
    /// Most account_check calls started in any one-second window, retries included.
    pub rate_limit: NonZeroU32,
    /// Most query_online_status calls started in any one-second window, retries included.
    pub presence_rate_limit: NonZeroU32,
    pub usersig_ttl: Duration,
}

/// Why the status of an account is not known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unknown {
    /// A bounded label: an error code in decimal, `timeout`, `connect`, `http_<status>`,
    /// `decode`, `missing`, `bad_status`, `other` or `deadline`.
    pub code: String,
    /// A sentence for people; never contains a secret.
    pub message: String,
    /// Whether a reply came and its item for this account carried no status (a
    /// `ResultCode`, a bad `AccountStatus`, or no item at all), rather than the call failing.
    pub in_reply: bool,
}

/// The result for one account: its status, or why it is unknown.
pub type AccountResult = Result<AccountStatus, Unknown>;

/// The presence of one account, or why it is unknown.
pub type PresenceResult = Result<Presence, Unknown>;

/// One HTTP attempt, for latency and error accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub api: Api,
    pub duration: Duration,
    /// `None` when the attempt got a usable reply, else the error label.
    pub error: Option<String>,
    /// Whether this attempt repeated an earlier one of the same batch.
    pub retry: bool,
}

/// What one [`Client::check`] or [`Client::presence`] found.
#[derive(Debug)]
pub struct Outcome<T> {
    /// One entry per requested UserID.
    pub accounts: HashMap<String, Result<T, Unknown>>,
    /// Every HTTP attempt, in no particular order.
    pub attempts: Vec<Attempt>,
}

impl<T> Default for Outcome<T> {
    fn default() -> Self {
        Outcome {
            accounts: HashMap::new(),
            attempts: Vec::new(),
        }
    }
}

/// What one [`Client::check`] found.
pub type CheckOutcome = Outcome<AccountStatus>;

/// What one [`Client::presence`] found.
pub type PresenceOutcome = Outcome<Presence>;

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// The client of one app. Holds one keep-alive connection pool, one UserSig, and a pacer
/// per API.
pub struct Client {
    settings: ClientSettings,
    http: reqwest::Client,
    endpoints: [Endpoint; 2],
    signer: Signer,
    lockout: Lockout,
}

/// One API of the app: where it is, its pace, and whether a stray reply item was logged.
struct Endpoint {
    api: Api,
    url: reqwest::Url,
    pacer: Pacer,
    warned_unrequested: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .field("usersig", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(settings: ClientSettings) -> Result<Self, ClientError> {
        let endpoint = |api: Api, rate_limit| {
            let url = reqwest::Url::parse(&format!("{}{}", settings.endpoint, api.path()))
                .map_err(|e| ClientError::Endpoint {
                    endpoint: settings.endpoint.clone(),
                    reason: e.to_string(),
                })?;
            Ok::<_, ClientError>(Endpoint {
                api,
                url,
                pacer: Pacer::new(rate_limit),
                warned_unrequested: AtomicBool::new(false),
            })
        };
        let endpoints = [
            endpoint(Api::AccountCheck, settings.rate_limit)?,
            endpoint(Api::QueryOnlineStatus, settings.presence_rate_limit)?,
        ];
        let http = reqwest::Client::builder()
            .user_agent(concat!("tim-account-exporter/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            // A redirect would carry the UserSig to another host.
            .redirect(reqwest::redirect::Policy::none())
            // Every attempt must pass the pacer and be counted, so reqwest retries nothing.
            .retry(reqwest::retry::never())
            .build()
            .map_err(|e| ClientError::Http(e.without_url().to_string()))?;
        let signer = Signer::new(
            SignerSettings {
                sdkappid: settings.sdkappid,
                admin: settings.admin.clone(),
                key: settings.key.clone(),
                ttl: settings.usersig_ttl,
            },
            Now::real(),
        );
        Ok(Client {
            http,
            endpoints,
            signer,
            lockout: Lockout::default(),
            settings,
        })
    }

    /// When the current UserSig expires.
    pub fn usersig_expiry(&self) -> SystemTime {
        self.signer.expiry()
    }

    /// Fails while the app is locked out after 70050.
    fn check_lockout(&self) -> Result<(), Unknown> {
        match self.lockout.left(Instant::now()) {
            None => Ok(()),
            Some(left) => Err(Unknown {
                code: "70050".to_owned(),
                message: format!(
                    "no calls for {}s after ErrorCode 70050 (UserSig refused too often; check the secret key)",
                    left.as_secs() + u64::from(left.subsec_nanos() > 0)
                ),
                in_reply: false,
            }),
        }
    }

    fn endpoint(&self, api: Api) -> &Endpoint {
        &self.endpoints[usize::from(api == Api::QueryOnlineStatus)]
    }

    /// Checks whether the given UserIDs are imported, at most 100 per call, all calls
    /// concurrent but paced by `rate_limit`. Retries stop at `deadline`; every UserID gets
    /// a result.
    pub async fn check(&self, user_ids: &[impl AsRef<str>], deadline: Instant) -> CheckOutcome {
        self.query(
            Api::AccountCheck,
            user_ids,
            deadline,
            wire::request_body,
            wire::parse_reply,
        )
        .await
    }

    /// Asks whether the given UserIDs are online, at most 500 per call, all calls
    /// concurrent but paced by `presence_rate_limit`. Retries stop at `deadline`; every
    /// UserID gets a result.
    pub async fn presence(
        &self,
        user_ids: &[impl AsRef<str>],
        deadline: Instant,
    ) -> PresenceOutcome {
        self.query(
            Api::QueryOnlineStatus,
            user_ids,
            deadline,
            presence::request_body,
            presence::parse_reply,
        )
        .await
    }

    /// Asks `api` about every distinct UserID once, in batches of its `max_items`.
    async fn query<T: Clone + PartialEq>(
        &self,
        api: Api,
        user_ids: &[impl AsRef<str>],
        deadline: Instant,
        body: fn(&[&str]) -> Vec<u8>,
        parse: fn(&[u8]) -> Result<Reply<T>, DecodeError>,
    ) -> Outcome<T> {
        let mut seen = HashSet::with_capacity(user_ids.len());
        let distinct: Vec<&str> = user_ids
            .iter()
            .map(AsRef::as_ref)
            .filter(|id| seen.insert(*id))
            .collect();
        let endpoint = self.endpoint(api);
        // Each batch is merged as it completes, so that a million results are not held
        // twice, once per batch and once in the whole.
        let mut batches: FuturesOrdered<_> = distinct
            .chunks(api.max_items())
            .map(|batch| async move {
                let mut attempts = Vec::new();
                let result = self
                    .call_with_retries(endpoint, batch, body, parse, deadline, &mut attempts)
                    .await;
                let accounts = match result {
                    Ok(items) => self.match_items(endpoint, batch, items),
                    Err(unknown) => batch
                        .iter()
                        .map(|id| ((*id).to_owned(), Err(unknown.clone())))
                        .collect(),
                };
                (accounts, attempts)
            })
            .collect();
        let mut outcome = Outcome {
            accounts: HashMap::with_capacity(distinct.len()),
            attempts: Vec::new(),
        };
        while let Some((accounts, attempts)) = batches.next().await {
            outcome.accounts.extend(accounts);
            outcome.attempts.extend(attempts);
        }
        outcome
    }

    /// Calls `endpoint` about `batch` until a reply, a failure not worth retrying, or the
    /// deadline. The request body is made only once the pacer admits the call: ten
    /// thousand calls waiting their turn hold no bodies.
    async fn call_with_retries<T>(
        &self,
        endpoint: &Endpoint,
        batch: &[&str],
        body: fn(&[&str]) -> Vec<u8>,
        parse: fn(&[u8]) -> Result<Reply<T>, DecodeError>,
        deadline: Instant,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Vec<wire::ItemResult<T>>, Unknown> {
        let mut retries_used = 0;
        let mut renewed = false;
        let mut last_error: Option<AttemptError> = None;
        let give_up = |last: Option<AttemptError>, why: &str| match last {
            Some(err) => Unknown {
                code: err.label(),
                message: format!("{err} ({why})"),
                in_reply: false,
            },
            None => Unknown {
                code: "deadline".to_owned(),
                message: format!("no call made: {why}"),
                in_reply: false,
            },
        };
        loop {
            self.check_lockout()?;
            let admitted = endpoint.pacer.admit(deadline).await;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !admitted || remaining.is_zero() {
                return Err(give_up(last_error, "the cycle's interval ran out"));
            }
            // A retry cut short by the deadline would only time out and hide the real cause.
            if last_error.is_some() && remaining < self.settings.timeout {
                return Err(give_up(last_error, "no time left in the interval to retry"));
            }
            // Another batch may have hit 70050 while this one waited for its turn.
            self.check_lockout()?;
            let body = body(batch);
            let (usersig, generation) = self.signer.current(Now::real());
            let started = Instant::now();
            let result = self
                .attempt(
                    endpoint,
                    &body,
                    parse,
                    &usersig,
                    self.settings.timeout.min(remaining),
                )
                .await;
            attempts.push(Attempt {
                api: endpoint.api,
                duration: started.elapsed(),
                error: result.as_ref().err().map(AttemptError::label),
                retry: retries_used > 0 || renewed,
            });
            let err = match result {
                Ok(items) => return Ok(items),
                Err(err) => err,
            };
            tracing::debug!(app = %self.settings.name, api = %endpoint.api, error = %err, "attempt failed");
            match classify(&err) {
                RetryClass::RenewUserSig if !renewed => {
                    self.signer.renew(generation, Now::real());
                    renewed = true;
                }
                class @ (RetryClass::Transient | RetryClass::RateLimited)
                    if retries_used < self.settings.retries =>
                {
                    retries_used += 1;
                    let wait = backoff(class, retries_used, rand::random_range(0.5..=1.0));
                    // A retry needs its backoff and a whole attempt before the deadline;
                    // a squeezed one would only time out and hide the real cause.
                    if Instant::now() + wait + self.settings.timeout > deadline {
                        return Err(give_up(Some(err), "no time left in the interval to retry"));
                    }
                    tokio::time::sleep(wait).await;
                }
                RetryClass::LockOut => {
                    self.lockout.start(Instant::now());
                    return Err(give_up(Some(err), "no calls for this app for 60s"));
                }
                RetryClass::Never => return Err(give_up(Some(err), "not retried")),
                _ => {
                    let plural = if attempts.len() == 1 { "" } else { "s" };
                    let why = format!("gave up after {} attempt{plural}", attempts.len());
                    return Err(give_up(Some(err), &why));
                }
            }
            last_error = Some(err);
        }
    }

    /// The request URL with `usersig=<redacted>`, for logs.
    fn redacted_url(&self, endpoint: &Endpoint, random: u32) -> String {
        format!(
            "{}?sdkappid={}&identifier={}&usersig=<redacted>&random={random}&contenttype=json",
            endpoint.url, self.settings.sdkappid, self.settings.admin
        )
    }

    async fn attempt<T>(
        &self,
        endpoint: &Endpoint,
        body: &[u8],
        parse: fn(&[u8]) -> Result<Reply<T>, DecodeError>,
        usersig: &Secret,
        timeout: Duration,
    ) -> Result<Vec<wire::ItemResult<T>>, AttemptError> {
        let random: u32 = rand::random();
        let mut url = endpoint.url.clone();
        url.query_pairs_mut()
            .append_pair("sdkappid", &self.settings.sdkappid.to_string())
            .append_pair("identifier", &self.settings.admin)
            .append_pair("usersig", usersig.expose())
            .append_pair("random", &random.to_string())
            .append_pair("contenttype", "json");
        tracing::trace!(url = %self.redacted_url(endpoint, random), "attempt");
        let mut response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .timeout(timeout)
            .send()
            .await
            .map_err(from_reqwest)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(AttemptError::HttpStatus(status.as_u16()));
        }
        let too_large =
            || AttemptError::Decode(format!("reply body is over {MAX_REPLY_BYTES} bytes"));
        if response.content_length().unwrap_or(0) > MAX_REPLY_BYTES as u64 {
            return Err(too_large());
        }
        let mut reply = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(from_reqwest)? {
            if reply.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(too_large());
            }
            reply.extend_from_slice(&chunk);
        }
        match parse(&reply) {
            Ok(Reply::Ok(items)) => Ok(items),
            Ok(Reply::Failed { code, info }) => Err(AttemptError::Api { code, info }),
            Err(err) => Err(AttemptError::Decode(err.to_string())),
        }
    }

    /// Matches reply items to the batch by UserID ([`matcher::match_items`]), warning
    /// once per API about items for UserIDs that were not asked for.
    fn match_items<T: Clone + PartialEq>(
        &self,
        endpoint: &Endpoint,
        batch: &[&str],
        items: Vec<wire::ItemResult<T>>,
    ) -> Vec<(String, Result<T, Unknown>)> {
        let matcher::Matched {
            results,
            unrequested,
        } = matcher::match_items(endpoint.api, batch, items);
        if unrequested > 0 && !endpoint.warned_unrequested.swap(true, Ordering::Relaxed) {
            tracing::warn!(app = %self.settings.name, api = %endpoint.api, count = unrequested,
                "the API replied for UserIDs that were not asked for; ignoring them (logged once)");
        }
        results
    }
}

/// The pause after 70050: no call for [`LOCKOUT_AFTER_70050`] from the refusal.
#[derive(Debug, Default)]
struct Lockout(Mutex<Option<Instant>>);

impl Lockout {
    fn start(&self, now: Instant) {
        *self.0.lock().expect("lockout lock") = Some(now + LOCKOUT_AFTER_70050);
    }

    /// How long the pause still lasts at `now`, if it does.
    fn left(&self, now: Instant) -> Option<Duration> {
        let until = (*self.0.lock().expect("lockout lock"))?;
        until
            .checked_duration_since(now)
            .filter(|left| !left.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockout_lasts_60_seconds_then_calls_resume() {
        let lockout = Lockout::default();
        let t0 = Instant::now();
        assert_eq!(lockout.left(t0), None);
        lockout.start(t0);
        assert_eq!(lockout.left(t0), Some(Duration::from_secs(60)));
        assert_eq!(
            lockout.left(t0 + Duration::from_secs(59)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(lockout.left(t0 + Duration::from_secs(60)), None);
        assert_eq!(lockout.left(t0 + Duration::from_secs(61)), None);
    }
}
