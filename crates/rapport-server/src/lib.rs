//! Rapport's HTTP server: the Segment-compatible ingestion API, the customer API and operations
//! endpoints, built as an [`Application`] that tests start on port 0.
//!
//! Architecture invariant: handlers (`api/`) call services (`services/`) and the store's methods;
//! no SQL and no driver types appear in this crate. Errors reach clients only through
//! [`error::ApiError`].

pub mod api;
pub mod auth;
pub mod error;
pub mod hardening;
pub mod openapi;
pub mod pages;
pub mod services;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rapport_core::auth::hash_key;
use rapport_core::event::MAX_BATCH_BYTES;
use rapport_store::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, ErrorCode};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// SHA-256 of `RAPPORT_ADMIN_KEY`, if one is set.
    pub admin_key_hash: Option<String>,
    pub metrics: PrometheusHandle,
    /// Each workspace's survey triggers, checked against every ingested batch.
    pub triggers: services::invitations::TriggerCache,
    /// The secret that signs survey links, read from the store once.
    link_secret: Arc<tokio::sync::OnceCell<Vec<u8>>>,
    /// Whether the caches built at start (answer indexes, churn tiles, journey visits) are done.
    pub caches_warm: Arc<std::sync::atomic::AtomicBool>,
    /// The rate limiters of public endpoints (none: no limits).
    pub limiters: Option<hardening::Limiters>,
}

impl AppState {
    /// The secret that signs survey links (made on first use, shared by every process).
    pub async fn link_secret(&self) -> Result<Vec<u8>, rapport_store::StoreError> {
        let secret =
            self.link_secret.get_or_try_init(|| self.store.secret(services::hosted_survey::LINK_SECRET)).await?;
        Ok(secret.clone())
    }
}

/// What the server needs beyond the store.
#[derive(Clone, Default)]
pub struct ServerConfig {
    /// `host:port`; port 0 picks a free port.
    pub listen: String,
    /// The master key (`RAPPORT_ADMIN_KEY`).
    pub admin_key: Option<String>,
    /// SMTP for e-mail invitations; without it they fail with `no_mail_server`.
    pub mail: Option<services::mail::MailConfig>,
    /// The HTTP provider of SMS and chat invitations; without it they fail with
    /// `no_messaging_provider`.
    pub messaging_url: Option<String>,
    /// The base URL customers reach this server at, for links in e-mails (default
    /// `http://<listen address>`).
    pub public_url: Option<String>,
    /// Rate limits of public endpoints; None turns them off (what the benchmarks measure).
    pub rate_limits: Option<hardening::RateLimits>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "[redacted]"))
            .field("mail", &self.mail)
            .field("messaging_url", &self.messaging_url.as_ref().map(|_| "[set]"))
            .field("public_url", &self.public_url)
            .field("rate_limits", &self.rate_limits)
            .finish()
    }
}

