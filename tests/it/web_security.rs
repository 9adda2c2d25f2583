//! `--web.config.file` as a user meets it: the binary serving HTTPS with basic auth, client
//! certificates and a rate limit; TLS 1.1 refused; rotated passwords and certificates taken
//! without a restart; an invalid change kept out; an unknown user as slow as a wrong
//! password. The certificates are the corpus's (tests/web-config/certs).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// The test certificates' folder.
fn certs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web-config/certs")
}

fn read_cert(name: &str) -> Vec<u8> {
    std::fs::read(certs().join(name)).expect("test certificate")
}

/// A folder holding `web.yml` with `text`, and copies of the test certificates and keys.
fn web_config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "ca.crt",
        "server.crt",
        "server.key",
        "server-rsa.crt",
        "server-rsa.key",
        "client.crt",
        "client.key",
    ] {
        std::fs::copy(certs().join(name), dir.path().join(name)).unwrap();
    }
    let path = dir.path().join("web.yml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A bcrypt hash of `password`, cheap enough for a debug build.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

/// The exporter in demo mode with the web config at `path`.
fn start(path: &Path) -> DaemonProcess {
    DaemonProcess::start(&["--demo", "--web.config.file", path.to_str().unwrap()])
}

/// An HTTPS client trusting the test CA, with the client certificate when `identity`.
fn https(identity: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&read_cert("ca.crt")).unwrap())
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10));
    if identity {
        let mut pem = read_cert("client.crt");
        pem.extend(read_cert("client.key"));
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

fn url(daemon: &DaemonProcess, path: &str) -> String {
    format!("https://{}{path}", daemon.addr)
}

/// The status of a GET with `user:password`, or `None` when no answer came (refused).
async fn status(client: &reqwest::Client, url: &str, user: Option<(&str, &str)>) -> Option<u16> {
    let mut request = client.get(url);
    if let Some((user, password)) = user {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.ok().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn every_endpoint_needs_a_valid_user_over_tls() {
    let (_dir, path) = web_config(&format!(
        "{TLS}http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\nbasic_auth_users:\n  prometheus: {}\n  grafana: {}\n",
        hash("right"),
        hash("other")
    ));
    let daemon = start(&path);
    let client = https(false);
    for endpoint in ["/metrics", "/", "/api/v1/status", "/-/healthy", "/-/ready"] {
        for user in [
            None,
            Some(("prometheus", "wrong")),
            Some(("nobody", "right")),
            Some(("grafana", "right")),
        ] {
            let response = {
                let mut request = client.get(url(&daemon, endpoint));
                if let Some((u, p)) = user {
                    request = request.basic_auth(u, Some(p));
                }
                request.send().await.expect("an answer over TLS")
            };
            assert_eq!(response.status().as_u16(), 401, "{endpoint} as {user:?}");
            assert_eq!(response.headers()["www-authenticate"], "Basic");
            assert_eq!(response.headers()["x-frame-options"], "deny");
        }
    }
    let reload = client.post(url(&daemon, "/-/reload")).send().await.unwrap();
    assert_eq!(reload.status().as_u16(), 401, "reload needs a user too");

    let response = client
        .get(url(&daemon, "/metrics"))
        .basic_auth("prometheus", Some("right"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-encoding"],
        "gzip",
        "gzip over TLS"
    );
    assert_eq!(response.headers()["x-frame-options"], "deny");
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    for endpoint in ["/", "/api/v1/status", "/-/healthy"] {
        assert_eq!(
            status(&client, &url(&daemon, endpoint), Some(("grafana", "other"))).await,
            Some(200),
            "{endpoint}"
        );
    }
    let metrics = client
        .get(url(&daemon, "/metrics"))
        .basic_auth("prometheus", Some("right"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tim_exporter_web_config_last_reload_successful 1"));
    // Every family of the contract, the web config's gauge included (the demo checks
    // presence, and its apps' calls succeed or fail in every way the families count).
    let served = crate::daemon::served_families(&Scrape::parse(&metrics));
    assert!(
        served.contains(&(
            "tim_exporter_web_config_last_reload_successful".to_owned(),
            "gauge".to_owned(),
            Vec::new()
        )),
        "{served:?}"
    );
    assert!(served.is_subset(&crate::daemon::golden()), "{served:?}");
    // Plain HTTP on the TLS port is told so, as Go's servers tell it.
    let plain = reqwest::get(format!("http://{}/metrics", daemon.addr))
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 400);
    assert_eq!(
        plain.text().await.unwrap(),
        "Client sent an HTTP request to an HTTPS server.\n"
    );
}

#[tokio::test]
async fn a_verifying_client_auth_type_takes_only_certificates_from_the_client_ca() {
    let (_dir, path) = web_config(&format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"
    ));
    let daemon = start(&path);
    assert_eq!(
        status(&https(true), &url(&daemon, "/metrics"), None).await,
        Some(200)
    );
    assert_eq!(
        status(&https(false), &url(&daemon, "/metrics"), None).await,
        None,
        "no client certificate: the handshake is refused"
    );
    // A certificate with the right names that the client CA did not issue.
    let stranger =
        rustls_client_with_identity(&read_cert("stranger.crt"), &read_cert("stranger.key"));
    assert!(
        tls_connect(&stranger, daemon.addr).await.is_err(),
        "a certificate from another issuer is refused"
    );
}

#[tokio::test]
async fn client_allowed_sans_take_only_the_listed_names() {
    for (allowed, admitted) in [
        ("[prometheus.example]", true),
        ("['spiffe://example/prometheus']", true),
        ("[prometheus@example.com]", true),
        ("[someone.else.example]", false),
    ] {
        let (_dir, path) = web_config(&format!(
            "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: {allowed}\n"
        ));
        let daemon = start(&path);
        let answer = status(&https(true), &url(&daemon, "/metrics"), None).await;
        assert_eq!(answer == Some(200), admitted, "{allowed}: {answer:?}");
    }
}

/// A TLS 1.1 ClientHello (no supported_versions extension, legacy version 3.2) with
/// TLS 1.1 cipher suites.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([7u8; 32]); // random
    body.push(0); // no session id
    let suites: [u16; 4] = [0xc013, 0xc014, 0x002f, 0x0035];
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for suite in suites {
        body.extend(suite.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null
    let mut handshake = vec![1, 0];
    handshake.extend(((body.len()) as u16).to_be_bytes());
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[tokio::test]
async fn a_tls_1_1_client_is_refused_and_tls_1_2_served() {
    let (_dir, path) = web_config(TLS);
    let daemon = start(&path);
    let mut stream = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
    stream.write_all(&tls11_client_hello()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    // A fatal alert (record 21, level 2), never a ServerHello (record 22). rustls says
    // handshake_failure, as a real TLS 1.1 client (`openssl s_client -tls1_1`) sees too.
    assert_eq!(answer.first(), Some(&21), "answer: {answer:?}");
    assert_eq!(answer.get(5), Some(&2), "answer: {answer:?}");

    let tls12_only = rustls_client(&[&rustls::version::TLS12]);
    let stream = tls_connect(&tls12_only, daemon.addr)
        .await
        .expect("TLS 1.2 is served");
    assert_eq!(
        stream.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[tokio::test]
async fn min_version_tls13_refuses_a_tls_1_2_client() {
    let (_dir, path) = web_config(&format!("{TLS}  min_version: TLS13\n"));
    let daemon = start(&path);
    assert!(
        tls_connect(&rustls_client(&[&rustls::version::TLS12]), daemon.addr)
            .await
            .is_err()
    );
    assert!(
        tls_connect(&rustls_client(&[&rustls::version::TLS13]), daemon.addr)
            .await
            .is_ok()
    );
}

fn client_builder(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier> {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
}

fn test_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(&read_cert("ca.crt")).unwrap())
        .unwrap();
    roots
}

/// A rustls client trusting the test CA, limited to `versions`.
fn rustls_client(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    Arc::new(
        client_builder(versions)
            .with_root_certificates(test_roots())
            .with_no_client_auth(),
    )
}

/// A rustls client trusting the test CA that presents `cert` with `key`.
fn rustls_client_with_identity(cert: &[u8], key: &[u8]) -> Arc<rustls::ClientConfig> {
    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key).unwrap();
    Arc::new(
        client_builder(rustls::DEFAULT_VERSIONS)
            .with_root_certificates(test_roots())
            .with_client_auth_cert(chain, key)
            .unwrap(),
    )
}

/// Connects, completes the handshake and makes one HTTP request, since TLS 1.3 servers
/// refuse a client certificate only after the client thinks the handshake is done.
async fn tls_connect(
    config: &Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await?;
    stream
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await?;
    Ok(stream)
}

/// The DER of the certificate a new connection is served with.
async fn served_certificate(addr: std::net::SocketAddr) -> Vec<u8> {
    let stream = tls_connect(&rustls_client(rustls::DEFAULT_VERSIONS), addr)
        .await
        .expect("handshake");
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn der_of(name: &str) -> Vec<u8> {
    rustls::pki_types::CertificateDer::from_pem_slice(&read_cert(name))
        .unwrap()
        .to_vec()
}

/// Waits up to 5 s for `text` in the daemon's log, which another thread reads from the
/// process's standard error.
async fn wait_for_log(daemon: &DaemonProcess, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !daemon.stderr().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no `{text}` in:\n{}",
            daemon.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rewrites a file so its size or time surely changes, as a rotation does.
fn rewrite(path: &Path, text: &[u8]) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[tokio::test]
async fn a_rotated_password_and_certificate_take_effect_without_a_restart() {
    let (dir, path) = web_config(&format!(
        "{TLS}basic_auth_users:\n  prometheus: {}\n",
        hash("old")
    ));
    let daemon = start(&path);
    let client = https(false);
    let metrics = url(&daemon, "/metrics");
    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "old"))).await,
        Some(200)
    );
    assert_eq!(served_certificate(daemon.addr).await, der_of("server.crt"));

    rewrite(
        &path,
        format!("{TLS}basic_auth_users:\n  prometheus: {}\n", hash("new")).as_bytes(),
    );
    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "old"))).await,
        Some(401)
    );
    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "new"))).await,
        Some(200)
    );

    // The certificate and key files are replaced in place, the web config untouched.
    rewrite(&dir.path().join("server.key"), &read_cert("server-rsa.key"));
    rewrite(&dir.path().join("server.crt"), &read_cert("server-rsa.crt"));
    assert_eq!(
        served_certificate(daemon.addr).await,
        der_of("server-rsa.crt")
    );
    assert_eq!(
        status(&https(false), &metrics, Some(("prometheus", "new"))).await,
        Some(200)
    );
    wait_for_log(&daemon, "web configuration reloaded").await;
}

