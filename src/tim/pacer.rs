//! Paces the calls of one app: never more than `rate_limit` starts in any one-second
//! window, retries included, in the order callers arrive.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// Starts are spaced 2% wider than `1 s / rate_limit`, so that scheduling jitter between
/// our start and the server's count cannot add a call to its window: `rate_limit + 1`
/// starts span at least 1.02 s less [`MAKE_UP`]. With 1% and late wake-ups made up, a
/// simulator at the limit saw 101 calls in one second once in 10,000 on a busy machine.
const HEADROOM: f64 = 1.02;

/// An extra gap after the first call that follows a pause (the first of a cycle). That
/// call reached the simulator 10 to 40 ms after its admission while the next ones went out
/// at once (on a busy 2-core machine), so without the gap the server could count the
/// first `rate_limit + 1` calls within one second. With several replicas sharing an app's
/// limit, each replica would add such a call. It costs 60 ms per cycle.
const COLD_START_GAP: Duration = Duration::from_millis(60);

/// How late a wake-up may be and still be made up: the next admission keeps its slot,
/// a period after the late one's, rather than a period after the late wake-up.
///
/// A timer fires up to a millisecond or two late; at 100 calls/s over 10,000 calls a cycle
/// would lose seconds if every late wake-up pushed the rest back. Making up at most
/// `MAKE_UP` keeps the window bound: admissions `j - i` apart are at least
/// `(j - i) * period - MAKE_UP` apart in time, so `rate_limit + 1` of them span at least
/// `1.02 s - MAKE_UP`: 18 ms more than a second for the server's jitter.
const MAKE_UP: Duration = Duration::from_millis(2);

/// Admission slots one period apart behind a fair queue.
///
/// Each admission sets the next slot one period after its own (up to [`MAKE_UP`] of a
/// late wake-up made up), hence at most `rate_limit` admissions fit in any one-second
/// window. The tokio mutex is fair: callers queue in arrival order and only the one
/// holding it waits for the slot, so waiting does not cost a wake-up of every queued
/// caller per admission.
pub struct Pacer {
    turn: tokio::sync::Mutex<Turn>,
    period: Duration,
}

/// What the caller whose turn it is needs to know of the admissions before it.
#[derive(Default)]
struct Turn {
    /// The latest admission.
    last: Option<Instant>,
    /// No admission before this.
    next: Option<Instant>,
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
        Pacer {
            turn: tokio::sync::Mutex::new(Turn::default()),
            period: period_for(rate_limit),
        }
    }

    /// The least time between two admissions.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for this caller's turn; `false` when `deadline` came first.
    pub async fn admit(&self, deadline: Instant) -> bool {
        tokio::time::timeout_at(deadline.into(), async {
            let mut turn = self.turn.lock().await;
            // A pause is the pacer found idle when a caller's turn comes; a caller that
            // queued behind the one before (or waited out a hold) follows no pause.
            let after_pause = turn
                .last
                .is_none_or(|last| last.elapsed() > 2 * self.period);
            let slot = turn.next.filter(|next| *next > Instant::now());
            if let Some(slot) = slot {
                tokio::time::sleep_until(slot.into()).await;
            }
            let now = Instant::now();
            turn.next = Some(if after_pause {
                now + self.period + COLD_START_GAP
            } else {
                next_slot(slot, now, self.period)
            });
            turn.last = Some(now);
        })
        .await
        .is_ok()
    }
}

