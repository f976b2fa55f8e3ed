//! Spikes of negative mentions: is the last hour's (or the last day's) count of a topic's or a
//! source's negative feedback more than its recent past explains?
//!
//! The expected count respects weekly seasonality: each hour of the week has a weight, the product
//! of a day-of-week and an hour-of-day factor estimated from the volume of all feedback over the
//! baseline (add-one smoothed, so an empty hour is not impossible). A key's baseline count over
//! its baseline exposure (the sum of the weights) gives its rate; the window's exposure times that
//! rate is the expected count. The test conditions on the total (Przyborowski & Wilenski's test of
//! two Poisson rates): given `observed + baseline` mentions, the window's share is binomial with
//! probability `exposure(window) / (exposure(window) + exposure(baseline))`, so the baseline's own
//! uncertainty is part of the p-value. Across every key and both window lengths of an evaluation,
//! false discoveries are controlled by Benjamini-Hochberg; an alert also needs a minimum count and
//! a minimum ratio of observed to expected, so a significant but tiny excess stays quiet.

use std::collections::BTreeMap;

use rapport_core::metrics::stats::benjamini_hochberg;
use rapport_core::problem::FieldProblem;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpikeSettings {
    /// The expected share of false alerts among an evaluation's alerts (Benjamini-Hochberg q).
    pub false_discovery_rate: f64,
    /// Fewest negative mentions in the window for an alert.
    pub min_mentions: u64,
    /// Smallest observed ÷ expected for an alert.
    pub min_ratio: f64,
    /// Days before the window that make its baseline.
    pub baseline_days: u32,
}

impl Default for SpikeSettings {
    fn default() -> Self {
        SpikeSettings { false_discovery_rate: 0.05, min_mentions: 5, min_ratio: 2.0, baseline_days: 28 }
    }
}

impl SpikeSettings {
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        if !(self.false_discovery_rate > 0.0 && self.false_discovery_rate <= 0.5) {
            problems.push(FieldProblem::envelope("alerts.falseDiscoveryRate", "must be above 0 and at most 0.5"));
        }
        if !(1..=100_000).contains(&self.min_mentions) {
            problems.push(FieldProblem::envelope("alerts.minMentions", "must be from 1 to 100000"));
        }
        if !(1.0..=1000.0).contains(&self.min_ratio) {
            problems.push(FieldProblem::envelope("alerts.minRatio", "must be from 1 to 1000"));
        }
        if !(7..=365).contains(&self.baseline_days) {
            problems.push(FieldProblem::envelope("alerts.baselineDays", "must be from 7 to 365"));
        }
        problems
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Hour,
    Day,
}

/// Monday 0 … Sunday 6, and the hour of the day, of an hour starting at `hour_ms` (UTC).
fn day_and_hour(hour_ms: i64) -> (usize, usize) {
    let hour = hour_ms.div_euclid(HOUR_MS);
    let day = hour.div_euclid(24);
    // 1970-01-01 was a Thursday.
    ((day + 3).rem_euclid(7) as usize, hour.rem_euclid(24) as usize)
}

/// Relative feedback volume by hour of the week (mean about 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Seasonality {
    day: [f64; 7],
    hour: [f64; 24],
}

impl Seasonality {
    pub fn flat() -> Seasonality {
        Seasonality { day: [1.0; 7], hour: [1.0; 24] }
    }

    /// From hourly counts of all feedback (`volume`: hour start → count) over `from..to`.
    pub fn from_volume(volume: &BTreeMap<i64, u64>, from_ms: i64, to_ms: i64) -> Seasonality {
        let (mut day_count, mut day_hours) = ([0.0; 7], [0.0; 7]);
        let (mut hour_count, mut hour_hours) = ([0.0; 24], [0.0; 24]);
        let mut hour_ms = from_ms.div_euclid(HOUR_MS) * HOUR_MS;
        while hour_ms < to_ms {
            let (d, h) = day_and_hour(hour_ms);
            let count = volume.get(&hour_ms).copied().unwrap_or(0) as f64;
            day_count[d] += count;
            day_hours[d] += 1.0;
            hour_count[h] += count;
            hour_hours[h] += 1.0;
            hour_ms += HOUR_MS;
        }
        let total: f64 = day_count.iter().sum();
        let hours: f64 = day_hours.iter().sum();
        if hours == 0.0 {
            return Seasonality::flat();
        }
        let factor = |count: f64, span: f64, cells: f64| {
            if span == 0.0 { 1.0 } else { ((count + 1.0) / span) / ((total + cells) / hours) }
        };
        let mut seasonality = Seasonality::flat();
        for d in 0..7 {
            seasonality.day[d] = factor(day_count[d], day_hours[d], 7.0);
        }
        for h in 0..24 {
            seasonality.hour[h] = factor(hour_count[h], hour_hours[h], 24.0);
        }
        seasonality
    }

