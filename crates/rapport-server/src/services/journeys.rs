//! Journeys: definitions checked and stored, and their analytics. A journey's visits (its
//! touchpoint events, matched once, with their customers) are read from the store once and kept in
//! memory per journey; later requests read only the events stored since (`Store::journey_stamp`)
//! and the merges those events made, so every period, segment and comparison after the first is
//! computed without reading the history again. An undone merge, a changed definition (and on
//! PostgreSQL, every `RELOAD_AFTER`) reads everything again. Survey answers and feedback are read
//! per request.

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
use rapport_store::feedback_records::FeedbackFilter;
use rapport_store::journey_records::JourneyRecord;
use rapport_store::{BackendKind, Store};
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};

/// How often PostgreSQL reads every event again: it can commit an event late with a lower
/// sequence number than one already read, which reads after that number miss.
const RELOAD_AFTER: Duration = Duration::from_secs(600);
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
    /// `Store::journey_stamp` when read: everything up to its sequence number is in.
    stamp: (i64, i64),
    /// When every event was last read (PostgreSQL reads them all again after `RELOAD_AFTER`).
    read_all_at: Instant,
    /// Grouped by customer, each customer's in time order.
    visits: Vec<Visit>,
    channels: Vec<String>,
    /// Customer (root) → index; a merge re-keys the absorbed root's index (or folds it into the
    /// survivor's).
    customers: HashMap<String, u32>,
    next_index: u32,
}

impl Loaded {
    fn index(&mut self, root: String) -> u32 {
        let next = self.next_index;
        let index = *self.customers.entry(root).or_insert(next);
        if index == next {
            self.next_index += 1;
        }
        index
    }

    fn channel(&mut self, channel: String) -> u16 {
        match self.channels.iter().position(|c| *c == channel) {
            Some(index) => index as u16,
            None => {
                self.channels.push(channel);
                (self.channels.len() - 1) as u16
            }
        }
    }
}

fn cache() -> &'static Mutex<Vec<Arc<Loaded>>> {
    static CACHE: OnceLock<Mutex<Vec<Arc<Loaded>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

/// The journey's visits up to now: kept ones when nothing changed, kept ones and the events
/// stored since (with the merges they made) when only that changed, else everything read again.
async fn visits(
    store: &Store,
    workspace: &WorkspaceId,
    record: &JourneyRecord,
    journey: &Journey,
) -> Result<Arc<Loaded>, ApiError> {
    let stamp = store.journey_stamp(workspace).await?;
    let kept = cache()
        .lock()
        .map_err(ApiError::internal)?
        .iter()
        .find(|l| l.workspace == *workspace && l.journey_id == record.id && l.updated_at_ms == record.updated_at_ms)
        .cloned();
    let reread = store.kind() == BackendKind::Postgres;
    let loaded = match kept {
        Some(kept) if kept.stamp == stamp && !(reread && kept.read_all_at.elapsed() > RELOAD_AFTER) => return Ok(kept),
        Some(kept)
            if kept.stamp.1 == stamp.1
                && kept.stamp.0 <= stamp.0
                && !(reread && kept.read_all_at.elapsed() > RELOAD_AFTER) =>
        {
            extend(store, workspace, journey, &kept, stamp).await?
        }
        _ => {
            let mut empty = Loaded {
                workspace: workspace.clone(),
                journey_id: record.id.clone(),
                updated_at_ms: record.updated_at_ms,
                stamp: (0, stamp.1),
                read_all_at: Instant::now(),
                visits: Vec::new(),
                channels: Vec::new(),
                customers: HashMap::new(),
                next_index: 0,
            };
            read_events(store, workspace, journey, &mut empty, stamp.0).await?;
            empty.stamp = stamp;
            empty
        }
    };
    let loaded = Arc::new(loaded);
    let mut cached = cache().lock().map_err(ApiError::internal)?;
    cached.retain(|l| !(l.workspace == *workspace && l.journey_id == record.id));
    if cached.len() >= CACHED_JOURNEYS {
        cached.remove(0);
    }
    cached.push(Arc::clone(&loaded));
    Ok(loaded)
}

