//! The survey widget as a service: whether a visitor should see a survey now (the contact rules,
//! as for any invitation), the invitation that showing it records, and the answers it posts.

use rapport_core::identity::Identity;
use rapport_core::ids::WorkspaceId;
use rapport_core::survey_link;
use rapport_store::records::{NewInvitation, SurveyRecord};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::AppState;
use crate::error::{ApiError, ErrorCode, ErrorDetail};
use crate::services::hosted_survey::{LINK_VALID_DAYS, LinkProblem, open_link};
use crate::services::invitations::{Ask, decide};
use crate::services::surveys::{check_response, record_response};

/// The channel of invitations the widget shows.
pub const CHANNEL: &str = "widget";

/// Who the widget asks for: `userId`, else `anonymousId` (the widget keeps one per browser).
pub fn visitor(body: &Value) -> Result<Identity, ApiError> {
    let named = |field: &str| body.get(field).and_then(Value::as_str).filter(|id| !id.trim().is_empty());
    let identity = match (named("userId"), named("anonymousId")) {
        (Some(user), _) => Identity::user_id(user).map_err(|error| (error, "userId")),
        (None, Some(anonymous)) => Identity::anonymous_id(anonymous).map_err(|error| (error, "anonymousId")),
        (None, None) => {
            let problem = "required: the visitor's userId or anonymousId".to_owned();
            return Err(ApiError::new(ErrorCode::InvalidParameter, format!("userId: {problem}"))
                .with_details(vec![ErrorDetail { index: None, field: "userId".to_owned(), problem }]));
        }
    };
    identity.map_err(|(error, field)| {
        ApiError::new(ErrorCode::InvalidParameter, format!("{field}: {error}")).with_details(vec![ErrorDetail {
            index: None,
            field: field.to_owned(),
            problem: error.to_string(),
        }])
    })
}

/// The survey as the widget renders it.
fn survey_json(survey: &SurveyRecord) -> Value {
    let definition = serde_json::to_value(&survey.definition).unwrap_or(Value::Null);
    json!({
        "id": survey.id,
        "version": survey.version,
        "name": definition["name"],
        "language": definition["language"],
        "questions": definition["questions"],
        "thankYou": definition["thankYou"],
    })
}

/// Whether the visitor should see a widget survey now (`survey` picks one; else the workspace's
/// first). The first survey the contact rules allow is shown and recorded as a sent invitation.
pub async fn eligibility(
    state: &AppState,
    workspace: &WorkspaceId,
    identity: &Identity,
    survey: Option<&str>,
    now_ms: i64,
) -> Result<Value, ApiError> {
    let surveys: Vec<SurveyRecord> = state
        .store
        .surveys(workspace)
        .await?
        .into_iter()
        .filter(|record| record.definition.delivery.as_ref().is_some_and(|delivery| delivery.channel == CHANNEL))
        .filter(|record| survey.is_none_or(|wanted| record.id == wanted))
        .collect();
    if surveys.is_empty() {
        let why = match survey {
            Some(id) => format!("no widget survey `{id}` in this workspace"),
            None => "the workspace has no widget survey (a survey whose delivery channel is `widget`)".to_owned(),
        };
        return Ok(json!({"show": false, "reason": "no_survey", "explanation": why}));
    }
    let policy = state.store.contact_policy(workspace).await?;
    let mut refusal = None;
    for candidate in &surveys {
        let Some(delivery) = &candidate.definition.delivery else { continue };
        let ask = Ask {
            workspace,
            survey_id: &candidate.id,
            delivery,
            channel: CHANNEL,
            identity,
            now_ms,
            reminder: false,
            policy: &policy,
        };
        let decision = decide(&state.store, ask).await?;
        match decision.outcome {
            Ok(()) => {
                let invitation = NewInvitation {
                    survey_id: candidate.id.clone(),
                    version: candidate.version,
                    identity_key: identity.key(),
                    channel: CHANNEL.to_owned(),
                    trigger_message_id: format!("widget-{}", uuid::Uuid::now_v7()),
                    due_at_ms: now_ms,
                };
                let id = state
                    .store
                    .record_shown_invitation(workspace, &invitation, decision.customer.as_ref(), now_ms)
                    .await?;
                let secret = state.link_secret().await?;
                let token =
                    survey_link::sign(&secret, &id, now_ms + LINK_VALID_DAYS * rapport_core::contact_policy::DAY_MS);
                metrics::counter!("rapport_invitations_total", "state" => "shown").increment(1);
                return Ok(json!({"show": true, "token": token, "survey": survey_json(candidate)}));
            }
            Err(suppression) => refusal = refusal.or(Some(suppression)),
        }
    }
    let suppression = refusal.expect("every candidate was refused");
    Ok(json!({"show": false, "reason": suppression.code(), "explanation": suppression.explanation()}))
}

/// Stores the answers the widget posts for the invitation `token` names: checked as any response
/// (problems named by field), once (a second answer is a 409).
pub async fn answer(
    state: &AppState,
    workspace: &WorkspaceId,
    token: &str,
    body: &Value,
    now: OffsetDateTime,
) -> Result<Value, ApiError> {
    let secret = state.link_secret().await?;
    let now_ms = rapport_core::resolution::millis(now);
    let invitation = match open_link(&state.store, &secret, token, now_ms).await? {
        // Another workspace's token is as unknown as a forged one.
        Ok(invitation) if invitation.channel == CHANNEL && &invitation.workspace_id == workspace => invitation,
        Ok(_) | Err(LinkProblem::Invalid) => return Err(ApiError::not_found("no open widget survey for this token")),
        Err(LinkProblem::Expired) => {
            return Err(ApiError::new(ErrorCode::Conflict, "the survey expired; it can no longer be answered"));
        }
        Err(LinkProblem::AlreadyAnswered) => {
            return Err(ApiError::new(ErrorCode::Conflict, "this survey was answered already"));
        }
    };
    let Some(survey) =
        state.store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?
    else {
        return Err(ApiError::not_found("the survey is gone"));
    };
    let channel = body.get("channel").and_then(Value::as_str).unwrap_or("web");
    let request = json!({"customer": invitation.identity_key, "channel": channel, "answers": body.get("answers")});
    let mut checked = check_response(&survey, &request, Some(format!("invitation:{}", invitation.id)), now)?;
    checked.response.invitation = Some(invitation.id.clone());
    let (_, created) = record_response(&state.store, &invitation.workspace_id, &survey, &checked).await?;
    if !created {
        return Err(ApiError::new(ErrorCode::Conflict, "this survey was answered already"));
    }
    Ok(json!({"thanks": survey.definition.thank_you}))
}
