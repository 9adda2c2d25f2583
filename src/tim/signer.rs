//! The admin UserSig an app's client uses: signed once, renewed after 80% of its
//! lifetime, and on demand when the service refuses it.
//!
//! The clock is passed in, so the renewal rules are tested without waiting.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::secret::Secret;
use super::usersig;

/// What identifies the signer's app and admin.
#[derive(Debug, Clone)]
pub struct SignerSettings {
    pub sdkappid: u64,
    pub admin: String,
    pub key: Secret,
    pub ttl: Duration,
}

/// A point in time on both clocks the signer needs: monotonic for renewal, Unix seconds
/// for the issue time inside the UserSig.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub instant: Instant,
    pub unix: i64,
}

impl Now {
    pub fn real() -> Self {
        Now {
            instant: Instant::now(),
            unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        }
    }
}

struct Signed {
    usersig: Secret,
    generation: u64,
    issued: i64,
    expire: i64,
    renew_at: Instant,
}

/// Holds one app's current UserSig.
pub struct Signer {
    settings: SignerSettings,
    state: Mutex<Signed>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(settings: SignerSettings, now: Now) -> Self {
        let state = Mutex::new(sign(&settings, 0, None, now));
        Signer { settings, state }
    }

    /// The UserSig to use at `now` and its generation; renewed once 80% of its life is gone.
    pub fn current(&self, now: Now) -> (Secret, u64) {
        let mut state = self.state.lock().expect("UserSig lock");
        if now.instant >= state.renew_at {
            *state = sign(&self.settings, state.generation + 1, Some(&state), now);
        }
        (state.usersig.clone(), state.generation)
    }

    /// Replaces the UserSig of generation `seen` after the service refused it, unless a
    /// concurrent call already did.
    pub fn renew(&self, seen: u64, now: Now) {
        let mut state = self.state.lock().expect("UserSig lock");
        if state.generation == seen {
            *state = sign(&self.settings, seen + 1, Some(&state), now);
        }
    }

    /// When the current UserSig expires.
    pub fn expiry(&self) -> SystemTime {
        let state = self.state.lock().expect("UserSig lock");
        UNIX_EPOCH + Duration::from_secs((state.issued + state.expire).max(0) as u64)
    }
}

fn sign(settings: &SignerSettings, generation: u64, previous: Option<&Signed>, now: Now) -> Signed {
    let mut expire = settings.ttl.as_secs() as i64;
    // A UserSig is a function of its issue second and lifetime: renewing within the same
    // second would hand back the very string the service just refused. Shortening the
    // lifetime by a second makes the new one differ.
    if let Some(previous) = previous.filter(|p| p.issued == now.unix) {
        expire = previous.expire - 1;
    }
    let usersig = usersig::generate(
        settings.sdkappid,
        &settings.admin,
        settings.key.expose(),
        now.unix,
        expire,
    );
    Signed {
        usersig: Secret::new(usersig),
        generation,
        issued: now.unix,
        expire,
        renew_at: now.instant + settings.ttl.mul_f64(0.8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k";

    fn signer(start: Now) -> Signer {
        Signer::new(
            SignerSettings {
                sdkappid: 1_400_000_000,
                admin: "administrator".into(),
                key: Secret::new(KEY),
                ttl: Duration::from_secs(1000),
            },
            start,
        )
    }

    fn later(start: Now, secs: u64) -> Now {
        Now {
            instant: start.instant + Duration::from_secs(secs),
            unix: start.unix + secs as i64,
        }
    }

    #[test]
    fn renewed_after_80_percent_of_the_ttl() {
        let start = Now::real();
        let signer = signer(start);
        let (first, generation) = signer.current(start);
        assert_eq!(
            signer.current(later(start, 799)),
            (first.clone(), generation)
        );
        let (second, next) = signer.current(later(start, 800));
        assert_ne!(second, first);
        assert_eq!(next, generation + 1);
        let verified = usersig::verify(
            second.expose(),
            1_400_000_000,
            "administrator",
            KEY,
            start.unix + 800,
        )
        .unwrap();
        assert_eq!(verified.time, start.unix + 800);
        assert_eq!(verified.expire, 1000);
        assert_eq!(
            signer.expiry(),
            UNIX_EPOCH + Duration::from_secs((start.unix + 1800) as u64)
        );
    }

    #[test]
    fn renewal_on_demand_differs_even_within_the_same_second() {
        let start = Now::real();
        let signer = signer(start);
        let (first, generation) = signer.current(start);
        signer.renew(generation, start);
        let (second, next) = signer.current(start);
        assert_ne!(second, first);
        assert_eq!(next, generation + 1);
        assert!(usersig::verify(
            second.expose(),
            1_400_000_000,
            "administrator",
            KEY,
            start.unix
        )
        .is_ok());
        // A second renewal in that second differs again.
        signer.renew(next, start);
        let (third, _) = signer.current(start);
        assert_ne!(third, second);
        assert_ne!(third, first);
    }

    #[test]
    fn concurrent_refusals_renew_once() {
        let start = Now::real();
        let signer = signer(start);
        let (_, generation) = signer.current(start);
        signer.renew(generation, later(start, 1));
        let (renewed, next) = signer.current(later(start, 1));
        // Another call that saw the old generation does not replace the fresh UserSig.
        signer.renew(generation, later(start, 2));
        assert_eq!(signer.current(later(start, 2)), (renewed, next));
    }
}
