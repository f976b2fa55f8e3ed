//! Customer lifetime value: the data the buy-till-you-die models take (a customer's repeat
//! frequency, recency, age and mean repeat spend) and how it is summarised from a transaction log.
//! The models are in `bgnbd.rs` and `gamma_gamma.rs`; methods and references in METRICS.md.

use std::collections::BTreeMap;

use serde::Serialize;
use time::Date;

use crate::bgnbd::BgNbd;
use crate::gamma_gamma::GammaGamma;

/// One customer in the calibration period, in the fit's time unit: `frequency` repeat purchases
/// (purchase days after the first), the last at `recency` after the first purchase, observed for
/// `age` (the paper's T) since the first purchase; `monetary_value` is the mean spend of the repeat
/// purchases (0 without any).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rfm {
    pub frequency: u32,
    pub recency: f64,
    #[serde(rename = "T")]
    pub age: f64,
    pub monetary_value: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClvError {
    #[error("customer {index}: {problem}")]
    InvalidCustomer { index: usize, problem: String },
    #[error("there are no customers to fit")]
    NoCustomers,
    #[error("{0}")]
    NotEnoughData(String),
    #[error(transparent)]
    Optimise(#[from] crate::optimize::OptimiseError),
}

impl Rfm {
    /// What is wrong with this summary, if anything: the models need 0 <= recency <= T, T > 0,
    /// recency 0 without repeat purchases, and a positive mean spend when there are repeats and
    /// spend is fitted.
    pub fn problem(&self, with_spend: bool) -> Option<String> {
        if !(self.age.is_finite() && self.age > 0.0) {
            return Some(format!("T must be a positive number, not {}", self.age));
        }
        if !(self.recency.is_finite() && (0.0..=self.age).contains(&self.recency)) {
            return Some(format!("recency must be between 0 and T ({}), not {}", self.age, self.recency));
        }
        if self.frequency == 0 && self.recency != 0.0 {
            return Some(format!("recency must be 0 when frequency is 0, not {}", self.recency));
        }
        if with_spend && self.frequency > 0 && !(self.monetary_value.is_finite() && self.monetary_value > 0.0) {
            return Some(format!("monetary_value must be positive for a repeat customer, not {}", self.monetary_value));
        }
        None
    }
}

/// Checks every customer, naming the first bad one.
pub fn check_customers(customers: &[Rfm], with_spend: bool) -> Result<(), ClvError> {
    if customers.is_empty() {
        return Err(ClvError::NoCustomers);
    }
    for (index, customer) in customers.iter().enumerate() {
        if let Some(problem) = customer.problem(with_spend) {
            return Err(ClvError::InvalidCustomer { index, problem });
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Days,
    Weeks,
}

impl TimeUnit {
    pub fn parse(text: &str) -> Option<TimeUnit> {
        match text {
            "days" | "day" => Some(TimeUnit::Days),
            "weeks" | "week" => Some(TimeUnit::Weeks),
            _ => None,
        }
    }

    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }
}

/// One purchase: who, on which day, for how much.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub customer: String,
    pub day: Date,
    pub amount: f64,
}

/// A customer's summary, and what they did after the calibration period (for validation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerSummary {
    pub customer: String,
    #[serde(flatten)]
    pub rfm: Rfm,
    /// Purchase days after the calibration end.
    pub holdout_frequency: u32,
    pub first_purchase: Date,
}

/// Summarises a transaction log as the paper does: purchases on one day are one transaction
/// (their amounts added); a customer's first purchase day starts their clock; repeat purchases are
/// the purchase days after it up to and including `calibration_end`; T runs from the first
/// purchase to `calibration_end`. Customers whose first purchase is after `calibration_end` are
/// left out. Sorted by customer.
pub fn summarise(transactions: &[Transaction], calibration_end: Date, unit: TimeUnit) -> Vec<CustomerSummary> {
    let mut by_customer: BTreeMap<&str, BTreeMap<Date, f64>> = BTreeMap::new();
    for transaction in transactions {
        *by_customer.entry(&transaction.customer).or_default().entry(transaction.day).or_default() +=
            transaction.amount;
    }
    let in_units = |from: Date, to: Date| (to - from).whole_days() as f64 / unit.days();
    by_customer
        .into_iter()
        .filter_map(|(customer, days)| {
            let (&first, _) = days.first_key_value()?;
            if first > calibration_end {
                return None;
            }
            let repeats: Vec<(Date, f64)> =
                days.range(first..=calibration_end).skip(1).map(|(d, a)| (*d, *a)).collect();
            let holdout_frequency = days.range(calibration_end..).filter(|(day, _)| **day > calibration_end).count();
            let frequency = repeats.len();
            let recency = repeats.last().map_or(0.0, |(day, _)| in_units(first, *day));
            let monetary_value =
                if frequency == 0 { 0.0 } else { repeats.iter().map(|(_, a)| a).sum::<f64>() / frequency as f64 };
            Some(CustomerSummary {
                customer: customer.to_string(),
                rfm: Rfm {
                    frequency: frequency as u32,
                    recency,
                    age: in_units(first, calibration_end),
                    monetary_value,
                },
                holdout_frequency: holdout_frequency as u32,
                first_purchase: first,
            })
        })
        .collect()
}

