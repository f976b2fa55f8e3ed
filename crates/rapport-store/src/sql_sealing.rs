// The sealing SQL both backends share (`include!`d like `sql_backend.rs`): the identity vault,
// the keyring's fingerprint, and the pass that seals every personal value under the current data
// key (rotation, and databases written before sealing). See `sealing.rs`.

use rapport_core::sealing::{self as seal, Fields, Keyring};

use crate::sealing::{ADDRESS, IDENTITY_KEY, IDENTITY_VALUE, Sealing};

/// Rows per transaction of the sealing pass.
const RESEAL_BATCH: i64 = 500;

/// Every column outside `identities` that holds identity keys (blinded when they name a person).
const KEY_COLUMNS: [(&str, &str); 6] = [
    ("survey_responses", "identity_key"),
    ("invitations", "identity_key"),
    ("feedback", "identity_key"),
    ("cases", "identity_key"),
    ("consents", "identity_key"),
    ("merges", "via_identity"),
];

/// The SQL condition: `column` holds a key that names a person and is not blinded yet.
fn plain_person_key(column: &str) -> String {
    format!("({column} LIKE 'email:%' OR {column} LIKE 'phone:%' OR {column} LIKE 'social:%:%')")
}

/// The traits whose values are sealed, as SQL compares them (`is_sealed_trait` folds case, `_`
/// and `-`).
const SEALED_TRAIT_CONDITION: &str = "lower(replace(replace(t.trait_key, '_', ''), '-', '')) IN \
     ('email', 'phone', 'emailaddress', 'phonenumber', 'mobile', 'name', 'firstname', 'lastname', 'fullname')";

impl SqlBackend {
    pub async fn vault_put(&self, workspace: &WorkspaceId, rows: &[(String, String)]) -> Result<(), sqlx::Error> {
        for chunk in cached_chunks(rows) {
            let mut query =
                QueryBuilder::<Db>::new("INSERT INTO identity_vault (workspace_id, blind_key, sealed_key) ");
            query.push_values(chunk, |mut row, (blind, sealed)| {
                row.push_bind(workspace.as_str().to_owned()).push_bind(blind.clone()).push_bind(sealed.clone());
            });
            query.push(" ON CONFLICT (workspace_id, blind_key) DO NOTHING");
            query.build().execute(&self.write_pool).await?;
        }
        Ok(())
    }

    pub async fn vault_get(
        &self,
        workspace: &WorkspaceId,
        blinds: Vec<String>,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        let mut query =
            QueryBuilder::<Db>::new("SELECT blind_key, sealed_key FROM identity_vault WHERE workspace_id = ");
        query.push_bind(workspace.as_str()).push(" AND ");
        push_in_list(&mut query, "blind_key", blinds);
        query.build_query_as().fetch_all(&self.pool).await
    }

