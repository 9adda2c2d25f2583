//! The APIs the simulator serves, `account_check` and `query_online_status`: how each reads
//! its request body and writes its reply, and how an item fault spoils the reply's items.
//!
//! Everything the two share (the query string, the UserSig, the call rate, whole-call
//! faults, counters) lives in `server.rs` and knows nothing of these shapes.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{Fault, SimAccount, SimOptions, SimPresence};
use crate::tim::wire::{CheckRequest, MAX_ITEMS};
use crate::tim::{ACCOUNT_CHECK_PATH, QUERY_ONLINE_STATUS_PATH};

/// The most UserIDs one query_online_status call may carry.
const MAX_PRESENCE_ITEMS: usize = 500;

/// The per-item code of an `ItemError` fault.
const ITEM_ERROR_CODE: i64 = 70500;

/// The per-item code of an account that was never imported, in query_online_status.
const NOT_IMPORTED_CODE: i64 = 70107;

/// A request the service refuses as a whole: its ErrorCode and ErrorInfo.
pub(super) type Refusal = (i64, &'static str);

/// An API the simulator serves. Each has its own rate window, fault queue and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    AccountCheck,
    QueryOnlineStatus,
}

/// What a valid request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Request {
    pub(super) user_ids: Vec<String>,
    /// `IsNeedDetail: 1` (query_online_status only).
    pub(super) detail: bool,
}

/// One item of a reply, before it is written in the API's shape.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Line {
    /// The service answers for the account with this status.
    Answer {
        user_id: String,
        status: &'static str,
        /// The `Detail` of query_online_status, when asked for and not empty.
        detail: Option<Value>,
    },
    /// The service cannot answer for the account.
    Failed { user_id: String, code: i64 },
}

impl Line {
    fn answer(user_id: &str, status: &'static str) -> Self {
        Line::Answer {
            user_id: user_id.to_owned(),
            status,
            detail: None,
        }
    }

    fn failed(user_id: &str, code: i64) -> Self {
        Line::Failed {
            user_id: user_id.to_owned(),
            code,
        }
    }

    fn user_id(&self) -> &str {
        match self {
            Line::Answer { user_id, .. } | Line::Failed { user_id, .. } => user_id,
        }
    }

    fn status(&self) -> Option<&'static str> {
        match self {
            Line::Answer { status, .. } => Some(status),
            Line::Failed { .. } => None,
        }
    }
}

#[derive(Deserialize)]
struct PresenceRequest {
    #[serde(rename = "To_Account", default)]
    to_account: Vec<Value>,
    #[serde(rename = "IsNeedDetail", default)]
    is_need_detail: Option<i64>,
}

impl Api {
    pub(super) const ALL: [Api; 2] = [Api::AccountCheck, Api::QueryOnlineStatus];

    /// Its name in `/sim/stats?api=`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Api::AccountCheck => "account_check",
            Api::QueryOnlineStatus => "query_online_status",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Api> {
        Api::ALL.into_iter().find(|api| api.name() == name)
    }

    /// The route it is served at.
    pub(super) fn route(self) -> String {
        let path = match self {
            Api::AccountCheck => ACCOUNT_CHECK_PATH,
            Api::QueryOnlineStatus => QUERY_ONLINE_STATUS_PATH,
        };
        format!("/{}", path.trim_start_matches('/'))
    }

    /// Calls per app in any one-second window before 60007.
    pub(super) fn rate_limit(self, options: &SimOptions) -> u32 {
        match self {
            Api::AccountCheck => options.rate_limit,
            Api::QueryOnlineStatus => options.presence_rate_limit,
        }
    }

    /// Reads a request body, or refuses it with the service's error.
    pub(super) fn parse(self, body: &[u8]) -> Result<Request, Refusal> {
        const NOT_JSON: Refusal = (60003, "HTTP request JSON parsing error");
        match self {
            Api::AccountCheck => {
                let request: CheckRequest<Value> =
                    serde_json::from_slice(body).map_err(|_| NOT_JSON)?;
                if request.check_item.is_empty() || request.check_item.len() > MAX_ITEMS {
                    return Err((70206, "invalid batch quantity in the request"));
                }
                let ids = request.check_item.into_iter().map(|item| item.user_id);
                Ok(Request {
                    user_ids: user_ids(ids)?,
                    detail: false,
                })
            }
            Api::QueryOnlineStatus => {
                const INVALID: Refusal = (
                    70402,
                    "invalid parameter: check the required fields and their values",
                );
                let request: PresenceRequest =
                    serde_json::from_slice(body).map_err(|_| NOT_JSON)?;
                if request.to_account.is_empty() || request.to_account.len() > MAX_PRESENCE_ITEMS {
                    return Err(INVALID);
                }
                let detail = match request.is_need_detail {
                    None | Some(0) => false,
                    Some(1) => true,
                    Some(_) => return Err(INVALID),
                };
                Ok(Request {
                    user_ids: user_ids(request.to_account)?,
                    detail,
                })
            }
        }
    }

