//! `tls_server_config`: the certificate and key, client certificates, versions, cipher
//! suites and curves.
//!
//! As in exporter-toolkit, TLS is on when any of `cert_file`, `cert`, `key_file`, `key`,
//! `client_ca_file`, `client_ca` or `client_auth_type` is set; the certificate and the key
//! are then both required, read, and checked to belong together. Cipher suites and curves
//! are Go's names (`crypto/tls`); a Go name this build's TLS stack (rustls with ring)
//! cannot do is refused with the list of those it can.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::pem;
use super::read::{self, join, Report, Section};
use crate::tim::Secret;

const PATH: &str = "tls_server_config";

const KEYS: &[&str] = &[
    "cert_file",
    "key_file",
    "cert",
    "key",
    "client_auth_type",
    "client_ca_file",
    "client_ca",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
];

/// The keys that turn TLS on.
const ENABLING_KEYS: &[&str] = &[
    "cert_file",
    "cert",
    "key_file",
    "key",
    "client_ca_file",
    "client_ca",
    "client_auth_type",
];

/// Serve HTTPS with this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, leaf first. Read again when it changes on disk.
    pub cert: CertSource,
    pub key: KeySource,
    pub client_auth: ClientAuth,
    /// The CAs client certificates are verified against. `None` with a verifying
    /// `client_auth`: the system's trusted roots (a warning says so).
    pub client_ca: Option<CertSource>,
    /// `Some`: a client certificate must carry one of these SANs (DNS name, e-mail address,
    /// IP address or URI, compared exactly). `Some(empty)` lets none through.
    pub client_allowed_sans: Option<Vec<String>>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// In preference order; empty: the TLS stack's defaults. As in Go, they restrict TLS 1.2
    /// only: the TLS 1.3 suites are always on.
    pub cipher_suites: Vec<CipherSuite>,
    /// In preference order; empty: the TLS stack's defaults.
    pub curve_preferences: Vec<Curve>,
    /// Accepted for compatibility; Go has ignored it since 1.17.
    pub prefer_server_cipher_suites: bool,
}

/// PEM certificates: a file (the path resolved from the web config's folder) or inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    File(PathBuf),
    Inline(String),
}

/// A PEM private key: a file (the path resolved from the web config's folder) or inline.
/// An inline key is a [`Secret`] and never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Inline(Secret),
}

/// Whether and how client certificates are asked for and verified (Go's
/// `tls.ClientAuthType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuth {
    NoClientCert,
    /// Asked for, not required, not verified.
    RequestClientCert,
    /// Required, not verified.
    RequireAnyClientCert,
    /// Not required; verified when given.
    VerifyClientCertIfGiven,
    /// Required and verified.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    pub const ALL: [ClientAuth; 5] = [
        ClientAuth::NoClientCert,
        ClientAuth::RequestClientCert,
        ClientAuth::RequireAnyClientCert,
        ClientAuth::VerifyClientCertIfGiven,
        ClientAuth::RequireAndVerifyClientCert,
    ];

    /// The name in the file, which is Go's.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::NoClientCert => "NoClientCert",
            ClientAuth::RequestClientCert => "RequestClientCert",
            ClientAuth::RequireAnyClientCert => "RequireAnyClientCert",
            ClientAuth::VerifyClientCertIfGiven => "VerifyClientCertIfGiven",
            ClientAuth::RequireAndVerifyClientCert => "RequireAndVerifyClientCert",
        }
    }

    /// Whether a client certificate, when given, is verified against the client CAs.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }

    /// Whether a connection without a client certificate is refused.
    pub fn requires(self) -> bool {
        matches!(
            self,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    }

    fn from_name(name: &str) -> Option<ClientAuth> {
        match name {
            "" => Some(ClientAuth::NoClientCert),
            // exporter-toolkit keeps the old name.
            "RequireClientCert" => Some(ClientAuth::RequireAnyClientCert),
            _ => ClientAuth::ALL
                .into_iter()
                .find(|auth| auth.as_str() == name),
        }
    }
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TLS protocol version this build serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// The name in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }

    fn read(value: Option<&Value>, default: TlsVersion, path: &str, report: &mut Report) -> Self {
        let name = match value.map(read::untagged) {
            // Absent, or null (Go's zero value: the TLS stack's default).
            None | Some(Value::Null) => return default,
            Some(value) => match read::string(value, path, report) {
                Some(name) => name,
                None => return default,
            },
        };
        match name.as_str() {
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            "TLS10" | "TLS11" => {
                report.problem(
                    path,
                    format!(
                        "{name} is refused: this build supports TLS 1.2 and later (TLS12, TLS13)"
                    ),
                );
                default
            }
            _ => {
                report.problem(
                    path,
                    format!("unknown TLS version `{name}`; expected TLS12 or TLS13"),
                );
                default
            }
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Go's `tls.CipherSuites()`: the names exporter-toolkit accepts, with their IANA numbers.
pub(super) const GO_CIPHER_SUITES: &[(&str, u16)] = &[
    ("TLS_RSA_WITH_AES_128_CBC_SHA", 0x002f),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", 0x0035),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", 0x009c),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", 0x009d),
    ("TLS_AES_128_GCM_SHA256", 0x1301),
    ("TLS_AES_256_GCM_SHA384", 0x1302),
    ("TLS_CHACHA20_POLY1305_SHA256", 0x1303),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 0xc009),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 0xc00a),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 0xc013),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 0xc014),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", 0xc02b),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xc02c),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xc02f),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", 0xc030),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca8),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", 0xcca9),
];

