//! The configuration file as written: serde structs that reject unknown keys.
//!
//! [`parse_yaml`] turns the text into them through [`crate::yaml::parse`], the one place YAML
//! is parsed. It is a pure function of the text; nothing here reads files or checks values
//! (that is `validate`).

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) defaults: RawSettings,
    #[serde(default)]
    pub(crate) apps: Vec<RawApp>,
}

/// The settings every app may override; all optional so that the layers can be merged.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    pub(crate) interval: Option<String>,
    pub(crate) timeout: Option<String>,
    pub(crate) retries: Option<i64>,
    pub(crate) rate_limit: Option<i64>,
    pub(crate) presence_rate_limit: Option<i64>,
    pub(crate) usersig_ttl: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApp {
    pub(crate) name: String,
    pub(crate) sdkappid: u64,
    pub(crate) region: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) admin: String,
    pub(crate) secret_key_file: Option<String>,
    pub(crate) secret_key_env: Option<String>,
    pub(crate) secret_key: Option<String>,
    // The overrides are spelled out rather than flattened: serde cannot combine
    // `flatten` with `deny_unknown_fields`.
    pub(crate) interval: Option<String>,
    pub(crate) timeout: Option<String>,
    pub(crate) retries: Option<i64>,
    pub(crate) rate_limit: Option<i64>,
    pub(crate) presence_rate_limit: Option<i64>,
    pub(crate) usersig_ttl: Option<String>,
    #[serde(default)]
    pub(crate) watchlists: Vec<RawWatchList>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWatchList {
    pub(crate) name: String,
    pub(crate) expect: Option<String>,
    pub(crate) presence: Option<String>,
    pub(crate) account_series: Option<String>,
    #[serde(default)]
    pub(crate) user_ids: Vec<String>,
    pub(crate) user_ids_file: Option<String>,
}

impl RawApp {
    pub(crate) fn settings(&self) -> RawSettings {
        RawSettings {
            interval: self.interval.clone(),
            timeout: self.timeout.clone(),
            retries: self.retries,
            rate_limit: self.rate_limit,
            presence_rate_limit: self.presence_rate_limit,
            usersig_ttl: self.usersig_ttl.clone(),
        }
    }
}

/// Parses the YAML text.
///
/// serde stops at the first problem. When there is one, the text is walked once more for
/// unknown and missing keys everywhere else, so that a file with several typos gets one
/// message for each. Problems name the key path, and line and column where serde knows them.
pub(crate) fn parse_yaml(text: &str) -> Result<RawConfig, Vec<String>> {
    if text.trim().is_empty() {
        return Err(vec!["the configuration is empty".to_owned()]);
    }
    let first = match crate::yaml::parse::<RawConfig>(text) {
        Ok(raw) => return Ok(raw),
        Err(e) => e.to_string(),
    };
    let mut problems = vec![first.clone()];
    if let Ok(value) = crate::yaml::parse::<serde_yaml::Value>(text) {
        problems.extend(
            key_problems(&value)
                .into_iter()
                .filter(|(prefix, _)| !first.starts_with(prefix.as_str()))
                .map(|(_, message)| message),
        );
    }
    Err(problems)
}

const TOP_KEYS: &[&str] = &["defaults", "apps"];
const SETTINGS_KEYS: &[&str] = &[
    "interval",
    "timeout",
    "retries",
    "rate_limit",
    "presence_rate_limit",
    "usersig_ttl",
];
const APP_KEYS: &[&str] = &[
    "name",
    "sdkappid",
    "region",
    "endpoint",
    "admin",
    "secret_key_file",
    "secret_key_env",
    "secret_key",
    "interval",
    "timeout",
    "retries",
    "rate_limit",
    "presence_rate_limit",
    "usersig_ttl",
    "watchlists",
];
const APP_REQUIRED: &[&str] = &["name", "sdkappid", "region", "admin"];
const WATCHLIST_KEYS: &[&str] = &[
    "name",
    "expect",
    "presence",
    "account_series",
    "user_ids",
    "user_ids_file",
];
const WATCHLIST_REQUIRED: &[&str] = &["name"];

