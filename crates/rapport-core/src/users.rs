//! People who sign in to the dashboard: who they are (a user as sent), their passwords (Argon2id),
//! lockout after repeated failures, the optional TOTP second factor (RFC 6238), and the tokens of
//! a sign-in session and its CSRF protection. Randomness and clocks come from the caller: this
//! module does no I/O.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, Params};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, Totp};

use crate::auth::Role;
use crate::problem::FieldProblem;

/// Shortest password accepted (NIST SP 800-63B asks for at least 8; 12 is the common floor now).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: Argon2 hashes any length, but a megabyte "password" is an attack.
pub const MAX_PASSWORD_BYTES: usize = 256;
/// Failed sign-ins in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked account stays locked.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// How long a sign-in lasts.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;
/// Every session token starts with this, so one leaked into a log is recognisable.
pub const SESSION_PREFIX: &str = "rps_";

/// A new user as sent: e-mail (their sign-in name, unique across the server), name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The password chosen, if one was sent; otherwise the server makes one and shows it once.
    pub password: Option<String>,
}

/// Changes to a user as sent: any of role, name, disabled, password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub role: Option<Role>,
    pub name: Option<String>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
}

fn text_field<'a>(value: &'a Value, field: &str, problems: &mut Vec<FieldProblem>) -> Option<&'a str> {
    match value.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text),
        Some(_) => {
            problems.push(FieldProblem::envelope(field, "must be a string"));
            None
        }
    }
}

/// An e-mail address as a sign-in name: trimmed, lower-cased, and valid.
pub fn normalise_email(text: &str) -> Result<String, &'static str> {
    let email = text.trim().to_lowercase();
    if email.is_empty() {
        return Err("is required");
    }
    if email.len() > 254 || !email_address::EmailAddress::is_valid(&email) {
        return Err("is not a valid e-mail address");
    }
    Ok(email)
}

fn role_field(value: &Value, problems: &mut Vec<FieldProblem>) -> Option<Role> {
    let text = text_field(value, "role", problems)?;
    let role = Role::parse_user_role(text);
    if role.is_none() {
        problems.push(FieldProblem::envelope("role", "must be one of admin, analyst, agent, viewer"));
    }
    role
}

fn name_field(value: &Value, problems: &mut Vec<FieldProblem>) -> Option<String> {
    let name = text_field(value, "name", problems)?.trim();
    if name.chars().count() > 200 {
        problems.push(FieldProblem::envelope("name", "must be at most 200 characters"));
    }
    Some(name.to_owned())
}

fn password_field(value: &Value, problems: &mut Vec<FieldProblem>) -> Option<String> {
    let password = text_field(value, "password", problems)?;
    if let Err(problem) = check_password(password) {
        problems.push(FieldProblem::envelope("password", &problem));
    }
    Some(password.to_owned())
}

fn object(value: &Value) -> Result<(), Vec<FieldProblem>> {
    if value.is_object() { Ok(()) } else { Err(vec![FieldProblem::envelope("", "must be a JSON object")]) }
}

/// Checks a new user whole: every problem, by field.
pub fn parse_new_user(value: &Value) -> Result<NewUser, Vec<FieldProblem>> {
    object(value)?;
    let mut problems = Vec::new();
    let email = match text_field(value, "email", &mut problems).map(normalise_email) {
        Some(Ok(email)) => Some(email),
        Some(Err(problem)) => {
            problems.push(FieldProblem::envelope("email", problem));
            None
        }
        None => {
            if !problems.iter().any(|problem| problem.field == "email") {
                problems.push(FieldProblem::envelope("email", "is required"));
            }
            None
        }
    };
    let role = role_field(value, &mut problems);
    if value.get("role").is_none() {
        problems.push(FieldProblem::envelope("role", "is required: admin, analyst, agent or viewer"));
    }
    let name = name_field(value, &mut problems).unwrap_or_default();
    let password = password_field(value, &mut problems);
    match (email, role) {
        (Some(email), Some(role)) if problems.is_empty() => Ok(NewUser { email, name, role, password }),
        _ => Err(problems),
    }
}

