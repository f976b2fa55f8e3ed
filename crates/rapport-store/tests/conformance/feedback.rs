use rapport_core::survey::parse_definition;
use rapport_core::survey_answers::check_answers;
use rapport_store::Store;
use rapport_store::feedback_records::{
    AlertChanges, AlertRecord, CountBy, FeedbackFilter, NewFeedback, NewFeedbackTopic,
};
use rapport_store::records::NewResponse;
use serde_json::json;

use crate::workspace;

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_780_000_000_000 / HOUR * HOUR;

fn item(source: &str, at: i64, label: &str, topics: &[&str], key: Option<&str>) -> NewFeedback {
    NewFeedback {
        kind: "direct".into(),
        source: source.into(),
        channel: Some("web".into()),
        touchpoint: None,
        identity_key: Some("email:jane@example.com".into()),
        occurred_at_ms: at,
        received_at_ms: at,
        text: format!("{label} text at {at}"),
        language: Some("eng".into()),
        score: if label == "negative" { -0.5 } else { 0.5 },
        label: label.into(),
        details: json!({"rating": 2}),
        analysis: json!({"sentences": [], "topics": topics}),
        redactions: json!([]),
        topics: topics
            .iter()
            .map(|t| NewFeedbackTopic { topic: (*t).into(), score: -0.5, label: label.into() })
            .collect(),
        idempotency_key: key.map(Into::into),
    }
}