/// Go's `tls.InsecureCipherSuites()`: Go names that exporter-toolkit refuses as unknown.
const GO_INSECURE_CIPHER_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// A cipher suite, by its Go name, that this build's TLS stack can do.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    TLS_AES_128_GCM_SHA256,
    TLS_AES_256_GCM_SHA384,
    TLS_CHACHA20_POLY1305_SHA256,
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
}

impl CipherSuite {
    pub const ALL: [CipherSuite; 9] = [
        CipherSuite::TLS_AES_128_GCM_SHA256,
        CipherSuite::TLS_AES_256_GCM_SHA384,
        CipherSuite::TLS_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    /// The Go name, as written in the file.
    pub fn go_name(self) -> &'static str {
        match self {
            CipherSuite::TLS_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
            CipherSuite::TLS_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
            CipherSuite::TLS_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => {
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            }
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => {
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
            }
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => {
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            }
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => {
                "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
            }
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => {
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
            }
            CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
            }
        }
    }

    /// The IANA number, which is also rustls's.
    pub fn iana(self) -> u16 {
        let name = self.go_name();
        GO_CIPHER_SUITES
            .iter()
            .find(|(go, _)| *go == name)
            .map(|(_, id)| *id)
            .expect("every variant is a Go cipher suite")
    }

    /// Whether it is a TLS 1.3 suite (which Go, and so the file, cannot turn off).
    pub fn is_tls13(self) -> bool {
        matches!(
            self,
            CipherSuite::TLS_AES_128_GCM_SHA256
                | CipherSuite::TLS_AES_256_GCM_SHA384
                | CipherSuite::TLS_CHACHA20_POLY1305_SHA256
        )
    }

    fn read(name: &str, path: &str, report: &mut Report) -> Option<CipherSuite> {
        if let Some(suite) = CipherSuite::ALL.into_iter().find(|s| s.go_name() == name) {
            return Some(suite);
        }
        let known = names(CipherSuite::ALL.map(CipherSuite::go_name));
        if GO_CIPHER_SUITES.iter().any(|(go, _)| *go == name) {
            report.problem(
                path,
                format!(
                    "{name} is a Go cipher suite this build's TLS stack (rustls) cannot do; \
                     it can do {known}"
                ),
            );
        } else if GO_INSECURE_CIPHER_SUITES.contains(&name) {
            report.problem(
                path,
                format!(
                    "{name} is one of Go's insecure cipher suites, which exporter-toolkit \
                     refuses; this build can do {known}"
                ),
            );
        } else {
            report.problem(
                path,
                format!("unknown cipher suite `{name}`; this build can do {known}"),
            );
        }
        None
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.go_name())
    }
}

/// The curves exporter-toolkit knows, by Go name, with their IANA group numbers.
pub(super) const GO_CURVES: &[(&str, u16)] = &[
    ("CurveP256", 23),
    ("CurveP384", 24),
    ("CurveP521", 25),
    ("X25519", 29),
];

/// An elliptic curve for ECDHE, by its Go name, that this build's TLS stack can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    CurveP256,
    CurveP384,
    X25519,
}

impl Curve {
    pub const ALL: [Curve; 3] = [Curve::CurveP256, Curve::CurveP384, Curve::X25519];

