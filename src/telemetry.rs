//! Logging setup: level and format (logfmt or JSON) on standard error.
//!
//! Log records of dependencies (reqwest, hyper) pass through the same subscriber, so the
//! chosen level applies to them too.

use clap::ValueEnum;
use tracing::level_filters::LevelFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<LogLevel> for LevelFilter {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

/// Installs the global subscriber. A second call (as in tests) leaves the first in place.
pub fn init(level: LogLevel, format: LogFormat) {
    let level = LevelFilter::from(level);
    let installed = match format {
        LogFormat::Logfmt => tracing_logfmt::builder()
            .subscriber_builder()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .try_init(),
    };
    // Failing here means a subscriber is already set, which is fine.
    drop(installed);
}
