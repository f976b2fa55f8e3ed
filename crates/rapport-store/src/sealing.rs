//! Personal data sealed at the storage boundary (the cipher and the blind index are
//! `rapport_core::sealing`'s). Everything above the store sees plain identity keys, traits and
//! events; every table below holds blind indexes (`email#…`) and sealed values (`enc1:…`):
//! - writes blind the identity keys they store (`Sealing::blind`) and keep each blind index's
//!   sealed key in `identity_vault` (`Store::remember_keys`);
//! - queries blind the keys they look for;
//! - reads open what they return (`Store::reveal_keys`, `Sealing::open_*`).
//!
//! Which values are sealed: identity values of e-mail, phone and social identities; the traits
//! names, e-mail addresses and phone numbers (`is_sealed_trait`); those fields in events' traits and
//! `context.traits`, and e-mail addresses and phone numbers in their properties and context;
//! invitation addresses.

use std::collections::{BTreeSet, HashMap};

use rapport_core::event::Event;
use rapport_core::identity::Identity;
use rapport_core::ids::WorkspaceId;
use rapport_core::sealing::{self, Fields, Keyring, NONCE_LEN};
use serde_json::{Map, Value};

use crate::{Backend, Store, StoreError};

/// Associated data of a sealed identity value (`identities.value`).
pub(crate) const IDENTITY_VALUE: &str = "identity-value";
/// Associated data of a sealed identity key (`identity_vault.sealed_key`).
pub(crate) const IDENTITY_KEY: &str = "identity-key";
/// Associated data of a sealed trait value.
pub(crate) const TRAIT: &str = "trait";
/// Associated data of a sealed invitation address.
pub(crate) const ADDRESS: &str = "address";

/// A fresh random nonce.
pub(crate) fn nonce() -> [u8; NONCE_LEN] {
    rand::random()
}

/// A data key's bytes, fresh from the operating system's random source.
pub fn random_key() -> [u8; sealing::KEY_LEN] {
    rand::random()
}

/// A keyring of fresh keys.
pub fn generate_keyring() -> Keyring {
    Keyring::new(random_key(), random_key())
}

fn seal_error(error: sealing::SealError) -> StoreError {
    StoreError::Internal(format!("{error}: start Rapport with the keys this database was written with"))
}

fn json_text(map: &Map<String, Value>) -> String {
    // Serialising a map of JSON values cannot fail.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned())
}

/// How one workspace's rows are sealed and opened.
#[derive(Clone, Copy)]
pub(crate) struct Sealing<'a> {
    pub keys: &'a Keyring,
    pub workspace: &'a str,
}

/// An identity as the `identities` table holds it.
pub(crate) struct StoredIdentity {
    pub key: String,
    pub kind: String,
    pub value: String,
    /// The sealed key, for `identity_vault`, when the key is blinded.
    pub vault: Option<String>,
}

