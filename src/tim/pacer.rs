//! Paces the calls of one app: never more than `rate_limit` starts in any one-second
//! window, retries included, in the order callers arrive.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Starts are spaced 1% wider than `1 s / rate_limit`, so that a few milliseconds of
/// scheduling jitter between our start and the server's count cannot add a call to its
/// window.
const HEADROOM: f64 = 1.01;

/// A GCRA with a burst of one behind a fair queue.
///
/// With a burst of one, consecutive admissions are at least one period apart (measured at
/// the moment of admission, so late wake-ups only widen the gaps), hence at most
/// `rate_limit` of them fit in any one-second window. The tokio mutex is fair: callers
/// queue in arrival order and only the one holding it waits on the GCRA, so waiting does
/// not cost a wake-up of every queued caller per admission.
pub struct Pacer {
    turn: tokio::sync::Mutex<()>,
    gcra: DefaultDirectRateLimiter,
    period: Duration,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("period", &self.period)
            .finish()
    }
}

/// The least time between two calls of an app at this rate limit.
pub fn period_for(rate_limit: NonZeroU32) -> Duration {
    Duration::from_secs(1)
        .div_f64(f64::from(rate_limit.get()))
        .mul_f64(HEADROOM)
}

impl Pacer {
    pub fn new(rate_limit: NonZeroU32) -> Self {
        let period = period_for(rate_limit);
        let quota = Quota::with_period(period)
            .expect("the period is positive")
            .allow_burst(NonZeroU32::MIN);
        Pacer {
            turn: tokio::sync::Mutex::new(()),
            gcra: RateLimiter::direct(quota),
            period,
        }
    }

    /// The least time between two admissions.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for this caller's turn; `false` when `deadline` came first.
    pub async fn admit(&self, deadline: Instant) -> bool {
        tokio::time::timeout_at(deadline.into(), async {
            let _turn = self.turn.lock().await;
            self.gcra.until_ready().await;
        })
        .await
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admissions_are_a_period_apart_and_in_any_second_at_most_the_rate() {
        let pacer = Pacer::new(NonZeroU32::new(20).unwrap());
        assert_eq!(pacer.period(), Duration::from_micros(50_500));
        let far = Instant::now() + Duration::from_secs(10);
        let mut admitted = Vec::new();
        for _ in 0..30 {
            assert!(pacer.admit(far).await);
            admitted.push(Instant::now());
        }
        for pair in admitted.windows(2) {
            assert!(pair[1] - pair[0] >= pacer.period() - Duration::from_millis(5));
        }
        for (i, start) in admitted.iter().enumerate() {
            let in_window = admitted[i..]
                .iter()
                .take_while(|at| at.duration_since(*start) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 20, "{in_window} admissions in one second");
        }
    }

    #[tokio::test]
    async fn a_deadline_ends_the_wait() {
        let pacer = Pacer::new(NonZeroU32::new(1).unwrap());
        let soon = Instant::now() + Duration::from_millis(100);
        assert!(pacer.admit(soon).await);
        assert!(!pacer.admit(soon).await);
    }
}
