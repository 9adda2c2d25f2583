//! The web configuration's messages: every problem, path-qualified, no secret; and the
//! rules exporter-toolkit applies, one by one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// The corpus's certificates; relative paths in the tests resolve from here.
fn certs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web-config/certs")
}

fn ok(yaml: &str) -> WebConfig {
    parse(yaml, &certs()).unwrap_or_else(|e| panic!("refused:\n{e}\n---\n{yaml}"))
}

fn problems(yaml: &str) -> Vec<String> {
    match parse(yaml, &certs()) {
        Ok(config) => panic!("accepted: {config:?}\n---\n{yaml}"),
        Err(e) => e.problems,
    }
}

fn one_problem(yaml: &str) -> String {
    let problems = problems(yaml);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems.into_iter().next().unwrap()
}

const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

/// A real bcrypt hash (of "secret", cost 4) and its parts.
const HASH: &str = "$2b$04$EbCWRat2CrLHWUaE8/TdAuW/oUFxbntsbvZCbJP63ReiACT8DIIbm";

fn with_prefix(prefix: &str) -> String {
    format!("{prefix}{}", &HASH[4..])
}

#[test]
fn an_empty_file_is_plain_http_without_auth() {
    for text in [
        "",
        "# nothing\n",
        "~\n",
        "tls_server_config:\n",
        "tls_server_config: {}\n",
    ] {
        let config = ok(text);
        assert_eq!(config.tls, None, "{text:?}");
        assert!(config.basic_auth_users.is_empty());
        assert_eq!(config.rate_limit, None);
        assert!(config.http.http2);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let yaml = format!(
        "colour: red
tls_server_config:
  cert_file: server.crt
  key_file: other.key
  cert_filse: x
  client_auth_type: Sometimes
  min_version: TLS10
  max_version: tls13
  cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_RC4_128_SHA, TLS_MADE_UP]
  curve_preferences: [CurveP521, P256]
  prefer_server_cipher_suites: \"true\"
http_server_config:
  http2: 1
  headers:
    Content-Type: text/plain
    X-Frame-Options: DENY
basic_auth_users:
  alice: secret
  bob: {HASH}
  carol: [x]
rate_limit:
  interval: 1d
  burst: many
"
    );
    let problems = problems(&yaml);
    let expected = [
        "unknown key `colour`; the keys are tls_server_config, http_server_config, basic_auth_users, rate_limit",
        "tls_server_config: unknown key `cert_filse`; the keys are cert_file, key_file, cert, key, client_auth_type, client_ca_file, client_ca, client_allowed_sans, min_version, max_version, cipher_suites, curve_preferences, prefer_server_cipher_suites",
        "tls_server_config.min_version: TLS10 is refused: this build supports TLS 1.2 and later (TLS12, TLS13)",
        "tls_server_config.max_version: unknown TLS version `tls13`; expected TLS12 or TLS13",
        "tls_server_config.cipher_suites[0]: TLS_RSA_WITH_AES_128_GCM_SHA256 is a Go cipher suite this build's TLS stack (rustls) cannot do; it can do ",
        "tls_server_config.cipher_suites[1]: TLS_RSA_WITH_RC4_128_SHA is one of Go's insecure cipher suites, which exporter-toolkit refuses; this build can do ",
        "tls_server_config.cipher_suites[2]: unknown cipher suite `TLS_MADE_UP`; this build can do ",
        "tls_server_config.curve_preferences[0]: CurveP521 is a Go curve this build's TLS stack (rustls) cannot do; it can do CurveP256, CurveP384, X25519",
        "tls_server_config.curve_preferences[1]: unknown curve `P256`; this build can do CurveP256, CurveP384, X25519",
        "tls_server_config.prefer_server_cipher_suites: must be true or false",
        "tls_server_config.client_auth_type: unknown value `Sometimes`; expected one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert",
        "tls_server_config.key_file: the private key does not belong to the certificate of cert_file",
        "http_server_config.http2: must be true or false",
        "http_server_config.headers.Content-Type: this header cannot be set; the ones that can are Content-Security-Policy, Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection",
        "http_server_config.headers.X-Frame-Options: invalid value \"DENY\"; expected one of \"deny\", \"sameorigin\"",
        "basic_auth_users.alice: not a bcrypt hash: it does not start with $2a$, $2b$ or $2y$; hash the password with bcrypt",
        "basic_auth_users.carol: must be a string, not a list",
        "rate_limit.interval: `1d` is not a Go duration: unknown unit `d`",
        "rate_limit.burst: must be a whole number",
    ];
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    for (problem, start) in problems.iter().zip(expected) {
        assert!(
            problem.starts_with(start),
            "{problem}\n  does not start with\n{start}"
        );
    }
    assert!(problems[4].ends_with(
        "it can do TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, \
         TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, \
         TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, \
         TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    ));
}

#[test]
fn no_secret_is_ever_printed() {
    let key_pem = std::fs::read_to_string(certs().join("server.key")).unwrap();
    let other_key = std::fs::read_to_string(certs().join("other.key")).unwrap();
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let key_body: Vec<String> = [&key_pem, &other_key]
        .iter()
        .flat_map(|pem| pem.lines().filter(|l| !l.starts_with("-----")))
        .map(str::to_owned)
        .collect();
    let secrets = |text: &str| {
        key_body.iter().any(|line| text.contains(line.as_str()))
            || text.contains(&HASH[7..])
            || text.contains("hunter2")
    };

    // Refused: a key that does not match, a password where a hash goes, a hash as a name.
    let yaml = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key: |\n{}basic_auth_users:\n  alice: hunter2\n  {HASH}: x\n  bob: {}\n",
        indent(&other_key),
        with_prefix("$2x$"),
    );
    let refused = parse(&yaml, &certs()).unwrap_err();
    assert_eq!(refused.problems.len(), 4, "{refused}");
    for text in [refused.to_string(), format!("{refused:?}")] {
        assert!(!secrets(&text), "{text}");
    }
    assert!(refused
        .to_string()
        .contains("basic_auth_users.<a user name that looks like a bcrypt hash>"));

    // Accepted: the inline key and the hashes are there, and never in Debug.
    let yaml = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key: |\n{}basic_auth_users:\n  alice: {HASH}\n",
        indent(&key_pem)
    );
    let config = ok(&yaml);
    let tls = config.tls.as_ref().unwrap();
    let KeySource::Inline(key) = &tls.key else {
        panic!("{tls:?}")
    };
    assert_eq!(key.expose(), key_pem);
    assert_eq!(config.basic_auth_users["alice"].expose(), HASH);
    let debug = format!("{config:?} {config:#?}");
    assert!(!secrets(&debug), "{debug}");
    assert!(debug.contains("<redacted>"));
    assert_eq!(config.basic_auth_users["alice"].to_string(), "<redacted>");
}