/// The process-wide Prometheus recorder (the `metrics` facade allows one per process).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)
                .expect("static buckets are valid");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    use api::{
        analysis, cases, contact_policy, customers, feedback, hosted, ingest, journeys, keys, metrics, ops, prediction,
        privacy, surveys, users, webhooks, widget,
    };
    let request_id = HeaderName::from_static("x-request-id");
    // Browser SDKs send events from the customer's own sites: allow any origin. Keys travel in
    // headers, never cookies, so this grants a page nothing it does not already hold.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600));
    let v1 = Router::new()
        .route("/v1/track", post(ingest::track))
        .route("/v1/identify", post(ingest::identify))
        .route("/v1/page", post(ingest::page))
        .route("/v1/screen", post(ingest::screen))
        .route("/v1/group", post(ingest::group))
        .route("/v1/alias", post(ingest::alias))
        .route("/v1/batch", post(ingest::batch))
        // analytics.js's short paths: the same endpoints.
        .route("/v1/t", post(ingest::track))
        .route("/v1/i", post(ingest::identify))
        .route("/v1/p", post(ingest::page))
        .route("/v1/s", post(ingest::screen))
        .route("/v1/g", post(ingest::group))
        .route("/v1/a", post(ingest::alias))
        .route("/v1/b", post(ingest::batch))
        .route("/v1/customers", get(customers::search_customers))
        .route("/v1/customers/{id}", get(customers::get_customer))
        .route("/v1/customers/{id}/timeline", get(customers::timeline))
        .route("/v1/customers/{id}/merges", get(customers::merges))
        .route("/v1/merges/{id}/undo", post(customers::undo_merge))
        .route("/v1/keys", post(keys::create_key).get(users::keys))
        .route("/v1/users", post(users::create).get(users::list))
        .route("/v1/users/{id}", get(users::get_one).put(users::put))
        .route("/v1/audit", get(users::entries))
        .route("/v1/audit/verify", get(users::verify))
        .route("/v1/widget/eligibility", post(widget::eligibility))
        .route("/v1/widget/answers/{token}", post(widget::answers))
        .route("/v1/consent", put(privacy::put_consent))
        .route("/v1/customers/{id}/consent", get(privacy::customer_consent))
        .route("/v1/privacy/export", post(privacy::export))
        .route("/v1/privacy/erase", post(privacy::erase))
        .route("/v1/privacy/settings", get(privacy::get_settings).put(privacy::put_settings))
        .route("/v1/privacy/retention/run", post(privacy::run_retention))
        .route("/v1/surveys", post(surveys::create_survey).get(surveys::list_surveys))
        .route("/v1/surveys/{id}", get(surveys::get_survey).put(surveys::update_survey))
        .route("/v1/surveys/{id}/responses", post(surveys::submit_response).get(surveys::list_responses))
        .route("/v1/surveys/{id}/invitations", get(surveys::list_invitations))
        .route("/v1/surveys/{id}/dry-run", post(surveys::dry_run))
        .route("/v1/contact-policy", get(contact_policy::get_policy).put(contact_policy::put_policy))
        .route("/v1/metrics/settings", get(metrics::get_settings).put(metrics::put_settings))
        .route("/v1/metrics/{metric}", get(metrics::report))
        .route("/v1/metrics/{metric}/compare", get(metrics::compare))
        .route("/v1/feedback", post(feedback::submit).get(feedback::list))
        .route("/v1/feedback/taxonomy", get(feedback::get_taxonomy).put(feedback::put_taxonomy))
        .route("/v1/feedback/settings", get(feedback::get_settings).put(feedback::put_settings))
        .route("/v1/feedback/topics", get(feedback::topics))
        .route("/v1/feedback/themes", get(feedback::themes))
        .route("/v1/feedback/{id}", get(feedback::get_one))
        .route("/v1/alerts", get(feedback::list_alerts))
        .route("/v1/alerts/evaluate", post(feedback::evaluate))
        .route("/v1/domain-events", get(feedback::domain_events))
        .route("/v1/churn/settings", get(prediction::get_settings).put(prediction::put_settings))
        .route("/v1/churn/train", post(prediction::train))
        .route("/v1/churn/model", get(prediction::model))
        .route("/v1/predictions", get(prediction::list))
        .route("/v1/predictions/refresh", post(prediction::refresh))
        .route("/v1/customers/{id}/prediction", get(prediction::customer))
        .route("/v1/accounts/health", get(prediction::accounts))
        .route("/v1/clv", get(prediction::clv))
        .route("/v1/analysis/root-causes", get(analysis::root_causes))
        .route("/v1/analysis/drivers", get(analysis::drivers))
        .route("/v1/action-plans", get(analysis::list_plans).post(analysis::create_plan))
        .route("/v1/action-plans/{id}", get(analysis::get_plan).put(analysis::put_plan))
        .route("/v1/journeys", get(journeys::list).post(journeys::create))
        .route("/v1/journeys/{id}", get(journeys::get_one).put(journeys::put).delete(journeys::delete))
        .route("/v1/journeys/{id}/analytics", get(journeys::analytics))
        .route("/v1/journeys/{id}/map.svg", get(journeys::map))
        .route("/v1/cases", get(cases::list).post(cases::create))
        .route("/v1/cases/settings", get(cases::get_settings).put(cases::put_settings))
        .route("/v1/cases/check-sla", post(cases::check_sla))
        .route("/v1/cases/recovery", get(cases::recovery))
        .route("/v1/cases/{id}", get(cases::get_one))
        .route("/v1/cases/{id}/transition", post(cases::transition))
        .route("/v1/cases/{id}/notes", post(cases::add_note))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/{id}", get(webhooks::get_one).delete(webhooks::delete))
        .route("/v1/webhooks/{id}/enable", post(webhooks::enable))
        .route("/v1/webhooks/{id}/disable", post(webhooks::disable))
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/v1/webhooks/{id}/deliveries/{delivery}/replay", post(webhooks::replay))
        .route("/s/{token}", get(hosted::show).post(hosted::submit))
        .route("/u/{token}", get(hosted::unsubscribe_page).post(hosted::unsubscribe));
    Router::new()
        .merge(v1)
        .merge(pages::router())
        .route("/widget.js", get(widget::script))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // One byte over the batch limit still reaches the handler, which answers 413 in JSON.
        .layer(DefaultBodyLimit::max(MAX_BATCH_BYTES + 1))
        .layer(middleware::from_fn(record_request_metrics))
        .layer(middleware::from_fn_with_state(state.limiters.clone(), hardening::rate_limit))
        .layer(middleware::from_fn(hardening::security_headers))
        .layer(CatchPanicLayer::custom(|_panic| ApiError::internal("a handler panicked").into_response()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let path = hardening::loggable_path(request.uri().path());
            tracing::debug_span!("request", method = %request.method(), path)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Outermost, so a preflight (OPTIONS) is answered before routing: on a route, the
        // router's method-not-allowed fallback answered it 405 and browsers refused the widget's
        // and SDKs' JSON calls. Without credentials allowed, no page's cookie-bound answer is
        // readable cross-origin.
        .layer(cors)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint; the API is described at /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this method is not allowed on this endpoint")
}

async fn record_request_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!("rapport_http_requests_total", &labels).increment(1);
    metrics::histogram!("rapport_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    store: Store,
    dispatcher: services::invitations::Dispatcher,
    caches_warm: Arc<std::sync::atomic::AtomicBool>,
    limiters: Option<hardening::Limiters>,
}

impl Application {
    /// Binds `config.listen` (port 0 picks a free port) over `store`.
    pub async fn build(config: ServerConfig, store: Store) -> anyhow::Result<Application> {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let state = AppState {
            store: store.clone(),
            admin_key_hash: config.admin_key.as_deref().filter(|key| !key.is_empty()).map(hash_key),
            metrics: metrics_handle(),
            triggers: services::invitations::TriggerCache::default(),
            link_secret: Arc::default(),
            caches_warm: Arc::default(),
            limiters: config.rate_limits.map(hardening::Limiters::new),
        };
        let mailer = config.mail.as_ref().map(services::mail::Mailer::new).transpose()?;
        let messenger = config.messaging_url.as_deref().map(services::messaging::Messenger::new).transpose()?;
        let local = listener.local_addr().context("the listener has no address")?;
        let dispatcher = services::invitations::Dispatcher::new(
            store.clone(),
            mailer,
            config.public_url.clone().unwrap_or_else(|| format!("http://{local}")),
            state.link_secret().await?,
        )
        .with_messenger(messenger);
        let caches_warm = Arc::clone(&state.caches_warm);
        let limiters = state.limiters.clone();
        Ok(Application { listener, router: router(state), store, dispatcher, caches_warm, limiters })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// (so every acknowledged batch is committed) and closes the database.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let webhooks = tokio::spawn(run_webhooks(self.store.clone(), stopped.clone()));
        let analysis = tokio::spawn(run_analysis(self.store.clone(), stopped.clone()));
        let warming = tokio::spawn(warm_caches(self.store.clone(), Arc::clone(&self.caches_warm)));
        let forgetting = self.limiters.map(|limiters| {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    limiters.forget_idle();
                }
            })
        });
        let dispatcher = tokio::spawn(run_dispatcher(self.dispatcher, stopped));
        // The client's address is what per-address rate limits count by.
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await;
        // The dispatcher finishes the invitation in hand, then stops.
        let _ = stop.send(true);
        let _ = dispatcher.await;
        let _ = webhooks.await;
        let _ = analysis.await;
        warming.abort();
        if let Some(forgetting) = forgetting {
            forgetting.abort();
        }
        served.context("server failed")?;
        self.store.close().await;
        Ok(())
    }
}

