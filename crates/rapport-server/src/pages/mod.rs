//! The web dashboard, server-rendered under `/` (maud templates escape by default). People sign
//! in with their e-mail address, password and (when they turned it on) a TOTP code; the session
//! lives in the store, the cookie holds only its token (HttpOnly, SameSite=Strict, Secure behind
//! HTTPS). Every form posts the session's CSRF token, checked before any handler runs
//! (`csrf_guard`). What each role sees is the table `SECTIONS`. Pages call services, never SQL,
//! exactly as the API handlers do.

mod account;
mod cases;
mod customers;
mod drivers;
mod feedback;
mod journeys;
mod layout;
pub mod overview;
mod privacy;
mod settings;
mod survey;
mod surveys;
mod users;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use rapport_core::auth::{Permission, Role};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Caller;
use crate::services::users::{self as accounts, Refusal};

/// The cookie that holds the session token.
const SESSION_COOKIE: &str = "rapport_session";
/// The largest form a page accepts (the survey builder's is the largest by far).
const FORM_LIMIT: usize = 1024 * 1024;

/// Each section of the dashboard: (path, label, what a person needs to see it). The navigation
/// shows a person the sections their role allows, and `Viewer` refuses the rest.
pub const SECTIONS: [(&str, &str, Permission); 8] = [
    ("/overview", "Overview", Permission::Read),
    ("/journeys", "Journeys", Permission::Read),
    ("/feedback", "Feedback", Permission::Read),
    ("/drivers", "Drivers", Permission::Read),
    ("/cases", "Cases", Permission::ReadCases),
    // Agents see the customers their cases concern (`customers.rs` checks which).
    ("/customers", "Customers", Permission::ReadCases),
    ("/surveys", "Surveys", Permission::Read),
    ("/settings", "Settings", Permission::Read),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/account/two-factor", post(account::two_factor))
        .route("/overview", get(overview::page))
        .route("/journeys", get(journeys::list))
        .route("/journeys/{id}", get(journeys::one))
        .route("/feedback", get(feedback::page))
        .route("/drivers", get(drivers::page))
        .route("/settings", get(settings::page))
        .route("/settings/keys", post(settings::make_key))
        .route("/settings/privacy", post(privacy::save_retention))
        .route("/settings/privacy/run", post(privacy::run_retention))
        .route("/settings/users", post(users::make))
        .route("/settings/users/{id}", post(users::change))
        .route("/surveys", get(surveys::list))
        .route("/surveys/new", get(surveys::new).post(surveys::submit))
        .route("/surveys/{id}", get(survey::page))
        .route("/cases", get(cases::inbox))
        .route("/cases/{id}", get(cases::one))
        .route("/cases/{id}/{action}", post(cases::change))
        .route("/customers", get(customers::search))
        .route("/customers/{id}", get(customers::one))
        .route("/customers/{id}/export", get(privacy::export))
        .route("/customers/{id}/erase", post(privacy::erase))
        .route("/assets/app.css", get(layout::style))
        .route("/assets/app.js", get(layout::script))
        .layer(middleware::from_fn(csrf_guard))
}

fn session_token(headers: &HeaderMap) -> Option<String> {
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

/// Refuses any form posted without the session's CSRF token (the `csrf` field, or the
/// `X-CSRF-Token` header), before a handler sees it. Signing in has no session yet: it checks
/// where the form came from instead.
async fn csrf_guard(request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.uri().path() == "/sign-in" {
        return next.run(request).await;
    }
    let Some(token) = session_token(request.headers()) else {
        return Redirect::to("/sign-in").into_response();
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        let text = "The form is larger than Rapport accepts (1 MiB).";
        return layout::problem(StatusCode::PAYLOAD_TOO_LARGE, None, "Too large", text);
    };
    let header = parts.headers.get("x-csrf-token").and_then(|value| value.to_str().ok()).map(str::to_owned);
    let field = || form_urlencoded::parse(&bytes).find(|(name, _)| name == "csrf").map(|(_, value)| value.into_owned());
    let presented = header.or_else(field).unwrap_or_default();
    if !rapport_core::users::csrf_matches(&token, &presented) {
        let text =
            "This form did not come from your Rapport session, or the session changed. Reload the page and try again.";
        return layout::problem(StatusCode::FORBIDDEN, None, "Form refused", text);
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// What `path` needs: the section it is under (`/account` and the sign-in pages need nothing).
fn permission_for(path: &str) -> Option<Permission> {
    SECTIONS
        .iter()
        .find(|(section, _, _)| {
            path == *section || path.strip_prefix(section).is_some_and(|rest| rest.starts_with('/'))
        })
        .map(|(_, _, permission)| *permission)
}

/// The person signed in, or the way to the sign-in page.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let to_sign_in = || Redirect::to("/sign-in").into_response();
    let Some(token) = session_token(headers) else { return Err(to_sign_in()) };
    match accounts::session_caller(&state.store, &token, rapport_store::now_ms()).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(to_sign_in()),
        Err(error) => {
            tracing::error!(%error, "reading a session failed");
            let text = "Rapport could not check your session just now. Try again in a moment.";
            Err(layout::problem(StatusCode::SERVICE_UNAVAILABLE, None, "Try again", text))
        }
    }
}

/// A page's reader: who signed in (a page without one redirects to the sign-in page), refused
/// with 403 where their role does not reach.
pub struct Viewer(pub Caller);

impl axum::extract::FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Viewer, Response> {
        let caller = viewer(state, &parts.headers).await?;
        if let Some(permission) = permission_for(parts.uri.path())
            && !caller.role.allows(permission)
        {
            let text = format!("The {} role does not reach this page.", caller.role.as_str());
            return Err(layout::problem(StatusCode::FORBIDDEN, Some(&caller), "Not allowed", &text));
        }
        Ok(Viewer(caller))
    }
}

