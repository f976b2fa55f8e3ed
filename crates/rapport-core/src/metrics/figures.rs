//! The metrics Rapport reports and how each becomes a figure from counts of answers: the one
//! place their definitions live (METRICS.md documents them with their formulas).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metrics::stats::{Difference, Interval, Moments, Net, difference, wilson};

/// A metric a figure can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// %promoters (9-10) − %detractors (0-6) over answered `nps` questions, −100..+100.
    Nps,
    /// NPS over the surveys whose audience is `employees`.
    Enps,
    /// % of `csat` answers at or above the satisfied threshold (4 of 1-5 by default), with the mean.
    Csat,
    /// Mean of `ces` answers (1-7), with the index %(6-7) − %(1-3).
    Ces,
    /// Mean of `rating` answers.
    Rating,
    /// Responses / delivered invitations.
    ResponseRate,
    /// Customers who cancelled in a period / customers active at its start.
    ChurnRate,
    /// NPS per account (Segment `group`), each answer weighted by the respondent's role.
    AccountNps,
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::Nps,
        Metric::Enps,
        Metric::Csat,
        Metric::Ces,
        Metric::Rating,
        Metric::ResponseRate,
        Metric::ChurnRate,
        Metric::AccountNps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Nps => "nps",
            Metric::Enps => "enps",
            Metric::Csat => "csat",
            Metric::Ces => "ces",
            Metric::Rating => "rating",
            Metric::ResponseRate => "response_rate",
            Metric::ChurnRate => "churn_rate",
            Metric::AccountNps => "account_nps",
        }
    }

    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == name)
    }

    /// The question type whose answers the metric reads (`None`: not an answer metric).
    pub fn question_type(self) -> Option<&'static str> {
        match self {
            Metric::Nps | Metric::Enps | Metric::AccountNps => Some("nps"),
            Metric::Csat => Some("csat"),
            Metric::Ces => Some("ces"),
            Metric::Rating => Some("rating"),
            Metric::ResponseRate | Metric::ChurnRate => None,
        }
    }

    /// The unit of `score`: points for a net, percent for a share, the scale for a mean.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Nps | Metric::Enps | Metric::AccountNps => "points (-100..100)",
            Metric::Csat | Metric::ResponseRate | Metric::ChurnRate => "percent",
            Metric::Ces => "mean (1-7)",
            Metric::Rating => "mean",
        }
    }
}

/// Options that change how a figure is computed or flagged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FigureOptions {
    /// Figures on fewer observations carry `low_n: true`.
    pub min_n: u64,
    /// The lowest CSAT score that counts as satisfied.
    pub satisfied_from: i64,
}

impl Default for FigureOptions {
    fn default() -> FigureOptions {
        FigureOptions { min_n: 30, satisfied_from: 4 }
    }
}

/// How many answers gave each score. Skipped answers are never stored, so never counted.
pub type ScoreCounts = BTreeMap<i64, u64>;

/// A secondary estimate shown beside the score: CSAT's mean, CES's index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

/// One metric over one group: its n, score and 95% interval, the counts behind it, and whether n
/// is below the minimum. `score` is `None` when n is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figure {
    pub n: u64,
    pub score: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub low_n: bool,
    pub counts: BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<Estimate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<Estimate>,
    /// The variance of `score`'s estimate (in its unit squared), for comparisons.
    #[serde(skip)]
    pub variance: Option<f64>,
}

fn estimate(value: f64, interval: Option<Interval>) -> Estimate {
    Estimate { value, ci_low: interval.map(|i| i.low), ci_high: interval.map(|i| i.high) }
}

fn share(counts: &ScoreCounts, range: std::ops::RangeInclusive<i64>) -> u64 {
    counts.range(range).map(|(_, count)| count).sum()
}

