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

use std::sync::Arc;

use axum::extract::State as Extract;
use axum::http::{header, StatusCode};
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
/// rate limit, authentication and headers when there is one.
pub fn router(context: Arc<Context>, web_config: Option<Arc<LiveWebConfig>>) -> Router {
    let router = Router::new()
        .route("/", get(landing_page))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .layer(CompressionLayer::new().gzip(true))
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

async fn metrics(Extract(context): Extract<Arc<Context>>) -> Response {
    let text = context.metrics.render(&context.state);
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

async fn landing_page(Extract(context): Extract<Arc<Context>>) -> Html<String> {
    Html(page::render(
        &report::all(&context.state),
        context.state.ready(),
        context.state.shard(),
    ))
}

async fn status(Extract(context): Extract<Arc<Context>>) -> Response {
    let json = output::render_json(&report::all(&context.state), context.state.shard());
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
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
