//! For operators and their monitoring: liveness, readiness, Prometheus metrics.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(prometheus))
}

/// The process-wide recorder; installed on first use (the `metrics` macros write to a
/// global, so several apps in one test process share it).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder is installed, and then ours would see nothing
        // either way; the handle still renders (empty) output.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The process is up and serving. Says nothing about dependencies (that is /readyz),
/// so an orchestrator does not restart us while the database is briefly away.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready to serve requests: the database answers within two seconds.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (ok, detail) = match result {
        Ok(Ok(())) => (true, None),
        Ok(Err(e)) => (false, Some(e.to_string())),
        Err(_) => (false, Some("no answer within 2 s".to_owned())),
    };
    // Jitsi's state is reported but does not decide readiness: pages, registration and
    // recordings work without it, and a Prosody outage should not take us out of rotation.
    let shards = state.meetings.status();
    let body = serde_json::json!({
        "ready": ok,
        "checks": {
            "database": {
                "ok": ok,
                "backend": state.store.backend(),
                "latency_ms": latency_ms,
                "error": detail,
            },
            "jitsi": shards,
        }
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    // Read at scrape time, so the gauge is never older than the scrape.
    for shard in state.meetings.status() {
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        metrics::gauge!("jitsi_shard_companion_module", "shard" => shard.name.clone())
            .set(flag(shard.companion_module));
        metrics::gauge!("jitsi_shard_online", "shard" => shard.name).set(flag(shard.online));
    }
    metrics::gauge!("jitsi_rooms_followed").set(state.watch.followed() as f64);
    metrics::counter!("jitsi_room_changes_total").absolute(state.watch.changes_received());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics_handle().render(),
    )
}
