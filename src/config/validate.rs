//! Turns the raw configuration into [`Config`], collecting every problem with its path.
//!
//! Reads the secret files and watch-list files the configuration names; checks values
//! against the limits of the APIs (account_check 100 calls/s, query_online_status 200
//! calls/s, UserIDs of at most 32 bytes).

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::raw::{RawApp, RawConfig, RawSettings, RawWatchList};
use super::{
    AccountSeries, AppConfig, Config, ConfigError, Expect, Loaded, PresenceExpect, Sources,
    WatchList, DEFAULT_INTERVAL, DEFAULT_PRESENCE_RATE_LIMIT, DEFAULT_RATE_LIMIT, DEFAULT_RETRIES,
    DEFAULT_TIMEOUT, DEFAULT_USERSIG_TTL,
};
use crate::files::{self, MAX_SECRET_FILE_BYTES, MAX_USER_IDS_FILE_BYTES};
use crate::shard::Shard;
use crate::tim::{Api, Region, Secret};

/// The longest UserID the service accepts, in bytes.
pub const MAX_USER_ID_BYTES: usize = 32;
/// The shortest accepted `usersig_ttl`.
pub const MIN_USERSIG_TTL: Duration = Duration::from_secs(5 * 60);
/// The service's own timeout; a shorter client timeout cuts off slow but valid replies.
const SERVER_TIMEOUT: Duration = Duration::from_secs(3);
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// No HTTPS call to the service completes faster; a shorter timeout is a typo (`5ms` for
/// `5s`). The longest is bounded by the interval, which it must stay below.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// The longest accepted `interval`: a day. Every deadline is a cycle's start plus its
/// interval, so the bound also keeps that sum far from overflowing.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);
/// Tencent's documentation advises at most 50 years.
const MAX_USERSIG_TTL: Duration = Duration::from_secs(50 * 365 * 86_400);
const MAX_RETRIES: i64 = 10;

/// Collects problems and warnings while validating.
#[derive(Default)]
struct Report {
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl Report {
    fn problem(&mut self, path: &str, message: impl std::fmt::Display) {
        self.problems.push(format!("{path}: {message}"));
    }

    fn warning(&mut self, path: &str, message: impl std::fmt::Display) {
        self.warnings.push(format!("{path}: {message}"));
    }
}

pub(super) fn validate(
    raw: RawConfig,
    sources: &Sources<'_>,
    shard: Shard,
) -> Result<Loaded, ConfigError> {
    let mut report = Report::default();
    let defaults = resolve_settings(&Settings::BUILT_IN, &raw.defaults, "defaults", &mut report);
    check_settings(&defaults, "defaults", &|_| true, &mut report);
    if raw.apps.is_empty() {
        report.problem("apps", "at least one app is needed");
    }
    let mut names = HashSet::new();
    let mut sdkappids: HashMap<u64, String> = HashMap::new();
    let mut apps = Vec::with_capacity(raw.apps.len());
    for (index, raw_app) in raw.apps.iter().enumerate() {
        let path = format!("apps[{index}]");
        if !names.insert(raw_app.name.clone()) {
            report.problem(
                &format!("{path}.name"),
                format_args!("app name {:?} is used twice", raw_app.name),
            );
        }
        if let Some(other) = sdkappids.insert(raw_app.sdkappid, raw_app.name.clone()) {
            report.warning(
                &format!("{path}.sdkappid"),
                format_args!(
                    "SDKAppID {} is also used by app {other:?}; both share its 100 calls/s",
                    raw_app.sdkappid
                ),
            );
        }
        let settings = resolve_settings(&defaults, &raw_app.settings(), &path, &mut report);
        if let Some(app) = validate_app(raw_app, settings, &path, sources, shard, &mut report) {
            apps.push(app);
        }
    }
    if report.problems.is_empty() {
        Ok(Loaded {
            config: Config { apps, shard },
            warnings: report.warnings,
        })
    } else {
        Err(ConfigError {
            problems: report.problems,
        })
    }
}

/// The six settings that `defaults` and each app may set.
#[derive(Clone)]
struct Settings {
    interval: Duration,
    timeout: Duration,
    retries: u32,
    rate_limit: NonZeroU32,
    presence_rate_limit: NonZeroU32,
    usersig_ttl: Duration,
}

impl Settings {
    const BUILT_IN: Settings = Settings {
        interval: DEFAULT_INTERVAL,
        timeout: DEFAULT_TIMEOUT,
        retries: DEFAULT_RETRIES,
        rate_limit: NonZeroU32::new(DEFAULT_RATE_LIMIT).expect("the default is not zero"),
        presence_rate_limit: NonZeroU32::new(DEFAULT_PRESENCE_RATE_LIMIT)
            .expect("the default is not zero"),
        usersig_ttl: DEFAULT_USERSIG_TTL,
    };