/// The figure of `metric` over `counts` (score → answers). For the response rate, `counts` holds
/// 1 → responses and 0 → delivered invitations without a response; for the churn rate, 1 →
/// customers who cancelled and 0 → customers who stayed, of those active at the period's start.
pub fn figure(metric: Metric, counts: &ScoreCounts, options: &FigureOptions) -> Figure {
    let n: u64 = counts.values().sum();
    let mut figure = Figure {
        n,
        score: None,
        ci_low: None,
        ci_high: None,
        low_n: n < options.min_n,
        counts: BTreeMap::new(),
        mean: None,
        index: None,
        variance: None,
    };
    let pairs = || counts.iter().map(|(score, count)| (*score, *count));
    match metric {
        Metric::Nps | Metric::Enps | Metric::AccountNps => {
            let (promoters, detractors) = (share(counts, 9..=10), share(counts, 0..=6));
            figure.counts = BTreeMap::from([
                ("promoters", promoters),
                ("passives", n - promoters - detractors),
                ("detractors", detractors),
            ]);
            if let Some(net) = Net::new(promoters, detractors, n) {
                set_net(&mut figure, net, net_percent(promoters, detractors, n));
            }
        }
        Metric::Ces => {
            let (easy, difficult) = (share(counts, 6..=7), share(counts, 1..=3));
            figure.counts =
                BTreeMap::from([("easy", easy), ("neutral", n - easy - difficult), ("difficult", difficult)]);
            if let Some(moments) = Moments::of(pairs()) {
                set_mean(&mut figure, moments);
            }
            if let Some(net) = Net::new(easy, difficult, n) {
                figure.index = Some(estimate(net_percent(easy, difficult, n), Some(net.interval().scaled(100.0))));
            }
        }
        Metric::Rating => {
            figure.counts = BTreeMap::new();
            if let Some(moments) = Moments::of(pairs()) {
                set_mean(&mut figure, moments);
            }
        }
        Metric::Csat => {
            let satisfied = share(counts, options.satisfied_from..=i64::MAX);
            figure.counts = BTreeMap::from([("satisfied", satisfied), ("not_satisfied", n - satisfied)]);
            set_share(&mut figure, satisfied, n);
            if let Some(moments) = Moments::of(pairs()) {
                figure.mean = Some(estimate(moments.mean, moments.interval()));
            }
        }
        Metric::ResponseRate => {
            let responses = share(counts, 1..=1);
            figure.counts = BTreeMap::from([("responses", responses), ("delivered", n)]);
            set_share(&mut figure, responses, n);
        }
        Metric::ChurnRate => {
            let churned = share(counts, 1..=1);
            figure.counts = BTreeMap::from([("churned", churned), ("active_at_start", n)]);
            set_share(&mut figure, churned, n);
        }
    }
    figure
}

/// (plus − minus) / n in percent, multiplied before dividing so that whole results stay whole
/// (−1100/20 is −55, where −0.55·100 is −55.00000000000001).
fn net_percent(plus: u64, minus: u64, n: u64) -> f64 {
    (plus as f64 - minus as f64) * 100.0 / n as f64
}

fn set_net(figure: &mut Figure, net: Net, score: f64) {
    let interval = net.interval().scaled(100.0);
    figure.score = Some(score);
    figure.ci_low = Some(interval.low);
    figure.ci_high = Some(interval.high);
    figure.variance = Some(net.variance_of_estimate() * 100.0 * 100.0);
}

fn set_mean(figure: &mut Figure, moments: Moments) {
    let interval = moments.interval();
    figure.score = Some(moments.mean);
    figure.ci_low = interval.map(|i| i.low);
    figure.ci_high = interval.map(|i| i.high);
    figure.variance = Some(moments.variance_of_estimate());
}

/// A share in percent with its Wilson interval; its variance for comparisons uses Agresti-Caffo's
/// adjustment (one success and one failure added), so two all-or-nothing groups still compare.
fn set_share(figure: &mut Figure, successes: u64, n: u64) {
    let Some(interval) = wilson(successes, n) else { return };
    figure.score = Some(successes as f64 * 100.0 / n as f64);
    figure.ci_low = Some(interval.low * 100.0);
    figure.ci_high = Some(interval.high * 100.0);
    let adjusted = (successes as f64 + 1.0) / (n as f64 + 2.0);
    figure.variance = Some(adjusted * (1.0 - adjusted) / (n as f64 + 2.0) * 100.0 * 100.0);
}

/// Role-weighted NPS over `cells` (a weight and the answers given with it): Σw·(promoter −
/// detractor) / Σw. Its interval is the adjusted Wald interval at Kish's effective sample size
/// (Σw)² / Σw², the weighted shares standing in for the plain ones. `n` and `counts` are the
/// answers themselves, unweighted.
pub fn weighted_nps<'a>(
    cells: impl Iterator<Item = (f64, &'a ScoreCounts)> + Clone,
    options: &FigureOptions,
) -> Figure {
    let mut totals = ScoreCounts::new();
    let (mut weight, mut weight_squares, mut plus, mut minus) = (0.0, 0.0, 0.0, 0.0);
    for (w, counts) in cells {
        for (&score, &count) in counts {
            *totals.entry(score).or_default() += count;
            weight += w * count as f64;
            weight_squares += w * w * count as f64;
            if score >= 9 {
                plus += w * count as f64;
            } else if score <= 6 {
                minus += w * count as f64;
            }
        }
    }
    let mut figure = figure(Metric::AccountNps, &totals, options);
    figure.score = None;
    figure.ci_low = None;
    figure.ci_high = None;
    figure.variance = None;
    if weight > 0.0 && weight_squares > 0.0 {
        let effective_n = weight * weight / weight_squares;
        if let Some(net) = Net::of(plus / weight * effective_n, minus / weight * effective_n, effective_n) {
            // The score straight from the weighted sums, not through n_eff.
            set_net(&mut figure, net, (plus - minus) * 100.0 / weight);
        }
    }
    figure
}

