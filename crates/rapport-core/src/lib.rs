//! Rapport's domain: Segment events, customer identities, identity resolution, API roles and
//! survey definitions and answers.
//!
//! Architecture invariant: this crate does no I/O, no async and no SQL. Everything here is a pure
//! function of its inputs (clocks and randomness are passed in), so it is tested without a
//! database and reused by every storage backend.

pub mod action_plans;
pub mod audit;
pub mod auth;
pub mod business_hours;
pub mod cases;
pub mod contact_policy;
pub mod event;
pub mod identity;
pub mod ids;
pub mod journey;
pub mod metrics;
pub mod privacy;
pub mod problem;
pub mod resolution;
pub mod sealing;
pub mod survey;
pub mod survey_answers;
pub mod survey_delivery;
pub mod survey_link;
pub mod users;
pub mod webhooks;