/// How often relational surveys' cadences are planned (each plan covers a whole period).
const CADENCE_INTERVAL: Duration = Duration::from_secs(3600);
/// How often open cases are checked against their SLA targets.
const SLA_INTERVAL: Duration = Duration::from_secs(60);
/// How often due survey invitations are looked for.
const DISPATCH_INTERVAL: Duration = Duration::from_secs(1);
/// How often the analysis task looks whether an hour or a day has turned.
const ANALYSIS_INTERVAL: Duration = Duration::from_secs(30);

/// Delivers due webhooks every second until `stopped` turns true: a task of its own, so a slow
/// receiver never holds up survey invitations.
async fn run_webhooks(store: Store, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let client = services::webhooks::client();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(DISPATCH_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
        match services::webhooks::deliver_due(&store, &client, rapport_store::now_ms()).await {
            Ok(0) => {}
            Ok(attempts) => tracing::debug!(attempts, "webhook deliveries attempted"),
            Err(error) => tracing::warn!(%error, "delivering webhooks failed; retrying"),
        }
    }
}

/// Builds SQLite's answer indexes (minutes at ten million responses), computes the overview's
/// churn rates (they read every activity event) and reads the newest journeys' visits (half a
/// minute at ten million events) in the background at start, so no one's first report grouped by
/// a trait, first overview or first journey analytics waits for them.
async fn warm_caches(store: Store, warm: Arc<std::sync::atomic::AtomicBool>) {
    let started = Instant::now();
    match store.warm_answer_indexes().await {
        Ok(0) => {}
        Ok(workspaces) => tracing::info!(workspaces, seconds = started.elapsed().as_secs_f64(), "answer indexes built"),
        Err(error) => tracing::warn!(%error, "building the answer indexes failed; reports build them when asked"),
    }
    match pages::overview::warm(&store).await {
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "computing the overview's churn rates failed; the page computes them when asked")
        }
    }
    let started = Instant::now();
    match services::journeys::warm(&store).await {
        Ok(0) => {}
        Ok(journeys) => tracing::info!(journeys, seconds = started.elapsed().as_secs_f64(), "journey visits read"),
        Err(error) => tracing::warn!(%error, "reading journey visits failed; analytics read them when asked"),
    }
    warm.store(true, std::sync::atomic::Ordering::Release);
}

