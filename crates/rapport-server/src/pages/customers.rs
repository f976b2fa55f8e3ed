//! Customers: find one by any identity (e-mail, phone, user id, anonymous id, or `TYPE:VALUE`),
//! and the 360 view: identities across channels, traits, channels used, churn risk with its
//! reasons and health, recent feedback, and the cross-channel timeline.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rapport_core::identity::Identity;
use rapport_core::ids::CustomerId;
use rapport_store::feedback_records::FeedbackFilter;
use serde_json::Value;

use crate::AppState;
use crate::api::customers::CustomerView;
use crate::auth::Caller;
use crate::pages::{Viewer, failed, layout};

/// What a person typed, as the identities it could be, likeliest first.
fn candidates(typed: &str) -> Vec<Identity> {
    let typed = typed.trim();
    let mut forms: Vec<String> = Vec::new();
    if typed.contains(':') {
        forms.push(typed.to_owned());
    }
    if typed.contains('@') {
        forms.push(format!("email:{typed}"));
    }
    if typed.chars().filter(char::is_ascii_digit).count() >= 6
        && typed.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        forms.push(format!("phone:{typed}"));
    }
    forms.push(format!("userId:{typed}"));
    forms.push(format!("anonymousId:{typed}"));
    forms.iter().filter_map(|form| Identity::parse_typed(form).ok()).collect()
}

fn search_form(typed: &str) -> Markup {
    html! {
        form class="filters" method="get" action="/customers" role="search" {
            div {
                label for="q" { "E-mail, phone, user id or anonymous id" }
                input id="q" name="q" type="search" value=(typed) size="36" required;
            }
            button type="submit" class="primary" { "Find" }
        }
    }
}

