//! Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub status: &'static str,
    /// SQLite's in-memory answer indexes (reports grouped by a trait or an account): `building`
    /// at start, then `built`; while building, such a report waits for them. `not used` on
    /// PostgreSQL.
    pub answer_indexes: &'static str,
    /// What a server builds in the background at start (answer indexes, the overview's churn
    /// rates, the newest journeys' visits): `warming`, then `warm`. Pages and reports work
    /// meanwhile; their first answers are slower.
    pub caches: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The process can serve: its database answers (and how far the answer indexes are built).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    state.store.ping().await?;
    let caches = if state.caches_warm.load(std::sync::atomic::Ordering::Acquire) { "warm" } else { "warming" };
    Ok(Json(Readiness { status: "ready", answer_indexes: state.store.answer_indexes(), caches }))
}

/// Prometheus text format: request counts and latencies, events accepted.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics.render();
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, body = Object)))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::ApiDoc::openapi())
}
