use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, status_and_json};

/// The survey's invitations once none is waiting for the dispatcher.
pub async fn settled_invitations(app: &TestApp, survey: &str, expected: usize) -> Vec<Value> {
    for _ in 0..100 {
        let body = app.read(&format!("/v1/surveys/{survey}/invitations")).await;
        let invitations = body["data"].as_array().unwrap().clone();
        let settled = invitations
            .iter()
            .all(|invitation| !["pending", "dispatching"].contains(&invitation["state"].as_str().unwrap()));
        if invitations.len() == expected && settled {
            return invitations;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the invitations of {survey} did not settle");
}

fn delivered(user: &str, message_id: &str, channel: &str) -> Value {
    json!({"userId": user, "event": "Order Delivered", "messageId": message_id, "properties": {"channel": channel}})
}

pub async fn triggers_invite_and_the_policy_suppresses_with_reasons(app: TestApp) {
    let definition = json!({
        "name": "After delivery", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps", "required": true}],
        "delivery": {"channel": "link", "notAgainWithinDays": 90,
                     "trigger": {"event": "Order Delivered", "where": {"properties.channel": "store"}}}
    });
    let (status, survey) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    let id = survey["id"].as_str().unwrap().to_owned();

    // A store delivery invites; a web one does not; a resent event invites once.
    assert_eq!(app.send("/v1/track", &delivered("u1", "order-1", "store")).await.status(), StatusCode::OK);
    assert_eq!(app.send("/v1/track", &delivered("u1", "order-1", "store")).await.status(), StatusCode::OK);
    assert_eq!(app.send("/v1/track", &delivered("u1", "order-2", "web")).await.status(), StatusCode::OK);
    let first = settled_invitations(&app, &id, 1).await;
    assert_eq!(
        (first[0]["state"].as_str(), first[0]["messageId"].as_str()),
        (Some("sent"), Some("order-1")),
        "{first:?}"
    );
    let u1 = app.customer("userId:u1").await;
    assert_eq!(first[0]["customerId"], u1["id"]);

    // The next delivery within 90 days is suppressed, and says why.
    app.send("/v1/track", &delivered("u1", "order-3", "store")).await;
    let both = settled_invitations(&app, &id, 2).await;
    let second = both.iter().find(|invitation| invitation["messageId"] == "order-3").unwrap();
    assert_eq!(
        (second["state"].as_str(), second["reason"].as_str()),
        (Some("suppressed"), Some("survey_repeated_too_soon"))
    );
    assert!(second["explanation"].as_str().unwrap().contains("90 days"), "{second}");

    // A dry run explains every customer without sending anything.
    app.send("/v1/identify", &json!({"userId": "u2", "traits": {"unsubscribed": true}})).await;
    app.send("/v1/identify", &json!({"userId": "u3", "traits": {"consent": {"link": false}}})).await;
    app.send("/v1/identify", &json!({"userId": "u4", "traits": {"email": "u4@example.com"}})).await;
    let answered = json!({"customer": "email:u4@example.com", "answers": {"nps": 9}});
    let response = app.post(&format!("/v1/surveys/{id}/responses"), &app.write_key, &answered).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let audience = json!({"customers": ["userId:u1", "userId:u2", "userId:u3", "userId:u4", "userId:newcomer"]});
    let response = app.dry_run(&id, &audience).await;
    let (status, result) = status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let reasons: Vec<(bool, Option<&str>)> = result["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["invite"].as_bool().unwrap(), entry["reason"].as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (false, Some("survey_repeated_too_soon")),
            (false, Some("unsubscribed")),
            (false, Some("no_consent")),
            (false, Some("cooling_down_after_response")),
            (true, None),
        ]
    );
    assert_eq!(result["data"][4]["customerId"], Value::Null, "nobody holds that identity yet");
    assert_eq!(settled_invitations(&app, &id, 2).await.len(), 2, "a dry run records nothing");

    // The workspace's own policy: no rest after an answer, and u4 may be asked.
    let put =
        |key: &str, body: Value| app.client.put(app.url("/v1/contact-policy")).bearer_auth(key).json(&body).send();
    let (status, saved) =
        status_and_json(put(&app.admin_key, json!({"cooldownAfterResponseDays": 0})).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        saved,
        json!({"maxInvitations": 2, "windowDays": 30, "minDaysBetween": 7, "cooldownAfterResponseDays": 0})
    );
    assert_eq!(app.read("/v1/contact-policy").await, saved);
    let (_, result) = status_and_json(app.dry_run(&id, &json!({"customers": ["userId:u4"]})).await).await;
    assert_eq!(
        (result["data"][0]["invite"].as_bool(), result["data"][0]["reason"].as_str()),
        (Some(true), None),
        "{result}"
    );
    let bad = put(&app.admin_key, json!({"maxInvitations": -1, "perWeek": 2})).await.unwrap();
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_settings", &[(None, "perWeek"), (None, "maxInvitations")])
        .await;
    assert_eq!(put(&app.read_key, json!({})).await.unwrap().status(), StatusCode::FORBIDDEN);

    let bad = json!({"customers": ["nonsense"]});
    let response = app.dry_run(&id, &bad).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", &[(None, "customers[0]")]).await;
    let broken = json!({"name": "x", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}],
                        "delivery": {"channel": "pigeon", "trigger": {"event": "Order Delivered", "delayMinutes": "soon"}}});
    let response = app.post("/v1/surveys", &app.admin_key, &broken).send().await.unwrap();
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_survey",
        &[(None, "delivery.channel"), (None, "delivery.trigger.delayMinutes")],
    )
    .await;
}

