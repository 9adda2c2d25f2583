//! The simulator's HTTP side: checks a request as the service would, counts it, and
//! replies or fails it, the same way for every API; `api.rs` has what differs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::api::{Api, Line, Refusal, Request};
use super::{AppState, Fault, Inner};
use crate::tim::usersig;
use crate::tim::wire::MAX_REPLY_BYTES;

pub(super) async fn run(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    let router = Api::ALL
        .into_iter()
        .fold(Router::new(), |router, api| {
            let handler =
                move |state, query, headers, body| serve(api, state, query, headers, body);
            router.route(&api.route(), post(handler))
        })
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
    let Some(sdkappid) = params.get("sdkappid").and_then(|id| id.parse().ok()) else {
        return (StatusCode::BAD_REQUEST, "?sdkappid=N is required").into_response();
    };
    match params
        .get("api")
        .map_or(Some(Api::AccountCheck), |name| Api::from_name(name))
    {
        Some(api) => Json(inner.stats(sdkappid, api)).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            "&api= must be account_check or query_online_status",
        )
            .into_response(),
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

async fn serve(
    api: Api,
    State(inner): State<Arc<Inner>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let decision = decide(&inner, api, query.as_deref().unwrap_or(""), json, &body);
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

fn decide(inner: &Inner, api: Api, query: &str, json: bool, body: &[u8]) -> Decision {
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
    let checked = check_query(inner, app, &params).and_then(|()| api.parse(body));
    let state = app.api(api);
    let mut log = state.log.lock().expect("log lock");
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
    let checked = if log.window.len() > api.rate_limit(&inner.options) as usize {
        Err((60007, "REST API call frequency exceeds the limit"))
    } else {
        checked
    };
    let request = match checked {
        Ok(request) => request,
        Err((code, info)) => {
            *log.error_codes.entry(code).or_default() += 1;
            return Decision::Reply(envelope(code, info));
        }
    };
    let count = request.user_ids.len();
    log.items += count;
    log.max_items = log.max_items.max(count);
    drop(log);
    let fault = next_fault(inner, app, api);
    let replied_code = match fault {
        Some(Fault::Code(code)) => Some(code),
        Some(f) if !is_item_fault(f) => None,
        _ => Some(0),
    };
    if let Some(code) = replied_code {
        *state
            .log
            .lock()
            .expect("log lock")
            .error_codes
            .entry(code)
            .or_default() += 1;
    }
    reply(api, lines(inner, app, api, &request), fault)
}

/// Checks the query string and the UserSig of a request to a known app.
fn check_query(
    inner: &Inner,
    app: &AppState,
    params: &HashMap<String, String>,
) -> Result<(), Refusal> {
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
    Ok(())
}

/// The items of the reply to `request`, as the app's accounts stand.
fn lines(inner: &Inner, app: &AppState, api: Api, request: &Request) -> Vec<Line> {
    let accounts = app.accounts.lock().expect("accounts lock");
    let presences = app.presences.lock().expect("presences lock");
    let options = &inner.options;
    request
        .user_ids
        .iter()
        .map(|id| {
            let account = accounts.get(id).copied().unwrap_or(options.default_account);
            let presence = presences.get(id).unwrap_or(&options.default_presence);
            api.line(id, account, presence, request.detail)
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

fn next_fault(inner: &Inner, app: &AppState, api: Api) -> Option<Fault> {
    let scripted = &app.api(api).scripted;
    if let Some(fault) = scripted.lock().expect("faults lock").pop_front() {
        return Some(fault);
    }
    let kinds = &inner.options.fault_kinds;
    if kinds.is_empty() || inner.options.fault_rate <= 0.0 {
        return None;
    }
    (rand::random::<f64>() < inner.options.fault_rate)
        .then(|| kinds[rand::random_range(0..kinds.len())])
}

fn reply(api: Api, mut lines: Vec<Line>, fault: Option<Fault>) -> Decision {
    let html = |status, page: &'static str| {
        (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
    };
    let response = match fault {
        None => Json(api.success(lines)).into_response(),
        Some(Fault::Timeout) => return Decision::Hang,
        Some(Fault::Http502) => html(
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>",
        ),
        Some(Fault::NotJson) => html(StatusCode::OK, "<html><body>Service busy</body></html>"),
        Some(Fault::Malformed) => json_body(truncated(success_text(api, lines))),
        Some(Fault::Oversized) => {
            let mut body = success_text(api, lines);
            body.push_str(&" ".repeat(MAX_REPLY_BYTES));
            json_body(body)
        }
        Some(Fault::OversizedChunked) => {
            let head = success_text(api, lines);
            let padding = Bytes::from(vec![b' '; 64 * 1024]);
            // Padding without end: a client that does not count bytes reads until its timeout.
            let chunks = std::iter::once(Bytes::from(head))
                .chain(std::iter::repeat(padding))
                .map(Ok::<_, std::convert::Infallible>);
            json_body(axum::body::Body::from_stream(futures_util::stream::iter(
                chunks,
            )))
        }
        Some(Fault::Code(code)) => envelope(code, "injected failure"),
        Some(item_fault) => {
            api.spoil(&mut lines, item_fault);
            Json(api.success(lines)).into_response()
        }
    };
    Decision::Reply(response)
}

fn success_text(api: Api, lines: Vec<Line>) -> String {
    serde_json::to_string(&api.success(lines)).expect("a JSON value always serializes")
}

fn json_body(body: impl Into<axum::body::Body>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

/// The first half of a reply: never valid JSON, since the object is not closed.
fn truncated(mut body: String) -> String {
    let mut cut = body.len() / 2;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    body.truncate(cut);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_reply_is_a_prefix_that_does_not_parse() {
        for whole in [
            r#"{"ActionStatus":"OK","QueryResult":[{"To_Account":"a"}]}"#,
            r#"{"To_Account":"éééé"}"#,
            "{}",
        ] {
            let cut = truncated(whole.to_owned());
            assert!(whole.starts_with(&cut) && cut.len() < whole.len(), "{cut}");
            assert!(
                serde_json::from_str::<serde_json::Value>(&cut).is_err(),
                "{cut}"
            );
        }
    }
}
