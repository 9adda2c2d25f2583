//! Which failures are retried, and how long to wait before the next attempt.
//!
//! Pure policy from section 2.4 of the API reference; the client applies it.

use std::time::Duration;

use super::error::AttemptError;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Transient (transport, 5xx, server timeouts): retry with backoff.
    Transient,
    /// The service asks us to slow down: retry with a longer backoff.
    RateLimited,
    /// The UserSig was refused: renew it and retry once, at once.
    RenewUserSig,
    /// 70050: stop calling this app for a while.
    LockOut,
    /// Configuration or request errors that a retry cannot fix.
    Never,
}

/// Rate-limit codes: REST call rate, SDKAppID rate, and "requests too frequent".
const RATE_LIMIT_CODES: [i64; 4] = [60007, 60011, 60018, 60019];
/// Server-side timeouts and internal errors.
const TRANSIENT_CODES: [i64; 6] = [60008, 60013, 60014, 70169, 70202, 70500];
/// The UserSig expired or was refused; a fresh one may pass.
const RENEW_CODES: [i64; 4] = [70001, 70052, 60004, 60005];

/// Classifies a failed attempt.
pub fn classify(err: &AttemptError) -> RetryClass {
    match err {
        AttemptError::Timeout | AttemptError::Connect(_) | AttemptError::Decode(_) => {
            RetryClass::Transient
        }
        AttemptError::HttpStatus(429) => RetryClass::RateLimited,
        AttemptError::HttpStatus(status) if *status >= 500 => RetryClass::Transient,
        AttemptError::HttpStatus(_) => RetryClass::Never,
        AttemptError::Api { code, .. } => {
            if RATE_LIMIT_CODES.contains(code) {
                RetryClass::RateLimited
            } else if TRANSIENT_CODES.contains(code) {
                RetryClass::Transient
            } else if RENEW_CODES.contains(code) {
                RetryClass::RenewUserSig
            } else if *code == 70050 {
                RetryClass::LockOut
            } else {
                RetryClass::Never
            }
        }
    }
}

/// First wait before a retry of a transient failure.
pub const TRANSIENT_BASE: Duration = Duration::from_millis(200);
/// First wait before a retry after a rate-limit code.
pub const RATE_LIMITED_BASE: Duration = Duration::from_secs(1);
/// No single wait is longer than this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The wait before retry number `retry` (1 for the first retry): exponential from the
/// class's base, capped, then scaled by `jitter` in `[0.5, 1.0]` so that the batches
/// of one app that failed together do not come back together.
pub fn backoff(class: RetryClass, retry: u32, jitter: f64) -> Duration {
    let base = match class {
        RetryClass::RateLimited => RATE_LIMITED_BASE,
        _ => TRANSIENT_BASE,
    };
    let exponent = retry.saturating_sub(1).min(16);
    let full = base.saturating_mul(1 << exponent).min(MAX_BACKOFF);
    full.mul_f64(jitter.clamp(0.5, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: i64) -> AttemptError {
        AttemptError::Api {
            code,
            info: String::new(),
        }
    }

    #[test]
    fn retryable_codes() {
        for code in [60008, 60013, 60014, 70169, 70202, 70500] {
            assert_eq!(classify(&api(code)), RetryClass::Transient, "{code}");
        }
        for code in [60007, 60011, 60018, 60019] {
            assert_eq!(classify(&api(code)), RetryClass::RateLimited, "{code}");
        }
        for code in [70001, 70052, 60004, 60005] {
            assert_eq!(classify(&api(code)), RetryClass::RenewUserSig, "{code}");
        }
        assert_eq!(classify(&api(70050)), RetryClass::LockOut);
    }

    #[test]
    fn permanent_codes_are_never_retried() {
        for code in [
            60002, 60003, 60006, 60009, 60010, 60012, 60015, 60016, 60017, 60020, 60021, 60025,
            60026, 60027, 60028, 70003, 70009, 70013, 70014, 70016, 70020, 70051, 70206, 70402,
            70403, 70114, 12345, 80001,
        ] {
            assert_eq!(classify(&api(code)), RetryClass::Never, "{code}");
        }
    }

    #[test]
    fn transport_and_http() {
        assert_eq!(classify(&AttemptError::Timeout), RetryClass::Transient);
        assert_eq!(
            classify(&AttemptError::Connect("reset".into())),
            RetryClass::Transient
        );
        assert_eq!(
            classify(&AttemptError::Decode("html".into())),
            RetryClass::Transient
        );
        for status in [500, 502, 503, 504] {
            assert_eq!(
                classify(&AttemptError::HttpStatus(status)),
                RetryClass::Transient
            );
        }
        assert_eq!(
            classify(&AttemptError::HttpStatus(429)),
            RetryClass::RateLimited
        );
        for status in [301, 400, 403, 404] {
            assert_eq!(
                classify(&AttemptError::HttpStatus(status)),
                RetryClass::Never
            );
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert_eq!(
            backoff(RetryClass::Transient, 1, 1.0),
            Duration::from_millis(200)
        );
        assert_eq!(
            backoff(RetryClass::Transient, 2, 1.0),
            Duration::from_millis(400)
        );
        assert_eq!(
            backoff(RetryClass::Transient, 3, 0.5),
            Duration::from_millis(400)
        );
        assert_eq!(
            backoff(RetryClass::RateLimited, 1, 1.0),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff(RetryClass::RateLimited, 3, 1.0),
            Duration::from_secs(4)
        );
        assert_eq!(backoff(RetryClass::RateLimited, 10, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(RetryClass::Transient, u32::MAX, 1.0), MAX_BACKOFF);
        // Jitter outside its range is clamped rather than trusted.
        assert_eq!(
            backoff(RetryClass::Transient, 1, 0.0),
            Duration::from_millis(100)
        );
    }
}