/// The slot after an admission at `now` that waited for `slot` (or for nothing): a period
/// after the slot, less up to [`MAKE_UP`] of a late wake-up.
fn next_slot(slot: Option<Instant>, now: Instant, period: Duration) -> Instant {
    match slot {
        Some(slot) => (slot + period).max(now + period - MAKE_UP),
        None => now + period,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_wake_ups_are_made_up_to_two_milliseconds() {
        let period = period_for(NonZeroU32::new(100).unwrap());
        let slot = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(next_slot(Some(slot), slot, period), slot + period);
        assert_eq!(next_slot(Some(slot), slot + ms(2), period), slot + period);
        assert_eq!(
            next_slot(Some(slot), slot + ms(7), period),
            slot + ms(5) + period
        );
        assert_eq!(next_slot(None, slot, period), slot + period);
    }

    #[test]
    fn with_any_wake_up_delays_no_second_holds_more_than_the_rate() {
        // Admissions as the pacer makes them, waking up to 1.5 ms late and every 37th 12 ms
        // late (a fixed pattern), at several rate limits: no one-second window holds more
        // than the limit.
        for rate in [1, 7, 50, 99, 100, 200] {
            let period = period_for(NonZeroU32::new(rate).unwrap());
            let start = Instant::now();
            let mut admitted = Vec::new();
            let mut slot = None;
            for i in 0..(3 * rate as usize + 10) {
                let late = Duration::from_micros(if i % 37 == 0 {
                    12_000
                } else {
                    (i as u64 * 7_919) % 1_500
                });
                let now = slot.unwrap_or(start) + late;
                admitted.push(now);
                slot = Some(next_slot(slot, now, period));
            }
            for (i, first) in admitted.iter().enumerate() {
                let in_window = admitted[i..]
                    .iter()
                    .take_while(|at| at.duration_since(*first) < Duration::from_secs(1))
                    .count();
                assert!(
                    in_window <= rate as usize,
                    "rate {rate}: {in_window} in one second"
                );
            }
        }
    }

    #[tokio::test]
    async fn admissions_are_a_period_apart_and_in_any_second_at_most_the_rate() {
        let pacer = Pacer::new(NonZeroU32::new(20).unwrap());
        assert_eq!(pacer.period(), Duration::from_micros(51_000));
        let far = Instant::now() + Duration::from_secs(10);
        let mut admitted = Vec::new();
        for _ in 0..30 {
            assert!(pacer.admit(far).await);
            admitted.push(Instant::now());
        }
        for pair in admitted.windows(2) {
            assert!(pair[1] - pair[0] >= pacer.period() - MAKE_UP - Duration::from_millis(3));
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
    async fn the_call_after_a_pause_leaves_an_extra_gap() {
        let pacer = Pacer::new(NonZeroU32::new(5).unwrap());
        let far = Instant::now() + Duration::from_secs(10);
        let mut admitted = Vec::new();
        for _ in 0..3 {
            assert!(pacer.admit(far).await);
            admitted.push(Instant::now());
        }
        let first_gap = admitted[1] - admitted[0];
        assert!(
            first_gap >= pacer.period() + COLD_START_GAP,
            "{first_gap:?}"
        );
        let second_gap = admitted[2] - admitted[1];
        assert!(
            second_gap < pacer.period() + COLD_START_GAP / 2,
            "{second_gap:?}"
        );
    }

    #[tokio::test]
    async fn queued_callers_keep_the_full_rate_after_the_gap() {
        // 100 calls at 100/s take 100 periods plus the one gap, not a gap each.
        let pacer = std::sync::Arc::new(Pacer::new(NonZeroU32::new(100).unwrap()));
        let far = Instant::now() + Duration::from_secs(10);
        let started = Instant::now();
        let calls = (0..100).map(|_| {
            let pacer = std::sync::Arc::clone(&pacer);
            tokio::spawn(async move { pacer.admit(far).await })
        });
        for call in calls.collect::<Vec<_>>() {
            assert!(call.await.unwrap());
        }
        let took = started.elapsed();
        assert!(
            took < pacer.period() * 100 + COLD_START_GAP + Duration::from_millis(150),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_deadline_ends_the_wait() {
        let pacer = Pacer::new(NonZeroU32::new(1).unwrap());
        let soon = Instant::now() + Duration::from_millis(100);
        assert!(pacer.admit(soon).await);
        assert!(!pacer.admit(soon).await);
    }
}