/// `kept` with the events stored after it: first the merges those events made (an absorbed
/// root's visits become the survivor's), then their visits, merged in order.
async fn extend(
    store: &Store,
    workspace: &WorkspaceId,
    journey: &Journey,
    kept: &Loaded,
    stamp: (i64, i64),
) -> Result<Loaded, ApiError> {
    let range = (kept.stamp.0, stamp.0);
    let mut loaded = Loaded {
        workspace: kept.workspace.clone(),
        journey_id: kept.journey_id.clone(),
        updated_at_ms: kept.updated_at_ms,
        stamp: kept.stamp,
        read_all_at: kept.read_all_at,
        visits: Vec::new(),
        channels: kept.channels.clone(),
        customers: kept.customers.clone(),
        next_index: kept.next_index,
    };
    let mut folded: HashMap<u32, u32> = HashMap::new();
    for (node, root) in store.nodes_under_roots_of_events(workspace, range).await? {
        if node == root {
            continue;
        }
        let Some(absorbed) = loaded.customers.remove(&node) else { continue };
        match loaded.customers.get(&root) {
            Some(&survivor) if survivor != absorbed => {
                folded.insert(absorbed, survivor);
            }
            Some(_) => {}
            None => {
                loaded.customers.insert(root, absorbed);
            }
        }
    }
    let before = kept.visits.len();
    read_events(store, workspace, journey, &mut loaded, stamp.0).await?;
    loaded.stamp = stamp;
    let added = std::mem::take(&mut loaded.visits);
    let old = &kept.visits;
    // Only the customers a merge touched and the new visits move: taken out, re-keyed, sorted
    // and merged back into the rest, which stays in order (no sort of the whole history).
    loaded.visits = tokio::task::block_in_place(|| {
        let touched: std::collections::HashSet<u32> = folded.iter().flat_map(|(&a, &s)| [a, s]).collect();
        let touched = |customer: u32| touched.contains(&customer);
        let mut moved: Vec<Visit> = if folded.is_empty() {
            added
        } else {
            old.iter()
                .filter(|v| touched(v.customer))
                .map(|v| Visit { customer: folded.get(&v.customer).copied().unwrap_or(v.customer), ..*v })
                .chain(added)
                .collect()
        };
        moved.sort_unstable_by_key(order);
        let mut merged = Vec::with_capacity(before + moved.len());
        let mut rest = old.iter().filter(|v| folded.is_empty() || !touched(v.customer)).peekable();
        let mut moved = moved.into_iter().peekable();
        loop {
            match (rest.peek(), moved.peek()) {
                (Some(a), Some(b)) if order(a) <= order(b) => merged.extend(rest.next().copied()),
                (Some(_), Some(_)) | (None, Some(_)) => merged.extend(moved.next()),
                (Some(_), None) => merged.extend(rest.next().copied()),
                (None, None) => break,
            }
        }
        merged
    });
    Ok(loaded)
}

fn order(visit: &Visit) -> (u32, i64, u16) {
    (visit.customer, visit.at_ms, visit.touchpoint)
}

/// Reads the journey's events after `loaded`'s stamp up to `up_to` into `loaded.visits` (a
/// new run, sorted when it is the whole history).
async fn read_events(
    store: &Store,
    workspace: &WorkspaceId,
    journey: &Journey,
    loaded: &mut Loaded,
    up_to: i64,
) -> Result<(), ApiError> {
    let matcher = journey.matcher();
    let with_properties = journey.touchpoints.iter().any(|t| !t.conditions.is_empty());
    let empty = Value::Object(serde_json::Map::new());
    let whole = loaded.stamp.0 == 0;
    let range = (loaded.stamp.0, up_to);
    let mut visits = std::mem::take(&mut loaded.visits);
    store
        .each_touchpoint_event(workspace, &journey.event_names(), with_properties, range, |event| {
            // Parsed only when a condition needs them (they are read only then).
            let parsed = event.properties.as_deref().and_then(|text| serde_json::from_str::<Value>(text).ok());
            let properties = parsed.as_ref().unwrap_or(&empty);
            let Some(touchpoint) = matcher.touchpoint(&event.name, &event.channel, properties) else { return };
            let customer = loaded.index(event.customer_id);
            let channel = loaded.channel(event.channel);
            visits.push(Visit { customer, touchpoint: touchpoint as u16, channel, at_ms: event.timestamp_ms });
        })
        .await?;
    if whole {
        tokio::task::block_in_place(|| visits.sort_unstable_by_key(order));
    }
    loaded.visits = visits;
    Ok(())
}