/// Evaluates spike alerts each hour and refreshes predictions each day, until `stopped` turns true:
/// a task of its own, so a long evaluation or a day's scoring of a large workspace (minutes for a
/// million customers) never holds up survey invitations. Stopping drops the job in hand; what it
/// had not committed is simply done again at the next start.
async fn run_analysis(store: Store, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let jobs = async {
        // Spike alerts: each workspace once an hour (the windows are whole hours).
        let mut alerts_evaluated: Option<i64> = None;
        // Predictions (churn risk, health): every workspace once a day.
        let mut predictions_refreshed: Option<i64> = None;
        // Retention rules: every workspace once a day.
        let mut retention_enforced: Option<i64> = None;
        loop {
            if turned(&mut alerts_evaluated, 3_600_000) {
                let evaluation = services::alerts::evaluate_all(&store, rapport_store::now_ms()).await;
                report(
                    evaluation.map(|n| n as u64),
                    "spike alerts raised",
                    "evaluating spike alerts failed; retrying next hour",
                );
            }
            if turned(&mut predictions_refreshed, 86_400_000) {
                let refresh = services::prediction::refresh_all(&store, rapport_store::now_ms()).await;
                report(
                    refresh,
                    "customers newly flagged at risk of churn",
                    "refreshing predictions failed; retrying tomorrow",
                );
            }
            if turned(&mut retention_enforced, 86_400_000) {
                let removed = services::privacy::enforce_retention_all(&store, rapport_store::now_ms()).await;
                report(
                    removed,
                    "rows past their retention removed",
                    "applying retention rules failed; retrying tomorrow",
                );
            }
            tokio::time::sleep(ANALYSIS_INTERVAL).await;
        }
    };
    tokio::select! {
        () = jobs => {}
        _ = stopped.changed() => {}
    }
}

/// Whether the period of `period_ms` holding now differs from the one `last` ran in (and notes
/// that it runs now).
fn turned(last: &mut Option<i64>, period_ms: i64) -> bool {
    let period = rapport_store::now_ms() / period_ms;
    let due = last.is_none_or(|ran| ran < period);
    if due {
        *last = Some(period);
    }
    due
}

/// Logs what a periodic job did: a count when there is one, the error when it failed.
fn report(outcome: Result<u64, error::ApiError>, done: &str, failed: &str) {
    match outcome {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "{done}"),
        Err(error) => tracing::warn!(error = %error.message, "{failed}"),
    }
}

/// Sends (or suppresses) due survey invitations, plans relational cadences each hour and checks
/// case SLAs each minute, until `stopped` turns true.
async fn run_dispatcher(
    dispatcher: services::invitations::Dispatcher,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut cadence_planned: Option<Instant> = None;
    let mut sla_checked: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(DISPATCH_INTERVAL) => {}
            _ = stopped.changed() => return,
        }
        if cadence_planned.is_none_or(|planned| planned.elapsed() >= CADENCE_INTERVAL) {
            cadence_planned = Some(Instant::now());
            match dispatcher.plan_cadence(rapport_store::now_ms()).await {
                Ok(0) => {}
                Ok(created) => tracing::info!(created, "relational survey invitations planned"),
                Err(error) => tracing::warn!(%error, "planning relational survey invitations failed; retrying"),
            }
        }
        if sla_checked.is_none_or(|checked| checked.elapsed() >= SLA_INTERVAL) {
            sla_checked = Some(Instant::now());
            if let Err(error) = services::cases::check_sla(&dispatcher.store, rapport_store::now_ms()).await {
                tracing::warn!(error = %error.message, "checking case SLAs failed; retrying");
            }
        }
        match dispatcher.run_once(rapport_store::now_ms()).await {
            Ok(0) => {}
            Ok(handled) => tracing::debug!(handled, "survey invitations dispatched"),
            Err(error) => tracing::warn!(%error, "dispatching survey invitations failed; retrying"),
        }
    }
}
