//! Counters of an app's use of each API: attempts, retries, errors and latency.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::tim::Attempt;

/// Upper bounds, in seconds, of the API latency histogram's buckets (10 ms to 10 s).
pub const API_LATENCY_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Counters of one API of an app since the app was first configured.
#[derive(Debug, Clone, Default)]
pub struct ApiStats {
    /// HTTP attempts, retries included.
    pub requests: u64,
    /// Attempts that repeated an earlier one.
    pub retries: u64,
    /// Failed attempts by error label.
    pub errors: BTreeMap<String, u64>,
    /// Accounts without a result in a reply that came, by label.
    pub account_errors: BTreeMap<String, u64>,
    pub latency: Latency,
}

impl ApiStats {
    pub(super) fn record(&mut self, attempt: &Attempt) {
        self.requests += 1;
        self.retries += u64::from(attempt.retry);
        if let Some(code) = &attempt.error {
            *self.errors.entry(code.clone()).or_default() += 1;
        }
        self.latency.observe(attempt.duration);
    }
}

/// A histogram of attempt durations over [`API_LATENCY_BUCKETS`].
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Per bucket, the attempts at or under its bound (cumulative, as exposed).
    pub cumulative: [u64; API_LATENCY_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

impl Latency {
    fn observe(&mut self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        for (bound, count) in API_LATENCY_BUCKETS.iter().zip(&mut self.cumulative) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }
}
