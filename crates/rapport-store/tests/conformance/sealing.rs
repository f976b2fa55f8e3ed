//! Personal data sealed at rest, at the storage boundary: what the tables hold, and data an
//! older Rapport wrote in the clear sealed when the store first opens it.

use rapport_core::identity::{Identity, IdentityKind};
use rapport_store::testing::TestDatabase;
use serde_json::json;

use crate::{events, ingest, workspace};

/// A database as Rapport before sealing left it: plain identity keys and values, traits, events
/// and consent, and no keyring fingerprint. Opening it seals all of it.
pub async fn data_written_before_sealing_is_sealed_when_opened(database: TestDatabase) {
    let store = database.connect().await;
    let ws = workspace(&store, "older").await;
    let raw = events(&[json!({"type": "identify", "userId": "u-old", "messageId": "m-old",
        "traits": {"email": "old.timer@example.com", "phone": "+44 20 7946 0999", "name": "Olive Older"}})]);
    // The benchmark's raw path stores events as they come, unsealed: what an older version did.
    store.insert_events_raw(&ws, &raw).await.unwrap();
    store.close().await;
    let w = ws.as_str();
    for statement in [
        "DELETE FROM keyring_fingerprint".to_owned(),
        format!("INSERT INTO customers (id, workspace_id, root_id, created_at) VALUES ('c-old', '{w}', 'c-old', 1)"),
        format!(
            "INSERT INTO identities (workspace_id, identity_key, kind, value, customer_id, first_seen, message_id) \
             VALUES ('{w}', 'email:old.timer@example.com', 'email', 'old.timer@example.com', 'c-old', 1, 'm-old'), \
             ('{w}', 'userId:u-old', 'userId', 'u-old', 'c-old', 1, 'm-old')"
        ),
        "INSERT INTO customer_traits (customer_id, trait_key, value, channel, updated_at, message_id) VALUES \
         ('c-old', 'name', '\"Olive Older\"', 'web', 1, 'm-old'), ('c-old', 'plan', '\"pro\"', 'web', 1, 'm-old')"
            .to_owned(),
        format!(
            "INSERT INTO consents (workspace_id, identity_key, purpose, channel, granted, source, updated_at) \
             VALUES ('{w}', 'email:old.timer@example.com', 'marketing', '', FALSE, 'api', 1)"
        ),
    ] {
        database.execute(&statement).await.unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    assert!(String::from_utf8_lossy(&database.dump().await).contains("old.timer@example.com"));

    let store = database.connect().await;
    let dump = String::from_utf8_lossy(&database.dump().await).to_lowercase();
    for secret in ["old.timer@example.com", "olive older", "7946 0999"] {
        assert!(!dump.contains(secret), "`{secret}` is still in the clear after opening");
    }
    // Everything reads as before.
    let email = Identity::new(IdentityKind::Email, "old.timer@example.com").unwrap();
    let customer = store.customer_by_identity(&ws, &email).await.unwrap().expect("found by e-mail");
    let profile = store.customer_profile(&ws, &customer).await.unwrap().unwrap();
    let trait_of = |key: &str| profile.traits.iter().find(|t| t.key == key).map(|t| t.value.clone());
    assert_eq!((trait_of("name"), trait_of("plan")), (Some(json!("Olive Older")), Some(json!("pro"))));
    assert!(profile.identities.iter().any(|i| i.kind == "email" && i.value == "old.timer@example.com"));
    let consents = store.consents_of(&ws, &email.key()).await.unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0].identity_key, "email:old.timer@example.com");
    let stored = store.events_after(&ws, 0, 10).await.unwrap();
    assert_eq!(stored[0].traits["email"], "old.timer@example.com");
    // Opening it again changes nothing more.
    store.close().await;
    let before = database.dump().await.len();
    let again = database.connect().await;
    assert!(again.customer_by_identity(&ws, &email).await.unwrap().is_some());
    assert!(database.dump().await.len().abs_diff(before) < 64);
}

/// New data is sealed as it is written, and every read opens it.
pub async fn new_data_is_sealed_as_written(database: TestDatabase) {
    let store = database.connect().await;
    let ws = workspace(&store, "fresh").await;
    ingest(
        &store,
        &ws,
        &[json!({"type": "identify", "userId": "u1", "messageId": "m1",
                 "traits": {"email": "new.person@example.com", "firstName": "Nora"},
                 "context": {"traits": {"phone": "+49 151 11112222"}}})],
    )
    .await;
    let dump = String::from_utf8_lossy(&database.dump().await).to_lowercase();
    for secret in ["new.person@example.com", "nora", "11112222"] {
        assert!(!dump.contains(secret), "`{secret}` is in the clear");
    }
    let blind = store.keyring().blind_key(ws.as_str(), "email:new.person@example.com").to_lowercase();
    assert!(dump.contains(&blind), "the e-mail identity is kept as its blind index");
    let stored = store.events_after(&ws, 0, 10).await.unwrap();
    assert_eq!(stored[0].traits["firstName"], "Nora");
    assert_eq!(stored[0].context["traits"]["phone"], "+49 151 11112222");
    let email = Identity::new(IdentityKind::Email, "New.Person@example.com").unwrap();
    assert!(store.customer_by_identity(&ws, &email).await.unwrap().is_some());
}
