//! What every response and every public endpoint gets before a handler runs: security headers,
//! rate limits (per client address on sign-in and the survey pages; per key and per address on
//! ingestion), and request paths fit for logs (survey-link tokens left out). SECURITY.md has the
//! figures.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::{ApiError, ErrorCode};

/// How much each kind of client may send. Quotas refill steadily and allow a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Sign-in attempts per client address per minute (and the burst): with the per-account
    /// lockout, what keeps password guessing slow.
    pub sign_in_per_minute: u32,
    /// Survey and unsubscribe page requests per client address per second (burst five times
    /// that): an office behind one address answers a survey at once.
    pub survey_pages_per_second: u32,
    /// Ingestion requests per key per second (burst twice that); per client address, twice the
    /// key's rate (one server SDK sends for many keys).
    pub ingest_per_second: u32,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits { sign_in_per_minute: 20, survey_pages_per_second: 20, ingest_per_second: 1000 }
    }
}

type ByAddress = DefaultKeyedRateLimiter<IpAddr>;
type ByKey = DefaultKeyedRateLimiter<String>;

/// The limiters of one server.
#[derive(Clone)]
pub struct Limiters {
    sign_in: Arc<ByAddress>,
    survey_pages: Arc<ByAddress>,
    ingest_by_key: Arc<ByKey>,
    ingest_by_address: Arc<ByAddress>,
}

fn quota(per_period: u32, period: Duration, burst: u32) -> Quota {
    let per_period = per_period.max(1);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period / per_period).unwrap_or_else(|| Quota::per_second(burst)).allow_burst(burst)
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Limiters {
        let second = Duration::from_secs(1);
        Limiters {
            sign_in: Arc::new(DefaultKeyedRateLimiter::keyed(quota(
                limits.sign_in_per_minute,
                Duration::from_secs(60),
                limits.sign_in_per_minute,
            ))),
            survey_pages: Arc::new(DefaultKeyedRateLimiter::keyed(quota(
                limits.survey_pages_per_second,
                second,
                limits.survey_pages_per_second.saturating_mul(5),
            ))),
            ingest_by_key: Arc::new(DefaultKeyedRateLimiter::keyed(quota(
                limits.ingest_per_second,
                second,
                limits.ingest_per_second.saturating_mul(2),
            ))),
            ingest_by_address: Arc::new(DefaultKeyedRateLimiter::keyed(quota(
                limits.ingest_per_second.saturating_mul(2),
                second,
                limits.ingest_per_second.saturating_mul(4),
            ))),
        }
    }

    /// Forgets clients not seen lately (their buckets are full again), so memory stays bounded.
    pub fn forget_idle(&self) {
        self.sign_in.retain_recent();
        self.survey_pages.retain_recent();
        self.ingest_by_key.retain_recent();
        self.ingest_by_address.retain_recent();
    }
}

/// Which limit a request falls under.
enum Kind {
    SignIn,
    SurveyPage,
    Ingest,
}

fn kind_of(method: &Method, path: &str) -> Option<Kind> {
    if path.starts_with("/s/") || path.starts_with("/u/") {
        return Some(Kind::SurveyPage);
    }
    if *method != Method::POST {
        return None;
    }
    if path == "/sign-in" {
        return Some(Kind::SignIn);
    }
    let ingest = matches!(
        path,
        "/v1/track"
            | "/v1/identify"
            | "/v1/page"
            | "/v1/screen"
            | "/v1/group"
            | "/v1/alias"
            | "/v1/batch"
            | "/v1/t"
            | "/v1/i"
            | "/v1/p"
            | "/v1/s"
            | "/v1/g"
            | "/v1/a"
            | "/v1/b"
            | "/v1/feedback"
    ) || (path.starts_with("/v1/surveys/") && path.ends_with("/responses"));
    ingest.then_some(Kind::Ingest)
}

