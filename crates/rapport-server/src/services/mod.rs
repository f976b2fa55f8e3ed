//! What handlers call: request-shaped operations over the core and the store, free of routing.

pub mod hosted_survey;
pub mod import;
pub mod ingest;
pub mod invitations;
pub mod json_body;
pub mod mail;
pub mod metrics;
pub mod surveys;