    /// The calls per second allowed to `api`.
    fn rate_limit(&self, api: Api) -> NonZeroU32 {
        match api {
            Api::AccountCheck => self.rate_limit,
            Api::QueryOnlineStatus => self.presence_rate_limit,
        }
    }
}

/// Lays `raw` over `base`; a bad value is reported and the base value kept, so that one
/// mistake does not cause a cascade of others.
fn resolve_settings(
    base: &Settings,
    raw: &RawSettings,
    path: &str,
    report: &mut Report,
) -> Settings {
    let mut settings = base.clone();
    let mut duration = |field: &str, value: &Option<String>, target: &mut Duration| {
        if let Some(text) = value {
            match humantime::parse_duration(text.trim()) {
                Ok(parsed) => *target = parsed,
                Err(e) => report.problem(
                    &format!("{path}.{field}"),
                    format_args!("{text:?} is not a duration ({e}); write e.g. 30s, 5m or 1h"),
                ),
            }
        }
    };
    duration("interval", &raw.interval, &mut settings.interval);
    duration("timeout", &raw.timeout, &mut settings.timeout);
    duration("usersig_ttl", &raw.usersig_ttl, &mut settings.usersig_ttl);
    if let Some(retries) = raw.retries {
        match u32::try_from(retries) {
            Ok(r) if i64::from(r) <= MAX_RETRIES => settings.retries = r,
            _ => report.problem(
                &format!("{path}.retries"),
                format_args!("{retries} is out of range 0..={MAX_RETRIES}"),
            ),
        }
    }
    for (api, field, value, target) in [
        (
            Api::AccountCheck,
            "rate_limit",
            raw.rate_limit,
            &mut settings.rate_limit,
        ),
        (
            Api::QueryOnlineStatus,
            "presence_rate_limit",
            raw.presence_rate_limit,
            &mut settings.presence_rate_limit,
        ),
    ] {
        let Some(rate) = value else { continue };
        let max = api.service_rate_limit();
        match u32::try_from(rate).ok().and_then(NonZeroU32::new) {
            Some(r) if r.get() <= max => *target = r,
            _ => report.problem(
                &format!("{path}.{field}"),
                format_args!("{rate} is out of range 1..={max} ({api} allows {max} calls/s)"),
            ),
        }
    }
    settings
}

/// Checks resolved settings. `overridden` says which fields were set at `path`: a value
/// inherited from `defaults` was already checked there and is not blamed on every app.
fn check_settings(
    settings: &Settings,
    path: &str,
    overridden: &dyn Fn(&str) -> bool,
    report: &mut Report,
) {
    let (interval, timeout, ttl) = (
        overridden("interval"),
        overridden("timeout"),
        overridden("usersig_ttl"),
    );
    if interval && settings.interval < MIN_INTERVAL {
        past_bound(
            report,
            path,
            "interval",
            settings.interval,
            "shorter than the minimum of 1s",
        );
    } else if interval && settings.interval > MAX_INTERVAL {
        past_bound(
            report,
            path,
            "interval",
            settings.interval,
            "longer than the maximum of 24h",
        );
    }
    if timeout && settings.timeout < MIN_TIMEOUT {
        past_bound(
            report,
            path,
            "timeout",
            settings.timeout,
            "shorter than the minimum of 100ms",
        );
    } else if !(interval || timeout) || settings.timeout < MIN_TIMEOUT {
        // Inherited values were checked where they were set.
    } else if settings.timeout >= settings.interval {
        report.problem(
            &format!("{path}.timeout"),
            format_args!(
                "{} must be shorter than the interval ({})",
                humantime::format_duration(settings.timeout),
                humantime::format_duration(settings.interval)
            ),
        );
    } else if timeout && settings.timeout <= SERVER_TIMEOUT {
        report.warning(
            &format!("{path}.timeout"),
            format_args!(
                "{} is not longer than the server's own timeout of 3s; slow replies will be cut off",
                humantime::format_duration(settings.timeout)
            ),
        );
    }
    if !ttl {
        // Inherited from defaults, and checked there.
    } else if settings.usersig_ttl < MIN_USERSIG_TTL {
        past_bound(
            report,
            path,
            "usersig_ttl",
            settings.usersig_ttl,
            "shorter than the minimum of 5m",
        );
    } else if settings.usersig_ttl > MAX_USERSIG_TTL {
        report.problem(
            &format!("{path}.usersig_ttl"),
            "is longer than the maximum of 50 years",
        );
    }
}

/// Reports the duration `value` of `field` as past one of its bounds (`past`, e.g.
/// "shorter than the minimum of 1s").
fn past_bound(report: &mut Report, path: &str, field: &str, value: Duration, past: &str) {
    report.problem(
        &format!("{path}.{field}"),
        format_args!("{} is {past}", humantime::format_duration(value)),
    );
}

fn validate_app(
    raw: &RawApp,
    settings: Settings,
    path: &str,
    sources: &Sources<'_>,
    shard: Shard,
    report: &mut Report,
) -> Option<Arc<AppConfig>> {
    let before = report.problems.len();
    let overrides = raw.settings();
    let overridden = |field: &str| match field {
        "interval" => overrides.interval.is_some(),
        "timeout" => overrides.timeout.is_some(),
        "usersig_ttl" => overrides.usersig_ttl.is_some(),
        _ => false,
    };
    check_settings(&settings, path, &overridden, report);
    if raw.name.is_empty()
        || !raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        report.problem(
            &format!("{path}.name"),
            format_args!("{:?} must be one or more of A-Z a-z 0-9 _ . -", raw.name),
        );
    }
    if raw.sdkappid == 0 {
        report.problem(&format!("{path}.sdkappid"), "must be a positive number");
    }
    let region = raw
        .region
        .parse::<Region>()
        .map_err(|e| report.problem(&format!("{path}.region"), e))
        .ok();
    let endpoint = match (&raw.endpoint, region) {
        (Some(endpoint), _) => check_endpoint(endpoint)
            .map_err(|e| report.problem(&format!("{path}.endpoint"), e))
            .ok(),
        (None, Some(region)) => Some(region.endpoint()),
        (None, None) => None,
    };
    if let Err(e) = check_user_id(&raw.admin) {
        report.problem(&format!("{path}.admin"), e);
    }
    let secret_key = resolve_secret(raw, path, sources, report);
    if raw.watchlists.is_empty() {
        report.problem(
            &format!("{path}.watchlists"),
            "at least one watch list is needed",
        );
    }
    let mut list_names = HashSet::new();
    let mut watchlists = Vec::with_capacity(raw.watchlists.len());
    for (index, raw_list) in raw.watchlists.iter().enumerate() {
        let list_path = format!("{path}.watchlists[{index}]");
        if !list_names.insert(raw_list.name.as_str()) {
            report.problem(
                &format!("{list_path}.name"),
                format_args!(
                    "watch list name {:?} is used twice in this app",
                    raw_list.name
                ),
            );
        }
        if let Some(list) = validate_watchlist(raw_list, &list_path, sources, report) {
            watchlists.push(list);
        }
    }
    warn_conflicting_expectations(&watchlists, path, report);
    // Every UserID was checked above; from here on the app is this shard's part of it.
    for (field, rate) in [
        ("rate_limit", settings.rate_limit),
        ("presence_rate_limit", settings.presence_rate_limit),
    ] {
        if rate.get() < shard.total() {
            report.warning(
                &format!("{path}.{field}"),
                format_args!(
                    "{rate} is less than the {} shards: each paces at 1 call/s, {} together",
                    shard.total(),
                    shard.total()
                ),
            );
        }
    }
    let (watchlists, settings) = shard_part(watchlists, settings, shard);
    check_capacity(&watchlists, &settings, shard, path, report);
    if report.problems.len() > before {
        return None;
    }
    Some(Arc::new(AppConfig {
        name: raw.name.clone(),
        sdkappid: raw.sdkappid,
        region: region?,
        endpoint: endpoint?,
        admin: raw.admin.clone(),
        secret_key: secret_key?,
        interval: settings.interval,
        timeout: settings.timeout,
        retries: settings.retries,
        rate_limit: settings.rate_limit,
        presence_rate_limit: settings.presence_rate_limit,
        usersig_ttl: settings.usersig_ttl,
        watchlists,
    }))
}

