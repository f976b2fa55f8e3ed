//! The CDNOW reproduction: BG/NBD and Gamma-Gamma fitted to the cohort Fader, Hardie & Lee (2005)
//! used, from the published summary and from the raw transaction log, must land within 0.5% of the
//! published parameters. The data is in `../shared/data/cdnow/` beside the checkout (as in CI).

use std::path::PathBuf;

use rapport_predict::bgnbd::BgNbd;
use rapport_predict::clv::{Rfm, TimeUnit, Transaction, summarise};
use rapport_predict::gamma_gamma::GammaGamma;
use time::macros::date;

fn read(file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cdnow").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn within(actual: f64, published: f64, what: &str) {
    let error = ((actual - published) / published).abs();
    assert!(error <= 0.005, "{what}: {actual:.4} is {:.2}% from the published {published}", error * 100.0);
}

fn check_bgnbd(customers: &[Rfm]) {
    let fit = BgNbd::fit(customers).unwrap();
    within(fit.params.r, 0.243, "r");
    within(fit.params.alpha, 4.414, "alpha");
    within(fit.params.a, 0.793, "a");
    within(fit.params.b, 2.426, "b");
    within(fit.log_likelihood, -9582.4, "log-likelihood");
}

fn check_gamma_gamma(customers: &[Rfm]) {
    let fit = GammaGamma::fit(customers).unwrap();
    within(fit.params.p, 6.25, "p");
    within(fit.params.q, 3.74, "q");
    within(fit.params.gamma, 15.44, "gamma");
}

/// `ID,x,t_x,T,zbar`: the paper's own summary with the mean repeat spend.
fn published_summary() -> Vec<Rfm> {
    read("cdnow_customers_summary_with_transactions.csv")
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<f64> = line.split(',').map(|field| field.trim().parse().unwrap()).collect();
            Rfm { frequency: f[1] as u32, recency: f[2], age: f[3], monetary_value: f[4] }
        })
        .collect()
}

#[test]
fn reproduces_the_published_parameters_from_the_summary() {
    let customers = published_summary();
    assert_eq!(customers.len(), 2357);
    check_bgnbd(&customers);
    check_gamma_gamma(&customers);
}

#[test]
fn predictions_agree_with_lifetimes() {
    // lifetimes 0.11.3's BetaGeoFitter on the same summary: customer 1 (x = 2, t_x = 30.43,
    // T = 38.86) is alive with probability 0.72661 and expects 1.22591 purchases in 39 weeks; a
    // new customer 1.19502 in their first 39 weeks.
    let model = BgNbd::fit(&published_summary()).unwrap().params;
    let first = Rfm { frequency: 2, recency: 30.43, age: 38.86, monetary_value: 22.35 };
    let close =
        |actual: f64, expected: f64| assert!(((actual - expected) / expected).abs() < 1e-4, "{actual} vs {expected}");
    close(model.probability_alive(&first), 0.726_609);
    close(model.expected_purchases(&first, 39.0), 1.225_910);
    close(model.expected_purchases_new(39.0), 1.195_016);
}

#[test]
fn reproduces_the_published_parameters_from_the_transaction_log() {
    // `master_id sample_id yyyymmdd n_cds dollars`, the 1/10 sample the paper fits.
    let log: Vec<Transaction> = read("CDNOW_sample.txt")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let day = time::Date::parse(f[2], time::macros::format_description!("[year][month][day]")).unwrap();
            Transaction { customer: f[1].to_string(), day, amount: f[4].parse().unwrap() }
        })
        .collect();
    let summary = summarise(&log, date!(1997 - 09 - 30), TimeUnit::Weeks);
    assert_eq!(summary.len(), 2357);
    let customers: Vec<Rfm> = summary.iter().map(|customer| customer.rfm).collect();
    // The summary agrees with the published one (which rounds to two decimals).
    let published = published_summary();
    let mut by_id: Vec<(u32, &Rfm)> = summary.iter().map(|c| (c.customer.parse().unwrap(), &c.rfm)).collect();
    by_id.sort_by_key(|(id, _)| *id);
    for ((_, ours), theirs) in by_id.iter().zip(&published) {
        assert_eq!(ours.frequency, theirs.frequency);
        assert!((ours.recency - theirs.recency).abs() < 0.006 && (ours.age - theirs.age).abs() < 0.006);
        assert!((ours.monetary_value - theirs.monetary_value).abs() < 0.006, "{ours:?} vs {theirs:?}");
    }
    check_bgnbd(&customers);
    check_gamma_gamma(&customers);
}