impl<'a> Sealing<'a> {
    pub fn new(keys: &'a Keyring, workspace: &'a WorkspaceId) -> Sealing<'a> {
        Sealing { keys, workspace: workspace.as_str() }
    }

    /// The key as stored.
    pub fn blind(&self, key: &str) -> String {
        self.keys.blind_key(self.workspace, key)
    }

    pub fn blind_all(&self, keys: &[String]) -> Vec<String> {
        keys.iter().map(|key| self.blind(key)).collect()
    }

    pub fn seal(&self, context: &str, text: &str) -> String {
        self.keys.seal(self.workspace, context, text, nonce())
    }

    pub fn open(&self, context: &str, text: &str) -> Result<String, StoreError> {
        self.keys.open(self.workspace, context, text).map_err(seal_error)
    }

    /// The JSON text an event document is stored as: its personal fields sealed.
    pub fn document_text(&self, document: &Map<String, Value>, fields: Fields) -> String {
        if !sealing::has_unsealed_fields(document, fields) {
            return json_text(document);
        }
        let mut sealed = document.clone();
        // Sealing fresh values cannot fail; a value sealed under a key not held would.
        match self.keys.seal_document(self.workspace, &mut sealed, fields, &mut nonce) {
            Ok(_) => json_text(&sealed),
            Err(_) => json_text(document),
        }
    }

    /// An event's properties, traits, context and other fields as stored.
    pub fn event_documents(&self, event: &Event) -> [String; 4] {
        [
            self.document_text(&event.properties, Fields::Properties),
            self.document_text(&event.traits, Fields::Traits),
            self.document_text(&event.context, Fields::Properties),
            self.document_text(&event.extra, Fields::Properties),
        ]
    }

    /// Opens a stored event document in place.
    pub fn open_document(&self, document: &mut Value, fields: Fields) -> Result<(), StoreError> {
        if let Value::Object(map) = document {
            self.keys.open_document(self.workspace, map, fields).map_err(seal_error)?;
        }
        Ok(())
    }

    /// Opens a stored event's properties, traits and context in place.
    pub fn open_event(
        &self,
        properties: &mut Value,
        traits: &mut Value,
        context: &mut Value,
    ) -> Result<(), StoreError> {
        self.open_document(properties, Fields::Properties)?;
        self.open_document(traits, Fields::Traits)?;
        self.open_document(context, Fields::Properties)
    }

    pub fn identity(&self, identity: &Identity) -> StoredIdentity {
        let key = identity.key();
        let blind = self.blind(&key);
        if blind == key {
            return StoredIdentity {
                key,
                kind: identity.kind().as_key_prefix(),
                value: identity.value().to_owned(),
                vault: None,
            };
        }
        StoredIdentity {
            kind: identity.kind().as_key_prefix(),
            value: self.seal(IDENTITY_VALUE, identity.value()),
            vault: Some(self.seal(IDENTITY_KEY, &key)),
            key: blind,
        }
    }

    /// A trait's value as stored.
    pub fn trait_value(&self, key: &str, value: &Value) -> Value {
        if sealing::is_sealed_trait(key) && !value.is_null() {
            self.keys.seal_value(self.workspace, TRAIT, value, nonce())
        } else {
            value.clone()
        }
    }

    pub fn open_trait(&self, value: &Value) -> Result<Value, StoreError> {
        self.keys.open_value(self.workspace, TRAIT, value).map_err(seal_error)
    }

    /// A merge's identity and explanation as stored: the explanation names the blind index.
    pub fn merge_texts(&self, via_identity: &str, explanation: &str) -> (String, String) {
        let blind = self.blind(via_identity);
        let explanation =
            if blind == via_identity { explanation.to_owned() } else { explanation.replace(via_identity, &blind) };
        (blind, explanation)
    }

    pub fn address(&self, address: &str) -> String {
        self.seal(ADDRESS, address)
    }

    /// Opens a row of `table` as a data-subject export reads it (every column, JSON documents
    /// parsed): sealed values opened, and the blind indexes of `shown` (stored, shown) replaced
    /// by the keys wherever they appear.
    pub fn open_row(&self, table: &str, row: &mut Value, shown: &[(String, String)]) -> Result<(), StoreError> {
        let Value::Object(columns) = row else { return Ok(()) };
        let text_of = |value: &Value| value.as_str().map(str::to_owned);
        match table {
            "identities" => {
                if let Some(value) = columns.get("value").and_then(text_of) {
                    columns.insert("value".into(), Value::String(self.open(IDENTITY_VALUE, &value)?));
                }
            }
            "identity_vault" => {
                if let Some(value) = columns.get("sealed_key").and_then(text_of) {
                    columns.insert("sealed_key".into(), Value::String(self.open(IDENTITY_KEY, &value)?));
                }
            }
            "invitations" => {
                if let Some(value) = columns.get("address").and_then(text_of) {
                    columns.insert("address".into(), Value::String(self.open(ADDRESS, &value)?));
                }
            }
            "customer_traits" => {
                if let Some(value) = columns.get_mut("value") {
                    // SQLite hands the JSON text of a sealed string back as text.
                    if let Some(text) = value.as_str().filter(|text| text.starts_with('"'))
                        && let Ok(parsed) = serde_json::from_str::<Value>(text)
                    {
                        *value = parsed;
                    }
                    *value = self.open_trait(value)?;
                }
            }
            "events" => {
                for (column, fields) in [
                    ("properties", Fields::Properties),
                    ("traits", Fields::Traits),
                    ("context", Fields::Properties),
                    ("extra", Fields::Properties),
                ] {
                    if let Some(document) = columns.get_mut(column) {
                        self.open_document(document, fields)?;
                    }
                }
            }
            _ => {}
        }
        replace_in_json(row, shown);
        Ok(())
    }
}

