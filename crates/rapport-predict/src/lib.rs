//! Rapport's predictions, pure like the core: customer lifetime value with the buy-till-you-die
//! models (BG/NBD for purchases, Gamma-Gamma for spend), churn models and their evaluation, and
//! the health score. No I/O: callers pass data in and get figures back.

pub mod bgnbd;
pub mod boosting;
pub mod churn;
pub mod clv;
pub mod dataset;
pub mod encode;
pub mod evaluation;
pub mod features;
pub mod gamma_gamma;
pub mod health;
pub mod logistic;
pub mod optimize;
pub mod special;
