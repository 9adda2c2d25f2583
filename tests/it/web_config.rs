//! The web configuration corpus, `tests/web-config/`: this build accepts exactly the
//! `good-*` files and refuses the `bad-*` ones, and `promtool check web-config` (Debian's
//! prometheus 2.42) agrees on every file but the documented exceptions, which are checked
//! against the verdict their names give. No refusal or warning shows a key or a hash.

use std::path::{Path, PathBuf};
use std::process::Command;

use tim_account_exporter::webconfig;

use crate::support::tool;

/// promtool 2.42 builds in exporter-toolkit 0.8.2, which refuses as unknown the keys added
/// since; this build reads them as exporter-toolkit's code and documentation do today.
const NEWER_KEY: &str = "uses a key promtool 2.42 predates and refuses as unknown \
     (client_allowed_sans came in exporter-toolkit 0.10, cert, key and client_ca in 0.11, \
     rate_limit in 0.15); the name gives exporter-toolkit's verdict";
const OLD_TLS: &str =
    "TLS 1.0 and 1.1 are refused on purpose: this build supports TLS 1.2 and later";
const SUITE: &str =
    "a Go cipher suite rustls (ring) cannot do is refused, with the list of those it can";
const CURVE: &str = "a Go curve rustls (ring) cannot do is refused, with the list of those it can";
const KEY: &str = "a key rustls (ring) cannot sign with (RSA below 2048 bits, ECDSA on P-521) \
     is refused here rather than at the first connection";
const BCRYPT: &str = "only real $2a$, $2b$ and $2y$ bcrypt hashes are accepted; Go's bcrypt.Cost \
     reads only the length, version and cost, so promtool lets through strings no password matches";

/// The files promtool judges differently, or for another reason, and why.
const EXCEPTIONS: &[(&str, &str)] = &[
    ("good-inline-cert-and-key.yml", NEWER_KEY),
    ("good-inline-key-with-cert-file.yml", NEWER_KEY),
    ("good-inline-client-ca.yml", NEWER_KEY),
    ("good-cert-file-wins-over-cert.yml", NEWER_KEY),
    ("good-client-allowed-sans.yml", NEWER_KEY),
    ("good-rate-limit.yml", NEWER_KEY),
    ("good-rate-limit-go-duration.yml", NEWER_KEY),
    ("good-rate-limit-off.yml", NEWER_KEY),
    ("good-rate-limit-burst-zero.yml", NEWER_KEY),
    ("good-everything-current.yml", NEWER_KEY),
    ("bad-inline-cert-empty.yml", NEWER_KEY),
    ("bad-inline-key-does-not-match.yml", NEWER_KEY),
    ("bad-rate-limit-unknown-key.yml", NEWER_KEY),
    ("bad-rate-limit-interval-days.yml", NEWER_KEY),
    ("bad-rate-limit-burst-string.yml", NEWER_KEY),
    ("bad-min-version-tls10.yml", OLD_TLS),
    ("bad-max-version-tls11.yml", OLD_TLS),
    ("bad-cipher-suite-rsa-key-exchange.yml", SUITE),
    ("bad-cipher-suite-cbc.yml", SUITE),
    ("bad-curve-p521.yml", CURVE),
    ("bad-key-rsa-1024.yml", KEY),
    ("bad-key-p521.yml", KEY),
    ("bad-basic-auth-2x.yml", BCRYPT),
    ("bad-basic-auth-truncated-hash.yml", BCRYPT),
    ("bad-basic-auth-garbled-hash.yml", BCRYPT),
];

/// The keys promtool 2.42 does not know.
const NEWER_KEYS: &[&str] = &[
    "cert",
    "key",
    "client_ca",
    "client_allowed_sans",
    "rate_limit",
];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web-config")
}

/// Every corpus file, by name, sorted.
fn corpus_files() -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(corpus())
        .expect("tests/web-config")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                path,
            )
        })
        .collect();
    files.sort();
    files
}

/// What `name` says: `good-*` is accepted, `bad-*` refused.
fn expected_good(name: &str) -> bool {
    assert!(
        name.starts_with("good-") || name.starts_with("bad-"),
        "{name}: a corpus file's name starts with good- or bad-"
    );
    name.starts_with("good-")
}

#[test]
fn the_corpus_gets_the_verdicts_of_its_names_and_of_promtool() {
    let files = corpus_files();
    assert!(files.len() >= 100, "{} files", files.len());
    let promtool = tool("promtool", crate::prometheus::PROMETHEUS_PACKAGE);
    let mut wrong = Vec::new();
    let mut promtool_differs = Vec::new();
    for (name, path) in &files {
        let good = expected_good(name);
        match (webconfig::load(path), good) {
            (Ok(_), true) | (Err(_), false) => {}
            (Ok(config), false) => wrong.push(format!(
                "{name}: accepted by this build (warnings: {:?})",
                config.warnings
            )),
            (Err(e), true) => wrong.push(format!("{name}: refused by this build:\n{e}")),
        }
        let Some(promtool) = &promtool else { continue };
        let output = Command::new(promtool)
            .args(["check", "web-config"])
            .arg(path)
            .output()
            .expect("promtool runs");
        let verdict = String::from_utf8_lossy(&output.stderr).into_owned();
        let exception = EXCEPTIONS.iter().find(|(file, _)| file == name);
        match exception {
            None if output.status.success() != good => {
                wrong.push(format!("{name}: promtool says {verdict}"));
            }
            Some(_) if output.status.success() != good => promtool_differs.push(name.as_str()),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    if promtool.is_some() {
        eprintln!("promtool judges differently, as documented: {promtool_differs:?}");
    }
}

#[test]
fn the_exceptions_are_corpus_files_and_cover_every_newer_key() {
    let files = corpus_files();
    for (name, _) in EXCEPTIONS {
        assert!(
            files.iter().any(|(file, _)| file == name),
            "{name} is not in the corpus"
        );
    }
    for (name, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let newer = text.lines().find_map(|line| {
            let key = line.trim_start().split(':').next()?;
            NEWER_KEYS.contains(&key).then_some(key)
        });
        if let Some(key) = newer {
            assert!(
                EXCEPTIONS.contains(&(name.as_str(), NEWER_KEY)),
                "{name} uses {key}, which promtool 2.42 predates: list it as an exception"
            );
        }
    }
}

/// Neither a key from the corpus's key files nor a hash from the file shows in a refusal
/// or a warning.
#[test]
fn no_verdict_shows_a_key_or_a_hash() {
    let mut secrets: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(corpus().join("certs")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(key) = text.split("PRIVATE KEY-----").nth(1) {
            secrets.extend(
                key.lines()
                    .filter(|line| line.len() > 16 && !line.starts_with("-----"))
                    .map(str::to_owned),
            );
        }
    }
    assert!(secrets.len() > 10, "{} key lines", secrets.len());
    for (name, path) in corpus_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let hashes = text
            .split_whitespace()
            .filter(|word| word.starts_with("$2") || word.starts_with("$3"))
            .map(|hash| hash.get(7..).unwrap_or(hash).to_owned());
        let said = match webconfig::load(&path) {
            Ok(config) => config.warnings.join("\n"),
            Err(e) => e.to_string(),
        };
        for secret in secrets.iter().cloned().chain(hashes) {
            assert!(!said.contains(&secret), "{name}: {said}");
        }
    }
}