/// Reads the visits of the most recently changed journeys (as many as are kept) ahead of the
/// first request; returns how many.
pub async fn warm(store: &Store) -> Result<usize, ApiError> {
    let mut journeys = Vec::new();
    for workspace in store.workspace_ids().await? {
        for record in store.journeys(&workspace, None).await? {
            journeys.push((workspace.clone(), record));
        }
    }
    journeys.sort_by_key(|(_, record)| std::cmp::Reverse(record.updated_at_ms));
    journeys.truncate(CACHED_JOURNEYS);
    for (workspace, record) in &journeys {
        if let Ok(journey) = parse(&record.definition) {
            visits(store, workspace, record, &journey).await?;
        }
    }
    Ok(journeys.len())
}

/// Survey answers (CSAT, CES) and feedback in the period, attributed to the journey's
/// touchpoints by the `touchpoint` (and `channel`) they carry.
async fn experiences(
    store: &Store,
    workspace: &WorkspaceId,
    journey: &Journey,
    loaded: &Loaded,
    (from, to): (i64, i64),
    satisfied_from: i64,
) -> Result<Vec<Experience>, ApiError> {
    let mut pending: Vec<(Option<String>, usize, i64, Signal)> = Vec::new();
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
            pending.push((Some(response.identity_key), touchpoint, response.submitted_at_ms, signal));
        }
    }
    let filter = FeedbackFilter { from_ms: Some(from), to_ms: Some(to), limit: 1_000_000, ..FeedbackFilter::default() };
    for item in store.list_feedback(workspace, &filter).await? {
        let Some(touchpoint) =
            item.touchpoint.as_deref().and_then(|label| journey.feedback_touchpoint(label, item.channel.as_deref()))
        else {
            continue;
        };
        let signal = Signal::Sentiment { score: item.score, negative: item.label == "negative" };
        pending.push((item.identity_key, touchpoint, item.occurred_at_ms, signal));
    }
    // Respondents to customers: the journey's index, or one of their own past it.
    let mut keys: Vec<String> = pending.iter().filter_map(|(key, ..)| key.clone()).collect();
    keys.sort_unstable();
    keys.dedup();
    let roots: HashMap<String, String> = store.roots_of_identities(workspace, keys).await?.into_iter().collect();
    let mut others: HashMap<String, u32> = HashMap::new();
    let mut customer = |key: &str| {
        let root = roots.get(key)?;
        let next = loaded.next_index + others.len() as u32;
        Some(loaded.customers.get(root).copied().unwrap_or_else(|| *others.entry(root.clone()).or_insert(next)))
    };
    Ok(pending
        .into_iter()
        .map(|(key, touchpoint, at_ms, signal)| Experience {
            customer: key.as_deref().and_then(&mut customer),
            touchpoint: touchpoint as u16,
            at_ms,
            signal,
        })
        .collect())
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
            let mut chosen = vec![false; loaded.next_index as usize];
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
    let settings = store.metric_settings(workspace).await?;
    let experiences =
        Arc::new(experiences(store, workspace, &journey, &loaded, period, settings.satisfied_from).await?);
    let min_n = query.min_n.unwrap_or(settings.figure_options().min_n);
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

/// A time between stages as people read it: minutes under an hour, hours under two days, else
/// days.
pub fn readable_hours(hours: f64) -> String {
    if hours < 1.0 {
        format!("{:.0} min", hours * 60.0)
    } else if hours < 48.0 {
        format!("{hours:.1} h")
    } else {
        format!("{:.1} d", hours / 24.0)
    }
}

/// A share as people read it: `12.3% (10.1–14.8)`, its 95% interval in brackets; `–` without n.
pub fn readable_share(share: &rapport_core::journey::analytics::Share) -> String {
    match (share.share, share.interval) {
        (Some(s), Some(i)) => format!("{:.1}% ({:.1}–{:.1})", s * 100.0, i.low * 100.0, i.high * 100.0),
        _ => "–".to_owned(),
    }
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