#[test]
fn load_resolves_paths_from_the_file_folder_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    let certs = certs();
    std::fs::write(
        &path,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: server.key\n",
            certs.join("server.crt").display()
        ),
    )
    .unwrap();
    let problems = load(&path).unwrap_err().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    let missing = dir.path().join("server.key");
    assert!(
        problems[0].starts_with(&format!(
            "{}: tls_server_config.key_file: cannot read {}: ",
            path.display(),
            missing.display()
        )),
        "{problems:?}"
    );

    std::fs::copy(certs.join("server.key"), &missing).unwrap();
    let config = load(&path).unwrap();
    let tls = config.tls.unwrap();
    assert_eq!(tls.cert, CertSource::File(certs.join("server.crt")));
    assert_eq!(tls.key, KeySource::File(missing));

    let absent = dir.path().join("absent.yml");
    let problems = load(&absent).unwrap_err().problems;
    assert!(problems[0].starts_with(&format!("cannot read {}: ", absent.display())));
}

#[test]
fn tls_defaults_and_every_key() {
    let config = ok(TLS);
    let tls = config.tls.unwrap();
    assert_eq!(tls.client_auth, ClientAuth::NoClientCert);
    assert_eq!(
        (tls.min_version, tls.max_version),
        (TlsVersion::Tls12, TlsVersion::Tls13)
    );
    assert!(tls.cipher_suites.is_empty() && tls.curve_preferences.is_empty());
    assert!(tls.prefer_server_cipher_suites);
    assert_eq!(tls.client_ca, None);
    assert_eq!(tls.client_allowed_sans, None);

    let config = ok(&format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [prometheus.example, ~]
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP384]
  prefer_server_cipher_suites: no
"
    ));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let tls = config.tls.unwrap();
    assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
    assert_eq!(
        tls.client_ca,
        Some(CertSource::File(certs().join("ca.crt")))
    );
    assert_eq!(
        tls.client_allowed_sans,
        Some(vec!["prometheus.example".to_owned(), String::new()])
    );
    assert_eq!(
        (tls.min_version, tls.max_version),
        (TlsVersion::Tls13, TlsVersion::Tls13)
    );
    assert_eq!(
        tls.cipher_suites,
        [
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            CipherSuite::TLS_AES_128_GCM_SHA256
        ]
    );
    assert_eq!(tls.curve_preferences, [Curve::X25519, Curve::CurveP384]);
    assert!(!tls.prefer_server_cipher_suites);
}

