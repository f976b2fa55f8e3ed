//! Survey invitations as a service: which ingested events trigger which surveys, and, when an
//! invitation is due, whether the contact policy lets it go out (and why not).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapport_core::contact_policy::{self, ContactHistory, ContactPolicy, DAY_MS, Suppression};
use rapport_core::event::Event;
use rapport_core::identity::{Identity, IdentityKind};
use rapport_core::ids::{CustomerId, WorkspaceId};
use rapport_core::survey_delivery::{DEFAULT_CADENCE_DAYS, Delivery, Trigger, cadence_invitation};
use rapport_store::records::{
    ContactFacts, ContactSubject, InvitationOutcome, InvitationRecord, NewInvitation, SurveyRecord,
};

use crate::services::hosted_survey::{LINK_VALID_DAYS, link_path, unsubscribe_path};
use crate::services::mail::Mailer;
use crate::services::messaging::{Messenger, SendError};
use rapport_store::{Store, StoreError};
use serde_json::Value;

/// How long a workspace's triggers are cached. A survey edited through this process is seen at
/// once (`TriggerCache::forget`); one edited through another process within this time.
const TRIGGER_CACHE_TTL: Duration = Duration::from_secs(2);
/// Events older than this when they arrive (imports, backfills) trigger nothing: an invitation
/// about an order delivered last year would surprise the customer.
const MAX_TRIGGER_AGE: time::Duration = time::Duration::hours(24);
/// Customers read per page when planning a relational survey's cadence.
const CADENCE_PAGE: usize = 500;
/// Due invitations handled per dispatcher pass.
pub const DISPATCH_BATCH: usize = 200;
/// A claim older than this was left by a dispatcher that stopped mid-pass (a pass sends at most
/// `DISPATCH_BATCH` messages): its invitations are dispatched again. One whose message went out
/// just before the stop, and was not yet recorded, is sent twice; without the release, every
/// invitation of the pass would never be sent.
const STALE_CLAIM_MS: i64 = 15 * 60 * 1000;

/// One survey's trigger, as ingestion checks it.
#[derive(Debug, Clone)]
pub struct SurveyTrigger {
    pub survey_id: String,
    pub version: i64,
    pub channel: String,
    pub trigger: Trigger,
}

type Cached = (Instant, Arc<Vec<SurveyTrigger>>);

/// Each workspace's survey triggers, read from the store at most every `TRIGGER_CACHE_TTL`.
#[derive(Clone, Default)]
pub struct TriggerCache {
    entries: Arc<Mutex<HashMap<WorkspaceId, Cached>>>,
}

impl TriggerCache {
    pub async fn triggers(
        &self,
        store: &Store,
        workspace: &WorkspaceId,
    ) -> Result<Arc<Vec<SurveyTrigger>>, StoreError> {
        if let Some((read_at, triggers)) = self.lock().get(workspace)
            && read_at.elapsed() < TRIGGER_CACHE_TTL
        {
            return Ok(triggers.clone());
        }
        let triggers: Vec<SurveyTrigger> = store
            .surveys(workspace)
            .await?
            .into_iter()
            .filter_map(|survey| {
                let delivery = survey.definition.delivery?;
                Some(SurveyTrigger {
                    survey_id: survey.id,
                    version: survey.version,
                    channel: delivery.channel,
                    trigger: delivery.trigger?,
                })
            })
            .collect();
        let triggers = Arc::new(triggers);
        self.lock().insert(workspace.clone(), (Instant::now(), triggers.clone()));
        Ok(triggers)
    }