/// Checks a change to a user whole.
pub fn parse_user_change(value: &Value) -> Result<UserChange, Vec<FieldProblem>> {
    object(value)?;
    let mut problems = Vec::new();
    let role = role_field(value, &mut problems);
    let name = name_field(value, &mut problems);
    let password = password_field(value, &mut problems);
    let disabled = match value.get("disabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(disabled)) => Some(*disabled),
        Some(_) => {
            problems.push(FieldProblem::envelope("disabled", "must be true or false"));
            None
        }
    };
    for field in value.as_object().into_iter().flat_map(|object| object.keys()) {
        if !["role", "name", "password", "disabled"].contains(&field.as_str()) {
            problems.push(FieldProblem::envelope(field, "is not a field of a user that can be changed"));
        }
    }
    if problems.is_empty() { Ok(UserChange { role, name, disabled, password }) } else { Err(problems) }
}

/// Whether a password may be used: long enough, not absurdly long.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
    }
    Ok(())
}

/// A generated password: 20 characters from an alphabet without look-alikes (about 116 bits).
pub fn password_from_random_bytes(bytes: [u8; 20]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    bytes.iter().map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char).collect()
}

fn argon2() -> Argon2<'static> {
    // OWASP's first choice for Argon2id: 19 MiB, 2 passes, 1 lane (argon2's defaults).
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, Params::default())
}

/// The stored form of a password: an Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`)
/// with the given 16-byte salt.
pub fn hash_password(password: &str, salt: [u8; 16]) -> String {
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("a 16-byte salt and default parameters are always accepted")
        .to_string()
}

/// Whether `password` matches the stored PHC string (false for a malformed one).
pub fn verify_password(password: &str, stored: &str) -> bool {
    argon2().verify_password(password.as_bytes(), stored).is_ok()
}

/// What a failed sign-in leaves: the failures in a row, and until when the account is locked
/// (from the `MAX_FAILURES`th failure on, each failure locks it for `LOCK_MS` again).
pub fn after_failure(failures_before: u32, now_ms: i64) -> (u32, Option<i64>) {
    let failures = failures_before.saturating_add(1);
    let locked_until = (failures >= MAX_FAILURES).then_some(now_ms + LOCK_MS);
    (failures, locked_until)
}

/// Whether an account is locked now.
pub fn is_locked(locked_until: Option<i64>, now_ms: i64) -> bool {
    locked_until.is_some_and(|until| until > now_ms)
}

fn totp(secret: &[u8]) -> Option<Totp> {
    // SHA-1, 6 digits, 30-second steps: what every authenticator app expects by default. One step
    // of skew either side absorbs clock drift.
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .build()
        .ok()
}

/// A TOTP secret (20 random bytes) as the base32 text people type into an authenticator app.
pub fn totp_secret_text(bytes: [u8; 20]) -> String {
    Secret::from(bytes).to_base32()
}

/// The `otpauth://` URI authenticator apps import (as a QR code or a link).
pub fn totp_uri(secret_text: &str, email: &str, issuer: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let label = utf8_percent_encode(&format!("{issuer}:{email}"), NON_ALPHANUMERIC).to_string();
    let issuer = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
    format!("otpauth://totp/{label}?secret={secret_text}&issuer={issuer}&algorithm=SHA1&digits=6&period=30")
}

/// The 30-second step a TOTP `code` is valid for at `now_s` (one step either side allowed), or
/// None. A step at or before `last_step` is refused: a code is good once (RFC 6238 §5.2).
pub fn check_totp(secret_text: &str, code: &str, now_s: u64, last_step: Option<u64>) -> Option<u64> {
    let secret = Secret::try_from_base32(secret_text).ok()?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = totp(secret.as_bytes())?.check(&code, now_s)?;
    if last_step.is_some_and(|last| step <= last) {
        return None;
    }
    Some(step)
}

/// The code an authenticator shows at `now_s` (for tests and the set-up page's check).
pub fn totp_code(secret_text: &str, now_s: u64) -> Option<String> {
    let secret = Secret::try_from_base32(secret_text).ok()?;
    Some(totp(secret.as_bytes())?.generate(now_s).to_string())
}

/// A session token from 32 random bytes: `rps_` and 64 hex digits. Stored only as its SHA-256
/// (`auth::hash_key`), like API keys.
pub fn session_token_from_random_bytes(bytes: [u8; 32]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{SESSION_PREFIX}{hex}")
}

