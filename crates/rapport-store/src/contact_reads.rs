//! What a contact decision reads (`Store::contact_facts`), on both backends from the same SQL:
//! PostgreSQL through sqlx, SQLite through rusqlite in one blocking call on a reader connection
//! (`sqlite_reader.rs`), because a decision is six small statements and sqlx's hand-off of each
//! statement and row to the connection's thread was most of a decision's time on SQLite
//! (BENCHMARKS.md "Survey decisions").
//!
//! Parameters, by name so both drivers bind them alike: `$1` the workspace, `$2` the customer's
//! root (NULL for an identity no customer holds yet), `$3` the identity key asked about, as
//! stored (a blind index where it names a person).

use std::collections::BTreeMap;

use rapport_core::contact_policy::PastInvitation;
use rapport_core::ids::{CustomerId, WorkspaceId};
use serde_json::Value;

use crate::records::{ContactFacts, ContactSubject};

/// Every identity key of the customer `$2`, and the key asked about (which an identity the graph
/// does not know yet, such as the widget's anonymous visitor, has alone).
macro_rules! customer_keys {
    () => {
        "SELECT i.identity_key FROM customers c JOIN identities i ON i.customer_id = c.id \
         WHERE c.workspace_id = $1 AND c.root_id = $2 UNION ALL SELECT CAST($3 AS TEXT)"
    };
}

/// Here `$2` is the identity key (PostgreSQL wants every parameter up to the last one used).
const ROOT: &str = "SELECT c.root_id FROM identities i JOIN customers c ON c.id = i.customer_id \
     WHERE i.workspace_id = $1 AND i.identity_key = $2";

/// Kind and value, not the stored key: the store opens a sealed value where it is instead of
/// looking its blind index up.
const IDENTITIES: &str = "SELECT i.kind, i.value FROM customers c JOIN identities i ON i.customer_id = c.id \
     WHERE c.workspace_id = $1 AND c.root_id = $2 ORDER BY c.id, i.kind, i.value";

const TRAITS: &str = "SELECT t.trait_key, t.value, t.updated_at FROM customer_traits t \
     JOIN customers c ON c.id = t.customer_id WHERE c.workspace_id = $1 AND c.root_id = $2 \
     AND t.trait_key IN ('email', 'phone', 'unsubscribed', 'consent')";

/// Delivered invitations (sent, then perhaps answered or expired: every one with a sending
/// time) by the customer they were sent to, and by the identity they were made for when that
/// read has not found them already: an invitation to an identity no customer held yet, or to one
/// since moved to another customer. Each read is answered by its index alone (migration 0022).
/// With `customer_id IN … OR identity_key IN …` SQLite scanned every invitation of the workspace
/// (100 ms a decision at 100,000 invitations, measured).
const INVITATIONS: &str = concat!(
    "SELECT survey_id, sent_at FROM invitations WHERE workspace_id = $1 \
     AND customer_id IN (SELECT id FROM customers WHERE workspace_id = $1 AND root_id = $2) AND sent_at IS NOT NULL \
     UNION ALL SELECT survey_id, sent_at FROM invitations WHERE workspace_id = $1 AND identity_key IN (",
    customer_keys!(),
    ") AND sent_at IS NOT NULL \
     AND (customer_id IS NULL OR customer_id NOT IN (SELECT id FROM customers WHERE workspace_id = $1 AND root_id = $2))"
);

const LAST_RESPONSE: &str = concat!(
    "SELECT MAX(submitted_at) FROM survey_responses WHERE workspace_id = $1 AND identity_key IN (",
    customer_keys!(),
    ")"
);

const CONSENTS: &str = concat!(
    "SELECT purpose, channel, granted, source, updated_at FROM consents WHERE workspace_id = $1 AND identity_key IN (",
    customer_keys!(),
    ") ORDER BY updated_at, identity_key, purpose, channel"
);

type TraitRow = (String, Value, i64);
type ConsentRow = (String, String, bool, String, i64);

/// Each trait at its newest value across the customer's nodes.
fn latest_traits(rows: Vec<TraitRow>) -> serde_json::Map<String, Value> {
    let mut latest: BTreeMap<String, (i64, Value)> = BTreeMap::new();
    for (key, value, updated_at) in rows {
        if latest.get(&key).is_none_or(|(current, _)| updated_at > *current) {
            latest.insert(key, (updated_at, value));
        }
    }
    latest.into_iter().map(|(key, (_, value))| (key, value)).collect()
}

