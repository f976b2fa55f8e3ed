//! The hosted survey page as a service: a signed link to its invitation, and a submitted HTML
//! form to the answers a survey version checks.

use rapport_core::contact_policy::DAY_MS;
use rapport_core::event::{Event, EventType};
use rapport_core::identity::Identity;
use rapport_core::survey::{QuestionKind, SurveyDefinition};
use rapport_core::survey_link;
use rapport_store::records::InvitationRecord;
use rapport_store::{Store, StoreError};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::services::surveys::{address_call, event_from_call};

/// The installation secret that signs survey links.
pub const LINK_SECRET: &str = "survey-links";
/// How long a survey link works after its invitation is sent.
pub const LINK_VALID_DAYS: i64 = 14;

/// The path of the hosted page for a sent invitation.
pub fn link_path(secret: &[u8], invitation: &InvitationRecord) -> Option<String> {
    let sent_at = invitation.sent_at_ms?;
    Some(format!("/s/{}", survey_link::sign(secret, &invitation.id, sent_at + LINK_VALID_DAYS * DAY_MS)))
}

/// The path that stops surveys for the customer an invitation went to. It names the invitation
/// under a prefix a survey link never has, and works for a year.
pub fn unsubscribe_path(secret: &[u8], invitation_id: &str) -> String {
    let expires = rapport_store::now_ms() + 365 * DAY_MS;
    format!("/u/{}", survey_link::sign(secret, &format!("{UNSUBSCRIBE_PREFIX}{invitation_id}"), expires))
}

const UNSUBSCRIBE_PREFIX: &str = "unsubscribe:";

/// The invitation an unsubscribe link names, if the link is genuine and current.
pub async fn unsubscribe_invitation(
    store: &Store,
    secret: &[u8],
    token: &str,
    now_ms: i64,
) -> Result<Option<InvitationRecord>, StoreError> {
    let Ok(named) = survey_link::verify(secret, token, now_ms) else { return Ok(None) };
    let Some(id) = named.strip_prefix(UNSUBSCRIBE_PREFIX) else { return Ok(None) };
    store.invitation_anywhere(id).await
}

/// The identify call that marks the invitation's customer `unsubscribed`.
pub fn unsubscribe_event(invitation_id: &str, identity: &Identity, anonymous_id: String) -> Result<Event, ApiError> {
    let mut call = json!({"type": "identify", "messageId": format!("unsubscribe-{invitation_id}"),
                          "traits": {"unsubscribed": true}});
    let mut context = Map::new();
    address_call(&mut call, &mut context, identity, anonymous_id);
    call["context"] = Value::Object(context);
    event_from_call(&call, EventType::Identify, time::OffsetDateTime::now_utc())
}

/// Why a link does not open a survey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    Invalid,
    Expired,
    AlreadyAnswered,
}

/// The invitation a link opens, if it is valid, unexpired and not answered yet.
pub async fn open_link(
    store: &Store,
    secret: &[u8],
    token: &str,
    now_ms: i64,
) -> Result<Result<InvitationRecord, LinkProblem>, StoreError> {
    let id = match survey_link::verify(secret, token, now_ms) {
        Ok(id) => id,
        Err(survey_link::LinkError::Invalid) => return Ok(Err(LinkProblem::Invalid)),
        Err(survey_link::LinkError::Expired { .. }) => return Ok(Err(LinkProblem::Expired)),
    };
    Ok(match store.invitation_anywhere(&id).await? {
        None => Err(LinkProblem::Invalid),
        Some(invitation) if invitation.state == "responded" => Err(LinkProblem::AlreadyAnswered),
        // `dispatching`: the e-mail is out, the dispatcher has not recorded it yet.
        Some(invitation) if !["sent", "dispatching"].contains(&invitation.state.as_str()) => Err(LinkProblem::Invalid),
        Some(invitation) => Ok(invitation),
    })
}

