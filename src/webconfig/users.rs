//! `basic_auth_users`: user names and the bcrypt hashes of their passwords.
//!
//! A hash must be a real bcrypt hash: `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 04
//! to 31, `$`, and 53 characters of bcrypt's base64 (22 of salt, 31 of hash). This is
//! stricter than exporter-toolkit, whose check (Go's `bcrypt.Cost`) reads only the length,
//! the version and the cost, and so lets through strings that no password can match.
//! Neither a hash nor anything taken for one is ever printed.

use std::collections::BTreeMap;
use std::fmt;

use serde_yaml::Value;

use super::read::{self, Report};

const PATH: &str = "basic_auth_users";

/// A bcrypt hash. `Debug` and `Display` print `<redacted>`; [`BcryptHash::expose`] gives
/// the value to the code that checks passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct BcryptHash(String);

impl BcryptHash {
    /// Checks `text` is a bcrypt hash; the error says why not, without the text.
    pub fn new(text: &str) -> Result<BcryptHash, &'static str> {
        check(text).map(|()| BcryptHash(text.to_owned()))
    }

    /// The hash, for checking a password against it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The cost: 2^cost rounds.
    pub fn cost(&self) -> u32 {
        self.0[4..6].parse().expect("checked when made")
    }
}

impl fmt::Debug for BcryptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for BcryptHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

fn check(text: &str) -> Result<(), &'static str> {
    let bytes = text.as_bytes();
    if text.is_empty() {
        return Err("it is empty");
    }
    if !(text.starts_with("$2a$") || text.starts_with("$2b$") || text.starts_with("$2y$")) {
        return Err("it does not start with $2a$, $2b$ or $2y$");
    }
    let cost = match (bytes.get(4..6), bytes.get(6)) {
        (Some(digits), Some(b'$')) if digits.iter().all(u8::is_ascii_digit) => {
            u32::from(digits[0] - b'0') * 10 + u32::from(digits[1] - b'0')
        }
        _ => return Err("the cost is not two digits followed by $"),
    };
    if !(4..=31).contains(&cost) {
        return Err("the cost is outside 04 to 31");
    }
    if bytes.len() != 60 {
        return Err("it is not 60 characters long");
    }
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/';
    if !bytes[7..].iter().all(alphabet) {
        return Err("its salt and hash hold characters outside bcrypt's alphabet");
    }
    Ok(())
}

/// Reads `basic_auth_users`; every user whose value is not a bcrypt hash is a problem.
pub(super) fn read(value: &Value, report: &mut Report) -> BTreeMap<String, BcryptHash> {
    let mut users = BTreeMap::new();
    for (name, value) in read::mapping(value, PATH, report).unwrap_or_default() {
        let path = user_path(&name);
        let Some(text) = read::string(value, &path, report) else {
            continue;
        };
        match BcryptHash::new(&text) {
            Ok(hash) => {
                if name.contains(':') {
                    report.warning(
                        &path,
                        "a user name with ':' can never log in: basic auth splits at the first ':'",
                    );
                }
                users.insert(name, hash);
            }
            Err(why) => report.problem(
                &path,
                format!(
                    "not a bcrypt hash: {why}; hash the password with bcrypt, \
                     e.g. htpasswd -nBC 10 \"\" | tr -d ':\\n'"
                ),
            ),
        }
    }
    users
}

/// `basic_auth_users.alice`; a name that is empty, unusual or looks like a hash (a hash
/// written as the key by mistake) is not printed as is.
fn user_path(name: &str) -> String {
    if check(name).is_ok() || name.starts_with("$2") {
        format!("{PATH}.<a user name that looks like a bcrypt hash>")
    } else if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.@+".contains(c))
    {
        format!("{PATH}.{name}")
    } else {
        format!("{PATH}.{name:?}")
    }
}