#[tokio::test]
async fn an_invalid_change_keeps_the_last_valid_config_and_says_so() {
    let valid = format!("{TLS}basic_auth_users:\n  prometheus: {}\n", hash("pw"));
    let (_dir, path) = web_config(&valid);
    let daemon = start(&path);
    let client = https(false);
    let metrics = url(&daemon, "/metrics");
    let gauge = |text: &str| {
        Scrape::parse(text).value("tim_exporter_web_config_last_reload_successful", &[])
    };
    let scrape = || async {
        client
            .get(&metrics)
            .basic_auth("prometheus", Some("pw"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert_eq!(gauge(&scrape().await), Some(1.0));

    for (broken, why) in [
        (format!("{valid}bogus: 1\n"), "unknown key `bogus`"),
        (
            format!("basic_auth_users:\n  prometheus: {}\n", hash("pw")),
            "turning TLS off takes a restart",
        ),
        (
            valid.replace("server.key", "absent.key"),
            "tls_server_config.key_file",
        ),
    ] {
        rewrite(&path, broken.as_bytes());
        // The old password still works: the last valid file is in force.
        assert_eq!(gauge(&scrape().await), Some(0.0), "{why}");
        wait_for_log(&daemon, why).await;
        rewrite(&path, valid.as_bytes());
        assert_eq!(gauge(&scrape().await), Some(1.0));
    }
    let log = daemon.stderr();
    assert!(
        !log.contains("$2b$") && !log.contains("$2y$"),
        "no hash in the log"
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_before_authentication() {
    let (_dir, path) = web_config(&format!(
        "{TLS}rate_limit:\n  interval: 1h\n  burst: 2\nbasic_auth_users:\n  prometheus: {}\n",
        hash("pw")
    ));
    let daemon = start(&path);
    let client = https(false);
    let metrics = url(&daemon, "/metrics");
    assert_eq!(status(&client, &metrics, None).await, Some(401));
    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "pw"))).await,
        Some(200)
    );
    // The bucket is empty: refused before the credentials are looked at.
    assert_eq!(status(&client, &metrics, None).await, Some(429));
    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "pw"))).await,
        Some(429)
    );
}

