//! The metric formulas against an independent computation on generated data, and the coverage
//! of their 95% intervals by simulation.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rapport_core::metrics::figures::{FigureOptions, Metric, ScoreCounts, figure};

fn counts_of(scores: &[i64]) -> ScoreCounts {
    let mut counts = ScoreCounts::new();
    for score in scores {
        *counts.entry(*score).or_default() += 1;
    }
    counts
}

/// Draws n NPS answers where each is a promoter with probability `promoters`, a detractor with
/// `detractors`, a passive otherwise (scores spread within each class).
fn sample(rng: &mut StdRng, n: usize, promoters: f64, detractors: f64) -> Vec<i64> {
    (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            if u < promoters {
                rng.random_range(9..=10)
            } else if u < promoters + detractors {
                rng.random_range(0..=6)
            } else {
                rng.random_range(7..=8)
            }
        })
        .collect()
}

#[test]
fn the_nps_interval_covers_the_true_nps_95_percent_of_the_time_at_n_50() {
    let mut rng = StdRng::seed_from_u64(2016);
    for (promoters, detractors) in [(0.5, 0.2), (0.3, 0.3), (0.4, 0.35), (0.6, 0.1)] {
        let truth = (promoters - detractors) * 100.0;
        let covered = (0..10_000)
            .filter(|_| {
                let scores = sample(&mut rng, 50, promoters, detractors);
                let figure = figure(Metric::Nps, &counts_of(&scores), &FigureOptions::default());
                figure.ci_low.unwrap() <= truth && truth <= figure.ci_high.unwrap()
            })
            .count();
        let coverage = covered as f64 / 10_000.0;
        assert!((0.94..=0.96).contains(&coverage), "P={promoters} D={detractors}: coverage {coverage}");
    }
}

#[test]
fn the_csat_and_mean_intervals_cover_about_95_percent() {
    let mut rng = StdRng::seed_from_u64(7);
    // CSAT 1-5 with probabilities .1 .1 .2 .3 .3: satisfied share .6, mean 3.6.
    let weights = [0.1, 0.1, 0.2, 0.3, 0.3];
    let (mut share_covered, mut mean_covered) = (0, 0);
    for _ in 0..10_000 {
        let scores: Vec<i64> = (0..50)
            .map(|_| {
                let mut u: f64 = rng.random();
                let mut score = 1;
                for weight in weights {
                    if u < weight {
                        break;
                    }
                    u -= weight;
                    score += 1;
                }
                score.min(5)
            })
            .collect();
        let figure = figure(Metric::Csat, &counts_of(&scores), &FigureOptions::default());
        share_covered += usize::from(figure.ci_low.unwrap() <= 60.0 && 60.0 <= figure.ci_high.unwrap());
        let mean = figure.mean.unwrap();
        mean_covered += usize::from(mean.ci_low.unwrap() <= 3.6 && 3.6 <= mean.ci_high.unwrap());
    }
    for (name, covered) in [("Wilson", share_covered), ("t", mean_covered)] {
        let coverage = covered as f64 / 10_000.0;
        assert!((0.935..=0.965).contains(&coverage), "{name}: coverage {coverage}");
    }
}

proptest! {
    /// The engine's NPS, CSAT, CES and mean against the textbook formulas over the raw scores.
    #[test]
    fn figures_match_an_independent_computation(nps in prop::collection::vec(0i64..=10, 1..300),
                                                 five in prop::collection::vec(1i64..=5, 1..300),
                                                 seven in prop::collection::vec(1i64..=7, 1..300)) {
        let options = FigureOptions::default();
        let n = nps.len() as f64;
        let expected_nps = (nps.iter().filter(|&&s| s >= 9).count() as f64 - nps.iter().filter(|&&s| s <= 6).count() as f64) / n * 100.0;
        let got = figure(Metric::Nps, &counts_of(&nps), &options);
        prop_assert!((got.score.unwrap() - expected_nps).abs() < 1e-9);
        prop_assert_eq!(got.n, nps.len() as u64);
        prop_assert!(got.ci_low.unwrap() <= got.ci_high.unwrap());

        let expected_csat = five.iter().filter(|&&s| s >= 4).count() as f64 / five.len() as f64 * 100.0;
        let expected_mean = five.iter().sum::<i64>() as f64 / five.len() as f64;
        let got = figure(Metric::Csat, &counts_of(&five), &options);
        prop_assert!((got.score.unwrap() - expected_csat).abs() < 1e-9);
        prop_assert!((got.mean.unwrap().value - expected_mean).abs() < 1e-9);

        let m = seven.len() as f64;
        let expected_index = (seven.iter().filter(|&&s| s >= 6).count() as f64 - seven.iter().filter(|&&s| s <= 3).count() as f64) / m * 100.0;
        let expected_mean = seven.iter().sum::<i64>() as f64 / m;
        let got = figure(Metric::Ces, &counts_of(&seven), &options);
        prop_assert!((got.score.unwrap() - expected_mean).abs() < 1e-9);
        prop_assert!((got.index.unwrap().value - expected_index).abs() < 1e-9);
        if seven.len() > 1 {
            let variance = seven.iter().map(|&s| (s as f64 - expected_mean).powi(2)).sum::<f64>() / (m - 1.0);
            let half = got.ci_high.unwrap() - expected_mean;
            prop_assert!(half >= 1.959 * (variance / m).sqrt() - 1e-9, "a t interval is wider than a z interval");
        }
    }
}
