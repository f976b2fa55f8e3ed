//! Query parameters several endpoints share.

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