#[tokio::test]
async fn plain_http_takes_basic_auth_too() {
    let (_dir, path) = web_config(&format!(
        "basic_auth_users:\n  prometheus: {}\n",
        hash("pw")
    ));
    let daemon = start(&path);
    let client = reqwest::Client::new();
    let metrics = daemon.url("/metrics");
    assert_eq!(status(&client, &metrics, None).await, Some(401));
    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "pw"))).await,
        Some(200)
    );
}

/// The median of `samples`.
fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn an_unknown_user_takes_as_long_as_a_wrong_password() {
    // Cost 8: slow enough to stand out from a request's own time in a debug build.
    let (_dir, path) = web_config(&format!(
        "basic_auth_users:\n  prometheus: {}\n",
        bcrypt::hash("pw", 8).unwrap()
    ));
    let daemon = start(&path);
    let client = reqwest::Client::new();
    let metrics = daemon.url("/-/healthy");
    let timed = |user: &'static str, password: String| {
        let request = client.get(&metrics).basic_auth(user, Some(password));
        async move {
            let started = Instant::now();
            let status = request.send().await.unwrap().status().as_u16();
            assert_eq!(status, 401);
            started.elapsed()
        }
    };
    let (mut unknown, mut wrong, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..9 {
        // A new password each time: no answer comes from the cache.
        unknown.push(timed("nobody", format!("guess-{round}")).await);
        wrong.push(timed("prometheus", format!("guess-{round}")).await);
        cached.push(timed("prometheus", "guess-0".to_owned()).await);
    }
    let (unknown, wrong, cached) = (median(unknown), median(wrong), median(cached));
    // Both cost one bcrypt at the same cost; a request answered from the cache costs none.
    assert!(
        unknown > cached * 3 && wrong > cached * 3,
        "bcrypt did not run: unknown {unknown:?}, wrong {wrong:?}, cached {cached:?}"
    );
    let ratio = unknown.as_secs_f64() / wrong.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown user {unknown:?} against wrong password {wrong:?}"
    );
}

