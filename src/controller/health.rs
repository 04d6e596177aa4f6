//! The operator's own health: `/metrics`, `/healthz` and `/readyz`, and the probe that
//! notices when the API server stops answering.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context as _;
use kube::Client;
use tracing::{error, info, warn};

use super::{Context, cluster, metrics};

/// Asks the API server for its version every [`cluster::outage::PROBE_INTERVAL`], and
/// records each stretch it does not answer (see [`cluster::outage`]).
pub(super) async fn probe(client: Client, ctx: Arc<Context>) {
    use cluster::outage::{PROBE_INTERVAL, PROBE_TIMEOUT};
    let mut tick = tokio::time::interval(PROBE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let answer = tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await;
        let now = k8s_openapi::jiff::Timestamp::now();
        let Ok(mut outages) = ctx.outages.lock() else {
            return;
        };
        match answer {
            Ok(Ok(_)) => {
                if let Some((since, until)) = outages.answered(now) {
                    let seconds = crate::engine::time::elapsed(since, until).as_secs();
                    warn!(since = %since, seconds, "the API server answers again; the time it did not counts against no restore timeout or check deadline");
                }
            }
            Ok(Err(e)) => {
                if outages.unanswered(now) {
                    warn!(error = %e, "the API server does not answer; restore timeouts and check deadlines wait");
                }
            }
            Err(_) => {
                if outages.unanswered(now) {
                    warn!(timeout = ?PROBE_TIMEOUT, "the API server does not answer; restore timeouts and check deadlines wait");
                }
            }
        }
    }
}

/// `/metrics`, `/healthz` (the process is up) and `/readyz` (the watches have synced).
pub(super) async fn health_server(
    addr: SocketAddr,
    metrics: Arc<metrics::Metrics>,
    ready: Arc<AtomicBool>,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use axum::{Router, http::StatusCode, routing::get};
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.load(Ordering::Relaxed) {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "watches not synced yet")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr} for metrics and health"))?;
    info!(%addr, "serving /metrics, /healthz and /readyz");
    Ok(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!(error = %e, "metrics server stopped");
        }
    })
}
