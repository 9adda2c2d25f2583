//! The configuration file as written: serde structs that reject unknown keys.
//!
//! [`parse_yaml`] is the one place YAML is parsed. It is a pure function of the text;
//! nothing here reads files or checks values (that is `validate`).

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
    pub(crate) usersig_ttl: Option<String>,
    #[serde(default)]
    pub(crate) watchlists: Vec<RawWatchList>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWatchList {
    pub(crate) name: String,
    pub(crate) expect: Option<String>,
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
            usersig_ttl: self.usersig_ttl.clone(),
        }
    }
}

/// Parses the YAML text. The error names the key path, line and column when serde_yaml
/// knows them.
pub(crate) fn parse_yaml(text: &str) -> Result<RawConfig, String> {
    if text.trim().is_empty() {
        return Err("the configuration is empty".to_owned());
    }
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}
