//! The JSON of query_online_status: the request body and a tolerant parser for replies.
//!
//! Pure functions over bytes. An account comes back either in `QueryResult` with its
//! `Status` (and per-platform `Detail`), or in `ErrorList` with a code; 70107 there means
//! the account was never imported, which is a known presence: offline. Any other code, a
//! `Status` we do not know, or no entry at all leaves the presence unknown: a failure
//! never reads as offline.

use serde::{Deserialize, Serialize};

use super::wire::{decode, failed_envelope, DecodeError, ItemOutcome, ItemResult, Reply};

/// The most UserIDs one query_online_status call may carry.
pub const MAX_ITEMS: usize = 500;

/// The `ErrorList` code of an account that was never imported.
pub const NOT_IMPORTED: i64 = 70107;

/// Whether an account can be reached, as the service reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PresenceStatus {
    /// The long connection is up.
    Online,
    /// Mobile or Mac: the connection dropped, but offline push still reaches the device.
    PushOnline,
    /// Logged out, never imported, or long gone.
    Offline,
}

impl PresenceStatus {
    fn from_wire(s: &str) -> Option<Self> {
        match s {
            "Online" => Some(PresenceStatus::Online),
            "PushOnline" => Some(PresenceStatus::PushOnline),
            "Offline" => Some(PresenceStatus::Offline),
            _ => None,
        }
    }

    /// The label value: `online`, `push_online` or `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceStatus::Online => "online",
            PresenceStatus::PushOnline => "push_online",
            PresenceStatus::Offline => "offline",
        }
    }
}

/// One platform's session of an account (`Detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// As the service names it: `iPhone`, `Android`, `Web`, …
    pub platform: String,
    /// `online`, `push_online`, `offline`, or the service's word when it is none of these.
    pub status: String,
}

/// The presence of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    pub status: PresenceStatus,
    /// Per-platform detail, in the order the service sent it; empty when it sent none.
    pub platforms: Vec<Platform>,
}

impl Presence {
    /// What an account the service says was never imported is: offline, on no platform.
    pub fn never_imported() -> Self {
        Presence {
            status: PresenceStatus::Offline,
            platforms: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct QueryRequest<'a> {
    #[serde(rename = "To_Account")]
    to_account: &'a [&'a str],
    #[serde(rename = "IsNeedDetail")]
    is_need_detail: u8,
}

/// The body of a query_online_status request for these UserIDs, with per-platform detail.
pub fn request_body(user_ids: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&QueryRequest {
        to_account: user_ids,
        is_need_detail: 1,
    })
    .expect("a list of strings always serializes")
}

#[derive(Deserialize)]
struct RawReply {
    #[serde(rename = "ActionStatus")]
    action_status: String,
    #[serde(rename = "ErrorCode")]
    error_code: i64,
    #[serde(rename = "ErrorInfo", default)]
    error_info: Option<String>,
    #[serde(rename = "QueryResult", default)]
    query_result: Option<Vec<RawResult>>,
    #[serde(rename = "ErrorList", default)]
    error_list: Option<Vec<RawError>>,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(rename = "To_Account", default)]
    to_account: Option<String>,
    #[serde(rename = "Status", default)]
    status: Option<String>,
    #[serde(rename = "Detail", default)]
    detail: Option<Vec<RawDetail>>,
}

#[derive(Deserialize)]
struct RawDetail {
    #[serde(rename = "Platform", default)]
    platform: Option<String>,
    #[serde(rename = "Status", default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(rename = "To_Account", default)]
    to_account: Option<String>,
    #[serde(rename = "ErrorCode", default)]
    error_code: Option<i64>,
    #[serde(rename = "ErrorInfo", default)]
    error_info: Option<String>,
}

/// A platform's status word as shown: the label spelling when it is one we know.
fn platform_status(raw: Option<String>) -> String {
    match raw.as_deref().and_then(PresenceStatus::from_wire) {
        Some(status) => status.as_str().to_owned(),
        None => raw.unwrap_or_default(),
    }
}