    /// The item of one account.
    pub(super) fn line(
        self,
        user_id: &str,
        account: SimAccount,
        presence: &SimPresence,
        detail: bool,
    ) -> Line {
        match (self, account) {
            (_, SimAccount::ItemError(code)) => Line::failed(user_id, code),
            (Api::AccountCheck, SimAccount::Imported) => Line::answer(user_id, "Imported"),
            (Api::AccountCheck, SimAccount::NotImported) => Line::answer(user_id, "NotImported"),
            (Api::QueryOnlineStatus, SimAccount::NotImported) => {
                Line::failed(user_id, NOT_IMPORTED_CODE)
            }
            (Api::QueryOnlineStatus, SimAccount::Imported) => Line::Answer {
                user_id: user_id.to_owned(),
                status: presence.status.as_str(),
                detail: (detail && !presence.platforms.is_empty()).then(|| platforms(presence)),
            },
        }
    }

    /// Changes the items as an item fault says; other faults leave them alone.
    pub(super) fn spoil(self, lines: &mut Vec<Line>, fault: Fault) {
        let Some(first) = lines.first().map(|line| line.user_id().to_owned()) else {
            return;
        };
        match fault {
            Fault::ItemError => lines[0] = Line::failed(&first, ITEM_ERROR_CODE),
            Fault::MissingItem => {
                lines.remove(0);
            }
            Fault::ExtraItem => lines.push(Line::answer("sim_unrequested_user", self.good())),
            Fault::Reorder => lines.reverse(),
            Fault::Conflict => {
                let other = self.other(lines[0].status());
                lines.push(Line::answer(&first, other));
            }
            Fault::BadStatus => lines[0] = Line::answer(&first, self.undefined()),
            _ => {}
        }
    }

    /// The success reply carrying these items.
    pub(super) fn success(self, lines: Vec<Line>) -> Value {
        match self {
            Api::AccountCheck => {
                let items: Vec<Value> = lines.into_iter().map(check_item).collect();
                json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ResultItem": items })
            }
            Api::QueryOnlineStatus => {
                let (answers, failures): (Vec<Line>, Vec<Line>) = lines
                    .into_iter()
                    .partition(|line| matches!(line, Line::Answer { .. }));
                let results: Vec<Value> = answers.into_iter().map(presence_item).collect();
                let errors: Vec<Value> = failures.into_iter().map(presence_item).collect();
                json!({
                    "ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0,
                    "QueryResult": results, "ErrorList": errors
                })
            }
        }
    }

    /// The status of a healthy account.
    fn good(self) -> &'static str {
        match self {
            Api::AccountCheck => "Imported",
            Api::QueryOnlineStatus => "Online",
        }
    }

    /// A status that contradicts `status`.
    fn other(self, status: Option<&str>) -> &'static str {
        match (self, status) {
            (Api::AccountCheck, Some("Imported")) => "NotImported",
            (Api::QueryOnlineStatus, Some("Online")) => "Offline",
            _ => self.good(),
        }
    }

    /// A status the API never sends.
    fn undefined(self) -> &'static str {
        match self {
            Api::AccountCheck => "Frozen",
            Api::QueryOnlineStatus => "Busy",
        }
    }
}

/// The UserIDs of a request, each of which must be a JSON string.
fn user_ids(values: impl IntoIterator<Item = Value>) -> Result<Vec<String>, Refusal> {
    values
        .into_iter()
        .map(|value| match value {
            Value::String(id) => Ok(id),
            _ => Err((60015, "UserID must be a string")),
        })
        .collect()
}

fn platforms(presence: &SimPresence) -> Value {
    presence
        .platforms
        .iter()
        .map(|(platform, status)| json!({ "Platform": platform, "Status": status.as_str() }))
        .collect()
}

fn check_item(line: Line) -> Value {
    match line {
        Line::Answer {
            user_id, status, ..
        } => {
            json!({ "UserID": user_id, "ResultCode": 0, "ResultInfo": "", "AccountStatus": status })
        }
        Line::Failed { user_id, code } => {
            json!({ "UserID": user_id, "ResultCode": code, "ResultInfo": "Err_Sim_Injected" })
        }
    }
}

