//! Counts of answers by day and dimension values become a report: one figure per group, each
//! with the figure of the period before it and the change, q-values across all the groups.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::metrics::figures::{Figure, ScoreCounts, change, figure, weighted_nps};
use crate::metrics::query::MetricQuery;
use crate::metrics::stats::benjamini_hochberg;

/// How many answers gave `score` on `day` with these dimension values (in the query's
/// `dimensions` order). Whatever the store reads from (rollups or the raw answers), it returns
/// these.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TallyRow {
    pub day: i64,
    pub values: Vec<Option<String>>,
    pub score: i64,
    pub count: u64,
}

/// A group's key, in group-by order: `{"month": "2025-01", "channel": "email"}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupKey(pub Vec<(String, Option<String>)>);

impl Serialize for GroupKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The figure of the period before, as a reader needs it beside the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Previous {
    pub n: u64,
    pub score: Option<f64>,
}

/// Change against the previous period, with the Benjamini-Hochberg q-value over every group
/// of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub q_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub key: GroupKey,
    #[serde(flatten)]
    pub figure: Figure,
    pub previous: Previous,
    pub change: Option<Change>,
}

/// Sums `rows` into counts per group key (bucket start or `None`, then dimension values).
pub fn tally(query: &MetricQuery, rows: &[TallyRow]) -> BTreeMap<(Option<i64>, Vec<Option<String>>), ScoreCounts> {
    let mut counts: BTreeMap<(Option<i64>, Vec<Option<String>>), ScoreCounts> = BTreeMap::new();
    let current = query.from_day..=query.to_day;
    for row in rows {
        let period = match query.bucket {
            Some(bucket) => Some(bucket.start(row.day)),
            // Without a bucket, the previous period is the one key `Some(0)`.
            None if current.contains(&row.day) => None,
            None => Some(0),
        };
        *counts.entry((period, row.values.clone())).or_default().entry(row.score).or_default() += row.count;
    }
    counts
}

/// The report's groups, ordered by period then dimension values. With a time bucket every bucket
/// of the range is listed for every combination of values seen in the range, answered or not.
pub fn report(query: &MetricQuery, rows: &[TallyRow]) -> Vec<Group> {
    let names: Vec<String> = query.dimensions.iter().map(|dimension| dimension.name()).collect();
    let counts = tally(query, rows);
    assemble(query, &names, &counts, &ScoreCounts::new(), |counts| figure(query.metric, counts, &query.options))
}

/// Account NPS: `rows` are by account and role (in that order); each account's answers are
/// weighted by role (`weight`), one group per account (and period).
pub fn account_report(query: &MetricQuery, rows: &[TallyRow], weight: impl Fn(Option<&str>) -> f64) -> Vec<Group> {
    type ByRole = BTreeMap<Option<String>, ScoreCounts>;
    let mut cells: BTreeMap<(Option<i64>, Vec<Option<String>>), ByRole> = BTreeMap::new();
    for ((period, values), counts) in tally(query, rows) {
        let account = values.first().cloned().flatten();
        let role = values.get(1).cloned().flatten();
        let by_role = cells.entry((period, vec![account])).or_default();
        let merged = by_role.entry(role).or_default();
        for (score, count) in counts {
            *merged.entry(score).or_default() += count;
        }
    }
    let names = vec!["account".to_owned()];
    assemble(query, &names, &cells, &ByRole::new(), |by_role| {
        weighted_nps(by_role.iter().map(|(role, counts)| (weight(role.as_deref()), counts)), &query.options)
    })
}

