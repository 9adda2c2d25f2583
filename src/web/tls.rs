//! The TLS server configuration built from `tls_server_config`: the certificate and key,
//! the protocol versions, cipher suites and curves, and the client certificate policy.
//!
//! The five client auth types map to rustls as Go's do: `RequestClientCert` and
//! `RequireAnyClientCert` take any certificate whose holder proves its key, without
//! checking who issued it; the two verifying types check the chain against the client CAs,
//! or the system's trusted roots when none is configured. `client_allowed_sans` then
//! requires the client certificate to carry one of the listed subject alternative names,
//! compared exactly as exporter-toolkit compares them; a connection without a certificate
//! cannot carry one and is refused.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
    SupportedProtocolVersion,
};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;

use crate::webconfig::{self, ClientAuth, TlsConfig, TlsVersion};

/// Builds the server configuration, reading the certificate, key and client CA sources as
/// they are now. Also says whether client certificates are verified against the system's
/// roots, for the caller to warn about.
pub fn server_config(tls: &TlsConfig) -> Result<Arc<ServerConfig>, Vec<String>> {
    let materials = webconfig::read_materials(tls).map_err(|e| e.problems)?;
    let provider = Arc::new(provider(tls));
    let verifier = client_verifier(tls, materials.client_cas, &provider)?;
    let certified = rustls::sign::CertifiedKey::new(materials.chain, materials.key);
    let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions(tls))
        .map_err(|e| vec![format!("tls_server_config: {e}")])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    // This server speaks HTTP/1.1 only (`http2` is accepted and has no effect).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The versions from `min_version` to `max_version`.
fn versions(tls: &TlsConfig) -> Vec<&'static SupportedProtocolVersion> {
    [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(version, _)| (tls.min_version..=tls.max_version).contains(version))
    .map(|(_, supported)| supported)
    .collect()
}

/// ring's provider restricted to the configured TLS 1.2 cipher suites and curves, in
/// their order. As in Go, the TLS 1.3 suites stay on whatever the list says.
fn provider(tls: &TlsConfig) -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    if !tls.cipher_suites.is_empty() {
        let wanted: Vec<u16> = tls
            .cipher_suites
            .iter()
            .filter(|suite| !suite.is_tls13())
            .map(|suite| suite.iana())
            .collect();
        let (tls13, mut tls12): (Vec<_>, Vec<_>) = provider
            .cipher_suites
            .into_iter()
            .partition(|suite| suite.tls13().is_some());
        tls12.retain(|suite| wanted.contains(&u16::from(suite.suite())));
        tls12.sort_by_key(|suite| wanted.iter().position(|w| *w == u16::from(suite.suite())));
        provider.cipher_suites = tls13.into_iter().chain(tls12).collect();
    }
    if !tls.curve_preferences.is_empty() {
        let wanted: Vec<u16> = tls.curve_preferences.iter().map(|c| c.iana()).collect();
        provider
            .kx_groups
            .retain(|group| wanted.contains(&u16::from(group.name())));
        provider
            .kx_groups
            .sort_by_key(|group| wanted.iter().position(|w| *w == u16::from(group.name())));
    }
    provider
}

fn client_verifier(
    tls: &TlsConfig,
    client_cas: Option<Vec<CertificateDer<'static>>>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, Vec<String>> {
    let algorithms = provider.signature_verification_algorithms;
    let inner: Arc<dyn ClientCertVerifier> = match tls.client_auth {
        ClientAuth::NoClientCert => Arc::new(rustls::server::NoClientAuth),
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Arc::new(AnyCertificate {
                mandatory: tls.client_auth.requires(),
                algorithms,
            })
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let roots = Arc::new(roots(client_cas)?);
            let builder = WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(provider));
            let builder = if tls.client_auth.requires() {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            builder
                .build()
                .map_err(|e| vec![format!("tls_server_config.client_ca_file: {e}")])?
        }
    };
    Ok(match &tls.client_allowed_sans {
        Some(allowed) if tls.client_auth != ClientAuth::NoClientCert => Arc::new(AllowedSans {
            inner,
            allowed: allowed.clone(),
        }),
        _ => inner,
    })
}

/// The client CAs, or the system's trusted roots when none are configured.
fn roots(client_cas: Option<Vec<CertificateDer<'static>>>) -> Result<RootCertStore, Vec<String>> {
    let mut store = RootCertStore::empty();
    let (certificates, from) = match client_cas {
        Some(certificates) => (certificates, "tls_server_config.client_ca_file"),
        None => (
            rustls_native_certs::load_native_certs().certs,
            "the system's trusted roots",
        ),
    };
    let (added, _ignored) = store.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(vec![format!(
            "{from}: holds no usable CA certificate, so no client certificate can be verified"
        )]);
    }
    Ok(store)
}

/// Whether a verifying client auth type without a client CA falls back to the system's
/// roots: the warning to log at start and on each change.
pub fn uses_system_roots(tls: &TlsConfig) -> bool {
    tls.client_auth.verifies() && tls.client_ca.is_none()
}

/// `RequestClientCert` and `RequireAnyClientCert`: any certificate, whoever issued it,
/// as long as the client proves it holds its key.
#[derive(Debug)]
struct AnyCertificate {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyCertificate {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `client_allowed_sans` around another verifier: the certificate must also carry one of
/// the allowed subject alternative names.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alt_names(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        if names.iter().any(|name| self.allowed.contains(name)) {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The DNS names, e-mail addresses, IP addresses and URIs of a certificate's subject
/// alternative names, written as Go writes them; `None` when it cannot be parsed.
pub fn subject_alt_names(certificate: &[u8]) -> Option<Vec<String>> {
    let certificate = x509_cert::Certificate::from_der(certificate).ok()?;
    let Some((_critical, SubjectAltName(names))) = certificate
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .ok()?
    else {
        return Some(Vec::new());
    };
    Some(
        names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DnsName(text)
                | GeneralName::Rfc822Name(text)
                | GeneralName::UniformResourceIdentifier(text) => Some(text.to_string()),
                GeneralName::IpAddress(octets) => ip_text(octets.as_bytes()),
                _ => None,
            })
            .collect(),
    )
}

/// An IP address SAN as Go prints it: IPv4 (also when IPv4-mapped) dotted, IPv6 compressed.
fn ip_text(octets: &[u8]) -> Option<String> {
    let address = match octets.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(octets).ok()?),
        16 => {
            let v6 = Ipv6Addr::from(<[u8; 16]>::try_from(octets).ok()?);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(address.to_string())
}