/// `https://host[:port][/prefix]`, or `http://` to a loopback host; returned without a
/// trailing `/`.
fn check_endpoint(endpoint: &str) -> Result<String, String> {
    // The endpoint is never echoed whole: it could carry credentials.
    let mut url = url::Url::parse(endpoint).map_err(|e| format!("not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user or password".to_owned());
    }
    let shown = url.to_string();
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("{shown:?} has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "{shown:?} must use https:// (http:// is allowed only for loopback hosts)"
            ))
        }
        other => return Err(format!("{shown:?} has scheme {other}:, expected https://")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{shown:?} must be a base URL without query or fragment"
        ));
    }
    url.set_query(None);
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A UserID is 1 to 32 bytes with no surrounding whitespace.
fn check_user_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("UserID is empty".to_owned());
    }
    if id.len() > MAX_USER_ID_BYTES {
        return Err(format!(
            "UserID is {} bytes, the limit is {MAX_USER_ID_BYTES}",
            id.len()
        ));
    }
    if id.trim() != id {
        return Err(format!("UserID {id:?} has surrounding whitespace"));
    }
    if id.chars().any(char::is_control) {
        return Err(format!("UserID {id:?} contains a control character"));
    }
    Ok(())
}

fn resolve_secret(
    raw: &RawApp,
    path: &str,
    sources: &Sources<'_>,
    report: &mut Report,
) -> Option<Secret> {
    let given = [
        raw.secret_key_file.is_some(),
        raw.secret_key_env.is_some(),
        raw.secret_key.is_some(),
    ]
    .iter()
    .filter(|given| **given)
    .count();
    if given != 1 {
        report.problem(
            path,
            format_args!(
                "exactly one of secret_key_file, secret_key_env and secret_key is needed, {given} given"
            ),
        );
        return None;
    }
    let (field, value) = if let Some(file) = &raw.secret_key_file {
        let full = match secret_file_path(file, sources) {
            Ok(full) => full,
            Err(problem) => {
                report.problem(&format!("{path}.secret_key_file"), problem);
                return None;
            }
        };
        match files::read_text(&full, MAX_SECRET_FILE_BYTES) {
            Ok(text) => ("secret_key_file", text.trim().to_owned()),
            Err(e) => {
                report.problem(
                    &format!("{path}.secret_key_file"),
                    format_args!("cannot read {}: {e}", full.display()),
                );
                return None;
            }
        }
    } else if let Some(name) = &raw.secret_key_env {
        match (sources.env)(name) {
            Some(value) => ("secret_key_env", value.trim().to_owned()),
            None => {
                report.problem(
                    &format!("{path}.secret_key_env"),
                    format_args!("environment variable {name} is not set"),
                );
                return None;
            }
        }
    } else {
        let inline = raw.secret_key.as_deref().unwrap_or_default();
        ("secret_key", inline.trim().to_owned())
    };
    if value.is_empty() {
        report.problem(&format!("{path}.{field}"), "the secret key is empty");
        return None;
    }
    Some(Secret::new(value))
}