    pub fn weight(&self, hour_ms: i64) -> f64 {
        let (d, h) = day_and_hour(hour_ms);
        self.day[d] * self.hour[h]
    }

    /// The sum of the weights of the hours in `from..to`.
    pub fn exposure(&self, from_ms: i64, to_ms: i64) -> f64 {
        let mut total = 0.0;
        let mut hour_ms = from_ms.div_euclid(HOUR_MS) * HOUR_MS;
        while hour_ms < to_ms {
            total += self.weight(hour_ms);
            hour_ms += HOUR_MS;
        }
        total
    }
}

/// One key's test for one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpikeTest {
    pub key: String,
    pub granularity: Granularity,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub observed: u64,
    pub baseline: u64,
    pub expected: f64,
    pub p_value: f64,
    /// Benjamini-Hochberg adjusted p-value across the evaluation's tests.
    pub q_value: f64,
}

/// The expected count and the one-sided p-value of `observed` in a window of exposure
/// `window` against `baseline` mentions in a baseline of exposure `baseline_exposure`.
pub fn poisson_rate_test(observed: u64, baseline: u64, window: f64, baseline_exposure: f64) -> (f64, f64) {
    if baseline_exposure <= 0.0 || window <= 0.0 {
        return (0.0, 1.0);
    }
    let expected = baseline as f64 * window / baseline_exposure;
    if observed == 0 {
        return (expected, 1.0);
    }
    let share = window / (window + baseline_exposure);
    let p = match Binomial::new(share, observed + baseline) {
        Ok(binomial) => binomial.sf(observed - 1),
        Err(_) => 1.0,
    };
    (expected, p.clamp(0.0, 1.0))
}

/// An evaluation: every test, and which are alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub tests: Vec<SpikeTest>,
    /// Indices into `tests` of those that are significant and large enough.
    pub alerts: Vec<usize>,
    /// The largest p-value Benjamini-Hochberg accepted (0 when none): a re-test of a key with
    /// some mentions set aside is significant at or below it.
    pub p_threshold: f64,
}

/// The windows an evaluation at `now_ms` tests: the last whole hour and the last 24 whole hours.
pub fn windows(now_ms: i64) -> [(Granularity, i64, i64); 2] {
    let end = now_ms.div_euclid(HOUR_MS) * HOUR_MS;
    [(Granularity::Hour, end - HOUR_MS, end), (Granularity::Day, end - DAY_MS, end)]
}

/// The span of hourly counts an evaluation at `now_ms` reads: from the start of the day window's
/// baseline to the end of the windows.
pub fn read_span(settings: &SpikeSettings, now_ms: i64) -> (i64, i64) {
    let [_, (_, day_start, end)] = windows(now_ms);
    (day_start - i64::from(settings.baseline_days) * DAY_MS, end)
}

/// The count of `series` (hour start → count) in `from..to`.
pub fn count_between(series: &BTreeMap<i64, u64>, from_ms: i64, to_ms: i64) -> u64 {
    series.range(from_ms..to_ms).map(|(_, c)| c).sum()
}

/// Fewest hours of history a window is judged against: with less, there is no test.
pub const MIN_BASELINE_HOURS: i64 = 72;

/// One test of `series` for a window, against the `baseline_days` before it, or from
/// `data_start_ms` (the workspace's first feedback) when that is later: hours before any feedback
/// are not quiet hours. `None` with under `MIN_BASELINE_HOURS` of history.
pub fn test_window(
    settings: &SpikeSettings,
    seasonality: &Seasonality,
    data_start_ms: i64,
    key: &str,
    series: &BTreeMap<i64, u64>,
    (granularity, start, end): (Granularity, i64, i64),
) -> Option<SpikeTest> {
    let baseline_start =
        (start - i64::from(settings.baseline_days) * DAY_MS).max(data_start_ms.div_euclid(HOUR_MS) * HOUR_MS);
    if start - baseline_start < MIN_BASELINE_HOURS * HOUR_MS {
        return None;
    }
    let observed = count_between(series, start, end);
    let baseline = count_between(series, baseline_start, start);
    let (expected, p_value) = poisson_rate_test(
        observed,
        baseline,
        seasonality.exposure(start, end),
        seasonality.exposure(baseline_start, start),
    );
    Some(SpikeTest {
        key: key.to_owned(),
        granularity,
        window_start_ms: start,
        window_end_ms: end,
        observed,
        baseline,
        expected,
        p_value,
        q_value: p_value,
    })
}

impl SpikeSettings {
    /// Whether a test's excess is large enough to alert on (its significance aside).
    pub fn large_enough(&self, test: &SpikeTest) -> bool {
        test.observed >= self.min_mentions && test.observed as f64 >= self.min_ratio * test.expected
    }
}

