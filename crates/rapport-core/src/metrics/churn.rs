//! Churn rate per period: of the customers active at a period's start, the share who cancelled
//! during it. "Active" and "cancelled" are events a workspace names in its metric settings.

use std::collections::BTreeMap;

use crate::metrics::query::{MS_PER_DAY, MetricQuery, day_of_ms};
use crate::metrics::report::TallyRow;

/// One customer's activity and cancellation event times (ms since the epoch), any order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerActivity {
    pub active_ms: Vec<i64>,
    pub cancelled_ms: Vec<i64>,
}

impl CustomerActivity {
    /// Active at `at`: an activity event before `at`, with no cancellation after the last one and
    /// before `at`.
    pub fn active_at(&self, at: i64) -> bool {
        let Some(last_active) = self.active_ms.iter().copied().filter(|time| *time < at).max() else { return false };
        !self.cancelled_ms.iter().any(|time| *time >= last_active && *time < at)
    }

    pub fn cancelled_within(&self, start: i64, end: i64) -> bool {
        self.cancelled_ms.iter().any(|time| (start..end).contains(time))
    }
}

/// The periods `query` reads, as [start, end) in ms: its buckets from the one before `from`, or
/// the range and the range of the same length before it.
fn periods(query: &MetricQuery) -> Vec<(i64, i64)> {
    let (first, last) = query.read_range();
    match query.bucket {
        Some(bucket) => {
            let mut periods = Vec::new();
            let mut start = first;
            while start <= last {
                let next = bucket.next(start);
                periods.push((start * MS_PER_DAY, next * MS_PER_DAY));
                start = next;
            }
            periods
        }
        None => vec![
            (first * MS_PER_DAY, query.from_day * MS_PER_DAY),
            (query.from_day * MS_PER_DAY, (last + 1) * MS_PER_DAY),
        ],
    }
}

/// Per period, the customers active at its start, counted as score 1 when they cancelled within
/// it and 0 when they did not (on the period's first day), for [`crate::metrics::report::report`].
/// Each customer comes with its values of the query's dimensions (traits, account), in order.
pub fn churn_rows(query: &MetricQuery, customers: &[(Vec<Option<String>>, CustomerActivity)]) -> Vec<TallyRow> {
    let mut counts: BTreeMap<(i64, &[Option<String>], i64), u64> = BTreeMap::new();
    for (start, end) in periods(query) {
        let day = day_of_ms(start);
        for (values, customer) in customers.iter().filter(|(_, customer)| customer.active_at(start)) {
            let score = i64::from(customer.cancelled_within(start, end));
            *counts.entry((day, values.as_slice(), score)).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((day, values, score), count)| TallyRow { day, values: values.to_vec(), score, count })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::metrics::figures::{FigureOptions, Metric};
    use crate::metrics::query::{Bucket, day_of_date};
    use crate::metrics::report::report;

    fn at(day: time::Date) -> i64 {
        day_of_date(day) * MS_PER_DAY + 1_000
    }

    #[test]
    fn monthly_churn_by_hand() {
        let customers = vec![
            // Active since December, cancels in February.
            CustomerActivity {
                active_ms: vec![at(date!(2024 - 12 - 03))],
                cancelled_ms: vec![at(date!(2025 - 02 - 10))],
            },
            // Active since December, stays.
            CustomerActivity {
                active_ms: vec![at(date!(2024 - 12 - 20)), at(date!(2025 - 02 - 01))],
                cancelled_ms: vec![],
            },
            // Starts and cancels in January: never active at a month's start before it cancelled.
            CustomerActivity {
                active_ms: vec![at(date!(2025 - 01 - 05))],
                cancelled_ms: vec![at(date!(2025 - 01 - 25))],
            },
            // Cancelled in November, came back in January, cancels again in March.
            CustomerActivity {
                active_ms: vec![at(date!(2024 - 10 - 01)), at(date!(2025 - 01 - 15))],
                cancelled_ms: vec![at(date!(2024 - 11 - 02)), at(date!(2025 - 03 - 02))],
            },
            // Nothing configured happened.
            CustomerActivity::default(),
        ];
        let query = MetricQuery {
            metric: Metric::ChurnRate,
            from_day: day_of_date(date!(2025 - 01 - 01)),
            to_day: day_of_date(date!(2025 - 03 - 31)),
            bucket: Some(Bucket::Month),
            dimensions: Vec::new(),
            filters: Vec::new(),
            options: FigureOptions::default(),
            journey: None,
        };
        let customers: Vec<(Vec<Option<String>>, CustomerActivity)> =
            customers.into_iter().map(|customer| (Vec::new(), customer)).collect();
        let groups = report(&query, &churn_rows(&query, &customers));
        let figures: Vec<(u64, Option<f64>)> =
            groups.iter().map(|g| (g.figure.n, g.figure.score.map(|score| (score * 100.0).round() / 100.0))).collect();
        // January: 2 active at its start (the first two), none cancelled. February: 3 active
        // (the returning customer too), 1 cancelled. March: 2 active, 1 cancelled.
        assert_eq!(figures, [(2, Some(0.0)), (3, Some(33.33)), (2, Some(50.0))]);
        assert_eq!(groups[1].figure.counts, std::collections::BTreeMap::from([("churned", 1), ("active_at_start", 3)]));
        // December, the period before January: on December 1 nobody was active (the October
        // customer had cancelled in November).
        assert_eq!(groups[0].previous.n, 0);
        assert!(groups[0].change.is_none());
    }
}