#[test]
fn tls_is_off_without_a_certificate_key_client_ca_or_client_auth_type() {
    let config = ok("tls_server_config:\n  min_version: TLS13\n  cipher_suites: []\n");
    assert_eq!(config.tls, None);
    assert_eq!(
        config.warnings,
        ["tls_server_config: TLS is off (none of cert_file, cert, key_file, key, client_ca_file, client_ca, client_auth_type is set), so min_version, cipher_suites have no effect"]
    );
    // Empty values do not turn it on.
    assert_eq!(
        ok("tls_server_config:\n  cert_file: ''\n  client_auth_type:\n").tls,
        None
    );
    // Any of them does, and then the certificate and the key are needed.
    for key in [
        "cert_file: server.crt",
        "key_file: server.key",
        "client_ca_file: ca.crt",
        "client_auth_type: NoClientCert",
        "cert: x",
        "key: x",
        "client_ca: x",
    ] {
        let problems = problems(&format!("tls_server_config:\n  {key}\n"));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("tls_server_config: missing")),
            "{key}: {problems:?}"
        );
    }
    assert_eq!(
        problems("tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n"),
        [
            "tls_server_config: missing cert_file (or an inline cert)",
            "tls_server_config: missing key_file (or an inline key)"
        ]
    );
}

#[test]
fn client_auth_types_and_client_cas() {
    for (name, auth) in [
        ("NoClientCert", ClientAuth::NoClientCert),
        ("RequestClientCert", ClientAuth::RequestClientCert),
        ("RequireAnyClientCert", ClientAuth::RequireAnyClientCert),
        ("RequireClientCert", ClientAuth::RequireAnyClientCert),
        (
            "VerifyClientCertIfGiven",
            ClientAuth::VerifyClientCertIfGiven,
        ),
        (
            "RequireAndVerifyClientCert",
            ClientAuth::RequireAndVerifyClientCert,
        ),
        ("''", ClientAuth::NoClientCert),
    ] {
        let config = ok(&format!("{TLS}  client_auth_type: {name}\n"));
        assert_eq!(config.tls.unwrap().client_auth, auth, "{name}");
    }
    // A client CA needs a client_auth_type other than NoClientCert, written or not.
    for auth in ["", "  client_auth_type: NoClientCert\n"] {
        assert_eq!(
            one_problem(&format!("{TLS}{auth}  client_ca_file: ca.crt\n")),
            "tls_server_config.client_ca_file: a client CA is set but client_auth_type is NoClientCert; set client_auth_type to RequireAndVerifyClientCert (or VerifyClientCertIfGiven), or remove the client CA"
        );
    }
    let ca = std::fs::read_to_string(certs().join("ca.crt")).unwrap();
    let inline_ca = format!(
        "  client_ca: |\n{}",
        ca.lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    assert!(one_problem(&format!("{TLS}{inline_ca}"))
        .starts_with("tls_server_config.client_ca: a client CA is set"));

    // Verifying without a CA: accepted, with a warning.
    let config = ok(&format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n"
    ));
    assert_eq!(
        config.warnings,
        ["tls_server_config.client_auth_type: RequireAndVerifyClientCert without client_ca_file or client_ca: client certificates are verified against the system's trusted roots"]
    );
    // A CA with a type that does not verify: unused.
    let config = ok(&format!(
        "{TLS}  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.crt\n"
    ));
    assert_eq!(
        config.warnings,
        ["tls_server_config.client_ca_file: unused: RequireAnyClientCert does not verify client certificates"]
    );
    // Inline CA; the file wins over it.
    let config = ok(&format!(
        "{TLS}  client_auth_type: VerifyClientCertIfGiven\n{inline_ca}"
    ));
    assert_eq!(config.tls.unwrap().client_ca, Some(CertSource::Inline(ca)));
    let config = ok(&format!(
        "{TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n{inline_ca}"
    ));
    assert_eq!(
        config.warnings,
        ["tls_server_config.client_ca: unused: client_ca_file is set too, and wins"]
    );
    // The CA file must be readable; what it holds is not checked, as in Go.
    assert!(one_problem(&format!(
        "{TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: absent.crt\n"
    ))
    .starts_with("tls_server_config.client_ca_file: cannot read "));
    let config = ok(&format!(
        "{TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: not-pem.txt\n"
    ));
    assert_eq!(config.warnings, ["tls_server_config.client_ca_file: holds no PEM certificate, so no client certificate can be verified"]);
    // Allowed SANs without client certificates.
    let config = ok(&format!("{TLS}  client_allowed_sans: [a]\n"));
    assert_eq!(config.warnings, ["tls_server_config.client_allowed_sans: unused: client_auth_type is NoClientCert, so no client certificate is asked for"]);
}