/// How a customer's value is projected: over `horizon` time units, in `steps` equal periods, each
/// period's expected spend discounted at `discount_per_step` (compounded per period, as in
/// lifetimes' `customer_lifetime_value`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Projection {
    pub horizon: f64,
    pub steps: u32,
    pub discount_per_step: f64,
}

/// One customer's predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerValue {
    pub probability_alive: f64,
    pub expected_purchases: f64,
    pub expected_average_spend: f64,
    pub expected_value: f64,
}

/// Probability alive, expected purchases over the horizon, expected spend per purchase, and the
/// discounted expected value over the horizon.
pub fn customer_value(bgnbd: &BgNbd, spend: &GammaGamma, customer: &Rfm, projection: &Projection) -> CustomerValue {
    let average = spend.expected_average_spend(customer.frequency, customer.monetary_value);
    let step = projection.horizon / f64::from(projection.steps.max(1));
    let mut value = 0.0;
    let mut before = 0.0;
    for k in 1..=projection.steps.max(1) {
        let upto = bgnbd.expected_purchases(customer, step * f64::from(k));
        value += (upto - before) * average / (1.0 + projection.discount_per_step).powi(k as i32);
        before = upto;
    }
    CustomerValue {
        probability_alive: bgnbd.probability_alive(customer),
        expected_purchases: before,
        expected_average_spend: average,
        expected_value: value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn purchase(customer: &str, day: Date, amount: f64) -> Transaction {
        Transaction { customer: customer.into(), day, amount }
    }

    #[test]
    fn summarises_purchase_days_as_the_paper_does() {
        let log = [
            purchase("a", date!(2024 - 01 - 01), 10.0),
            purchase("a", date!(2024 - 01 - 01), 5.0),
            purchase("a", date!(2024 - 01 - 15), 20.0),
            purchase("a", date!(2024 - 01 - 15), 4.0),
            purchase("a", date!(2024 - 01 - 29), 30.0),
            purchase("a", date!(2024 - 03 - 01), 99.0),
            purchase("b", date!(2024 - 01 - 22), 7.0),
            purchase("c", date!(2024 - 02 - 10), 7.0),
        ];
        let summary = summarise(&log, date!(2024 - 01 - 29), TimeUnit::Weeks);
        assert_eq!(summary.len(), 2, "c first bought after the calibration end");
        let a = &summary[0];
        assert_eq!((a.rfm.frequency, a.rfm.recency, a.rfm.age), (2, 4.0, 4.0));
        assert_eq!(a.rfm.monetary_value, 27.0, "the mean of the repeat days' totals (24, 30)");
        assert_eq!(a.holdout_frequency, 1);
        let b = &summary[1];
        assert_eq!((b.rfm.frequency, b.rfm.recency, b.rfm.age, b.rfm.monetary_value), (0, 0.0, 1.0, 0.0));
        let in_days = summarise(&log, date!(2024 - 01 - 29), TimeUnit::Days);
        assert_eq!((in_days[0].rfm.recency, in_days[0].rfm.age), (28.0, 28.0));
    }

    #[test]
    fn names_the_first_bad_customer() {
        let good = Rfm { frequency: 1, recency: 2.0, age: 5.0, monetary_value: 3.0 };
        let late = Rfm { recency: 6.0, ..good };
        let error = check_customers(&[good, late], false).unwrap_err();
        assert_eq!(error.to_string(), "customer 1: recency must be between 0 and T (5), not 6");
        let free = Rfm { monetary_value: 0.0, ..good };
        assert!(check_customers(&[free], false).is_ok());
        assert!(check_customers(&[free], true).is_err());
        assert_eq!(check_customers(&[], false), Err(ClvError::NoCustomers));
    }
}
