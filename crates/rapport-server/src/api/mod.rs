//! HTTP handlers, one module per resource. Handlers parse the request, check the caller's role,
//! call a service or the store, and shape the response; they never write SQL.

pub mod analysis;
pub mod cases;
pub mod contact_policy;
pub mod customers;
pub mod feedback;
pub mod hosted;
pub mod ingest;
pub mod journeys;
pub mod keys;
pub mod metrics;
pub mod ops;
pub mod params;
pub mod prediction;
pub mod privacy;
pub mod surveys;
pub mod users;
pub mod webhooks;
pub mod widget;