#[test]
fn versions() {
    let config = ok(&format!("{TLS}  min_version: ~\n  max_version: TLS12\n"));
    let tls = config.tls.unwrap();
    assert_eq!(
        (tls.min_version, tls.max_version),
        (TlsVersion::Tls12, TlsVersion::Tls12)
    );
    let config = ok(&format!(
        "{TLS}  min_version: TLS13\n  max_version: TLS12\n"
    ));
    assert_eq!(config.warnings, ["tls_server_config: min_version TLS13 is above max_version TLS12: no TLS connection can succeed"]);
    for (version, start) in [
        (
            "TLS10",
            "TLS10 is refused: this build supports TLS 1.2 and later",
        ),
        (
            "TLS11",
            "TLS11 is refused: this build supports TLS 1.2 and later",
        ),
        ("TLS1.2", "unknown TLS version `TLS1.2`"),
        ("''", "unknown TLS version ``"),
        ("12", "unknown TLS version `12`"),
    ] {
        for key in ["min_version", "max_version"] {
            let problem = one_problem(&format!("{TLS}  {key}: {version}\n"));
            assert!(
                problem.starts_with(&format!("tls_server_config.{key}: {start}")),
                "{problem}"
            );
        }
    }
    // Refused even when TLS is off.
    assert!(one_problem("tls_server_config:\n  min_version: TLS11\n").contains("TLS 1.2 and later"));
}

#[test]
fn every_go_cipher_suite_and_curve_is_known() {
    for (name, _) in tls::GO_CIPHER_SUITES {
        match parse(&format!("{TLS}  cipher_suites: [{name}]\n"), &certs()) {
            Ok(config) => assert_eq!(config.tls.unwrap().cipher_suites[0].go_name(), *name),
            Err(e) => assert!(e.problems[0].contains("cannot do"), "{e}"),
        }
    }
    for (name, _) in tls::GO_CURVES {
        match parse(&format!("{TLS}  curve_preferences: [{name}]\n"), &certs()) {
            Ok(config) => assert_eq!(config.tls.unwrap().curve_preferences[0].go_name(), *name),
            Err(e) => assert!(e.problems[0].contains("cannot do"), "{e}"),
        }
    }
    // An empty entry is ignored, as Go's zero matches nothing.
    let config = ok(&format!(
        "{TLS}  cipher_suites: [~, TLS_AES_128_GCM_SHA256]\n  curve_preferences: [~]\n"
    ));
    assert_eq!(
        config.tls.unwrap().cipher_suites,
        [CipherSuite::TLS_AES_128_GCM_SHA256]
    );
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    assert_eq!(
        one_problem(&format!("{TLS}  cipher_suites: TLS_AES_128_GCM_SHA256\n")),
        "tls_server_config.cipher_suites: must be a list, not a string"
    );
}

