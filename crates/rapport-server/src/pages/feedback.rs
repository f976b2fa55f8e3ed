//! Feedback: topic trends (the last 90 days against the 90 before) and emerging themes, then
//! every kind of customer text filtered by topic, source, sentiment, kind and dates, newest
//! first, each with its sentiment and its topic mentions highlighted; the open spike alerts are
//! on the overview.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use rapport_core::metrics::query::parse_day;
use rapport_store::feedback_records::{FeedbackFilter, FeedbackRecord};

use crate::AppState;
use crate::pages::{Viewer, failed, layout};
use crate::services::feedback::{emerging_themes, taxonomy, topic_summary};
use serde_json::Value;

const PAGE: usize = 50;
const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
const KINDS: [&str; 4] = ["direct", "review", "social", "transcript"];

/// The text with each topic mention marked (the mentions' byte spans from the analysis).
fn highlighted(item: &FeedbackRecord, names: &BTreeMap<String, String>) -> Markup {
    let text = item.text.as_str();
    let mut spans: Vec<(usize, usize, String)> = Vec::new();
    for hit in item.analysis["topics"].as_array().into_iter().flatten() {
        let topic = hit["topic"].as_str().unwrap_or_default();
        let name = names.get(topic).cloned().unwrap_or_else(|| topic.to_owned());
        for mention in hit["mentions"].as_array().into_iter().flatten() {
            if let (Some(start), Some(end)) = (mention["start"].as_u64(), mention["end"].as_u64()) {
                spans.push((start as usize, end as usize, name.clone()));
            }
        }
    }
    spans.sort_by_key(|(start, end, _)| (*start, std::cmp::Reverse(*end)));
    let mut pieces: Vec<(&str, Option<String>)> = Vec::new();
    let mut at = 0;
    for (start, end, name) in spans {
        let (Some(before), Some(mention)) = (text.get(at..start), text.get(start..end)) else { continue };
        if start < at {
            continue;
        }
        pieces.push((before, None));
        pieces.push((mention, Some(name)));
        at = end;
    }
    pieces.push((text.get(at..).unwrap_or_default(), None));
    html! {
        @for (piece, topic) in pieces {
            @match topic {
                Some(topic) => mark title=(topic) { (piece) },
                None => (piece),
            }
        }
    }
}

