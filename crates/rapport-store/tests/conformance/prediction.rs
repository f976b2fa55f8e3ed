//! Churn prediction's storage: events with their customer, model versions, scores and the
//! `customer.churn_risk` announcements written with the predictions.

use rapport_store::Store;
use rapport_store::prediction_records::CustomerPrediction;
use serde_json::json;

use crate::{ingest, workspace};

fn score(customer: &str, probability: f64, flagged: bool) -> CustomerPrediction {
    CustomerPrediction {
        customer_id: customer.into(),
        churn_probability: Some(probability),
        flagged,
        factors: json!([{"column": "logins_trend", "direction": "raises"}]),
        health_score: 100.0 * (1.0 - probability),
        health: json!({"score": 100.0 * (1.0 - probability)}),
        model_version: Some(1),
        scored_at_ms: 1_000,
        lifetime_value: (probability < 0.5).then(|| json!({"expectedValue": 120.5, "expectedPurchases": 2.25})),
    }
}

pub async fn churn_models_scores_and_announcements(store: Store) {
    let workspace = workspace(&store, "prediction").await;
    ingest(
        &store,
        &workspace,
        &[
            json!({"type": "track", "userId": "u1", "event": "Signed In", "timestamp": "2026-01-01T00:00:00Z", "messageId": "m1"}),
            json!({"type": "page", "userId": "u1", "name": "How to cancel", "properties": {"path": "/help/cancel"},
                   "timestamp": "2026-01-02T00:00:00Z", "messageId": "m2"}),
            json!({"type": "identify", "userId": "u2", "traits": {"plan": "pro"}, "timestamp": "2026-01-03T00:00:00Z", "messageId": "m3"}),
        ],
    )
    .await;
    let mut events = Vec::new();
    store.each_customer_event(&workspace, i64::MAX, |event| events.push(event)).await.unwrap();
    events.sort_by_key(|event| event.timestamp_ms);
    assert_eq!(events.len(), 2, "track and page, not identify");
    assert_eq!(events[0].name.as_deref(), Some("Signed In"));
    assert_eq!(events[1].properties["path"], "/help/cancel");
    assert_eq!(events[0].customer_id, events[1].customer_id);
    let roots = store.identity_roots(&workspace).await.unwrap();
    assert!(roots.iter().any(|(key, root)| key == "userId:u1" && *root == events[0].customer_id), "{roots:?}");

    assert!(store.latest_churn_model(&workspace).await.unwrap().is_none());
    assert_eq!(store.save_churn_model(&workspace, &json!({"m": 1}), &json!({"auc": 0.8})).await.unwrap(), 1);
    assert_eq!(store.save_churn_model(&workspace, &json!({"m": 2}), &json!({"auc": 0.9})).await.unwrap(), 2);
    let latest = store.latest_churn_model(&workspace).await.unwrap().unwrap();
    assert_eq!((latest.version, latest.model["m"].as_i64()), (2, Some(2)));

    let announce = |score: &CustomerPrediction| json!({"customerId": score.customer_id});
    let newly = store
        .replace_predictions(&workspace, &[score("a", 0.9, true), score("b", 0.2, false)], &announce)
        .await
        .unwrap();
    assert_eq!(newly, ["a"]);
    // Scored again: a stays flagged (no second announcement), b becomes flagged.
    let unscored = CustomerPrediction { churn_probability: None, model_version: None, ..score("d", 0.0, false) };
    let newly = store
        .replace_predictions(
            &workspace,
            &[unscored, score("a", 0.8, true), score("b", 0.7, true), score("c", 0.1, false)],
            &announce,
        )
        .await
        .unwrap();
    assert_eq!(newly, ["b"]);
    let events = store.domain_events(&workspace, 0, Some("customer.churn_risk"), 100).await.unwrap();
    let announced: Vec<String> =
        events.iter().map(|event| event.payload["customerId"].as_str().unwrap().to_string()).collect();
    assert_eq!(announced, ["a", "b"]);
    let flagged = store.predictions(&workspace, true, None, 10).await.unwrap();
    assert_eq!(flagged.iter().map(|s| s.customer_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let all = store.predictions(&workspace, false, None, 10).await.unwrap();
    let c = all.iter().find(|p| p.customer_id == "c").unwrap();
    assert_eq!(c.lifetime_value, Some(json!({"expectedValue": 120.5, "expectedPurchases": 2.25})), "kept whole");
    assert_eq!(all.iter().find(|p| p.customer_id == "a").unwrap().lifetime_value, None);
    let order: Vec<&str> = all.iter().map(|p| p.customer_id.as_str()).collect();
    assert_eq!(order, ["a", "b", "c", "d"], "highest risk first, unscored last");
    let one = store.predictions(&workspace, false, Some("c"), 10).await.unwrap();
    assert_eq!((one.len(), one[0].flagged, one[0].churn_probability), (1, false, Some(0.1)));
    assert_eq!(one[0].health["score"], 90.0);
    assert_eq!(one[0].factors[0]["column"], "logins_trend");
}