/// The enums hold exactly what rustls with ring can do, by IANA number.
#[test]
fn cipher_suites_and_curves_are_those_of_rustls_with_ring() {
    let provider = rustls::crypto::ring::default_provider();
    let mut ours: Vec<u16> = CipherSuite::ALL.iter().map(|s| s.iana()).collect();
    let mut theirs: Vec<u16> = provider
        .cipher_suites
        .iter()
        .map(|s| u16::from(s.suite()))
        .collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
    for suite in CipherSuite::ALL {
        let tls13 = provider
            .cipher_suites
            .iter()
            .find(|s| u16::from(s.suite()) == suite.iana())
            .map(|s| s.tls13().is_some());
        assert_eq!(tls13, Some(suite.is_tls13()), "{suite}");
    }
    let mut ours: Vec<u16> = Curve::ALL.iter().map(|c| c.iana()).collect();
    let mut theirs: Vec<u16> = provider
        .kx_groups
        .iter()
        .map(|g| u16::from(g.name()))
        .collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs);
    for curve in Curve::ALL {
        assert!(
            tls::GO_CURVES.contains(&(curve.go_name(), curve.iana())),
            "{curve}"
        );
    }
}

#[test]
fn certificates_and_keys() {
    let pair = |cert: &str, key: &str| {
        parse(
            &format!("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"),
            &certs(),
        )
    };
    for (cert, key) in [
        ("server.crt", "server.key"),
        ("server.crt", "server-sec1.key"),
        ("server-rsa.crt", "server-rsa.key"),
        ("server-ed25519.crt", "server-ed25519.key"),
        ("server-chain.crt", "server.key"),
        ("server-bundle.pem", "server-bundle.pem"),
        ("server-v1.crt", "server.key"),
    ] {
        pair(cert, key).unwrap_or_else(|e| panic!("{cert} {key}: {e}"));
    }
    for (cert, key, expected) in [
        ("server.crt", "other.key", &["tls_server_config.key_file: the private key does not belong to the certificate of cert_file"][..]),
        ("server.key", "server.crt", &[
            "tls_server_config.cert_file: holds a private key but no PEM certificate: are the certificate and the key swapped?",
            "tls_server_config.key_file: holds a certificate but no PEM private key: are the certificate and the key swapped?",
        ]),
        ("empty.pem", "server.key", &["tls_server_config.cert_file: holds no PEM certificate"]),
        ("not-pem.txt", "server.key", &["tls_server_config.cert_file: holds no PEM certificate"]),
        ("server.crt", "empty.pem", &["tls_server_config.key_file: holds no PEM private key"]),
        ("rsa1024.crt", "rsa1024.key", &["tls_server_config.key_file: the private key cannot be read or used: this build's TLS stack (rustls) takes RSA keys of 2048 to 4096 bits, ECDSA keys on P-256 or P-384, and Ed25519 keys"]),
        ("p521.crt", "p521.key", &["tls_server_config.key_file: the private key cannot be read or used: "]),
    ] {
        let found = pair(cert, key).unwrap_err().problems;
        assert_eq!(found.len(), expected.len(), "{cert} {key}: {found:?}");
        for (problem, start) in found.iter().zip(expected) {
            assert!(problem.starts_with(start), "{cert} {key}: {found:?}");
        }
    }
    let unreadable = pair("absent.crt", "/").unwrap_err().problems;
    assert_eq!(unreadable.len(), 2, "{unreadable:?}");
    assert!(unreadable[0].starts_with(&format!(
        "tls_server_config.cert_file: cannot read {}: ",
        certs().join("absent.crt").display()
    )));
    assert!(unreadable[1].starts_with("tls_server_config.key_file: cannot read /: "));

    // A key is read whatever its PEM label says, as Go reads it.
    let pkcs8 = std::fs::read_to_string(certs().join("server.key")).unwrap();
    let relabelled = pkcs8.replace("PRIVATE KEY", "EC PRIVATE KEY");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("relabelled.key"), relabelled).unwrap();
    std::fs::copy(certs().join("server.crt"), dir.path().join("server.crt")).unwrap();
    parse(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: relabelled.key\n",
        dir.path(),
    )
    .unwrap();

    // Inline; a file wins over inline text.
    let cert = std::fs::read_to_string(certs().join("server.crt")).unwrap();
    let block = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let config = ok(&format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}",
        block(&cert),
        block(&pkcs8)
    ));
    assert_eq!(config.tls.unwrap().cert, CertSource::Inline(cert.clone()));
    let config = ok(&format!("{TLS}  cert: |\n{}", block(&cert)));
    assert_eq!(
        config.tls.unwrap().cert,
        CertSource::File(certs().join("server.crt"))
    );
    assert_eq!(
        config.warnings,
        ["tls_server_config.cert: unused: cert_file is set too, and wins"]
    );
    assert_eq!(
        problems("tls_server_config:\n  cert: ''\n  key_file: server.key\n"),
        ["tls_server_config: missing cert_file (or an inline cert)"]
    );
}