    /// Drops a workspace's cached triggers after one of its surveys changed.
    pub fn forget(&self, workspace: &WorkspaceId) {
        self.lock().remove(workspace);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkspaceId, Cached>> {
        // The map holds plain data; a panic elsewhere cannot leave it half-written.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An invitation a batch triggers, with the trigger when it also has conditions on the
/// customer's traits (checked once the batch is stored: `confirm_trait_conditions`).
pub type Triggered = (NewInvitation, Option<Trigger>);

/// The invitations `events` trigger: one per matching survey and event, due the trigger's delay
/// after the event.
pub fn triggered_invitations(triggers: &[SurveyTrigger], events: &[Event]) -> Vec<Triggered> {
    let mut invitations = Vec::new();
    for event in events {
        if event.received_at - event.timestamp > MAX_TRIGGER_AGE {
            continue;
        }
        for survey in triggers.iter().filter(|survey| survey.trigger.matches(event)) {
            let due = event.timestamp + time::Duration::minutes(i64::from(survey.trigger.delay_minutes));
            let invitation = NewInvitation {
                survey_id: survey.survey_id.clone(),
                version: survey.version,
                identity_key: event.primary_identity().key(),
                channel: survey.channel.clone(),
                trigger_message_id: event.message_id.clone(),
                due_at_ms: rapport_core::resolution::millis(due),
            };
            let trait_check = survey.trigger.has_trait_conditions().then(|| survey.trigger.clone());
            invitations.push((invitation, trait_check));
        }
    }
    invitations
}

/// Keeps the triggered invitations whose customer's traits, as stored now (after the batch that
/// triggered them), meet the trigger's `traits.` conditions.
pub async fn confirm_trait_conditions(
    store: &Store,
    workspace: &WorkspaceId,
    triggered: Vec<Triggered>,
) -> Result<Vec<NewInvitation>, StoreError> {
    let mut confirmed = Vec::with_capacity(triggered.len());
    for (invitation, trait_check) in triggered {
        if let Some(trigger) = trait_check {
            let Ok(identity) = Identity::parse_typed(&invitation.identity_key) else { continue };
            let profile = match store.customer_by_identity(workspace, &identity).await? {
                Some(customer) => store.customer_profile(workspace, &customer).await?,
                None => None,
            };
            let traits: serde_json::Map<String, Value> = profile
                .map(|profile| profile.traits.into_iter().map(|record| (record.key, record.value)).collect())
                .unwrap_or_default();
            if !trigger.matches_traits(&traits) {
                continue;
            }
        }
        confirmed.push(invitation);
    }
    Ok(confirmed)
}

/// What the policy decided about one customer.
#[derive(Debug, Clone)]
pub struct Decision {
    pub customer: Option<CustomerId>,
    /// Where an e-mail invitation goes: the customer's `email` trait.
    pub address: Option<String>,
    pub outcome: Result<(), Suppression>,
}

/// Unsubscribe and consent from the customer's traits: `unsubscribed: true`, and
/// `consent: {"email": false}` to refuse a channel (consent statements are added by `decide`).
fn history_of(
    traits: Option<&serde_json::Map<String, Value>>,
    invitations: Vec<contact_policy::PastInvitation>,
    last_response: Option<i64>,
) -> ContactHistory {
    let trait_value = |key: &str| traits.and_then(|traits| traits.get(key));
    let no_consent_channels = match trait_value("consent") {
        Some(Value::Object(consent)) => consent
            .iter()
            .filter(|(_, given)| **given == Value::Bool(false))
            .map(|(channel, _)| channel.clone())
            .collect(),
        _ => Vec::new(),
    };
    ContactHistory {
        invitations,
        last_response_ms: last_response,
        unsubscribed: trait_value("unsubscribed") == Some(&Value::Bool(true)),
        no_consent_channels,
    }
}

/// What to decide: may `identity` be contacted about a survey on `channel` at `now_ms`?
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub workspace: &'a WorkspaceId,
    pub survey_id: &'a str,
    pub delivery: &'a Delivery,
    pub channel: &'a str,
    pub identity: &'a Identity,
    pub now_ms: i64,
    /// A reminder of an invitation already sent: exempt from the frequency rules.
    pub reminder: bool,
    /// The workspace's contact policy (`Store::contact_policy`); a survey may override it.
    pub policy: &'a ContactPolicy,
}

/// Decides an [`Ask`], reading the customer's contact history. An identity no customer holds yet
/// has no history.
pub async fn decide(store: &Store, ask: Ask<'_>) -> Result<Decision, StoreError> {
    let facts = store.contact_facts(ask.workspace, ask.identity).await?;
    Ok(decide_from(facts, &ask, &SentInPass::default()))
}

/// Invitations sent during one dispatcher pass, by the customer (root) they went to, or by the
/// identity when no customer held it: a pass decides from facts read at its start, so a second
/// invitation to the same customer in the same pass must see the first.
#[derive(Debug, Default)]
pub struct SentInPass(HashMap<String, Vec<contact_policy::PastInvitation>>);

impl SentInPass {
    fn key(customer: Option<&CustomerId>, identity: &Identity) -> String {
        customer.map_or_else(|| identity.key(), |customer| customer.0.clone())
    }

    /// Records an invitation sent to `identity` (held by `customer`) in this pass.
    pub fn record(&mut self, customer: Option<&CustomerId>, identity: &Identity, survey_id: &str, at_ms: i64) {
        let sent =
            contact_policy::PastInvitation { survey_id: survey_id.to_owned(), sent_at_ms: at_ms, reminder: false };
        self.0.entry(Self::key(customer, identity)).or_default().push(sent);
    }

    fn of(&self, customer: Option<&CustomerId>, identity: &Identity) -> &[contact_policy::PastInvitation] {
        self.0.get(&Self::key(customer, identity)).map_or(&[], Vec::as_slice)
    }
}

/// Decides an [`Ask`] from facts read before (`Store::contact_facts_of_many`), counting what was
/// sent since in the same pass.
pub fn decide_from(facts: ContactFacts, ask: &Ask<'_>, sent: &SentInPass) -> Decision {
    let Ask { survey_id, delivery, channel, identity, now_ms, reminder, policy, .. } = *ask;
    let ContactFacts { subject, mut invitations, last_response_ms, consents } = facts;
    invitations.extend_from_slice(sent.of(subject.as_ref().map(|subject| &subject.root), identity));
    let mut history = history_of(subject.as_ref().map(|subject| &subject.traits), invitations, last_response_ms);
    // Consent statements (API, unsubscribe link, Segment `context.consent`) for the surveys
    // purpose on this channel; a refusal by the unsubscribe link reads as one.
    match rapport_core::privacy::deciding(&consents, rapport_core::privacy::Purpose::Surveys, Some(channel)) {
        Some(refusal) if !refusal.granted && refusal.source == "unsubscribe" => history.unsubscribed = true,
        Some(refusal) if !refusal.granted => history.no_consent_channels.push(channel.to_owned()),
        _ => {}
    }
    let sampled = subject.as_ref().map(|subject| subject.root.0.clone()).unwrap_or_else(|| identity.key());
    let outcome = contact_policy::decide(
        &sampled,
        channel,
        now_ms,
        policy,
        &delivery.contact_rules(survey_id),
        &history,
        reminder,
    );
    let address = address_for(channel, identity, subject.as_ref());
    Decision { customer: subject.map(|subject| subject.root), address, outcome }
}

/// Where an invitation on `channel` goes: the `email` trait for e-mail; for SMS and chat a phone
/// number in E.164 (the identity asked about, one the customer holds, or the `phone` trait).
fn address_for(channel: &str, identity: &Identity, subject: Option<&ContactSubject>) -> Option<String> {
    let text = |key: &str| subject.and_then(|subject| subject.traits.get(key)).and_then(Value::as_str);
    match channel {
        "sms" | "chat" => {
            if identity.kind() == &IdentityKind::Phone {
                return Some(identity.value().to_owned());
            }
            let held =
                subject.and_then(|subject| subject.identity_keys.iter().find_map(|key| key.strip_prefix("phone:")));
            held.map(str::to_owned).or_else(|| {
                text("phone")
                    .and_then(|raw| Identity::new(IdentityKind::Phone, raw).ok())
                    .map(|phone| phone.value().to_owned())
            })
        }
        _ => text("email").map(str::to_owned),
    }
}

/// What one dispatcher pass remembers: what it sent, and the survey versions it read.
#[derive(Default)]
struct Pass {
    sent: SentInPass,
    surveys: HashMap<(WorkspaceId, String, i64), Option<SurveyRecord>>,
}

/// Sends due invitations: decides each by the contact policy, then delivers it on its channel.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    pub store: Store,
    /// `None` when no SMTP server is configured: e-mail invitations then fail with a reason.
    pub mailer: Option<Mailer>,
    /// The server's public base URL, for links in e-mails (`https://cx.acme.example`).
    pub public_url: String,
    /// The secret that signs survey links.
    pub link_secret: Vec<u8>,
    /// `None` when no messaging provider is configured: SMS and chat invitations then fail.
    pub messenger: Option<Messenger>,
    /// (survey, version) → the cadence period this process planned last.
    planned: Arc<Mutex<HashMap<(String, i64), i64>>>,
}

impl Dispatcher {
    pub fn new(store: Store, mailer: Option<Mailer>, public_url: String, link_secret: Vec<u8>) -> Dispatcher {
        Dispatcher { store, mailer, public_url, link_secret, messenger: None, planned: Arc::default() }
    }