/// Where systemd puts the files of `LoadCredential=`, as an environment variable.
const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// The path of a `secret_key_file`: under `$CREDENTIALS_DIRECTORY` when it starts with
/// `$CREDENTIALS_DIRECTORY/` or `${CREDENTIALS_DIRECTORY}/`, else relative to the
/// configuration's folder (an absolute path stays as it is).
fn secret_file_path(file: &str, sources: &Sources<'_>) -> Result<PathBuf, String> {
    let under_credentials = ["$CREDENTIALS_DIRECTORY/", "${CREDENTIALS_DIRECTORY}/"]
        .iter()
        .find_map(|prefix| file.strip_prefix(prefix));
    let Some(name) = under_credentials else {
        return Ok(sources.base_dir.join(file));
    };
    match (sources.env)(CREDENTIALS_DIRECTORY) {
        Some(dir) if !dir.is_empty() => Ok(Path::new(&dir).join(name)),
        _ => Err(format!(
            "{file} names ${CREDENTIALS_DIRECTORY}, which is not set: systemd sets it \
             for a service with LoadCredential="
        )),
    }
}

fn validate_watchlist(
    raw: &RawWatchList,
    path: &str,
    sources: &Sources<'_>,
    report: &mut Report,
) -> Option<WatchList> {
    let before = report.problems.len();
    if raw.name.is_empty() {
        report.problem(&format!("{path}.name"), "must not be empty");
    } else if raw.name.chars().any(char::is_control) {
        report.problem(
            &format!("{path}.name"),
            format_args!("{:?} must not contain control characters", raw.name),
        );
    }
    let expect = match raw.expect.as_deref() {
        None | Some("imported") => Expect::Imported,
        Some("not_imported") => Expect::NotImported,
        Some(other) => {
            report.problem(
                &format!("{path}.expect"),
                format_args!("{other:?} is not one of imported, not_imported"),
            );
            Expect::Imported
        }
    };
    let presence = match raw.presence.as_deref() {
        None => None,
        Some("online") => Some(PresenceExpect::Online),
        Some("reachable") => Some(PresenceExpect::Reachable),
        Some(other) => {
            report.problem(
                &format!("{path}.presence"),
                format_args!("{other:?} is not one of online, reachable"),
            );
            None
        }
    };
    let account_series = match raw.account_series.as_deref() {
        None | Some("all") => AccountSeries::All,
        Some("problems") => AccountSeries::Problems,
        Some("none") => AccountSeries::None,
        Some(other) => {
            report.problem(
                &format!("{path}.account_series"),
                format_args!("{other:?} is not one of all, problems, none"),
            );
            AccountSeries::All
        }
    };
    if presence.is_some() && expect == Expect::NotImported {
        report.problem(
            &format!("{path}.presence"),
            "an account expected not_imported cannot be online; remove presence or expect imported",
        );
    }
    // Each UserID with where it was given: an index of `user_ids`, or a line of the file.
    let mut given: Vec<(&str, Given)> = raw
        .user_ids
        .iter()
        .enumerate()
        .map(|(index, id)| (id.as_str(), Given::Inline(index)))
        .collect();
    let text = raw.user_ids_file.as_ref().and_then(|file| {
        let full = sources.base_dir.join(file);
        files::read_text(&full, MAX_USER_IDS_FILE_BYTES)
            .map_err(|e| {
                report.problem(
                    &format!("{path}.user_ids_file"),
                    format_args!("cannot read {}: {e}", full.display()),
                );
            })
            .ok()
    });
    if let Some(text) = &text {
        given.extend(user_ids_in_file(text).map(|(line, id)| (id, Given::Line(line))));
    }
    let where_ = |given: Given| match given {
        Given::Inline(index) => format!("{path}.user_ids[{index}]"),
        Given::Line(line) => format!(
            "{path}.user_ids_file ({}) line {line}",
            raw.user_ids_file.as_deref().unwrap_or_default()
        ),
    };
    let mut user_ids = Vec::with_capacity(given.len());
    let mut seen = HashSet::with_capacity(given.len());
    for (id, at) in given {
        match check_user_id(id) {
            Err(e) => report.problem(&where_(at), e),
            Ok(()) if !seen.insert(id) => report.warning(
                &where_(at),
                format_args!("UserID {id:?} is listed twice in this watch list"),
            ),
            Ok(()) => user_ids.push(id.to_owned()),
        }
    }
    if user_ids.is_empty() && report.problems.len() == before {
        report.problem(
            path,
            "the watch list has no UserIDs (user_ids and user_ids_file are empty)",
        );
    }
    (report.problems.len() == before).then(|| WatchList {
        name: raw.name.clone(),
        expect,
        presence,
        account_series,
        user_ids,
    })
}

