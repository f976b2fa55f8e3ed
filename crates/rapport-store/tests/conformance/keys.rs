use rapport_core::auth::Role;
use rapport_core::identity::Identity;
use rapport_store::Store;
use serde_json::json;

use crate::{ingest, workspace};

pub async fn keys_authenticate_by_hash_only(store: Store) {
    let acme = store.ensure_workspace("acme").await.unwrap();
    assert_eq!(store.ensure_workspace("acme").await.unwrap(), acme, "ensure is idempotent");
    let (key, record) = store.create_api_key(&acme, Role::Write).await.unwrap();
    assert!(key.starts_with("rpk_") && key.len() == 68);
    let found = store.authenticate(&key).await.unwrap().expect("the key authenticates");
    assert_eq!(found, record);
    assert_eq!(found.role, Role::Write);
    assert_eq!(found.workspace_name, "acme");
    assert!(store.authenticate("rpk_wrong").await.unwrap().is_none());
    assert!(store.authenticate(&record.display_prefix).await.unwrap().is_none());
}

pub async fn workspaces_do_not_see_each_other(store: Store) {
    let acme = workspace(&store, "acme").await;
    let globex = workspace(&store, "globex").await;
    let event = json!({"type": "identify", "userId": "u1", "traits": {"email": "x@x.org"}, "messageId": "same-id"});
    ingest(&store, &acme, std::slice::from_ref(&event)).await;
    let receipt = ingest(&store, &globex, &[event]).await;
    assert_eq!(receipt.accepted, 1, "message ids are per workspace");
    let email = Identity::parse_typed("email:x@x.org").unwrap();
    let in_acme = store.customer_by_identity(&acme, &email).await.unwrap().unwrap();
    let in_globex = store.customer_by_identity(&globex, &email).await.unwrap().unwrap();
    assert_ne!(in_acme, in_globex);
    assert!(store.customer_profile(&globex, &in_acme).await.unwrap().is_none());
    assert!(store.timeline(&globex, &in_acme, None, 10).await.unwrap().is_none());
    assert!(store.merges_of(&globex, &in_acme).await.unwrap().is_none());
}
