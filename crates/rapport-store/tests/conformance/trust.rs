use rapport_core::audit;
use rapport_core::auth::Role;
use rapport_store::Store;
use rapport_store::trust_records::{NewUserRow, UserUpdate};

fn new_user(email: &str, role: Role) -> NewUserRow {
    NewUserRow { email: email.into(), name: "Ana".into(), role, password_hash: "$argon2id$stored".into() }
}

/// Users are unique by e-mail across the server, listed per workspace, and never show their
/// password hash except to sign-in.
pub async fn users_and_sessions(store: Store) {
    let acme = store.ensure_workspace("acme").await.unwrap();
    let globex = store.ensure_workspace("globex").await.unwrap();
    let ana = store.create_user(&acme.id, &new_user("ana@acme.test", Role::Analyst)).await.unwrap().unwrap();
    assert!(store.create_user(&globex.id, &new_user("ana@acme.test", Role::Admin)).await.unwrap().is_none());
    store.create_user(&acme.id, &new_user("bo@acme.test", Role::Agent)).await.unwrap().unwrap();
    let users = store.users(&acme.id, None).await.unwrap();
    assert_eq!(users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), ["ana@acme.test", "bo@acme.test"]);
    assert!(store.users(&globex.id, None).await.unwrap().is_empty());
    assert!(store.users(&globex.id, Some(&ana)).await.unwrap().is_empty(), "another workspace's user is not found");

    let (user, credentials) = store.user_by_email("ana@acme.test").await.unwrap().unwrap();
    assert_eq!((user.role, user.workspace_name.as_str(), user.totp_enabled), (Role::Analyst, "acme", false));
    assert_eq!(credentials.password_hash, "$argon2id$stored");

    // Failures count up and lock; a sign-in resets them and starts a session.
    store.record_sign_in_failure(&ana, 5, Some(2_000)).await.unwrap();
    let (user, _) = store.user_by_email("ana@acme.test").await.unwrap().unwrap();
    assert_eq!((user.failed_attempts, user.locked_until_ms), (5, Some(2_000)));
    store.start_session(&user, "rps_token", Some(41), 1_000, 5_000).await.unwrap();
    let (user, credentials) = store.user_by_email("ana@acme.test").await.unwrap().unwrap();
    assert_eq!((user.failed_attempts, user.locked_until_ms, user.last_sign_in_at_ms), (0, None, Some(1_000)));
    assert_eq!(credentials.totp_last_step, Some(41));
    assert_eq!(store.session_user("rps_token", 4_999).await.unwrap().map(|u| u.id), Some(ana.clone()));
    assert!(store.session_user("rps_token", 5_000).await.unwrap().is_none(), "expired");
    assert!(store.session_user("rps_other", 1_000).await.unwrap().is_none());

    // A role change applies to the live session; disabling ends it.
    let update = UserUpdate { role: Some(Role::Viewer), ..UserUpdate::default() };
    assert!(store.update_user(&acme.id, &ana, &update).await.unwrap());
    assert_eq!(store.session_user("rps_token", 2_000).await.unwrap().unwrap().role, Role::Viewer);
    assert!(!store.update_user(&globex.id, &ana, &update).await.unwrap(), "not from another workspace");
    let disable = UserUpdate { disabled_at_ms: Some(Some(3_000)), ..UserUpdate::default() };
    assert!(store.update_user(&acme.id, &ana, &disable).await.unwrap());
    assert!(store.session_user("rps_token", 2_000).await.unwrap().is_none());
    let enable = UserUpdate { disabled_at_ms: Some(None), ..UserUpdate::default() };
    assert!(store.update_user(&acme.id, &ana, &enable).await.unwrap());
    assert!(store.session_user("rps_token", 2_000).await.unwrap().is_none(), "enabling again starts no session");
    let (user, _) = store.user_by_email("ana@acme.test").await.unwrap().unwrap();
    assert_eq!(user.disabled_at_ms, None);

    // A new password ends sessions and clears a lock.
    store.start_session(&user, "rps_second", None, 1_000, 9_000).await.unwrap();
    store.record_sign_in_failure(&ana, 5, Some(8_000)).await.unwrap();
    let password = UserUpdate { password_hash: Some("$argon2id$new".into()), ..UserUpdate::default() };
    assert!(store.update_user(&acme.id, &ana, &password).await.unwrap());
    assert!(store.session_user("rps_second", 2_000).await.unwrap().is_none());
    let (user, credentials) = store.user_by_email("ana@acme.test").await.unwrap().unwrap();
    assert_eq!((user.failed_attempts, user.locked_until_ms), (0, None));
    assert_eq!(credentials.password_hash, "$argon2id$new");

    // The second factor.
    assert!(store.set_totp(&acme.id, &ana, Some("GEZDGNBV"), Some(7)).await.unwrap());
    let (user, credentials) = store.user_credentials(&acme.id, &ana).await.unwrap().unwrap();
    assert!(user.totp_enabled);
    assert_eq!((credentials.totp_secret.as_deref(), credentials.totp_last_step), (Some("GEZDGNBV"), Some(7)));
    assert!(store.set_totp(&acme.id, &ana, None, None).await.unwrap());
    assert!(!store.users(&acme.id, Some(&ana)).await.unwrap()[0].totp_enabled);

    // Signing out.
    store.start_session(&user, "rps_third", None, 1_000, 9_000).await.unwrap();
    store.end_session("rps_third").await.unwrap();
    assert!(store.session_user("rps_third", 2_000).await.unwrap().is_none());

    // Keys are listed per workspace.
    let (_, key) = store.create_api_key(&acme, Role::Read).await.unwrap();
    assert_eq!(store.api_keys(&acme.id).await.unwrap(), vec![key]);
    assert!(store.api_keys(&globex.id).await.unwrap().is_empty());
}

/// Each workspace's audit log is its own unbroken chain, also under concurrent appends.
pub async fn the_audit_log_is_one_chain_per_workspace(store: Store) {
    let acme = store.ensure_workspace("acme").await.unwrap().id;
    let globex = store.ensure_workspace("globex").await.unwrap().id;
    let mut appends = Vec::new();
    for n in 0..40 {
        let store = store.clone();
        let workspace = if n % 4 == 0 { globex.clone() } else { acme.clone() };
        appends.push(tokio::spawn(async move {
            store
                .append_audit(
                    &workspace,
                    "user:ana@acme.test",
                    "case.transition",
                    &format!("case:{n}"),
                    "{}",
                    1_000 + n,
                )
                .await
                .unwrap()
        }));
    }
    for append in appends {
        append.await.unwrap();
    }
    let entries = store.audit_entries(&acme, 0, 1_000).await.unwrap();
    assert_eq!(entries.len(), 30);
    let verified = audit::verify(&entries).unwrap();
    assert_eq!(verified.entries, 30);
    assert_eq!(audit::verify(&store.audit_entries(&globex, 0, 1_000).await.unwrap()).unwrap().entries, 10);
    // Paging picks up where it left off.
    let page = store.audit_entries(&acme, 28, 10).await.unwrap();
    assert_eq!(page.iter().map(|e| e.entry.seq).collect::<Vec<_>>(), [29, 30]);
    assert_eq!(page[1].hash, verified.head);
}
