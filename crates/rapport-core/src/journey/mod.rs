//! Journeys: definitions (stages, touchpoints matched by event, channel and properties) and their
//! analytics (stage funnel, timing, paths, loops and backtracking, the emotional curve, friction).
//! Methods: JOURNEYS.md.

pub mod analytics;
pub mod compare;
pub mod definition;
pub mod query;
