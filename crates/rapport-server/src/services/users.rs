//! People who sign in: creating and changing users (admins), signing in and out, sessions, and
//! each person's own password and second factor. Argon2id runs on the blocking pool: it takes
//! tens of milliseconds of one core by design.

use std::sync::OnceLock;

use rand::RngCore;
use rapport_core::auth::Role;
use rapport_core::ids::WorkspaceId;
use rapport_core::users::{self, NewUser};
use rapport_store::Store;
use rapport_store::trust_records::{NewUserRow, UserRecord, UserUpdate};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};
use crate::services::{audit, rfc3339};

fn invalid_user(problems: Vec<rapport_core::problem::FieldProblem>) -> ApiError {
    ApiError::new(ErrorCode::InvalidUser, format!("the user is invalid: {}", problems_phrase(problems.len())))
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

/// A user as the API shows them (never a password hash or TOTP secret).
pub fn user_json(user: &UserRecord) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.as_str(),
        "twoFactor": user.totp_enabled,
        "disabled": user.disabled_at_ms.is_some(),
        "lockedUntil": user.locked_until_ms.filter(|until| *until > rapport_store::now_ms()).map(rfc3339),
        "lastSignInAt": user.last_sign_in_at_ms.map(rfc3339),
        "createdAt": rfc3339(user.created_at_ms),
    })
}

async fn hash(password: String) -> Result<String, ApiError> {
    let mut salt = [0_u8; 16];
    rand::rng().fill_bytes(&mut salt);
    tokio::task::spawn_blocking(move || users::hash_password(&password, salt)).await.map_err(ApiError::internal)
}

async fn verify(password: String, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || users::verify_password(&password, &stored)).await.map_err(ApiError::internal)
}

/// A hash no password matches, verified against when there is no such user, so the time a
/// refusal takes does not tell whether an address has an account.
fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| users::hash_password("no such user: a decoy", [0x5a; 16])).clone()
}

pub fn generated_password() -> String {
    let mut bytes = [0_u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    users::password_from_random_bytes(bytes)
}

/// Creates a user in `workspace` as `actor`: `{"user": …, "password": …}`, the password only
/// when Rapport made it (shown once).
pub async fn create_user(
    store: &Store,
    workspace: &WorkspaceId,
    actor: &str,
    user: NewUser,
) -> Result<Value, ApiError> {
    let generated = user.password.is_none().then(generated_password);
    let password = user.password.clone().or_else(|| generated.clone()).unwrap_or_default();
    let row = NewUserRow {
        email: user.email.clone(),
        name: user.name,
        role: user.role,
        password_hash: hash(password).await?,
    };
    let Some(id) = store.create_user(workspace, &row).await? else {
        return Err(ApiError::new(ErrorCode::Conflict, format!("`{}` already has an account", user.email))
            .with_details(vec![ErrorDetail { index: None, field: "email".into(), problem: "is taken".into() }]));
    };
    audit::record_as(
        store,
        workspace,
        actor,
        "user.created",
        &format!("user:{}", user.email),
        json!({"role": user.role.as_str()}),
    )
    .await;
    let created =
        store.users(workspace, Some(&id)).await?.pop().ok_or_else(|| ApiError::internal("a created user vanished"))?;
    let mut body = json!({"user": user_json(&created)});
    if let Some(password) = generated {
        body["password"] = Value::String(password);
    }
    Ok(body)
}

/// `POST /v1/users` and the settings page's form.
pub async fn create(store: &Store, caller: &Caller, value: &Value) -> Result<Value, ApiError> {
    let user = users::parse_new_user(value).map_err(invalid_user)?;
    create_user(store, &caller.workspace, &caller.actor, user).await
}

pub async fn list(store: &Store, workspace: &WorkspaceId) -> Result<Value, ApiError> {
    let users = store.users(workspace, None).await?;
    Ok(json!({"data": users.iter().map(user_json).collect::<Vec<_>>()}))
}

async fn one(store: &Store, workspace: &WorkspaceId, id: &str) -> Result<UserRecord, ApiError> {
    let user = store.users(workspace, Some(id)).await?.pop();
    user.ok_or_else(|| ApiError::not_found(format!("no user `{id}` in this workspace")))
}

pub async fn get(store: &Store, workspace: &WorkspaceId, id: &str) -> Result<Value, ApiError> {
    Ok(user_json(&one(store, workspace, id).await?))
}

/// Changes a user's role, name, password or whether they may sign in (admins). A person cannot
/// take their own admin role away or disable themselves: the workspace would lose its admin.
pub async fn change(store: &Store, caller: &Caller, id: &str, value: &Value) -> Result<Value, ApiError> {
    let change = users::parse_user_change(value).map_err(invalid_user)?;
    let user = one(store, &caller.workspace, id).await?;
    if caller.user_id.as_deref() == Some(id)
        && (change.disabled == Some(true) || change.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "you cannot disable yourself or take away your own admin role; another admin can",
        ));
    }
    let password_hash = match change.password.clone() {
        Some(password) => Some(hash(password).await?),
        None => None,
    };
    let now = rapport_store::now_ms();
    let update = UserUpdate {
        role: change.role,
        name: change.name.clone(),
        disabled_at_ms: change.disabled.map(|disabled| disabled.then_some(now)),
        password_hash,
    };
    store.update_user(&caller.workspace, id, &update).await?;
    let mut changed = serde_json::Map::new();
    if let Some(role) = change.role {
        changed.insert("role".into(), json!({"from": user.role.as_str(), "to": role.as_str()}));
    }
    if let Some(disabled) = change.disabled {
        changed.insert("disabled".into(), json!(disabled));
    }
    if change.name.is_some() {
        changed.insert("name".into(), json!(true));
    }
    if change.password.is_some() {
        changed.insert("password".into(), json!("reset"));
    }
    audit::record(store, caller, "user.changed", &format!("user:{}", user.email), Value::Object(changed)).await;
    get(store, &caller.workspace, id).await
}

