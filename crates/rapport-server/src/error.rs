//! The one place errors become HTTP responses.
//!
//! Every rejection is JSON: `{"error":{"code":"…","message":"…","details":[…]}}`. Codes are a
//! closed list ([`ErrorCode`]) so clients can rely on them; messages are for people.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rapport_core::problem::FieldProblem;
use rapport_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The stable error codes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// One or more events are invalid; `details` names each by index and field.
    InvalidEvent,
    /// A survey definition is invalid; `details` names each problem by field.
    InvalidSurvey,
    /// A survey response is invalid (answers out of range, unknown questions…); `details` names
    /// each problem by field.
    InvalidResponse,
    /// The body is not well-formed JSON.
    MalformedJson,
    /// A query or path parameter is invalid; `details` names it.
    InvalidParameter,
    /// A feedback item is invalid; `details` names each problem by item index and field.
    InvalidFeedback,
    /// A case change is invalid (a state it cannot move to, closing without a root cause…);
    /// `details` names each problem by field.
    InvalidCase,
    /// A topic taxonomy is invalid; `details` names each problem by field (`topics[2].query`).
    InvalidTaxonomy,
    /// A journey definition is invalid; `details` names each problem by field (`touchpoints[1].stage`).
    InvalidJourney,
    /// A user is invalid (e-mail, role, password…); `details` names each problem by field.
    InvalidUser,
    /// Settings (metric settings, the contact policy) are invalid; `details` names each problem by field.
    InvalidSettings,
    /// Consent choices are invalid; `details` names each problem by field (`choices[0].purpose`).
    InvalidConsent,
    /// No API key was presented.
    MissingApiKey,
    /// The presented API key is unknown.
    InvalidApiKey,
    /// The key is valid but its role does not allow this.
    Forbidden,
    /// No such resource in this workspace.
    NotFound,
    /// The HTTP method is not supported on this path.
    MethodNotAllowed,
    /// The request cannot be applied in the resource's current state.
    Conflict,
    /// An event is over 32 KB or a batch over 4 MB.
    PayloadTooLarge,
    /// The body is not JSON.
    UnsupportedMediaType,
    /// Too many requests from this key or address; `Retry-After` says when to try again.
    RateLimited,
    /// The database is unreachable or overloaded; retry later.
    Unavailable,
    /// A bug on our side; the cause is in the server log.
    Internal,
}

impl ErrorCode {
    fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidEvent
            | ErrorCode::InvalidSurvey
            | ErrorCode::InvalidResponse
            | ErrorCode::MalformedJson
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidSettings
            | ErrorCode::InvalidConsent
            | ErrorCode::InvalidFeedback
            | ErrorCode::InvalidTaxonomy
            | ErrorCode::InvalidJourney
            | ErrorCode::InvalidUser
            | ErrorCode::InvalidCase => StatusCode::BAD_REQUEST,
            ErrorCode::MissingApiKey | ErrorCode::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// One problem with one field, of one event when `index` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    pub problem: String,
}

impl From<FieldProblem> for ErrorDetail {
    fn from(problem: FieldProblem) -> ErrorDetail {
        ErrorDetail { index: problem.index, field: problem.field, problem: problem.problem }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorPayload,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorPayload {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), details: Vec::new() }
    }

    pub fn with_details(mut self, details: Vec<ErrorDetail>) -> ApiError {
        self.details = details;
        self
    }

    pub fn invalid_parameter(field: &str, problem: impl Into<String>) -> ApiError {
        let problem = problem.into();
        ApiError::new(ErrorCode::InvalidParameter, format!("invalid `{field}`: {problem}"))
            .with_details(vec![ErrorDetail { index: None, field: field.to_owned(), problem }])
    }

    /// A bug on our side: `cause` goes to the log, the client gets the stable `internal` error.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(cause = %cause, "internal error");
        ApiError::new(ErrorCode::Internal, "internal error; the cause is in the server log")
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, what)
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

/// The message, then each field's problem on a line of its own: how the CLI shows an error the
/// services return.
impl std::fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)?;
        for detail in &self.details {
            write!(formatter, "\n  {}: {}", detail.field, detail.problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// "1 problem", "3 problems": how rejection messages count what they found.
pub fn problems_phrase(count: usize) -> String {
    if count == 1 { "1 problem".to_owned() } else { format!("{count} problems") }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(cause = %cause, "database unavailable");
                ApiError::new(ErrorCode::Unavailable, "the database is unavailable; retry shortly")
            }
            StoreError::Internal(cause) | StoreError::UnsupportedUrl(cause) => {
                ApiError::internal(format!("database error: {cause}"))
            }
            wrong @ StoreError::WrongKeys { .. } => ApiError::internal(wrong.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody { error: ErrorPayload { code: self.code, message: self.message, details: self.details } };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = HeaderValue::from_static("Bearer realm=\"rapport\", Basic realm=\"rapport\"");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of an oversized body is not read: tell the client not to reuse the
            // connection, or its next request would fail on a half-read stream.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
