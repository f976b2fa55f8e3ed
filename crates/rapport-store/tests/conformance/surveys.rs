use rapport_core::survey::{SurveyDefinition, parse_definition};
use rapport_core::survey_answers::check_answers;
use rapport_store::Store;
use rapport_store::records::{NewResponse, ResponseCursor, StoredAnswer};
use serde_json::{Value, json};

use crate::workspace;

fn definition(name: &str) -> SurveyDefinition {
    parse_definition(&json!({
        "name": name, "kind": "transactional", "touchpoint": "delivery",
        "questions": [
            {"id": "nps", "type": "nps", "required": true},
            {"id": "reason", "type": "text", "text": "Why?", "showIf": {"question": "nps", "min": 0, "max": 6}},
            {"id": "csat", "type": "csat", "dimensions": ["knowledge"]},
            {"id": "liked", "type": "multiple_choice", "text": "Liked?", "options": ["speed", "price"]}
        ]
    }))
    .expect("valid definition")
}

fn response(survey: &str, version: i64, answers: Value, at_ms: i64, key: Option<&str>) -> NewResponse {
    NewResponse {
        survey_id: survey.to_owned(),
        version,
        identity_key: "email:jane@example.com".to_owned(),
        channel: Some("email".to_owned()),
        touchpoint: Some("delivery".to_owned()),
        agent: None,
        submitted_at_ms: at_ms,
        received_at_ms: at_ms + 5,
        idempotency_key: key.map(str::to_owned),
        answers: check_answers(&definition("x"), answers.as_object().unwrap()).expect("valid answers"),
        feedback: Vec::new(),
        invitation: None,
    }
}

pub async fn survey_versions_never_change(store: Store) {
    let (acme, other) = (workspace(&store, "acme").await, workspace(&store, "other").await);
    let created = store.create_survey(&acme, &definition("After delivery")).await.unwrap();
    assert_eq!((created.version, created.current_version), (1, 1));
    let edited = store.add_survey_version(&acme, &created.id, &definition("After delivery v2")).await.unwrap().unwrap();
    assert_eq!((edited.version, edited.current_version, edited.definition.name.as_str()), (2, 2, "After delivery v2"));

    let first = store.survey(&acme, &created.id, Some(1)).await.unwrap().expect("version 1 is kept");
    assert_eq!((first.definition.name.as_str(), first.current_version), ("After delivery", 2));
    let current = store.survey(&acme, &created.id, None).await.unwrap().unwrap();
    assert_eq!(current.definition, definition("After delivery v2"));
    assert!(store.survey(&acme, &created.id, Some(3)).await.unwrap().is_none());

    let listed = store.surveys(&acme).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, 2);
    // Another workspace sees nothing and cannot edit it.
    assert!(store.survey(&other, &created.id, None).await.unwrap().is_none());
    assert!(store.surveys(&other).await.unwrap().is_empty());
    assert!(store.add_survey_version(&other, &created.id, &definition("hijack")).await.unwrap().is_none());
}

pub async fn responses_keep_typed_answers_once(store: Store) {
    let acme = workspace(&store, "acme").await;
    let survey = store.create_survey(&acme, &definition("After delivery")).await.unwrap();
    let answers =
        json!({"nps": 4, "reason": "Late", "csat": {"score": 2, "knowledge": 5}, "liked": ["speed", "price"]});
    let (stored, created) =
        store.insert_response(&acme, &response(&survey.id, 1, answers.clone(), 1_000, Some("k1"))).await.unwrap();
    assert!(created);
    let answer =
        |question: &str, dimension: Option<&str>, score: Option<i64>, choice: Option<&str>, text: Option<&str>| {
            StoredAnswer {
                question: question.to_owned(),
                question_type: match question {
                    "reason" => "text",
                    "liked" => "multiple_choice",
                    other => other,
                }
                .to_owned(),
                dimension: dimension.map(str::to_owned),
                score,
                choice: choice.map(str::to_owned),
                text: text.map(str::to_owned),
            }
        };
    assert_eq!(
        stored.answers,
        [
            answer("nps", None, Some(4), None, None),
            answer("reason", None, None, None, Some("Late")),
            answer("csat", None, Some(2), None, None),
            answer("csat", Some("knowledge"), Some(5), None, None),
            answer("liked", None, None, Some("speed"), None),
            answer("liked", None, None, Some("price"), None),
        ]
    );
    assert_eq!(
        (stored.identity_key.as_str(), stored.channel.as_deref(), stored.version),
        ("email:jane@example.com", Some("email"), 1)
    );

    // The same idempotency key stores nothing new and returns the first response.
    let (again, created) =
        store.insert_response(&acme, &response(&survey.id, 1, json!({"nps": 10}), 2_000, Some("k1"))).await.unwrap();
    assert!(!created);
    assert_eq!(again, stored);

    for (at, key) in [(3_000, None), (3_000, Some("k2")), (4_000, None)] {
        store.insert_response(&acme, &response(&survey.id, 1, json!({"nps": 9}), at, key)).await.unwrap();
    }
    let first_page = store.responses(&acme, &survey.id, None, 2).await.unwrap();
    let last = first_page.last().unwrap();
    let cursor = ResponseCursor { submitted_at_ms: last.submitted_at_ms, id: last.id.clone() };
    let second_page = store.responses(&acme, &survey.id, Some(&cursor), 10).await.unwrap();
    let times: Vec<i64> = first_page.iter().chain(&second_page).map(|record| record.submitted_at_ms).collect();
    assert_eq!(times, [1_000, 3_000, 3_000, 4_000], "every response once, oldest first");
    assert!(second_page.iter().all(|record| record.answers.len() == 1));
    let other = workspace(&store, "other").await;
    assert!(store.responses(&other, &survey.id, None, 10).await.unwrap().is_empty());
}

/// A customer's scores over time: their NPS and CSAT answers (not the CSAT's dimensions), in
/// order, under any of their identity keys, and no one else's.
pub async fn a_customers_scores_over_time(store: Store) {
    let (acme, other) = (workspace(&store, "acme").await, workspace(&store, "other").await);
    let survey = store.create_survey(&acme, &definition("After delivery")).await.unwrap();
    let elsewhere = store.create_survey(&other, &definition("After delivery")).await.unwrap();
    let answered = |survey: &str, who: &str, answers: Value, at: i64| {
        let mut response = response(survey, 1, answers, at, None);
        response.identity_key = who.to_owned();
        response
    };
    for response in [
        answered(&survey.id, "email:jane@example.com", json!({"nps": 9, "csat": {"score": 4, "knowledge": 2}}), 3_000),
        answered(&survey.id, "userId:jane-1", json!({"nps": 3, "reason": "late"}), 1_000),
        answered(&survey.id, "email:bob@example.com", json!({"nps": 10}), 2_000),
    ] {
        store.insert_response(&acme, &response).await.unwrap();
    }
    let theirs = answered(&elsewhere.id, "email:jane@example.com", json!({"nps": 0}), 500);
    store.insert_response(&other, &theirs).await.unwrap();
    let keys = vec!["email:jane@example.com".to_owned(), "userId:jane-1".to_owned()];
    let scores = store.scores_of(&acme, keys).await.unwrap();
    assert_eq!(scores, vec![(1_000, "nps".to_owned(), 3), (3_000, "nps".to_owned(), 9), (3_000, "csat".to_owned(), 4)]);
    assert!(store.scores_of(&acme, vec!["email:nobody@example.com".to_owned()]).await.unwrap().is_empty());
}