pub async fn search(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let typed = query.get("q").map(|q| q.trim().to_owned()).unwrap_or_default();
    let mut message = None;
    if !typed.is_empty() {
        for identity in candidates(&typed) {
            match state.store.customer_by_identity(&caller.workspace, &identity).await {
                Ok(Some(id)) => return Redirect::to(&format!("/customers/{}", id.0)).into_response(),
                Ok(None) => {}
                Err(error) => return failed(&caller, error.into()),
            }
        }
        message = Some(format!(
            "No customer has the identity “{typed}”. Phone numbers need their country code (+1 404 555 0142)."
        ));
    }
    let body = html! {
        h1 { "Customers" }
        p class="lead" { "Find a customer by any identity they have used, on any channel." }
        (search_form(&typed))
        @if let Some(message) = message { p class="empty" role="status" { (message) } }
    };
    layout::page(StatusCode::OK, "Customers", Some(&caller), "/customers", body)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub async fn one(State(state): State<AppState>, Viewer(caller): Viewer, Path(id): Path<String>) -> Response {
    match profile(&state, &caller, &id).await {
        Ok(Some(body)) => layout::page(StatusCode::OK, "Customer", Some(&caller), "/customers", body),
        Ok(None) => layout::problem(
            StatusCode::NOT_FOUND,
            Some(&caller),
            "No such customer",
            &format!("There is no customer “{id}” in this workspace."),
        ),
        Err(error) => failed(&caller, error),
    }
}

async fn profile(state: &AppState, caller: &Caller, id: &str) -> Result<Option<Markup>, crate::error::ApiError> {
    let store = &state.store;
    let Some(profile) = store.customer_profile(&caller.workspace, &CustomerId(id.to_owned())).await? else {
        return Ok(None);
    };
    let identity_keys: Vec<String> = profile.identities.iter().map(|i| format!("{}:{}", i.kind, i.value)).collect();
    let view = CustomerView::from(profile);
    let prediction = store.predictions(&caller.workspace, false, Some(&view.id), 1).await?;
    let prediction = prediction.first().map(crate::services::prediction::prediction_json);
    let timeline = store.timeline(&caller.workspace, &CustomerId(view.id.clone()), None, 50).await?;
    let feedback = store
        .list_feedback(
            &caller.workspace,
            &FeedbackFilter { identity_keys: Some(identity_keys.clone()), limit: 10, ..FeedbackFilter::default() },
        )
        .await?;
    let scores = store.scores_of(&caller.workspace, identity_keys.clone()).await?;
    let cases = store.cases(&caller.workspace, None, None, Some(&identity_keys), 20).await?;
    // An agent sees the customers their cases concern, and no one else.
    if !caller.role.allows(rapport_core::auth::Permission::Read) && cases.is_empty() {
        return Ok(None);
    }
    crate::services::audit::record(store, caller, "customer.read", &format!("customer:{id}"), Value::Null).await;
    let privacy = match identity_keys.first() {
        Some(key) => crate::pages::privacy::customer_section(state, caller, &view.id, key).await?,
        None => html! {},
    };
    let name = view.traits.get("name").map(|t| value_text(&t.value)).unwrap_or_else(|| view.id.clone());
    Ok(Some(html! {
        h1 { (name) }
        p class="lead" {
            "Customer " code { (view.id) }
            @if let (Some(first), Some(last)) = (&view.first_seen, &view.last_seen) { " · first seen " (layout::readable(first)) " · last seen " (layout::readable(last)) }
        }
        div class="tiles" {
            section class="tile" aria-labelledby="risk" {
                h2 id="risk" { "Churn risk" }
                @match prediction.as_ref().and_then(|p| p["churnRisk"].as_object()) {
                    Some(risk) => {
                        div class="score" { (format!("{:.0}", risk["probability"].as_f64().unwrap_or(0.0) * 100.0)) " " span class="unit" { "%" } }
                        @if risk["flagged"].as_bool() == Some(true) { p class="worse" { "Flagged at risk" } }
                        @for factor in risk["factors"].as_array().into_iter().flatten().take(3) {
                            p { (value_text(&factor["column"])) " " (value_text(&factor["direction"])) " the risk" }
                        }
                    }
                    None => p { "Not scored yet: the churn model scores every customer once a day." }
                }
            }
            section class="tile" aria-labelledby="health" {
                h2 id="health" { "Health" }
                @match prediction.as_ref().and_then(|p| p["health"]["score"].as_f64()) {
                    Some(score) => div class="score" { (format!("{score:.0}")) " " span class="unit" { "of 100" } }
                    None => p { "Not scored yet." }
                }
            }
            section class="tile" aria-labelledby="clv" {
                h2 id="clv" { "Lifetime value, next 12 months" }
                @match prediction.as_ref().map(|p| &p["lifetimeValue"]).filter(|v| v.is_object()) {
                    Some(value) => {
                        div class="score" { (format!("{:.2}", value["expectedValue"].as_f64().unwrap_or(0.0))) }
                        p { (format!("{:.1}", value["expectedPurchases"].as_f64().unwrap_or(0.0))) " purchases expected · "
                            (format!("{:.0}", value["probabilityAlive"].as_f64().unwrap_or(0.0) * 100.0)) "% likely still active" }
                        p class="hint" { "BG/NBD and Gamma-Gamma on every customer's orders, discounted 10% a year." }
                    }
                    None => p { "Not valued: no order yet, or not refreshed since it came (once a day), or the workspace's orders do not fit the models yet (GET /v1/clv says why)." }
                }
            }
            section class="tile" aria-labelledby="channels" {
                h2 id="channels" { "Channels" }
                @for channel in &view.channels { p { strong { (channel.channel) } " · " (channel.events) " events" } }
            }
        }
        h2 id="scores" { "Scores over time" }
        @if scores.is_empty() {
            p class="empty" { "No survey answers from this customer yet: NPS, CSAT and CES show here as they answer." }
        } @else {
            div class="card" {
                @for (kind, label, low, high) in [("nps", "NPS", 0, 10), ("csat", "CSAT", 1, 5), ("ces", "CES", 1, 7)] {
                    @let points: Vec<(i64, i64)> = scores.iter().filter(|(_, k, _)| k == kind).map(|(at, _, score)| (*at, *score)).collect();
                    @if let (Some(first), Some(last)) = (points.first(), points.last()) {
                        div class="score-row" {
                            p { strong { (label) } " · " (points.len()) @if points.len() == 1 { " answer" } @else { " answers" }
                                " · latest " strong { (last.1) } " on " (layout::when(last.0))
                                @if points.len() > 1 { " (first " (first.1) " on " (layout::when(first.0)) ")" } }
                            (score_chart(label, &points, low, high))
                        }
                    }
                }
            }
        }
        h2 id="identities" { "Identities" }
        div class="card" {
            table aria-labelledby="identities" {
                thead { tr { th scope="col" { "Type" } th scope="col" { "Value" } th scope="col" { "First seen" } } }
                tbody { @for identity in &view.identities { tr { td { (identity.r#type) } td { (identity.value) } td { (layout::readable(&identity.first_seen)) } } } }
            }
        }
        h2 id="traits" { "Traits" }
        div class="card" {
            @if view.traits.is_empty() { p class="hint" { "No traits yet: they come with identify calls." } }
            @else {
                table aria-labelledby="traits" {
                    thead { tr { th scope="col" { "Trait" } th scope="col" { "Value" } th scope="col" { "Set" } } }
                    tbody { @for (key, value) in &view.traits { tr { td { (key) } td { (value_text(&value.value)) } td { (layout::readable(&value.updated_at)) " on " (value.channel) } } } }
                }
            }
        }
        (privacy)
        h2 id="feedback" { "Recent feedback" }
        @if feedback.is_empty() { p class="empty" { "Nothing from this customer yet." } }
        @else {
            div class="card" {
                table aria-labelledby="feedback" {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Source" } th scope="col" { "Sentiment" } th scope="col" { "Text" } } }
                    tbody { @for item in &feedback { tr {
                        td { (layout::when(item.occurred_at_ms)) } td { (item.source) }
                        td class=(layout::sentiment_class(&item.label)) { (item.label) }
                        td { (item.text) }
                    } } }
                }
            }
        }
        h2 id="cases" { "Cases" }
        @if cases.is_empty() { p class="empty" { "No case about this customer." } }
        @else {
            div class="card" {
                table aria-labelledby="cases" {
                    thead { tr { th scope="col" { "Case" } th scope="col" { "State" } th scope="col" { "Opened" } th scope="col" { "Root cause" } } }
                    tbody { @for case in &cases { tr {
                        td { a href={"/cases/" (case.id)} { (case.title) } }
                        td { (case.state.replace('_', " ")) }
                        td { (layout::when(case.opened_at_ms)) }
                        td { (case.root_cause.clone().unwrap_or_else(|| "–".to_owned())) }
                    } } }
                }
            }
        }
        h2 id="timeline" { "Timeline across channels" }
        div class="card" {
            @match &timeline {
                Some(page) if !page.entries.is_empty() => {
                    table aria-labelledby="timeline" {
                        thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Channel" } } }
                        tbody { @for entry in &page.entries { tr {
                            td { (layout::when(entry.timestamp_ms)) }
                            td { (entry.event_type) @if let Some(name) = &entry.name { ": " strong { (name) } } }
                            td { (entry.channel) }
                        } } }
                    }
                    @if page.next_cursor.is_some() { p class="hint" { "The 50 latest events; the API's timeline pages through the rest." } }
                }
                _ => p class="hint" { "No events yet." }
            }
        }
    }))
}

/// One score's answers over time as dots on a line, the scale's ends fixed (NPS 0-10, CSAT 1-5,
/// CES 1-7) so a customer's drift reads at a glance; each dot has its date and score as a tooltip.
fn score_chart(label: &str, points: &[(i64, i64)], low: i64, high: i64) -> Markup {
    let (width, height, pad) = (360.0, 56.0, 6.0);
    let (start, end) = (points[0].0, points[points.len() - 1].0);
    let x = |at: i64| {
        if end == start { width / 2.0 } else { pad + (at - start) as f64 / (end - start) as f64 * (width - 2.0 * pad) }
    };
    let y = |score: i64| height - pad - (score - low) as f64 / (high - low) as f64 * (height - 2.0 * pad);
    let line: Vec<String> = points.iter().map(|(at, score)| format!("{:.1},{:.1}", x(*at), y(*score))).collect();
    let summary = format!(
        "{label}: {} answers from {} to {}, from {} to {} on a {low} to {high} scale",
        points.len(),
        layout::when(start),
        layout::when(end),
        points[0].1,
        points[points.len() - 1].1
    );
    html! {
        svg class="spark" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} role="img" aria-label=(summary) {
            line x1="0" x2=(width) y1=(format!("{:.1}", y(low))) y2=(format!("{:.1}", y(low))) stroke="#d8dee6" {}
            line x1="0" x2=(width) y1=(format!("{:.1}", y(high))) y2=(format!("{:.1}", y(high))) stroke="#d8dee6" {}
            @if points.len() > 1 {
                polyline points=(line.join(" ")) fill="none" stroke="#2563eb" stroke-width="1.5" {}
            }
            @for (at, score) in points {
                circle cx=(format!("{:.1}", x(*at))) cy=(format!("{:.1}", y(*score))) r="3.5" fill="#2563eb" {
                    title { (layout::when(*at)) ": " (score) }
                }
            }
        }
    }
}