/// Items are stored once per idempotency key, read back whole, filtered, counted per topic,
/// source and hour, and re-tagged.
pub async fn feedback_is_stored_once_filtered_and_counted(store: Store) {
    let acme = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    let items = vec![
        item("app", T0, "negative", &["login", "login-2fa"], Some("k1")),
        item("app", T0 + 10, "negative", &["login"], None),
        item("email", T0 + HOUR, "positive", &["delivery"], None),
        NewFeedback { channel: Some("email".into()), ..item("email", T0 + 2 * HOUR + 5, "negative", &[], Some("k2")) },
    ];
    let stored = store.insert_feedback(&acme, &items).await.unwrap();
    assert!(stored.iter().all(|(_, created)| *created));
    // The same keys again: nothing new, the first ids back.
    let again = store.insert_feedback(&acme, &[items[0].clone(), items[3].clone()]).await.unwrap();
    assert_eq!(again, vec![(stored[0].0.clone(), false), (stored[3].0.clone(), false)]);
    store.insert_feedback(&other, &[item("app", T0, "negative", &["login"], Some("k1"))]).await.unwrap();

    let one = store.feedback(&acme, &stored[0].0).await.unwrap().unwrap();
    assert_eq!(one.text, items[0].text);
    assert_eq!(one.details, json!({"rating": 2}));
    assert_eq!(one.identity_key.as_deref(), Some("email:jane@example.com"));
    assert!(store.feedback(&other, &stored[0].0).await.unwrap().is_none(), "workspaces are apart");

    let list = |filter: FeedbackFilter| {
        let store = store.clone();
        let acme = acme.clone();
        async move {
            store.list_feedback(&acme, &filter).await.unwrap().into_iter().map(|r| r.occurred_at_ms).collect::<Vec<_>>()
        }
    };
    let all = FeedbackFilter { limit: 10, ..FeedbackFilter::default() };
    assert_eq!(list(all.clone()).await, [T0 + 2 * HOUR + 5, T0 + HOUR, T0 + 10, T0]);
    assert_eq!(list(FeedbackFilter { topic: Some("login".into()), ..all.clone() }).await, [T0 + 10, T0]);
    assert_eq!(list(FeedbackFilter { channel: Some("email".into()), ..all.clone() }).await, [T0 + 2 * HOUR + 5]);
    // Words, any case; LIKE's wildcards are taken literally.
    assert_eq!(list(FeedbackFilter { text: Some("POSITIVE Text".into()), ..all.clone() }).await, [T0 + HOUR]);
    assert!(list(FeedbackFilter { text: Some("%".into()), ..all.clone() }).await.is_empty());
    assert!(list(FeedbackFilter { text: Some("negative_text".into()), ..all.clone() }).await.is_empty());
    assert_eq!(
        list(FeedbackFilter { source: Some("email".into()), label: Some("negative".into()), ..all.clone() }).await,
        [T0 + 2 * HOUR + 5]
    );
    assert_eq!(
        list(FeedbackFilter { from_ms: Some(T0 + 1), to_ms: Some(T0 + 2 * HOUR), ..all.clone() }).await,
        [T0 + HOUR, T0 + 10]
    );
    let first_page = store.list_feedback(&acme, &FeedbackFilter { limit: 2, ..all.clone() }).await.unwrap();
    let cursor = first_page.last().map(|r| (r.occurred_at_ms, r.id.clone()));
    assert_eq!(list(FeedbackFilter { before: cursor, ..all.clone() }).await, [T0 + 10, T0]);
    assert_eq!(
        list(FeedbackFilter { identity_keys: Some(vec!["email:nobody@example.com".into()]), ..all.clone() }).await,
        Vec::<i64>::new()
    );

    let mut topics = store.feedback_counts(&acme, CountBy::Topic, T0, T0 + 3 * HOUR, HOUR).await.unwrap();
    topics.sort_by(|a, b| (&a.key, a.bucket_ms).cmp(&(&b.key, b.bucket_ms)));
    let topics: Vec<(String, i64, u64, u64)> =
        topics.into_iter().map(|c| (c.key, c.bucket_ms, c.total, c.negative)).collect();
    assert_eq!(
        topics,
        [("delivery".into(), T0 + HOUR, 1, 0), ("login".into(), T0, 2, 2), ("login-2fa".into(), T0, 1, 1)]
    );
    let sources = store.feedback_counts(&acme, CountBy::Source, T0, T0 + 3 * HOUR, HOUR).await.unwrap();
    assert_eq!(sources.iter().map(|c| c.negative).sum::<u64>(), 3);
    let all_counts = store.feedback_counts(&acme, CountBy::All, T0, T0 + 3 * HOUR, 3 * HOUR).await.unwrap();
    assert_eq!(all_counts.iter().map(|c| c.total).sum::<u64>(), 4);
    let without_2fa =
        store.negative_counts_excluding(&acme, "topic", "login", &["login-2fa".into()], T0, T0 + HOUR).await.unwrap();
    assert_eq!(without_2fa.values().sum::<u64>(), 1);
    let app_rest =
        store.negative_counts_excluding(&acme, "source", "app", &["login".into()], T0, T0 + HOUR).await.unwrap();
    assert!(app_rest.is_empty());
    let examples = store.negative_examples(&acme, "topic", "login", T0, T0 + HOUR, 5).await.unwrap();
    assert_eq!(examples.len(), 2);

    // Re-tagging replaces the topic rows and the analysis.
    let texts = store.feedback_texts(&acme, "", 100).await.unwrap();
    assert_eq!(texts.len(), 4);
    let retagged: Vec<_> = texts
        .into_iter()
        .map(|mut text| {
            text.analysis = json!({"retagged": true});
            (text, vec![NewFeedbackTopic { topic: "everything".into(), score: 0.0, label: "neutral".into() }])
        })
        .collect();
    store.retag_feedback(&acme, &retagged).await.unwrap();
    assert_eq!(list(FeedbackFilter { topic: Some("login".into()), ..all.clone() }).await, Vec::<i64>::new());
    assert_eq!(list(FeedbackFilter { topic: Some("everything".into()), ..all }).await.len(), 4);
    assert_eq!(store.feedback(&acme, &stored[0].0).await.unwrap().unwrap().analysis, json!({"retagged": true}));
}

