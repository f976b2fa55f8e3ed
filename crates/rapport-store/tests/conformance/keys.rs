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

/// Deleting a workspace removes every row of it, from every table that holds one, and nothing of
/// another workspace; its keys stop working and its name can be used again.
pub async fn deleting_a_workspace_removes_all_of_it(store: Store) {
    let definition = rapport_core::survey::parse_definition(&json!({
        "name": "NPS", "kind": "relational", "questions": [{"id": "nps", "type": "nps", "required": true}]}))
    .unwrap();
    let mut keys = Vec::new();
    for name in ["demo", "kept"] {
        let workspace = store.ensure_workspace(name).await.unwrap();
        keys.push(store.create_api_key(&workspace, Role::Admin).await.unwrap().0);
        ingest(&store, &workspace.id, &[
            json!({"type": "identify", "userId": "u1", "anonymousId": "a1", "traits": {"email": "x@x.org", "plan": "pro"}}),
            json!({"type": "track", "userId": "u1", "event": "Signed In"}),
        ])
        .await;
        let survey = store.create_survey(&workspace.id, &definition).await.unwrap();
        let response = rapport_store::records::NewResponse {
            survey_id: survey.id.clone(),
            version: 1,
            identity_key: "email:x@x.org".into(),
            channel: Some("email".into()),
            touchpoint: None,
            agent: None,
            submitted_at_ms: 1_780_000_000_000,
            received_at_ms: 1_780_000_000_000,
            idempotency_key: Some("r1".into()),
            answers: rapport_core::survey_answers::check_answers(&definition, json!({"nps": 3}).as_object().unwrap())
                .unwrap(),
            feedback: Vec::new(),
            invitation: None,
        };
        assert_eq!(store.import_responses(&workspace.id, &[response]).await.unwrap(), 1);
        store.create_journey(&workspace.id, &json!({"name": "Purchase"})).await.unwrap();
        let user = rapport_store::trust_records::NewUserRow {
            email: format!("ana@{name}.test"),
            name: "Ana".into(),
            role: Role::Admin,
            password_hash: "$argon2id$x".into(),
        };
        store.create_user(&workspace.id, &user).await.unwrap().unwrap();
        let (user, _) = store.user_by_email(&user.email).await.unwrap().unwrap();
        store.start_session(&user, &format!("rps_{name}"), None, 1, i64::MAX).await.unwrap();
        store.append_audit(&workspace.id, "master", "key.created", "", "{}", 1).await.unwrap();
    }
    let demo = store.workspace_by_name("demo").await.unwrap().unwrap();
    let kept = store.workspace_by_name("kept").await.unwrap().unwrap();
    let before = store.workspace_rows(&kept.id).await.unwrap();
    assert_eq!(before, store.workspace_rows(&demo.id).await.unwrap(), "the two hold the same");
    let filled: Vec<&str> = before.iter().filter(|(_, n)| *n > 0).map(|(table, _)| *table).collect();
    for table in [
        "events",
        "customers",
        "identities",
        "customer_traits",
        "surveys",
        "survey_versions",
        "survey_responses",
        "survey_answers",
        "answer_rollups",
        "api_keys",
        "journeys",
        "users",
        "sessions",
        "audit_log",
    ] {
        assert!(filled.contains(&table), "{table} has rows to delete: {before:?}");
    }

    assert!(store.delete_workspace("demo").await.unwrap());
    assert!(!store.delete_workspace("demo").await.unwrap(), "nothing left to delete");
    let after = store.workspace_rows(&demo.id).await.unwrap();
    assert!(after.iter().all(|(_, n)| *n == 0), "rows left behind: {after:?}");
    assert!(store.workspace_by_name("demo").await.unwrap().is_none());
    assert!(store.authenticate(&keys[0]).await.unwrap().is_none(), "its keys stop working");
    assert_eq!(store.workspace_rows(&kept.id).await.unwrap(), before, "the other workspace is untouched");
    assert!(store.authenticate(&keys[1]).await.unwrap().is_some());
    // The name is free again, for an empty workspace.
    let again = workspace(&store, "demo").await;
    assert_ne!(again, demo.id);
    assert!(store.surveys(&again).await.unwrap().is_empty());
    let email = Identity::parse_typed("email:x@x.org").unwrap();
    assert!(store.customer_by_identity(&again, &email).await.unwrap().is_none());
}
