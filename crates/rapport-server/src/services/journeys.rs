//! Journeys: definitions checked and stored, and their analytics. A journey's visits (its
//! touchpoint events, matched once, with their customers) are read from the store and kept in
//! memory per journey while nothing changes (`Store::journey_stamp`, and at most
//! `TRUST_FOR` on PostgreSQL's account), so every period, segment and comparison after the first
//! is computed without reading the events again. Survey answers and feedback are read per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rapport_core::ids::WorkspaceId;
use rapport_core::journey::analytics::{Analytics, Experience, Options, Segment, Signal, Visit, analyse};
use rapport_core::journey::compare::differences;
use rapport_core::journey::definition::{Journey, parse};
use rapport_core::journey::query::{JourneyQuery, RawJourneyQuery, SegmentSpec, parse_query};
use rapport_core::metrics::query::{Dimension, date_of_day, day_of_ms};
use rapport_core::problem::FieldProblem;
use rapport_store::Store;
use rapport_store::feedback_records::FeedbackFilter;
use rapport_store::journey_records::JourneyRecord;
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};

/// How long loaded visits are trusted without a change of stamp (PostgreSQL can commit an event
/// late with a lower sequence number, which the stamp does not see).
const TRUST_FOR: Duration = Duration::from_secs(60);
/// Journeys whose visits are kept in memory at once (least recently used goes first).
const CACHED_JOURNEYS: usize = 4;

pub fn invalid_journey(problems: Vec<FieldProblem>) -> ApiError {
    ApiError::new(ErrorCode::InvalidJourney, format!("the journey has {}", problems_phrase(problems.len())))
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no journey `{id}` in this workspace"))
}

fn journey_json(record: &JourneyRecord) -> Value {
    let mut out = json!({"id": record.id});
    if let Value::Object(definition) = &record.definition {
        for (key, value) in definition {
            out[key] = value.clone();
        }
    }
    out["createdAt"] = Value::from(crate::services::rfc3339(record.created_at_ms));
    out["updatedAt"] = Value::from(crate::services::rfc3339(record.updated_at_ms));
    out
}

/// Checks and stores a new journey; returns it as `GET` shows it.
pub async fn create(store: &Store, workspace: &WorkspaceId, body: &Value) -> Result<Value, ApiError> {
    let journey = parse(body).map_err(invalid_journey)?;
    let id = store.create_journey(workspace, &journey.to_json()).await?;
    get(store, workspace, &id).await
}

/// Replaces a journey's definition whole.
pub async fn replace(store: &Store, workspace: &WorkspaceId, id: &str, body: &Value) -> Result<Value, ApiError> {
    let journey = parse(body).map_err(invalid_journey)?;
    if !store.put_journey(workspace, id, &journey.to_json()).await? {
        return Err(not_found(id));
    }
    get(store, workspace, id).await
}

pub async fn delete(store: &Store, workspace: &WorkspaceId, id: &str) -> Result<(), ApiError> {
    if store.delete_journey(workspace, id).await? { Ok(()) } else { Err(not_found(id)) }
}

pub async fn list(store: &Store, workspace: &WorkspaceId) -> Result<Value, ApiError> {
    let journeys: Vec<Value> = store.journeys(workspace, None).await?.iter().map(journey_json).collect();
    Ok(json!({"data": journeys}))
}

pub async fn get(store: &Store, workspace: &WorkspaceId, id: &str) -> Result<Value, ApiError> {
    Ok(journey_json(&record(store, workspace, id).await?))
}

async fn record(store: &Store, workspace: &WorkspaceId, id: &str) -> Result<JourneyRecord, ApiError> {
    store.journeys(workspace, Some(id)).await?.pop().ok_or_else(|| not_found(id))
}

/// A journey's touchpoint events as visits, with the customers and channels they name.
struct Loaded {
    workspace: WorkspaceId,
    journey_id: String,
    updated_at_ms: i64,
    stamp: (i64, i64),
    loaded_at: Instant,
    /// Grouped by customer, each customer's in time order.
    visits: Vec<Visit>,
    channels: Vec<String>,
    /// Customer (root) → index; identities → index for respondents.
    customers: HashMap<String, u32>,
    identities: HashMap<String, u32>,
}

fn cache() -> &'static Mutex<Vec<Arc<Loaded>>> {
    static CACHE: OnceLock<Mutex<Vec<Arc<Loaded>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

