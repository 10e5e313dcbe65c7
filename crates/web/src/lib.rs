//! Roomkeeper's HTTP face: server-rendered pages, the JSON API under `/api/v1`,
//! operations endpoints, and the middleware every response passes through.
//!
//! Who may do what is decided in `roomkeeper_domain::authz`; the extractors in
//! [`extract`] are the only place that asks it, so a handler that takes an `Admin`
//! cannot be reached by anyone else.

pub mod api;
mod assets;
mod delivery;
mod error;
pub mod extract;
mod i18n;
mod middleware;
pub mod ops;
mod pages;
mod session;
mod streams;
mod views;

/// The emails' words in each recipient's language, for use cases run outside a request
/// (the command line).
use std::sync::Arc;

use axum::Router;
use roomkeeper_domain::MeetingBase;

pub use error::{ApiError, Error, PageError};
pub use i18n::Lang;
pub use ops::metrics_handle;
pub use session::cookie_name as session_cookie_name;

/// The `[http]` section of the configuration.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// The address people open, e.g. `https://rooms.example.org`. When it starts with
    /// https, cookies get `Secure` and the `__Host-` prefix.
    pub public_url: Option<String>,
    /// Take the client address from the last `X-Forwarded-For` entry: one reverse proxy
    /// in front (a local nginx). Turn on only behind a proxy that sets it; otherwise
    /// clients could pick their address and dodge the login throttle.
    pub trust_forwarded_for: bool,
    /// The proxies in front (addresses or `address/prefix` networks), for more than one
    /// hop (a load balancer before nginx): the client is the first address, read from the
    /// right of `X-Forwarded-For`, that is not one of them. Requests from elsewhere are
    /// taken at their connection's address whatever they say.
    pub trusted_proxies: Vec<String>,
    /// How long a client may take to send a request's headers before the connection is
    /// closed: a client that dribbles them (slowloris) would otherwise hold a connection
    /// for ever.
    pub header_read_timeout_seconds: u64,
    /// On SIGTERM, how long requests in flight may take to finish before their
    /// connections are cut and the process exits (a download cut this way resumes with
    /// `Range`). Below systemd's 90 s stop timeout, so the exit is ours, not a SIGKILL.
    pub shutdown_grace_seconds: u64,
    /// Limits on open live views (event streams) per instance.
    pub event_streams: streams::StreamLimits,
    /// Networks (`address/prefix`) whose direct, unproxied requests see the details of
    /// `/readyz` (Prosody addresses, database errors) and `/metrics`. Everyone else gets
    /// a plain status.
    pub operator_networks: Vec<String>,
    /// A second address that serves only `/healthz`, `/readyz` and `/metrics`, for a
    /// Prometheus on another machine while `listen` stays on loopback behind nginx (whose
    /// requests are never an operator's). Its requests are checked against
    /// `operator_networks` too.
    pub metrics_listen: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8470".into(),
            public_url: None,
            trust_forwarded_for: false,
            trusted_proxies: Vec::new(),
            header_read_timeout_seconds: 10,
            shutdown_grace_seconds: 20,
            event_streams: streams::StreamLimits::default(),
            operator_networks: vec!["127.0.0.0/8".into(), "::1/128".into()],
            metrics_listen: None,
        }
    }
}

impl HttpConfig {
    /// Where people reach us, for links in emails.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// `operator_networks`, parsed; the first entry that does not parse, as an error.
    pub fn operator_networks(&self) -> Result<Vec<ops::Network>, String> {
        ops::Network::parse_all(&self.operator_networks)
    }

    /// `trusted_proxies`, parsed; the first entry that does not parse, as an error.
    pub fn trusted_proxies(&self) -> Result<Vec<ops::Network>, String> {
        ops::Network::parse_all(&self.trusted_proxies)
    }

    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// The `[rooms]` section of the configuration.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    /// Base URLs of the Jitsi-Meet servers whose rooms can be registered, e.g.
    /// `["https://meet.example.org"]`. The first one makes the meeting links shown.
    pub meeting_urls: Vec<String>,
}

impl RoomsConfig {
    pub fn bases(&self) -> Result<Vec<MeetingBase>, String> {
        self.meeting_urls
            .iter()
            .map(|u| MeetingBase::parse(u))
            .collect()
    }
}

/// Everything the web layer is configured with, as the binary hands it over.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    pub http: HttpConfig,
}

/// Everything a handler may reach, shared by all requests. Cloned by every extractor
/// that takes it, so it is one `Arc`: a clone is one counter, not twenty
/// (docs/PERFORMANCE.md, "Where a request's time went").
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// What Roomkeeper does; handlers translate HTTP in and out of these.
    pub usecases: roomkeeper_usecases::UseCases,
    pub http: Arc<HttpConfig>,
    /// Cancelled when the service stops: endless responses (event streams) end then,
    /// or a graceful shutdown would wait for them forever.
    pub stopping: tokio_util::sync::CancellationToken,
    /// Open event streams, counted against `http.event_streams`.
    pub event_streams: streams::EventStreams,
    /// `http.operator_networks`, parsed once (start-up refused bad entries).
    pub operator_networks: Arc<Vec<ops::Network>>,
    /// `http.trusted_proxies`, parsed once (start-up refused bad entries).
    pub trusted_proxies: Arc<Vec<ops::Network>>,
}

impl AppState {
    /// The web front end over the use cases (`roomkeeper::app::compose`).
    pub fn new(usecases: roomkeeper_usecases::UseCases, config: WebConfig) -> Self {
        // Install the metrics recorder before the first request is counted.
        metrics_handle();
        Self(Arc::new(Shared {
            event_streams: streams::EventStreams::new(config.http.event_streams),
            operator_networks: Arc::new(config.http.operator_networks().unwrap_or_default()),
            trusted_proxies: Arc::new(config.http.trusted_proxies().unwrap_or_default()),
            http: Arc::new(config.http),
            stopping: tokio_util::sync::CancellationToken::new(),
            usecases,
        }))
    }
}

/// What `http.metrics_listen` serves: health, readiness and metrics, nothing else.
pub fn operations_router(state: AppState) -> Router {
    ops::router()
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
}

/// The whole application. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`
/// so the login throttle knows client addresses.
pub fn router(state: AppState) -> Router {
    let app = Router::new()
        .merge(pages::router())
        .nest("/api/v1", api::router().into_router())
        .merge(ops::router())
        .merge(assets::router())
        // A route layer sees the matched route template, which labels the metrics.
        .route_layer(axum::middleware::from_fn(middleware::track_metrics))
        .fallback(error::fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn(i18n::negotiate))
        .with_state(state);
    middleware::with_common_layers(app)
}
