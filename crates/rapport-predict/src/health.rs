//! The health score: a 0-100 summary of a customer from six parts, each 0-100, weighted, with the
//! parts Rapport cannot know for a customer left out and the weights of the rest rescaled. An
//! account's health is its customers' mean. Formulas: PREDICTION.md.

use serde::Serialize;

/// What the parts are computed from; None where Rapport holds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HealthInputs {
    pub days_since_activity: Option<f64>,
    /// The customer's activity in the last 30 days as a percentile (0-1) of the workspace's
    /// active customers.
    pub activity_percentile: Option<f64>,
    /// Share of negative feedback in the last 90 days.
    pub negative_share: Option<f64>,
    pub latest_nps: Option<f64>,
    pub latest_csat: Option<f64>,
    pub open_cases: usize,
    pub churn_probability: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthPart {
    pub part: &'static str,
    pub score: f64,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub score: f64,
    pub band: &'static str,
    pub parts: Vec<HealthPart>,
}

/// (part, weight): recency and frequency of activity, sentiment, survey scores, open cases, churn
/// risk.
pub const WEIGHTS: [(&str, f64); 6] =
    [("recency", 0.2), ("frequency", 0.2), ("sentiment", 0.15), ("scores", 0.15), ("cases", 0.1), ("churnRisk", 0.2)];

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

pub fn band(score: f64) -> &'static str {
    if score >= 70.0 {
        "healthy"
    } else if score >= 40.0 {
        "at risk"
    } else {
        "critical"
    }
}

pub fn health(inputs: &HealthInputs) -> Health {
    let scores = [inputs.latest_nps.map(|nps| nps * 10.0), inputs.latest_csat.map(|csat| (csat - 1.0) / 4.0 * 100.0)];
    let known: Vec<f64> = scores.into_iter().flatten().collect();
    let values = [
        // Halves every ~21 days without activity (e^(-d/30)).
        inputs.days_since_activity.map(|days| 100.0 * (-days.max(0.0) / 30.0).exp()),
        inputs.activity_percentile.map(|p| 100.0 * p.clamp(0.0, 1.0)),
        inputs.negative_share.map(|share| 100.0 * (1.0 - share.clamp(0.0, 1.0))),
        (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64),
        // Each open case halves it.
        Some(100.0 * 0.5f64.powi(inputs.open_cases.min(30) as i32)),
        inputs.churn_probability.map(|p| 100.0 * (1.0 - p.clamp(0.0, 1.0))),
    ];
    let total_weight: f64 = WEIGHTS.iter().zip(&values).filter(|(_, v)| v.is_some()).map(|((_, w), _)| w).sum();
    let parts: Vec<HealthPart> = WEIGHTS
        .iter()
        .zip(values)
        .filter_map(|((part, weight), value)| {
            value.map(|score| HealthPart {
                part,
                score: round1(score),
                weight: (weight / total_weight * 1000.0).round() / 1000.0,
            })
        })
        .collect();
    let score =
        round1(WEIGHTS.iter().zip(values).filter_map(|((_, w), v)| v.map(|v| v * w)).sum::<f64>() / total_weight);
    Health { score, band: band(score), parts }
}

/// The percentile (0-1, mid-rank) of `value` among `sorted` values.
pub fn percentile(sorted: &[f64], value: f64) -> f64 {
    if sorted.is_empty() {
        return 0.5;
    }
    let below = sorted.partition_point(|v| *v < value);
    let at_or_below = sorted.partition_point(|v| *v <= value);
    (below + at_or_below) as f64 / 2.0 / sorted.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_weighted_and_missing_ones_left_out() {
        let engaged = health(&HealthInputs {
            days_since_activity: Some(0.0),
            activity_percentile: Some(1.0),
            negative_share: Some(0.0),
            latest_nps: Some(10.0),
            latest_csat: Some(5.0),
            open_cases: 0,
            churn_probability: Some(0.0),
        });
        assert_eq!((engaged.score, engaged.band, engaged.parts.len()), (100.0, "healthy", 6));
        let unknown = health(&HealthInputs { open_cases: 2, ..HealthInputs::default() });
        assert_eq!(unknown.parts.len(), 1, "only cases are known");
        assert_eq!((unknown.score, unknown.band), (25.0, "critical"));
        assert_eq!(unknown.parts[0].weight, 1.0);
        let half = health(&HealthInputs { churn_probability: Some(0.5), open_cases: 0, ..HealthInputs::default() });
        // (100 * 0.1 + 50 * 0.2) / 0.3
        assert!((half.score - 66.7).abs() < 1e-9, "{half:?}");
    }

    #[test]
    fn percentile_uses_mid_ranks() {
        let sorted = [1.0, 2.0, 2.0, 5.0];
        assert_eq!(percentile(&sorted, 2.0), 0.5);
        assert_eq!(percentile(&sorted, 9.0), 1.0);
        assert_eq!(percentile(&sorted, 0.0), 0.0);
    }
}