    /// The Go name, as written in the file.
    pub fn go_name(self) -> &'static str {
        match self {
            Curve::CurveP256 => "CurveP256",
            Curve::CurveP384 => "CurveP384",
            Curve::X25519 => "X25519",
        }
    }

    /// The IANA named group number, which is also rustls's.
    pub fn iana(self) -> u16 {
        match self {
            Curve::CurveP256 => 23,
            Curve::CurveP384 => 24,
            Curve::X25519 => 29,
        }
    }

    fn read(name: &str, path: &str, report: &mut Report) -> Option<Curve> {
        if let Some(curve) = Curve::ALL.into_iter().find(|c| c.go_name() == name) {
            return Some(curve);
        }
        let known = names(Curve::ALL.map(Curve::go_name));
        if GO_CURVES.iter().any(|(go, _)| *go == name) {
            report.problem(
                path,
                format!(
                    "{name} is a Go curve this build's TLS stack (rustls) cannot do; \
                     it can do {known}"
                ),
            );
        } else {
            report.problem(
                path,
                format!("unknown curve `{name}`; this build can do {known}"),
            );
        }
        None
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.go_name())
    }
}

fn names<const N: usize>(names: [&str; N]) -> String {
    names.join(", ")
}

/// Reads `tls_server_config`. `None` when TLS is off (or on but unusable: then there are
/// problems).
pub(super) fn read(value: &Value, base_dir: &Path, report: &mut Report) -> Option<TlsConfig> {
    let section = read::section(value, PATH, KEYS, report)?;
    let text = |key: &str, report: &mut Report| -> String {
        section
            .get(key)
            .and_then(|value| read::string(value, &join(PATH, key), report))
            .unwrap_or_default()
    };
    let cert_file = text("cert_file", report);
    let key_file = text("key_file", report);
    let cert = text("cert", report);
    let key = Secret::new(text("key", report));
    let client_auth_type = text("client_auth_type", report);
    let client_ca_file = text("client_ca_file", report);
    let client_ca = text("client_ca", report);
    let client_allowed_sans = read_sans(&section, report);
    let min_version = TlsVersion::read(
        section.get("min_version"),
        TlsVersion::Tls12,
        &join(PATH, "min_version"),
        report,
    );
    let max_version = TlsVersion::read(
        section.get("max_version"),
        TlsVersion::Tls13,
        &join(PATH, "max_version"),
        report,
    );
    let cipher_suites = read_names(&section, "cipher_suites", CipherSuite::read, report);
    let curve_preferences = read_names(&section, "curve_preferences", Curve::read, report);
    let prefer_server_cipher_suites = match section.get("prefer_server_cipher_suites") {
        None => true,
        Some(value) => {
            read::boolean(value, &join(PATH, "prefer_server_cipher_suites"), report).unwrap_or(true)
        }
    };
    let client_auth = ClientAuth::from_name(&client_auth_type);
    if client_auth.is_none() {
        let known = names(ClientAuth::ALL.map(ClientAuth::as_str));
        report.problem(
            &join(PATH, "client_auth_type"),
            format!("unknown value `{client_auth_type}`; expected one of {known}"),
        );
    }

    let enabled = [
        &cert_file,
        &cert,
        &key_file,
        key.expose(),
        &client_ca_file,
        &client_ca,
        &client_auth_type,
    ]
    .iter()
    .any(|value| !value.is_empty());
    if !enabled {
        let unused: Vec<&str> = KEYS
            .iter()
            .copied()
            .filter(|key| !ENABLING_KEYS.contains(key) && section.has(key))
            .collect();
        if !unused.is_empty() {
            report.warning(
                PATH,
                format!(
                    "TLS is off (none of {} is set), so {} {} no effect",
                    ENABLING_KEYS.join(", "),
                    unused.join(", "),
                    if unused.len() == 1 { "has" } else { "have" }
                ),
            );
        }
        return None;
    }

    let cert = choose(&cert_file, "cert_file", &cert, "cert", base_dir, report);
    let key = choose(&key_file, "key_file", key.expose(), "key", base_dir, report);
    let client_ca = choose(
        &client_ca_file,
        "client_ca_file",
        &client_ca,
        "client_ca",
        base_dir,
        report,
    );
    if cert.is_none() {
        report.problem(PATH, "missing cert_file (or an inline cert)");
    }
    if key.is_none() {
        report.problem(PATH, "missing key_file (or an inline key)");
    }
    let cert = cert.map(|(chosen, path)| (chosen.cert(), path));
    let key = key.map(|(chosen, path)| (chosen.key(), path));
    let client_ca = client_ca.map(|(chosen, path)| (chosen.cert(), path));
    if let (Some((cert, cert_path)), Some((key, key_path))) = (&cert, &key) {
        pem::check_cert_and_key(cert, cert_path, key, key_path, report);
    }
    if let Some((ca, path)) = &client_ca {
        pem::check_client_ca(ca, path, report);
    }
    let client_auth = client_auth?;
    check_client_auth(
        client_auth,
        client_ca.as_ref().map(|(_, path)| path.as_str()),
        client_allowed_sans.is_some(),
        report,
    );
    if min_version > max_version {
        report.warning(
            PATH,
            format!(
                "min_version {min_version} is above max_version {max_version}: \
                 no TLS connection can succeed"
            ),
        );
    }
    Some(TlsConfig {
        cert: cert?.0,
        key: key?.0,
        client_auth,
        client_ca: client_ca.map(|(ca, _)| ca),
        client_allowed_sans,
        min_version,
        max_version,
        cipher_suites,
        curve_preferences,
        prefer_server_cipher_suites,
    })
}

