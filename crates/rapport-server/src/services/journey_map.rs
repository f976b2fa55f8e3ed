//! The journey map as a picture: stages as columns, each touchpoint a box with its visits and
//! friction score (the worst three highlighted and numbered), and the emotional curve (mean
//! feedback sentiment per touchpoint) across them. SVG written with maud, so every name is
//! escaped; every element has a body so the document is well-formed XML.

use maud::{Markup, html};
use rapport_core::journey::analytics::Analytics;
use rapport_core::journey::definition::Journey;

const COLUMN: f64 = 210.0;
const MARGIN: f64 = 20.0;
const BOX_WIDTH: f64 = 190.0;
const BOX_HEIGHT: f64 = 58.0;
const BOX_GAP: f64 = 12.0;
const TOP: f64 = 96.0;
const CURVE_HEIGHT: f64 = 150.0;
/// How many of the worst touchpoints are highlighted.
const HIGHLIGHTED: usize = 3;

fn percent(share: Option<f64>) -> String {
    share.map_or("–".to_owned(), |s| format!("{:.0}%", s * 100.0))
}

/// The map of `analytics` (of `journey`), titled with the period and segment.
pub fn render(journey: &Journey, analytics: &Analytics, subtitle: &str) -> String {
    let stages = journey.stages.len();
    let mut row_in_stage = vec![0usize; stages];
    let placed: Vec<(f64, f64)> = journey
        .touchpoints
        .iter()
        .map(|t| {
            let row = row_in_stage[t.stage];
            row_in_stage[t.stage] += 1;
            (MARGIN + t.stage as f64 * COLUMN, TOP + row as f64 * (BOX_HEIGHT + BOX_GAP))
        })
        .collect();
    let rows = row_in_stage.iter().copied().max().unwrap_or(1).max(1) as f64;
    let curve_top = TOP + rows * (BOX_HEIGHT + BOX_GAP) + 30.0;
    let width = (MARGIN * 2.0 + stages as f64 * COLUMN).max(640.0);
    let height = curve_top + CURVE_HEIGHT + 50.0;
    let zero = curve_top + CURVE_HEIGHT / 2.0;
    let scale = CURVE_HEIGHT / 2.0 - 12.0;
    // The curve reads left to right in journey order, one slot per touchpoint.
    let slot = (width - 2.0 * MARGIN) / journey.touchpoints.len().max(1) as f64;
    let points: Vec<(f64, f64, f64, &str)> = analytics
        .touchpoints
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let x = MARGIN + (i as f64 + 0.5) * slot;
            t.sentiment.map(|s| (x, zero - s.mean.clamp(-1.0, 1.0) * scale, s.mean, t.name.as_str()))
        })
        .collect();
    let polyline: Vec<String> = points.iter().map(|(x, y, _, _)| format!("{x:.1},{y:.1}")).collect();
    let svg: Markup = html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)}
            font-family="system-ui, -apple-system, Segoe UI, sans-serif" role="img" {
            title { (journey.name) " — journey map" }
            rect x="0" y="0" width=(width) height=(height) fill="#ffffff" {}
            text x=(MARGIN) y="28" font-size="18" font-weight="600" fill="#1f2933" { (journey.name) }
            text x=(MARGIN) y="48" font-size="12" fill="#52606d" {
                (subtitle) " · " (analytics.customers) " customers · " (percent(analytics.converted.share))
                " reached " (analytics.goal)
            }
            @for (i, stage) in analytics.stages.iter().enumerate() {
                @let x = MARGIN + i as f64 * COLUMN;
                rect x=(x) y="58" width=(BOX_WIDTH) height="28" rx="4" fill="#e4e7eb" {}
                text x=(x + 8.0) y="76" font-size="12" font-weight="600" fill="#1f2933" {
                    (stage.stage) " · " (percent(stage.reached.share))
                }
            }
            @for ((t, figures), (x, y)) in journey.touchpoints.iter().zip(&analytics.touchpoints).zip(&placed) {
                @let rank = figures.friction.rank.filter(|r| *r <= HIGHLIGHTED);
                @let (fill, stroke) = if rank.is_some() { ("#fde8e8", "#c81e1e") } else { ("#f5f7fa", "#9aa5b1") };
                g {
                    rect x=(x) y=(y) width=(BOX_WIDTH) height=(BOX_HEIGHT) rx="6" fill=(fill) stroke=(stroke)
                        stroke-width=(if rank.is_some() { "2" } else { "1" }) {}
                    text x=(x + 8.0) y=(y + 20.0) font-size="12" font-weight="600" fill="#1f2933" { (t.name) }
                    text x=(x + 8.0) y=(y + 37.0) font-size="11" fill="#52606d" {
                        (figures.visits) " visits"
                        @if let Some(drop_off) = figures.drop_off { " · drop-off " (percent(drop_off.share)) }
                    }
                    text x=(x + 8.0) y=(y + 51.0) font-size="11" fill=(if rank.is_some() { "#c81e1e" } else { "#52606d" }) {
                        "friction " (format!("{:.2}", figures.friction.score))
                        @if let Some(rank) = rank { " · #" (rank) }
                    }
                }
            }
            text x=(MARGIN) y=(curve_top - 8.0) font-size="12" font-weight="600" fill="#1f2933" {
                "Emotional curve (mean feedback sentiment, −1 to 1)"
            }
            line x1=(MARGIN) y1=(zero) x2=(width - MARGIN) y2=(zero) stroke="#9aa5b1" stroke-dasharray="4 4" {}
            @if points.len() > 1 {
                polyline points=(polyline.join(" ")) fill="none" stroke="#2563eb" stroke-width="2" {}
            }
            @for (x, y, mean, name) in &points {
                circle cx=(x) cy=(y) r="4" fill=(if *mean < 0.0 { "#c81e1e" } else { "#2563eb" }) {}
                text x=(x) y=(y - 8.0) font-size="11" text-anchor="middle" fill="#1f2933" { (format!("{mean:+.2}")) }
                text x=(x) y=(curve_top + CURVE_HEIGHT + 14.0) font-size="10" text-anchor="middle" fill="#52606d" { (name) }
            }
            text x=(MARGIN) y=(height - 10.0) font-size="10" fill="#52606d" {
                "Red: the " (HIGHLIGHTED) " touchpoints with the most friction (drop-off, repeats, effort, dissatisfaction), ranked; "
                "touchpoints with fewer than " (analytics.min_n) " visits are not ranked."
            }
            @if points.is_empty() {
                text x=(MARGIN) y=(zero - 6.0) font-size="11" fill="#52606d" { "No feedback about these touchpoints in the period." }
            }
        }
    };
    svg.into_string()
}