    /// SMS and chat invitations go through `messenger`.
    pub fn with_messenger(self, messenger: Option<Messenger>) -> Dispatcher {
        Dispatcher { messenger, ..self }
    }

    /// One pass: every due invitation is claimed, decided, delivered and finished. Returns how
    /// many were handled.
    pub async fn run_once(&self, now_ms: i64) -> Result<usize, StoreError> {
        let released = self.store.release_stale_claims(now_ms - STALE_CLAIM_MS).await?;
        if released > 0 {
            tracing::warn!(released, "invitations left mid-dispatch by a stopped dispatcher are pending again");
        }
        let due = self.store.due_invitations(now_ms, DISPATCH_BATCH).await?;
        let ids: Vec<&str> = due.iter().map(|invitation| invitation.id.as_str()).collect();
        let claimed: HashSet<String> = self.store.claim_invitations(&ids, now_ms).await?.into_iter().collect();
        let mut by_workspace: Vec<(WorkspaceId, Vec<InvitationRecord>)> = Vec::new();
        for invitation in due.into_iter().filter(|invitation| claimed.contains(&invitation.id)) {
            match by_workspace.iter_mut().find(|(workspace, _)| *workspace == invitation.workspace_id) {
                Some((_, invitations)) => invitations.push(invitation),
                None => by_workspace.push((invitation.workspace_id.clone(), vec![invitation])),
            }
        }
        let mut handled = 0;
        let mut pass = Pass::default();
        for (workspace, invitations) in by_workspace {
            // The workspace's policy and its customers' contact facts, each read once per pass.
            let policy = self.store.contact_policy(&workspace).await?;
            let identities: Vec<Option<Identity>> =
                invitations.iter().map(|invitation| Identity::parse_typed(&invitation.identity_key).ok()).collect();
            let readable: Vec<Identity> = identities.iter().flatten().cloned().collect();
            let mut facts = self.store.contact_facts_of_many(&workspace, &readable).await?.into_iter();
            for (invitation, identity) in invitations.iter().zip(identities) {
                let subject = identity.as_ref().and_then(|identity| Some((identity, facts.next()?)));
                let outcome = self.dispatch_one(invitation, &policy, subject, &mut pass, now_ms).await?;
                self.store.finish_invitation(&workspace, &invitation.id, &outcome).await?;
                if let (Some(identity), "sent") = (&identity, outcome.state) {
                    pass.sent.record(outcome.customer_id.as_ref(), identity, &invitation.survey_id, now_ms);
                }
                metrics::counter!("rapport_invitations_total", "state" => outcome.state).increment(1);
                handled += 1;
            }
        }
        for invitation in self.store.reminders_due(now_ms, DISPATCH_BATCH).await? {
            if self.store.claim_reminder(&invitation.workspace_id, &invitation.id, now_ms).await? {
                self.remind(&invitation, now_ms).await?;
                handled += 1;
            }
        }
        let expired = self.store.expire_invitations(now_ms - LINK_VALID_DAYS * DAY_MS).await?;
        if expired > 0 {
            metrics::counter!("rapport_invitations_total", "state" => "expired").increment(expired);
        }
        Ok(handled)
    }

