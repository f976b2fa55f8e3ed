//! The web dashboard, server-rendered under `/` (maud templates escape by default): sign-in with
//! a read or admin key (until users come), the overview and journeys. Pages call services, never
//! SQL, exactly as the API handlers do.

mod cases;
mod customers;
mod drivers;
mod feedback;
mod journeys;
mod layout;
pub mod overview;
mod settings;
mod surveys;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use rapport_core::auth::Role;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Caller, caller_for_workspace_key};

/// The cookie that holds the key a person signed in with (HttpOnly, SameSite=Strict).
const SESSION_COOKIE: &str = "rapport_key";
/// How long a sign-in lasts.
const SESSION_SECONDS: u64 = 12 * 3600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/overview", get(overview::page))
        .route("/journeys", get(journeys::list))
        .route("/journeys/{id}", get(journeys::one))
        .route("/feedback", get(feedback::page))
        .route("/drivers", get(drivers::page))
        .route("/settings", get(settings::page))
        .route("/settings/keys", post(settings::make_key))
        .route("/surveys", get(surveys::list))
        .route("/surveys/new", get(surveys::new).post(surveys::submit))
        .route("/cases", get(cases::inbox))
        .route("/cases/{id}", get(cases::one))
        .route("/cases/{id}/{action}", post(cases::change))
        .route("/customers", get(customers::search))
        .route("/customers/{id}", get(customers::one))
        .route("/assets/app.css", get(layout::style))
        .route("/assets/app.js", get(layout::script))
}

fn session_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// The person signed in, or the way to the sign-in page.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let to_sign_in = || Redirect::to("/sign-in").into_response();
    let Some(key) = session_key(headers) else { return Err(to_sign_in()) };
    match caller_for_workspace_key(state, &key).await {
        Ok(caller) if caller.role != Role::Write => Ok(caller),
        _ => Err(to_sign_in()),
    }
}

/// A page's reader: who signed in (a page without one redirects to the sign-in page).
pub struct Viewer(pub Caller);

impl axum::extract::FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Viewer, Response> {
        viewer(state, &parts.headers).await.map(Viewer)
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match viewer(&state, &headers).await {
        Ok(_) => Redirect::to("/overview").into_response(),
        Err(response) => response,
    }
}

fn sign_in_form(status: StatusCode, error: Option<&str>) -> Response {
    let body = html! {
        div class="signin" {
            h1 { "Sign in" }
            p class="hint" {
                "Use a read or admin key of your workspace. Create one with "
                code { "rapport keys create --workspace NAME --role read" } "."
            }
            @if let Some(error) = error {
                p class="error" role="alert" id="sign-in-error" { (error) }
            }
            form method="post" action="/sign-in" {
                div class="row" {
                    label for="key" { "API key" }
                    input id="key" name="key" type="password" autocomplete="current-password" required
                        aria-describedby=[error.map(|_| "sign-in-error")];
                }
                button type="submit" class="primary" { "Sign in" }
            }
        }
    };
    layout::page(status, "Sign in", None, "", body)
}

async fn sign_in_page() -> Response {
    sign_in_form(StatusCode::OK, None)
}

#[derive(Deserialize)]
struct SignIn {
    key: String,
}

async fn sign_in(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SignIn>) -> Response {
    // Another site's form must not sign a person into someone else's workspace.
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return sign_in_form(StatusCode::FORBIDDEN, Some("Sign in from Rapport's own page."));
    }
    let key = form.key.trim();
    if key.is_empty() {
        return sign_in_form(StatusCode::BAD_REQUEST, Some("Enter an API key."));
    }
    match caller_for_workspace_key(&state, key).await {
        Ok(caller) if caller.role == Role::Write => sign_in_form(
            StatusCode::FORBIDDEN,
            Some("This is a write key: it can only send events. Sign in with a read or admin key."),
        ),
        Ok(_) => {
            // Behind a TLS-terminating proxy the cookie must never travel in the clear.
            let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
            let secure = if https { "; Secure" } else { "" };
            let cookie =
                format!("{SESSION_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}");
            ([(header::SET_COOKIE, cookie)], Redirect::to("/overview")).into_response()
        }
        Err(error) if error.code == crate::error::ErrorCode::InvalidApiKey => {
            sign_in_form(StatusCode::UNAUTHORIZED, Some("That key was not recognised. Check it and try again."))
        }
        Err(error) => {
            tracing::error!(%error, "sign-in failed");
            sign_in_form(StatusCode::SERVICE_UNAVAILABLE, Some("Rapport could not check the key just now. Try again."))
        }
    }
}

async fn sign_out() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/sign-in")).into_response()
}

/// Whether this person may change things from this request: an admin key, and a form posted
/// from Rapport's own pages (SameSite cookies keep other sites out already; this says so twice).
pub fn may_change(caller: &Caller, headers: &HeaderMap) -> bool {
    caller.role == Role::Admin && headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) != Some("cross-site")
}

/// The page for a change `may_change` refused: `what` ("Making keys") needs an admin key.
pub fn not_allowed(caller: &Caller, what: &str) -> Response {
    let text = format!("{what} needs an admin key, from Rapport's own page.");
    layout::problem(StatusCode::FORBIDDEN, Some(caller), "Not allowed", &text)
}

/// A service's error as a page: a client's mistake in its own words, anything else as a
/// failure whose cause is logged.
pub fn failed(caller: &Caller, error: crate::error::ApiError) -> Response {
    let status = error.status();
    if status.is_server_error() {
        tracing::error!(%error, "a page failed");
        return layout::problem(
            status,
            Some(caller),
            "Something went wrong",
            "Rapport could not show this page. The cause is in the server's log; try again in a moment.",
        );
    }
    layout::problem(status, Some(caller), "This cannot be shown", &error.to_string())
}
