//! Personal data sealed at rest: the keyring, the keyed blind index and the authenticated cipher.
//!
//! - **Blind index.** An identity key that names a person (`email:…`, `phone:…`, `social:…:…`) is
//!   stored as `email#<index>`: an HMAC-SHA-256 of the workspace and the key under the *index key*,
//!   which never rotates, so equal keys stay equal (lookups, joins, uniqueness) and the value
//!   cannot be read back from it. The store keeps each index's sealed key beside it to show it.
//! - **Sealed values.** Identity values, names, e-mail addresses and phone numbers are stored as
//!   `enc1:<key id>:<base64 of nonce and ciphertext>`: XChaCha20-Poly1305 under the current *data
//!   key*, a random nonce, and the workspace and what the value is (`context`) as associated data,
//!   so a sealed value copied to another workspace or column does not open.
//! - **Rotation.** A new data key becomes current; values sealed under the old one still open
//!   (they name their key) until the store re-seals them.
//!
//! No I/O here: the store reads the keys and passes the nonces in (this crate takes its randomness
//! from its callers).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Prefix of a sealed value.
pub const SEALED_PREFIX: &str = "enc1:";
/// Bytes of a key.
pub const KEY_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes of a blind index kept (128 bits: collisions are out of reach at any number of people).
const INDEX_LEN: usize = 16;
/// Most nesting a sealed document walk descends (events are limited far below this).
const MAX_DEPTH: usize = 16;

type Key = Zeroizing<[u8; KEY_LEN]>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("the keyring is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("{field}: not a base64 key of {KEY_LEN} bytes")]
    BadKey { field: String },
    #[error("current: the data key {0:?} is not in data_keys")]
    NoCurrentKey(String),
    #[error("data key ids are letters, digits, '-' and '_' (1 to 32 of them): {0:?}")]
    BadKeyId(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("sealed under data key {0:?}, which the keyring does not hold")]
    UnknownKey(String),
    #[error("a sealed value that does not open (corrupt, or moved from another workspace or column)")]
    Corrupt,
}

/// The installation's keys: the index key and the data keys by id, one of them current.
#[derive(Clone)]
pub struct Keyring {
    index_key: Key,
    data_keys: BTreeMap<String, Key>,
    current: String,
}

impl std::fmt::Debug for Keyring {
    // Never the keys themselves.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Keyring")
            .field("data_keys", &self.data_keys.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    index_key: String,
    data_keys: BTreeMap<String, String>,
    current: String,
}

fn decode_key(field: &str, text: &str) -> Result<Key, KeyringError> {
    let bytes = STANDARD.decode(text.trim()).map_err(|_| KeyringError::BadKey { field: field.to_owned() })?;
    let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyringError::BadKey { field: field.to_owned() })?;
    Ok(Zeroizing::new(array))
}