impl Store {
    /// The installation's keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.inner.keys
    }

    pub(crate) fn sealing<'a>(&'a self, workspace: &'a WorkspaceId) -> Sealing<'a> {
        Sealing::new(&self.inner.keys, workspace)
    }

    /// Keeps the sealed key of each blind index among `keys` (so reads can show it), before the
    /// rows that name them are written.
    pub(crate) async fn remember_keys<'k>(
        &self,
        workspace: &WorkspaceId,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), StoreError> {
        let sealing = self.sealing(workspace);
        let wanted: Vec<(String, &str)> = keys
            .into_iter()
            .filter(|key| sealing::is_sensitive_key(key))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|key| (sealing.blind(key), key))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        // Most are known already: a read on the pool spares the single writer (SQLite's) a turn.
        let blinds: Vec<String> = wanted.iter().map(|(blind, _)| blind.clone()).collect();
        let known: BTreeSet<String> = dispatch!(self.backend(), sql => sql.vault_get(workspace, blinds).await)?
            .into_iter()
            .map(|(b, _)| b)
            .collect();
        let rows: Vec<(String, String)> = wanted
            .into_iter()
            .filter(|(blind, _)| !known.contains(blind))
            .map(|(blind, key)| (blind, sealing.seal(IDENTITY_KEY, key)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        Ok(dispatch!(self.backend(), sql => sql.vault_put(workspace, &rows).await)?)
    }

    /// Replaces each blind index among `keys` with the key it stands for. An index whose key is
    /// gone (erased) is left as it is.
    pub(crate) async fn reveal_keys<'k>(
        &self,
        workspace: &WorkspaceId,
        keys: impl IntoIterator<Item = &'k mut String>,
    ) -> Result<(), StoreError> {
        let mut keys: Vec<&mut String> = keys.into_iter().filter(|key| sealing::is_blind_key(key)).collect();
        if keys.is_empty() {
            return Ok(());
        }
        let wanted: Vec<String> = keys.iter().map(|key| (**key).clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let rows = dispatch!(self.backend(), sql => sql.vault_get(workspace, wanted).await)?;
        let sealing = self.sealing(workspace);
        let mut plain: HashMap<String, String> = HashMap::with_capacity(rows.len());
        for (blind, sealed) in rows {
            plain.insert(blind, sealing.open(IDENTITY_KEY, &sealed)?);
        }
        for key in &mut keys {
            if let Some(found) = plain.get(key.as_str()) {
                **key = found.clone();
            }
        }
        Ok(())
    }

    /// Refuses a database written with another index key; a database without a fingerprint
    /// (new, or written before sealing) takes these keys' and has its personal data sealed.
    pub(crate) async fn check_keys(&self) -> Result<(), StoreError> {
        let given = self.inner.keys.fingerprint();
        let stored = dispatch!(self.backend(), sql => sql.keyring_fingerprint().await)?;
        let stored = match stored {
            Some(stored) => stored,
            None => {
                dispatch!(self.backend(), sql => sql.set_keyring_fingerprint(&given).await)?;
                // Two servers starting on a new database at once: the first one's keys win.
                let stored = dispatch!(self.backend(), sql => sql.keyring_fingerprint().await)?.unwrap_or_default();
                if stored == given {
                    self.reseal(&mut |_, _| {}).await?;
                }
                stored
            }
        };
        if stored != given {
            return Err(StoreError::WrongKeys { stored, given });
        }
        Ok(())
    }

    /// Seals every personal value under the current data key and blinds every identity key not
    /// blinded yet (after a rotation, or for data written before sealing); `progress` hears each
    /// table and how many of its rows changed. Safe to repeat.
    pub async fn reseal(&self, progress: &mut (dyn FnMut(&str, u64) + Send)) -> Result<(), StoreError> {
        let keys = self.inner.keys.clone();
        Ok(dispatch!(self.backend(), sql => sql.reseal(&keys, progress).await)?)
    }

    /// Invitations as callers see them: identity keys shown, addresses opened (they may be of
    /// several workspaces).
    pub(crate) async fn reveal_invitations(
        &self,
        mut invitations: Vec<crate::records::InvitationRecord>,
    ) -> Result<Vec<crate::records::InvitationRecord>, StoreError> {
        let workspaces: BTreeSet<WorkspaceId> = invitations.iter().map(|i| i.workspace_id.clone()).collect();
        for workspace in workspaces {
            let mut own: Vec<&mut crate::records::InvitationRecord> =
                invitations.iter_mut().filter(|i| i.workspace_id == workspace).collect();
            let mut keys: Vec<&mut String> = own.iter_mut().map(|i| &mut i.identity_key).collect();
            self.reveal_keys(&workspace, keys.drain(..)).await?;
            let sealing = self.sealing(&workspace);
            for invitation in own {
                if let Some(address) = &invitation.address {
                    invitation.address = Some(sealing.open(ADDRESS, address)?);
                }
            }
        }
        Ok(invitations)
    }

    /// The keys as stored, for a query.
    pub(crate) fn blind_keys(&self, workspace: &WorkspaceId, keys: &[String]) -> Vec<String> {
        self.sealing(workspace).blind_all(keys)
    }
}