/// Why a sign-in was refused, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown address or wrong password (which one is not said).
    Wrong,
    /// Too many failures in a row: locked until then.
    Locked { until_ms: i64 },
    /// The password was right; the account asks for a code from the authenticator app.
    CodeNeeded,
    /// The code was wrong or already used.
    WrongCode,
    /// The account is disabled.
    Disabled,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Wrong => "That e-mail address and password do not match an account.".to_owned(),
            Refusal::Locked { until_ms } => format!(
                "Too many failed attempts: this account is locked until {}. An admin can unlock it by setting a new password.",
                crate::services::readable_time(*until_ms)
            ),
            Refusal::CodeNeeded => "Enter the 6-digit code from your authenticator app.".to_owned(),
            Refusal::WrongCode => "That code is not right, or was used already. Enter the current code.".to_owned(),
            Refusal::Disabled => "This account is disabled. Ask an admin of your workspace.".to_owned(),
        }
    }
}

/// A started session: the token for the cookie, and who it is.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub user: UserRecord,
}

async fn failed(store: &Store, user: &UserRecord, now: i64, reason: &str) -> Result<Refusal, ApiError> {
    let (failures, locked_until) = users::after_failure(user.failed_attempts, now);
    store.record_sign_in_failure(&user.id, failures, locked_until).await?;
    let target = format!("user:{}", user.email);
    let detail = json!({"reason": reason, "failuresInARow": failures});
    audit::record_as(store, &user.workspace_id, &target, "user.sign_in_failed", &target, detail).await;
    if let Some(until_ms) = locked_until {
        audit::record_as(
            store,
            &user.workspace_id,
            "system",
            "user.locked",
            &target,
            json!({"until": rfc3339(until_ms)}),
        )
        .await;
        return Ok(Refusal::Locked { until_ms });
    }
    Ok(if reason == "code" { Refusal::WrongCode } else { Refusal::Wrong })
}

