//! Checks of the certificate, the key and the client CA, as exporter-toolkit makes them
//! before it serves (Go's `tls.X509KeyPair` and reading the client CA file).
//!
//! The certificate input must hold a PEM `CERTIFICATE` whose first one parses; the key
//! input a PEM private key (PKCS#1, PKCS#8 or SEC1, whatever its label says) that matches
//! the first certificate's public key. The client CA file must be readable; like Go, what
//! it holds is not checked (a warning says when it holds no certificate). Keys are loaded
//! with the TLS stack that will serve them (rustls with ring), so a key it cannot sign
//! with is refused here rather than at the first connection. Nothing read is ever printed.

use std::borrow::Cow;

use std::sync::Arc;

use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use rustls::sign::SigningKey;

use super::read::Report;
use super::tls::{CertSource, KeySource, TlsConfig};
use super::WebConfigError;

/// What a TLS server is built from, read from the sources of a [`TlsConfig`] as they are
/// now.
pub struct TlsMaterials {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Arc<dyn SigningKey>,
    /// The client CA certificates; `None` when the configuration names no client CA.
    pub client_cas: Option<Vec<CertificateDer<'static>>>,
}

impl std::fmt::Debug for TlsMaterials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterials")
            .field("chain", &self.chain.len())
            .field("key", &"<redacted>")
            .field("client_cas", &self.client_cas.as_ref().map(Vec::len))
            .finish()
    }
}

/// Reads the certificate chain, the key and the client CAs once each, with the checks of
/// [`check_cert_and_key`]. Problems name the key of the file they come from.
pub fn read_materials(tls: &TlsConfig) -> Result<TlsMaterials, WebConfigError> {
    const CERT: &str = "tls_server_config.cert_file";
    const KEY: &str = "tls_server_config.key_file";
    const CA: &str = "tls_server_config.client_ca_file";
    let mut report = Report::default();
    let cert_pem = cert_bytes(&tls.cert, CERT, &mut report);
    let key_pem = key_bytes(&tls.key, KEY, &mut report);
    let key = check_pair(
        cert_pem.as_deref(),
        CERT,
        key_pem.as_deref(),
        KEY,
        &mut report,
    );
    let client_cas = tls
        .client_ca
        .as_ref()
        .map(|ca| cert_bytes(ca, CA, &mut report));
    let chain = cert_pem
        .map(|pem| sections(&pem).certificates)
        .unwrap_or_default();
    match key {
        Some(key) if !chain.is_empty() && report.problems.is_empty() => Ok(TlsMaterials {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key,
            client_cas: client_cas.map(|pem| {
                pem.map(|pem| sections(&pem).certificates)
                    .unwrap_or_default()
                    .into_iter()
                    .map(CertificateDer::from)
                    .collect()
            }),
        }),
        _ => Err(WebConfigError {
            problems: if report.problems.is_empty() {
                vec![format!("{CERT}: holds no PEM certificate")]
            } else {
                report.problems
            },
        }),
    }
}

fn cert_bytes<'a>(
    source: &'a CertSource,
    path: &str,
    report: &mut Report,
) -> Option<Cow<'a, [u8]>> {
    match source {
        CertSource::File(file) => read_file(file, path, report),
        CertSource::Inline(text) => Some(Cow::Borrowed(text.as_bytes())),
    }
}

fn key_bytes<'a>(source: &'a KeySource, path: &str, report: &mut Report) -> Option<Cow<'a, [u8]>> {
    match source {
        KeySource::File(file) => read_file(file, path, report),
        KeySource::Inline(text) => Some(Cow::Borrowed(text.expose().as_bytes())),
    }
}

/// Checks that the certificate and the key can be read, parse and belong together.
pub(super) fn check_cert_and_key(
    cert: &CertSource,
    cert_path: &str,
    key: &KeySource,
    key_path: &str,
    report: &mut Report,
) {
    let cert_pem = cert_bytes(cert, cert_path, report);
    let key_pem = key_bytes(key, key_path, report);
    check_pair(
        cert_pem.as_deref(),
        cert_path,
        key_pem.as_deref(),
        key_path,
        report,
    );
}

/// Checks PEM certificate and key text; the key, loaded the way the server will load it,
/// when it parses (whether it matches the certificate is then in `report`).
fn check_pair(
    cert_pem: Option<&[u8]>,
    cert_path: &str,
    key_pem: Option<&[u8]>,
    key_path: &str,
    report: &mut Report,
) -> Option<Arc<dyn SigningKey>> {
    let leaf = cert_pem.and_then(|pem| leaf_public_key(pem, cert_path, report));
    let signing_key = key_pem.and_then(|pem| signing_key(pem, key_path, report))?;
    if let (Some(leaf), Some(key_spki)) = (leaf, signing_key.public_key()) {
        if leaf != key_spki.as_ref() {
            report.problem(
                key_path,
                format!(
                    "the private key does not belong to the certificate of {}",
                    last_key(cert_path)
                ),
            );
        }
    }
    Some(signing_key)
}

/// Checks that the client CA can be read; warns when it holds no certificate, since every
/// client certificate would then be refused.
pub(super) fn check_client_ca(ca: &CertSource, path: &str, report: &mut Report) {
    if let Some(pem) = cert_bytes(ca, path, report) {
        if sections(&pem).certificates.is_empty() {
            report.warning(
                path,
                "holds no PEM certificate, so no client certificate can be verified",
            );
        }
    }
}

