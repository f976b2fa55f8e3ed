//! The overview: NPS, CSAT, CES and churn rate over the last 90 days, each with its n, 95%
//! interval, change against the 90 days before (and whether it is significant), target gap and a
//! year's trend by month; closing the loop (low scores followed up, time to first contact,
//! recovery); then the open spike alerts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use maud::{Markup, PreEscaped, html};
use rapport_core::ids::WorkspaceId;
use rapport_core::metrics::query::{RawQuery, date_of_day, day_of_ms};
use rapport_store::Store;
use rapport_store::records::TallySource;

use crate::AppState;
use crate::error::ApiError;
use crate::pages::{Viewer, failed, layout};
use crate::services::metrics::{MetricReport, metric_report};

const TILES: [(&str, &str); 4] = [("nps", "NPS"), ("csat", "CSAT"), ("ces", "CES"), ("churn_rate", "Churn rate")];

struct Tile {
    metric: &'static str,
    label: &'static str,
    /// The last 90 days, or why there is no figure.
    current: Result<MetricReport, String>,
    /// Scores by month over the last year (None where a month has no answers).
    trend: Vec<Option<f64>>,
}

fn query(from_day: i64, to_day: i64, group_by: Option<&str>) -> RawQuery {
    RawQuery {
        from: Some(date_of_day(from_day).to_string()),
        to: Some(date_of_day(to_day).to_string()),
        group_by: group_by.map(str::to_owned),
        ..RawQuery::default()
    }
}

