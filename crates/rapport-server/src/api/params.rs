//! Query parameters several endpoints share.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;

const DAY_MS: i64 = 86_400_000;

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

/// `after`: a sequence number to read on from (0, the start, when absent).
pub fn after(text: Option<&str>) -> Result<i64, ApiError> {
    match text {
        None => Ok(0),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::invalid_parameter("after", format!("`{text}` is not a sequence number"))),
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

/// A time parameter: RFC 3339, or a UTC day `YYYY-MM-DD` (its start; for an end, the next day's
/// start, so `to=2026-11-23` includes that day).
pub fn time_parameter(name: &str, value: Option<&String>, end: bool) -> Result<Option<i64>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    if let Ok(time) = OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(Some(rapport_core::resolution::millis(time)));
    }
    match time::Date::parse(value, time::macros::format_description!("[year]-[month]-[day]")) {
        Ok(date) => {
            let start = rapport_core::resolution::millis(date.midnight().assume_utc());
            Ok(Some(if end { start + DAY_MS } else { start }))
        }
        Err(_) => Err(ApiError::invalid_parameter(
            name,
            format!("`{value}` is neither an RFC 3339 date-time nor a YYYY-MM-DD day"),
        )),
    }
}

/// `from..to`, by default the `days` days up to now.
pub fn range(parameters: &BTreeMap<String, String>, days: i64) -> Result<(i64, i64), ApiError> {
    let to = time_parameter("to", parameters.get("to"), true)?.unwrap_or_else(rapport_store::now_ms);
    let from = time_parameter("from", parameters.get("from"), false)?.unwrap_or(to - days * DAY_MS);
    if from >= to {
        return Err(ApiError::invalid_parameter("from", "must be before `to`"));
    }
    Ok((from, to))
}
