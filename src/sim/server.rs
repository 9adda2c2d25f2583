//! The simulator's HTTP side: checks a request as the service would and builds the reply.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{AppState, Fault, Inner, SimAccount};
use crate::tim::usersig;
use crate::tim::wire::{CheckRequest, MAX_ITEMS, MAX_REPLY_BYTES};
use crate::tim::ACCOUNT_CHECK_PATH;

pub(super) async fn run(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    let router = Router::new()
        .route(ACCOUNT_CHECK_PATH, post(account_check))
        .route("/sim/stats", get(stats))
        .fallback(|| async { envelope(60009, "request resource error, check the URL") })
        .with_state(inner);
    if let Err(e) = axum::serve(listener, router).await {
        tracing::error!(error = %e, "simulator server stopped");
    }
}

async fn stats(
    State(inner): State<Arc<Inner>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match params.get("sdkappid").and_then(|id| id.parse().ok()) {
        Some(sdkappid) => Json(inner.stats(sdkappid)).into_response(),
        None => (StatusCode::BAD_REQUEST, "?sdkappid=N is required").into_response(),
    }
}

/// What the handler does after deciding.
enum Decision {
    /// Reply after the configured latency.
    Reply(Response),
    /// Hold the request without answering.
    Hang,
}

fn envelope(code: i64, info: &str) -> Response {
    Json(json!({ "ActionStatus": "FAIL", "ErrorInfo": info, "ErrorCode": code })).into_response()
}

