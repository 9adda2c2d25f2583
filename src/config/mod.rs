//! The validated, typed configuration, and how it is loaded.
//!
//! Loading has two stages: `raw` parses the YAML into serde structs, `validate` turns
//! them into [`Config`] or a list of problems, each naming where it is. Code after this
//! module never sees an unchecked value.

mod raw;
#[cfg(test)]
mod shard_tests;
mod validate;

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::shard::Shard;
use crate::tim::{self, Region, Secret};

use crate::files;
pub use crate::files::{MAX_CONFIG_BYTES, MAX_SECRET_FILE_BYTES, MAX_USER_IDS_FILE_BYTES};
pub use validate::{MAX_USER_ID_BYTES, MIN_USERSIG_TTL};

/// Built-in defaults, used where neither `defaults` nor the app sets a value.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_RATE_LIMIT: u32 = 50;
pub const DEFAULT_PRESENCE_RATE_LIMIT: u32 = 50;
pub const DEFAULT_USERSIG_TTL: Duration = Duration::from_secs(24 * 3600);

/// The whole configuration. Apps are shared, not copied, by the scheduler and the state.
///
/// When the process is one of several shards, every watch list holds only the shard's own
/// UserIDs and the rate limits are the shard's share (see [`Shard`]): everything after
/// loading sees the shard's part as if it were the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub apps: Vec<Arc<AppConfig>>,
    /// The shard this configuration was loaded for.
    pub shard: Shard,
}

/// One IM app and its watch lists, with every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// Unique; the `im_app` label.
    pub name: String,
    pub sdkappid: u64,
    pub region: Region,
    /// The REST API base URL, without trailing `/`.
    pub endpoint: String,
    /// The admin UserID, sent as `identifier`.
    pub admin: String,
    pub secret_key: Secret,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    /// account_check calls per second (this shard's share when sharded).
    pub rate_limit: NonZeroU32,
    /// query_online_status calls per second (this shard's share when sharded).
    pub presence_rate_limit: NonZeroU32,
    pub usersig_ttl: Duration,
    pub watchlists: Vec<WatchList>,
}

/// A named list of accounts that should all be in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchList {
    /// Unique within the app.
    pub name: String,
    pub expect: Expect,
    /// The presence every account must have; `None`: presence is not checked.
    pub presence: Option<PresenceExpect>,
    /// Which of its accounts get per-account series on `/metrics`.
    pub account_series: AccountSeries,
    /// Distinct UserIDs in the order first listed (inline ones, then the file's); only
    /// this shard's when sharded, so possibly none.
    pub user_ids: Vec<String>,
}

/// Which accounts of a watch list get per-account series (`tim_account_*`) on `/metrics`.
/// The watch-list aggregates, the page, `/api/v1/status` and `--once` show every account
/// whatever it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AccountSeries {
    /// Every account.
    #[default]
    All,
    /// Only accounts in drift or unknown, for the import status or the presence.
    Problems,
    /// None.
    None,
}

impl AccountSeries {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountSeries::All => "all",
            AccountSeries::Problems => "problems",
            AccountSeries::None => "none",
        }
    }
}

impl fmt::Display for AccountSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state every account of a watch list should be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    Imported,
    NotImported,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Imported => "imported",
            Expect::NotImported => "not_imported",
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The presence every account of a watch list should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceExpect {
    /// `Online`: the long connection is up.
    Online,
    /// `Online` or `PushOnline`: a message reaches it, by connection or by offline push.
    Reachable,
}

impl PresenceExpect {
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceExpect::Online => "online",
            PresenceExpect::Reachable => "reachable",
        }
    }

    /// Whether a known presence falls short of this expectation.
    pub fn drifts_from(self, presence: tim::PresenceStatus) -> bool {
        use tim::PresenceStatus::{Offline, Online, PushOnline};
        match (self, presence) {
            (_, Online) | (PresenceExpect::Reachable, PushOnline) => false,
            (PresenceExpect::Online, PushOnline) | (_, Offline) => true,
        }
    }
}

impl fmt::Display for PresenceExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AppConfig {
    /// Every UserID of the app once, in the order first listed across its watch lists.
    pub fn distinct_user_ids(&self) -> Vec<&str> {
        distinct(self.watchlists.iter())
    }

