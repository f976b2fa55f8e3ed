//! Query parameters several endpoints share.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// `limit`: absent means `default`; otherwise a whole number from 1 to `max`.
pub fn limit(text: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match text {
        None => Ok(default),
        Some(text) => {
            text.parse::<usize>().ok().filter(|limit| (1..=max).contains(limit)).ok_or_else(|| {
                ApiError::invalid_parameter("limit", format!("`{text}` is not a number from 1 to {max}"))
            })
        }
    }
}

/// `cursor`: absent or empty means the first page; otherwise what `decode` makes of it.
pub fn cursor<T>(text: Option<&str>, decode: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, ApiError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => decode(text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter("cursor", "not a cursor this API returned")),
    }
}

/// Rejects a parameter not in `allowed`: a misspelt filter is an error, not silently ignored.
pub fn only(parameters: &BTreeMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match parameters.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(unknown) => {
            Err(ApiError::invalid_parameter(unknown, format!("unknown parameter: expected {}", allowed.join(", "))))
        }
        None => Ok(()),
    }
}