/// Where a UserID of a watch list was given.
#[derive(Clone, Copy)]
enum Given {
    /// `user_ids[index]`.
    Inline(usize),
    /// A 1-based line of `user_ids_file`.
    Line(usize),
}

/// The UserIDs of a watch-list file with their 1-based line numbers: one per line,
/// surrounding whitespace trimmed, blank lines and `#` comments skipped.
pub(crate) fn user_ids_in_file(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// The shard's part of an app: its own UserIDs in each watch list (a list may be left
/// empty), and its share of each rate limit.
fn shard_part(
    mut lists: Vec<WatchList>,
    mut settings: Settings,
    shard: Shard,
) -> (Vec<WatchList>, Settings) {
    if shard.is_sharded() {
        for list in &mut lists {
            list.user_ids.retain(|id| shard.owns(id));
        }
        settings.rate_limit = shard.share(settings.rate_limit);
        settings.presence_rate_limit = shard.share(settings.presence_rate_limit);
    }
    (lists, settings)
}

/// A cycle must be able to start all its calls and see the last one through within the
/// interval at the configured rate of each API, or some accounts would be unknown every
/// cycle. The two APIs are paced apart and run side by side, so each must fit on its own.
fn check_capacity(
    lists: &[WatchList],
    settings: &Settings,
    shard: Shard,
    path: &str,
    report: &mut Report,
) {
    let lists_of = |presence_only: bool| {
        lists
            .iter()
            .filter(move |list| !presence_only || list.presence.is_some())
    };
    // The distinct UserIDs are counted only when the listed ones, duplicates and all,
    // would not fit: a list of a million is then not hashed once more.
    let distinct = |presence_only: bool| {
        lists_of(presence_only)
            .flat_map(|list| list.user_ids.iter().map(String::as_str))
            .collect::<HashSet<&str>>()
            .len()
    };
    let listed = |presence_only: bool| -> usize {
        lists_of(presence_only)
            .map(|list| list.user_ids.len())
            .sum()
    };
    let fits = |api: Api, accounts: usize| {
        let calls = accounts.div_ceil(api.max_items());
        // One call fits whenever the timeout does, which is checked on its own.
        calls <= 1
            || settings.timeout >= settings.interval
            || crate::tim::pacer::period_for(settings.rate_limit(api))
                .saturating_mul(u32::try_from(calls - 1).unwrap_or(u32::MAX))
                .saturating_add(settings.timeout)
                < settings.interval
    };
    for (api, presence_only, field) in [
        (Api::AccountCheck, false, "rate_limit"),
        (Api::QueryOnlineStatus, true, "presence_rate_limit"),
    ] {
        if fits(api, listed(presence_only)) {
            continue;
        }
        let accounts = distinct(presence_only);
        let calls = accounts.div_ceil(api.max_items());
        let rate = settings.rate_limit(api);
        let last_start = crate::tim::pacer::period_for(rate)
            .saturating_mul(u32::try_from(calls.saturating_sub(1)).unwrap_or(u32::MAX));
        if !fits(api, accounts) {
            let what = match api {
                Api::AccountCheck => "distinct UserIDs need",
                Api::QueryOnlineStatus => "distinct UserIDs with presence need",
            };
            let whose = if shard.is_sharded() {
                format!(" ({shard}'s share)")
            } else {
                String::new()
            };
            report.problem(
                path,
                format_args!(
                    "{accounts} {what} {calls} {api} calls per cycle; at {field} {rate}{whose} the last starts after {} and may take the timeout of {}, which does not fit in the interval of {}; raise {field} or interval",
                    humantime::format_duration(Duration::from_millis(last_start.as_millis() as u64)),
                    humantime::format_duration(settings.timeout),
                    humantime::format_duration(settings.interval)
                ),
            );
        }
    }
}

/// An account in two lists of one app with opposite expectations always drifts in one.
fn warn_conflicting_expectations(lists: &[WatchList], path: &str, report: &mut Report) {
    if lists.iter().all(|list| list.expect == lists[0].expect) {
        return;
    }
    let mut expected: HashMap<&str, (Expect, &str)> = HashMap::new();
    for list in lists {
        for id in &list.user_ids {
            match expected.get(id.as_str()) {
                Some((expect, other)) if *expect != list.expect => report.warning(
                    path,
                    format_args!(
                        "UserID {id:?} is expected {} in watch list {other:?} but {} in {:?}; one of them always drifts",
                        expect, list.expect, list.name
                    ),
                ),
                Some(_) => {}
                None => {
                    expected.insert(id, (list.expect, &list.name));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
