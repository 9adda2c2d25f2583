//! The HTTP endpoints: `/metrics`, the status page, `/api/v1/status`, health, readiness
//! and reload.
//!
//! Handlers read the [`State`] and never wait for the IM API. A reload is handed to the
//! daemon, which owns the scheduler, and the handler waits for its verdict. The router is
//! built apart from the listener, so a TLS acceptor serves it unchanged.
//!
//! With `--web.config.file`, [`live`] keeps the web configuration in force, [`tls`] and
//! [`auth`] build its TLS server and basic authentication, and [`guard`] applies its rate
//! limit, authentication and headers to every request.

mod auth;
mod guard;
mod live;
mod page;
mod serve;
mod tls;

pub use auth::CACHE_ENTRIES as AUTH_CACHE_ENTRIES;
pub use live::{log_system_roots, Active, LiveWebConfig, HANDSHAKE_TIMEOUT};
pub use serve::{serve, HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_HEADER_BYTES};
pub use tls::subject_alt_names;

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State as Extract;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tower_http::compression::CompressionLayer;

use crate::metrics::{self, Metrics};
use crate::output;
use crate::report;
use crate::state::State;

/// The verdict of a reload: the problems when it failed.
pub type ReloadResult = Result<(), Vec<String>>;

/// A request to reload, with where to send the verdict.
pub type ReloadRequest = oneshot::Sender<ReloadResult>;

/// What the handlers share.
#[derive(Debug)]
pub struct Context {
    pub state: Arc<State>,
    pub metrics: Arc<Metrics>,
    pub reload: mpsc::Sender<ReloadRequest>,
}

/// Every route, with gzip for clients that accept it, behind the web configuration's
/// rate limit, authentication and headers when there is one. `/metrics` makes its own
/// gzip, once per change of the state; the other routes are compressed per answer.
pub fn router(context: Arc<Context>, web_config: Option<Arc<LiveWebConfig>>) -> Router {
    let compressed = Router::new()
        .route("/", get(landing_page))
        .route("/api/v1/status", get(status))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .layer(CompressionLayer::new().gzip(true));
    let router = Router::new()
        .route("/metrics", get(metrics))
        .merge(compressed)
        .with_state(context);
    match web_config {
        Some(live) => router.layer(axum::middleware::from_fn_with_state(live, guard::guard)),
        None => router,
    }
}

/// Binds every `--web.listen-address`, or says which one cannot be bound.
pub async fn bind_all(addresses: &[String]) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::with_capacity(addresses.len());
    for address in addresses {
        let listener = bind(address)
            .await
            .map_err(|e| format!("cannot listen on {address}: {e}"))?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The listening sockets systemd passed (`LISTEN_FDS`, `LISTEN_PID`), for
/// `--web.systemd-socket`; an error when it passed none or one that is not a TCP listener.
pub fn systemd_sockets() -> Result<Vec<TcpListener>, String> {
    let mut passed = listenfd::ListenFd::from_env();
    if passed.len() == 0 {
        return Err(
            "--web.systemd-socket: systemd passed no socket (LISTEN_FDS and LISTEN_PID \
             are not set for this process); start it from a .socket unit, or use \
             --web.listen-address"
                .to_owned(),
        );
    }
    (0..passed.len())
        .map(|index| {
            let listener = passed
                .take_tcp_listener(index)
                .map_err(|e| format!("--web.systemd-socket: socket {index}: {e}"))?
                .ok_or_else(|| {
                    format!("--web.systemd-socket: socket {index} is not a listening TCP socket")
                })?;
            listener
                .set_nonblocking(true)
                .and_then(|()| TcpListener::from_std(listener))
                .map_err(|e| format!("--web.systemd-socket: socket {index}: {e}"))
        })
        .collect()
}

/// Binds one `--web.listen-address`. An empty host (`:9731`) means every interface: IPv6
/// and IPv4 where the system allows, else IPv4 only.
pub async fn bind(address: &str) -> std::io::Result<TcpListener> {
    match address.strip_prefix(':') {
        Some(port) => match TcpListener::bind(format!("[::]:{port}")).await {
            Ok(listener) => Ok(listener),
            Err(_) => TcpListener::bind(format!("0.0.0.0:{port}")).await,
        },
        None => TcpListener::bind(address).await,
    }
}

async fn metrics(Extract(context): Extract<Arc<Context>>, headers: HeaderMap) -> Response {
    let gzip = accepts_gzip(&headers);
    let scrape = match context.metrics.scrape(&context.state, gzip).await {
        Ok(scrape) => scrape,
        Err(e) => {
            tracing::error!(error = %e, "cannot answer a scrape");
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response();
        }
    };
    let length: usize = scrape.body.iter().map(Bytes::len).sum();
    let body = Body::from_stream(futures_util::stream::iter(
        scrape.body.into_iter().map(Ok::<_, Infallible>),
    ));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if scrape.gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Whether the client takes gzip, as the compression of the other routes decides it:
/// `gzip` or `x-gzip` with a q-value above 0 and not below that of `identity`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut best = (None, None);
    let offers = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for offer in offers {
        let mut parts = offer.splitn(2, ';');
        let coding = parts.next().unwrap_or_default().trim();
        let Some(q) = parts.next().map_or(Some(1000), |q| q_value(q.trim())) else {
            continue;
        };
        let slot = if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            &mut best.0
        } else if coding.eq_ignore_ascii_case("identity") {
            &mut best.1
        } else {
            continue;
        };
        *slot = Some(slot.map_or(q, |seen: u16| seen.max(q)));
    }
    match best {
        (Some(gzip), identity) => gzip > 0 && gzip >= identity.unwrap_or(0),
        (None, _) => false,
    }
}

