//! The web configuration in force, re-read when its files change.
//!
//! Every request and every new connection asks [`LiveWebConfig::current`], which looks at
//! the web config file and the certificate, key and client CA files it names (their size,
//! modification time and inode: a few `stat` calls, no reading). When one changed, the
//! file is read and checked again, on the blocking pool, by one caller while the others
//! wait: a valid file takes over at once (a rotated password, certificate or key needs no
//! restart); an invalid one is logged with every problem, sets
//! `tim_exporter_web_config_last_reload_successful` to 0, and the last valid one stays in
//! force until the files change again.
//!
//! Whether TLS is on is decided at start: a change that turns it on or off is refused, so
//! a mistake cannot silently move the endpoints to plain HTTP.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use prometheus::IntGauge;
use rustls::ServerConfig;

use super::auth::BasicAuth;
use super::tls;
use crate::webconfig::{self, CertSource, KeySource, RateLimit, WebConfig};

/// What the server does with each connection and request, built from one valid file.
#[derive(Debug)]
pub struct Active {
    pub config: WebConfig,
    /// `Some`: serve HTTPS with this.
    pub tls: Option<Arc<ServerConfig>>,
    /// `Some`: every request needs a user.
    pub auth: Option<BasicAuth>,
    pub limiter: Option<Arc<Limiter>>,
    /// Added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// `rate_limit`: a token bucket, or (burst 0) a refusal of everything.
#[derive(Debug)]
pub struct Limiter {
    setting: RateLimit,
    bucket: Option<DefaultDirectRateLimiter>,
}

impl Limiter {
    fn new(setting: RateLimit) -> Limiter {
        let bucket = NonZeroU32::new(setting.burst).and_then(|burst| {
            Quota::with_period(setting.interval)
                .map(|quota| RateLimiter::direct(quota.allow_burst(burst)))
        });
        Limiter { setting, bucket }
    }

    /// Whether one more request may go on now.
    pub fn allows(&self) -> bool {
        self.bucket
            .as_ref()
            .is_some_and(|bucket| bucket.check().is_ok())
    }
}

/// The web configuration file and what was built from it last.
#[derive(Debug)]
pub struct LiveWebConfig {
    path: PathBuf,
    active: RwLock<Arc<Active>>,
    /// The files looked at and what they looked like at the last (re)load attempt.
    seen: Mutex<Seen>,
    reloading: tokio::sync::Mutex<()>,
    reload_successful: IntGauge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    files: Vec<PathBuf>,
    stamps: Vec<Option<Stamp>>,
}

/// What a file looks like without reading it; `None` in [`Seen`] when it cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    device: u64,
}

impl LiveWebConfig {
    /// Reads, checks and builds the file: the error has every problem, path-qualified.
    /// The warnings are logged.
    pub fn load(path: &Path) -> Result<LiveWebConfig, Vec<String>> {
        let files = watched(path, None);
        let stamps = stamps(&files);
        let active = build(path, None)?;
        let files = watched(path, Some(&active.config));
        let seen = Seen {
            stamps: stamps_with(&files, &stamps, path),
            files,
        };
        let reload_successful = IntGauge::new(
            "tim_exporter_web_config_last_reload_successful",
            "Whether the web configuration file (--web.config.file) was read and checked \
             successfully the last time it changed (1) or not (0).",
        )
        .expect("valid gauge");
        reload_successful.set(1);
        Ok(LiveWebConfig {
            path: path.to_owned(),
            active: RwLock::new(Arc::new(active)),
            seen: Mutex::new(seen),
            reloading: tokio::sync::Mutex::new(()),
            reload_successful,
        })
    }

    /// The gauge of the last reload's outcome, for the metrics registry.
    pub fn reload_gauge(&self) -> IntGauge {
        self.reload_successful.clone()
    }

    /// The configuration in force now, re-read first when its files changed.
    pub async fn current(&self) -> Arc<Active> {
        if !self.changed() {
            return self.active();
        }
        let _one_at_a_time = self.reloading.lock().await;
        // Another caller may have reloaded while this one waited.
        if self.changed() {
            self.reload().await;
        }
        self.active()
    }