fn selected(parameters: &BTreeMap<String, String>, key: &str) -> Option<String> {
    parameters.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub async fn page(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Response {
    let topics = match taxonomy(&state.store, &caller.workspace).await {
        Ok(taxonomy) => taxonomy.topics,
        Err(error) => return failed(&caller, error),
    };
    let names: BTreeMap<String, String> = topics.iter().map(|t| (t.id.clone(), t.name.clone())).collect();
    let (topic, source, label, kind) = (
        selected(&parameters, "topic"),
        selected(&parameters, "source"),
        selected(&parameters, "sentiment"),
        selected(&parameters, "kind"),
    );
    let channel = selected(&parameters, "channel").map(|c| c.to_lowercase());
    let words = selected(&parameters, "q");
    let mut problems = Vec::new();
    let from = selected(&parameters, "from").and_then(|d| parse_day("from", &d, &mut problems));
    let to = selected(&parameters, "to").and_then(|d| parse_day("to", &d, &mut problems));
    let mut notes: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.problem)).collect();
    if topic.as_ref().is_some_and(|t| !names.contains_key(t)) {
        notes.push("That topic is not in the workspace's taxonomy.".to_owned());
    }
    let filter = FeedbackFilter {
        from_ms: from.map(|day| day * 86_400_000),
        to_ms: to.map(|day| (day + 1) * 86_400_000),
        topic: topic.clone(),
        source: source.clone(),
        channel: channel.clone(),
        text: words.clone(),
        kind: kind.clone().filter(|k| KINDS.contains(&k.as_str())),
        label: label.clone().filter(|l| LABELS.contains(&l.as_str())),
        limit: PAGE,
        ..FeedbackFilter::default()
    };
    let items = match state.store.list_feedback(&caller.workspace, &filter).await {
        Ok(items) => items,
        Err(error) => return failed(&caller, error.into()),
    };
    // Topic trends (the last 90 days against the 90 before) and emerging themes (30 days).
    let now = rapport_store::now_ms();
    let day = 86_400_000;
    let (recent, before, themes) = tokio::join!(
        topic_summary(&state.store, &caller.workspace, now - 90 * day, now),
        topic_summary(&state.store, &caller.workspace, now - 180 * day, now - 90 * day),
        emerging_themes(&state.store, &caller.workspace, now - 30 * day, now, 3, 8),
    );
    let (recent, before, themes) = match (recent, before, themes) {
        (Ok(recent), Ok(before), Ok(themes)) => (recent, before, themes),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => return failed(&caller, error),
    };
    let earlier: BTreeMap<String, f64> = before["topics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["topic"].as_str()?.to_owned(), t["shareOfFeedback"]["value"].as_f64()?)))
        .collect();
    let mut trends: Vec<&Value> =
        recent["topics"].as_array().into_iter().flatten().filter(|t| t["mentions"].as_u64() > Some(0)).collect();
    trends.sort_by_key(|t| std::cmp::Reverse(t["mentions"].as_u64().unwrap_or(0)));
    trends.truncate(10);
    let share = |value: &Value| value.as_f64().map_or("–".to_owned(), |v| format!("{:.1}%", v * 100.0));
    let interval = |value: &Value| match (value["low"].as_f64(), value["high"].as_f64()) {
        (Some(low), Some(high)) => format!("{:.1}–{:.1}", low * 100.0, high * 100.0),
        _ => "–".to_owned(),
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        h1 { "Feedback" }
        p class="lead" { "Reviews, survey comments, social posts and transcripts, newest first, each with its sentiment and its topics marked." }
        form class="filters" method="get" action="/feedback" role="search" {
            div { label for="q" { "Words" } input id="q" name="q" type="search" value=(value(&words)) placeholder="refund, late parcel…"; }
            div {
                label for="topic" { "Topic" }
                select id="topic" name="topic" {
                    option value="" { "Any topic" }
                    @for t in &topics {
                        option value=(t.id) selected[topic.as_deref() == Some(t.id.as_str())] {
                            @if t.parent.is_some() { "— " } (t.name)
                        }
                    }
                }
            }
            div {
                label for="sentiment" { "Sentiment" }
                select id="sentiment" name="sentiment" {
                    option value="" { "Any" }
                    @for l in LABELS { option value=(l) selected[label.as_deref() == Some(l)] { (l) } }
                }
            }
            div {
                label for="kind" { "Kind" }
                select id="kind" name="kind" {
                    option value="" { "Any" }
                    @for k in KINDS { option value=(k) selected[kind.as_deref() == Some(k)] { (k) } }
                }
            }
            div { label for="source" { "Source" } input id="source" name="source" value=(value(&source)) placeholder="app_store, website, chat…"; }
            div { label for="channel" { "Channel" } input id="channel" name="channel" value=(value(&channel)) placeholder="web, email, phone…" list="channels"; }
            datalist id="channels" { @for c in ["web", "mobile", "email", "chat", "phone", "sms", "social", "store"] { option value=(c) {} } }
            div { label for="from" { "From" } input id="from" name="from" type="date" value=(value(&selected(&parameters, "from"))); }
            div { label for="to" { "To" } input id="to" name="to" type="date" value=(value(&selected(&parameters, "to"))); }
            button type="submit" class="primary" { "Filter" }
        }
        @for note in &notes { p class="error" role="alert" { (note) } }
        details class="card" open[selected(&parameters, "topic").is_none()] {
            summary { strong { "Topics and emerging themes" } }
            h2 id="trends" { "Topics: the last 90 days against the 90 before" }
            @if trends.is_empty() { p class="hint" { "No topic was mentioned in the last 90 days." } }
            @else {
                table aria-labelledby="trends" {
                    thead { tr { th scope="col" { "Topic" } th scope="col" class="num" { "Mentions" } th scope="col" class="num" { "Share of feedback (95% CI)" }
                        th scope="col" class="num" { "The 90 days before" } th scope="col" class="num" { "Negative share" } } }
                    tbody { @for topic in &trends { tr {
                        td { a href={"/feedback?topic=" (topic["topic"].as_str().unwrap_or_default())} { (topic["name"].as_str().unwrap_or_default()) } }
                        td class="num" { (topic["mentions"]) }
                        td class="num" { (share(&topic["shareOfFeedback"]["value"])) " (" (interval(&topic["shareOfFeedback"]["interval"])) ")" }
                        td class="num" { (earlier.get(topic["topic"].as_str().unwrap_or_default()).map_or("–".to_owned(), |v| format!("{:.1}%", v * 100.0))) }
                        td class="num" { (share(&topic["negativeShare"]["value"])) }
                    } } }
                }
            }
            h2 id="themes" { "Emerging themes: the last 30 days, in what no topic covers" }
            @match themes["themes"].as_array().filter(|t| !t.is_empty()) {
                Some(found) => ul { @for theme in found { li { "“" (theme["phrase"].as_str().unwrap_or_default()) "” · " (theme["items"]) " items" } } },
                None => p class="hint" { "Nothing new: what customers write is covered by the taxonomy's topics." },
            }
        }
        @if items.is_empty() {
            p class="empty" role="status" { "No feedback matches. Widen the dates or clear a filter; feedback arrives through POST /v1/feedback, survey comments and rapport import feedback." }
        } @else {
            p class="hint" role="status" { (items.len()) @if items.len() == 1 { " item" } @else { " items" } @if items.len() == PAGE { " (the newest " (PAGE) ")" } "." }
            ol class="feedback" {
                @for item in &items {
                    li class="card" {
                        p class="hint" {
                            (layout::when(item.occurred_at_ms)) " · " (item.kind) " · " (item.source)
                            @if let Some(channel) = &item.channel { " · " (channel) }
                            @if let Some(touchpoint) = &item.touchpoint { " · " (touchpoint) }
                            " · " span class=(layout::sentiment_class(&item.label)) { (item.label) " (" (format!("{:+.2}", item.score)) ")" }
                        }
                        p class="text" { (highlighted(item, &names)) }
                        p class="topics" {
                            @for hit in item.analysis["topics"].as_array().into_iter().flatten() {
                                @let id = hit["topic"].as_str().unwrap_or_default();
                                a class="chip" href={"/feedback?topic=" (id)} { (names.get(id).cloned().unwrap_or_else(|| id.to_owned())) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Feedback", Some(&caller), "/feedback", body)
}