/// The facts from the rows each statement returned.
fn facts(
    root: Option<String>,
    identities: Vec<(String, String)>,
    traits: Vec<TraitRow>,
    invitations: Vec<(String, i64)>,
    last_response_ms: Option<i64>,
    consents: Vec<ConsentRow>,
) -> ContactFacts {
    let subject = root.map(|root| ContactSubject {
        root: CustomerId(root),
        identity_keys: identities.into_iter().map(|(kind, value)| format!("{kind}:{value}")).collect(),
        traits: latest_traits(traits),
    });
    let invitations = invitations
        .into_iter()
        .map(|(survey_id, sent_at_ms)| PastInvitation { survey_id, sent_at_ms, reminder: false })
        .collect();
    ContactFacts {
        subject,
        invitations,
        last_response_ms,
        consents: consents.into_iter().filter_map(crate::privacy_records::consent_choice).collect(),
    }
}

/// SQLite, on a reader connection (statements prepared once per connection and cached): the
/// facts of each identity key, in order.
pub(crate) fn sqlite(
    connection: &rusqlite::Connection,
    workspace: &WorkspaceId,
    identity_keys: &[String],
) -> rusqlite::Result<Vec<ContactFacts>> {
    // One read transaction: the statements see one snapshot, and the WAL's read lock is taken
    // once, not per statement (each is a `fcntl` call).
    let snapshot = connection.unchecked_transaction()?;
    let all = identity_keys
        .iter()
        .map(|key| sqlite_one(connection, workspace.as_str(), key))
        .collect::<rusqlite::Result<_>>()?;
    snapshot.commit()?;
    Ok(all)
}

fn sqlite_one(
    connection: &rusqlite::Connection,
    workspace: &str,
    identity_key: &str,
) -> rusqlite::Result<ContactFacts> {
    use rusqlite::OptionalExtension;
    let root: Option<String> = connection
        .prepare_cached(ROOT)?
        .query_row(rusqlite::named_params! {"$1": workspace, "$2": identity_key}, |row| row.get(0))
        .optional()?;
    let on_root = rusqlite::named_params! {"$1": workspace, "$2": root};
    let everything = rusqlite::named_params! {"$1": workspace, "$2": root, "$3": identity_key};
    let (identities, traits) = match root {
        Some(_) => {
            let identities = connection
                .prepare_cached(IDENTITIES)?
                .query_map(on_root, |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let traits = connection
                .prepare_cached(TRAITS)?
                .query_map(on_root, |row| {
                    let text: String = row.get(1)?;
                    let value = serde_json::from_str(&text).map_err(|error| {
                        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(error))
                    })?;
                    Ok((row.get(0)?, value, row.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            (identities, traits)
        }
        None => (Vec::new(), Vec::new()),
    };
    let invitations = connection
        .prepare_cached(INVITATIONS)?
        .query_map(everything, |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let last_response = connection.prepare_cached(LAST_RESPONSE)?.query_row(everything, |row| row.get(0))?;
    let consents = connection
        .prepare_cached(CONSENTS)?
        .query_map(everything, |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))?
        .collect::<Result<_, _>>()?;
    Ok(facts(root, identities, traits, invitations, last_response, consents))
}

/// PostgreSQL: the same statements through the pool.
pub(crate) async fn postgres(
    pool: &sqlx::PgPool,
    workspace: &WorkspaceId,
    identity_key: &str,
) -> Result<ContactFacts, sqlx::Error> {
    let workspace = workspace.as_str();
    let root: Option<String> = sqlx::query_scalar(ROOT).bind(workspace).bind(identity_key).fetch_optional(pool).await?;
    let (identities, traits) = match &root {
        Some(root) => {
            let identities = sqlx::query_as(IDENTITIES).bind(workspace).bind(root).fetch_all(pool).await?;
            let traits: Vec<(String, sqlx::types::Json<Value>, i64)> =
                sqlx::query_as(TRAITS).bind(workspace).bind(root).fetch_all(pool).await?;
            (identities, traits.into_iter().map(|(key, value, at)| (key, value.0, at)).collect())
        }
        None => (Vec::new(), Vec::new()),
    };
    let invitations =
        sqlx::query_as(INVITATIONS).bind(workspace).bind(&root).bind(identity_key).fetch_all(pool).await?;
    let last_response: Option<i64> =
        sqlx::query_scalar(LAST_RESPONSE).bind(workspace).bind(&root).bind(identity_key).fetch_one(pool).await?;
    let consents = sqlx::query_as(CONSENTS).bind(workspace).bind(&root).bind(identity_key).fetch_all(pool).await?;
    Ok(facts(root, identities, traits, invitations, last_response, consents))
}