/// A response's open-text feedback is stored with it, once, keyed by the response.
pub async fn survey_comments_are_stored_with_their_response(store: Store) {
    let acme = workspace(&store, "acme").await;
    let definition = parse_definition(&json!({"name": "S", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps"}, {"id": "why", "type": "text", "text": "Why?"}]}))
    .unwrap();
    let survey = store.create_survey(&acme, &definition).await.unwrap();
    let answers = check_answers(&definition, json!({"nps": 3, "why": "Login broke"}).as_object().unwrap()).unwrap();
    let response = NewResponse {
        survey_id: survey.id.clone(),
        version: 1,
        identity_key: "email:jane@example.com".into(),
        channel: None,
        touchpoint: None,
        agent: None,
        submitted_at_ms: T0,
        received_at_ms: T0,
        idempotency_key: Some("r1".into()),
        answers,
        feedback: vec![NewFeedback {
            source: "survey".into(),
            details: json!({"surveyId": survey.id}),
            ..item("survey", T0, "negative", &["login"], None)
        }],
        invitation: None,
    };
    let (record, created) = store.insert_response(&acme, &response).await.unwrap();
    assert!(created);
    let (_, again) = store.insert_response(&acme, &response).await.unwrap();
    assert!(!again);
    let imported = NewResponse { idempotency_key: Some("import:r2".into()), ..response.clone() };
    assert_eq!(store.import_responses(&acme, std::slice::from_ref(&imported)).await.unwrap(), 1);
    assert_eq!(store.import_responses(&acme, &[imported]).await.unwrap(), 0);
    let items = store.list_feedback(&acme, &FeedbackFilter { limit: 10, ..FeedbackFilter::default() }).await.unwrap();
    assert_eq!(items.len(), 2, "one comment per stored response");
    let mine = items.iter().find(|i| i.details["responseId"] == record.id.as_str()).expect("linked to its response");
    assert_eq!(mine.source, "survey");
}

fn alert(id: &str, subject: &str, at: i64) -> AlertRecord {
    AlertRecord {
        id: id.into(),
        scope: "topic".into(),
        subject: subject.into(),
        status: "open".into(),
        raised_at_ms: at,
        updated_at_ms: at,
        window_start_ms: at - HOUR,
        window_end_ms: at,
        detail: json!({"observed": 9}),
    }
}

/// Alerts are raised with their domain event in one transaction, extended, closed and listed.
pub async fn alerts_and_their_events_are_kept(store: Store) {
    let acme = workspace(&store, "acme").await;
    let raised = AlertChanges { raised: vec![alert("a1", "login", T0)], ..AlertChanges::default() };
    store.apply_alert_changes(&acme, &raised, &[json!({"type": "alert.raised", "id": "a1"})]).await.unwrap();
    let open = store.alerts(&acme, Some("open"), 10).await.unwrap();
    assert_eq!(open.len(), 1);
    // A concurrent evaluation raising the same spike raises nothing.
    let again = AlertChanges { raised: vec![alert("a2", "login", T0)], ..AlertChanges::default() };
    assert!(store.apply_alert_changes(&acme, &again, &[json!({"id": "a2"})]).await.unwrap().is_empty());
    assert_eq!(store.alerts(&acme, Some("open"), 10).await.unwrap().len(), 1);
    let extended = AlertRecord {
        window_end_ms: T0 + HOUR,
        updated_at_ms: T0 + HOUR,
        detail: json!({"observed": 12}),
        ..open[0].clone()
    };
    store
        .apply_alert_changes(&acme, &AlertChanges { extended: vec![extended], ..AlertChanges::default() }, &[])
        .await
        .unwrap();
    let open = store.alerts(&acme, Some("open"), 10).await.unwrap();
    assert_eq!((open[0].window_end_ms, open[0].detail["observed"].clone()), (T0 + HOUR, json!(12)));
    store
        .apply_alert_changes(&acme, &AlertChanges { closed: vec!["a1".into()], ..AlertChanges::default() }, &[])
        .await
        .unwrap();
    assert!(store.alerts(&acme, Some("open"), 10).await.unwrap().is_empty());
    assert_eq!(store.alerts(&acme, None, 10).await.unwrap()[0].status, "closed");
    let events = store.domain_events(&acme, 0, Some("alert.raised"), 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["id"], "a1");
    assert!(store.domain_events(&acme, events[0].seq, None, 10).await.unwrap().is_empty());
    // An alert that cannot be stored takes its event with it.
    let duplicate = AlertChanges { raised: vec![alert("a1", "login", T0)], ..AlertChanges::default() };
    assert!(store.apply_alert_changes(&acme, &duplicate, &[json!({"id": "again"})]).await.is_err());
    assert_eq!(store.domain_events(&acme, 0, None, 10).await.unwrap().len(), 1);
}