    /// The configuration in force, without looking at the files.
    pub fn active(&self) -> Arc<Active> {
        Arc::clone(&self.active.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn changed(&self) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        stamps(&seen.files) != seen.stamps
    }

    async fn reload(&self) {
        let previous = self.active();
        let path = self.path.clone();
        let before = stamps(&watched(&self.path, Some(&previous.config)));
        let built = {
            let previous = Arc::clone(&previous);
            tokio::task::spawn_blocking(move || {
                let built = build(&path, Some(&previous));
                let config = match &built {
                    Ok(active) => Some(active.config.clone()),
                    // The files the new text names, when it can at least be parsed.
                    Err(_) => std::fs::read_to_string(&path).ok().and_then(|text| {
                        webconfig::parse(&text, path.parent().unwrap_or(Path::new("."))).ok()
                    }),
                };
                (built, config)
            })
            .await
        };
        let (built, named) = match built {
            Ok(result) => result,
            Err(e) => (
                Err(vec![format!("reading the web configuration failed: {e}")]),
                None,
            ),
        };
        let files = watched(&self.path, named.as_ref().or(Some(&previous.config)));
        let mut stamps_now = stamps(&files);
        // A file that changed during the read is read again at the next request.
        if files == watched(&self.path, Some(&previous.config)) && stamps_now != before {
            stamps_now = before;
        }
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Seen {
            files,
            stamps: stamps_now,
        };
        match built {
            Ok(active) => {
                for warning in &active.config.warnings {
                    tracing::warn!(warning = %warning, "web configuration warning");
                }
                log_system_roots(&active.config);
                tracing::info!(file = %self.path.display(), "web configuration reloaded");
                self.reload_successful.set(1);
                *self.active.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(active);
            }
            Err(problems) => {
                tracing::error!(file = %self.path.display(), problems = %problems.join("; "),
                    "web configuration reload failed; the last valid one stays in force");
                self.reload_successful.set(0);
            }
        }
    }
}

/// Reads the file and builds what serves it. With `previous`, a rate limiter whose
/// setting did not change is kept (its bucket goes on), and TLS may not be turned on or
/// off.
fn build(path: &Path, previous: Option<&Active>) -> Result<Active, Vec<String>> {
    let config = webconfig::load(path).map_err(|e| e.problems)?;
    if let Some(previous) = previous {
        match (previous.tls.is_some(), config.tls.is_some()) {
            (true, false) => {
                return Err(vec![format!(
                    "{}: tls_server_config was removed; turning TLS off takes a restart",
                    path.display()
                )])
            }
            (false, true) => {
                return Err(vec![format!(
                    "{}: tls_server_config was added; turning TLS on takes a restart",
                    path.display()
                )])
            }
            _ => {}
        }
    }
    let tls = match &config.tls {
        Some(tls_config) => Some(tls::server_config(tls_config).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| format!("{}: {p}", path.display()))
                .collect::<Vec<_>>()
        })?),
        None => None,
    };
    let mut headers = Vec::new();
    for (header, value) in &config.http.headers {
        let value = HeaderValue::from_str(value).map_err(|_| {
            vec![format!(
                "{}: http_server_config.headers.{header}: the value holds characters a header cannot",
                path.display()
            )]
        })?;
        headers.push((HeaderName::from_static(header_name(header.name())), value));
    }
    let limiter = config.rate_limit.map(|setting| {
        previous
            .and_then(|p| p.limiter.as_ref())
            .filter(|kept| kept.setting == setting)
            .map_or_else(|| Arc::new(Limiter::new(setting)), Arc::clone)
    });
    Ok(Active {
        auth: BasicAuth::new(&config.basic_auth_users),
        tls,
        limiter,
        headers,
        config,
    })
}

/// The header names in lower case, as `HeaderName::from_static` wants them.
fn header_name(name: &'static str) -> &'static str {
    match name {
        "Content-Security-Policy" => "content-security-policy",
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        _ => "x-xss-protection",
    }
}

/// Logs the warning for client certificates verified against the system's roots.
pub fn log_system_roots(config: &WebConfig) {
    if config.tls.as_ref().is_some_and(tls::uses_system_roots) {
        tracing::warn!(
            "tls_server_config: client certificates are verified against the system's \
             trusted roots, since no client_ca_file or client_ca is set"
        );
    }
}

/// The web config file and the files it names.
fn watched(path: &Path, config: Option<&WebConfig>) -> Vec<PathBuf> {
    let mut files = vec![path.to_owned()];
    if let Some(tls) = config.and_then(|c| c.tls.as_ref()) {
        if let CertSource::File(file) = &tls.cert {
            files.push(file.clone());
        }
        if let KeySource::File(file) = &tls.key {
            files.push(file.clone());
        }
        if let Some(CertSource::File(file)) = &tls.client_ca {
            files.push(file.clone());
        }
    }
    files
}

fn stamps(files: &[PathBuf]) -> Vec<Option<Stamp>> {
    files.iter().map(|file| stamp(file)).collect()
}

/// The stamps of `files`, reusing those taken before the first load for the main file,
/// so that a change during the load is seen at the next request.
fn stamps_with(files: &[PathBuf], before: &[Option<Stamp>], main: &Path) -> Vec<Option<Stamp>> {
    files
        .iter()
        .map(|file| {
            if file == main {
                before.first().copied().flatten()
            } else {
                stamp(file)
            }
        })
        .collect()
}

fn stamp(file: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(file).ok()?;
    Some(Stamp {
        len: metadata.len(),
        modified: metadata.modified().ok(),
        inode: metadata.ino(),
        device: metadata.dev(),
    })
}

/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
