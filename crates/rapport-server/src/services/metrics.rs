//! Metric reports: a query string to a checked query (core), counts from the store, figures and
//! changes (core), and the targets and benchmarks to show gaps to. The API and the CLI both call
//! [`metric_report`].

use std::collections::HashMap;

use rapport_core::ids::WorkspaceId;
use rapport_core::metrics::churn::{CustomerActivity, churn_rows};
use rapport_core::metrics::figures::{Figure, Metric, change, figure};
use rapport_core::metrics::query::{Dimension, MS_PER_DAY, MetricQuery, RawQuery, date_of_day, day_of_ms, parse_query};
use rapport_core::metrics::report::{self, Group, TallyRow};
use rapport_core::metrics::settings::{Benchmark, ChurnDefinition, MetricSettings, parse_settings};
use rapport_core::metrics::stats::Difference;
use rapport_core::problem::FieldProblem;
use rapport_core::survey::Audience;
use rapport_store::Store;
use rapport_store::records::TallySource;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode, ErrorDetail, problems_phrase};

#[derive(Debug, Serialize, ToSchema)]
pub struct FilterView {
    pub field: String,
    pub values: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BenchmarkGap {
    pub name: String,
    /// The group's score minus the benchmark's.
    pub gap: f64,
}

/// One group of a report: its key, figure (`n`, `score`, `ci_low`, `ci_high`, `low_n`, `counts`,
/// and `mean` or `index` where the metric has one), the previous period and the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportGroup {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub group: Group,
    /// The score minus the workspace's target for this metric.
    pub target_gap: Option<f64>,
    pub benchmark_gaps: Vec<BenchmarkGap>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricReport {
    pub metric: String,
    /// What `score` is measured in.
    pub unit: String,
    /// The reported range (UTC dates, inclusive); widened to whole buckets when grouped by time.
    pub from: String,
    pub to: String,
    pub group_by: Vec<String>,
    pub filters: Vec<FilterView>,
    pub min_n: u64,
    /// CSAT only: the lowest score counted as satisfied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfied_from: Option<i64>,
    pub target: Option<f64>,
    #[schema(value_type = Vec<Object>)]
    pub benchmarks: Vec<Benchmark>,
    /// Where the counts came from: `rollup` (daily counts), `index` (SQLite: every answer, from
    /// memory, for traits, accounts and agent with channel), `answers` (every answer, by SQL),
    /// `invitations` (response rate) or `events` (churn rate).
    pub source: String,
    pub groups: Vec<ReportGroup>,
}

pub fn invalid_query(problems: Vec<FieldProblem>) -> ApiError {
    let message = format!("the metric query has {}", problems_phrase(problems.len()));
    ApiError::new(ErrorCode::InvalidParameter, message)
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

pub fn invalid_settings(problems: Vec<FieldProblem>) -> ApiError {
    let message = format!("the settings have {}; nothing was saved", problems_phrase(problems.len()));
    ApiError::new(ErrorCode::InvalidSettings, message)
        .with_details(problems.into_iter().map(ErrorDetail::from).collect())
}

fn iso_date(day: i64) -> String {
    let date = date_of_day(day);
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}

/// The surveys a metric reads: NPS and account NPS read customer surveys, eNPS employee surveys;
/// the others all.
async fn audience_surveys(
    store: &Store,
    workspace: &WorkspaceId,
    metric: Metric,
) -> Result<Option<Vec<String>>, ApiError> {
    let audience = match metric {
        Metric::Nps | Metric::AccountNps => Audience::Customers,
        Metric::Enps => Audience::Employees,
        _ => return Ok(None),
    };
    let surveys = store.surveys(workspace).await?;
    Ok(Some(
        surveys.into_iter().filter(|survey| survey.definition.audience == audience).map(|survey| survey.id).collect(),
    ))
}

/// Answers `metric` with the query string `raw` over the workspace, `now_ms` deciding the default
/// range (the 365 days to today, UTC).
pub async fn metric_report(
    store: &Store,
    workspace: &WorkspaceId,
    metric: &str,
    raw: &RawQuery,
    now_ms: i64,
    source: TallySource,
) -> Result<MetricReport, ApiError> {
    let settings = store.metric_settings(workspace).await?;
    let query = parse_query(metric, raw, day_of_ms(now_ms), settings.figure_options()).map_err(invalid_query)?;
    if query.metric == Metric::AccountNps {
        // By account and role: each answer weighted by its respondent's role.
        let roles = &settings.account_roles;
        let mut by_account = query.clone();
        by_account.dimensions = vec![Dimension::Account, Dimension::Trait(roles.trait_key.clone())];
        let (rows, source_name) = tallies(store, workspace, &by_account, &settings, source).await?;
        let groups = report::account_report(&query, &rows, |role| roles.weight(role));
        let mut shaped = shape(&query, &settings, groups, source_name);
        shaped.group_by.push("account".to_owned());
        return Ok(shaped);
    }
    let (rows, source_name) = tallies(store, workspace, &query, &settings, source).await?;
    Ok(shape(&query, &settings, report::report(&query, &rows), source_name))
}

/// Customers active at each period's start and whether they cancelled in it, from the events
/// the workspace's churn definition names.
async fn churn_tallies(
    store: &Store,
    workspace: &WorkspaceId,
    query: &MetricQuery,
    churn: Option<&ChurnDefinition>,
) -> Result<Vec<TallyRow>, ApiError> {
    let Some(definition) = churn else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "churn_rate needs the workspace's churn definition: PUT /v1/metrics/settings with \
             {\"churn\": {\"activeEvents\": [...], \"cancelEvents\": [...]}}",
        ));
    };
    let names: Vec<String> = definition.active_events.iter().chain(&definition.cancel_events).cloned().collect();
    let until_ms = (query.read_range().1 + 1) * MS_PER_DAY;
    let mut customers: HashMap<String, CustomerActivity> = HashMap::new();
    for (customer, name, at_ms) in store.customer_activity(workspace, &names, until_ms).await? {
        let activity = customers.entry(customer).or_default();
        if definition.cancel_events.contains(&name) {
            activity.cancelled_ms.push(at_ms);
        }
        if definition.active_events.contains(&name) {
            activity.active_ms.push(at_ms);
        }
    }
    // Each customer's values of the dimensions the query reads (traits, account), then filtered.
    let mut values_of: HashMap<&Dimension, HashMap<String, String>> = HashMap::new();
    for dimension in query.dimensions_read() {
        if !values_of.contains_key(dimension) {
            values_of.insert(dimension, store.customer_values(workspace, dimension).await?.into_iter().collect());
        }
    }
    let value =
        |dimension: &Dimension, root: &str| values_of.get(dimension).and_then(|values| values.get(root)).cloned();
    let customers: Vec<(Vec<Option<String>>, CustomerActivity)> = customers
        .into_iter()
        .filter(|(root, _)| {
            query
                .filters
                .iter()
                .all(|filter| value(&filter.dimension, root).is_some_and(|v| filter.values.contains(&v)))
        })
        .map(|(root, activity)| (query.dimensions.iter().map(|dimension| value(dimension, &root)).collect(), activity))
        .collect();
    Ok(churn_rows(query, &customers))
}