/// The whole loop on the hosted page: an event invites, the link opens the survey, the answers
/// land on the customer's timeline, the link is answered once, and the next invitation waits out
/// the cooldown with its reason.
pub async fn a_link_invitation_is_answered_once_on_the_hosted_page(app: TestApp) {
    let survey = |name: &str, event: &str| {
        json!({"name": name, "kind": "transactional", "thankYou": "Thanks, see you soon!",
               "questions": [{"id": "nps", "type": "nps", "required": true},
                             {"id": "why", "type": "text", "text": "What is the main reason for your score?",
                              "showIf": {"question": "nps", "min": 0, "max": 6}}],
               "delivery": {"channel": "link", "trigger": {"event": event}}})
    };
    let app = &app;
    let create = |definition: Value| async move {
        let response = app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap();
        status_and_json(response).await.1["id"].as_str().unwrap().to_owned()
    };
    let delivery = create(survey("After delivery", "Order Delivered")).await;
    let support = create(survey("After support", "Ticket Closed")).await;
    app.send("/v1/identify", &json!({"userId": "jane", "traits": {"email": "jane@example.com"}})).await;
    app.send("/v1/track", &json!({"userId": "jane", "event": "Order Delivered", "messageId": "order-9"})).await;
    let invitation = settled_invitations(app, &delivery, 1).await.remove(0);
    assert_eq!(invitation["state"], "sent", "{invitation}");
    let link = app.url(invitation["url"].as_str().expect("a sent invitation has a link"));

    let page = app.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("How likely are you to recommend us") && html.contains("name=\"q.nps\""), "{html}");
    assert!(html.contains("<label for=\"q.why\">"), "the text box is labelled: {html}");

    // A bad answer re-shows the form with the problem; nothing is stored.
    let bad = app.client.post(&link).form(&[("q.nps", "11")]).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("outside 0-10"));
    // The form comes back with what was given, so nothing has to be typed again.
    let long = "x".repeat(5_001);
    let bad = app.client.post(&link).form(&[("q.nps", "4"), ("q.why", long.as_str())]).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(html.contains(r#"value="4" required checked"#), "the score is still chosen: {html}");
    assert!(html.contains(&format!("{long}</textarea>")), "the text is still there");
    assert!(!html.contains(r#"value="5" required checked"#));

    let sent = app.client.post(&link).form(&[("q.nps", "4"), ("q.why", "Late")]).send().await.unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(sent.text().await.unwrap().contains("Thanks, see you soon!"));
    let again = app.client.post(&link).form(&[("q.nps", "10")]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("already answered"));
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::CONFLICT);
    let forged = app.client.get(app.url("/s/not-a-token")).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    let responses = app.read(&format!("/v1/surveys/{delivery}/responses")).await;
    let data = responses["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "answered once: {responses}");
    assert_eq!(
        (data[0]["answers"].clone(), data[0]["channel"].as_str()),
        (json!({"nps": 4, "why": "Late"}), Some("link"))
    );
    let jane = app.customer("userId:jane").await;
    let timeline = app.timeline(jane["id"].as_str().unwrap()).await;
    assert!(
        timeline
            .iter()
            .any(|entry| entry["name"] == "Survey Answered" && entry["properties"]["answers"]["why"] == "Late")
    );
    let answered = settled_invitations(app, &delivery, 1).await.remove(0);
    assert_eq!((answered["state"].as_str(), answered["url"].as_str()), (Some("responded"), None));

    // Another survey's trigger right after: suppressed by the cooldown after an answer.
    app.send("/v1/track", &json!({"userId": "jane", "event": "Ticket Closed", "messageId": "ticket-1"})).await;
    let suppressed = settled_invitations(app, &support, 1).await.remove(0);
    assert_eq!(
        (suppressed["state"].as_str(), suppressed["reason"].as_str()),
        (Some("suppressed"), Some("cooling_down_after_response"))
    );
}

/// A relational survey goes out on its cadence: one invitation per customer and period, spread
/// over the period, and the next period's once the clock gets there.
pub async fn a_relational_survey_invites_every_customer_once_per_period(app: TestApp) {
    let definition = json!({"name": "Quarterly NPS", "kind": "relational",
        "questions": [{"id": "nps", "type": "nps", "required": true}],
        "delivery": {"channel": "link", "cadenceDays": 30}});
    let (status, survey) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/identify", &json!({"userId": "u1", "traits": {"email": "u1@example.com"}})).await;
    app.send("/v1/identify", &json!({"anonymousId": "a2", "traits": {"email": "two@example.com"}})).await;
    app.send("/v1/page", &json!({"anonymousId": "visitor-3"})).await;

    let secret = app.store.secret(rapport_server::services::hosted_survey::LINK_SECRET).await.unwrap();
    let dispatcher =
        rapport_server::services::invitations::Dispatcher::new(app.store.clone(), None, app.url(""), secret);
    let now = rapport_store::now_ms();
    dispatcher.plan_cadence(now).await.unwrap();
    let planned = app.read(&format!("/v1/surveys/{id}/invitations")).await["data"].as_array().unwrap().clone();
    let mut identities: Vec<&str> = planned.iter().map(|invitation| invitation["identity"].as_str().unwrap()).collect();
    identities.sort();
    assert_eq!(
        identities,
        ["anonymousId:visitor-3", "email:two@example.com", "userId:u1"],
        "a user id is preferred, then an e-mail"
    );
    assert_eq!(dispatcher.plan_cadence(now).await.unwrap(), 0, "once per period");
    let period = 30 * 24 * 60 * 60 * 1000_i64;
    let period_start = now.div_euclid(period) * period;
    for invitation in &planned {
        let due = time::OffsetDateTime::parse(
            invitation["dueAt"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let due_ms = rapport_core::resolution::millis(due);
        assert!((period_start..period_start + period).contains(&due_ms), "{invitation}");
    }
    assert_eq!(dispatcher.plan_cadence(now + period).await.unwrap(), 3, "the next period asks again");

    // A transactional survey cannot have a cadence.
    let wrong = json!({"name": "x", "kind": "transactional", "questions": [{"id": "nps", "type": "nps"}],
                       "delivery": {"channel": "link", "cadenceDays": 30}});
    let response = app.post("/v1/surveys", &app.admin_key, &wrong).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_survey", &[(None, "delivery.cadenceDays")]).await;
}

/// A trigger may ask about the customer's traits as they are after the triggering batch.
pub async fn a_trigger_can_require_customer_traits(app: TestApp) {
    let definition = json!({"name": "Pro onboarding", "kind": "transactional",
        "questions": [{"id": "ces", "type": "ces"}],
        "delivery": {"channel": "link", "trigger": {"event": "Setup Finished", "where": {"traits.plan": "pro"}}}});
    let (_, survey) = status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/identify", &json!({"userId": "free-1", "traits": {"plan": "free"}})).await;
    app.send("/v1/track", &json!({"userId": "free-1", "event": "Setup Finished", "messageId": "s1"})).await;
    app.send("/v1/track", &json!({"userId": "nobody", "event": "Setup Finished", "messageId": "s2"})).await;
    // The plan is set in the same batch as the event.
    let batch = json!({"batch": [
        {"type": "identify", "userId": "pro-1", "traits": {"plan": "pro"}},
        {"type": "track", "userId": "pro-1", "event": "Setup Finished", "messageId": "s3"}]});
    assert_eq!(app.send("/v1/batch", &batch).await.status(), StatusCode::OK);
    let invitations = settled_invitations(&app, &id, 1).await;
    assert_eq!(invitations[0]["messageId"], "s3", "{invitations:?}");
}

/// A survey in German gets German standard questions and a German page; a bad link follows the
/// browser's language.
pub async fn the_hosted_page_speaks_the_survey_language(app: TestApp) {
    let definition = json!({"name": "Lieferung", "kind": "transactional", "language": "de",
        "questions": [{"id": "nps", "type": "nps", "required": true}],
        "delivery": {"channel": "link", "trigger": {"event": "Order Delivered"}}});
    let (status, survey) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    assert!(survey["definition"]["questions"][0]["text"].as_str().unwrap().starts_with("Wie wahrscheinlich"));
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/track", &json!({"userId": "k1", "event": "Order Delivered"})).await;
    let invitation = settled_invitations(&app, &id, 1).await.remove(0);
    let page = app.client.get(app.url(invitation["url"].as_str().unwrap())).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("lang=\"de\"") && page.contains("Antworten senden") && page.contains("Sehr wahrscheinlich"),
        "{page}"
    );
    let bad = app.client.get(app.url("/s/forged")).header("Accept-Language", "de-DE,de;q=0.9").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
    assert!(bad.text().await.unwrap().contains("ungültig"));
    let wrong =
        json!({"name": "x", "kind": "relational", "language": "fr", "questions": [{"id": "nps", "type": "nps"}]});
    let response = app.post("/v1/surveys", &app.admin_key, &wrong).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_survey", &[(None, "language")]).await;
}

/// A survey split into pages: each page is checked and kept as it is sent, a respondent who
/// leaves comes back to the page after the last one kept, and the last page completes the
/// response with every page's answers.
pub async fn a_long_survey_keeps_each_page(app: TestApp) {
    let definition = json!({"name": "Annual review", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps", "required": true},
                      {"id": "why", "type": "text", "text": "What is the main reason for your score?", "page": 2,
                       "showIf": {"question": "nps", "min": 0, "max": 6}},
                      {"id": "ces", "type": "ces", "required": true},
                      {"id": "more", "type": "text", "text": "Anything else?", "page": 3}],
        "delivery": {"channel": "link", "trigger": {"event": "Year Ended"}}});
    let (status, survey) =
        status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{survey}");
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/track", &json!({"userId": "pat", "event": "Year Ended", "messageId": "y-1"})).await;
    let invitation = settled_invitations(&app, &id, 1).await.remove(0);
    let link = app.url(invitation["url"].as_str().unwrap());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let html = |response: reqwest::Response| async move { response.text().await.unwrap() };

    let first = html(client.get(&link).send().await.unwrap()).await;
    assert!(first.contains("Page 1 of 3") && first.contains("name=\"q.nps\"") && !first.contains("q.ces"), "{first}");
    assert!(first.contains(">Next<"));
    // A page's problems come back on that page; nothing is kept.
    let refused = client.post(&link).form(&[("page", "1"), ("q.nps", "11")]).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(html(client.get(&link).send().await.unwrap()).await.contains("Page 1 of 3"));
    let kept = client.post(&link).form(&[("page", "1"), ("q.nps", "4")]).send().await.unwrap();
    assert_eq!(kept.status(), StatusCode::SEE_OTHER);
    // Page 2: the follow-up on page 1's score shows; a required answer missing is refused.
    let second = html(client.get(&link).send().await.unwrap()).await;
    assert!(second.contains("Page 2 of 3") && second.contains("q.why") && second.contains("q.ces"), "{second}");
    let missing = client.post(&link).form(&[("page", "2"), ("q.why", "Slow")]).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(html(missing).await.contains("ces"));
    let kept = client.post(&link).form(&[("page", "2"), ("q.why", "Slow"), ("q.ces", "5")]).send().await.unwrap();
    assert_eq!(kept.status(), StatusCode::SEE_OTHER);
    // Leaving and coming back: the next page, nothing stored as a response yet.
    assert!(html(client.get(&link).send().await.unwrap()).await.contains("Page 3 of 3"));
    assert_eq!(app.read(&format!("/v1/surveys/{id}/responses")).await["data"], json!([]));
    let done = client.post(&link).form(&[("page", "3"), ("q.more", "Keep it up")]).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let responses = app.read(&format!("/v1/surveys/{id}/responses")).await;
    assert_eq!(responses["data"][0]["answers"], json!({"nps": 4, "why": "Slow", "ces": 5, "more": "Keep it up"}));
    let again = client.post(&link).form(&[("page", "3"), ("q.more", "Again")]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

/// A dispatcher pass decides its invitations from one read made at its start: a second
/// invitation to the same customer in the same pass (here through another of their identities)
/// still sees the first one sent.
pub async fn a_dispatcher_pass_counts_what_it_sent(app: TestApp) {
    use rapport_server::services::hosted_survey::LINK_SECRET;
    use rapport_server::services::invitations::Dispatcher;
    let definition = json!({"name": "After delivery", "kind": "transactional",
        "questions": [{"id": "nps", "type": "nps"}],
        "delivery": {"channel": "link", "notAgainWithinDays": 30,
                     "trigger": {"event": "Order Delivered", "delayMinutes": 60}}});
    let (_, survey) = status_and_json(app.post("/v1/surveys", &app.admin_key, &definition).send().await.unwrap()).await;
    let id = survey["id"].as_str().unwrap().to_owned();
    app.send("/v1/identify", &json!({"userId": "ann", "anonymousId": "ann-phone"})).await;
    app.send("/v1/track", &json!({"userId": "ann", "event": "Order Delivered", "messageId": "d1"})).await;
    app.send("/v1/track", &json!({"anonymousId": "ann-phone", "event": "Order Delivered", "messageId": "d2"})).await;
    app.send("/v1/track", &json!({"userId": "bob", "event": "Order Delivered", "messageId": "d3"})).await;
    for _ in 0..100 {
        if app.read(&format!("/v1/surveys/{id}/invitations")).await["data"].as_array().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let secret = app.store.secret(LINK_SECRET).await.unwrap();
    let dispatcher = Dispatcher::new(app.store.clone(), None, app.url(""), secret);
    assert_eq!(dispatcher.run_once(rapport_store::now_ms() + 2 * 60 * 60 * 1000).await.unwrap(), 3, "one pass");
    let invitations = settled_invitations(&app, &id, 3).await;
    let outcome = |message: &str| {
        let invitation = invitations.iter().find(|invitation| invitation["messageId"] == message).unwrap();
        (invitation["state"].as_str().unwrap().to_owned(), invitation["reason"].as_str().map(str::to_owned))
    };
    assert_eq!(outcome("d1"), ("sent".to_owned(), None));
    assert_eq!(outcome("d2"), ("suppressed".to_owned(), Some("survey_repeated_too_soon".to_owned())));
    assert_eq!(outcome("d3"), ("sent".to_owned(), None), "another customer is not held back");
}
