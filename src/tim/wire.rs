//! The JSON of account_check: the request body and a tolerant parser for replies, and the
//! reply shapes both APIs share ([`Reply`], [`ItemResult`]).
//!
//! Pure functions over bytes. Replies may omit `ErrorInfo` and carry fields we do not
//! know; anything that is not the documented envelope is a [`DecodeError`].

use serde::{Deserialize, Serialize};

/// The most UserIDs one account_check call may carry.
pub const MAX_ITEMS: usize = 100;

/// The largest reply body accepted; anything longer fails the call.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;

#[derive(Serialize, Deserialize)]
pub(crate) struct CheckRequest<S> {
    #[serde(rename = "CheckItem")]
    pub(crate) check_item: Vec<CheckItem<S>>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CheckItem<S> {
    #[serde(rename = "UserID")]
    pub(crate) user_id: S,
}

/// The body of an account_check request for these UserIDs.
pub fn request_body(user_ids: &[&str]) -> Vec<u8> {
    let request = CheckRequest {
        check_item: user_ids
            .iter()
            .map(|id| CheckItem { user_id: *id })
            .collect(),
    };
    serde_json::to_vec(&request).expect("a list of strings always serializes")
}

/// The import state the service reports for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    Imported,
    NotImported,
}

impl AccountStatus {
    fn from_wire(s: &str) -> Option<Self> {
        match s {
            "Imported" => Some(AccountStatus::Imported),
            "NotImported" => Some(AccountStatus::NotImported),
            _ => None,
        }
    }
}

/// What a reply says about one account, as far as it could be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemResult<T> {
    pub user_id: String,
    pub outcome: ItemOutcome<T>,
}

/// What one item of a reply says about its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome<T> {
    /// A state the API defines.
    Status(T),
    /// A non-zero (or absent) result code for the account.
    Failed { code: Option<i64>, info: String },
    /// No failure, but a state we do not know (or none).
    BadStatus(Option<String>),
}

/// A reply that parsed as the documented envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<T> {
    /// `ErrorCode` 0: the per-account results, in the order the service sent them.
    Ok(Vec<ItemResult<T>>),
    /// `ErrorCode` non-zero (or `ActionStatus` not `OK`): the whole call failed.
    Failed { code: i64, info: String },
}

/// The envelope's verdict: `Some` when the whole call failed.
pub(crate) fn failed_envelope<T>(
    action_status: &str,
    error_code: i64,
    error_info: Option<String>,
) -> Option<Reply<T>> {
    (error_code != 0 || action_status != "OK").then(|| Reply::Failed {
        code: error_code,
        info: error_info.unwrap_or_default(),
    })
}

/// The body was not the account_check envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("reply body is over {MAX_REPLY_BYTES} bytes")]
    TooLarge,
    #[error("reply body is not the JSON envelope: {0}")]
    NotEnvelope(String),
}

/// Deserializes a reply body of at most [`MAX_REPLY_BYTES`].
pub(crate) fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    if body.len() > MAX_REPLY_BYTES {
        return Err(DecodeError::TooLarge);
    }
    // serde_json's message names the position only; the body itself is not echoed.
    serde_json::from_slice(body).map_err(|e| DecodeError::NotEnvelope(e.to_string()))
}

#[derive(Deserialize)]
struct RawReply {
    #[serde(rename = "ActionStatus")]
    action_status: String,
    #[serde(rename = "ErrorCode")]
    error_code: i64,
    #[serde(rename = "ErrorInfo", default)]
    error_info: Option<String>,
    #[serde(rename = "ResultItem", default)]
    result_item: Option<Vec<RawItem>>,
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(rename = "UserID", default)]
    user_id: Option<String>,
    #[serde(rename = "ResultCode", default)]
    result_code: Option<i64>,
    #[serde(rename = "ResultInfo", default)]
    result_info: Option<String>,
    #[serde(rename = "AccountStatus", default)]
    account_status: Option<String>,
}

