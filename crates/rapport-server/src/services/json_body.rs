//! Reading a JSON request body: media type, size limit and syntax, each with its own error.

use serde_json::Value;

use crate::error::{ApiError, ErrorCode, ErrorDetail};

/// Media types accepted as JSON. `text/plain` is what analytics.js sends with `sendBeacon`.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json") || essence == "text/plain"
}

/// The body as JSON: 415 unless it is sent as JSON, 413 over `limit` bytes, 400 if malformed.
pub fn read_json(content_type: Option<&str>, body: &[u8], limit: usize) -> Result<Value, ApiError> {
    let Some(content_type) = content_type.filter(|content_type| is_json_media_type(content_type)) else {
        let sent = content_type.map(|sent| format!(" (got `{sent}`)")).unwrap_or_default();
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("the body must be JSON sent with `Content-Type: application/json`{sent}"),
        ));
    };
    if body.len() > limit {
        return Err(too_large(limit, body.len(), Vec::new()));
    }
    serde_json::from_slice(body).map_err(|error| {
        if content_type.trim().to_ascii_lowercase().starts_with("text/plain") {
            ApiError::new(ErrorCode::UnsupportedMediaType, "the body is not JSON")
        } else {
            ApiError::new(ErrorCode::MalformedJson, format!("the body is not valid JSON: {error}"))
        }
    })
}

/// The body of a request as JSON, by its `Content-Type` header (see `read_json`).
pub fn read_json_request(headers: &axum::http::HeaderMap, body: &[u8], limit: usize) -> Result<Value, ApiError> {
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    read_json(content_type, body, limit)
}

/// 413: the body, or the events named in `details`, are over the limit.
pub fn too_large(limit: usize, size: usize, details: Vec<ErrorDetail>) -> ApiError {
    let message = if details.is_empty() {
        format!("the body is {size} bytes; the limit here is {limit}")
    } else {
        format!("{} events are over the {limit}-byte limit; nothing was stored", details.len())
    };
    ApiError::new(ErrorCode::PayloadTooLarge, message).with_details(details)
}