pub async fn page(State(state): State<AppState>, Viewer(caller): Viewer) -> Response {
    let now = rapport_store::now_ms();
    let today = day_of_ms(now);
    // The four tiles at once; the churn rate (every activity event read) is kept for a while.
    let [(a, a_label), (b, b_label), (c, c_label), (d, d_label)] = TILES;
    let tiles = tokio::join!(
        tile(&state.store, &caller.workspace, a, a_label, now),
        tile(&state.store, &caller.workspace, b, b_label, now),
        tile(&state.store, &caller.workspace, c, c_label, now),
        tile(&state.store, &caller.workspace, d, d_label, now),
    );
    let tiles = match [tiles.0, tiles.1, tiles.2, tiles.3].into_iter().collect::<Result<Vec<String>, _>>() {
        Ok(tiles) => tiles,
        Err(error) => return failed(&caller, error),
    };
    let alerts = match state.store.alerts(&caller.workspace, Some("open"), 20).await {
        Ok(alerts) => alerts,
        Err(error) => return failed(&caller, error.into()),
    };
    let from = (today - 89) * 86_400_000;
    let recovery = match crate::services::cases::recovery(&state.store, &caller.workspace, from, now).await {
        Ok(recovery) => recovery,
        Err(error) => return failed(&caller, error),
    };
    let body = html! {
        h1 { "Overview" }
        p class="lead" { "The last 90 days (" (date_of_day(today - 89)) " to " (date_of_day(today)) ", UTC), against the 90 days before." }
        div class="tiles" {
            @for tile in &tiles { (PreEscaped(tile)) }
        }
        (loop_closure(&recovery))
        h2 { "Open alerts" }
        @if alerts.is_empty() {
            p class="empty" { "No spike is open. Rapport checks every topic and source each hour and raises an alert when negative feedback rises beyond what the season explains." }
        } @else {
            div class="card" {
                table {
                    caption class="hint" { "Spikes of negative feedback still going on" }
                    thead { tr { th scope="col" { "Topic or source" } th scope="col" { "Since" } th scope="col" { "Window" } } }
                    tbody {
                        @for alert in &alerts {
                            tr {
                                td { (alert.subject) " " span class="hint" { "(" (alert.scope) ")" } }
                                td { (layout::when(alert.raised_at_ms)) }
                                td { (layout::when(alert.window_start_ms)) " – " (layout::when(alert.window_end_ms)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(StatusCode::OK, "Overview", Some(&caller), "/overview", body)
}

/// How long a churn-rate tile is shown as it is; after that the next view still shows it at once
/// and has it computed again in the background. It reads every activity event (about a second
/// for the 20,000-customer demo) and moves slowly.
const CHURN_KEPT: Duration = Duration::from_secs(600);

/// Each workspace's churn-rate tile: when it was computed, the markup, and whether a new one is
/// being computed.
type Kept = Mutex<HashMap<WorkspaceId, (Instant, String, bool)>>;

fn kept_churn() -> &'static Kept {
    static KEPT: OnceLock<Kept> = OnceLock::new();
    KEPT.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Computes every workspace's churn-rate tile (a server does this in the background at start).
pub async fn warm(store: &Store) -> Result<usize, ApiError> {
    let workspaces = store.workspace_ids().await?;
    let now = rapport_store::now_ms();
    for workspace in &workspaces {
        let html = render_tile(store, workspace, "churn_rate", "Churn rate", now).await?;
        keep_churn(workspace, html)?;
    }
    Ok(workspaces.len())
}

fn keep_churn(workspace: &WorkspaceId, html: String) -> Result<(), ApiError> {
    kept_churn().lock().map_err(ApiError::internal)?.insert(workspace.clone(), (Instant::now(), html, false));
    Ok(())
}

/// One tile, rendered: the last 90 days and the year by month.
async fn tile(
    store: &Store,
    workspace: &WorkspaceId,
    metric: &'static str,
    label: &'static str,
    now: i64,
) -> Result<String, ApiError> {
    if metric != "churn_rate" {
        return render_tile(store, workspace, metric, label, now).await;
    }
    let stale = {
        let mut kept = kept_churn().lock().map_err(ApiError::internal)?;
        match kept.get_mut(workspace) {
            Some((at, html, refreshing)) => {
                let stale = at.elapsed() >= CHURN_KEPT && !*refreshing;
                *refreshing |= stale;
                Some((html.clone(), stale))
            }
            None => None,
        }
    };
    match stale {
        Some((html, false)) => Ok(html),
        Some((html, true)) => {
            let (store, workspace) = (store.clone(), workspace.clone());
            tokio::spawn(async move {
                match render_tile(&store, &workspace, metric, label, rapport_store::now_ms()).await {
                    Ok(html) => {
                        let _ = keep_churn(&workspace, html);
                    }
                    Err(error) => tracing::warn!(%error, "refreshing the churn-rate tile failed"),
                }
            });
            Ok(html)
        }
        None => {
            let html = render_tile(store, workspace, metric, label, now).await?;
            keep_churn(workspace, html.clone())?;
            Ok(html)
        }
    }
}

async fn render_tile(
    store: &Store,
    workspace: &WorkspaceId,
    metric: &'static str,
    label: &'static str,
    now: i64,
) -> Result<String, ApiError> {
    let today = day_of_ms(now);
    let source = TallySource::Fastest;
    let (last_90_days, by_month) = (query(today - 89, today, None), query(today - 364, today, Some("month")));
    let (current, trend) = tokio::join!(
        metric_report(store, workspace, metric, &last_90_days, now, source),
        metric_report(store, workspace, metric, &by_month, now, source),
    );
    let current = match current {
        Ok(report) => Ok(report),
        Err(error) if error.status().is_client_error() => Err(error.message),
        Err(error) => return Err(error),
    };
    let trend = trend.map(|report| report.groups.iter().map(|g| g.group.figure.score).collect()).unwrap_or_default();
    let mut html = tile_markup(&Tile { metric, label, current, trend }).into_string();
    if metric == "churn_rate" {
        let at = layout::when(now);
        html = html.replacen("</section>", &format!("<p class=\"hint\">As of {at}</p></section>"), 1);
    }
    Ok(html)
}

fn number(value: f64, unit: &str) -> String {
    if unit.starts_with("mean") { format!("{value:.2}") } else { format!("{value:.1}") }
}

fn tile_markup(tile: &Tile) -> Markup {
    let report = match &tile.current {
        Ok(report) => report,
        Err(reason) => {
            return html! {
                section class="tile" aria-labelledby=(format!("tile-{}", tile.metric)) {
                    h2 id=(format!("tile-{}", tile.metric)) { (tile.label) }
                    p { "Not available: " (reason) }
                }
            };
        }
    };
    let group = report.groups.first();
    let figure = group.map(|g| &g.group.figure);
    html! {
        section class="tile" aria-labelledby=(format!("tile-{}", tile.metric)) {
            h2 id=(format!("tile-{}", tile.metric)) { (tile.label) }
            @match figure.and_then(|f| f.score.map(|s| (f, s))) {
                Some((figure, score)) => {
                    div class="score" data-metric=(tile.metric) { (number(score, &report.unit)) " " span class="unit" { (report.unit) } }
                    p {
                        "n = " (figure.n)
                        @if let (Some(low), Some(high)) = (figure.ci_low, figure.ci_high) {
                            " · 95% CI " (number(low, &report.unit)) " to " (number(high, &report.unit))
                        }
                        @if figure.low_n { " · " strong { "few answers" } }
                    }
                    @if let Some(change) = group.and_then(|g| g.group.change.as_ref()) {
                        @let significant = change.q_value < 0.05;
                        // A higher churn rate is worse; every other figure here is better higher.
                        @let better = (change.difference > 0.0) != (tile.metric == "churn_rate");
                        p class=(if !significant { "" } else if better { "better" } else { "worse" }) {
                            (format!("{:+.1}", change.difference)) " against the 90 days before"
                            @if significant { " (significant)" } @else { " (within noise)" }
                        }
                    }
                    @if let Some(gap) = group.and_then(|g| g.target_gap) {
                        p { (format!("{gap:+.1}")) " against the target " (report.target.map(|t| format!("{t}")).unwrap_or_default()) }
                    }
                }
                None => {
                    p { "No answers in the last 90 days." }
                }
            }
            (sparkline(&tile.trend, tile.label))
        }
    }
}

/// The year by month as a small line (gaps where a month had no answers).
fn sparkline(values: &[Option<f64>], label: &str) -> Markup {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.len() < 2 {
        return html! {};
    }
    let (low, high) = known.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    let span = (high - low).max(1e-9);
    let (width, height) = (200.0, 40.0);
    let step = width / (values.len().max(2) - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|v| format!("{:.1},{:.1}", i as f64 * step, height - 4.0 - (v - low) / span * (height - 8.0)))
        })
        .collect();
    html! {
        svg class="spark" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)} role="img"
            aria-label=(format!("{label} by month over the last year, from {low:.1} to {high:.1}")) {
            polyline points=(points.join(" ")) fill="none" stroke="#2563eb" stroke-width="2" {}
        }
    }
}

/// A share with its n and 95% interval, as the recovery report gives it.
fn share(figure: &serde_json::Value) -> Markup {
    match figure["value"].as_f64() {
        Some(value) => html! {
            div class="score" { (format!("{:.0}", value * 100.0)) " " span class="unit" { "%" } }
            p { "n = " (figure["n"]) " · 95% CI " (format!("{:.0}–{:.0}%", figure["interval"]["low"].as_f64().unwrap_or(0.0) * 100.0, figure["interval"]["high"].as_f64().unwrap_or(0.0) * 100.0)) }
        },
        None => html! { div class="score" { "–" } p { "n = 0" } },
    }
}

/// Closing the loop over the same 90 days: low scores followed up, how fast, and customers
/// who answered better after their case was closed.
fn loop_closure(recovery: &serde_json::Value) -> Markup {
    html! {
        h2 id="loop" { "Closing the loop" }
        div class="tiles" {
            section class="tile" aria-labelledby="loop-closure" {
                h2 id="loop-closure" { "Low scores followed up" }
                (share(&recovery["loopClosureRate"]))
                p { (recovery["lowScores"]) " low scores in the period" }
            }
            section class="tile" aria-labelledby="first-contact" {
                h2 id="first-contact" { "First contact" }
                @match recovery["medianMinutesToFirstContact"].as_f64() {
                    Some(minutes) if minutes >= 120.0 => div class="score" { (format!("{:.1}", minutes / 60.0)) " " span class="unit" { "hours, median" } },
                    Some(minutes) => div class="score" { (format!("{minutes:.0}")) " " span class="unit" { "minutes, median" } },
                    None => div class="score" { "–" },
                }
                p { (recovery["closed"]) " cases closed" }
            }
            section class="tile" aria-labelledby="recovered" {
                h2 id="recovered" { "Recovered" }
                (share(&recovery["recoveryRate"]))
                p { "of those who answered again after their case closed" }
            }
        }
    }
}