/// The counts `query` needs and where they came from, with the workspace's `settings`.
async fn tallies(
    store: &Store,
    workspace: &WorkspaceId,
    query: &MetricQuery,
    settings: &MetricSettings,
    source: TallySource,
) -> Result<(Vec<TallyRow>, &'static str), ApiError> {
    if query.metric == Metric::ChurnRate {
        return Ok((churn_tallies(store, workspace, query, settings.churn.as_ref()).await?, "events"));
    }
    if let Some(journey) = &query.journey {
        // Journey stages are read as their touchpoints, then labelled.
        let stage_of = journey_stages(store, workspace, journey).await?;
        let Some(by_touchpoint) = query.by_touchpoint(&stage_of) else {
            return Ok((Vec::new(), store.tally_path(query, source).name()));
        };
        // `by_touchpoint` names no journey: this recursion is one level deep.
        let (mut rows, source) = Box::pin(tallies(store, workspace, &by_touchpoint, settings, source)).await?;
        query.label_stages(&mut rows, &stage_of);
        return Ok((rows, source));
    }
    Ok(match query.metric.question_type() {
        Some(question_type) => {
            let surveys = audience_surveys(store, workspace, query.metric).await?;
            let rows = store.answer_tallies(workspace, question_type, query, surveys.as_deref(), source).await?;
            (rows, store.tally_path(query, source).name())
        }
        None => (store.invitation_tallies(workspace, query).await?, "invitations"),
    })
}

/// Touchpoint (as responses carry it) → stage name, of the workspace's journey `id`.
async fn journey_stages(
    store: &Store,
    workspace: &WorkspaceId,
    id: &str,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let record = store.journeys(workspace, Some(id)).await?.into_iter().next().ok_or_else(|| {
        ApiError::invalid_parameter(
            "journey",
            format!("no journey `{id}` in this workspace (GET /v1/journeys lists them)"),
        )
    })?;
    let journey = rapport_core::journey::definition::parse(&record.definition)
        .map_err(|_| ApiError::internal(format!("the stored journey {id} no longer parses")))?;
    Ok(journey
        .touchpoints
        .iter()
        .map(|touchpoint| (touchpoint.feedback_touchpoint.clone(), journey.stages[touchpoint.stage].clone()))
        .collect())
}

