//! What the web configuration asks of every request, before any endpoint sees it: the
//! rate limit (429, before authentication, as in exporter-toolkit), basic authentication
//! (401 with `WWW-Authenticate: Basic`) and the security headers (on every answer).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::live::LiveWebConfig;

/// The middleware; `live` is the web configuration in force.
pub async fn guard(
    State(live): State<Arc<LiveWebConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let active = live.current().await;
    let mut response = if active.limiter.as_ref().is_some_and(|l| !l.allows()) {
        refusal(StatusCode::TOO_MANY_REQUESTS)
    } else {
        let allowed = match &active.auth {
            None => true,
            Some(auth) => {
                auth.allows(request.headers().get(header::AUTHORIZATION))
                    .await
            }
        };
        if allowed {
            next.run(request).await
        } else {
            let mut response = refusal(StatusCode::UNAUTHORIZED);
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            response
        }
    };
    for (name, value) in &active.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// An error answer as Go's `http.Error` writes it.
fn refusal(status: StatusCode) -> Response {
    let text = format!("{}\n", status.canonical_reason().unwrap_or("Error"));
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        text,
    )
        .into_response()
}