    /// The absolute survey and unsubscribe links of a sent invitation (the survey link is signed
    /// with its sending time, so an invitation's e-mail and reminder carry the same one).
    fn links(&self, invitation: &InvitationRecord) -> (String, String) {
        let base = self.public_url.trim_end_matches('/');
        let survey = link_path(&self.link_secret, invitation).unwrap_or_default();
        (format!("{base}{survey}"), format!("{base}{}", unsubscribe_path(&self.link_secret, &invitation.id)))
    }

    /// Creates this period's invitation for every customer of every relational survey with
    /// delivery settings (one per survey, customer and period; repeats create nothing). The
    /// invitations then wait for their spread-out due time and the contact policy. Returns how
    /// many were created.
    pub async fn plan_cadence(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut created = 0;
        for (workspace, survey) in self.store.relational_surveys().await? {
            let Some(delivery) = &survey.definition.delivery else { continue };
            let cadence_days = delivery.cadence_days.unwrap_or(DEFAULT_CADENCE_DAYS);
            // Once per period per survey version: customers created later in a period are asked
            // from the next one.
            let period = now_ms.div_euclid(i64::from(cadence_days) * DAY_MS);
            let key = (survey.id.clone(), survey.version);
            {
                let mut planned = self.planned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if planned.get(&key) == Some(&period) {
                    continue;
                }
                planned.insert(key, period);
            }
            let mut after = String::new();
            loop {
                let page = self.store.customer_contacts(&workspace, &after, CADENCE_PAGE).await?;
                let invitations: Vec<NewInvitation> = page
                    .iter()
                    .filter_map(|(customer, identity)| {
                        let (trigger_message_id, due_at_ms) =
                            cadence_invitation(&survey.id, customer.as_str(), cadence_days, now_ms);
                        Some(NewInvitation {
                            survey_id: survey.id.clone(),
                            version: survey.version,
                            identity_key: identity.clone()?,
                            channel: delivery.channel.clone(),
                            trigger_message_id,
                            due_at_ms,
                        })
                    })
                    .collect();
                created += self.store.create_invitations(&workspace, &invitations).await?;
                match page.last() {
                    Some((last, _)) if page.len() == CADENCE_PAGE => after = last.0.clone(),
                    _ => break,
                }
            }
        }
        Ok(created)
    }

