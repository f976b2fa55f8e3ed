use rapport_core::identity::Identity;
use rapport_core::ids::{CustomerId, WorkspaceId};
use rapport_store::records::TimelineCursor;
use rapport_store::{Store, UndoOutcome};
use serde_json::json;

use crate::{ingest, workspace};

async fn customer(store: &Store, workspace: &WorkspaceId, typed: &str) -> CustomerId {
    let identity = Identity::parse_typed(typed).unwrap();
    store.customer_by_identity(workspace, &identity).await.unwrap().unwrap_or_else(|| panic!("no customer for {typed}"))
}

pub async fn one_customer_across_channels(store: Store) {
    let workspace = workspace(&store, "acme").await;
    ingest(
        &store,
        &workspace,
        &[
            json!({"type": "page", "anonymousId": "web-1", "name": "Pricing", "timestamp": "2026-01-01T10:00:00Z"}),
            json!({"type": "track", "anonymousId": "web-1", "event": "Cart Viewed", "properties": {"cart": ["sku-1"]},
               "context": {"channel": "web"}, "timestamp": "2026-01-01T10:05:00Z"}),
        ],
    )
    .await;
    ingest(
        &store,
        &workspace,
        &[json!({"type": "identify", "anonymousId": "web-1",
        "traits": {"email": "Jane@Example.com", "plan": "free"}, "context": {"channel": "web"},
        "timestamp": "2026-01-01T10:10:00Z"})],
    )
    .await;
    ingest(
        &store,
        &workspace,
        &[json!({"type": "identify", "userId": "user-7", "anonymousId": "app-install-3",
        "traits": {"email": "jane@example.com", "plan": "pro"}, "context": {"channel": "mobile"},
        "timestamp": "2026-01-02T08:00:00Z"})],
    )
    .await;
    ingest(
        &store,
        &workspace,
        &[json!({"type": "track", "anonymousId": "call-991", "event": "Support Call Completed",
        "context": {"channel": "phone", "traits": {"phone": "+49 151 1234567", "email": "jane@example.com"}},
        "timestamp": "2026-01-03T09:00:00Z"})],
    )
    .await;

    let by_phone = customer(&store, &workspace, "phone:+491511234567").await;
    for typed in ["anonymousId:web-1", "userId:user-7", "anonymousId:app-install-3", "email:JANE@example.com"] {
        assert_eq!(customer(&store, &workspace, typed).await, by_phone, "{typed}");
    }
    let profile = store.customer_profile(&workspace, &by_phone).await.unwrap().unwrap();
    let mut channels: Vec<&str> = profile.channels.iter().map(|usage| usage.channel.as_str()).collect();
    channels.sort();
    assert_eq!(channels, ["mobile", "phone", "web"]);
    let plan = profile.traits.iter().find(|record| record.key == "plan").unwrap();
    assert_eq!(
        (plan.value.clone(), plan.channel.as_str()),
        (json!("pro"), "mobile"),
        "the latest value, with its channel"
    );
    assert_eq!(profile.identities.len(), 6);
    assert_eq!(profile.first_seen_ms(), Some(1_767_261_600_000));

    let timeline = store.timeline(&workspace, &by_phone, None, 50).await.unwrap().unwrap();
    let names: Vec<&str> =
        timeline.entries.iter().map(|entry| entry.name.as_deref().unwrap_or(&entry.event_type)).collect();
    assert_eq!(names, ["Support Call Completed", "identify", "identify", "Cart Viewed", "Pricing"]);

    // Every id of a merged customer leads to the same profile.
    for node in &profile.nodes {
        assert_eq!(store.customer_profile(&workspace, node).await.unwrap().unwrap().id, profile.id);
    }
}

