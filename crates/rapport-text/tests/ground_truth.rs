//! Sentiment against the human-rated ground truth of Hutto & Gilbert (2014) in
//! `../shared/data/sentiment/` (beside the checkout, as in CI): at least VADER's agreement with the
//! human mean, the figures the data's README gives for vaderSentiment 3.3.2.

use std::path::PathBuf;

use rapport_text::sentiment::Analyzer;

fn ground_truth(file: &str) -> Vec<(f64, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sentiment").join(file);
    let content = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    content
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (_, gold, text) = (fields.next(), fields.next().unwrap(), fields.next().unwrap());
            (gold.parse().unwrap(), text.to_owned())
        })
        .collect()
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

fn agreement(file: &str) -> (f64, f64) {
    let analyzer = Analyzer::default();
    let data = ground_truth(file);
    let pairs: Vec<(f64, f64)> = data.iter().map(|(gold, text)| (*gold, analyzer.score(text).score)).collect();
    let class = |v: f64, cut: f64| {
        if v > cut {
            1
        } else if v < -cut {
            -1
        } else {
            0
        }
    };
    let agree = pairs.iter().filter(|(gold, score)| class(*gold, 0.5) == class(*score, 0.0499999)).count();
    (pearson(&pairs), agree as f64 / pairs.len() as f64)
}

#[test]
fn tweets_agree_with_people_at_least_as_well_as_vader() {
    let (r, accuracy) = agreement("tweets_GroundTruth.txt");
    assert!(r >= 0.8715, "r = {r:.4}, VADER 0.872");
    assert!(accuracy >= 0.80, "3-class accuracy {accuracy:.3}, VADER 0.808");
}

#[test]
fn movie_reviews_agree_with_people_at_least_as_well_as_vader() {
    let (r, accuracy) = agreement("movieReviewSnippets_GroundTruth.txt");
    assert!(r >= 0.4265, "r = {r:.4}, VADER 0.427");
    assert!(accuracy >= 0.54, "3-class accuracy {accuracy:.3}, VADER 0.547");
}
