//! For operators and their monitoring: liveness, readiness, Prometheus metrics.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use roomkeeper_usecases::meetings::{self, RoomOwnership};

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

/// An `address/prefix` network (`10.0.0.0/8`, `::1/128`; a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u32,
}

impl Network {
    /// Every entry, or the first that does not parse, in words.
    pub fn parse_all(entries: &[String]) -> Result<Vec<Self>, String> {
        entries
            .iter()
            .map(|n| {
                Self::parse(n).ok_or_else(|| {
                    format!("{n:?} is not an address or address/prefix such as 10.0.0.0/8")
                })
            })
            .collect()
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address.parse().ok()?, prefix.parse().ok()?),
            None => {
                let address: IpAddr = text.trim().parse().ok()?;
                (address, if address.is_ipv4() { 32 } else { 128 })
            }
        };
        let bits = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Self { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let mask = |bits: u32, width: u32| {
            if bits == 0 {
                0
            } else {
                u128::MAX << (width - bits)
            }
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(self.prefix, 32) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(self.prefix, 128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Whether this request may see operators' details: sent directly (no proxy in front
/// added X-Forwarded-For: behind a local nginx every request comes from 127.0.0.1) from
/// one of `http.operator_networks`.
fn for_operators(state: &AppState, request: &axum::extract::Request) -> bool {
    let headers = request.headers();
    if headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded") {
        return false;
    }
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return false;
    };
    state
        .operator_networks
        .iter()
        .any(|network| network.contains(peer.ip()))
}

/// Ready to serve requests: the database answers within two seconds. Operators (see
/// [`for_operators`]) get each check with its details; everyone else `{"ready": bool}`.
async fn readyz(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> impl IntoResponse {
    let started = Instant::now();
    let result =
        tokio::time::timeout(Duration::from_secs(2), state.usecases.database_answers()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (ok, detail) = match result {
        Ok(Ok(())) => (true, None),
        Ok(Err(e)) => (false, Some(e.to_string())),
        Err(_) => (false, Some("no answer within 2 s".to_owned())),
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !for_operators(&state, &request) {
        return (status, Json(serde_json::json!({ "ready": ok })));
    }
    // Jitsi's state is reported but does not decide readiness: pages, registration and
    // recordings work without it, and a Prosody outage should not take us out of rotation.
    let shards = meetings::shards(&state.usecases);
    let body = serde_json::json!({
        "ready": ok,
        "checks": {
            "database": {
                "ok": ok,
                "backend": state.usecases.database_backend(),
                "latency_ms": latency_ms,
                "error": detail,
            },
            "jitsi": shards,
        }
    });
    (status, Json(body))
}

async fn prometheus(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    if !for_operators(&state, &request) {
        return (
            StatusCode::FORBIDDEN,
            "Metrics are for operators: scrape from an address in http.operator_networks, without a proxy in between.\n",
        )
            .into_response();
    }
    // Read at scrape time, so the gauge is never older than the scrape.
    for shard in meetings::shards(&state.usecases) {
        let flag = |on: bool| if on { 1.0 } else { 0.0 };
        metrics::gauge!("jitsi_shard_companion_module", "shard" => shard.name.clone())
            .set(flag(shard.companion_module));
        // 1: Prosody makes the service account owner of the rooms; 0: not (unlocking and
        // ending meetings are refused); -1: not known yet (no module, no room seen).
        let owner = match shard.room_ownership {
            RoomOwnership::Owner => 1.0,
            RoomOwnership::NotOwner => 0.0,
            RoomOwnership::Unknown => -1.0,
        };
        metrics::gauge!("jitsi_shard_room_owner", "shard" => shard.name.clone()).set(owner);
        // 1 while the connection is down for this reason (certificate, login, ...).
        for kind in ["unreachable", "certificate", "login", "protocol"] {
            let now = shard.problem.as_ref().is_some_and(|p| p.kind() == kind);
            metrics::gauge!("jitsi_shard_problem", "shard" => shard.name.clone(), "kind" => kind)
                .set(flag(now));
        }
        metrics::gauge!("jitsi_shard_online", "shard" => shard.name).set(flag(shard.online));
    }
    metrics::gauge!("jitsi_rooms_followed").set(meetings::followed(&state.usecases) as f64);
    metrics::counter!("jitsi_room_changes_total").absolute(state.usecases.watch.changes_received());
    // Left out when the database does not answer: /readyz and its alert say that.
    if let Ok((problems, spooled)) =
        roomkeeper_usecases::recordings::ingest_problem_counts(&state.usecases).await
    {
        metrics::gauge!("recordings_ingest_problems").set(problems as f64);
        metrics::gauge!("recordings_spool_waiting").set(spooled as f64);
    }
    if let Ok(outbox) = roomkeeper_usecases::mail::outbox_status(&state.usecases).await {
        metrics::gauge!("mail_outbox_waiting").set(outbox.waiting as f64);
        metrics::gauge!("mail_outbox_retrying").set(outbox.retrying as f64);
        metrics::gauge!("mail_outbox_given_up").set(outbox.given_up as f64);
    }
    // Where recordings are stored (local) or staged (S3 uploads).
    if let Some((free, size)) = roomkeeper_usecases::recordings::disk_space(&state.usecases) {
        metrics::gauge!("recordings_disk_free_bytes").set(free as f64);
        metrics::gauge!("recordings_disk_size_bytes").set(size as f64);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics_handle().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::Network;

    #[test]
    fn networks_contain_their_addresses() {
        let net = |s: &str| Network::parse(s).unwrap();
        let ip = |s: &str| s.parse().unwrap();
        assert!(net("127.0.0.0/8").contains(ip("127.1.2.3")));
        assert!(!net("127.0.0.0/8").contains(ip("128.0.0.1")));
        assert!(net("::1/128").contains(ip("::1")));
        assert!(
            net("10.0.0.0/8").contains(ip("::ffff:10.1.1.1")),
            "IPv4-mapped"
        );
        assert!(net("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!net("192.0.2.7").contains(ip("192.0.2.8")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!net("::/0").contains(ip("203.0.113.1")), "no family mixing");
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::1/129"] {
            assert!(Network::parse(bad).is_none(), "{bad}");
        }
    }
}