pub async fn distinct_user_ids_stay_apart(store: Store) {
    let workspace = workspace(&store, "acme").await;
    ingest(
        &store,
        &workspace,
        &[json!({"type": "identify", "userId": "alice", "anonymousId": "family-ipad",
        "traits": {"email": "family@x.org"}})],
    )
    .await;
    for message in ["bob-1", "bob-2"] {
        ingest(
            &store,
            &workspace,
            &[json!({"type": "identify", "userId": "bob", "anonymousId": "family-ipad",
            "traits": {"email": "family@x.org"}, "messageId": message})],
        )
        .await;
    }
    let (alice, bob) =
        (customer(&store, &workspace, "userId:alice").await, customer(&store, &workspace, "userId:bob").await);
    assert_ne!(alice, bob);
    assert_eq!(customer(&store, &workspace, "anonymousId:family-ipad").await, alice);
    let merges = store.merges_of(&workspace, &bob).await.unwrap().unwrap();
    assert_eq!(merges.len(), 1, "the refusal is recorded once: {merges:?}");
    assert_eq!((merges[0].outcome.as_str(), merges[0].reason.as_str()), ("refused", "conflicting_user_ids"));
    // Bob's events are his, even though they carried alice's device id.
    let bobs = store.timeline(&workspace, &bob, None, 10).await.unwrap().unwrap();
    assert_eq!(bobs.entries.len(), 2);
    let alices = store.timeline(&workspace, &alice, None, 10).await.unwrap().unwrap();
    assert_eq!(alices.entries.len(), 1);
}

pub async fn undoing_a_merge_separates_for_good(store: Store) {
    let workspace = workspace(&store, "acme").await;
    ingest(
        &store,
        &workspace,
        &[
            json!({"type": "page", "anonymousId": "shop-kiosk", "messageId": "kiosk-1"}),
            json!({"type": "identify", "userId": "u1", "traits": {"email": "u1@x.org"}}),
        ],
    )
    .await;
    ingest(
        &store,
        &workspace,
        &[json!({"type": "alias", "userId": "u1", "previousId": "shop-kiosk", "messageId": "alias-1"})],
    )
    .await;
    let merged = customer(&store, &workspace, "anonymousId:shop-kiosk").await;
    assert_eq!(merged, customer(&store, &workspace, "userId:u1").await);
    let merges = store.merges_of(&workspace, &merged).await.unwrap().unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!((merges[0].outcome.as_str(), merges[0].message_id.as_str()), ("merged", "alias-1"));
    assert_eq!(merges[0].via_identity, "anonymousId:shop-kiosk");

    let UndoOutcome::Undone(undone) = store.undo_merge(&workspace, &merges[0].id).await.unwrap() else {
        panic!("the merge can be undone");
    };
    let (kiosk, user) =
        (customer(&store, &workspace, "anonymousId:shop-kiosk").await, customer(&store, &workspace, "userId:u1").await);
    assert_ne!(kiosk, user);
    assert_eq!((undone.absorbed_root, undone.survivor_root), (kiosk.clone(), user.clone()));
    assert_eq!(store.timeline(&workspace, &kiosk, None, 10).await.unwrap().unwrap().entries.len(), 1);

    // The same link again is refused: an admin separated them.
    ingest(
        &store,
        &workspace,
        &[json!({"type": "alias", "userId": "u1", "previousId": "shop-kiosk", "messageId": "alias-2"})],
    )
    .await;
    assert_ne!(
        customer(&store, &workspace, "anonymousId:shop-kiosk").await,
        customer(&store, &workspace, "userId:u1").await
    );
    let reasons: Vec<String> =
        store.merges_of(&workspace, &user).await.unwrap().unwrap().into_iter().map(|m| m.reason).collect();
    assert!(reasons.contains(&"separated_by_admin".to_owned()), "{reasons:?}");

    assert!(matches!(store.undo_merge(&workspace, &merges[0].id).await.unwrap(), UndoOutcome::NotUndoable(_)));
    let unknown = rapport_core::ids::MergeId("nope".to_owned());
    assert_eq!(store.undo_merge(&workspace, &unknown).await.unwrap(), UndoOutcome::NotFound);
}

