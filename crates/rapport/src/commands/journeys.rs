//! `rapport journeys list|create|analytics`: the journey API's definitions and numbers, read
//! from the database directly; analytics print as tables (or the API's JSON with `--json`), and
//! `--svg FILE` writes the journey map.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use rapport_core::journey::analytics::Analytics;
use rapport_core::journey::query::RawJourneyQuery;
use rapport_server::services::{journey_map, journeys};
use serde_json::Value;

use crate::settings::Settings;

pub struct AnalyticsArgs {
    pub journey: String,
    pub workspace: String,
    pub query: RawJourneyQuery,
    pub json: bool,
    pub svg: Option<PathBuf>,
}

/// The journey's id: `journey` is an id or a name.
async fn journey_id(
    store: &rapport_store::Store,
    workspace: &rapport_core::ids::WorkspaceId,
    journey: &str,
) -> anyhow::Result<String> {
    let all = store.journeys(workspace, None).await?;
    all.iter()
        .find(|j| j.id == journey)
        .or_else(|| all.iter().find(|j| j.definition["name"].as_str() == Some(journey)))
        .map(|j| j.id.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no journey `{journey}` (an id or a name) in this workspace: `rapport journeys list` shows them"
            )
        })
}

pub async fn list(settings: Settings, workspace: String) -> anyhow::Result<()> {
    let listed = crate::commands::with_store(&settings, async |store| {
        let workspace = crate::commands::workspace_named(store, &workspace).await?;
        journeys::list(store, &workspace.id).await.map_err(anyhow::Error::from)
    })
    .await?;
    for journey in listed["data"].as_array().into_iter().flatten() {
        let touchpoints = journey["touchpoints"].as_array().map_or(0, Vec::len);
        println!(
            "{}  {}  ({touchpoints} touchpoints, goal {})",
            journey["id"].as_str().unwrap_or(""),
            journey["name"].as_str().unwrap_or(""),
            journey["goal"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

pub async fn create(settings: Settings, workspace: String, file: PathBuf) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let definition: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let created = crate::commands::with_store(&settings, async |store| {
        let workspace = crate::commands::workspace_named(store, &workspace).await?;
        journeys::create(store, &workspace.id, &definition).await.map_err(anyhow::Error::from)
    })
    .await?;
    println!("{}", created["id"].as_str().unwrap_or_default());
    Ok(())
}

pub async fn analytics(settings: Settings, args: AnalyticsArgs) -> anyhow::Result<()> {
    let report = crate::commands::with_store(&settings, async |store| {
        let workspace = crate::commands::workspace_named(store, &args.workspace).await?;
        let id = journey_id(store, &workspace.id, &args.journey).await?;
        journeys::analytics(store, &workspace.id, &id, &args.query, rapport_store::now_ms())
            .await
            .map_err(anyhow::Error::from)
    })
    .await?;
    if let Some(path) = &args.svg {
        let svg = journey_map::render(&report.journey, &report.analytics, &journeys::subtitle(&report.query));
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.document)?);
        return Ok(());
    }
    print!("{}", text(&report.journey.name, &journeys::subtitle(&report.query), &report.analytics));
    if let (Some(spec), Some(compared)) = (&report.query.compare, &report.compared) {
        println!();
        print!("{}", text(&report.journey.name, &format!("compared: {}", spec.name()), compared));
    }
    Ok(())
}

fn number(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

/// The analytics as a CX team reads them: the funnel, friction ranked, the commonest paths.
fn text(name: &str, subtitle: &str, a: &Analytics) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: {subtitle}; {} customers, {} visits; reached {}: {}",
        a.customers,
        a.visits,
        a.goal,
        journeys::readable_share(&a.converted)
    );
    let _ = writeln!(out, "\nStages (reached of all; went on to a later stage; time to the next: median, p90)");
    let rows: Vec<Vec<String>> = a
        .stages
        .iter()
        .map(|s| {
            vec![
                s.stage.clone(),
                journeys::readable_share(&s.reached),
                s.skipped.to_string(),
                journeys::readable_share(&s.continued),
                s.to_next_stage.map_or("-".to_owned(), |t| {
                    format!(
                        "{}, {} (n {})",
                        journeys::readable_hours(t.median_hours),
                        journeys::readable_hours(t.p90_hours),
                        t.n
                    )
                }),
            ]
        })
        .collect();
    out.push_str(&crate::commands::table::columns(
        &["stage", "reached", "skipped", "continued", "to next stage"],
        &rows,
    ));
    let _ = writeln!(out, "\nFriction, worst first (touchpoints with at least {} visits)", a.min_n);
    let rows: Vec<Vec<String>> = a
        .friction_ranking
        .iter()
        .filter_map(|key| a.touchpoints.iter().find(|t| t.key == *key))
        .map(|t| {
            let f = &t.friction;
            vec![
                f.rank.map_or("-".to_owned(), |r| r.to_string()),
                t.name.clone(),
                t.stage.clone(),
                t.visits.to_string(),
                format!("{:.3}", f.score),
                number(f.drop_off, 3),
                number(f.repeat, 3),
                number(f.effort, 3),
                number(f.dissatisfaction, 3),
                t.sentiment.map_or("-".to_owned(), |s| format!("{:+.2} (n {})", s.mean, s.n)),
            ]
        })
        .collect();
    out.push_str(&crate::commands::table::columns(
        &[
            "#",
            "touchpoint",
            "stage",
            "visits",
            "friction",
            "drop-off",
            "repeat",
            "effort",
            "dissatisfied",
            "sentiment",
        ],
        &rows,
    ));
    let _ = writeln!(out, "\nCommonest paths to {} (repeats collapsed)", a.goal);
    let rows: Vec<Vec<String>> = a
        .paths
        .iter()
        .map(|p| {
            let mut steps = p.touchpoints.join(" → ");
            if p.truncated {
                steps.push_str(" → …");
            }
            if steps.is_empty() {
                steps = "(straight to the goal)".to_owned();
            }
            vec![steps, p.customers.to_string(), journeys::readable_share(&p.conversion)]
        })
        .collect();
    out.push_str(&crate::commands::table::columns(&["path", "customers", "reached the goal"], &rows));
    let _ = writeln!(
        out,
        "\nBacktracking: {} of customers; loops: {} of customers",
        journeys::readable_share(&a.backtracking.customers),
        journeys::readable_share(&a.loops.customers)
    );
    out
}