fn presence_item(line: Line) -> Value {
    match line {
        Line::Answer {
            user_id,
            status,
            detail: Some(detail),
        } => json!({ "To_Account": user_id, "Status": status, "Detail": detail }),
        Line::Answer {
            user_id, status, ..
        } => json!({ "To_Account": user_id, "Status": status }),
        Line::Failed { user_id, code } => json!({ "To_Account": user_id, "ErrorCode": code }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(body: &str) -> Result<Request, Refusal> {
        Api::QueryOnlineStatus.parse(body.as_bytes())
    }

    fn to_accounts(count: usize) -> String {
        let ids: Vec<String> = (0..count).map(|i| format!("\"u{i}\"")).collect();
        format!(r#"{{"To_Account":[{}]}}"#, ids.join(","))
    }

    #[test]
    fn names_and_routes() {
        for api in Api::ALL {
            assert_eq!(Api::from_name(api.name()), Some(api));
            assert!(api.route().starts_with("/v4/") && !api.route().starts_with("//"));
        }
        assert_eq!(Api::from_name("kick"), None);
        assert_eq!(
            Api::QueryOnlineStatus.route(),
            "/v4/openim/query_online_status"
        );
    }

    #[test]
    fn presence_requests() {
        assert_eq!(
            presence(r#"{"To_Account":["a","b"],"IsNeedDetail":1}"#),
            Ok(Request {
                user_ids: vec!["a".into(), "b".into()],
                detail: true
            })
        );
        assert!(
            !presence(r#"{"To_Account":["a"],"IsNeedDetail":0}"#)
                .unwrap()
                .detail
        );
        assert!(!presence(r#"{"To_Account":["a"]}"#).unwrap().detail);
        assert_eq!(presence(&to_accounts(500)).unwrap().user_ids.len(), 500);
        for body in [
            to_accounts(501),
            to_accounts(0),
            "{}".to_owned(),
            r#"{"To_Account":["a"],"IsNeedDetail":2}"#.to_owned(),
        ] {
            assert_eq!(presence(&body).unwrap_err().0, 70402, "{body}");
        }
        assert_eq!(presence(r#"{"To_Account":[1]}"#).unwrap_err().0, 60015);
        assert_eq!(presence("{not json").unwrap_err().0, 60003);
        assert_eq!(presence(r#"{"To_Account":"a"}"#).unwrap_err().0, 60003);
    }

    #[test]
    fn presence_reply_is_the_documented_shape() {
        let api = Api::QueryOnlineStatus;
        let on = SimPresence::push_online();
        let lines = vec![
            api.line("u1", SimAccount::Imported, &on, true),
            api.line("u2", SimAccount::Imported, &SimPresence::offline(), true),
            api.line("x", SimAccount::NotImported, &on, true),
            api.line("u3", SimAccount::Imported, &on, false),
        ];
        assert_eq!(
            api.success(lines),
            json!({
                "ActionStatus": "OK", "ErrorInfo": "", "ErrorCode": 0,
                "QueryResult": [
                    {"To_Account": "u1", "Status": "PushOnline",
                     "Detail": [{"Platform": "iPhone", "Status": "PushOnline"}]},
                    {"To_Account": "u2", "Status": "Offline"},
                    {"To_Account": "u3", "Status": "PushOnline"}
                ],
                "ErrorList": [{"To_Account": "x", "ErrorCode": 70107}]
            })
        );
    }

    #[test]
    fn item_faults() {
        let on = SimPresence::online();
        for (api, good, other, undefined) in [
            (Api::AccountCheck, "Imported", "NotImported", "Frozen"),
            (Api::QueryOnlineStatus, "Online", "Offline", "Busy"),
        ] {
            let lines: Vec<Line> = ["a", "b"]
                .into_iter()
                .map(|id| api.line(id, SimAccount::Imported, &on, false))
                .collect();
            let spoiled = |fault| {
                let mut lines = lines.clone();
                api.spoil(&mut lines, fault);
                lines
            };
            let (a, b) = (lines[0].clone(), lines[1].clone());
            assert_eq!(spoiled(Fault::ItemError)[0], Line::failed("a", 70500));
            assert_eq!(spoiled(Fault::MissingItem), vec![b.clone()]);
            assert_eq!(
                spoiled(Fault::ExtraItem)[2],
                Line::answer("sim_unrequested_user", good)
            );
            assert_eq!(spoiled(Fault::Reorder), vec![b.clone(), a.clone()]);
            assert_eq!(spoiled(Fault::Conflict)[2], Line::answer("a", other));
            assert_eq!(spoiled(Fault::BadStatus)[0], Line::answer("a", undefined));
            assert_eq!(spoiled(Fault::Http502), lines);
        }
    }
}