pub async fn latest_trait_wins_whatever_the_arrival_order(store: Store) {
    let workspace = workspace(&store, "acme").await;
    ingest(
        &store,
        &workspace,
        &[json!({"type": "identify", "userId": "u", "traits": {"city": "Berlin"},
        "timestamp": "2026-05-02T00:00:00Z", "context": {"channel": "web"}})],
    )
    .await;
    // An older event arrives later (an offline phone syncing): it must not overwrite.
    ingest(
        &store,
        &workspace,
        &[json!({"type": "identify", "userId": "u", "traits": {"city": "Paris", "age": 40},
        "timestamp": "2026-05-01T00:00:00Z", "context": {"channel": "mobile"}})],
    )
    .await;
    let id = customer(&store, &workspace, "userId:u").await;
    let profile = store.customer_profile(&workspace, &id).await.unwrap().unwrap();
    let value = |key: &str| profile.traits.iter().find(|record| record.key == key).map(|record| record.value.clone());
    assert_eq!(value("city"), Some(json!("Berlin")));
    assert_eq!(value("age"), Some(json!(40)));
    // The whole workspace at once (exports) says the same.
    let all = store.latest_traits(&workspace).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[&id.0].values().cloned().collect::<Vec<_>>(), profile.traits);
}

pub async fn timeline_pages_with_a_cursor(store: Store) {
    let workspace = workspace(&store, "acme").await;
    // Five events share one timestamp: the cursor must still page through them exactly once.
    let values: Vec<_> = (0..12)
        .map(|n| {
            let minute = if n < 5 { 0 } else { n };
            json!({"type": "track", "userId": "u", "event": format!("e{n}"), "timestamp": format!("2026-01-01T00:{minute:02}:00Z")})
        })
        .collect();
    ingest(&store, &workspace, &values).await;
    let id = customer(&store, &workspace, "userId:u").await;
    let mut seen = Vec::new();
    let mut cursor: Option<TimelineCursor> = None;
    loop {
        let page = store.timeline(&workspace, &id, cursor, 5).await.unwrap().unwrap();
        assert!(page.entries.len() <= 5);
        seen.extend(page.entries.iter().map(|entry| entry.name.clone().unwrap()));
        match page.next_cursor {
            Some(next) => cursor = Some(TimelineCursor::decode(&next.encode()).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(&seen[..7], ["e11", "e10", "e9", "e8", "e7", "e6", "e5"]);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 12);
}

/// One customer with more anonymous ids than SQLite accepts bound parameters (32,766): a device
/// farm, or a bot resetting cookies. Its profile and timeline still read.
pub async fn a_customer_with_very_many_identities_still_reads(store: Store) {
    let workspace = workspace(&store, "acme").await;
    const VISITS: usize = 33_000;
    for chunk in 0..VISITS / 1_000 {
        let values: Vec<_> = (chunk * 1_000..(chunk + 1) * 1_000)
            .map(|n| json!({"type": "page", "userId": "bot", "anonymousId": format!("cookie-{n}"), "messageId": format!("v{n}")}))
            .collect();
        ingest(&store, &workspace, &values).await;
    }
    let bot = customer(&store, &workspace, "userId:bot").await;
    assert_eq!(customer(&store, &workspace, "anonymousId:cookie-32999").await, bot);
    let profile = store.customer_profile(&workspace, &bot).await.unwrap().unwrap();
    assert_eq!(profile.identities.len(), VISITS + 1);
    assert_eq!(profile.channels.iter().map(|usage| usage.events).sum::<i64>(), VISITS as i64);
    let page = store.timeline(&workspace, &bot, None, 10).await.unwrap().unwrap();
    assert_eq!(page.entries.len(), 10);
    assert!(page.next_cursor.is_some());
}
