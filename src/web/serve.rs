//! The HTTP server loop: accepts connections on one listener and serves the router on
//! each, with bounds that keep idle, slow or hostile clients from starving the rest.
//!
//! - At most [`MAX_CONNECTIONS`] connections at once; past that, new ones wait in the
//!   kernel's backlog until one closes.
//! - A client must send a request's headers within [`HEADER_READ_TIMEOUT`] (also when a
//!   kept-alive connection sits idle), or its connection is closed: a slowloris client
//!   cannot hold a connection for long.
//! - Request headers are limited to [`MAX_HEADER_BYTES`]; no endpoint reads a body.
//!
//! - With TLS, the handshake runs in the connection's own task, within
//!   [`HANDSHAKE_TIMEOUT`], with the TLS configuration in force when the connection came
//!   (a rotated certificate serves the next connection).
//!
//! On stop it accepts no more, lets requests in flight finish and closes idle connections.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::live::{LiveWebConfig, HANDSHAKE_TIMEOUT};

/// The most connections served at once, per listener.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes of request headers read.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Serves `router` on `listener` until `stop`, then finishes the requests in flight. With
/// `web_config`, connections are TLS when it says so.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    web_config: Option<Arc<LiveWebConfig>>,
    stop: CancellationToken,
) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    loop {
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let web_config = web_config.clone();
        tokio::spawn(async move {
            // A client that goes away, times out or fails its handshake ends its own
            // connection only.
            match tls_acceptor(web_config.as_deref()).await {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(connection).await;
                }
                Some(acceptor) => {
                    if let Some(stream) = handshake(&acceptor, stream).await {
                        let connection = builder.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(connection).await;
                    }
                }
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
}

/// The TLS acceptor in force, when the web configuration turns TLS on.
async fn tls_acceptor(web_config: Option<&LiveWebConfig>) -> Option<TlsAcceptor> {
    let active = web_config?.current().await;
    active.tls.clone().map(TlsAcceptor::from)
}

/// What a plain HTTP client gets on a TLS port, as from Go's server.
const PLAIN_HTTP_ON_TLS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

async fn handshake(
    acceptor: &TlsAcceptor,
    mut stream: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let peer = stream.peer_addr().ok();
    // A TLS connection starts with a handshake record (22); an HTTP request with its
    // method's capital letters. Say what went wrong rather than close without a word.
    let mut first = [0u8; 1];
    if let Ok(Ok(1)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        if first[0].is_ascii_uppercase() {
            let _ = stream.write_all(PLAIN_HTTP_ON_TLS).await;
            let _ = stream.shutdown().await;
            return None;
        }
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        // Scanners and health checks that only open the port fail here all day: debug.
        Ok(Err(e)) => {
            tracing::debug!(peer = ?peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(peer = ?peer, "TLS handshake timed out");
            None
        }
    }
}