#[tokio::test]
async fn an_invalid_web_config_is_refused_at_start_and_by_config_check() {
    let (_dir, path) = web_config(
        "tls_server_config:\n  cert_file: absent.crt\n  key_file: server.key\n  min_version: TLS11\nbasic_auth_users:\n  alice: plain-password\n",
    );
    for mode in [
        &["--demo", "--config.check"][..],
        &["--demo", "--web.listen-address", "127.0.0.1:0"][..],
    ] {
        let output = exporter()
            .args(mode)
            .args(["--web.config.file", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{mode:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for problem in [
            "tls_server_config.cert_file",
            "tls_server_config.min_version: TLS11 is refused: this build supports TLS 1.2 and later",
            "basic_auth_users.alice",
        ] {
            assert!(stderr.contains(problem), "{mode:?} lacks {problem}:\n{stderr}");
        }
        assert!(
            !stderr.contains("plain-password"),
            "the value is never printed"
        );
    }
}

#[tokio::test]
async fn prometheus_scrapes_over_tls_with_basic_auth_and_with_a_client_certificate() {
    let Some(prometheus) = tool("prometheus", crate::prometheus::PROMETHEUS_PACKAGE) else {
        return;
    };
    let (dir, auth_path) = web_config(&format!(
        "{TLS}basic_auth_users:\n  prometheus: {}\n",
        hash("scrape")
    ));
    let cert_path = dir.path().join("web-cert.yml");
    std::fs::write(
        &cert_path,
        format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n"),
    )
    .unwrap();
    let with_auth = start(&auth_path);
    let with_cert = start(&cert_path);
    // The basic-auth job is the documented one from prometheus.example.yml, pointed at
    // this test's CA, password file and exporter.
    let ca = dir.path().join("ca.crt");
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "scrape").unwrap();
    let example: serde_yaml::Value = serde_yaml::from_str(&crate::monitoring::read_deploy(
        "prometheus/prometheus.example.yml",
    ))
    .unwrap();
    let mut auth_job = example["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|job| job["scheme"] == "https")
        .expect("the example has an HTTPS job")
        .clone();
    assert!(auth_job["basic_auth"]["password_file"].is_string());
    auth_job["tls_config"]["ca_file"] = ca.to_str().unwrap().into();
    auth_job["basic_auth"]["password_file"] = password_file.to_str().unwrap().into();
    auth_job["static_configs"] =
        serde_yaml::from_str(&format!("[{{targets: ['{}']}}]", with_auth.addr)).unwrap();
    let cert_job: serde_yaml::Value = serde_yaml::from_str(&format!(
        "job_name: client-cert\nscheme: https\ntls_config:\n  ca_file: {ca}\n  cert_file: {cert}\n  key_file: {key}\nstatic_configs:\n  - targets: ['{client}']\n",
        ca = ca.display(),
        client = with_cert.addr,
        cert = dir.path().join("client.crt").display(),
        key = dir.path().join("client.key").display(),
    ))
    .unwrap();
    let server = crate::monitoring::ToolServer::prometheus(
        &prometheus,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs: {}\n",
            serde_json::to_string(&[auth_job, cert_job]).unwrap()
        ),
        &[],
    )
    .await;
    let targets = get_until(
        &format!("{}/api/v1/targets", server.base),
        Duration::from_secs(60),
        |status, body| {
            status == 200 && {
                let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                json["data"]["activeTargets"]
                    .as_array()
                    .is_some_and(|targets| {
                        targets.len() == 2 && targets.iter().all(|t| t["health"] == "up")
                    })
            }
        },
    )
    .await;
    assert!(targets.contains("tim-account-exporter-tls") && targets.contains("client-cert"));
}

// ---- systemd: the web-config.conf drop-in ----

const DROP_IN: &str = "systemd/tim-account-exporter.service.d/web-config.conf";
const SERVICE: &str = "systemd/tim-account-exporter.service";

/// The values of every `key=` line of a unit file.
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn the_web_config_drop_in_verifies_and_keeps_the_exposure_at_most_2() {
    let Some(analyze) = tool("systemd-analyze", "the Debian package systemd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let service = crate::monitoring::read_deploy(SERVICE);
    let installed = values(&service, "ExecStart")[0]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    std::fs::write(
        dir.path().join("tim-account-exporter.service"),
        service.replace(&installed, env!("CARGO_BIN_EXE_tim-account-exporter")),
    )
    .unwrap();
    let drop_ins = dir.path().join("tim-account-exporter.service.d");
    std::fs::create_dir(&drop_ins).unwrap();
    std::fs::write(
        drop_ins.join("web-config.conf"),
        crate::monitoring::read_deploy(DROP_IN),
    )
    .unwrap();
    // The unit path makes systemd read the drop-in folder beside the unit.
    let unit_path = format!("{}:", dir.path().display());
    let verify = std::process::Command::new(&analyze)
        .env("SYSTEMD_UNIT_PATH", &unit_path)
        .args(["verify", "tim-account-exporter.service"])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success() && said.trim().is_empty(), "{said}");
    let security = std::process::Command::new(&analyze)
        .env("SYSTEMD_UNIT_PATH", &unit_path)
        .args([
            "security",
            "--offline=true",
            "--no-pager",
            "tim-account-exporter.service",
        ])
        .output()
        .unwrap();
    crate::deploy::assert_exposure_at_most_2(&String::from_utf8_lossy(&security.stdout));
}

#[tokio::test]
async fn the_unit_with_the_drop_in_serves_https_from_its_credentials() {
    let service = crate::monitoring::read_deploy(SERVICE);
    let drop_in = crate::monitoring::read_deploy(DROP_IN);
    let sim = start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    // LoadCredential=<id>:<source>: systemd copies each source to the credentials folder.
    let credential_ids: Vec<&str> = values(&drop_in, "LoadCredential")
        .into_iter()
        .map(|c| c.split_once(':').expect("id:path").0)
        .collect();
    assert_eq!(credential_ids, ["web.yml", "tls.crt", "tls.key"]);
    std::fs::write(
        credentials.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  prometheus: {}\n",
            hash("pw")
        ),
    )
    .unwrap();
    std::fs::copy(certs().join("server.crt"), credentials.join("tls.crt")).unwrap();
    std::fs::copy(certs().join("server.key"), credentials.join("tls.key")).unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        app_yaml(
            &sim.endpoint(),
            "",
            &list_yaml("ops-bots", "imported", &ids("bot", 3)),
        ),
    )
    .unwrap();

    // ExecStart as systemd runs it: $WEB_CONFIG from the drop-in with %d the credentials
    // folder, an empty $ARGS, and the test's configuration file.
    let web_config = values(&drop_in, "Environment")
        .into_iter()
        .find_map(|e| e.strip_prefix("WEB_CONFIG="))
        .expect("the drop-in sets WEB_CONFIG")
        .replace("%d", credentials.to_str().unwrap());
    let exec_start = values(&service, "ExecStart")[0];
    assert!(exec_start.contains("$WEB_CONFIG"), "{exec_start}");
    let args: Vec<String> = exec_start
        .split_whitespace()
        .skip(1)
        .filter_map(|word| match word {
            "$WEB_CONFIG" => Some(web_config.clone()),
            "$ARGS" => None,
            _ if word.starts_with("--config.file=") => {
                Some(format!("--config.file={}", config.display()))
            }
            _ => Some(word.to_owned()),
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let daemon =
        DaemonProcess::start_with_env(&args, &[("CREDENTIALS_DIRECTORY", credentials.as_path())]);
    let client = https(false);
    let metrics = url(&daemon, "/metrics");
    assert_eq!(status(&client, &metrics, None).await, Some(401));
    assert_eq!(
        status(&client, &metrics, Some(("prometheus", "pw"))).await,
        Some(200)
    );
}

// ---- cipher suites and curves ----

/// A TLS 1.2 client trusting the test CA that offers only `suite` and `group`.
fn tls12_client_offering(
    suite: rustls::SupportedCipherSuite,
    group: &'static dyn rustls::crypto::SupportedKxGroup,
) -> Arc<rustls::ClientConfig> {
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: vec![suite],
        kx_groups: vec![group],
        ..rustls::crypto::ring::default_provider()
    };
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(test_roots())
            .with_no_client_auth(),
    )
}

