//! The web configuration file (`--web.config.file`) in the exporter-toolkit format, which
//! every official Prometheus exporter takes and `promtool check web-config` checks: TLS,
//! client certificates, basic auth, security headers and a rate limit.
//!
//! [`load`] and [`parse`] accept and refuse what exporter-toolkit accepts and refuses,
//! with these differences, each on purpose: TLS 1.0 and 1.1, and the Go cipher suites,
//! curves and keys the TLS stack here (rustls with ring) cannot do, are refused; a
//! `basic_auth_users` value must be a real bcrypt hash. A refused file gets every problem
//! at once, each with its key path (`tls_server_config.client_ca_file: …`); no key,
//! password hash or inline key is ever part of a message.
//!
//! `read` walks the YAML tree; `tls` (with `pem` for the certificate and key), `http`,
//! `users` and `rate` read one section each.

mod http;
mod pem;
mod rate;
mod read;
mod tls;
mod users;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::Value;

use crate::files;

pub use http::{HttpConfig, SecurityHeader};
pub use pem::{read_materials, TlsMaterials};
pub use rate::RateLimit;
pub use tls::{CertSource, CipherSuite, ClientAuth, Curve, KeySource, TlsConfig, TlsVersion};
pub use users::BcryptHash;

use read::Report;

const KEYS: &[&str] = &[
    "tls_server_config",
    "http_server_config",
    "basic_auth_users",
    "rate_limit",
];

/// A valid web configuration. The default (an empty file) is plain HTTP, no auth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// `None`: plain HTTP.
    pub tls: Option<TlsConfig>,
    pub http: HttpConfig,
    /// Empty: no authentication.
    pub basic_auth_users: BTreeMap<String, BcryptHash>,
    /// `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// What looks wrong without being an error, path-qualified, for the server to log.
    pub warnings: Vec<String>,
}

/// Why a web configuration was refused: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct WebConfigError {
    pub problems: Vec<String>,
}

/// Reads and checks the web configuration file, and the certificate, key and client CA
/// files it names (relative paths are from the file's folder). Problems start with the
/// file's path.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = files::read_text(path, files::MAX_WEB_FILE_BYTES).map_err(|e| WebConfigError {
        problems: vec![format!("cannot read {}: {e}", path.display())],
    })?;
    let base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    parse(&text, base_dir).map_err(|mut e| {
        for problem in &mut e.problems {
            *problem = format!("{}: {problem}", path.display());
        }
        e
    })
}

/// Checks web configuration text. Relative paths in it are from `base_dir`, and the files
/// they name are read.
pub fn parse(text: &str, base_dir: &Path) -> Result<WebConfig, WebConfigError> {
    let mut value: Value = crate::yaml::parse(text).map_err(|e| WebConfigError {
        problems: vec![e.to_string()],
    })?;
    // yaml.v2 applies `<<` merge keys.
    value.apply_merge().map_err(|e| WebConfigError {
        problems: vec![e.to_string()],
    })?;
    let mut report = Report::default();
    let mut config = WebConfig::default();
    match read::untagged(&value) {
        Value::Null => {}
        Value::Mapping(_) => {
            if let Some(section) = read::section(&value, "", KEYS, &mut report) {
                if let Some(value) = section.get("tls_server_config") {
                    config.tls = tls::read(value, base_dir, &mut report);
                }
                if let Some(value) = section.get("http_server_config") {
                    config.http = http::read(value, &mut report);
                }
                if let Some(value) = section.get("basic_auth_users") {
                    config.basic_auth_users = users::read(value, &mut report);
                }
                if let Some(value) = section.get("rate_limit") {
                    config.rate_limit = rate::read(value, &mut report);
                }
            }
        }
        _ => report.problem(
            "",
            format!(
                "the web configuration must be a mapping with the keys {}",
                KEYS.join(", ")
            ),
        ),
    }
    if report.problems.is_empty() {
        config.warnings = report.warnings;
        Ok(config)
    } else {
        Err(WebConfigError {
            problems: report.problems,
        })
    }
}
