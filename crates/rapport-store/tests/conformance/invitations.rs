use rapport_core::ids::CustomerId;
use rapport_store::Store;
use rapport_store::records::{InvitationOutcome, NewInvitation, NewResponse};

use crate::workspace;

fn triggered(survey: &str, message_id: &str, due_at_ms: i64) -> NewInvitation {
    NewInvitation {
        survey_id: survey.to_owned(),
        version: 1,
        identity_key: "userId:u1".to_owned(),
        channel: "link".to_owned(),
        trigger_message_id: message_id.to_owned(),
        due_at_ms,
    }
}

async fn nps_survey(store: &Store, workspace: &rapport_core::ids::WorkspaceId) -> rapport_store::records::SurveyRecord {
    let definition = rapport_core::survey::parse_definition(
        &serde_json::json!({"name": "NPS", "kind": "relational", "questions": [{"id": "nps", "type": "nps"}]}),
    )
    .unwrap();
    store.create_survey(workspace, &definition).await.unwrap()
}

pub async fn invitations_are_made_once_and_dispatched_once(store: Store) {
    let acme = workspace(&store, "acme").await;
    let survey = nps_survey(&store, &acme).await;
    let batch =
        [triggered(&survey.id, "m1", 1_000), triggered(&survey.id, "m2", 5_000), triggered(&survey.id, "m1", 1_000)];
    assert_eq!(store.create_invitations(&acme, &batch).await.unwrap(), 2, "one per triggering event");
    assert_eq!(store.create_invitations(&acme, &batch[..1]).await.unwrap(), 0, "a resent event triggers nothing");

    let due = store.due_invitations(2_000, 10).await.unwrap();
    assert_eq!(due.len(), 1, "only what is due");
    assert_eq!((due[0].state.as_str(), due[0].trigger_message_id.as_str()), ("pending", "m1"));
    let first = due[0].id.as_str();
    assert_eq!(store.claim_invitations(&[first, "unknown"], 2_000).await.unwrap(), [first], "only what is pending");
    assert!(store.claim_invitations(&[first], 2_000).await.unwrap().is_empty(), "claimed once");
    assert!(store.claim_invitations(&[], 2_000).await.unwrap().is_empty());
    // A claim its dispatcher never finished is released once it is old.
    assert_eq!(store.release_stale_claims(2_000).await.unwrap(), 0, "not yet stale");
    assert_eq!(store.release_stale_claims(2_001).await.unwrap(), 1);
    assert_eq!(store.due_invitations(2_000, 10).await.unwrap().len(), 1, "pending again");
    assert_eq!(store.claim_invitations(&[first], 2_100).await.unwrap(), [first]);
    assert!(store.due_invitations(2_000, 10).await.unwrap().is_empty());

    let customer = CustomerId("c-1".to_owned());
    let sent = InvitationOutcome {
        state: "sent",
        customer_id: Some(customer.clone()),
        address: None,
        reason: None,
        explanation: None,
        at_ms: 2_000,
        remind_at_ms: Some(2_500),
    };
    store.finish_invitation(&acme, &due[0].id, &sent).await.unwrap();
    let stored = store.invitation(&acme, &due[0].id).await.unwrap().unwrap();
    assert_eq!((stored.state.as_str(), stored.sent_at_ms), ("sent", Some(2_000)));
    assert!(store.reminders_due(2_499, 10).await.unwrap().is_empty());
    assert_eq!(store.reminders_due(2_500, 10).await.unwrap().len(), 1);
    assert!(store.claim_reminder(&acme, &due[0].id, 2_600).await.unwrap());
    assert!(!store.claim_reminder(&acme, &due[0].id, 2_700).await.unwrap(), "one reminder");
    assert!(store.reminders_due(9_999, 10).await.unwrap().is_empty());
    assert_eq!(store.invitation(&acme, &due[0].id).await.unwrap().unwrap().reminded_at_ms, Some(2_600));

    // An answer to the first invitation, as the hosted page stores it.
    let answer = |at_ms: i64| NewResponse {
        survey_id: survey.id.clone(),
        version: 1,
        identity_key: "userId:u1".to_owned(),
        channel: None,
        touchpoint: None,
        agent: None,
        submitted_at_ms: at_ms,
        received_at_ms: at_ms,
        idempotency_key: Some(format!("invitation:{}", due[0].id)),
        answers: Vec::new(),
        feedback: Vec::new(),
        invitation: Some(due[0].id.clone()),
    };
    let unprompted = NewResponse { idempotency_key: None, invitation: None, ..answer(3_000) };
    store.insert_response(&acme, &unprompted).await.unwrap();
    // `userId:u1` is no customer yet: its history is what was sent to that identity.
    let u1 = rapport_core::identity::Identity::user_id("u1").unwrap();
    let facts = store.contact_facts(&acme, &u1).await.unwrap();
    assert!(facts.subject.is_none());
    assert_eq!(facts.invitations.len(), 1);
    assert_eq!((facts.invitations[0].survey_id.as_str(), facts.invitations[0].sent_at_ms), (survey.id.as_str(), 2_000));
    assert_eq!(facts.last_response_ms, Some(3_000));
    let stranger = store.contact_facts(&acme, &rapport_core::identity::Identity::user_id("x").unwrap()).await.unwrap();
    assert!(stranger.invitations.is_empty() && stranger.last_response_ms.is_none() && stranger.consents.is_empty());
    assert_eq!(store.invitations(&acme, &survey.id, 10).await.unwrap().len(), 2);

    // A link names only the invitation; it is answered once.
    let found = store.invitation_anywhere(&due[0].id).await.unwrap().expect("found without a workspace");
    assert_eq!(found.workspace_id, acme);
    assert!(store.insert_response(&acme, &answer(4_000)).await.unwrap().1, "the response is new");
    assert!(!store.insert_response(&acme, &answer(5_000)).await.unwrap().1, "answered once");
    let answered = store.invitation(&acme, &due[0].id).await.unwrap().unwrap();
    assert_eq!((answered.state.as_str(), answered.responded_at_ms), ("responded", Some(4_000)), "in its transaction");
    assert!(store.invitation_anywhere("nope").await.unwrap().is_none());

    // An invitation sent and never answered expires; an answered one does not.
    let second = store.due_invitations(10_000, 10).await.unwrap().remove(0);
    assert_eq!(store.claim_invitations(&[second.id.as_str()], 6_000).await.unwrap(), std::slice::from_ref(&second.id));
    store.finish_invitation(&acme, &second.id, &InvitationOutcome { at_ms: 6_000, ..sent.clone() }).await.unwrap();
    assert_eq!(store.expire_invitations(5_999).await.unwrap(), 0);
    assert_eq!(store.expire_invitations(6_000).await.unwrap(), 1);
    assert_eq!(store.invitation(&acme, &second.id).await.unwrap().unwrap().state, "expired");
    assert_eq!(store.invitation(&acme, &due[0].id).await.unwrap().unwrap().state, "responded");

    // The installation secret is made once and then always the same.
    let secret = store.secret("survey-links").await.unwrap();
    assert_eq!(secret.len(), 64);
    assert_eq!(store.secret("survey-links").await.unwrap(), secret);
    assert_ne!(store.secret("another").await.unwrap(), secret);
    let other = workspace(&store, "other").await;
    assert!(store.invitations(&other, &survey.id, 10).await.unwrap().is_empty());
}