/// The first section a person's role reaches.
fn landing(role: Role) -> &'static str {
    SECTIONS.iter().find(|(_, _, permission)| role.allows(*permission)).map_or("/account", |(path, _, _)| path)
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match viewer(&state, &headers).await {
        Ok(caller) => Redirect::to(landing(caller.role)).into_response(),
        Err(response) => response,
    }
}

fn sign_in_form(status: StatusCode, email: &str, error: Option<&str>) -> Response {
    let body = html! {
        div class="signin" {
            h1 { "Sign in" }
            @if let Some(error) = error {
                p class="error" role="alert" id="sign-in-error" { (error) }
            }
            form method="post" action="/sign-in" {
                div class="row" {
                    label for="email" { "E-mail address" }
                    input id="email" name="email" type="email" autocomplete="username" required value=(email)
                        aria-describedby=[error.map(|_| "sign-in-error")];
                }
                div class="row" {
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                div class="row" {
                    label for="code" { "Authenticator code " span class="hint" { "(if two-factor is on)" } }
                    input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8";
                }
                button type="submit" class="primary" { "Sign in" }
            }
            p class="hint" {
                "No account yet? An admin adds you under Settings, or from a shell: "
                code { "rapport users create --workspace NAME --email you@example.com --role admin" } "."
            }
        }
    };
    layout::page(status, "Sign in", None, "", body)
}

async fn sign_in_page() -> Response {
    sign_in_form(StatusCode::OK, "", None)
}

#[derive(Deserialize)]
struct SignIn {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Whether a request came from another site (a form there posting here).
fn cross_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site")
}

async fn sign_in(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SignIn>) -> Response {
    // Another site's form must not sign a person into someone else's account.
    if cross_site(&headers) {
        return sign_in_form(StatusCode::FORBIDDEN, "", Some("Sign in from Rapport's own page."));
    }
    let email = form.email.trim();
    if email.is_empty() || form.password.is_empty() {
        return sign_in_form(StatusCode::BAD_REQUEST, email, Some("Enter your e-mail address and password."));
    }
    let code = Some(form.code.as_str()).filter(|code| !code.trim().is_empty());
    match accounts::sign_in(&state.store, email, &form.password, code, rapport_store::now_ms()).await {
        Ok(Ok(signed_in)) => {
            // Behind a TLS-terminating proxy the cookie must never travel in the clear.
            let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
            let secure = if https { "; Secure" } else { "" };
            let seconds = rapport_core::users::SESSION_MS / 1000;
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={seconds}{secure}",
                signed_in.token
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to(landing(signed_in.user.role))).into_response()
        }
        Ok(Err(refusal)) => {
            let status = match refusal {
                Refusal::Locked { .. } => StatusCode::LOCKED,
                Refusal::Disabled => StatusCode::FORBIDDEN,
                Refusal::Wrong | Refusal::CodeNeeded | Refusal::WrongCode => StatusCode::UNAUTHORIZED,
            };
            sign_in_form(status, email, Some(&refusal.message()))
        }
        Err(error) => {
            tracing::error!(%error, "sign-in failed");
            let text = "Rapport could not check your sign-in just now. Try again.";
            sign_in_form(StatusCode::SERVICE_UNAVAILABLE, email, Some(text))
        }
    }
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers)
        && let Ok(caller) = viewer(&state, &headers).await
        && let Err(error) = accounts::sign_out(&state.store, &caller, &token).await
    {
        tracing::error!(%error, "ending a session failed");
    }
    signed_out()
}

/// Back to the sign-in page, the session cookie cleared (signing out, a changed password).
pub fn signed_out() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/sign-in")).into_response()
}

/// Whether this person may do what `permission` allows from this request (the CSRF guard has
/// already checked the form came from their session).
pub fn may(caller: &Caller, permission: Permission, headers: &HeaderMap) -> bool {
    caller.role.allows(permission) && !cross_site(headers)
}

/// The page for a change `may` refused: `what` ("Making keys") needs `permission`.
pub fn not_allowed(caller: &Caller, what: &str, permission: Permission) -> Response {
    let roles: Vec<&str> = Role::allowed_to(permission)
        .into_iter()
        .filter(|role| Role::USER_ROLES.contains(role))
        .map(|role| role.as_str())
        .collect();
    let text = format!("{what} needs the {} role.", roles.join(" or "));
    layout::problem(StatusCode::FORBIDDEN, Some(caller), "Not allowed", &text)
}

/// A page in words for someone who may not be signed in (a refusal before any handler runs).
pub fn problem_page(status: StatusCode, title: &str, text: &str) -> Response {
    layout::problem(status, None, title, text)
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