    /// Every UserID of the app's watch lists that check presence, once, in the order first
    /// listed.
    pub fn presence_user_ids(&self) -> Vec<&str> {
        distinct(
            self.watchlists
                .iter()
                .filter(|list| list.presence.is_some()),
        )
    }

    /// Whether any watch list of the app checks presence.
    pub fn checks_presence(&self) -> bool {
        self.watchlists.iter().any(|list| list.presence.is_some())
    }

    /// The settings of this app's API client. Two configurations of an app can share a
    /// client exactly when these are equal.
    pub fn client_settings(&self) -> tim::ClientSettings {
        tim::ClientSettings {
            name: self.name.clone(),
            endpoint: self.endpoint.clone(),
            sdkappid: self.sdkappid,
            admin: self.admin.clone(),
            key: self.secret_key.clone(),
            timeout: self.timeout,
            retries: self.retries,
            rate_limit: self.rate_limit,
            presence_rate_limit: self.presence_rate_limit,
            usersig_ttl: self.usersig_ttl,
        }
    }
}

/// The UserIDs of `lists` once each, in the order first listed. A list holds each of its
/// own once, so a single list needs no hashing (a list may hold a million).
fn distinct<'a>(lists: impl Iterator<Item = &'a WatchList> + Clone) -> Vec<&'a str> {
    let ids = lists
        .clone()
        .flat_map(|list| list.user_ids.iter().map(String::as_str));
    if lists.count() <= 1 {
        return ids.collect();
    }
    let mut seen = std::collections::HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}

/// A valid configuration and what looked wrong in it without being an error.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Why a configuration was refused: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: String) -> Self {
        ConfigError {
            problems: vec![problem],
        }
    }
}

/// Where loading looks things up: the folder relative paths resolve against, and the
/// environment for `secret_key_env`.
pub struct Sources<'a> {
    pub base_dir: PathBuf,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Reads and validates the configuration file, its secret files and watch-list files.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    load_for_shard(path, Shard::NONE)
}

/// [`load`] for one shard: every UserID is validated, then only the shard's are kept, and
/// the rate limits (and the capacity check) are the shard's share.
pub fn load_for_shard(path: &Path, shard: Shard) -> Result<Loaded, ConfigError> {
    let text = files::read_text(path, MAX_CONFIG_BYTES)
        .map_err(|e| ConfigError::one(format!("cannot read {}: {e}", path.display())))?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let env = |name: &str| std::env::var(name).ok();
    let raw = raw::parse_yaml(&text)
        .map_err(|problems| prefix_problems(ConfigError { problems }, path))?;
    let has_inline_secret = raw.apps.iter().any(|app| app.secret_key.is_some());
    let mut loaded = validate::validate(
        raw,
        &Sources {
            base_dir,
            env: &env,
        },
        shard,
    )
    .map_err(|e| prefix_problems(e, path))?;
    if has_inline_secret {
        loaded.warnings.extend(inline_secret_warning(path));
    }
    Ok(loaded)
}

fn prefix_problems(mut err: ConfigError, path: &Path) -> ConfigError {
    for problem in &mut err.problems {
        *problem = format!("{}: {problem}", path.display());
    }
    err
}

/// Validates configuration text. Files named in it are read relative to `sources.base_dir`.
pub fn from_yaml(text: &str, sources: &Sources<'_>) -> Result<Loaded, ConfigError> {
    from_yaml_for_shard(text, sources, Shard::NONE)
}

/// [`from_yaml`] for one shard, as [`load_for_shard`].
pub fn from_yaml_for_shard(
    text: &str,
    sources: &Sources<'_>,
    shard: Shard,
) -> Result<Loaded, ConfigError> {
    let raw = raw::parse_yaml(text).map_err(|problems| ConfigError { problems })?;
    validate::validate(raw, sources, shard)
}

/// A warning when the file holding an inline `secret_key` can be read by group or others.
#[cfg(unix)]
fn inline_secret_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o044 != 0).then(|| {
        format!(
            "{} holds an inline secret_key and is readable by group or others (mode {:o}); \
             chmod 600 it, or use secret_key_file or secret_key_env",
            path.display(),
            mode & 0o777
        )
    })
}

#[cfg(not(unix))]
fn inline_secret_warning(_path: &Path) -> Option<String> {
    None
}