#[test]
fn bcrypt_hashes() {
    for prefix in ["$2a$", "$2b$", "$2y$"] {
        for cost in ["04", "10", "31"] {
            let hash = format!("{prefix}{cost}{}", &HASH[6..]);
            let config = ok(&format!("basic_auth_users:\n  alice: '{hash}'\n"));
            let parsed = &config.basic_auth_users["alice"];
            assert_eq!(parsed.expose(), hash);
            assert_eq!(parsed.cost(), cost.parse::<u32>().unwrap());
        }
    }
    for (hash, why) in [
        (
            with_prefix("$2x$"),
            "it does not start with $2a$, $2b$ or $2y$",
        ),
        (
            with_prefix("$2$"),
            "it does not start with $2a$, $2b$ or $2y$",
        ),
        (
            format!("$2b$03{}", &HASH[6..]),
            "the cost is outside 04 to 31",
        ),
        (
            format!("$2b$32{}", &HASH[6..]),
            "the cost is outside 04 to 31",
        ),
        (
            format!("$2b$+5{}", &HASH[6..]),
            "the cost is not two digits followed by $",
        ),
        (
            format!("$2b$4${}", &HASH[7..]),
            "the cost is not two digits followed by $",
        ),
        (HASH[..59].to_owned(), "it is not 60 characters long"),
        (format!("{HASH}x"), "it is not 60 characters long"),
        (
            format!("{}!", &HASH[..59]),
            "its salt and hash hold characters outside bcrypt's alphabet",
        ),
        (String::new(), "it is empty"),
    ] {
        let problem = one_problem(&format!("basic_auth_users:\n  alice: '{hash}'\n"));
        assert_eq!(
            problem,
            format!("basic_auth_users.alice: not a bcrypt hash: {why}; hash the password with bcrypt, e.g. htpasswd -nBC 10 \"\" | tr -d ':\\n'")
        );
    }
    // Names as yaml.v2 makes them; odd ones quoted in messages.
    let config = ok(&format!(
        "basic_auth_users:\n  123: {HASH}\n  '': {HASH}\n  a:b: {HASH}\n"
    ));
    let names: Vec<&str> = config.basic_auth_users.keys().map(String::as_str).collect();
    assert_eq!(names, ["", "123", "a:b"]);
    assert_eq!(config.warnings, ["basic_auth_users.\"a:b\": a user name with ':' can never log in: basic auth splits at the first ':'"]);
    assert!(one_problem("basic_auth_users:\n  'al ice':\n")
        .starts_with("basic_auth_users.\"al ice\": not a bcrypt hash"));
    assert_eq!(ok("basic_auth_users:\n").basic_auth_users.len(), 0);
    assert_eq!(
        one_problem("basic_auth_users: [a]\n"),
        "basic_auth_users: must be a mapping, not a list"
    );
}