/// Checks an e-mail address, password and (when the account has a second factor) code, and
/// starts a session; or says why not. Failures count towards the lockout and are audited.
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    code: Option<&str>,
    now: i64,
) -> Result<Result<SignedIn, Refusal>, ApiError> {
    let found = match users::normalise_email(email) {
        Ok(email) => store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let Some((user, credentials)) = found else {
        verify(password.to_owned(), decoy_hash()).await?;
        return Ok(Err(Refusal::Wrong));
    };
    if users::is_locked(user.locked_until_ms, now) {
        return Ok(Err(Refusal::Locked { until_ms: user.locked_until_ms.unwrap_or(now) }));
    }
    if !verify(password.to_owned(), credentials.password_hash).await? {
        return Ok(Err(failed(store, &user, now, "password").await?));
    }
    if user.disabled_at_ms.is_some() {
        return Ok(Err(Refusal::Disabled));
    }
    let mut step = None;
    if let Some(secret) = &credentials.totp_secret {
        let Some(code) = code.map(str::trim).filter(|code| !code.is_empty()) else {
            return Ok(Err(Refusal::CodeNeeded));
        };
        let now_s = u64::try_from(now / 1000).unwrap_or(0);
        match users::check_totp(secret, code, now_s, credentials.totp_last_step) {
            Some(used) => step = Some(used),
            None => return Ok(Err(failed(store, &user, now, "code").await?)),
        }
    }
    let mut random = [0_u8; 32];
    rand::rng().fill_bytes(&mut random);
    let token = users::session_token_from_random_bytes(random);
    store.start_session(&user, &token, step, now, now + users::SESSION_MS).await?;
    let target = format!("user:{}", user.email);
    audit::record_as(
        store,
        &user.workspace_id,
        &target,
        "user.signed_in",
        &target,
        json!({"twoFactor": step.is_some()}),
    )
    .await;
    Ok(Ok(SignedIn { token, user }))
}

/// The person a session token stands for, as a caller (with the session's CSRF token).
pub async fn session_caller(store: &Store, token: &str, now: i64) -> Result<Option<Caller>, ApiError> {
    let Some(user) = store.session_user(token, now).await? else { return Ok(None) };
    Ok(Some(Caller {
        workspace: user.workspace_id,
        workspace_name: user.workspace_name,
        role: user.role,
        actor: format!("user:{}", user.email),
        user_id: Some(user.id),
        csrf: Some(users::csrf_token(token)),
    }))
}

/// Ends a session (signing out).
pub async fn sign_out(store: &Store, caller: &Caller, token: &str) -> Result<(), ApiError> {
    store.end_session(token).await?;
    audit::record(store, caller, "user.signed_out", &caller.actor, json!({})).await;
    Ok(())
}

async fn own_account(
    store: &Store,
    caller: &Caller,
) -> Result<(UserRecord, rapport_store::trust_records::UserCredentials), ApiError> {
    let id = caller
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::new(ErrorCode::Forbidden, "only a person signed in has an account"))?;
    store
        .user_credentials(&caller.workspace, id)
        .await?
        .ok_or_else(|| ApiError::not_found("your account no longer exists"))
}

fn field_error(field: &str, problem: &str) -> ApiError {
    ApiError::invalid_parameter(field, problem.to_owned())
}

/// Changes the signed-in person's password (the current one confirms it is them). Their other
/// sessions end; the caller signs in again.
pub async fn change_own_password(store: &Store, caller: &Caller, current: &str, new: &str) -> Result<(), ApiError> {
    let (user, credentials) = own_account(store, caller).await?;
    if !verify(current.to_owned(), credentials.password_hash).await? {
        return Err(field_error("current", "is not your current password"));
    }
    users::check_password(new).map_err(|problem| field_error("password", &problem))?;
    let update = UserUpdate { password_hash: Some(hash(new.to_owned()).await?), ..UserUpdate::default() };
    store.update_user(&caller.workspace, &user.id, &update).await?;
    audit::record(store, caller, "user.password_changed", &caller.actor, json!({})).await;
    Ok(())
}

/// A fresh TOTP secret and its `otpauth://` URI, for the set-up page (nothing is stored until
/// a code from it is confirmed).
pub fn new_totp_secret(email: &str) -> (String, String) {
    let mut bytes = [0_u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let secret = users::totp_secret_text(bytes);
    let uri = users::totp_uri(&secret, email, "Rapport");
    (secret, uri)
}

/// Turns on the second factor once a code from the new secret checks out.
pub async fn enable_totp(store: &Store, caller: &Caller, secret: &str, code: &str, now: i64) -> Result<(), ApiError> {
    let (user, _) = own_account(store, caller).await?;
    let now_s = u64::try_from(now / 1000).unwrap_or(0);
    let Some(step) = users::check_totp(secret, code, now_s, None) else {
        return Err(field_error("code", "is not the code your app shows for this secret; check the phone's clock"));
    };
    store.set_totp(&caller.workspace, &user.id, Some(secret), Some(step)).await?;
    audit::record(store, caller, "user.two_factor_enabled", &caller.actor, json!({})).await;
    Ok(())
}

/// Turns the second factor off (the password confirms it is them).
pub async fn disable_totp(store: &Store, caller: &Caller, password: &str) -> Result<(), ApiError> {
    let (user, credentials) = own_account(store, caller).await?;
    if !verify(password.to_owned(), credentials.password_hash).await? {
        return Err(field_error("password", "is not your current password"));
    }
    store.set_totp(&caller.workspace, &user.id, None, None).await?;
    audit::record(store, caller, "user.two_factor_disabled", &caller.actor, json!({})).await;
    Ok(())
}