/// A decision asked about one identity reads what was sent to, answered by and stated by every
/// identity of its customer, and the traits the policy reads at their newest values; nothing of
/// another customer.
pub async fn contact_facts_gather_every_identity_of_the_customer(store: Store) {
    use rapport_core::identity::Identity;
    use rapport_core::privacy::{ConsentChoice, Purpose};
    let acme = workspace(&store, "acme").await;
    crate::ingest(
        &store,
        &acme,
        &[
            serde_json::json!({"type": "identify", "messageId": "i1", "anonymousId": "a1",
                "traits": {"email": "Ann@Example.org", "plan": "pro"}, "timestamp": "2026-01-01T00:00:00Z"}),
            serde_json::json!({"type": "identify", "messageId": "i2", "userId": "ann", "anonymousId": "a1",
                "traits": {"unsubscribed": true}, "timestamp": "2026-01-02T00:00:00Z"}),
            serde_json::json!({"type": "identify", "messageId": "i3", "userId": "bob",
                "traits": {"email": "bob@example.org"}, "timestamp": "2026-01-02T00:00:00Z"}),
        ],
    )
    .await;
    let survey = nps_survey(&store, &acme).await;
    let ann = Identity::user_id("ann").unwrap();
    let email = Identity::parse_typed("email:ann@example.org").unwrap();
    let bob = Identity::user_id("bob").unwrap();
    let root = store.customer_by_identity(&acme, &ann).await.unwrap().expect("ann is a customer");
    let bob_root = store.customer_by_identity(&acme, &bob).await.unwrap().expect("bob is a customer");
    store
        .seed_sent_invitations(
            &acme,
            &[
                (survey.id.clone(), root.clone(), email.key(), 1_000),
                (survey.id.clone(), root.clone(), "anonymousId:a1".to_owned(), 2_000),
                (survey.id.clone(), bob_root.clone(), bob.key(), 3_000),
            ],
        )
        .await
        .unwrap();
    let refusal = ConsentChoice {
        purpose: Purpose::Surveys,
        channel: Some("email".to_owned()),
        granted: false,
        source: "api".to_owned(),
        at_ms: 4_000,
    };
    store.record_consents(&acme, &email.key(), std::slice::from_ref(&refusal)).await.unwrap();

    for asked in [&ann, &email] {
        let facts = store.contact_facts(&acme, asked).await.unwrap();
        let subject = facts.subject.expect("a known customer");
        assert_eq!(subject.root, root);
        let mut keys = subject.identity_keys.clone();
        keys.sort();
        assert_eq!(keys, ["anonymousId:a1", "email:ann@example.org", "userId:ann"], "opened, not blind");
        assert_eq!(subject.traits.get("email"), Some(&serde_json::json!("Ann@Example.org")));
        assert_eq!(subject.traits.get("unsubscribed"), Some(&serde_json::json!(true)));
        assert!(!subject.traits.contains_key("plan"), "only what the policy reads");
        let mut sent: Vec<i64> = facts.invitations.iter().map(|invitation| invitation.sent_at_ms).collect();
        sent.sort();
        assert_eq!(sent, [1_000, 2_000], "both of ann's, none of bob's");
        assert_eq!(facts.consents, std::slice::from_ref(&refusal));
        assert_eq!(facts.last_response_ms, None);
    }
    let bobs = store.contact_facts(&acme, &bob).await.unwrap();
    assert_eq!(bobs.invitations.len(), 1);
    assert!(bobs.consents.is_empty());

    // An unanswered invitation whose link expired was still delivered: it keeps counting
    // against the contact rules (a repeat rule of 90 days outlives a link of 14).
    assert_eq!(store.expire_invitations(10_000).await.unwrap(), 3);
    let facts = store.contact_facts(&acme, &ann).await.unwrap();
    let mut sent: Vec<i64> = facts.invitations.iter().map(|invitation| invitation.sent_at_ms).collect();
    sent.sort();
    assert_eq!(sent, [1_000, 2_000], "expired invitations still count");
}