    pub async fn keyring_fingerprint(&self) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT fingerprint FROM keyring_fingerprint WHERE id = 1").fetch_optional(&self.pool).await
    }

    pub async fn set_keyring_fingerprint(&self, fingerprint: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO keyring_fingerprint (id, fingerprint, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(fingerprint)
        .bind(now_ms())
        .execute(&self.write_pool)
        .await?;
        Ok(())
    }

    /// Seals what `keys` would seal differently: values not sealed, or sealed under another data
    /// key, and identity keys not blinded. Calls `progress` with each table and its rows changed.
    pub async fn reseal(
        &self,
        keys: &Keyring,
        progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> Result<(), sqlx::Error> {
        progress("identities", self.reseal_identities(keys).await?);
        for (table, column) in KEY_COLUMNS {
            progress(table, self.blind_key_column(keys, table, column).await?);
        }
        progress("identity_vault", self.reseal_vault(keys).await?);
        progress("customer_traits", self.reseal_traits(keys).await?);
        progress("invitations (addresses)", self.reseal_addresses(keys).await?);
        progress("events", self.reseal_events(keys).await?);
        Ok(())
    }

    async fn reseal_identities(&self, keys: &Keyring) -> Result<u64, sqlx::Error> {
        let mut changed = 0;
        let mut after = (String::new(), String::new());
        loop {
            let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                "SELECT workspace_id, identity_key, kind, value FROM identities \
                 WHERE (workspace_id, identity_key) > ($1, $2) AND (kind IN ('email', 'phone') OR kind LIKE 'social:%') \
                 ORDER BY workspace_id, identity_key LIMIT $3",
            )
            .bind(&after.0)
            .bind(&after.1)
            .bind(RESEAL_BATCH)
            .fetch_all(&self.pool)
            .await?;
            let Some((workspace, key, _, _)) = rows.last() else { break };
            after = (workspace.clone(), key.clone());
            let mut tx = begin_write(&self.write_pool).await?;
            for (workspace, key, kind, value) in rows {
                let sealing = Sealing { keys, workspace: &workspace };
                let plain_value = sealing.open(IDENTITY_VALUE, &value).map_err(store_to_sqlx)?;
                let blind = if seal::is_blind_key(&key) { key.clone() } else { sealing.blind(&key) };
                if blind != key {
                    // Written before sealing: blind the key here and wherever else it is kept.
                    let plain_key = format!("{kind}:{plain_value}");
                    for (table, column) in KEY_COLUMNS {
                        rename_key(&mut tx, &workspace, table, column, &plain_key, &blind).await?;
                    }
                    vault_insert(&mut tx, &workspace, &blind, &sealing.seal(IDENTITY_KEY, &plain_key)).await?;
                }
                if blind == key && !keys.needs_sealing(&value) {
                    continue;
                }
                sqlx::query(
                    "UPDATE identities SET identity_key = $1, value = $2 WHERE workspace_id = $3 AND identity_key = $4",
                )
                .bind(&blind)
                .bind(sealing.seal(IDENTITY_VALUE, &plain_value))
                .bind(&workspace)
                .bind(&key)
                .execute(&mut *tx)
                .await?;
                changed += 1;
            }
            tx.commit().await?;
        }
        Ok(changed)
    }

    /// Blinds the keys of `table.column` not blinded yet (a person no identity row holds).
    async fn blind_key_column(&self, keys: &Keyring, table: &str, column: &str) -> Result<u64, sqlx::Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT workspace_id, {column} FROM {table} WHERE {}",
            plain_person_key(column)
        )))
        .fetch_all(&self.pool)
        .await?;
        let mut changed = 0;
        for chunk in rows.chunks(RESEAL_BATCH as usize) {
            let mut tx = begin_write(&self.write_pool).await?;
            for (workspace, key) in chunk {
                let sealing = Sealing { keys, workspace };
                let blind = sealing.blind(key);
                changed += rename_key(&mut tx, workspace, table, column, key, &blind).await?;
                vault_insert(&mut tx, workspace, &blind, &sealing.seal(IDENTITY_KEY, key)).await?;
            }
            tx.commit().await?;
        }
        Ok(changed)
    }

    async fn reseal_vault(&self, keys: &Keyring) -> Result<u64, sqlx::Error> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT workspace_id, blind_key, sealed_key FROM identity_vault")
                .fetch_all(&self.pool)
                .await?;
        let stale: Vec<_> = rows.into_iter().filter(|(_, _, sealed)| keys.needs_sealing(sealed)).collect();
        for chunk in stale.chunks(RESEAL_BATCH as usize) {
            let mut tx = begin_write(&self.write_pool).await?;
            for (workspace, blind, sealed) in chunk {
                let sealing = Sealing { keys, workspace };
                let plain = sealing.open(IDENTITY_KEY, sealed).map_err(store_to_sqlx)?;
                sqlx::query("UPDATE identity_vault SET sealed_key = $1 WHERE workspace_id = $2 AND blind_key = $3")
                    .bind(sealing.seal(IDENTITY_KEY, &plain))
                    .bind(workspace)
                    .bind(blind)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(stale.len() as u64)
    }

    async fn reseal_traits(&self, keys: &Keyring) -> Result<u64, sqlx::Error> {
        let rows: Vec<(String, String, String, Json<Value>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT c.workspace_id, t.customer_id, t.trait_key, t.value FROM customer_traits t \
             JOIN customers c ON c.id = t.customer_id WHERE {SEALED_TRAIT_CONDITION}"
        )))
        .fetch_all(&self.pool)
        .await?;
        let stale: Vec<_> = rows
            .into_iter()
            .filter(|(_, _, _, Json(value))| match value {
                Value::Null => false,
                Value::String(text) => keys.needs_sealing(text),
                _ => true,
            })
            .collect();
        for chunk in stale.chunks(RESEAL_BATCH as usize) {
            let mut tx = begin_write(&self.write_pool).await?;
            for (workspace, customer, key, Json(value)) in chunk {
                let sealing = Sealing { keys, workspace };
                let plain = sealing.open_trait(value).map_err(store_to_sqlx)?;
                sqlx::query("UPDATE customer_traits SET value = $1 WHERE customer_id = $2 AND trait_key = $3")
                    .bind(Json(sealing.trait_value(key, &plain)))
                    .bind(customer)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(stale.len() as u64)
    }

    async fn reseal_addresses(&self, keys: &Keyring) -> Result<u64, sqlx::Error> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT workspace_id, id, address FROM invitations WHERE address IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        let stale: Vec<_> = rows.into_iter().filter(|(_, _, address)| keys.needs_sealing(address)).collect();
        for chunk in stale.chunks(RESEAL_BATCH as usize) {
            let mut tx = begin_write(&self.write_pool).await?;
            for (workspace, id, address) in chunk {
                let sealing = Sealing { keys, workspace };
                let plain = sealing.open(ADDRESS, address).map_err(store_to_sqlx)?;
                sqlx::query("UPDATE invitations SET address = $1 WHERE id = $2")
                    .bind(sealing.address(&plain))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Ok(stale.len() as u64)
    }

    async fn reseal_events(&self, keys: &Keyring) -> Result<u64, sqlx::Error> {
        let mut changed = 0;
        let mut after = 0_i64;
        let documents =
            [("properties", Fields::Properties), ("traits", Fields::Traits), ("context", Fields::Properties)];
        loop {
            let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT seq, workspace_id, {}, {}, {} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                json_text("properties"),
                json_text("traits"),
                json_text("context"),
            )))
            .bind(after)
            .bind(RESEAL_BATCH * 4)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let mut updates = Vec::new();
            for (seq, workspace, properties, traits, context) in rows {
                let mut texts = [properties, traits, context];
                let mut touched = false;
                for (text, (_, fields)) in texts.iter_mut().zip(documents) {
                    let Ok(Value::Object(mut document)) = serde_json::from_str::<Value>(text) else { continue };
                    let stale_seal = text.contains(seal::SEALED_PREFIX) && text_has_stale_seal(keys, text);
                    if !stale_seal && !seal::has_unsealed_fields(&document, fields) {
                        continue;
                    }
                    let sealed = keys
                        .seal_document(&workspace, &mut document, fields, &mut crate::sealing::nonce)
                        .map_err(|error| store_to_sqlx(crate::StoreError::Internal(error.to_string())))?;
                    if sealed > 0 {
                        *text = Value::Object(document).to_string();
                        touched = true;
                    }
                }
                if touched {
                    updates.push((seq, texts));
                }
            }
            if updates.is_empty() {
                continue;
            }
            let mut tx = begin_write(&self.write_pool).await?;
            for (seq, [properties, traits, context]) in &updates {
                let set = |column: &str, position: usize| format!("{column} = {}", json_param(position));
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE events SET {}, {}, {} WHERE seq = $4",
                    set("properties", 1),
                    set("traits", 2),
                    set("context", 3)
                )))
                .bind(properties)
                .bind(traits)
                .bind(context)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            changed += updates.len() as u64;
        }
        Ok(changed)
    }
}