    /// Sends the one reminder of an unanswered e-mail invitation, with the same link. Reminders
    /// skip the frequency rules, never consent or an unsubscribe.
    async fn remind(&self, invitation: &InvitationRecord, now_ms: i64) -> Result<(), StoreError> {
        let survey =
            self.store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?;
        let (Some(survey), Some(mailer), Ok(identity)) =
            (survey, &self.mailer, Identity::parse_typed(&invitation.identity_key))
        else {
            return Ok(());
        };
        let Some(delivery) = &survey.definition.delivery else { return Ok(()) };
        let policy = self.store.contact_policy(&invitation.workspace_id).await?;
        let ask = Ask {
            workspace: &invitation.workspace_id,
            survey_id: &invitation.survey_id,
            delivery,
            channel: &invitation.channel,
            identity: &identity,
            now_ms,
            reminder: true,
            policy: &policy,
        };
        let decision = decide(&self.store, ask).await?;
        let (Ok(()), Some(address)) = (decision.outcome, decision.address) else {
            tracing::info!(invitation = %invitation.id, "reminder not sent: suppressed or no address");
            return Ok(());
        };
        let (survey_url, unsubscribe_url) = self.links(invitation);
        match mailer.send_invitation(&address, &survey.definition.name, &survey_url, &unsubscribe_url, true).await {
            Ok(()) => metrics::counter!("rapport_invitations_total", "state" => "reminded").increment(1),
            Err(error) => tracing::warn!(invitation = %invitation.id, ?error, "sending a survey reminder failed"),
        }
        Ok(())
    }