/// `later − earlier` with its interval and p-value; `None` when either has no score.
pub fn change(earlier: &Figure, later: &Figure) -> Option<Difference> {
    Some(difference(earlier.score?, earlier.variance?, later.score?, later.variance?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(i64, u64)]) -> ScoreCounts {
        pairs.iter().copied().collect()
    }

    #[test]
    fn nps_by_hand() {
        // 5 promoters (9, 10), 3 passives (7, 8), 2 detractors (0, 6): NPS = 50% − 20% = 30.
        let figure =
            figure(Metric::Nps, &counts(&[(10, 3), (9, 2), (8, 2), (7, 1), (6, 1), (0, 1)]), &FigureOptions::default());
        assert_eq!(figure.n, 10);
        assert!((figure.score.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(figure.counts, BTreeMap::from([("promoters", 5), ("passives", 3), ("detractors", 2)]));
        assert!(figure.low_n, "10 answers is below the default minimum of 30");
        let (low, high) = (figure.ci_low.unwrap(), figure.ci_high.unwrap());
        assert!(low < 30.0 && 30.0 < high && low >= -100.0 && high <= 100.0);
        // Whole results stay whole: 3 promoters and 14 detractors of 20 is exactly −55.
        let exact = super::figure(Metric::Nps, &counts(&[(10, 3), (8, 3), (2, 14)]), &FigureOptions::default());
        assert_eq!(exact.score, Some(-55.0));
    }

    #[test]
    fn csat_counts_the_satisfied_threshold_and_reports_the_mean() {
        let answers = counts(&[(5, 2), (4, 1), (3, 1), (1, 1)]);
        let default = figure(Metric::Csat, &answers, &FigureOptions::default());
        assert!((default.score.unwrap() - 60.0).abs() < 1e-9);
        assert!((default.mean.as_ref().unwrap().value - 18.0 / 5.0).abs() < 1e-9);
        let strict = figure(Metric::Csat, &answers, &FigureOptions { satisfied_from: 5, ..FigureOptions::default() });
        assert!((strict.score.unwrap() - 40.0).abs() < 1e-9);
    }

    #[test]
    fn ces_mean_and_index() {
        // 7, 6, 5, 2, 1: mean 4.2; index = 40% easy − 40% difficult = 0.
        let figure = figure(Metric::Ces, &counts(&[(7, 1), (6, 1), (5, 1), (2, 1), (1, 1)]), &FigureOptions::default());
        assert!((figure.score.unwrap() - 4.2).abs() < 1e-9);
        assert_eq!(figure.index.as_ref().unwrap().value, 0.0);
        assert_eq!(figure.counts, BTreeMap::from([("easy", 2), ("neutral", 1), ("difficult", 2)]));
    }

    #[test]
    fn no_answers_no_score() {
        let figure = figure(Metric::Nps, &ScoreCounts::new(), &FigureOptions::default());
        assert_eq!((figure.n, figure.score, figure.ci_low), (0, None, None));
        assert!(figure.low_n);
        assert_eq!(change(&figure, &figure), None);
    }

    #[test]
    fn change_between_two_periods() {
        let options = FigureOptions::default();
        let before = figure(Metric::Nps, &counts(&[(10, 40), (8, 30), (3, 30)]), &options); // NPS 10
        let after = figure(Metric::Nps, &counts(&[(10, 60), (8, 30), (3, 10)]), &options); // NPS 50
        let change = change(&before, &after).unwrap();
        assert!((change.difference - 40.0).abs() < 1e-9);
        assert!(change.ci_low > 0.0 && change.p_value < 0.001, "{change:?}");
        let same = super::change(&before, &before).unwrap();
        assert_eq!(same.p_value, 1.0);
    }

    #[test]
    fn role_weighted_nps_by_hand() {
        // A decision maker (weight 3) is a detractor; two users (weight 1) are promoters:
        // (2·1 − 3) / 5 = −20, where the unweighted NPS would be +33.
        let (decision_makers, users) = (counts(&[(3, 1)]), counts(&[(10, 2)]));
        let options = FigureOptions::default();
        let figure = weighted_nps([(3.0, &decision_makers), (1.0, &users)].into_iter(), &options);
        assert_eq!(figure.n, 3);
        assert!((figure.score.unwrap() + 20.0).abs() < 1e-9, "{figure:?}");
        assert_eq!(figure.counts, BTreeMap::from([("promoters", 2), ("passives", 0), ("detractors", 1)]));
        // Equal weights give the plain NPS and its interval exactly.
        let both = counts(&[(3, 1), (10, 2)]);
        let equal = weighted_nps([(2.0, &both)].into_iter(), &options);
        let plain = super::figure(Metric::Nps, &both, &options);
        assert!((equal.score.unwrap() - plain.score.unwrap()).abs() < 1e-9);
        assert!((equal.ci_low.unwrap() - plain.ci_low.unwrap()).abs() < 1e-9);
    }

    #[test]
    fn response_rate_is_a_share_of_delivered() {
        let figure = figure(Metric::ResponseRate, &counts(&[(1, 30), (0, 70)]), &FigureOptions::default());
        assert!((figure.score.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(figure.counts, BTreeMap::from([("responses", 30), ("delivered", 100)]));
    }
}