fn valid_key_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Keyring {
    /// A keyring of fresh keys (the bytes come from the caller's random source).
    pub fn new(index_key: [u8; KEY_LEN], data_key: [u8; KEY_LEN]) -> Keyring {
        let mut data_keys = BTreeMap::new();
        data_keys.insert("k1".to_owned(), Zeroizing::new(data_key));
        Keyring { index_key: Zeroizing::new(index_key), data_keys, current: "k1".to_owned() }
    }

    /// Reads the JSON form: `{"index_key": "<base64>", "data_keys": {"k1": "<base64>"}, "current": "k1"}`.
    pub fn from_json(text: &str) -> Result<Keyring, KeyringError> {
        let file: KeyringFile =
            serde_json::from_str(text).map_err(|error| KeyringError::Malformed(error.to_string()))?;
        let index_key = decode_key("index_key", &file.index_key)?;
        let mut data_keys = BTreeMap::new();
        for (id, key) in &file.data_keys {
            if !valid_key_id(id) {
                return Err(KeyringError::BadKeyId(id.clone()));
            }
            data_keys.insert(id.clone(), decode_key(&format!("data_keys.{id}"), key)?);
        }
        if !data_keys.contains_key(&file.current) {
            return Err(KeyringError::NoCurrentKey(file.current));
        }
        Ok(Keyring { index_key, data_keys, current: file.current })
    }

    /// The JSON form `from_json` reads (it holds the keys: keep it secret).
    pub fn to_json(&self) -> String {
        let file = KeyringFile {
            index_key: STANDARD.encode(*self.index_key),
            data_keys: self.data_keys.iter().map(|(id, key)| (id.clone(), STANDARD.encode(**key))).collect(),
            current: self.current.clone(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("a keyring serialises");
        text.push('\n');
        text
    }

    /// The current data key's id.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// The ids of the data keys held.
    pub fn data_key_ids(&self) -> impl Iterator<Item = &str> {
        self.data_keys.keys().map(String::as_str)
    }

    /// A new data key (bytes from the caller) made current; returns its id. The old keys stay
    /// until `retire` drops them.
    pub fn rotate(&mut self, data_key: [u8; KEY_LEN]) -> String {
        let next =
            (1..).map(|n| format!("k{n}")).find(|id| !self.data_keys.contains_key(id)).expect("an unused key id");
        self.data_keys.insert(next.clone(), Zeroizing::new(data_key));
        self.current = next.clone();
        next
    }

    /// Drops every data key but the current one (once nothing is sealed under them).
    pub fn retire_old_keys(&mut self) -> Vec<String> {
        let old: Vec<String> = self.data_keys.keys().filter(|id| **id != self.current).cloned().collect();
        for id in &old {
            self.data_keys.remove(id);
        }
        old
    }

    /// What a database records to recognise the index key it was written with (an HMAC of a fixed
    /// text: it says nothing of the key).
    pub fn fingerprint(&self) -> String {
        let digest = self.mac(&[b"rapport keyring fingerprint v1"]);
        URL_SAFE_NO_PAD.encode(&digest[..INDEX_LEN])
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&*self.index_key).expect("HMAC accepts any key length");
        for part in parts {
            // Length-prefixed, so no two sequences of parts hash alike.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The key as stored: its blind index when it names a person, else the key itself.
    pub fn blind_key(&self, workspace: &str, key: &str) -> String {
        match sensitive_kind(key) {
            Some(kind) => {
                let digest = self.mac(&[b"identity", workspace.as_bytes(), key.as_bytes()]);
                format!("{kind}#{}", URL_SAFE_NO_PAD.encode(&digest[..INDEX_LEN]))
            }
            None => key.to_owned(),
        }
    }

    /// `text` sealed under the current data key; `nonce` must be fresh random bytes.
    pub fn seal(&self, workspace: &str, context: &str, text: &str, nonce: [u8; NONCE_LEN]) -> String {
        let key = &self.data_keys[&self.current];
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let aad = associated_data(workspace, context);
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: text.as_bytes(), aad: &aad })
            .expect("XChaCha20-Poly1305 encrypts any message under 256 GiB");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}:{}", self.current, STANDARD.encode(sealed))
    }

    /// The text of a sealed value; text that is not sealed is returned as it is (written before
    /// sealing, or never sealed).
    pub fn open(&self, workspace: &str, context: &str, text: &str) -> Result<String, SealError> {
        let Some(rest) = text.strip_prefix(SEALED_PREFIX) else {
            return Ok(text.to_owned());
        };
        let (id, body) = rest.split_once(':').ok_or(SealError::Corrupt)?;
        let key = self.data_keys.get(id).ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = STANDARD.decode(body).map_err(|_| SealError::Corrupt)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Corrupt)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let aad = associated_data(workspace, context);
        let plain = cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| SealError::Corrupt)
    }

    /// Whether `text` is sealed under a key other than the current one, or not sealed at all.
    pub fn needs_sealing(&self, text: &str) -> bool {
        match text.strip_prefix(SEALED_PREFIX).and_then(|rest| rest.split_once(':')) {
            Some((id, _)) => id != self.current,
            None => true,
        }
    }

    /// A JSON value sealed: the string `enc1:…` holding its JSON text.
    pub fn seal_value(&self, workspace: &str, context: &str, value: &Value, nonce: [u8; NONCE_LEN]) -> Value {
        Value::String(self.seal(workspace, context, &value.to_string(), nonce))
    }

    /// The JSON value a sealed one holds; any other value as it is.
    pub fn open_value(&self, workspace: &str, context: &str, value: &Value) -> Result<Value, SealError> {
        match value {
            Value::String(text) if is_sealed(text) => {
                let plain = self.open(workspace, context, text)?;
                serde_json::from_str(&plain).map_err(|_| SealError::Corrupt)
            }
            other => Ok(other.clone()),
        }
    }

    /// Seals, in place, every personal field of an event document (see `is_personal_field`) that
    /// is not sealed under the current key; `nonce` is called once per field sealed. Returns how
    /// many fields it sealed.
    pub fn seal_document(
        &self,
        workspace: &str,
        document: &mut Map<String, Value>,
        fields: Fields,
        nonce: &mut dyn FnMut() -> [u8; NONCE_LEN],
    ) -> Result<usize, SealError> {
        self.walk(document, fields, 0, &mut |keyring, value| {
            if matches!(value, Value::Null) {
                return Ok(false);
            }
            if let Value::String(text) = value
                && is_sealed(text)
            {
                if !keyring.needs_sealing(text) {
                    return Ok(false);
                }
                let plain = keyring.open_value(workspace, DOCUMENT_CONTEXT, value)?;
                *value = keyring.seal_value(workspace, DOCUMENT_CONTEXT, &plain, nonce());
                return Ok(true);
            }
            *value = keyring.seal_value(workspace, DOCUMENT_CONTEXT, value, nonce());
            Ok(true)
        })
    }

    /// Opens, in place, every sealed field of a document `seal_document` sealed.
    pub fn open_document(
        &self,
        workspace: &str,
        document: &mut Map<String, Value>,
        fields: Fields,
    ) -> Result<(), SealError> {
        self.walk(document, fields, 0, &mut |keyring, value| {
            *value = keyring.open_value(workspace, DOCUMENT_CONTEXT, value)?;
            Ok(false)
        })
        .map(|_| ())
    }

    fn walk(
        &self,
        document: &mut Map<String, Value>,
        fields: Fields,
        depth: usize,
        visit: &mut dyn FnMut(&Keyring, &mut Value) -> Result<bool, SealError>,
    ) -> Result<usize, SealError> {
        let mut count = 0;
        if depth > MAX_DEPTH {
            return Ok(0);
        }
        for (name, value) in document.iter_mut() {
            if is_personal_field(name, fields) {
                count += usize::from(visit(self, value)?);
            } else if let Value::Object(inner) = value {
                // A `traits` object is traits wherever it is (`context.traits`).
                let inner_fields = if name == "traits" { Fields::Traits } else { fields };
                count += self.walk(inner, inner_fields, depth + 1, visit)?;
            } else if let Value::Array(items) = value {
                for item in items {
                    if let Value::Object(inner) = item {
                        count += self.walk(inner, fields, depth + 1, visit)?;
                    }
                }
            }
        }
        Ok(count)
    }
}