    /// Decides and delivers one claimed invitation; `subject` is its identity with the contact
    /// facts read for it at the start of the pass (`None`: the identity cannot be read).
    async fn dispatch_one(
        &self,
        invitation: &InvitationRecord,
        policy: &ContactPolicy,
        subject: Option<(&Identity, ContactFacts)>,
        pass: &mut Pass,
        now_ms: i64,
    ) -> Result<InvitationOutcome, StoreError> {
        let store = &self.store;
        let outcome = |state: &'static str,
                       customer: Option<CustomerId>,
                       address: Option<String>,
                       why: Option<(&str, String)>| {
            InvitationOutcome {
                state,
                customer_id: customer,
                address,
                reason: why.as_ref().map(|(code, _)| (*code).to_owned()),
                explanation: why.map(|(_, sentence)| sentence),
                at_ms: now_ms,
                remind_at_ms: None,
            }
        };
        let survey_key = (invitation.workspace_id.clone(), invitation.survey_id.clone(), invitation.version);
        let survey = match pass.surveys.get(&survey_key) {
            Some(survey) => survey.clone(),
            None => {
                let survey =
                    store.survey(&invitation.workspace_id, &invitation.survey_id, Some(invitation.version)).await?;
                pass.surveys.insert(survey_key, survey.clone());
                survey
            }
        };
        let Some((name, delivery)) =
            survey.and_then(|survey| Some((survey.definition.name, survey.definition.delivery?)))
        else {
            return Ok(outcome(
                "failed",
                None,
                None,
                Some(("no_delivery", "the survey version has no delivery settings".to_owned())),
            ));
        };
        let Some((identity, facts)) = subject else {
            return Ok(outcome(
                "failed",
                None,
                None,
                Some(("bad_identity", "the triggering identity cannot be read".to_owned())),
            ));
        };
        let ask = Ask {
            workspace: &invitation.workspace_id,
            survey_id: &invitation.survey_id,
            delivery: &delivery,
            channel: &invitation.channel,
            identity,
            now_ms,
            reminder: false,
            policy,
        };
        let decision = decide_from(facts, &ask, &pass.sent);
        if let Err(suppression) = decision.outcome {
            let why = Some((suppression.code(), suppression.explanation()));
            return Ok(outcome("suppressed", decision.customer, None, why));
        }
        let (survey_url, unsubscribe_url) =
            self.links(&InvitationRecord { sent_at_ms: Some(now_ms), ..invitation.clone() });
        // What a refusal for good (`bounced`) or a failure (`failed`) records.
        let undelivered = |error: SendError, address: String, code: &str| match error {
            SendError::Rejected(reason) => {
                outcome("bounced", decision.customer.clone(), Some(address), Some(("bounced", reason)))
            }
            SendError::Failed(reason) => {
                outcome("failed", decision.customer.clone(), Some(address), Some((code, reason)))
            }
        };
        if matches!(invitation.channel.as_str(), "sms" | "chat") {
            let Some(phone) = decision.address.clone() else {
                let why = Some(("no_address", "the customer has no phone number to send to".to_owned()));
                return Ok(outcome("failed", decision.customer, None, why));
            };
            let Some(messenger) = &self.messenger else {
                let why = Some((
                    "no_messaging_provider",
                    "no messaging provider is configured (RAPPORT_MESSAGING_URL)".to_owned(),
                ));
                return Ok(outcome("failed", decision.customer, Some(phone), why));
            };
            let text = Messenger::text(&name, &survey_url, &unsubscribe_url);
            return Ok(match messenger.send(&invitation.channel, &phone, &text, &invitation.id).await {
                Ok(()) => outcome("sent", decision.customer.clone(), Some(phone), None),
                Err(error) => {
                    tracing::warn!(invitation = %invitation.id, ?error, "sending a survey message failed");
                    undelivered(error, phone, "provider_error")
                }
            });
        }
        if invitation.channel != "email" {
            return Ok(outcome("sent", decision.customer, None, None));
        }
        let Some(address) = decision.address.clone() else {
            let why = Some(("no_address", "the customer has no `email` trait to send to".to_owned()));
            return Ok(outcome("failed", decision.customer, None, why));
        };
        let Some(mailer) = &self.mailer else {
            let why = Some(("no_mail_server", "no SMTP server is configured (RAPPORT_SMTP_URL)".to_owned()));
            return Ok(outcome("failed", decision.customer, Some(address), why));
        };
        Ok(match mailer.send_invitation(&address, &name, &survey_url, &unsubscribe_url, false).await {
            Ok(()) => InvitationOutcome {
                remind_at_ms: delivery.reminder_after_days.map(|days| now_ms + i64::from(days) * DAY_MS),
                ..outcome("sent", decision.customer.clone(), Some(address), None)
            },
            Err(error) => {
                tracing::warn!(invitation = %invitation.id, ?error, "sending a survey invitation failed");
                undelivered(error, address, "smtp_error")
            }
        })
    }
}

/// One customer of a dry run: would they be invited now, and if not, the rule that says no.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunEntry {
    pub customer: String,
    /// The customer holding the identity, if any yet.
    pub customer_id: Option<String>,
    pub invite: bool,
    /// Why not: the first rule that suppressed the invitation.
    pub reason: Option<String>,
    pub explanation: Option<String>,
}