async fn visits(
    store: &Store,
    workspace: &WorkspaceId,
    record: &JourneyRecord,
    journey: &Journey,
) -> Result<Arc<Loaded>, ApiError> {
    let stamp = store.journey_stamp(workspace).await?;
    let found = cache()
        .lock()
        .map_err(ApiError::internal)?
        .iter()
        .find(|l| {
            l.workspace == *workspace
                && l.journey_id == record.id
                && l.updated_at_ms == record.updated_at_ms
                && l.stamp == stamp
                && l.loaded_at.elapsed() < TRUST_FOR
        })
        .cloned();
    if let Some(loaded) = found {
        return Ok(loaded);
    }
    let loaded = Arc::new(load(store, workspace, record, journey, stamp).await?);
    let mut cached = cache().lock().map_err(ApiError::internal)?;
    cached.retain(|l| !(l.workspace == *workspace && l.journey_id == record.id));
    if cached.len() >= CACHED_JOURNEYS {
        cached.remove(0);
    }
    cached.push(Arc::clone(&loaded));
    Ok(loaded)
}

async fn load(
    store: &Store,
    workspace: &WorkspaceId,
    record: &JourneyRecord,
    journey: &Journey,
    stamp: (i64, i64),
) -> Result<Loaded, ApiError> {
    let matcher = journey.matcher();
    let with_properties = journey.touchpoints.iter().any(|t| !t.conditions.is_empty());
    let mut customers: HashMap<String, u32> = HashMap::new();
    let mut channels: Vec<String> = Vec::new();
    let mut visits: Vec<Visit> = Vec::new();
    let empty = Value::Object(serde_json::Map::new());
    store
        .each_touchpoint_event(workspace, &journey.event_names(), with_properties, |event| {
            let properties = match event.properties.as_deref().map(serde_json::from_str::<Value>) {
                Some(Ok(properties)) => properties,
                _ => empty.clone(),
            };
            let Some(touchpoint) = matcher.touchpoint(&event.name, &event.channel, &properties) else { return };
            let next = customers.len() as u32;
            let customer = *customers.entry(event.customer_id).or_insert(next);
            let channel = match channels.iter().position(|c| *c == event.channel) {
                Some(channel) => channel,
                None => {
                    channels.push(event.channel);
                    channels.len() - 1
                }
            };
            visits.push(Visit {
                customer,
                touchpoint: touchpoint as u16,
                channel: channel as u16,
                at_ms: event.timestamp_ms,
            });
        })
        .await?;
    let mut identities = HashMap::new();
    for (identity, root) in store.identity_roots(workspace).await? {
        let next = customers.len() as u32;
        identities.insert(identity, *customers.entry(root).or_insert(next));
    }
    let visits = tokio::task::spawn_blocking(move || {
        let mut visits = visits;
        visits.sort_unstable_by_key(|v| (v.customer, v.at_ms, v.touchpoint));
        visits
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Loaded {
        workspace: workspace.clone(),
        journey_id: record.id.clone(),
        updated_at_ms: record.updated_at_ms,
        stamp,
        loaded_at: Instant::now(),
        visits,
        channels,
        customers,
        identities,
    })
}

/// Survey answers (CSAT, CES) and feedback in the period, attributed to the journey's
/// touchpoints by the `touchpoint` (and `channel`) they carry.
async fn experiences(
    store: &Store,
    workspace: &WorkspaceId,
    journey: &Journey,
    loaded: &Loaded,
    (from, to): (i64, i64),
) -> Result<Vec<Experience>, ApiError> {
    let satisfied_from = store.metric_settings(workspace).await?.satisfied_from;
    let mut experiences = Vec::new();
    for question_type in ["csat", "ces"] {
        for response in store.scores_with_topics(workspace, question_type, from, to).await? {
            let Some(touchpoint) = response
                .touchpoint
                .as_deref()
                .and_then(|label| journey.feedback_touchpoint(label, response.channel.as_deref()))
            else {
                continue;
            };
            let signal = if question_type == "csat" {
                Signal::Csat { satisfied: response.score >= satisfied_from }
            } else {
                Signal::Ces { score: response.score.clamp(1, 7) as u8 }
            };
            experiences.push(Experience {
                customer: loaded.identities.get(&response.identity_key).copied(),
                touchpoint: touchpoint as u16,
                at_ms: response.submitted_at_ms,
                signal,
            });
        }
    }
    let filter = FeedbackFilter { from_ms: Some(from), to_ms: Some(to), limit: 1_000_000, ..FeedbackFilter::default() };
    for item in store.list_feedback(workspace, &filter).await? {
        let Some(touchpoint) =
            item.touchpoint.as_deref().and_then(|label| journey.feedback_touchpoint(label, item.channel.as_deref()))
        else {
            continue;
        };
        experiences.push(Experience {
            customer: item.identity_key.as_ref().and_then(|key| loaded.identities.get(key)).copied(),
            touchpoint: touchpoint as u16,
            at_ms: item.occurred_at_ms,
            signal: Signal::Sentiment { score: item.score, negative: item.label == "negative" },
        });
    }
    Ok(experiences)
}

async fn segment(
    store: &Store,
    workspace: &WorkspaceId,
    loaded: &Loaded,
    spec: &SegmentSpec,
) -> Result<Segment, ApiError> {
    Ok(match spec {
        SegmentSpec::All => Segment::All,
        SegmentSpec::New => Segment::New,
        SegmentSpec::Returning => Segment::Returning,
        SegmentSpec::Channel(channel) => {
            // A channel no visit came through is a segment of nobody.
            Segment::FirstChannel(loaded.channels.iter().position(|c| c == channel).map_or(u16::MAX, |i| i as u16))
        }
        SegmentSpec::Trait(key, wanted) => {
            let mut chosen = vec![false; loaded.customers.len()];
            for (root, value) in store.customer_values(workspace, &Dimension::Trait(key.clone())).await? {
                if value == *wanted
                    && let Some(&customer) = loaded.customers.get(&root)
                {
                    chosen[customer as usize] = true;
                }
            }
            Segment::Customers(chosen)
        }
    })
}

/// A journey's definition, checked query and analytics (and the compared segment's, with the
/// differences), as one JSON document.
pub struct Report {
    pub journey: Journey,
    pub query: JourneyQuery,
    pub analytics: Analytics,
    pub compared: Option<Analytics>,
    pub document: Value,
}

/// Analytics of journey `id` for the query string `raw`; `now_ms` decides the default period.
pub async fn analytics(
    store: &Store,
    workspace: &WorkspaceId,
    id: &str,
    raw: &RawJourneyQuery,
    now_ms: i64,
) -> Result<Report, ApiError> {
    let query = parse_query(raw, day_of_ms(now_ms)).map_err(crate::services::metrics::invalid_query)?;
    let record = record(store, workspace, id).await?;
    let journey = parse(&record.definition)
        .map_err(|problems| ApiError::internal(format!("stored journey {id} no longer parses: {problems:?}")))?;
    let loaded = visits(store, workspace, &record, &journey).await?;
    let period = query.period_ms();
    let experiences = Arc::new(experiences(store, workspace, &journey, &loaded, period).await?);
    let min_n = match query.min_n {
        Some(n) => n,
        None => store.metric_settings(workspace).await?.figure_options().min_n,
    };
    let options = Options { min_n, ..Options::default() };
    let first = segment(store, workspace, &loaded, &query.segment).await?;
    let second = match &query.compare {
        Some(spec) => Some(segment(store, workspace, &loaded, spec).await?),
        None => None,
    };
    let (definition, shared) = (journey.clone(), Arc::clone(&loaded));
    let (analytics, compared) = tokio::task::spawn_blocking(move || {
        let run = |segment: &Segment| analyse(&definition, &shared.visits, &experiences, period, segment, &options);
        (run(&first), second.as_ref().map(run))
    })
    .await
    .map_err(ApiError::internal)?;
    let mut document = json!({
        "journey": {"id": record.id, "name": journey.name},
        "period": {"from": date_of_day(query.from_day).to_string(), "to": date_of_day(query.to_day).to_string()},
        "segment": query.segment.name(),
    });
    merge(&mut document, serde_json::to_value(&analytics).map_err(ApiError::internal)?);
    if let (Some(spec), Some(compared)) = (&query.compare, &compared) {
        let mut other = json!({"segment": spec.name()});
        merge(&mut other, serde_json::to_value(compared).map_err(ApiError::internal)?);
        other["differences"] = serde_json::to_value(differences(&analytics, compared)).map_err(ApiError::internal)?;
        document["comparison"] = other;
    }
    Ok(Report { journey, query, analytics, compared, document })
}

/// "2026-01-01 to 2026-03-31 · all": the period and segment, as the map's subtitle.
pub fn subtitle(query: &JourneyQuery) -> String {
    format!("{} to {} · {}", date_of_day(query.from_day), date_of_day(query.to_day), query.segment.name())
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}
