//! The audit log as the rest of the server writes and reads it: who (the caller's actor) did what
//! to what. Entries are appended after the change they record has committed; an append that
//! fails is logged as an error and counted (`rapport_audit_append_failures_total`), never
//! silently dropped, and does not undo the change (SECURITY.md says so).

use rapport_core::audit::{self, ChainedEntry};
use rapport_core::ids::WorkspaceId;
use rapport_store::Store;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::services::rfc3339;

/// How many entries one read of the log returns at most.
pub const PAGE_LIMIT: usize = 1_000;

/// Records that `actor` did `action` to `target` in `workspace`.
pub async fn record_as(store: &Store, workspace: &WorkspaceId, actor: &str, action: &str, target: &str, detail: Value) {
    let detail = detail.to_string();
    let appended = store.append_audit(workspace, actor, action, target, &detail, rapport_store::now_ms()).await;
    if let Err(error) = appended {
        metrics::counter!("rapport_audit_append_failures_total").increment(1);
        tracing::error!(%error, workspace = %workspace.as_str(), actor, action, target, "writing an audit entry failed");
    }
}

/// Records that the caller did `action` to `target`.
pub async fn record(store: &Store, caller: &Caller, action: &str, target: &str, detail: Value) {
    record_as(store, &caller.workspace, &caller.actor, action, target, detail).await;
}

fn entry_json(chained: &ChainedEntry) -> Value {
    let entry = &chained.entry;
    json!({
        "seq": entry.seq,
        "at": rfc3339(entry.at_ms),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": serde_json::from_str::<Value>(&entry.detail).unwrap_or(Value::String(entry.detail.clone())),
        "hash": chained.hash,
    })
}

/// Entries after `after`, oldest first: `{"data": [...], "next": seq|null}`.
pub async fn entries(store: &Store, workspace: &WorkspaceId, after: i64, limit: usize) -> Result<Value, ApiError> {
    let limit = limit.clamp(1, PAGE_LIMIT);
    let page = store.audit_entries(workspace, after, limit as i64).await?;
    let next = (page.len() == limit).then(|| page.last().map(|chained| chained.entry.seq)).flatten();
    Ok(json!({"data": page.iter().map(entry_json).collect::<Vec<_>>(), "next": next}))
}

/// Walks the whole chain page by page: `{"intact": true, "entries": n, "head": hash}`, or
/// `{"intact": false, "entries": n verified before the break, "broken": {"seq", "problem"}}`.
pub async fn verify(store: &Store, workspace: &WorkspaceId) -> Result<Value, ApiError> {
    let mut verifier = audit::Verifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_entries(workspace, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.entry.seq;
        for chained in &page {
            if let Err(broken) = verifier.push(chained) {
                return Ok(json!({
                    "intact": false,
                    "entries": verifier.entries(),
                    "broken": {"seq": broken.seq, "problem": broken.problem},
                }));
            }
        }
    }
    let verified = verifier.finish();
    Ok(json!({"intact": true, "entries": verified.entries, "head": verified.head}))
}