/// Form fields are `q.<question>` (repeated for a multiple choice) and `q.<question>.<dimension>`
/// for a CSAT dimension. Empty fields are skipped answers. A follow-up whose condition the
/// answers do not meet is dropped: without JavaScript the page shows every question.
///
/// The answers once the form of `page` (None: every question) is sent: `kept` (earlier pages'),
/// with this page's questions answered as the form says, and follow-ups whose condition the
/// answers do not meet dropped (a condition may be on an earlier page).
pub fn page_answers(
    definition: &SurveyDefinition,
    page: Option<u32>,
    kept: &Map<String, Value>,
    form: &[(String, String)],
) -> Map<String, Value> {
    let values = |name: &str| -> Vec<&str> {
        form.iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim())
            .collect()
    };
    let scored = |text: &str| text.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(text));
    let mut answers = kept.clone();
    for question in definition.questions.iter().filter(|question| page.is_none_or(|page| question.page == page)) {
        answers.remove(&question.id);
        let name = format!("q.{}", question.id);
        let answer = match &question.kind {
            QuestionKind::MultipleChoice { .. } => {
                let chosen: Vec<Value> = values(&name).into_iter().map(Value::from).collect();
                (!chosen.is_empty()).then_some(Value::Array(chosen))
            }
            QuestionKind::Csat { dimensions } if !dimensions.is_empty() => {
                let mut object = Map::new();
                if let Some(score) = values(&name).first() {
                    object.insert("score".to_owned(), scored(score));
                }
                for dimension in dimensions {
                    if let Some(score) = values(&format!("{name}.{dimension}")).first() {
                        object.insert(dimension.clone(), scored(score));
                    }
                }
                (!object.is_empty()).then_some(Value::Object(object))
            }
            QuestionKind::Text | QuestionKind::SingleChoice { .. } => {
                values(&name).first().map(|text| Value::from(*text))
            }
            QuestionKind::Nps | QuestionKind::Csat { .. } | QuestionKind::Ces | QuestionKind::Rating { .. } => {
                values(&name).first().map(|score| scored(score))
            }
        };
        if let Some(answer) = answer {
            answers.insert(question.id.clone(), answer);
        }
    }
    let unmet: Vec<String> = definition
        .questions
        .iter()
        .filter(|question| {
            question.show_if.as_ref().is_some_and(|condition| {
                let score = answers.get(&condition.question).and_then(|answer| match answer {
                    Value::Object(object) => object.get("score").and_then(Value::as_i64),
                    other => other.as_i64(),
                });
                !score.is_some_and(|score| (condition.min..=condition.max).contains(&score))
            })
        })
        .map(|question| question.id.clone())
        .collect();
    for id in unmet {
        answers.remove(&id);
    }
    answers
}

#[cfg(test)]
mod tests {
    use rapport_core::survey::parse_definition;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_form_becomes_answers_and_unasked_follow_ups_are_dropped() {
        let definition = parse_definition(&json!({"name": "s", "kind": "relational", "questions": [
            {"id": "nps", "type": "nps"},
            {"id": "why", "type": "text", "text": "Why?", "showIf": {"question": "nps", "min": 0, "max": 6}},
            {"id": "csat", "type": "csat", "dimensions": ["knowledge"]},
            {"id": "liked", "type": "multiple_choice", "text": "Liked?", "options": ["a", "b"]}
        ]}))
        .unwrap();
        let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
        };
        let detractor = form(&[
            ("q.nps", "3"),
            ("q.why", " Slow "),
            ("q.csat", "2"),
            ("q.csat.knowledge", "4"),
            ("q.liked", "a"),
            ("q.liked", "b"),
        ]);
        assert_eq!(
            Value::Object(page_answers(&definition, None, &Map::new(), &detractor)),
            json!({"nps": 3, "why": "Slow", "csat": {"score": 2, "knowledge": 4}, "liked": ["a", "b"]})
        );
        let promoter = form(&[("q.nps", "10"), ("q.why", "Great"), ("q.csat", ""), ("q.liked", "")]);
        assert_eq!(Value::Object(page_answers(&definition, None, &Map::new(), &promoter)), json!({"nps": 10}));
        // Garbage stays visible to the checker, which names it.
        assert_eq!(
            Value::Object(page_answers(&definition, None, &Map::new(), &form(&[("q.nps", "lots")]))),
            json!({"nps": "lots"})
        );
    }
}