fn wait<P: governor::clock::Reference>(refused: &governor::NotUntil<P>) -> Duration
where
    DefaultClock: Clock<Instant = P>,
{
    refused.wait_time_from(DefaultClock::default().now())
}

fn too_many(kind: &Kind, after: Duration) -> Response {
    let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = match kind {
        Kind::SignIn | Kind::SurveyPage => {
            let text = format!("Too many requests from your address. Wait {seconds} seconds and try again.");
            crate::pages::problem_page(StatusCode::TOO_MANY_REQUESTS, "Slow down", &text)
        }
        Kind::Ingest => ApiError::new(
            ErrorCode::RateLimited,
            format!("too many requests for this key or address; retry after {seconds} s"),
        )
        .into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Refuses a request over its limit with `429` and `Retry-After`, before any work is done.
pub async fn rate_limit(State(limiters): State<Option<Limiters>>, request: Request, next: Next) -> Response {
    let Some(limiters) = limiters else { return next.run(request).await };
    let Some(kind) = kind_of(request.method(), request.uri().path()) else { return next.run(request).await };
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(address)| address.ip());
    let refused = match kind {
        Kind::SignIn => limiters.sign_in.check_key(&address).err().map(|refused| wait(&refused)),
        Kind::SurveyPage => limiters.survey_pages.check_key(&address).err().map(|refused| wait(&refused)),
        Kind::Ingest => {
            let key = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
            let by_key = key.and_then(|key| limiters.ingest_by_key.check_key(&key.to_owned()).err());
            let by_address = limiters.ingest_by_address.check_key(&address).err();
            by_key.or(by_address).map(|refused| wait(&refused))
        }
    };
    match refused {
        Some(after) => {
            metrics::counter!("rapport_rate_limited_total").increment(1);
            too_many(&kind, after)
        }
        None => next.run(request).await,
    }
}

/// The policy for Rapport's own pages: scripts and styles from Rapport only (the hosted survey's
/// style sheet is inline), never framed by another site, forms posting only back to Rapport.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to every response (and HSTS when the request came over HTTPS
/// through a proxy).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let https = request.headers().get("x-forwarded-proto").and_then(|value| value.to_str().ok()) == Some("https");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Survey links carry their token in the path: never send it on to another site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// A request's path as logs may show it: without the query, and with survey-link tokens left
/// out (`/s/{token}`), since a token answers its survey.
pub fn loggable_path(path: &str) -> String {
    for prefix in ["/s/", "/u/"] {
        if path.starts_with(prefix) {
            return format!("{prefix}{{token}}");
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_endpoints_are_limited() {
        assert!(matches!(kind_of(&Method::POST, "/sign-in"), Some(Kind::SignIn)));
        assert!(kind_of(&Method::GET, "/sign-in").is_none());
        assert!(matches!(kind_of(&Method::GET, "/s/abc"), Some(Kind::SurveyPage)));
        assert!(matches!(kind_of(&Method::POST, "/v1/b"), Some(Kind::Ingest)));
        assert!(matches!(kind_of(&Method::POST, "/v1/surveys/x/responses"), Some(Kind::Ingest)));
        assert!(kind_of(&Method::GET, "/v1/surveys/x/responses").is_none());
        assert!(kind_of(&Method::POST, "/v1/surveys").is_none());
        assert_eq!(loggable_path("/s/eyJ.secret"), "/s/{token}");
        assert_eq!(loggable_path("/v1/track"), "/v1/track");
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let limiters = Limiters::new(RateLimits { sign_in_per_minute: 3, ..RateLimits::default() });
        let address = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..3 {
            assert!(limiters.sign_in.check_key(&address).is_ok());
        }
        let refused = limiters.sign_in.check_key(&address).unwrap_err();
        let after = wait(&refused);
        assert!(after > Duration::from_secs(15) && after <= Duration::from_secs(20), "{after:?}");
        assert!(limiters.sign_in.check_key(&IpAddr::from([10, 0, 0, 2])).is_ok(), "each address has its own");
    }
}
