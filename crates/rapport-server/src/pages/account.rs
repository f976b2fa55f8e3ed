//! The signed-in person's own account: their password, and the TOTP second factor (set up by
//! scanning or typing a secret into an authenticator app and confirming one code).

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use crate::AppState;
use crate::auth::Caller;
use crate::pages::{Viewer, failed, layout};
use crate::services::users;

async fn render(state: &AppState, caller: &Caller, notice: Option<Markup>, status: StatusCode) -> Response {
    let Some(id) = caller.user_id.as_deref() else {
        return layout::problem(
            StatusCode::FORBIDDEN,
            Some(caller),
            "No account",
            "Only a person signed in has an account.",
        );
    };
    let user = match state.store.users(&caller.workspace, Some(id)).await {
        Ok(mut found) => match found.pop() {
            Some(user) => user,
            None => return layout::problem(StatusCode::NOT_FOUND, Some(caller), "No account", "Your account is gone."),
        },
        Err(error) => return failed(caller, error.into()),
    };
    let (secret, uri) = users::new_totp_secret(&user.email);
    let body = html! {
        h1 { "Your account" }
        @if let Some(notice) = notice { (notice) }
        p { (user.email) " · " (user.role.as_str()) " in " strong { (caller.workspace_name) } }
        h2 id="password-heading" { "Password" }
        form method="post" action="/account/password" class="card" aria-labelledby="password-heading" {
            (layout::csrf_field(caller))
            div class="row" { label for="current" { "Current password" } input id="current" name="current" type="password" autocomplete="current-password" required; }
            div class="row" { label for="new-password" { "New password " span class="hint" { "(at least 12 characters)" } }
                input id="new-password" name="password" type="password" autocomplete="new-password" minlength="12" required; }
            button type="submit" class="primary" { "Change password" }
            p class="hint" { "Changing it signs you out everywhere; sign in again with the new one." }
        }
        h2 id="two-factor-heading" { "Two-factor sign-in" }
        div class="card" {
            @if user.totp_enabled {
                p { "On: signing in asks for the code from your authenticator app." }
                form method="post" action="/account/two-factor" {
                    (layout::csrf_field(caller))
                    input type="hidden" name="action" value="disable";
                    div class="row" { label for="confirm-password" { "Password (to turn it off)" }
                        input id="confirm-password" name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { "Turn off" }
                }
            } @else {
                p { "Off. To turn it on, add this secret to an authenticator app (by typing it, or opening the link on your phone), then enter the code it shows." }
                p { "Secret: " code id="totp-secret" { (secret) } }
                p class="hint" { a href=(uri) { "Open in an authenticator app" } }
                form method="post" action="/account/two-factor" {
                    (layout::csrf_field(caller))
                    input type="hidden" name="action" value="enable";
                    input type="hidden" name="secret" value=(secret);
                    div class="row" { label for="totp-code" { "Code from the app" }
                        input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required; }
                    button type="submit" class="primary" { "Turn on" }
                }
            }
        }
    };
    layout::page(status, "Account", Some(caller), "/account", body)
}

pub async fn page(State(state): State<AppState>, Viewer(caller): Viewer) -> Response {
    render(&state, &caller, None, StatusCode::OK).await
}

/// `POST /account/password`: `current`, `password`.
pub async fn change_password(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    match users::change_own_password(&state.store, &caller, &field("current"), &field("password")).await {
        // Every session of theirs ended with the change: sign in again.
        Ok(()) => crate::pages::signed_out(),
        Err(error) if error.status().is_client_error() => {
            render(&state, &caller, Some(layout::alert(&error.to_string())), error.status()).await
        }
        Err(error) => failed(&caller, error),
    }
}

/// `POST /account/two-factor`: `action` = `enable` (with `secret` and `code`) or `disable`
/// (with `password`).
pub async fn two_factor(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let outcome = match field("action").as_str() {
        "enable" => {
            users::enable_totp(&state.store, &caller, &field("secret"), &field("code"), rapport_store::now_ms())
                .await
                .map(|()| "Two-factor sign-in is on.")
        }
        "disable" => {
            users::disable_totp(&state.store, &caller, &field("password")).await.map(|()| "Two-factor sign-in is off.")
        }
        _ => {
            let text = "Choose to turn two-factor sign-in on or off.";
            return layout::problem(StatusCode::BAD_REQUEST, Some(&caller), "What change?", text);
        }
    };
    match outcome {
        Ok(done) => render(&state, &caller, Some(layout::done(html! { (done) })), StatusCode::OK).await,
        Err(error) if error.status().is_client_error() => {
            render(&state, &caller, Some(layout::alert(&error.to_string())), error.status()).await
        }
        Err(error) => failed(&caller, error),
    }
}