/// Whether a document's text holds a value sealed under a data key other than the current one.
fn text_has_stale_seal(keys: &Keyring, text: &str) -> bool {
    text.match_indices(seal::SEALED_PREFIX).any(|(at, _)| {
        let rest = &text[at + seal::SEALED_PREFIX.len()..];
        rest.split_once(':').is_some_and(|(id, _)| id != keys.current())
    })
}

async fn rename_key(
    tx: &mut Transaction<'static, Db>,
    workspace: &str,
    table: &str,
    column: &str,
    from: &str,
    to: &str,
) -> Result<u64, sqlx::Error> {
    // A merge's explanation names the identity too.
    let explanation = if table == "merges" { ", explanation = REPLACE(explanation, $3, $1)" } else { "" };
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET {column} = $1{explanation} WHERE workspace_id = $2 AND {column} = $3"
    )))
    .bind(to)
    .bind(workspace)
    .bind(from)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

async fn vault_insert(
    tx: &mut Transaction<'static, Db>,
    workspace: &str,
    blind: &str,
    sealed: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identity_vault (workspace_id, blind_key, sealed_key) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id, blind_key) DO NOTHING",
    )
    .bind(workspace)
    .bind(blind)
    .bind(sealed)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn store_to_sqlx(error: crate::StoreError) -> sqlx::Error {
    sqlx::Error::Protocol(error.to_string())
}