/// A record that names people by identity key: the facade blinds it before it is written and
/// reveals it after it is read.
pub(crate) trait NamesPeople {
    /// The identity keys it holds.
    fn keys_mut(&mut self) -> Vec<&mut String>;
    /// Text that may quote those keys (a case's title, a merge's explanation).
    fn texts_mut(&mut self) -> Vec<&mut String> {
        Vec::new()
    }
}

impl Store {
    /// Blinds the identity keys of `records` (and where their texts quote them), keeping each
    /// blind index's sealed key first.
    pub(crate) async fn blind_records<R: NamesPeople>(
        &self,
        workspace: &WorkspaceId,
        records: &mut [R],
    ) -> Result<(), StoreError> {
        let mut keys: Vec<String> = Vec::new();
        for record in records.iter_mut() {
            keys.extend(record.keys_mut().into_iter().map(|key| key.clone()));
        }
        self.remember_keys(workspace, keys.iter().map(String::as_str)).await?;
        let sealing = self.sealing(workspace);
        for record in records.iter_mut() {
            let mut pairs: Vec<(String, String)> = Vec::new();
            for key in record.keys_mut() {
                let blind = sealing.blind(key);
                if blind != *key {
                    pairs.push((std::mem::replace(key, blind.clone()), blind));
                }
            }
            replace_all(record.texts_mut(), &pairs);
        }
        Ok(())
    }

    /// Shows the identity keys of `records` (and where their texts quote them) again.
    pub(crate) async fn reveal_records<R: NamesPeople>(
        &self,
        workspace: &WorkspaceId,
        records: &mut [R],
    ) -> Result<(), StoreError> {
        let mut blinds: Vec<String> = Vec::new();
        for record in records.iter_mut() {
            blinds
                .extend(record.keys_mut().into_iter().filter(|key| sealing::is_blind_key(key)).map(|key| key.clone()));
        }
        if blinds.is_empty() {
            return Ok(());
        }
        let found: HashMap<String, String> = self.revealed_pairs(workspace, blinds).await?.into_iter().collect();
        for record in records.iter_mut() {
            let mut pairs: Vec<(String, String)> = Vec::new();
            for key in record.keys_mut() {
                if let Some(shown) = found.get(key.as_str()) {
                    pairs.push((std::mem::replace(key, shown.clone()), shown.clone()));
                }
            }
            replace_all(record.texts_mut(), &pairs);
        }
        Ok(())
    }