#[tokio::test]
async fn cipher_suites_and_curve_preferences_limit_what_a_tls_1_2_client_gets() {
    use rustls::crypto::ring::{cipher_suite, kx_group};
    let (_dir, path) = web_config(&format!(
        "{TLS}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [CurveP384]\n"
    ));
    let daemon = start(&path);
    let allowed = tls12_client_offering(
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        kx_group::SECP384R1,
    );
    let stream = tls_connect(&allowed, daemon.addr)
        .await
        .expect("the listed suite and curve");
    assert_eq!(
        stream
            .get_ref()
            .1
            .negotiated_cipher_suite()
            .map(|s| s.suite()),
        Some(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
    );
    let other_suite = tls12_client_offering(
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        kx_group::SECP384R1,
    );
    assert!(
        tls_connect(&other_suite, daemon.addr).await.is_err(),
        "a suite not listed"
    );
    let other_curve = tls12_client_offering(
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        kx_group::X25519,
    );
    assert!(
        tls_connect(&other_curve, daemon.addr).await.is_err(),
        "a curve not listed"
    );
    // TLS 1.3 suites stay on, as in Go.
    assert!(
        tls_connect(&rustls_client(&[&rustls::version::TLS13]), daemon.addr)
            .await
            .is_ok()
    );
}

// ---- secrets ----

#[tokio::test]
async fn no_key_hash_or_password_reaches_the_log_or_the_answers() {
    let key_pem = String::from_utf8(read_cert("server.key")).unwrap();
    // The base64 body of the key: what must never be seen.
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let hash = hash("a-password-to-keep");
    let indent = |text: &str| {
        text.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let (_dir, path) = web_config(&format!(
        "tls_server_config:\n  cert_file: server.crt\n  key: |\n{}basic_auth_users:\n  prometheus: {hash}\n",
        indent(&key_pem)
    ));
    let daemon = DaemonProcess::start(&[
        "--demo",
        "--log.level=trace",
        "--web.config.file",
        path.to_str().unwrap(),
    ]);
    let client = https(false);
    let mut served = String::new();
    for endpoint in ["/metrics", "/", "/api/v1/status"] {
        served += &client
            .get(url(&daemon, endpoint))
            .basic_auth("prometheus", Some("a-password-to-keep"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    // Failures log too: a wrong password, a failed handshake, an invalid change.
    assert_eq!(
        status(
            &client,
            &url(&daemon, "/metrics"),
            Some(("prometheus", "a-wrong-password"))
        )
        .await,
        Some(401)
    );
    let _ = tls_connect(&rustls_client(&[&rustls::version::TLS12]), daemon.addr).await;
    let _ = reqwest::get(format!("http://{}/", daemon.addr)).await;
    let valid = std::fs::read_to_string(&path).unwrap();
    let broken = valid.clone() + "bogus: 1\n";
    rewrite(&path, broken.as_bytes());
    let _ = status(
        &client,
        &url(&daemon, "/metrics"),
        Some(("prometheus", "a-password-to-keep")),
    )
    .await;
    wait_for_log(&daemon, "web configuration reload failed").await;
    let log = daemon.stderr();
    for (what, secret) in [
        ("the key", key_body.as_str()),
        ("the key's first line", key_body.get(..40).unwrap()),
        ("the hash", hash.as_str()),
        ("the password", "a-password-to-keep"),
        ("a wrong password", "a-wrong-password"),
    ] {
        assert!(!log.contains(secret), "{what} is in the log");
        assert!(!served.contains(secret), "{what} is served");
    }

    // Nor does the debug form of the configuration in force.
    rewrite(&path, valid.as_bytes());
    let live = tim_account_exporter::web::LiveWebConfig::load(&path).expect("valid");
    let debug = format!("{live:?} {:?}", live.active());
    assert!(debug.contains("tls"), "{debug}");
    assert!(
        !debug.contains(key_body.get(..40).unwrap()) && !debug.contains(&hash),
        "{debug}"
    );
}

#[tokio::test]
async fn each_client_auth_type_takes_the_certificates_go_takes() {
    let none = rustls_client(rustls::DEFAULT_VERSIONS);
    let from_ca = rustls_client_with_identity(&read_cert("client.crt"), &read_cert("client.key"));
    let stranger =
        rustls_client_with_identity(&read_cert("stranger.crt"), &read_cert("stranger.key"));
    // (type, with client_ca_file, admitted: no certificate, the CA's, a stranger's)
    for (auth_type, with_ca, admitted) in [
        ("NoClientCert", false, [true, true, true]),
        ("RequestClientCert", false, [true, true, true]),
        ("RequireAnyClientCert", false, [false, true, true]),
        ("VerifyClientCertIfGiven", true, [true, true, false]),
        ("RequireAndVerifyClientCert", true, [false, true, false]),
    ] {
        let ca = if with_ca {
            "  client_ca_file: ca.crt\n"
        } else {
            ""
        };
        let (_dir, path) = web_config(&format!("{TLS}  client_auth_type: {auth_type}\n{ca}"));
        let daemon = start(&path);
        for (client, admit, who) in [
            (&none, admitted[0], "no certificate"),
            (&from_ca, admitted[1], "the CA's certificate"),
            (&stranger, admitted[2], "a stranger's certificate"),
        ] {
            assert_eq!(
                tls_connect(client, daemon.addr).await.is_ok(),
                admit,
                "{auth_type} with {who}"
            );
        }
    }
}

#[test]
fn an_endless_file_named_by_the_web_config_is_refused_not_read_whole() {
    let (_dir, path) =
        web_config("tls_server_config:\n  cert_file: /dev/zero\n  key_file: server.key\n");
    let output = exporter()
        .args(["--demo", "--config.check", "--web.config.file"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tls_server_config.cert_file: cannot read /dev/zero: the file is larger than the limit of 1 MiB"),
        "{stderr}"
    );
    let output = exporter()
        .args(["--demo", "--config.check", "--web.config.file", "/dev/zero"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("larger than the limit of 1 MiB"));
}