/// The most customers one dry run decides for.
pub const MAX_DRY_RUN_AUDIENCE: usize = 1_000;

/// Who of `customers` (identities as `TYPE:VALUE`) would be invited to the survey now on
/// `channel` (its delivery channel by default), and for each one suppressed, the first rule that
/// says no. Nothing is sent or recorded.
pub async fn dry_run_audience(
    store: &Store,
    workspace: &WorkspaceId,
    survey_id: &str,
    customers: Vec<String>,
    channel: Option<String>,
) -> Result<Vec<DryRunEntry>, crate::error::ApiError> {
    use crate::error::{ApiError, ErrorCode};
    if customers.len() > MAX_DRY_RUN_AUDIENCE {
        return Err(ApiError::invalid_parameter("customers", format!("at most {MAX_DRY_RUN_AUDIENCE} per dry run")));
    }
    let Some(survey) = store.survey(workspace, survey_id, None).await? else {
        return Err(ApiError::not_found(format!("no survey `{survey_id}` in this workspace")));
    };
    let Some(delivery) = survey.definition.delivery else {
        let message = format!("survey `{survey_id}` has no delivery settings to check");
        return Err(ApiError::new(ErrorCode::Conflict, message));
    };
    let channel = channel.unwrap_or_else(|| delivery.channel.clone());
    let mut identities = Vec::with_capacity(customers.len());
    for (position, typed) in customers.iter().enumerate() {
        let identity = Identity::parse_typed(typed)
            .map_err(|error| ApiError::invalid_parameter(&format!("customers[{position}]"), error.to_string()))?;
        identities.push(identity);
    }
    let now_ms = rapport_store::now_ms();
    let policy = store.contact_policy(workspace).await?;
    // One read for the whole audience.
    let facts = store.contact_facts_of_many(workspace, &identities).await?;
    let mut data = Vec::with_capacity(identities.len());
    for ((typed, identity), facts) in customers.into_iter().zip(&identities).zip(facts) {
        let ask = Ask {
            workspace,
            survey_id,
            delivery: &delivery,
            channel: &channel,
            identity,
            now_ms,
            reminder: false,
            policy: &policy,
        };
        let decision = decide_from(facts, &ask, &SentInPass::default());
        let (reason, explanation) = match &decision.outcome {
            Ok(()) => (None, None),
            Err(suppression) => (Some(suppression.code().to_owned()), Some(suppression.explanation())),
        };
        data.push(DryRunEntry {
            customer: typed,
            customer_id: decision.customer.map(|customer| customer.0),
            invite: decision.outcome.is_ok(),
            reason,
            explanation,
        });
    }
    Ok(data)
}