    /// Shows every blind index found in a string anywhere in `document` (a domain event's
    /// payload: an identity, a case's title).
    pub(crate) async fn reveal_json(&self, workspace: &WorkspaceId, document: &mut Value) -> Result<(), StoreError> {
        fn collect(value: &Value, into: &mut BTreeSet<String>) {
            match value {
                Value::String(text) => into.extend(sealing::blind_keys_in(text).map(str::to_owned)),
                Value::Array(items) => items.iter().for_each(|item| collect(item, into)),
                Value::Object(map) => map.values().for_each(|item| collect(item, into)),
                _ => {}
            }
        }
        let mut found = BTreeSet::new();
        collect(document, &mut found);
        if found.is_empty() {
            return Ok(());
        }
        let pairs = self.revealed_pairs(workspace, found.into_iter().collect()).await?;
        replace_in_json(document, &pairs);
        Ok(())
    }

    /// Each of `blinds` with the key it stands for (itself when its key is gone).
    async fn revealed_pairs(
        &self,
        workspace: &WorkspaceId,
        blinds: Vec<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut plain = blinds.clone();
        self.reveal_keys(workspace, plain.iter_mut()).await?;
        Ok(blinds.into_iter().zip(plain).collect())
    }
}

/// Replaces, in every string of `value`, each `from` of `pairs` with its `to`.
pub(crate) fn replace_in_json(value: &mut Value, pairs: &[(String, String)]) {
    match value {
        Value::String(text) => replace_in_text(text, pairs),
        Value::Array(items) => items.iter_mut().for_each(|item| replace_in_json(item, pairs)),
        Value::Object(map) => map.values_mut().for_each(|item| replace_in_json(item, pairs)),
        _ => {}
    }
}

fn replace_all(texts: Vec<&mut String>, pairs: &[(String, String)]) {
    for text in texts {
        replace_in_text(text, pairs);
    }
}

fn replace_in_text(text: &mut String, pairs: &[(String, String)]) {
    for (from, to) in pairs {
        if from != to && text.contains(from.as_str()) {
            *text = text.replace(from.as_str(), to);
        }
    }
}

// ---- the records that name people ----

impl NamesPeople for String {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![self]
    }
}

impl NamesPeople for crate::records::NewResponse {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        let mut keys = vec![&mut self.identity_key];
        keys.extend(self.feedback.iter_mut().filter_map(|item| item.identity_key.as_mut()));
        keys
    }
}

impl NamesPeople for crate::records::ResponseRecord {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.identity_key]
    }
}

impl NamesPeople for crate::records::NewInvitation {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.identity_key]
    }
}

impl NamesPeople for crate::records::InvitationRecord {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.identity_key]
    }
}

impl NamesPeople for crate::records::MergeRecord {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.via_identity]
    }
    fn texts_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.explanation]
    }
}

impl NamesPeople for crate::case_records::CaseRecord {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        self.identity_key.as_mut().into_iter().collect()
    }
    fn texts_mut(&mut self) -> Vec<&mut String> {
        let mut texts = vec![&mut self.title];
        texts.extend(self.open_key.as_mut());
        texts
    }
}

impl NamesPeople for crate::case_records::ScoredResponse {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.identity_key]
    }
}

impl NamesPeople for rapport_core::cases::ScoredAnswer {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.identity]
    }
}

impl NamesPeople for crate::feedback_records::NewFeedback {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        self.identity_key.as_mut().into_iter().collect()
    }
}

impl NamesPeople for crate::feedback_records::FeedbackRecord {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        self.identity_key.as_mut().into_iter().collect()
    }
}

impl NamesPeople for crate::privacy_records::ConsentRecord {
    fn keys_mut(&mut self) -> Vec<&mut String> {
        vec![&mut self.identity_key]
    }
}
