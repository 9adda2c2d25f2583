//! HTTP basic authentication against `basic_auth_users`, as exporter-toolkit does it.
//!
//! - A user that does not exist is checked against a dummy hash of the same cost as the
//!   configured ones (the highest, when they differ), so the time of an answer does not
//!   tell whether a user exists.
//! - bcrypt is slow on purpose: it runs on the blocking pool, never on the async workers,
//!   at most one per core at a time, so a burst of bad passwords cannot starve `/metrics`.
//! - Outcomes are cached by a SHA-256 of user, hash and password (never the password
//!   itself), at most [`CACHE_ENTRIES`], so a scraper's every request does not cost a bcrypt.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::webconfig::BcryptHash;

/// The most outcomes kept. A full cache forgets an arbitrary entry for each new one.
pub const CACHE_ENTRIES: usize = 1024;

/// Salt and hash of the dummy (53 characters of bcrypt's base64). No password matches it
/// that could be found; a match would not count anyway, since the user does not exist.
const DUMMY_TAIL: &str = "QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// The users and what their checks share.
pub struct BasicAuth {
    users: BTreeMap<String, BcryptHash>,
    dummy: String,
    cache: Mutex<HashMap<[u8; 32], bool>>,
    bcrypt_slots: Arc<Semaphore>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// `None` when there are no users: no authentication.
    pub fn new(users: &BTreeMap<String, BcryptHash>) -> Option<BasicAuth> {
        let cost = users.values().map(BcryptHash::cost).max()?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Some(BasicAuth {
            users: users.clone(),
            dummy: format!("$2y${cost:02}${DUMMY_TAIL}"),
            cache: Mutex::new(HashMap::new()),
            bcrypt_slots: Arc::new(Semaphore::new(cores)),
        })
    }

    /// Whether the `Authorization` header names a user and the right password.
    pub async fn allows(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.expose().to_owned(), true),
            None => (self.dummy.clone(), false),
        };
        let key = cache_key(&user, &hash, &password);
        let cached = self.cache.lock().ok().and_then(|c| c.get(&key).copied());
        let matches = match cached {
            Some(matches) => matches,
            None => {
                let Ok(_slot) = self.bcrypt_slots.acquire().await else {
                    return false;
                };
                let checked =
                    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash)).await;
                let matches = matches!(checked, Ok(Ok(true)));
                self.remember(key, matches);
                matches
            }
        };
        known && matches
    }

    fn remember(&self, key: [u8; 32], matches: bool) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES && !cache.contains_key(&key) {
                if let Some(old) = cache.keys().next().copied() {
                    cache.remove(&old);
                }
            }
            cache.insert(key, matches);
        }
    }
}

/// The user and password of `Basic <base64(user:password)>`, read as Go's
/// `Request.BasicAuth` reads them (the scheme in any case, standard base64 with padding,
/// split at the first colon).
fn basic_credentials(header: &HeaderValue) -> Option<(String, String)> {
    let value = header.as_bytes();
    let (scheme, encoded) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [user, hash, password] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    digest.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bcrypt` of "secret" at cost 4.
    fn users() -> BTreeMap<String, BcryptHash> {
        let hash = bcrypt::hash("secret", 4).unwrap();
        BTreeMap::from([("prometheus".to_owned(), BcryptHash::new(&hash).unwrap())])
    }

    fn header(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[tokio::test]
    async fn only_a_known_user_with_the_right_password_passes() {
        let auth = BasicAuth::new(&users()).unwrap();
        assert!(auth.allows(Some(&header("prometheus", "secret"))).await);
        // Twice: the second answer comes from the cache and must agree.
        assert!(auth.allows(Some(&header("prometheus", "secret"))).await);
        assert!(!auth.allows(Some(&header("prometheus", "wrong"))).await);
        assert!(!auth.allows(Some(&header("prometheus", "wrong"))).await);
        assert!(!auth.allows(Some(&header("nobody", "secret"))).await);
        assert!(!auth.allows(None).await);
        let lowercase = HeaderValue::from_str(
            &header("prometheus", "secret")
                .to_str()
                .unwrap()
                .replacen("Basic", "bAsIc", 1),
        )
        .unwrap();
        assert!(auth.allows(Some(&lowercase)).await);
        for bad in ["Bearer abc", "Basic !!!", "Basic", "Basic cHJvbWV0aGV1cw=="] {
            assert!(
                !auth.allows(Some(&HeaderValue::from_static(bad))).await,
                "{bad}"
            );
        }
    }

    #[test]
    fn no_users_means_no_authentication() {
        assert!(BasicAuth::new(&BTreeMap::new()).is_none());
    }

    #[test]
    fn the_dummy_has_the_users_cost_and_is_a_valid_hash() {
        let auth = BasicAuth::new(&users()).unwrap();
        assert!(auth.dummy.starts_with("$2y$04$"));
        let dummy = BcryptHash::new(&auth.dummy).expect("a well-formed bcrypt hash");
        assert_eq!(dummy.cost(), 4);
        assert_eq!(
            bcrypt::verify("fakepassword", &auth.dummy).ok(),
            Some(false)
        );
    }

    #[test]
    fn a_password_may_hold_colons_and_the_user_may_be_empty() {
        assert_eq!(
            basic_credentials(&header("", "a:b")),
            Some((String::new(), "a:b".to_owned()))
        );
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let auth = BasicAuth::new(&users()).unwrap();
        for i in 0..CACHE_ENTRIES + 10 {
            auth.remember(cache_key("u", "h", &i.to_string()), false);
        }
        assert_eq!(auth.cache.lock().unwrap().len(), CACHE_ENTRIES);
        // A check past the bound still answers, and keeps the bound.
        assert!(auth.allows(Some(&header("prometheus", "secret"))).await);
        assert_eq!(auth.cache.lock().unwrap().len(), CACHE_ENTRIES);
    }
}