fn last_key(cert_path: &str) -> &str {
    cert_path.rsplit('.').next().unwrap_or(cert_path)
}

fn read_file<'a>(file: &std::path::Path, path: &str, report: &mut Report) -> Option<Cow<'a, [u8]>> {
    match crate::files::read_bytes(file, crate::files::MAX_WEB_FILE_BYTES) {
        Ok(bytes) => Some(Cow::Owned(bytes)),
        Err(e) => {
            report.problem(path, format!("cannot read {}: {e}", file.display()));
            None
        }
    }
}

/// The PEM sections this check cares about, in order. Reading stops at the first
/// malformed section (Go skips it; what came before still counts).
struct Sections {
    certificates: Vec<Vec<u8>>,
    /// The first private key, with its label.
    key: Option<(SectionKind, Vec<u8>)>,
}

fn sections(pem: &[u8]) -> Sections {
    let mut found = Sections {
        certificates: Vec::new(),
        key: None,
    };
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        let Ok((kind, der)) = section else { break };
        match kind {
            SectionKind::Certificate => found.certificates.push(der),
            SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey
                if found.key.is_none() =>
            {
                found.key = Some((kind, der));
            }
            _ => {}
        }
    }
    found
}

/// The SubjectPublicKeyInfo of the first certificate.
fn leaf_public_key(pem: &[u8], path: &str, report: &mut Report) -> Option<Vec<u8>> {
    let found = sections(pem);
    let Some(leaf) = found.certificates.first() else {
        if found.key.is_some() {
            report.problem(
                path,
                "holds a private key but no PEM certificate: are the certificate and the key swapped?",
            );
        } else {
            report.problem(path, "holds no PEM certificate");
        }
        return None;
    };
    match subject_public_key_info(leaf) {
        Some(spki) => Some(spki.to_vec()),
        None => {
            report.problem(path, "the first certificate cannot be parsed");
            None
        }
    }
}

/// The first private key, loaded the way the server will load it.
fn signing_key(
    pem: &[u8],
    path: &str,
    report: &mut Report,
) -> Option<std::sync::Arc<dyn rustls::sign::SigningKey>> {
    let found = sections(pem);
    let Some((kind, der)) = found.key else {
        if found.certificates.is_empty() {
            report.problem(path, "holds no PEM private key");
        } else {
            report.problem(
                path,
                "holds a certificate but no PEM private key: are the certificate and the key swapped?",
            );
        }
        return None;
    };
    // Like Go, try every encoding whatever the label says, the label's first.
    let mut encodings = [
        SectionKind::RsaPrivateKey,
        SectionKind::PrivateKey,
        SectionKind::EcPrivateKey,
    ];
    encodings.sort_by_key(|encoding| *encoding != kind);
    let loaded = encodings.into_iter().find_map(|encoding| {
        let key = match encoding {
            SectionKind::RsaPrivateKey => {
                PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.clone()))
            }
            SectionKind::PrivateKey => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.clone())),
            _ => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der.clone())),
        };
        rustls::crypto::ring::sign::any_supported_type(&key).ok()
    });
    if loaded.is_none() {
        report.problem(
            path,
            "the private key cannot be read or used: this build's TLS stack (rustls) takes RSA \
             keys of 2048 to 4096 bits, ECDSA keys on P-256 or P-384, and Ed25519 keys",
        );
    }
    loaded
}

/// The SubjectPublicKeyInfo of a DER certificate, its tag and length included: the seventh
/// field of the TBSCertificate when the version is given, the sixth when not (version 1).
fn subject_public_key_info(certificate: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    const VERSION: u8 = 0xa0;
    let outer = Element::expect(certificate, SEQUENCE)?;
    let tbs = Element::expect(outer.contents, SEQUENCE)?;
    let algorithm = Element::expect(tbs.rest, SEQUENCE)?;
    let signature = Element::expect(algorithm.rest, BIT_STRING)?;
    if !outer.rest.is_empty() || !signature.rest.is_empty() {
        return None;
    }
    let mut fields = tbs.contents;
    if let Some(version) = Element::expect(fields, VERSION) {
        fields = version.rest;
    }
    // serialNumber, signature, issuer, validity, subject.
    for tag in [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE] {
        fields = Element::expect(fields, tag)?.rest;
    }
    Element::expect(fields, SEQUENCE).map(|spki| spki.whole)
}

/// One DER element.
struct Element<'a> {
    contents: &'a [u8],
    /// Tag, length and contents.
    whole: &'a [u8],
    /// What follows it.
    rest: &'a [u8],
}

impl<'a> Element<'a> {
    /// The element at the start of `input`, if it has this tag.
    fn expect(input: &'a [u8], tag: u8) -> Option<Element<'a>> {
        let (&found, after_tag) = input.split_first()?;
        if found != tag {
            return None;
        }
        let (&first, mut after_length) = after_tag.split_first()?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let octets = usize::from(first & 0x7f);
            if octets == 0 || octets > 4 {
                return None;
            }
            let (bytes, rest) = after_length.split_at_checked(octets)?;
            after_length = rest;
            bytes
                .iter()
                .fold(0usize, |length, byte| length << 8 | usize::from(*byte))
        };
        let header = input.len() - after_length.len();
        Some(Element {
            contents: after_length.get(..length)?,
            whole: &input[..header + length],
            rest: &after_length[length..],
        })
    }
}