/// Tests every key's hour and day windows ending at `now_ms` and picks the alerts.
pub fn detect(
    settings: &SpikeSettings,
    now_ms: i64,
    seasonality: &Seasonality,
    data_start_ms: i64,
    series: &[(String, BTreeMap<i64, u64>)],
) -> Detection {
    let mut tests: Vec<SpikeTest> = series
        .iter()
        .flat_map(|(key, counts)| {
            windows(now_ms)
                .into_iter()
                .filter_map(|window| test_window(settings, seasonality, data_start_ms, key, counts, window))
        })
        .collect();
    let p_values: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
    for (test, q) in tests.iter_mut().zip(benjamini_hochberg(&p_values)) {
        test.q_value = q;
    }
    let accepted = |t: &SpikeTest| t.q_value <= settings.false_discovery_rate;
    let p_threshold = tests.iter().filter(|t| accepted(t)).map(|t| t.p_value).fold(0.0, f64::max);
    let alerts = (0..tests.len()).filter(|&i| accepted(&tests[i]) && settings.large_enough(&tests[i])).collect();
    Detection { tests, alerts, p_threshold }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_test_matches_hand_computed_values() {
        // Equal exposures, 10 against 2: P(X >= 10 | n = 12, p = 1/2) = (1 + 12 + 66) / 4096.
        let (expected, p) = poisson_rate_test(10, 2, 1.0, 1.0);
        assert_eq!(expected, 2.0);
        assert!((p - 79.0 / 4096.0).abs() < 1e-12, "{p}");
        // Nothing observed is never a spike; nothing in the baseline makes a few mentions unlikely.
        assert_eq!(poisson_rate_test(0, 5, 1.0, 10.0).1, 1.0);
        let (_, p) = poisson_rate_test(3, 0, 1.0, 99.0);
        assert!((p - 0.01f64.powi(3)).abs() < 1e-12);
    }

    #[test]
    fn the_weekly_profile_follows_the_volume() {
        // Four weeks, busy on weekdays 9-17 (10 an hour), quiet otherwise (1 an hour).
        let start = 1_700_438_400_000; // Monday 2023-11-20 00:00 UTC.
        assert_eq!(day_and_hour(start), (0, 0));
        let mut volume = BTreeMap::new();
        for h in 0..(28 * 24) {
            let at = start + h * HOUR_MS;
            let (d, hour) = day_and_hour(at);
            volume.insert(at, if d < 5 && (9..17).contains(&hour) { 10 } else { 1 });
        }
        let seasonality = Seasonality::from_volume(&volume, start, start + 28 * DAY_MS);
        let busy = seasonality.weight(start + 10 * HOUR_MS);
        let night = seasonality.weight(start + 3 * HOUR_MS);
        let sunday = seasonality.weight(start + 6 * DAY_MS + 10 * HOUR_MS);
        assert!(busy > 3.0 * night, "{busy} vs {night}");
        assert!(busy > sunday, "{busy} vs {sunday}");
        let mean = seasonality.exposure(start, start + 7 * DAY_MS) / 168.0;
        assert!((0.7..1.3).contains(&mean), "{mean}");
    }

    #[test]
    fn a_burst_is_an_alert_and_ordinary_noise_is_not() {
        let settings = SpikeSettings::default();
        let now = 1_700_438_400_000 + 30 * DAY_MS + 12 * HOUR_MS;
        let mut steady = BTreeMap::new();
        let mut next = 7u64;
        for h in 0..(30 * 24 + 12) {
            next = next.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            steady.insert(1_700_438_400_000 + h * HOUR_MS, (next >> 62) % 3);
        }
        let mut burst = steady.clone();
        *burst.get_mut(&(now - HOUR_MS)).unwrap() += 25;
        let series = vec![("quiet".to_owned(), steady.clone()), ("login".to_owned(), burst)];
        let start = 1_700_438_400_000;
        let detection = detect(&settings, now, &Seasonality::flat(), start, &series);
        let alerted: Vec<(&str, Granularity)> = detection
            .alerts
            .iter()
            .map(|&i| (detection.tests[i].key.as_str(), detection.tests[i].granularity))
            .collect();
        assert_eq!(alerted, [("login", Granularity::Hour), ("login", Granularity::Day)]);
        assert!(detection.p_threshold > 0.0);
        let quiet = detect(&settings, now, &Seasonality::flat(), start, &[("quiet".to_owned(), steady.clone())]);
        assert!(quiet.alerts.is_empty());
        // Too little history: no test at all.
        let young = detect(&settings, now, &Seasonality::flat(), now - 84 * HOUR_MS, &[("quiet".to_owned(), steady)]);
        assert!(young.tests.iter().all(|t| t.granularity == Granularity::Hour) && young.tests.len() == 1);
    }
}