/// What a sealed event field is to the cipher (its associated data beside the workspace).
const DOCUMENT_CONTEXT: &str = "document";

/// Which fields of a document hold personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// Traits (an `identify`'s, `context.traits`): names, e-mail addresses and phone numbers.
    Traits,
    /// Event properties and context: e-mail addresses and phone numbers only (`name` there is a
    /// page's or a product's), and everything under a `traits` object as traits.
    Properties,
}

/// Whether a field named `name` holds personal data in a document of `fields`.
pub fn is_personal_field(name: &str, fields: Fields) -> bool {
    // Folded (lower case, no `_` or `-`) into a small buffer: this runs on every key of every
    // event ingested, and allocating a folded copy showed in the ingestion profile.
    let mut folded = [0u8; 16];
    let mut length = 0;
    for byte in name.bytes().filter(|byte| *byte != b'_' && *byte != b'-') {
        if length == folded.len() {
            return false;
        }
        folded[length] = byte.to_ascii_lowercase();
        length += 1;
    }
    match &folded[..length] {
        b"email" | b"phone" | b"emailaddress" | b"phonenumber" | b"mobile" => true,
        b"name" | b"firstname" | b"lastname" | b"fullname" => fields == Fields::Traits,
        _ => false,
    }
}

/// Whether a document holds a personal field with a value that is not sealed yet (most events
/// hold none, and are stored without being copied).
pub fn has_unsealed_fields(document: &Map<String, Value>, fields: Fields) -> bool {
    fn visit(document: &Map<String, Value>, fields: Fields, depth: usize) -> bool {
        depth <= MAX_DEPTH
            && document.iter().any(|(name, value)| {
                if is_personal_field(name, fields) {
                    return match value {
                        Value::Null => false,
                        Value::String(text) => !is_sealed(text),
                        _ => true,
                    };
                }
                match value {
                    Value::Object(inner) => {
                        visit(inner, if name == "traits" { Fields::Traits } else { fields }, depth + 1)
                    }
                    Value::Array(items) => items.iter().any(|item| match item {
                        Value::Object(inner) => visit(inner, fields, depth + 1),
                        _ => false,
                    }),
                    _ => false,
                }
            })
    }
    visit(document, fields, 0)
}

