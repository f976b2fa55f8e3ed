//! Journeys: the list, and one journey for a period and segment: the map, the stage funnel and
//! the friction ranking with its components.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{PreEscaped, html};
use rapport_core::journey::query::RawJourneyQuery;

use crate::AppState;
use crate::pages::{Viewer, failed, layout};
use crate::services::{journey_map, journeys};

pub async fn list(State(state): State<AppState>, Viewer(caller): Viewer) -> Response {
    let listed = match journeys::list(&state.store, &caller.workspace).await {
        Ok(listed) => listed,
        Err(error) => return failed(&caller, error),
    };
    let journeys = listed["data"].as_array().cloned().unwrap_or_default();
    let body = html! {
        h1 { "Journeys" }
        @if journeys.is_empty() {
            div class="empty" {
                p { "No journey is defined yet. A journey is its stages and the events that are its touchpoints:" }
                p { code { "POST /v1/journeys" } " (an admin key), or " code { "rapport journeys create --workspace NAME FILE.json" } ". JOURNEYS.md has an example." }
            }
        } @else {
            div class="card" {
                table {
                    thead { tr { th scope="col" { "Journey" } th scope="col" { "Stages" } th scope="col" class="num" { "Touchpoints" } th scope="col" { "Goal" } } }
                    tbody {
                        @for journey in &journeys {
                            tr {
                                td {
                                    a href={"/journeys/" (journey["id"].as_str().unwrap_or_default())} { (journey["name"].as_str().unwrap_or_default()) }
                                    @if let Some(description) = journey["description"].as_str().filter(|d| !d.is_empty()) {
                                        br; span class="hint" { (description) }
                                    }
                                }
                                td { (journey["stages"].as_array().map(|s| s.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" → ")).unwrap_or_default()) }
                                td class="num" { (journey["touchpoints"].as_array().map_or(0, Vec::len)) }
                                td { (journey["goal"].as_str().unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Journeys", Some(&caller), "/journeys", body)
}

fn component(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

pub async fn one(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Path(id): Path<String>,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Response {
    // Empty fields of the filter form mean "the default".
    let given = |key: &str| parameters.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let raw =
        RawJourneyQuery { from: given("from"), to: given("to"), segment: given("segment"), compare: None, min_n: None };
    let report = match journeys::analytics(&state.store, &caller.workspace, &id, &raw, rapport_store::now_ms()).await {
        Ok(report) => report,
        Err(error) => return failed(&caller, error),
    };
    let a = &report.analytics;
    let svg = journey_map::render(&report.journey, a, &journeys::subtitle(&report.query));
    let period = report.document["period"].clone();
    let title = report.journey.name.clone();
    let body = html! {
        h1 { (title) }
        @if !report.journey.description.is_empty() { p class="lead" { (report.journey.description) } }
        form class="filters" method="get" {
            div { label for="from" { "From" } input id="from" name="from" type="date" value=(period["from"].as_str().unwrap_or_default()); }
            div { label for="to" { "To" } input id="to" name="to" type="date" value=(period["to"].as_str().unwrap_or_default()); }
            div {
                label for="segment" { "Segment" }
                input id="segment" name="segment" value=(report.query.segment.name()) list="segments" aria-describedby="segment-hint";
                datalist id="segments" { option value="all" {} option value="new" {} option value="returning" {} option value="channel:web" {} option value="channel:mobile" {} }
            }
            button type="submit" class="primary" { "Show" }
        }
        p class="hint" id="segment-hint" { "Segments: all, new, returning, channel:NAME, trait:KEY=VALUE." }
        p {
            strong { (a.customers) } " customers, " (a.visits) " visits; " (journeys::readable_share(&a.converted)) " reached " (a.goal) "."
        }
        @if a.customers == 0 {
            p class="empty" { "No customer visited this journey's touchpoints in the period. Widen the dates, or check that the touchpoints' event names match what is sent." }
        }
        figure class="card map" {
            (PreEscaped(svg))
            figcaption class="hint" { "The journey map: the three touchpoints with the most friction are red; the line is the mean sentiment of feedback about each touchpoint." }
        }
        h2 id="friction" { "Friction, worst first" }
        div class="card" {
            table aria-labelledby="friction" {
                thead { tr {
                    th scope="col" { "#" } th scope="col" { "Touchpoint" } th scope="col" { "Stage" } th scope="col" class="num" { "Visits" }
                    th scope="col" class="num" { "Friction" } th scope="col" class="num" { "Drop-off" } th scope="col" class="num" { "Repeats" }
                    th scope="col" class="num" { "Effort (CES 1–3)" } th scope="col" class="num" { "Dissatisfied" }
                } }
                tbody {
                    @for key in &a.friction_ranking {
                        @if let Some(t) = a.touchpoints.iter().find(|t| t.key == *key) {
                            tr class=[t.friction.rank.filter(|r| *r <= 3).map(|_| "worst")] {
                                td { (t.friction.rank.unwrap_or_default()) }
                                td { (t.name) }
                                td { (t.stage) }
                                td class="num" { (t.visits) }
                                td class="num" { (format!("{:.3}", t.friction.score)) }
                                td class="num" { (component(t.friction.drop_off)) }
                                td class="num" { (component(t.friction.repeat)) }
                                td class="num" { (component(t.friction.effort)) }
                                td class="num" { (component(t.friction.dissatisfaction)) }
                            }
                        }
                    }
                }
            }
            p class="hint" { "Friction = 0.3 × drop-off + 0.2 × repeats + 0.25 × effort + 0.25 × dissatisfaction; a dash is a component with no data. Touchpoints with fewer than " (a.min_n) " visits are not ranked." }
        }
        h2 id="funnel" { "Stages" }
        div class="card" {
            table aria-labelledby="funnel" {
                thead { tr {
                    th scope="col" { "Stage" } th scope="col" class="num" { "Reached" } th scope="col" class="num" { "Skipped it" }
                    th scope="col" class="num" { "Went on" } th scope="col" class="num" { "To the next stage (median, 90th pct.)" }
                } }
                tbody {
                    @for stage in &a.stages {
                        tr {
                            td { (stage.stage) }
                            td class="num" { (journeys::readable_share(&stage.reached)) }
                            td class="num" { (stage.skipped) }
                            td class="num" { (journeys::readable_share(&stage.continued)) }
                            td class="num" { (stage.to_next_stage.map_or("–".to_owned(), |t| format!("{}, {} (n {})", journeys::readable_hours(t.median_hours), journeys::readable_hours(t.p90_hours), t.n))) }
                        }
                    }
                }
            }
        }
        h2 id="paths" { "Commonest paths to " (a.goal) }
        div class="card" {
            table aria-labelledby="paths" {
                thead { tr { th scope="col" { "Path" } th scope="col" class="num" { "Customers" } th scope="col" class="num" { "Reached the goal" } } }
                tbody {
                    @for path in &a.paths {
                        tr {
                            td { (if path.touchpoints.is_empty() { "(straight to the goal)".to_owned() } else { path.touchpoints.join(" → ") }) @if path.truncated { " → …" } }
                            td class="num" { (path.customers) }
                            td class="num" { (journeys::readable_share(&path.conversion)) }
                        }
                    }
                }
            }
        }
    };
    layout::page(StatusCode::OK, &title, Some(&caller), "/journeys", body)
}