/// A q-value (`q=0.5`) in thousandths; `None` when it is not one (RFC 9110 12.4.2).
fn q_value(text: &str) -> Option<u16> {
    let value = text
        .strip_prefix("q=")
        .or_else(|| text.strip_prefix("Q="))?;
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

async fn landing_page(Extract(context): Extract<Arc<Context>>) -> Response {
    let state = Arc::clone(&context.state);
    // A large state takes a while to show; the blocking pool keeps `/metrics` answering.
    let page = tokio::task::spawn_blocking(move || {
        let reports = report::all(&state, report::Rows::Attention(page::MAX_ATTENTION_ROWS));
        page::render(&reports, state.ready(), state.shard())
    })
    .await;
    match page {
        Ok(page) => Html(page).into_response(),
        Err(e) => internal_error("the page", &e),
    }
}

async fn status(Extract(context): Extract<Arc<Context>>) -> Response {
    let state = Arc::clone(&context.state);
    let json = tokio::task::spawn_blocking(move || {
        output::render_json(&report::all(&state, report::Rows::All), state.shard())
    })
    .await;
    match json {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => internal_error("the status", &e),
    }
}

/// The answer when making a page failed (a bug: it is logged).
fn internal_error(what: &str, error: &tokio::task::JoinError) -> Response {
    tracing::error!(error = %error, "cannot render {what}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("cannot render {what}\n"),
    )
        .into_response()
}

async fn healthy() -> &'static str {
    "Healthy.\n"
}

async fn ready(Extract(context): Extract<Arc<Context>>) -> (StatusCode, String) {
    if context.state.ready() {
        return (StatusCode::OK, "Ready.\n".to_owned());
    }
    let apps = context.state.apps();
    let done = apps
        .iter()
        .filter(|app| app.lock().last_cycle.is_some())
        .count();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "Not ready: {done} of {} apps have finished their first check cycle.\n",
            apps.len()
        ),
    )
}

async fn reload(Extract(context): Extract<Arc<Context>>) -> (StatusCode, String) {
    let (reply, verdict) = oneshot::channel();
    let failed = |why: &str| (StatusCode::INTERNAL_SERVER_ERROR, format!("{why}\n"));
    if context.reload.send(reply).await.is_err() {
        return failed("the exporter is shutting down");
    }
    match verdict.await {
        Ok(Ok(())) => (StatusCode::OK, "Configuration reloaded.\n".to_owned()),
        Ok(Err(problems)) => failed(&format!(
            "failed to reload the configuration; the running one is unchanged:\n{}",
            problems.join("\n")
        )),
        Err(_) => failed("the exporter is shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{header, HeaderMap, HeaderValue};

    use super::{accepts_gzip, q_value};

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn gzip_is_chosen_as_the_other_routes_choose_it() {
        // (Accept-Encoding headers, gzip)
        let cases: [(&[&'static str], bool); 13] = [
            (&[], false),
            (&["gzip"], true),
            (&["GZip"], true),
            (&["x-gzip"], true),
            (&["deflate, gzip;q=1.0, *;q=0.5"], true),
            (&["br"], false),
            (&["gzip;q=0"], false),
            (&["gzip;q=0.000"], false),
            (&["identity;q=1, gzip;q=0.5"], false),
            (&["identity;q=0.5, gzip;q=0.5"], true),
            (&["identity", "gzip"], true),
            // An invalid q-value leaves the offer out.
            (&["gzip;q=2"], false),
            (&["gzip;level=9"], false),
        ];
        for (values, gzip) in cases {
            assert_eq!(accepts_gzip(&headers(values)), gzip, "{values:?}");
        }
    }

    #[test]
    fn q_values_follow_rfc_9110() {
        for (text, q) in [
            ("q=1", Some(1000)),
            ("q=1.000", Some(1000)),
            ("Q=0.5", Some(500)),
            ("q=0.25", Some(250)),
            ("q=0.001", Some(1)),
            ("q=0", Some(0)),
            ("q=1.001", None),
            ("q=0.0001", None),
            ("q=.5", None),
            ("q=-0", None),
            ("q=", None),
            ("level=1", None),
        ] {
            assert_eq!(q_value(text), q, "{text}");
        }
    }
}