/// Whether a customer trait named `key` is sealed.
pub fn is_sealed_trait(key: &str) -> bool {
    is_personal_field(key, Fields::Traits)
}

/// Whether `text` is a sealed value.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// Whether a stored key is a blind index (`email#…`).
pub fn is_blind_key(key: &str) -> bool {
    match key.split_once('#') {
        Some((kind, _)) => {
            kind == "email" || kind == "phone" || kind.strip_prefix("social:").is_some_and(|p| !p.contains(':'))
        }
        None => false,
    }
}

/// The blind indexes quoted in `text` (a case's title names its customer's).
pub fn blind_keys_in(text: &str) -> impl Iterator<Item = &str> {
    let index_chars = (INDEX_LEN * 4).div_ceil(3);
    text.match_indices('#').filter_map(move |(at, _)| {
        let digits = text.get(at + 1..at + 1 + index_chars)?;
        if !digits.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        // The kind before the '#': `email`, `phone` or `social:<platform>`.
        let before = &text[..at];
        let start = ["email", "phone"]
            .iter()
            .find(|kind| before.ends_with(**kind))
            .map(|kind| at - kind.len())
            .or_else(|| {
                let social = before.rfind("social:")?;
                let platform = &before[social + "social:".len()..];
                (!platform.is_empty() && platform.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
                    .then_some(social)
            })?;
        let end = at + 1 + index_chars;
        // Not the middle of a longer word.
        let after_ok = text[end..].chars().next().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        after_ok.then(|| &text[start..end])
    })
}

/// The kind part of a key that names a person (`email`, `phone`, `social:<platform>`).
fn sensitive_kind(key: &str) -> Option<&str> {
    if key.starts_with("email:") {
        return Some("email");
    }
    if key.starts_with("phone:") {
        return Some("phone");
    }
    let rest = key.strip_prefix("social:")?;
    let (platform, _) = rest.split_once(':')?;
    Some(&key[..("social:".len() + platform.len())])
}

/// A key that names a person split into its kind (`email`, `social:twitter`) and value.
pub fn split_sensitive_key(key: &str) -> Option<(&str, &str)> {
    let kind = sensitive_kind(key)?;
    Some((kind, &key[kind.len() + 1..]))
}

/// Whether identity keys of this kind prefix (`email`, `social:twitter`, …) are blinded.
pub fn is_sensitive_key(key: &str) -> bool {
    sensitive_kind(key).is_some()
}

fn associated_data(workspace: &str, context: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(workspace.len() + context.len() + 9);
    aad.extend_from_slice(b"rapport1");
    aad.extend_from_slice(workspace.as_bytes());
    aad.push(0x1f);
    aad.extend_from_slice(context.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keyring() -> Keyring {
        Keyring::new([7; KEY_LEN], [9; KEY_LEN])
    }

    fn nonces() -> impl FnMut() -> [u8; NONCE_LEN] {
        let mut counter = 0u8;
        move || {
            counter += 1;
            [counter; NONCE_LEN]
        }
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let keys = keyring();
        let sealed = keys.seal("ws1", "identity", "jane@example.com", [1; NONCE_LEN]);
        assert!(sealed.starts_with("enc1:k1:"));
        assert!(!sealed.contains("jane"));
        assert_eq!(keys.open("ws1", "identity", &sealed).unwrap(), "jane@example.com");
        // Another workspace or column: refused, not garbage.
        assert_eq!(keys.open("ws2", "identity", &sealed), Err(SealError::Corrupt));
        assert_eq!(keys.open("ws1", "address", &sealed), Err(SealError::Corrupt));
        // One flipped character of the ciphertext: refused.
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(keys.open("ws1", "identity", &String::from_utf8(tampered).unwrap()), Err(SealError::Corrupt));
        // Text that was never sealed passes through.
        assert_eq!(keys.open("ws1", "identity", "plain").unwrap(), "plain");
        // Two seals of one value differ (random nonces).
        assert_ne!(sealed, keys.seal("ws1", "identity", "jane@example.com", [2; NONCE_LEN]));
    }

    #[test]
    fn blind_keys_are_stable_per_workspace_and_hide_the_value() {
        let keys = keyring();
        let blind = keys.blind_key("ws1", "email:jane@example.com");
        assert!(blind.starts_with("email#") && !blind.contains("jane"), "{blind}");
        assert_eq!(blind, keys.blind_key("ws1", "email:jane@example.com"));
        assert_ne!(blind, keys.blind_key("ws2", "email:jane@example.com"));
        assert_ne!(blind, keys.blind_key("ws1", "email:john@example.com"));
        assert!(keys.blind_key("ws1", "phone:+491511234567").starts_with("phone#"));
        assert!(keys.blind_key("ws1", "social:twitter:jane").starts_with("social:twitter#"));
        // Ids that name no person are kept: events join on them.
        assert_eq!(keys.blind_key("ws1", "userId:u-1"), "userId:u-1");
        assert_eq!(keys.blind_key("ws1", "anonymousId:a-1"), "anonymousId:a-1");
        assert_eq!(keys.blind_key("ws1", "external:zendesk:9"), "external:zendesk:9");
        // Another index key, another index.
        let other = Keyring::new([8; KEY_LEN], [9; KEY_LEN]);
        assert_ne!(blind, other.blind_key("ws1", "email:jane@example.com"));
        assert!(is_blind_key(&blind));
        assert!(is_blind_key("social:twitter#abc"));
        assert_eq!(split_sensitive_key("social:twitter:jane"), Some(("social:twitter", "jane")));
        assert_eq!(split_sensitive_key("email:a@b.example"), Some(("email", "a@b.example")));
        assert_eq!(split_sensitive_key("userId:u1"), None);
        assert!(!is_blind_key("email:a#b@example.com"));
        assert!(!is_blind_key("userId:a#b"));
        let title = format!("Detractors: {blind} gave nps 3");
        assert_eq!(blind_keys_in(&title).collect::<Vec<_>>(), vec![blind.as_str()]);
        let social = keys.blind_key("ws1", "social:twitter:jane");
        assert_eq!(blind_keys_in(&format!("{social}|rule")).collect::<Vec<_>>(), vec![social.as_str()]);
        assert_eq!(blind_keys_in("email#short and phone#").count(), 0);
    }

    #[test]
    fn rotation_keeps_old_values_open_until_they_are_resealed() {
        let mut keys = keyring();
        let old = keys.seal("ws", "trait", "Jane", [1; NONCE_LEN]);
        let index_before = keys.blind_key("ws", "email:jane@example.com");
        let id = keys.rotate([3; KEY_LEN]);
        assert_eq!(id, "k2");
        assert_eq!(keys.current(), "k2");
        assert!(keys.needs_sealing(&old));
        assert_eq!(keys.open("ws", "trait", &old).unwrap(), "Jane");
        let new = keys.seal("ws", "trait", "Jane", [2; NONCE_LEN]);
        assert!(new.starts_with("enc1:k2:") && !keys.needs_sealing(&new));
        // The index key never rotates.
        assert_eq!(keys.blind_key("ws", "email:jane@example.com"), index_before);
        assert_eq!(keys.retire_old_keys(), vec!["k1".to_owned()]);
        assert_eq!(keys.open("ws", "trait", &old), Err(SealError::UnknownKey("k1".to_owned())));
    }

    #[test]
    fn the_keyring_file_round_trips_and_bad_ones_are_named() {
        let mut keys = keyring();
        keys.rotate([4; KEY_LEN]);
        let text = keys.to_json();
        let back = Keyring::from_json(&text).unwrap();
        assert_eq!(back.current(), "k2");
        assert_eq!(back.fingerprint(), keys.fingerprint());
        assert_eq!(back.data_key_ids().collect::<Vec<_>>(), vec!["k1", "k2"]);
        assert!(matches!(Keyring::from_json("{}"), Err(KeyringError::Malformed(_))));
        let short = r#"{"index_key":"AAAA","data_keys":{"k1":"AAAA"},"current":"k1"}"#;
        assert_eq!(Keyring::from_json(short).unwrap_err(), KeyringError::BadKey { field: "index_key".into() });
        let key = STANDARD.encode([1u8; KEY_LEN]);
        let missing = format!(r#"{{"index_key":"{key}","data_keys":{{"k1":"{key}"}},"current":"k9"}}"#);
        assert_eq!(Keyring::from_json(&missing).unwrap_err(), KeyringError::NoCurrentKey("k9".into()));
        assert!(!format!("{keys:?}").contains(&STANDARD.encode([7u8; KEY_LEN])));
    }

    #[test]
    fn documents_seal_personal_fields_at_any_depth_and_open_back() {
        let keys = keyring();
        let original = json!({
            "email": "jane@example.com",
            "first_name": "Jane",
            "plan": "pro",
            "address": {"phone": "+491511234567", "city": "Berlin"},
            "contacts": [{"Email": "x@example.com"}],
            "missing": null,
        });
        let Value::Object(mut document) = original.clone() else { unreachable!() };
        assert!(has_unsealed_fields(&document, Fields::Traits));
        let sealed = keys.seal_document("ws", &mut document, Fields::Traits, &mut nonces()).unwrap();
        assert_eq!(sealed, 4);
        assert!(!has_unsealed_fields(&document, Fields::Traits));
        let text = Value::Object(document.clone()).to_string();
        for secret in ["jane@example.com", "Jane", "1511234567", "x@example.com"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert!(text.contains("Berlin") && text.contains("pro"));
        // Sealing again seals nothing more.
        assert_eq!(keys.seal_document("ws", &mut document, Fields::Traits, &mut nonces()).unwrap(), 0);
        keys.open_document("ws", &mut document, Fields::Traits).unwrap();
        assert_eq!(Value::Object(document), original);
        // In properties a name is a page's or a product's: kept.
        let Value::Object(mut properties) = json!({"name": "Pricing", "email": "j@example.com"}) else {
            unreachable!()
        };
        assert_eq!(keys.seal_document("ws", &mut properties, Fields::Properties, &mut nonces()).unwrap(), 1);
        assert_eq!(properties["name"], "Pricing");
        for (name, personal) in [("E-Mail", true), ("phone_number", true), ("First_Name", true), ("emails", false)] {
            assert_eq!(is_personal_field(name, Fields::Traits), personal, "{name}");
        }
        assert!(!is_personal_field("a_very_long_field_name_indeed", Fields::Traits));
        // Context: its `traits` are traits.
        let Value::Object(context) = json!({"page": {"title": "Pricing"}, "traits": {"name": "Jane"}}) else {
            unreachable!()
        };
        assert!(has_unsealed_fields(&context, Fields::Properties));
        assert!(!has_unsealed_fields(&properties, Fields::Properties));
    }
}
