//! Privacy as the API, the dashboard, ingestion and the daily jobs use it: consent statements and
//! reports, the data-subject export and erasure, and retention (SECURITY.md, "Privacy").

use rapport_core::event::Event;
use rapport_core::identity::Identity;
use rapport_core::ids::WorkspaceId;
use rapport_core::privacy::{self, ConsentChoice, Purpose, RetentionRules, StatedConsent};
use rapport_store::Store;
use rapport_store::privacy_records::{DataSubject, RowCounts};
use rapport_text::erasure::Subject;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorCode, ErrorDetail};
use crate::services::rfc3339;

/// What identified exports show instead of a respondent who refused analytics.
pub const WITHHELD: &str = "withheld";

/// The person a request names: `{"identity": "email:jane@example.com"}` (any identity type).
pub fn identity_field(body: &Value) -> Result<Identity, ApiError> {
    let invalid = |problem: String| {
        ApiError::new(ErrorCode::InvalidParameter, format!("identity: {problem}")).with_details(vec![ErrorDetail {
            index: None,
            field: "identity".to_owned(),
            problem,
        }])
    };
    match body.get("identity") {
        Some(Value::String(typed)) => Identity::parse_typed(typed)
            .map_err(|error| invalid(format!("{error} (expected TYPE:VALUE, e.g. email:jane@example.com)"))),
        _ => Err(invalid("required: the person's identity as TYPE:VALUE, e.g. email:jane@example.com".to_owned())),
    }
}

/// Stamps statements with where and when they were made.
pub fn choices(stated: &[StatedConsent], source: &str, at_ms: i64) -> Vec<ConsentChoice> {
    stated
        .iter()
        .map(|stated| ConsentChoice {
            purpose: stated.purpose,
            channel: stated.channel.clone(),
            granted: stated.granted,
            source: source.to_owned(),
            at_ms,
        })
        .collect()
}

/// The consent statements Segment `context.consent` objects carry in a batch, by the identity
/// each event belongs to (recorded once the batch is stored).
pub fn segment_consents(events: &[Event]) -> Vec<(String, Vec<ConsentChoice>)> {
    events
        .iter()
        .filter_map(|event| {
            let stated = privacy::from_segment(&event.context);
            let at_ms = (event.timestamp.unix_timestamp_nanos() / 1_000_000) as i64;
            (!stated.is_empty()).then(|| (event.primary_identity().key(), choices(&stated, "segment", at_ms)))
        })
        .collect()
}

/// Records what a batch's `context.consent` objects said.
pub async fn record_segment_consents(
    store: &Store,
    workspace: &WorkspaceId,
    consents: Vec<(String, Vec<ConsentChoice>)>,
) -> Result<(), ApiError> {
    for (identity_key, choices) in consents {
        store.record_consents(workspace, &identity_key, &choices).await?;
    }
    Ok(())
}

/// A person's consent: every statement, and each purpose's answer (`privacy::summary`).
pub async fn report(store: &Store, workspace: &WorkspaceId, identity_key: &str) -> Result<Value, ApiError> {
    let records = store.consents_of(workspace, identity_key).await?;
    let choices: Vec<ConsentChoice> = records.iter().map(|record| record.choice.clone()).collect();
    let statements: Vec<Value> = records
        .iter()
        .map(|record| {
            json!({
                "identity": record.identity_key,
                "purpose": record.choice.purpose.as_str(),
                "channel": record.choice.channel,
                "granted": record.choice.granted,
                "source": record.choice.source,
                "at": rfc3339(record.choice.at_ms),
            })
        })
        .collect();
    Ok(json!({"purposes": privacy::summary(&choices), "statements": statements}))
}

/// Whether the person `identity_key` names allows `purpose` on `channel`.
pub async fn allows(
    store: &Store,
    workspace: &WorkspaceId,
    identity_key: &str,
    purpose: Purpose,
    channel: &str,
) -> Result<bool, ApiError> {
    let records = store.consents_of(workspace, identity_key).await?;
    let choices: Vec<ConsentChoice> = records.into_iter().map(|record| record.choice).collect();
    Ok(privacy::allows(&choices, purpose, Some(channel)))
}

