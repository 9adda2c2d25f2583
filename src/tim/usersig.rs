//! Admin UserSig (TLSSigAPIv2, HMAC-SHA256): generation and verification.
//!
//! Pure functions of their inputs; the caller supplies the clock. The layout follows
//! Tencent's official signing libraries: an HMAC over a fixed "content to sign", a small
//! JSON document, zlib, then standard base64 with `+ / =` mapped to `* - _`.
//! The simulator uses [`verify`] the way the real service checks a request.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The largest decoded document [`verify`] inflates; real ones are under 300 bytes.
const MAX_DOCUMENT_BYTES: u64 = 16 * 1024;

/// The exact text that is signed, field order and trailing newlines included.
pub fn content_to_sign(
    identifier: &str,
    sdkappid: u64,
    time: i64,
    expire: i64,
    userbuf: Option<&[u8]>,
) -> String {
    let mut content = format!(
        "TLS.identifier:{identifier}\nTLS.sdkappid:{sdkappid}\nTLS.time:{time}\nTLS.expire:{expire}\n"
    );
    if let Some(buf) = userbuf {
        content.push_str("TLS.userbuf:");
        content.push_str(&STANDARD.encode(buf));
        content.push('\n');
    }
    content
}

/// `TLS.sig`: standard base64 (with padding) of HMAC-SHA256 over [`content_to_sign`].
/// The key is the console's secret key string used as UTF-8 bytes, never hex-decoded.
pub fn signature(key: &str, content: &str) -> String {
    STANDARD.encode(hmac_of(key, content).finalize().into_bytes())
}

fn hmac_of(key: &str, content: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(content.as_bytes());
    mac
}

/// The signed document. Field order matches the official Python library; the server
/// parses the JSON, so order and spacing do not matter to it.
#[derive(Serialize, Deserialize)]
struct Document {
    #[serde(rename = "TLS.ver")]
    ver: String,
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    sdkappid: u64,
    #[serde(rename = "TLS.expire")]
    expire: i64,
    #[serde(rename = "TLS.time")]
    time: i64,
    #[serde(
        rename = "TLS.userbuf",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    userbuf: Option<String>,
    #[serde(rename = "TLS.sig")]
    sig: String,
}

/// Generates an admin UserSig issued at `time` (Unix seconds) and valid for `expire` seconds.
pub fn generate(sdkappid: u64, identifier: &str, key: &str, time: i64, expire: i64) -> String {
    let content = content_to_sign(identifier, sdkappid, time, expire, None);
    let document = Document {
        ver: "2.0".to_owned(),
        identifier: identifier.to_owned(),
        sdkappid,
        expire,
        time,
        userbuf: None,
        sig: signature(key, &content),
    };
    let json = serde_json::to_vec(&document).expect("the document always serializes");
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(256), Compression::default());
    encoder
        .write_all(&json)
        .expect("compressing into memory cannot fail");
    let compressed = encoder
        .finish()
        .expect("compressing into memory cannot fail");
    to_usersig_alphabet(&STANDARD.encode(compressed))
}

fn to_usersig_alphabet(base64: &str) -> String {
    base64
        .chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            other => other,
        })
        .collect()
}

fn from_usersig_alphabet(usersig: &str) -> String {
    let mut base64: String = usersig
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            other => other,
        })
        .collect();
    // Some producers drop the padding; restore it as the official Node verifier does.
    while !base64.len().is_multiple_of(4) {
        base64.push('=');
    }
    base64
}

/// Why a UserSig was rejected, each matching the error code the service answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("UserSig is empty")]
    Empty,
    #[error("UserSig cannot be decoded")]
    Malformed,
    #[error("UserSig was issued for another SDKAppID")]
    SdkAppIdMismatch,
    #[error("UserSig was issued for another identifier")]
    IdentifierMismatch,
    #[error("UserSig has expired")]
    Expired,
    #[error("UserSig's userbuf is not the expected one")]
    UserbufMismatch,
    #[error("UserSig signature does not match the key")]
    BadSignature,
}

impl VerifyError {
    /// The error code the real service returns for this failure.
    pub fn error_code(self) -> i64 {
        match self {
            VerifyError::Empty => 70002,
            VerifyError::Malformed | VerifyError::UserbufMismatch => 70003,
            VerifyError::SdkAppIdMismatch => 70014,
            VerifyError::IdentifierMismatch => 70013,
            VerifyError::Expired => 70001,
            VerifyError::BadSignature => 70009,
        }
    }
}