/// Groups from `cells` (per period and values), each made a figure by `figure_of`, with the
/// previous period's figure, the change and q-values.
fn assemble<C>(
    query: &MetricQuery,
    names: &[String],
    cells: &BTreeMap<(Option<i64>, Vec<Option<String>>), C>,
    empty: &C,
    figure_of: impl Fn(&C) -> Figure,
) -> Vec<Group> {
    let mut combinations: BTreeSet<Vec<Option<String>>> = cells
        .keys()
        .filter(|(period, _)| match query.bucket {
            Some(_) => period.is_some_and(|start| start >= query.from_day),
            None => period.is_none(),
        })
        .map(|(_, values)| values.clone())
        .collect();
    if combinations.is_empty() && names.is_empty() {
        combinations.insert(Vec::new());
    }
    let periods: Vec<(Option<i64>, Option<i64>)> = match query.bucket {
        Some(bucket) => {
            let mut periods = Vec::new();
            let mut start = query.from_day;
            while start <= query.to_day {
                periods.push((Some(start), Some(bucket.previous(start))));
                start = bucket.next(start);
            }
            periods
        }
        None => vec![(None, Some(0))],
    };

    let mut groups = Vec::new();
    for (period, previous_period) in periods {
        for values in &combinations {
            let now = figure_of(cells.get(&(period, values.clone())).unwrap_or(empty));
            let previous = figure_of(cells.get(&(previous_period, values.clone())).unwrap_or(empty));
            let difference = change(&previous, &now);
            let mut key = Vec::new();
            if let (Some(bucket), Some(start)) = (query.bucket, period) {
                key.push((bucket.name().to_owned(), Some(bucket.label(start))));
            }
            key.extend(names.iter().cloned().zip(values.iter().cloned()));
            groups.push(Group {
                key: GroupKey(key),
                previous: Previous { n: previous.n, score: previous.score },
                change: difference.map(|d| Change {
                    difference: d.difference,
                    ci_low: d.ci_low,
                    ci_high: d.ci_high,
                    p_value: d.p_value,
                    q_value: d.p_value,
                }),
                figure: now,
            });
        }
    }
    let with_change: Vec<usize> = (0..groups.len()).filter(|&i| groups[i].change.is_some()).collect();
    let p_values: Vec<f64> =
        with_change.iter().filter_map(|&i| groups[i].change.as_ref().map(|change| change.p_value)).collect();
    for (&i, q_value) in with_change.iter().zip(benjamini_hochberg(&p_values)) {
        if let Some(change) = groups[i].change.as_mut() {
            change.q_value = q_value;
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::metrics::figures::{FigureOptions, Metric};
    use crate::metrics::query::{Bucket, Dimension, day_of_date};

    fn row(day: i64, values: &[&str], score: i64, count: u64) -> TallyRow {
        TallyRow { day, values: values.iter().map(|v| Some(v.to_string())).collect(), score, count }
    }

    fn query(bucket: Option<Bucket>, dimensions: Vec<Dimension>, from: i64, to: i64) -> MetricQuery {
        MetricQuery {
            metric: Metric::Nps,
            from_day: from,
            to_day: to,
            bucket,
            dimensions,
            filters: Vec::new(),
            options: FigureOptions { min_n: 2, satisfied_from: 4 },
            journey: None,
        }
    }

    #[test]
    fn monthly_groups_compare_with_the_month_before() {
        let jan = day_of_date(date!(2025 - 01 - 10));
        let feb = day_of_date(date!(2025 - 02 - 03));
        let mar_end = day_of_date(date!(2025 - 03 - 31));
        let december = day_of_date(date!(2024 - 12 - 24));
        let rows = vec![
            row(december, &["email"], 0, 2),
            row(jan, &["email"], 10, 3),
            row(jan, &["email"], 3, 1),
            row(feb, &["email"], 10, 1),
            row(feb, &["sms"], 7, 1),
        ];
        let q = query(Some(Bucket::Month), vec![Dimension::Channel], day_of_date(date!(2025 - 01 - 01)), mar_end);
        let groups = report(&q, &rows);
        let labels: Vec<String> = groups
            .iter()
            .map(|g| format!("{}/{}", g.key.0[0].1.as_ref().unwrap(), g.key.0[1].1.as_ref().unwrap()))
            .collect();
        assert_eq!(
            labels,
            ["2025-01/email", "2025-01/sms", "2025-02/email", "2025-02/sms", "2025-03/email", "2025-03/sms"]
        );
        let jan_email = &groups[0];
        assert_eq!((jan_email.figure.n, jan_email.figure.score), (4, Some(50.0)));
        assert_eq!(jan_email.previous, Previous { n: 2, score: Some(-100.0) });
        assert!((jan_email.change.as_ref().unwrap().difference - 150.0).abs() < 1e-9);
        let mar_sms = &groups[5];
        assert_eq!((mar_sms.figure.n, mar_sms.figure.score, mar_sms.figure.low_n), (0, None, true));
        assert_eq!(mar_sms.previous, Previous { n: 1, score: Some(0.0) });
        assert!(mar_sms.change.is_none());
        // q-values are never below p-values.
        assert!(groups.iter().filter_map(|g| g.change.as_ref()).all(|c| c.q_value >= c.p_value));
        let json = serde_json::to_value(&groups[0]).unwrap();
        assert_eq!(json["key"], serde_json::json!({"month": "2025-01", "channel": "email"}));
        assert_eq!(json["counts"]["promoters"], 3);
    }

    #[test]
    fn without_a_bucket_the_previous_period_is_as_long() {
        let rows = vec![row(95, &[], 10, 2), row(100, &[], 0, 1), row(109, &[], 9, 1)];
        let groups = report(&query(None, vec![], 100, 109), &rows);
        assert_eq!(groups.len(), 1);
        assert_eq!((groups[0].figure.n, groups[0].previous.n), (2, 2));
        // Nothing at all still answers with one group of n = 0.
        let none = report(&query(None, vec![], 100, 109), &[]);
        assert_eq!((none.len(), none[0].figure.n), (1, 0));
    }
}