async fn account_check(
    State(inner): State<Arc<Inner>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let decision = decide(&inner, query.as_deref().unwrap_or(""), json, &body);
    match decision {
        Decision::Reply(response) => {
            tokio::time::sleep(inner.options.latency).await;
            response
        }
        Decision::Hang => {
            tokio::time::sleep(inner.options.hang).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn decide(inner: &Inner, query: &str, json: bool, body: &[u8]) -> Decision {
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let Some(sdkappid) = params.get("sdkappid") else {
        return Decision::Reply(envelope(60012, "REST API needs an SDKAppID"));
    };
    let Some(app) = sdkappid
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.apps.get(&id))
    else {
        return Decision::Reply(envelope(70020, "SDKAppID does not exist"));
    };
    let checked = check_request(inner, app, &params, body);
    let mut log = app.log.lock().expect("log lock");
    let now = Instant::now();
    log.arrivals.push(now);
    log.json_requests += usize::from(json);
    if let Some(random) = params.get("random").and_then(|r| r.parse().ok()) {
        log.randoms.insert(random);
    }
    while log
        .window
        .front()
        .is_some_and(|first| now.duration_since(*first).as_secs() >= 1)
    {
        log.window.pop_front();
    }
    log.window.push_back(now);
    let checked = if log.window.len() > inner.options.rate_limit as usize {
        Err((60007, "REST API call frequency exceeds the limit"))
    } else {
        checked
    };
    let items = match checked {
        Ok(items) => items,
        Err((code, info)) => {
            *log.error_codes.entry(code).or_default() += 1;
            return Decision::Reply(envelope(code, info));
        }
    };
    log.items += items.len();
    log.max_items = log.max_items.max(items.len());
    drop(log);
    let fault = next_fault(inner, app);
    let replied_code = match fault {
        Some(Fault::Code(code)) => Some(code),
        Some(f) if !is_item_fault(f) => None,
        _ => Some(0),
    };
    if let Some(code) = replied_code {
        *app.log
            .lock()
            .expect("log lock")
            .error_codes
            .entry(code)
            .or_default() += 1;
    }
    reply(inner, app, &items, fault)
}

/// Checks a request of a known app, returning its UserIDs or the service's error.
fn check_request(
    inner: &Inner,
    app: &AppState,
    params: &HashMap<String, String>,
    body: &[u8],
) -> Result<Vec<String>, (i64, &'static str)> {
    if params.get("contenttype").map(String::as_str) != Some("json") {
        return Err((60025, "contenttype must be json"));
    }
    if params
        .get("random")
        .and_then(|r| r.parse::<u32>().ok())
        .is_none()
    {
        return Err((
            60002,
            "HTTP parsing error: random must be a 32-bit unsigned integer",
        ));
    }
    let identifier = params.get("identifier").map(String::as_str).unwrap_or("");
    if identifier.is_empty() {
        return Err((60025, "identifier is missing"));
    }
    let sig = params.get("usersig").map(String::as_str).unwrap_or("");
    if !sig.is_empty() {
        inner
            .usersigs
            .lock()
            .expect("usersig lock")
            .insert(sig.to_owned());
    }
    if let Err(e) = usersig::verify(
        sig,
        app.app.sdkappid,
        identifier,
        app.app.key.expose(),
        unix_now(),
    ) {
        return Err((e.error_code(), "UserSig verification failed"));
    }
    if identifier != app.app.admin {
        return Err((60010, "the request needs App admin permission"));
    }
    let request: CheckRequest<Value> =
        serde_json::from_slice(body).map_err(|_| (60003, "HTTP request JSON parsing error"))?;
    if request.check_item.is_empty() || request.check_item.len() > MAX_ITEMS {
        return Err((70206, "invalid batch quantity in the request"));
    }
    request
        .check_item
        .into_iter()
        .map(|item| match item.user_id {
            Value::String(id) => Ok(id),
            _ => Err((60015, "UserID must be a string")),
        })
        .collect()
}

fn is_item_fault(fault: Fault) -> bool {
    matches!(
        fault,
        Fault::ItemError
            | Fault::MissingItem
            | Fault::ExtraItem
            | Fault::Reorder
            | Fault::Conflict
            | Fault::BadStatus
    )
}

fn next_fault(inner: &Inner, app: &AppState) -> Option<Fault> {
    if let Some(fault) = app.scripted.lock().expect("faults lock").pop_front() {
        return Some(fault);
    }
    let kinds = &inner.options.fault_kinds;
    if kinds.is_empty() || inner.options.fault_rate <= 0.0 {
        return None;
    }
    (rand::random::<f64>() < inner.options.fault_rate)
        .then(|| kinds[rand::random_range(0..kinds.len())])
}

fn reply(inner: &Inner, app: &AppState, user_ids: &[String], fault: Option<Fault>) -> Decision {
    let accounts = app.accounts.lock().expect("accounts lock");
    let default = inner.options.default_account;
    let mut items: Vec<Value> = user_ids
        .iter()
        .map(|id| match accounts.get(id).copied().unwrap_or(default) {
            SimAccount::Imported => item(id, "Imported"),
            SimAccount::NotImported => item(id, "NotImported"),
            SimAccount::ItemError(code) => failed_item(id, code),
        })
        .collect();
    drop(accounts);
    match fault {
        None => {}
        Some(Fault::Timeout) => return Decision::Hang,
        Some(Fault::Http502) => {
            return Decision::Reply(
                (
                    StatusCode::BAD_GATEWAY,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body>502 Bad Gateway</body></html>",
                )
                    .into_response(),
            )
        }
        Some(Fault::NotJson) => {
            return Decision::Reply(
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body>Service busy</body></html>",
                )
                    .into_response(),
            )
        }
        Some(Fault::Malformed) => {
            return Decision::Reply(
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"ActionStatus":"OK","ErrorCode":0,"ResultItem":[{"UserID":"#,
                )
                    .into_response(),
            )
        }
        Some(Fault::Oversized) => {
            let mut body = serde_json::to_string(&success(items)).expect("JSON");
            body.push_str(&" ".repeat(MAX_REPLY_BYTES));
            return Decision::Reply(
                ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            );
        }
        Some(Fault::OversizedChunked) => {
            let head = serde_json::to_string(&success(items)).expect("JSON");
            let padding = Bytes::from(vec![b' '; 64 * 1024]);
            // Padding without end: a client that does not count bytes reads until its timeout.
            let chunks = std::iter::once(Bytes::from(head))
                .chain(std::iter::repeat(padding))
                .map(Ok::<_, std::convert::Infallible>);
            let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
            return Decision::Reply(
                ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            );
        }
        Some(Fault::Code(code)) => return Decision::Reply(envelope(code, "injected failure")),
        Some(Fault::ItemError) => items[0] = failed_item(&user_ids[0], 70500),
        Some(Fault::MissingItem) => {
            items.remove(0);
        }
        Some(Fault::ExtraItem) => items.push(item("sim_unrequested_user", "Imported")),
        Some(Fault::Reorder) => items.reverse(),
        Some(Fault::Conflict) => {
            let flipped = match items[0]["AccountStatus"].as_str() {
                Some("Imported") => "NotImported",
                _ => "Imported",
            };
            items.push(item(&user_ids[0], flipped));
        }
        Some(Fault::BadStatus) => items[0] = item(&user_ids[0], "Frozen"),
    }
    Decision::Reply(Json(success(items)).into_response())
}

fn success(items: Vec<Value>) -> Value {
    json!({ "ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "ResultItem": items })
}

fn item(user_id: &str, status: &str) -> Value {
    json!({ "UserID": user_id, "ResultCode": 0, "ResultInfo": "", "AccountStatus": status })
}

fn failed_item(user_id: &str, code: i64) -> Value {
    json!({ "UserID": user_id, "ResultCode": code, "ResultInfo": "Err_Sim_Injected" })
}