/// Parses a query_online_status reply body.
///
/// Entries without `To_Account` cannot be matched to a request and are dropped here. A
/// success reply needs `QueryResult` or `ErrorList` (an app whose every account failed
/// may send only the latter).
pub fn parse_reply(body: &[u8]) -> Result<Reply<Presence>, DecodeError> {
    let raw: RawReply = decode(body)?;
    if let Some(failed) = failed_envelope(&raw.action_status, raw.error_code, raw.error_info) {
        return Ok(failed);
    }
    if raw.query_result.is_none() && raw.error_list.is_none() {
        return Err(DecodeError::NotEnvelope(
            "success reply without QueryResult or ErrorList".into(),
        ));
    }
    let results = raw.query_result.into_iter().flatten().filter_map(|item| {
        let user_id = item.to_account?;
        let outcome = match item.status.as_deref().and_then(PresenceStatus::from_wire) {
            Some(status) => ItemOutcome::Status(Presence {
                status,
                platforms: item
                    .detail
                    .into_iter()
                    .flatten()
                    .map(|detail| Platform {
                        platform: detail.platform.unwrap_or_default(),
                        status: platform_status(detail.status),
                    })
                    .collect(),
            }),
            None => ItemOutcome::BadStatus(item.status),
        };
        Some(ItemResult { user_id, outcome })
    });
    let errors = raw.error_list.into_iter().flatten().filter_map(|item| {
        let user_id = item.to_account?;
        let outcome = match item.error_code {
            Some(NOT_IMPORTED) => ItemOutcome::Status(Presence::never_imported()),
            code => ItemOutcome::Failed {
                code,
                info: item.error_info.unwrap_or_default(),
            },
        };
        Some(ItemResult { user_id, outcome })
    });
    Ok(Reply::Ok(results.chain(errors).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(body: &str) -> Vec<(String, ItemOutcome<Presence>)> {
        match parse_reply(body.as_bytes()).unwrap() {
            Reply::Ok(items) => items.into_iter().map(|i| (i.user_id, i.outcome)).collect(),
            Reply::Failed { code, .. } => panic!("failed envelope {code}"),
        }
    }

    fn presence(status: PresenceStatus, platforms: &[(&str, &str)]) -> ItemOutcome<Presence> {
        ItemOutcome::Status(Presence {
            status,
            platforms: platforms
                .iter()
                .map(|(platform, status)| Platform {
                    platform: (*platform).to_owned(),
                    status: (*status).to_owned(),
                })
                .collect(),
        })
    }

    #[test]
    fn request_body_is_the_documented_shape() {
        assert_eq!(
            String::from_utf8(request_body(&["u1", "u2"])).unwrap(),
            r#"{"To_Account":["u1","u2"],"IsNeedDetail":1}"#
        );
    }

    #[test]
    fn documented_reply_with_detail_and_never_imported() {
        let got = items(
            r#"{"ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0,
                "QueryResult": [{"To_Account": "u1", "Status": "Online",
                    "Detail": [{"Platform": "iPhone", "Status": "PushOnline"},
                               {"Platform": "Web", "Status": "Online"}]},
                    {"To_Account": "u2", "Status": "PushOnline"},
                    {"To_Account": "u3", "Status": "Offline", "Detail": []}],
                "ErrorList": [{"To_Account": "never_imported", "ErrorCode": 70107}]}"#,
        );
        assert_eq!(
            got,
            vec![
                (
                    "u1".into(),
                    presence(
                        PresenceStatus::Online,
                        &[("iPhone", "push_online"), ("Web", "online")]
                    )
                ),
                ("u2".into(), presence(PresenceStatus::PushOnline, &[])),
                ("u3".into(), presence(PresenceStatus::Offline, &[])),
                (
                    "never_imported".into(),
                    presence(PresenceStatus::Offline, &[])
                ),
            ]
        );
    }

    #[test]
    fn other_error_codes_bad_and_missing_statuses_are_not_presence() {
        let got = items(
            r#"{"ActionStatus":"OK","ErrorCode":0,"RequestId":"x",
                "QueryResult":[{"To_Account":"a","Status":"Frozen"},{"To_Account":"b"},
                               {"Status":"Online"},
                               {"To_Account":"c","Status":"Online","Detail":[{"Platform":"Car","Status":"Dozing"},{}]}],
                "ErrorList":[{"To_Account":"d","ErrorCode":70500,"ErrorInfo":"internal"},
                             {"To_Account":"e"},{"ErrorCode":70107}]}"#,
        );
        assert_eq!(
            got,
            vec![
                ("a".into(), ItemOutcome::BadStatus(Some("Frozen".into()))),
                ("b".into(), ItemOutcome::BadStatus(None)),
                (
                    "c".into(),
                    presence(PresenceStatus::Online, &[("Car", "Dozing"), ("", "")])
                ),
                (
                    "d".into(),
                    ItemOutcome::Failed {
                        code: Some(70500),
                        info: "internal".into()
                    }
                ),
                (
                    "e".into(),
                    ItemOutcome::Failed {
                        code: None,
                        info: String::new()
                    }
                ),
            ]
        );
    }

    #[test]
    fn an_error_list_alone_is_a_reply() {
        let got = items(
            r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorList":[{"To_Account":"x","ErrorCode":70107}]}"#,
        );
        assert_eq!(
            got,
            vec![("x".into(), presence(PresenceStatus::Offline, &[]))]
        );
    }

    #[test]
    fn a_failed_envelope_carries_its_code() {
        assert_eq!(
            parse_reply(br#"{"ActionStatus":"FAIL","ErrorCode":60007,"ErrorInfo":"rate"}"#)
                .unwrap(),
            Reply::Failed {
                code: 60007,
                info: "rate".into()
            }
        );
        // A failed envelope wins over any results it carries.
        assert!(matches!(
            parse_reply(br#"{"ActionStatus":"FAIL","ErrorCode":70500,"QueryResult":[{"To_Account":"a","Status":"Offline"}]}"#),
            Ok(Reply::Failed { code: 70500, .. })
        ));
    }

    #[test]
    fn bodies_that_are_not_the_envelope() {
        for body in [
            &b"<html>502</html>"[..],
            b"",
            br#"{"ActionStatus":"OK","ErrorCode":0}"#,
            br#"{"ActionStatus":"OK","ErrorCode":0,"QueryResult":[{"To_Account":1}]}"#,
            br#"{"ActionStatus":"OK","ErrorCode":0,"QueryResult":{"To_Account":"a"}}"#,
            br#"{"ActionStatus":"OK","ErrorCode":0,"QueryResult":["#,
        ] {
            assert!(
                matches!(parse_reply(body), Err(DecodeError::NotEnvelope(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let huge = vec![b' '; super::super::wire::MAX_REPLY_BYTES + 1];
        assert_eq!(parse_reply(&huge), Err(DecodeError::TooLarge));
    }
}
