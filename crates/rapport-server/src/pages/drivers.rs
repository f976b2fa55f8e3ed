//! Drivers and root causes: what moves NPS (or CSAT) — the importance-against-performance
//! quadrant of the key drivers, and the topics detractors (or the dissatisfied) mention more
//! than everyone else, each with its interval.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use rapport_core::metrics::query::{date_of_day, day_of_ms, parse_day};
use serde_json::Value;

use crate::AppState;
use crate::pages::{Viewer, failed, layout};
use crate::services::analysis::{driver_report, root_cause_report};

const BOOTSTRAP: usize = 200;

fn percent(value: &Value) -> String {
    value.as_f64().map_or("–".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

fn interval(value: &Value, scale: f64, digits: usize) -> String {
    match (value["low"].as_f64(), value["high"].as_f64()) {
        (Some(low), Some(high)) => format!("{:.digits$} to {:.digits$}", low * scale, high * scale),
        _ => "–".to_owned(),
    }
}

/// Importance across, performance up; the "fix first" corner (important, below average) shaded.
/// Drawn to the fair share of R² that decides the quadrants.
fn quadrant(drivers: &[Value], metric: &str) -> Markup {
    let (width, height, pad) = (640.0, 360.0, 40.0);
    let fair_share = 1.0 / drivers.len().max(1) as f64;
    let max_importance =
        drivers.iter().filter_map(|d| d["importance"].as_f64()).fold(fair_share * 1.25, f64::max).max(0.01);
    let spread =
        drivers.iter().filter_map(|d| d["performance"].as_f64()).fold(0.0_f64, |m, p| m.max(p.abs())).max(0.01);
    // Room on the right and below for the last labels.
    let x = |importance: f64| pad + importance / max_importance * (width - 2.0 * pad - 110.0);
    let y = |performance: f64| height / 2.0 - performance / spread * (height / 2.0 - pad - 12.0);
    // Important means at least a fair share of R² (1 / the number of drivers), as the quadrants say.
    let middle = x(fair_share);
    html! {
        svg viewBox={"0 0 " (width) " " (height)} width="100%" role="img" class="quadrant"
            aria-label=(format!("Key drivers of {metric}: importance against performance")) {
            rect x=(middle) y=(height / 2.0) width=(width - pad - middle) height=(height / 2.0 - pad) fill="#fde8e8" {}
            text x=(width - pad - 4.0) y=(height - pad - 6.0) text-anchor="end" font-size="12" fill="#c81e1e" { "fix first" }
            text x=(width - pad - 4.0) y=(pad + 12.0) text-anchor="end" font-size="12" fill="#047857" { "keep" }
            line x1=(pad) y1=(height / 2.0) x2=(width - pad) y2=(height / 2.0) stroke="#9aa5b1" {}
            line x1=(middle) y1=(pad) x2=(middle) y2=(height - pad) stroke="#9aa5b1" stroke-dasharray="4 4" {}
            text x=(pad) y=(height - 10.0) font-size="12" fill="#52606d" { "importance →" }
            text x="6" y=(pad - 10.0) font-size="12" fill="#52606d" { "performance (" (metric) " where mentioned, minus overall) ↑" }
            @for driver in drivers {
                @if let (Some(importance), Some(performance)) = (driver["importance"].as_f64(), driver["performance"].as_f64()) {
                    circle cx=(x(importance)) cy=(y(performance)) r="5" fill=(if driver["quadrant"] == "fix_first" { "#c81e1e" } else { "#2563eb" }) {}
                    text x=(x(importance) + 8.0) y=(y(performance) + 4.0) font-size="12" fill="#1f2933" { (driver["name"].as_str().unwrap_or_default()) }
                }
            }
        }
    }
}

pub async fn page(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Query(parameters): Query<BTreeMap<String, String>>,
) -> Response {
    let metric = if parameters.get("metric").map(String::as_str) == Some("csat") { "csat" } else { "nps" };
    let today = day_of_ms(rapport_store::now_ms());
    let mut problems = Vec::new();
    let given = |key: &str| parameters.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let to = given("to").and_then(|d| parse_day("to", &d, &mut problems)).unwrap_or(today);
    let from = given("from").and_then(|d| parse_day("from", &d, &mut problems)).unwrap_or(to - 89).min(to);
    let (from_ms, to_ms) = (from * 86_400_000, (to + 1) * 86_400_000);
    let group = if metric == "csat" { "low" } else { "detractors" };
    let drivers =
        match driver_report(&state.store, &caller.workspace, metric, "topics", from_ms, to_ms, BOOTSTRAP).await {
            Ok(report) => report,
            Err(error) => return failed(&caller, error),
        };
    let causes = match root_cause_report(&state.store, &caller.workspace, metric, group, from_ms, to_ms).await {
        Ok(report) => report,
        Err(error) => return failed(&caller, error),
    };
    let list = drivers["drivers"].as_array().cloned().unwrap_or_default();
    let topics: Vec<&Value> = causes["topics"].as_array().into_iter().flatten().take(12).collect();
    let body = html! {
        h1 { "Drivers and root causes" }
        form class="filters" method="get" action="/drivers" {
            div {
                label for="metric" { "Metric" }
                select id="metric" name="metric" {
                    option value="nps" selected[metric == "nps"] { "NPS" }
                    option value="csat" selected[metric == "csat"] { "CSAT" }
                }
            }
            div { label for="from" { "From" } input id="from" name="from" type="date" value=(date_of_day(from).to_string()); }
            div { label for="to" { "To" } input id="to" name="to" type="date" value=(date_of_day(to).to_string()); }
            button type="submit" class="primary" { "Show" }
        }
        @for problem in &problems { p class="error" role="alert" { (problem.field) ": " (problem.problem) } }
        h2 id="drivers" { "Key drivers of " (metric.to_uppercase()) }
        @if list.is_empty() {
            p class="empty" { (drivers["note"].as_str().unwrap_or("No driver analysis for this period.")) }
        } @else {
            p class="hint" { "Johnson's relative weights of the topics customers mention, which sum to R² = "
                (format!("{:.3}", drivers["rSquared"].as_f64().unwrap_or(0.0))) ", with " (BOOTSTRAP) "-round bootstrap intervals; "
                (drivers["responses"]) " responses." }
            figure class="card" { (quadrant(&list, metric)) }
            div class="card" {
                table aria-labelledby="drivers" {
                    thead { tr { th scope="col" { "Topic" } th scope="col" class="num" { "Importance" } th scope="col" class="num" { "Weight (95% CI)" }
                        th scope="col" class="num" { "Performance" } th scope="col" { "Quadrant" } } }
                    tbody { @for driver in &list { tr class=[(driver["quadrant"] == "fix_first").then_some("worst")] {
                        td { (driver["name"].as_str().unwrap_or_default()) }
                        td class="num" { (percent(&driver["importance"])) }
                        td class="num" { (format!("{:.3}", driver["weight"].as_f64().unwrap_or(0.0))) " (" (interval(&driver["interval"], 1.0, 3)) ")" }
                        td class="num" { (driver["performance"].as_f64().map_or("–".to_owned(), |p| format!("{p:+.1}"))) }
                        td { (driver["quadrant"].as_str().unwrap_or_default().replace('_', " ")) }
                    } } }
                }
            }
        }
        h2 id="causes" { "What " (group) " mention more than the rest" }
        @if topics.is_empty() {
            p class="empty" { "No responses with comments in this period." }
        } @else {
            div class="card" {
                table aria-labelledby="causes" {
                    thead { tr { th scope="col" { "Topic" } th scope="col" class="num" { (group) } th scope="col" class="num" { "The rest" }
                        th scope="col" class="num" { "Difference (95% CI)" } th scope="col" class="num" { "q" } } }
                    tbody { @for topic in &topics { tr {
                        td { (topic["topic"].as_str().unwrap_or_default()) }
                        td class="num" { (percent(&topic["groupShare"])) " of " (topic["groupN"]) }
                        td class="num" { (percent(&topic["restShare"])) " of " (topic["restN"]) }
                        td class="num" { (topic["difference"].as_f64().map_or("–".to_owned(), |d| format!("{:+.1} pts", d * 100.0))) " (" (interval(&topic["differenceInterval"], 100.0, 1)) ")" }
                        td class="num" { (topic["qValue"].as_f64().map_or("–".to_owned(), |q| format!("{q:.3}"))) }
                    } } }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Drivers", Some(&caller), "/drivers", body)
}