/// What a valid UserSig says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Issue time, Unix seconds.
    pub time: i64,
    /// Lifetime in seconds.
    pub expire: i64,
}

/// Decodes and checks an admin UserSig (one without userbuf) as the official verifiers do:
/// SDKAppID, identifier, expiry (expired only when `now > time + expire`), then the HMAC
/// in constant time.
pub fn verify(
    usersig: &str,
    sdkappid: u64,
    identifier: &str,
    key: &str,
    now: i64,
) -> Result<Verified, VerifyError> {
    verify_with_userbuf(usersig, sdkappid, identifier, key, now, None)
}

/// [`verify`] for signatures that carry a userbuf (TRTC's PrivateMapKey): it must be
/// present and equal to `userbuf` exactly when `userbuf` is `Some`, as in the official Go
/// verifier.
pub fn verify_with_userbuf(
    usersig: &str,
    sdkappid: u64,
    identifier: &str,
    key: &str,
    now: i64,
    userbuf: Option<&[u8]>,
) -> Result<Verified, VerifyError> {
    if usersig.is_empty() {
        return Err(VerifyError::Empty);
    }
    let compressed = STANDARD
        .decode(from_usersig_alphabet(usersig))
        .map_err(|_| VerifyError::Malformed)?;
    let mut json = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_DOCUMENT_BYTES)
        .read_to_end(&mut json)
        .map_err(|_| VerifyError::Malformed)?;
    let document: Document = serde_json::from_slice(&json).map_err(|_| VerifyError::Malformed)?;
    if document.sdkappid != sdkappid {
        return Err(VerifyError::SdkAppIdMismatch);
    }
    if document.identifier != identifier {
        return Err(VerifyError::IdentifierMismatch);
    }
    if now > document.time.saturating_add(document.expire) {
        return Err(VerifyError::Expired);
    }
    let decoded_userbuf = match &document.userbuf {
        Some(text) => Some(STANDARD.decode(text).map_err(|_| VerifyError::Malformed)?),
        None => None,
    };
    if decoded_userbuf.as_deref() != userbuf {
        return Err(VerifyError::UserbufMismatch);
    }
    let sig = STANDARD
        .decode(&document.sig)
        .map_err(|_| VerifyError::BadSignature)?;
    let content = content_to_sign(
        &document.identifier,
        document.sdkappid,
        document.time,
        document.expire,
        decoded_userbuf.as_deref(),
    );
    hmac_of(key, &content)
        .verify_slice(&sig)
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(Verified {
        time: document.time,
        expire: document.expire,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    const SDKAPPID: u64 = 1_400_000_000;
    const TIME: i64 = 1_700_000_000;

    /// V1 and V2 of the reference vectors, made by the official PyPI library 1.1.
    const V1_USERSIG: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-Myi0uKEkvyi2BKilOyEwsKMlOACgxNDKAAKpdaUZBZlAqSMTU1NUKIl2TmgkXN0dQXZ6aD7PFyrqpIzHOz8AsJiUgsNcnVNsqwLC8zT4-0yqv0yy7ONajINfRzjQg1MjexVaoFANTGNgc_";
    const V2_USERSIG: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-NgUsUp2YkFBZkpQAlDEwMogMqlVhRkFqWCZExNTY0Q4iWZuWBRczT1xZnpIPONk7NC8vz107199LXdIryCHF2cvQ3DjJNzvMsqzapMfSNz8yxd-SKKw7M9bZVqAWFSMd8_";
    /// V1 as the official Go library (zlib level 0) and Node library emit it.
    const V1_GO: &str = "eAEAsgBN-3siVExTLnZlciI6IjIuMCIsIlRMUy5pZGVudGlmaWVyIjoiYWRtaW5pc3RyYXRvciIsIlRMUy5zZGthcHBpZCI6MTQwMDAwMDAwMCwiVExTLmV4cGlyZSI6MTU1NTIwMDAsIlRMUy50aW1lIjoxNzAwMDAwMDAwLCJUTFMuc2lnIjoiSkN6eGFuRjhOVFRYYXU0bSsyaDl3djdnWUpueU5rc20weG0xTkVYVTI3ND0ifQoBAAD--4MfNLE_";
    const V1_NODE: &str = "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwokpuZl5mcUlRYkl*UVQBcUp2YkFBZkpSlaGJgZQAJEpycxNVbIyNEcVTa0oyCwCiZuamhrBRYsz05WslLycqyoS89ws-EJCIhJLTXK1jTIsy8vM0yO98ir9sotzDSpyDf1cI0KNzE1slWoBQr40pw__";

    #[test]
    fn content_and_sig_match_v1() {
        let content = content_to_sign("administrator", SDKAPPID, TIME, 15_552_000, None);
        assert_eq!(
            content,
            "TLS.identifier:administrator\nTLS.sdkappid:1400000000\nTLS.time:1700000000\nTLS.expire:15552000\n"
        );
        assert_eq!(
            signature(KEY, &content),
            "JCzxanF8NTTXau4m+2h9wv7gYJnyNksm0xm1NEXU274="
        );
    }

    #[test]
    fn content_and_sig_match_v2() {
        let content = content_to_sign("admin", SDKAPPID, TIME, 15_552_000, None);
        assert_eq!(
            content,
            "TLS.identifier:admin\nTLS.sdkappid:1400000000\nTLS.time:1700000000\nTLS.expire:15552000\n"
        );
        assert_eq!(
            signature(KEY, &content),
            "3cjTnO/gKL/+FXJRADCK1V3clKvy6z5MYmn9ENXsWkI="
        );
    }

    #[test]
    fn content_and_sig_match_v3_with_userbuf() {
        let content = content_to_sign("administrator", SDKAPPID, TIME, 86_400, Some(b"abc"));
        assert_eq!(
            content,
            "TLS.identifier:administrator\nTLS.sdkappid:1400000000\nTLS.time:1700000000\nTLS.expire:86400\nTLS.userbuf:YWJj\n"
        );
        assert_eq!(
            signature(KEY, &content),
            "8genqljbpEaJZVMsIbmfmZ/85Nx6/a80jcuFHDVj+RM="
        );
    }

    fn decode(usersig: &str) -> serde_json::Value {
        let compressed = STANDARD.decode(from_usersig_alphabet(usersig)).unwrap();
        let mut json = Vec::new();
        ZlibDecoder::new(compressed.as_slice())
            .read_to_end(&mut json)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    #[test]
    fn generated_usersig_decodes_to_the_reference_document() {
        let ours = generate(SDKAPPID, "administrator", KEY, TIME, 15_552_000);
        assert!(ours
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "*-_".contains(c)));
        let expected = serde_json::json!({
            "TLS.ver": "2.0",
            "TLS.identifier": "administrator",
            "TLS.sdkappid": 1_400_000_000u64,
            "TLS.expire": 15_552_000,
            "TLS.time": 1_700_000_000,
            "TLS.sig": "JCzxanF8NTTXau4m+2h9wv7gYJnyNksm0xm1NEXU274=",
        });
        assert_eq!(decode(&ours), expected);
        assert_eq!(decode(V1_USERSIG), expected);
    }

    #[test]
    fn official_strings_verify() {
        for (sig, identifier) in [
            (V1_USERSIG, "administrator"),
            (V2_USERSIG, "admin"),
            (V1_GO, "administrator"),
            (V1_NODE, "administrator"),
        ] {
            let verified = verify(sig, SDKAPPID, identifier, KEY, TIME).unwrap();
            assert_eq!(
                verified,
                Verified {
                    time: TIME,
                    expire: 15_552_000
                }
            );
        }
    }

    /// V3 of the reference vectors: with userbuf `abc`, expire 86400.
    const V3_USERSIG: &str = "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-Myi0uKEkvyi2BKilOyEwsKMlOACgxNDKAAKpdaUZBZlAqUsTAzgQuWZOaChAzN0RSXFqcWJZWmgSyKDPfKgpufmQ4SskhPzSvMyUoqcE30igrzLfZMyk3LjdK3MPWrMNNPtDDISi5183AJy9IO8rVVqgUAVGk8JA__";

    #[test]
    fn the_official_userbuf_string_verifies_with_its_userbuf() {
        let verified = verify_with_userbuf(
            V3_USERSIG,
            SDKAPPID,
            "administrator",
            KEY,
            TIME,
            Some(b"abc"),
        )
        .unwrap();
        assert_eq!(
            verified,
            Verified {
                time: TIME,
                expire: 86_400
            }
        );
        assert_eq!(
            verify_with_userbuf(
                V3_USERSIG,
                SDKAPPID,
                "administrator",
                KEY,
                TIME + 86_401,
                Some(b"abc")
            ),
            Err(VerifyError::Expired)
        );
        // An admin UserSig carries no userbuf: the plain verifier refuses it, as does a
        // different userbuf, like the official Go verifier.
        assert_eq!(
            verify(V3_USERSIG, SDKAPPID, "administrator", KEY, TIME),
            Err(VerifyError::UserbufMismatch)
        );
        assert_eq!(
            verify_with_userbuf(
                V3_USERSIG,
                SDKAPPID,
                "administrator",
                KEY,
                TIME,
                Some(b"abd")
            ),
            Err(VerifyError::UserbufMismatch)
        );
        assert_eq!(
            verify_with_userbuf(
                V1_USERSIG,
                SDKAPPID,
                "administrator",
                KEY,
                TIME,
                Some(b"abc")
            ),
            Err(VerifyError::UserbufMismatch)
        );
    }

    #[test]
    fn expiry_boundary() {
        let end = TIME + 15_552_000;
        assert!(verify(V1_USERSIG, SDKAPPID, "administrator", KEY, end).is_ok());
        assert_eq!(
            verify(V1_USERSIG, SDKAPPID, "administrator", KEY, end + 1),
            Err(VerifyError::Expired)
        );
        let ours = generate(SDKAPPID, "administrator", KEY, TIME, 300);
        assert!(verify(&ours, SDKAPPID, "administrator", KEY, TIME + 300).is_ok());
        assert_eq!(
            verify(&ours, SDKAPPID, "administrator", KEY, TIME + 301),
            Err(VerifyError::Expired)
        );
    }

    #[test]
    fn rejections() {
        assert_eq!(
            verify(V1_USERSIG, SDKAPPID, "administrator", "another-key", TIME),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify(V1_USERSIG, SDKAPPID + 1, "administrator", KEY, TIME),
            Err(VerifyError::SdkAppIdMismatch)
        );
        assert_eq!(
            verify(V1_USERSIG, SDKAPPID, "admin", KEY, TIME),
            Err(VerifyError::IdentifierMismatch)
        );
        assert_eq!(
            verify("", SDKAPPID, "admin", KEY, TIME),
            Err(VerifyError::Empty)
        );
        assert_eq!(
            verify("not-a-usersig", SDKAPPID, "admin", KEY, TIME),
            Err(VerifyError::Malformed)
        );
    }

    #[test]
    fn a_tampered_document_fails_the_hmac() {
        // Re-sign nothing, but stretch the lifetime inside the document.
        let mut doc = decode(V1_USERSIG);
        doc["TLS.expire"] = serde_json::json!(999_999_999);
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(doc.to_string().as_bytes()).unwrap();
        let tampered = to_usersig_alphabet(&STANDARD.encode(encoder.finish().unwrap()));
        assert_eq!(
            verify(&tampered, SDKAPPID, "administrator", KEY, TIME),
            Err(VerifyError::BadSignature)
        );
    }

    proptest::proptest! {
        /// Any admin, SDKAppID, key, issue time and lifetime: what is generated verifies
        /// with the same values until it expires, and not with another key, admin or app.
        #[test]
        fn generated_usersigs_verify_and_only_with_their_values(
            sdkappid in 1u64..=u64::from(u32::MAX),
            identifier in "[A-Za-z0-9_@.-]{1,32}",
            key in "[0-9a-f]{16,64}",
            time in 1_500_000_000i64..2_000_000_000,
            expire in 300i64..=1_576_800_000,
            age in 0f64..=1.0,
        ) {
            let usersig = generate(sdkappid, &identifier, &key, time, expire);
            let now = time + (expire as f64 * age) as i64;
            proptest::prop_assert_eq!(
                verify(&usersig, sdkappid, &identifier, &key, now),
                Ok(Verified { time, expire })
            );
            proptest::prop_assert_eq!(
                verify(&usersig, sdkappid, &identifier, &key, time + expire + 1),
                Err(VerifyError::Expired)
            );
            let other_key = format!("{key}0");
            proptest::prop_assert_eq!(
                verify(&usersig, sdkappid, &identifier, &other_key, now),
                Err(VerifyError::BadSignature)
            );
            let other_admin = format!("{identifier}x");
            proptest::prop_assert_eq!(
                verify(&usersig, sdkappid, &other_admin, &key, now),
                Err(VerifyError::IdentifierMismatch)
            );
            proptest::prop_assert_eq!(
                verify(&usersig, sdkappid + 1, &identifier, &key, now),
                Err(VerifyError::SdkAppIdMismatch)
            );
        }
    }
}