/// Everything held about the person `identity` names, as one JSON document.
pub async fn export(
    store: &Store,
    workspace: &WorkspaceId,
    identity: &Identity,
    now_ms: i64,
) -> Result<(Value, DataSubject), ApiError> {
    let subject = store.data_subject(workspace, &identity.key()).await?;
    let tables = store.subject_rows(workspace, &subject).await?;
    let mut data = Map::new();
    for (table, rows) in tables {
        data.insert(table.to_owned(), Value::Array(rows));
    }
    let document = json!({
        "subject": {
            "identity": identity.key(),
            "customer": subject.customer.as_ref().map(|customer| customer.as_str()),
            "identities": subject.identity_keys,
        },
        "generated_at": rfc3339(now_ms),
        "consent": report(store, workspace, &identity.key()).await?,
        "data": data,
    });
    Ok((document, subject))
}

/// The person's e-mail addresses, phone numbers and full names, from their identities and
/// traits: what erasure takes out of others' free text.
async fn marks(store: &Store, workspace: &WorkspaceId, subject: &DataSubject) -> Result<Subject, ApiError> {
    let (mut emails, mut phones, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for key in &subject.identity_keys {
        if let Some(email) = key.strip_prefix("email:") {
            emails.push(email.to_owned());
        } else if let Some(phone) = key.strip_prefix("phone:") {
            phones.push(phone.to_owned());
        }
    }
    if let Some(customer) = &subject.customer
        && let Some(profile) = store.customer_profile(workspace, customer).await?
    {
        let text = |key: &str| {
            profile
                .traits
                .iter()
                .find(|t| t.key.eq_ignore_ascii_case(key))
                .and_then(|t| t.value.as_str().map(str::to_owned))
        };
        emails.extend(text("email"));
        phones.extend(text("phone"));
        names.extend(text("name"));
        for (first, last) in [("first_name", "last_name"), ("firstName", "lastName")] {
            if let (Some(first), Some(last)) = (text(first), text(last)) {
                names.push(format!("{first} {last}"));
            }
        }
    }
    Ok(Subject::new(&emails, &phones, &names))
}

/// Erases the person `identity` names everywhere, and from others' free text.
pub async fn erase(
    store: &Store,
    workspace: &WorkspaceId,
    identity: &Identity,
) -> Result<(RowCounts, DataSubject), ApiError> {
    let subject = store.data_subject(workspace, &identity.key()).await?;
    let marks = marks(store, workspace, &subject).await?;
    let counts = store.erase_subject(workspace, &subject, marks.hints(), &|text: &str| marks.erase_from(text)).await?;
    Ok((counts, subject))
}

/// What an erasure or retention run removed (`tables`) and rewrote in others' rows
/// (`rewritten`), as the API and the audit log show it: counts by table, never the data.
pub fn counts_json(counts: &RowCounts) -> Value {
    let by_table = |counts: &[(&'static str, u64)]| -> Map<String, Value> {
        counts.iter().filter(|(_, rows)| *rows > 0).map(|(table, rows)| ((*table).to_owned(), json!(rows))).collect()
    };
    json!({"rows": counts.total(), "tables": by_table(&counts.tables), "rewritten": by_table(&counts.rewritten)})
}

/// The workspace's retention rules (none until saved: everything is kept).
pub async fn retention(store: &Store, workspace: &WorkspaceId) -> Result<RetentionRules, ApiError> {
    let saved = store.privacy_settings(workspace).await?;
    Ok(saved.and_then(|settings| privacy::parse_retention(&settings).ok()).unwrap_or_default())
}

/// Applies the workspace's retention rules at `now_ms`.
pub async fn enforce_retention(store: &Store, workspace: &WorkspaceId, now_ms: i64) -> Result<RowCounts, ApiError> {
    let rules = retention(store, workspace).await?;
    let cutoffs: Vec<(&'static str, i64)> = privacy::RETENTION_KINDS
        .iter()
        .filter_map(|kind| rules.cutoff_ms(kind, now_ms).map(|cutoff| (*kind, cutoff)))
        .collect();
    if cutoffs.is_empty() {
        return Ok(RowCounts::default());
    }
    Ok(store.enforce_retention(workspace, &cutoffs).await?)
}

/// The daily run: every workspace's retention rules; each run with removals is audited.
pub async fn enforce_retention_all(store: &Store, now_ms: i64) -> Result<u64, ApiError> {
    let mut removed = 0;
    for workspace in store.workspace_ids().await? {
        let counts = enforce_retention(store, &workspace, now_ms).await?;
        if counts.total() > 0 {
            crate::services::audit::record_as(
                store,
                &workspace,
                "system",
                "privacy.retention",
                "",
                counts_json(&counts),
            )
            .await;
        }
        removed += counts.total();
    }
    Ok(removed)
}
