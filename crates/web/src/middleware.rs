//! What every request and response passes through: cross-site refusal, security
//! headers, request ids, tracing and metrics.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::{ApiError, AppState, Error, HttpConfig, PageError};

/// No script or style from anywhere but us, and none inline: injected markup cannot
/// run. `frame-ancestors 'none'` stops other sites from framing our buttons.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Refuses state-changing requests that a browser sent on behalf of another site.
///
/// Browsers label every request with `Sec-Fetch-Site`; older ones at least send
/// `Origin` on POST. Requests without either come from scripts, which carry no
/// ambient cookie of a victim, and requests with a well-formed bearer token cannot be
/// forged cross-site (a page cannot set that header without a CORS preflight we never
/// allow). Any other `Authorization` header is no exemption: browsers attach remembered
/// `Basic` credentials by themselves.
pub async fn refuse_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let bearer = crate::extract::bearer_token(request.headers()).is_some();
    if !safe && !bearer && is_cross_site(request.headers(), &state.http) {
        tracing::warn!(
            path = %request.uri().path(),
            origin = ?request.headers().get(header::ORIGIN),
            "refused a cross-site request"
        );
        return if request.uri().path().starts_with("/api/") {
            ApiError(Error::CrossSite).into_response()
        } else {
            PageError::from(Error::CrossSite).into_response()
        };
    }
    next.run(request).await
}

fn is_cross_site(headers: &HeaderMap, http: &HttpConfig) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // "same-site" is refused too: a sibling subdomain may belong to someone else.
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("null");
    match http.public_url.as_deref().map(origin_of) {
        Some(expected) => origin != expected,
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            let origin_host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            origin_host != Some(host)
        }
    }
}

/// `https://rooms.example.org/sub/` -> `https://rooms.example.org`.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// Counts requests by route template (never the raw path: ids would explode the
/// number of series) and status, and records their latency.
pub async fn track_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unknown".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The request's address as the log may keep it: a share link's secret (`/shared/rks_…`)
/// and the secrets of an OpenID callback (`code`, `state`, and the like) give whoever
/// reads the log what they grant, so their values are replaced.
fn redacted_uri(uri: &axum::http::Uri) -> String {
    const SECRET_PARAMETERS: &[&str] =
        &["code", "state", "session_state", "id_token_hint", "token"];
    let path = uri.path();
    let mut text = match path.strip_prefix("/shared/") {
        Some(rest) => match rest.split_once('/') {
            Some((_, after)) => format!("/shared/[redacted]/{after}"),
            None => "/shared/[redacted]".to_owned(),
        },
        None => path.to_owned(),
    };
    if let Some(query) = uri.query() {
        text.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if SECRET_PARAMETERS.contains(&key) => format!("{key}=[redacted]"),
                _ => pair.to_owned(),
            })
            .collect();
        text.push_str(&pairs.join("&"));
    }
    text
}

/// The policy for a page whose form leads on to another site: Chrome applies
/// `form-action` to where a form's answer redirects, too ("Join as moderator" answers
/// with a redirect to the meeting server). `origin` is a scheme, host and port.
pub fn policy_with_form_target(origin: &str) -> Option<HeaderValue> {
    let allowed = format!("form-action 'self' {origin};");
    HeaderValue::from_str(&CONTENT_SECURITY_POLICY.replace("form-action 'self';", &allowed)).ok()
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Layers for the whole app, innermost first.
pub fn with_common_layers(router: Router) -> Router {
    router
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        // Pages and API answers are personal; static assets set their own caching.
        .layer(header_layer(header::CACHE_CONTROL, "no-store"))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        uri = %redacted_uri(request.uri()),
                        version = ?request.version(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn secrets_in_addresses_are_redacted() {
        let uri = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        assert_eq!(
            redacted_uri(&uri("/shared/rks_abc/download?x=1")),
            "/shared/[redacted]/download?x=1"
        );
        assert_eq!(redacted_uri(&uri("/shared/rks_abc")), "/shared/[redacted]");
        assert_eq!(
            redacted_uri(&uri("/login/oidc/uni/callback?code=c&state=s&iss=i")),
            "/login/oidc/uni/callback?code=[redacted]&state=[redacted]&iss=i"
        );
        assert_eq!(redacted_uri(&uri("/rooms?page=2")), "/rooms?page=2");
    }

    #[test]
    fn only_a_well_formed_bearer_token_counts() {
        let bearer = |v: &'static str| {
            crate::extract::bearer_token(&headers(&[("authorization", v)])).map(str::to_owned)
        };
        assert_eq!(bearer("Bearer rk_abc-_9").as_deref(), Some("rk_abc-_9"));
        assert_eq!(bearer("Bearer abc==").as_deref(), Some("abc=="));
        assert_eq!(bearer("Basic YWxpY2U6cHc="), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer a b"), None);
        assert_eq!(bearer("bearer rk_abc"), None);
    }

    #[test]
    fn cross_site_is_judged_by_fetch_metadata_then_origin() {
        let plain = HttpConfig::default();
        let public = HttpConfig {
            public_url: Some("https://rooms.example.org/".into()),
            ..HttpConfig::default()
        };
        assert!(
            !is_cross_site(&headers(&[]), &plain),
            "scripts send neither header"
        );
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            &plain
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            &plain
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            &plain
        ));
        let same_host = headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(!is_cross_site(&same_host, &plain));
        let other = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080"),
        ]);
        assert!(is_cross_site(&other, &plain));
        assert!(is_cross_site(&headers(&[("origin", "null")]), &plain));
        assert!(!is_cross_site(
            &headers(&[("origin", "https://rooms.example.org")]),
            &public
        ));
        assert!(is_cross_site(
            &headers(&[("origin", "http://rooms.example.org")]),
            &public
        ));
    }
}