#[test]
fn headers_and_http2() {
    let config = ok("http_server_config:
  http2: off
  headers:
    Content-Security-Policy: \"default-src 'self'\"
    Strict-Transport-Security: ' max-age=31536000 '
    X-Content-Type-Options: nosniff
    X-Frame-Options: sameorigin
    X-XSS-Protection: \"1;\\nmode=block\"
");
    assert!(!config.http.http2);
    let headers: Vec<(&str, &str)> = config
        .http
        .headers
        .iter()
        .map(|(h, v)| (h.name(), v.as_str()))
        .collect();
    assert_eq!(
        headers,
        [
            ("Content-Security-Policy", "default-src 'self'"),
            ("Strict-Transport-Security", "max-age=31536000"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "sameorigin"),
            ("X-XSS-Protection", "1; mode=block"),
        ]
    );
    assert!(config.warnings.is_empty());
    // Written without a value, the section is Go's zero value: HTTP/2 off.
    assert!(!ok("http_server_config:\n").http.http2);
    assert!(ok("http_server_config: {}\n").http.http2);
    // Values are exact; an empty one is allowed only where any value is.
    assert_eq!(
        ok("http_server_config:\n  headers:\n    X-XSS-Protection:\n")
            .http
            .headers[&SecurityHeader::XXssProtection],
        ""
    );
    for (header, value) in [
        ("X-Frame-Options", "''"),
        ("X-Frame-Options", "' deny'"),
        ("X-Content-Type-Options", "sniff"),
    ] {
        let problem = one_problem(&format!(
            "http_server_config:\n  headers:\n    {header}: {value}\n"
        ));
        assert!(
            problem.starts_with(&format!(
                "http_server_config.headers.{header}: invalid value"
            )),
            "{problem}"
        );
    }
    assert!(
        one_problem("http_server_config:\n  headers:\n    x-frame-options: deny\n")
            .contains("this header cannot be set")
    );
    let config = ok("http_server_config:\n  headers:\n    Content-Security-Policy: \"a\\0b\"\n");
    assert_eq!(
        config.http.headers[&SecurityHeader::ContentSecurityPolicy],
        "a b"
    );
    assert_eq!(config.warnings, ["http_server_config.headers.Content-Security-Policy: control characters in the value are sent as spaces"]);
}

#[test]
fn booleans_as_yaml_v2_reads_them() {
    for (text, value) in [
        ("true", true),
        ("True", true),
        ("yes", true),
        ("On", true),
        ("y", true),
        ("false", false),
        ("no", false),
        ("OFF", false),
        ("~", false),
    ] {
        let config = ok(&format!("{TLS}  prefer_server_cipher_suites: {text}\n"));
        assert_eq!(
            config.tls.unwrap().prefer_server_cipher_suites,
            value,
            "{text}"
        );
    }
    for text in ["'true'", "1", "tRUE", "[]"] {
        assert_eq!(
            one_problem(&format!("{TLS}  prefer_server_cipher_suites: {text}\n")),
            "tls_server_config.prefer_server_cipher_suites: must be true or false"
        );
    }
}

#[test]
fn rate_limits() {
    let limit = |yaml: &str| ok(yaml).rate_limit;
    assert_eq!(
        limit("rate_limit:\n  interval: 1s\n  burst: 20\n"),
        Some(RateLimit {
            interval: Duration::from_secs(1),
            burst: 20
        })
    );
    assert_eq!(
        limit("rate_limit:\n  interval: 1m30.5s\n  burst: 1\n")
            .unwrap()
            .interval,
        Duration::from_millis(90_500)
    );
    for off in [
        "rate_limit:\n",
        "rate_limit: {}\n",
        "rate_limit:\n  interval: 0\n  burst: 0\n",
        "rate_limit:\n  interval: 0s\n",
    ] {
        assert_eq!(limit(off), None, "{off}");
    }
    assert!(ok("rate_limit:\n  interval: 0\n  burst: 0\n")
        .warnings
        .is_empty());
    assert_eq!(
        ok("rate_limit:\n  interval: 0\n  burst: 5\n").warnings,
        ["rate_limit.burst: unused: without an interval there is no rate limit"]
    );
    let config = ok("rate_limit:\n  interval: -1s\n  burst: 5\n");
    assert_eq!(config.rate_limit, None);
    assert_eq!(
        config.warnings,
        ["rate_limit.interval: negative: no rate limit, as in exporter-toolkit"]
    );
    let config = ok("rate_limit:\n  interval: 1s\n");
    assert_eq!(
        config.rate_limit,
        Some(RateLimit {
            interval: Duration::from_secs(1),
            burst: 0
        })
    );
    assert_eq!(config.warnings, ["rate_limit.burst: 0 (or missing) with an interval: every request is refused with 429; set it to at least 1"]);
    let config = ok("rate_limit:\n  interval: 1000000\n  burst: -3\n");
    assert_eq!(
        config.rate_limit,
        Some(RateLimit {
            interval: Duration::from_millis(1),
            burst: 0
        })
    );
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    for (yaml, start) in [
        (
            "interval: 1.5",
            "rate_limit.interval: 1.5 is not a duration: write it with a unit",
        ),
        (
            "interval: 1 s",
            "rate_limit.interval: `1 s` is not a Go duration: unknown unit ` s`",
        ),
        (
            "interval: ''",
            "rate_limit.interval: `` is not a Go duration",
        ),
        ("interval: [1s]", "rate_limit.interval: must be a duration"),
        ("burst: 1.5", "rate_limit.burst: must be a whole number"),
        ("burst: '5'", "rate_limit.burst: must be a whole number"),
        (
            "limit: 5",
            "rate_limit: unknown key `limit`; the keys are interval, burst",
        ),
    ] {
        let problem = one_problem(&format!("rate_limit:\n  {yaml}\n"));
        assert!(problem.starts_with(start), "{problem}");
    }
}

#[test]
fn go_durations() {
    use rate::go_duration;
    for (text, nanos) in [
        ("0", 0),
        ("-0", 0),
        ("+5s", 5_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("1.s", 1_000_000_000),
        ("250ms", 250_000_000),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("10μs", 10_000),
        ("7ns", 7),
        ("-1m", -60_000_000_000),
        ("2562047h47m16.854775807s", i128::from(i64::MAX)),
    ] {
        assert_eq!(go_duration(text), Ok(nanos), "{text}");
    }
    for text in [
        "",
        "-",
        "s",
        "1",
        ".s",
        "1d",
        "1sec",
        "1 s",
        "1h 2m",
        "2562047h47m16.854775808s",
        "99999999999999999999999h",
    ] {
        assert!(go_duration(text).is_err(), "{text}");
    }
}

#[test]
fn yaml_structure() {
    assert_eq!(
        one_problem("- a\n"),
        "the web configuration must be a mapping with the keys tls_server_config, http_server_config, basic_auth_users, rate_limit"
    );
    assert!(one_problem("just text\n").starts_with("the web configuration must be a mapping"));
    assert_eq!(
        one_problem("tls_server_config: []\n"),
        "tls_server_config: must be a mapping, not a list"
    );
    assert!(
        one_problem("tls_server_config: {}\ntls_server_config: {}\n")
            .contains("duplicate entry with key \"tls_server_config\"")
    );
    assert!(
        one_problem("basic_auth_users: {a: x, a: y}\n").contains("duplicate entry with key \"a\"")
    );
    assert!(one_problem("tls_server_config: [\n").contains("line"));
    // Merge keys, and tags, as yaml.v2 reads them.
    let config =
        ok("tls_server_config:\n  <<: {cert_file: server.crt}\n  key_file: !!str server.key\n");
    assert_eq!(
        config.tls.unwrap().cert,
        CertSource::File(certs().join("server.crt"))
    );
}