/// Unknown and missing keys at every level, each as (the start serde would give the same
/// problem, the message).
fn key_problems(value: &serde_yaml::Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    check_keys(value, "", TOP_KEYS, &[], &mut problems);
    if let Some(defaults) = value.get("defaults") {
        check_keys(defaults, "defaults", SETTINGS_KEYS, &[], &mut problems);
    }
    let apps = value.get("apps").and_then(serde_yaml::Value::as_sequence);
    for (i, app) in apps.into_iter().flatten().enumerate() {
        let path = format!("apps[{i}]");
        check_keys(app, &path, APP_KEYS, APP_REQUIRED, &mut problems);
        let lists = app
            .get("watchlists")
            .and_then(serde_yaml::Value::as_sequence);
        for (j, list) in lists.into_iter().flatten().enumerate() {
            let list_path = format!("{path}.watchlists[{j}]");
            check_keys(
                list,
                &list_path,
                WATCHLIST_KEYS,
                WATCHLIST_REQUIRED,
                &mut problems,
            );
        }
    }
    problems
}

fn check_keys(
    value: &serde_yaml::Value,
    path: &str,
    known: &[&str],
    required: &[&str],
    problems: &mut Vec<(String, String)>,
) {
    let Some(mapping) = value.as_mapping() else {
        return;
    };
    let prefix = |what: String| {
        if path.is_empty() {
            what
        } else {
            format!("{path}: {what}")
        }
    };
    for key in mapping.keys() {
        let name = match key.as_str() {
            Some(name) => name.to_owned(),
            None => serde_yaml::to_string(key)
                .unwrap_or_default()
                .trim()
                .to_owned(),
        };
        if !known.contains(&name.as_str()) {
            let start = prefix(format!("unknown field `{name}`"));
            let expected = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
            let message = format!("{start}, expected one of {}", expected.join(", "));
            problems.push((start, message));
        }
    }
    for key in required {
        if !mapping.contains_key(*key) {
            let start = prefix(format!("missing field `{key}`"));
            problems.push((start.clone(), start));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key lists of the walk must match the serde structs: every listed key parses.
    #[test]
    fn key_lists_match_the_structs() {
        let app_lines: String = APP_KEYS
            .iter()
            .filter(|k| **k != "watchlists")
            .map(|k| {
                let value = match *k {
                    "sdkappid" | "retries" | "rate_limit" | "presence_rate_limit" => "1",
                    _ => "x",
                };
                format!("    {k}: {value}\n")
            })
            .collect();
        let list_lines: String = WATCHLIST_KEYS
            .iter()
            .map(|k| {
                let value = if *k == "user_ids" { "[a]" } else { "x" };
                format!("        {k}: {value}\n")
            })
            .collect();
        let settings_lines: String = SETTINGS_KEYS
            .iter()
            .map(|k| {
                let value = if matches!(*k, "retries" | "rate_limit" | "presence_rate_limit") {
                    "1"
                } else {
                    "1s"
                };
                format!("  {k}: {value}\n")
            })
            .collect();
        let yaml = format!("defaults:\n{settings_lines}apps:\n  -\n{app_lines}    watchlists:\n      -\n{list_lines}");
        let raw = parse_yaml(&yaml).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
        assert_eq!(raw.apps[0].watchlists.len(), 1);
        assert!(key_problems(&serde_yaml::from_str(&yaml).unwrap()).is_empty());
    }

    #[test]
    fn every_unknown_and_missing_key_is_reported_once() {
        let yaml = "colour: red\ndefaults:\n  intervall: 1m\napps:\n  - name: a\n    sdkappid: 1\n    region: x\n    admin: y\n    secret: z\n    watchlists:\n      - user_ids: [a]\n        expected: imported\n  - name: b\n";
        let problems = parse_yaml(yaml).unwrap_err();
        let starts: Vec<&str> = problems
            .iter()
            .map(|p| {
                p.split(", expected")
                    .next()
                    .unwrap()
                    .split(" at line")
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            starts,
            [
                "unknown field `colour`",
                "defaults: unknown field `intervall`",
                "apps[0]: unknown field `secret`",
                "apps[0].watchlists[0]: unknown field `expected`",
                "apps[0].watchlists[0]: missing field `name`",
                "apps[1]: missing field `sdkappid`",
                "apps[1]: missing field `region`",
                "apps[1]: missing field `admin`",
            ]
        );
        // The first comes from serde, which gives the position of nested problems.
        let nested = parse_yaml("apps:\n  - name: a\n    colour: red\n").unwrap_err();
        assert!(
            nested[0].starts_with("apps[0]: unknown field `colour`"),
            "{nested:?}"
        );
        assert!(nested[0].contains("at line 3 column 5"), "{nested:?}");
        assert_eq!(nested.len(), 4, "{nested:?}");
    }
}
