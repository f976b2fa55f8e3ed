//! What handlers call: request-shaped operations over the core and the store, free of routing.

pub mod alerts;
pub mod analysis;
pub mod audit;
pub mod cases;
pub mod feedback;
pub mod hosted_survey;
pub mod import;
pub mod import_customers;
pub mod import_events;
pub mod import_feedback;
pub mod import_orders;
pub mod ingest;
pub mod invitations;
pub mod journey_map;
pub mod journeys;
pub mod json_body;
pub mod keys;
pub mod mail;
pub mod messaging;
pub mod metrics;
pub mod prediction;
pub mod privacy;
pub mod surveys;
pub mod users;
pub mod webhooks;
pub mod widget;

/// Times in responses are RFC 3339 in UTC with milliseconds.
pub fn rfc3339(millis: i64) -> String {
    let time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time.format(&format).unwrap_or_default()
}

/// A moment as people read it: `2026-05-28 17:17 UTC` (pages and refusals in words).
pub fn readable_time(millis: i64) -> String {
    readable(&rfc3339(millis))
}

/// The same from an RFC 3339 string as the API writes it.
pub fn readable(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// Every identity key (`email:jane@example.com`) the customer `id` holds, following merges: what
/// a customer's feedback and cases are filed under. 404 for an unknown customer.
pub async fn customer_identity_keys(
    store: &rapport_store::Store,
    workspace: &rapport_core::ids::WorkspaceId,
    id: &str,
) -> Result<Vec<String>, crate::error::ApiError> {
    let profile = store.customer_profile(workspace, &rapport_core::ids::CustomerId(id.to_owned())).await?;
    let profile =
        profile.ok_or_else(|| crate::error::ApiError::not_found(format!("no customer `{id}` in this workspace")))?;
    Ok(profile.identities.iter().map(|i| format!("{}:{}", i.kind, i.value)).collect())
}
