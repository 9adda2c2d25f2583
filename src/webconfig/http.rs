//! `http_server_config`: the security headers added to every response, and `http2`.
//!
//! Only the five headers exporter-toolkit allows, by their exact names; two of them take
//! only the values it lists (compared exactly: `DENY` is refused, as there).

use std::collections::BTreeMap;
use std::fmt;

use serde_yaml::Value;

use super::read::{self, join, Report};

const PATH: &str = "http_server_config";
const KEYS: &[&str] = &["http2", "headers"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Accepted; this build serves HTTP/1.1.
    pub http2: bool,
    /// The value to send, as Go sends it: line breaks turned into spaces, surrounding
    /// spaces trimmed.
    pub headers: BTreeMap<SecurityHeader, String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// A header the file may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityHeader {
    ContentSecurityPolicy,
    StrictTransportSecurity,
    XContentTypeOptions,
    XFrameOptions,
    XXssProtection,
}

impl SecurityHeader {
    pub const ALL: [SecurityHeader; 5] = [
        SecurityHeader::ContentSecurityPolicy,
        SecurityHeader::StrictTransportSecurity,
        SecurityHeader::XContentTypeOptions,
        SecurityHeader::XFrameOptions,
        SecurityHeader::XXssProtection,
    ];

    /// The header name, as written in the file and sent.
    pub fn name(self) -> &'static str {
        match self {
            SecurityHeader::ContentSecurityPolicy => "Content-Security-Policy",
            SecurityHeader::StrictTransportSecurity => "Strict-Transport-Security",
            SecurityHeader::XContentTypeOptions => "X-Content-Type-Options",
            SecurityHeader::XFrameOptions => "X-Frame-Options",
            SecurityHeader::XXssProtection => "X-XSS-Protection",
        }
    }

    /// The only values allowed; empty: any.
    fn allowed_values(self) -> &'static [&'static str] {
        match self {
            SecurityHeader::XContentTypeOptions => &["nosniff"],
            SecurityHeader::XFrameOptions => &["deny", "sameorigin"],
            _ => &[],
        }
    }
}

impl fmt::Display for SecurityHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads `http_server_config`. Written without a value it is Go's zero value, which turns
/// `http2` off.
pub(super) fn read(value: &Value, report: &mut Report) -> HttpConfig {
    let mut config = HttpConfig::default();
    if read::untagged(value).is_null() {
        config.http2 = false;
        return config;
    }
    let Some(section) = read::section(value, PATH, KEYS, report) else {
        return config;
    };
    if let Some(value) = section.get("http2") {
        config.http2 = read::boolean(value, &join(PATH, "http2"), report).unwrap_or(true);
    }
    let headers_path = join(PATH, "headers");
    let headers = section
        .get("headers")
        .and_then(|value| read::mapping(value, &headers_path, report));
    for (name, value) in headers.unwrap_or_default() {
        let path = join(&headers_path, &name);
        let Some(header) = SecurityHeader::ALL.into_iter().find(|h| h.name() == name) else {
            let allowed: Vec<&str> = SecurityHeader::ALL.map(SecurityHeader::name).to_vec();
            report.problem(
                &path,
                format!(
                    "this header cannot be set; the ones that can are {}",
                    allowed.join(", ")
                ),
            );
            continue;
        };
        let Some(text) = read::string(value, &path, report) else {
            continue;
        };
        let allowed = header.allowed_values();
        if !allowed.is_empty() && !allowed.contains(&text.as_str()) {
            report.problem(
                &path,
                format!(
                    "invalid value {text:?}; expected one of {}",
                    quoted(allowed)
                ),
            );
            continue;
        }
        config
            .headers
            .insert(header, sendable(&text, &path, report));
    }
    config
}

/// The value as sent: like Go, line breaks become spaces and surrounding white space goes.
/// Other control characters, which Go would send as they are and this build cannot, become
/// spaces with a warning.
fn sendable(text: &str, path: &str, report: &mut Report) -> String {
    let mut other_controls = false;
    let value: String = text
        .chars()
        .map(|c| match c {
            '\r' | '\n' => ' ',
            '\t' => c,
            c if c.is_ascii_control() => {
                other_controls = true;
                ' '
            }
            c => c,
        })
        .collect();
    if other_controls {
        report.warning(path, "control characters in the value are sent as spaces");
    }
    value.trim_matches([' ', '\t']).to_owned()
}

fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