/// Parses an account_check reply body.
///
/// Items without a `UserID` cannot be matched to a request and are dropped here.
pub fn parse_reply(body: &[u8]) -> Result<Reply<AccountStatus>, DecodeError> {
    let raw: RawReply = decode(body)?;
    if let Some(failed) = failed_envelope(&raw.action_status, raw.error_code, raw.error_info) {
        return Ok(failed);
    }
    let items = raw
        .result_item
        .ok_or_else(|| DecodeError::NotEnvelope("success reply without ResultItem".into()))?;
    Ok(Reply::Ok(
        items
            .into_iter()
            .filter_map(|item| {
                let user_id = item.user_id?;
                let outcome = match item.result_code {
                    Some(0) => match item
                        .account_status
                        .as_deref()
                        .and_then(AccountStatus::from_wire)
                    {
                        Some(status) => ItemOutcome::Status(status),
                        None => ItemOutcome::BadStatus(item.account_status),
                    },
                    code => ItemOutcome::Failed {
                        code,
                        info: item.result_info.unwrap_or_default(),
                    },
                };
                Some(ItemResult { user_id, outcome })
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_body_is_the_documented_shape() {
        assert_eq!(
            String::from_utf8(request_body(&["UserID_1", "UserID_2"])).unwrap(),
            r#"{"CheckItem":[{"UserID":"UserID_1"},{"UserID":"UserID_2"}]}"#
        );
    }

    #[test]
    fn documented_success_reply() {
        let body = br#"{
            "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "",
            "ResultItem": [
                { "UserID": "UserID_1", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "Imported" },
                { "UserID": "UserID_2", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "NotImported" }
            ]
        }"#;
        assert_eq!(
            parse_reply(body).unwrap(),
            Reply::Ok(vec![
                ItemResult {
                    user_id: "UserID_1".into(),
                    outcome: ItemOutcome::Status(AccountStatus::Imported)
                },
                ItemResult {
                    user_id: "UserID_2".into(),
                    outcome: ItemOutcome::Status(AccountStatus::NotImported)
                },
            ])
        );
    }

    #[test]
    fn error_info_may_be_absent_and_unknown_fields_are_ignored() {
        let body = br#"{"ActionStatus":"OK","ErrorCode":0,"RequestId":"Id-1","ErrorDisplay":"",
            "ResultItem":[{"UserID":"a","ResultCode":0,"AccountStatus":"Imported","Extra":1}]}"#;
        assert!(matches!(parse_reply(body).unwrap(), Reply::Ok(items) if items.len() == 1));
    }

    #[test]
    fn a_failed_envelope_carries_its_code() {
        let body = br#"{"ActionStatus":"FAIL","ErrorInfo":"rate","ErrorCode":60007}"#;
        assert_eq!(
            parse_reply(body).unwrap(),
            Reply::Failed {
                code: 60007,
                info: "rate".into()
            }
        );
    }

    #[test]
    fn item_level_failures_and_bad_statuses() {
        let body = br#"{"ActionStatus":"OK","ErrorCode":0,"ResultItem":[
            {"UserID":"a","ResultCode":70500,"ResultInfo":"internal"},
            {"UserID":"b","ResultCode":0,"AccountStatus":"Frozen"},
            {"UserID":"c","ResultCode":0},
            {"UserID":"d","AccountStatus":"Imported"},
            {"ResultCode":0,"AccountStatus":"Imported"}
        ]}"#;
        let Reply::Ok(items) = parse_reply(body).unwrap() else {
            panic!("expected a success envelope")
        };
        let outcomes: Vec<_> = items.into_iter().map(|i| (i.user_id, i.outcome)).collect();
        assert_eq!(
            outcomes,
            vec![
                (
                    "a".into(),
                    ItemOutcome::Failed {
                        code: Some(70500),
                        info: "internal".into()
                    }
                ),
                ("b".into(), ItemOutcome::BadStatus(Some("Frozen".into()))),
                ("c".into(), ItemOutcome::BadStatus(None)),
                (
                    "d".into(),
                    ItemOutcome::Failed {
                        code: None,
                        info: String::new()
                    }
                ),
            ]
        );
    }

    #[test]
    fn bodies_that_are_not_the_envelope() {
        for body in [
            &b"<html>502 Bad Gateway</html>"[..],
            b"",
            br#"{"ActionStatus":"OK","ErrorCode":0,"ResultItem":[{"UserID":"a""#,
            br#"{"ActionStatus":"OK","ErrorCode":0}"#,
            br#"{"ErrorCode":"0","ActionStatus":"OK","ResultItem":[]}"#,
            br#"[1,2,3]"#,
        ] {
            assert!(
                matches!(parse_reply(body), Err(DecodeError::NotEnvelope(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        let huge = vec![b' '; MAX_REPLY_BYTES + 1];
        assert_eq!(parse_reply(&huge), Err(DecodeError::TooLarge));
    }
}
