//! `rapport metrics METRIC`: the same report as `GET /v1/metrics/{metric}`, read from the
//! database directly, printed as a table (or the API's JSON with `--json`).

use rapport_core::metrics::query::RawQuery;
use rapport_server::services::metrics::{MetricReport, metric_report};
use rapport_store::records::TallySource;

use crate::settings::Settings;

pub struct MetricsArgs {
    pub metric: String,
    pub workspace: String,
    pub query: RawQuery,
    pub json: bool,
}

pub async fn run(settings: Settings, args: MetricsArgs) -> anyhow::Result<()> {
    let report = crate::commands::with_store(&settings, async |store| {
        let workspace = crate::commands::workspace_named(store, &args.workspace).await?;
        let now = rapport_store::now_ms();
        Ok(metric_report(store, &workspace.id, &args.metric, &args.query, now, TallySource::Fastest).await?)
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(())
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.1}"))
}

/// The report as an aligned text table, low-n figures marked with `*`.
fn table(report: &MetricReport) -> String {
    let mut header: Vec<String> = report.group_by.clone();
    header.extend(["n", "score", "95% CI", "previous", "change", "p"].map(str::to_owned));
    // The gaps a team reads against: its target, then each external benchmark.
    if let Some(target) = report.target {
        header.push(format!("vs target {target}"));
    }
    header.extend(report.benchmarks.iter().map(|benchmark| format!("vs {} {}", benchmark.name, benchmark.score)));
    let mut rows: Vec<Vec<String>> = Vec::new();
    for group in &report.groups {
        let figure = &group.group.figure;
        let mut row: Vec<String> =
            group.group.key.0.iter().map(|(_, value)| value.clone().unwrap_or_else(|| "(none)".to_owned())).collect();
        row.push(format!("{}{}", figure.n, if figure.low_n { "*" } else { "" }));
        row.push(number(figure.score));
        row.push(match (figure.ci_low, figure.ci_high) {
            (Some(low), Some(high)) => format!("{low:.1} to {high:.1}"),
            _ => "-".to_owned(),
        });
        row.push(number(group.group.previous.score));
        let change = group.group.change.as_ref();
        row.push(change.map_or_else(|| "-".to_owned(), |change| format!("{:+.1}", change.difference)));
        row.push(change.map_or_else(|| "-".to_owned(), |change| format!("{:.3}", change.p_value)));
        let gap = |gap: Option<f64>| gap.map_or_else(|| "-".to_owned(), |gap| format!("{gap:+.1}"));
        if report.target.is_some() {
            row.push(gap(group.target_gap));
        }
        for benchmark in &report.benchmarks {
            let found = group.benchmark_gaps.iter().find(|candidate| candidate.name == benchmark.name);
            row.push(gap(found.map(|found| found.gap)));
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter().map(|row| row[column].chars().count()).chain([header[column].len()]).max().unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = format!(
        "{}: {}, {} to {}, counts from the {}\n",
        report.metric.to_uppercase(),
        report.unit,
        report.from,
        report.to,
        report.source
    );
    text.push_str(&line(&header));
    for row in &rows {
        text.push_str(&line(row));
    }
    if report.groups.iter().any(|group| group.group.figure.low_n) {
        text.push_str(&format!("* n below the minimum of {}: read with care\n", report.min_n));
    }
    text
}