/// The CSRF token of a session: HMAC-SHA-256 of a fixed label under the session token. Only the
/// holder of the session cookie can know it, nothing needs storing, and it dies with the session.
pub fn csrf_token(session_token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(session_token.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(b"rapport csrf v1");
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether a form's CSRF token is the session's (compared in constant time).
pub fn csrf_matches(session_token: &str, presented: &str) -> bool {
    let expected = csrf_token(session_token);
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let stored = hash_password("correct horse battery", [9; 16]);
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify_password("correct horse battery", &stored));
        assert!(!verify_password("correct horse batterY", &stored));
        assert!(!verify_password("correct horse battery", "not a hash"));
        // Another salt, another hash of the same password.
        assert_ne!(stored, hash_password("correct horse battery", [10; 16]));
    }

    #[test]
    fn password_rules() {
        assert!(check_password("short").unwrap_err().contains("at least 12"));
        assert!(check_password("twelve chars").is_ok());
        assert!(check_password(&"x".repeat(257)).unwrap_err().contains("at most 256"));
        let generated = password_from_random_bytes([200; 20]);
        assert_eq!(generated.chars().count(), 20);
        assert!(check_password(&generated).is_ok());
    }

    #[test]
    fn the_fifth_failure_in_a_row_locks_for_fifteen_minutes() {
        let mut failures = 0;
        let now = 1_000_000;
        for attempt in 1..=4 {
            let (count, locked) = after_failure(failures, now);
            assert_eq!((count, locked), (attempt, None));
            failures = count;
        }
        let (count, locked) = after_failure(failures, now);
        assert_eq!((count, locked), (5, Some(now + LOCK_MS)));
        assert!(is_locked(locked, now + LOCK_MS - 1));
        assert!(!is_locked(locked, now + LOCK_MS));
        assert!(!is_locked(None, now));
    }

    #[test]
    fn totp_matches_the_rfc_6238_vectors_and_is_good_once() {
        // RFC 6238 appendix B, SHA-1: the secret is the ASCII "12345678901234567890"; the RFC
        // prints 8 digits, of which a 6-digit code is the last 6.
        let secret = totp_secret_text(*b"12345678901234567890");
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for (time, eight_digits) in
            [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924"), (2_000_000_000, "69279037")]
        {
            assert_eq!(totp_code(&secret, time).unwrap(), &eight_digits[2..], "at {time}");
        }
        let code = totp_code(&secret, 1_234_567_890).unwrap();
        let step = check_totp(&secret, &code, 1_234_567_890, None).unwrap();
        assert_eq!(step, 1_234_567_890 / 30);
        // Thirty seconds of drift either way still works; ninety does not.
        assert!(check_totp(&secret, &code, 1_234_567_890 + 30, None).is_some());
        assert!(check_totp(&secret, &code, 1_234_567_890 + 90, None).is_none());
        // A used step is refused (replay), and so is anything that is not six digits.
        assert!(check_totp(&secret, &code, 1_234_567_890, Some(step)).is_none());
        assert!(check_totp(&secret, "12345", 1_234_567_890, None).is_none());
        assert!(check_totp(&secret, "abcdef", 1_234_567_890, None).is_none());
        assert!(totp_uri(&secret, "ana@example.com", "Rapport").starts_with(
            "otpauth://totp/Rapport%3Aana%40example%2Ecom?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Rapport"
        ));
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let session = session_token_from_random_bytes([1; 32]);
        let other = session_token_from_random_bytes([2; 32]);
        assert!(session.starts_with(SESSION_PREFIX) && session.len() == 4 + 64);
        let token = csrf_token(&session);
        assert!(csrf_matches(&session, &token));
        assert!(!csrf_matches(&other, &token));
        assert!(!csrf_matches(&session, ""));
        assert!(!csrf_matches(&session, &token[1..]));
    }

    #[test]
    fn users_are_checked_whole() {
        let user = parse_new_user(&json!({"email": " Ana@Example.COM ", "role": "analyst", "name": "Ana"})).unwrap();
        assert_eq!(
            user,
            NewUser { email: "ana@example.com".into(), name: "Ana".into(), role: Role::Analyst, password: None }
        );
        let problems = parse_new_user(&json!({"email": "nope", "role": "write", "password": "short"})).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(fields, ["email", "role", "password"]);
        let problems = parse_new_user(&json!({})).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(fields, ["email", "role"]);
        assert!(parse_new_user(&json!([1])).is_err());
        let change = parse_user_change(&json!({"role": "viewer", "disabled": true})).unwrap();
        assert_eq!(change, UserChange { role: Some(Role::Viewer), disabled: Some(true), ..UserChange::default() });
        let problems = parse_user_change(&json!({"email": "x@y.z", "disabled": "yes"})).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
        assert_eq!(fields, ["disabled", "email"]);
    }
}