/// Which of a pair such as `cert_file` and `cert` is used.
enum Chosen<'a> {
    /// Resolved from the web config's folder.
    File(PathBuf),
    Inline(&'a str),
}

impl Chosen<'_> {
    fn cert(self) -> CertSource {
        match self {
            Chosen::File(path) => CertSource::File(path),
            Chosen::Inline(text) => CertSource::Inline(text.to_owned()),
        }
    }

    fn key(self) -> KeySource {
        match self {
            Chosen::File(path) => KeySource::File(path),
            Chosen::Inline(text) => KeySource::Inline(Secret::new(text)),
        }
    }
}

/// The file or the inline text of a pair such as `cert_file` and `cert`, with the path of
/// the key used; `None` when neither is set. The file wins when both are, as in
/// exporter-toolkit, and a warning says the inline text is unused.
fn choose<'a>(
    file: &str,
    file_key: &str,
    inline: &'a str,
    inline_key: &str,
    base_dir: &Path,
    report: &mut Report,
) -> Option<(Chosen<'a>, String)> {
    if !file.is_empty() {
        if !inline.is_empty() {
            report.warning(
                &join(PATH, inline_key),
                format!("unused: {file_key} is set too, and wins"),
            );
        }
        return Some((Chosen::File(base_dir.join(file)), join(PATH, file_key)));
    }
    (!inline.is_empty()).then(|| (Chosen::Inline(inline), join(PATH, inline_key)))
}

/// The rules between `client_auth_type`, the client CA (`client_ca_path`: the key that
/// set it) and `client_allowed_sans`.
fn check_client_auth(
    client_auth: ClientAuth,
    client_ca_path: Option<&str>,
    has_allowed_sans: bool,
    report: &mut Report,
) {
    match client_ca_path {
        Some(path) if client_auth == ClientAuth::NoClientCert => report.problem(
            path,
            "a client CA is set but client_auth_type is NoClientCert; set client_auth_type \
             to RequireAndVerifyClientCert (or VerifyClientCertIfGiven), or remove the client CA",
        ),
        Some(path) if !client_auth.verifies() => report.warning(
            path,
            format!("unused: {client_auth} does not verify client certificates"),
        ),
        None if client_auth.verifies() => report.warning(
            &join(PATH, "client_auth_type"),
            format!(
                "{client_auth} without client_ca_file or client_ca: client certificates are \
                 verified against the system's trusted roots"
            ),
        ),
        _ => {}
    }
    if has_allowed_sans && client_auth == ClientAuth::NoClientCert {
        report.warning(
            &join(PATH, "client_allowed_sans"),
            "unused: client_auth_type is NoClientCert, so no client certificate is asked for",
        );
    }
}

fn read_sans(section: &Section<'_>, report: &mut Report) -> Option<Vec<String>> {
    let path = join(PATH, "client_allowed_sans");
    let value = section.get("client_allowed_sans")?;
    if read::untagged(value).is_null() {
        return None;
    }
    let items = read::list(value, &path, report)?;
    Some(
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| read::string(item, &read::index(&path, i), report))
            .collect(),
    )
}

/// A list of Go names. An empty item is skipped with a warning: Go keeps it as the number
/// 0, which matches nothing.
fn read_names<T>(
    section: &Section<'_>,
    key: &str,
    parse: fn(&str, &str, &mut Report) -> Option<T>,
    report: &mut Report,
) -> Vec<T> {
    let path = join(PATH, key);
    let Some(items) = section
        .get(key)
        .and_then(|value| read::list(value, &path, report))
    else {
        return Vec::new();
    };
    let mut parsed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = read::index(&path, i);
        if read::untagged(item).is_null() {
            report.warning(&item_path, "an empty entry; ignored");
            continue;
        }
        if let Some(name) = read::string(item, &item_path, report) {
            parsed.extend(parse(&name, &item_path, report));
        }
    }
    parsed
}