fn shape(query: &MetricQuery, settings: &MetricSettings, groups: Vec<Group>, source: &str) -> MetricReport {
    let target = settings.target(query.metric);
    let benchmarks: Vec<Benchmark> = settings.benchmarks(query.metric).cloned().collect();
    let groups = groups
        .into_iter()
        .map(|group| {
            let score = group.figure.score;
            ReportGroup {
                target_gap: score.zip(target).map(|(score, target)| score - target),
                benchmark_gaps: match score {
                    Some(score) => benchmarks
                        .iter()
                        .map(|benchmark| BenchmarkGap { name: benchmark.name.clone(), gap: score - benchmark.score })
                        .collect(),
                    None => Vec::new(),
                },
                group,
            }
        })
        .collect();
    let mut group_by: Vec<String> = query.bucket.iter().map(|bucket| bucket.name().to_owned()).collect();
    group_by.extend(query.dimensions.iter().map(Dimension::name));
    MetricReport {
        metric: query.metric.name().to_owned(),
        unit: query.metric.unit().to_owned(),
        from: iso_date(query.from_day),
        to: iso_date(query.to_day),
        group_by,
        filters: query
            .filters
            .iter()
            .map(|filter| FilterView { field: filter.dimension.name(), values: filter.values.clone() })
            .collect(),
        min_n: query.options.min_n,
        satisfied_from: (query.metric == Metric::Csat).then_some(query.options.satisfied_from),
        target,
        benchmarks,
        source: source.to_owned(),
        groups,
    }
}

/// One side of a comparison: the group's filter and its figure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComparedGroup {
    pub filter: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub figure: Figure,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComparisonReport {
    pub metric: String,
    pub unit: String,
    pub from: String,
    pub to: String,
    pub a: ComparedGroup,
    pub b: ComparedGroup,
    /// `b − a` with its 95% interval and two-sided z-test p-value; null when either has no score.
    #[schema(value_type = Option<Object>)]
    pub difference: Option<Difference>,
}

/// Compares the groups `a` and `b` (each in filter syntax) of `metric` over the range and filters
/// of `raw`.
pub async fn compare_groups(
    store: &Store,
    workspace: &WorkspaceId,
    metric: &str,
    raw: &RawQuery,
    (a, b): (&str, &str),
    now_ms: i64,
) -> Result<ComparisonReport, ApiError> {
    if let Some(whole @ (Metric::ChurnRate | Metric::AccountNps)) = Metric::parse(metric) {
        let problem = format!("{} has no groups to compare: compare its periods in its report", whole.name());
        return Err(invalid_query(vec![FieldProblem::envelope("metric", &problem)]));
    }
    let settings = store.metric_settings(workspace).await?;
    let options = settings.figure_options();
    let today = day_of_ms(now_ms);
    let base = parse_query(metric, raw, today, options);
    let mut problems = Vec::new();
    let mut side = |name: &str, filter: &str| {
        let parsed =
            parse_query(metric, &RawQuery { filter: Some(filter.to_owned()), ..RawQuery::default() }, today, options);
        match parsed {
            Ok(query) if query.filters.is_empty() => {
                problems.push(FieldProblem::envelope(name, "required: a group in filter syntax (`channel:email`)"));
                None
            }
            Ok(query) => Some(query.filters),
            Err(found) => {
                problems.extend(
                    found
                        .into_iter()
                        .filter(|problem| problem.field != "metric")
                        .map(|problem| FieldProblem::envelope(name, &problem.problem)),
                );
                None
            }
        }
    };
    let (filters_a, filters_b) = (side("a", a), side("b", b));
    let base = match base {
        Ok(base) if problems.is_empty() => base,
        Ok(_) => return Err(invalid_query(problems)),
        Err(mut found) => {
            found.extend(problems);
            return Err(invalid_query(found));
        }
    };
    let (Some(filters_a), Some(filters_b)) = (filters_a, filters_b) else { return Err(invalid_query(problems)) };
    let mut figures = Vec::new();
    for (name, extra) in [("a", filters_a), ("b", filters_b)] {
        let mut query = base.clone();
        for filter in extra {
            if query.filters.iter().any(|existing| existing.dimension == filter.dimension) {
                let problem = format!("filters `{}`, which `filter` already does", filter.dimension.name());
                return Err(invalid_query(vec![FieldProblem::envelope(name, &problem)]));
            }
            query.filters.push(filter);
        }
        let rows = tallies(store, workspace, &query, &settings, TallySource::Fastest).await?.0;
        let counts = report::tally(&query, &rows).remove(&(None, Vec::new())).unwrap_or_default();
        figures.push(figure(query.metric, &counts, &query.options));
    }
    let (figure_b, figure_a) = (figures.pop().unwrap_or_default(), figures.pop().unwrap_or_default());
    Ok(ComparisonReport {
        metric: base.metric.name().to_owned(),
        unit: base.metric.unit().to_owned(),
        from: iso_date(base.from_day),
        to: iso_date(base.to_day),
        difference: change(&figure_a, &figure_b),
        a: ComparedGroup { filter: a.to_owned(), figure: figure_a },
        b: ComparedGroup { filter: b.to_owned(), figure: figure_b },
    })
}

/// Checks and saves the workspace's metric settings, returning them as stored.
pub async fn save_settings(store: &Store, workspace: &WorkspaceId, body: &Value) -> Result<MetricSettings, ApiError> {
    let settings = parse_settings(body).map_err(invalid_settings)?;
    store.put_metric_settings(workspace, &settings).await?;
    Ok(settings)
}
