//! The CX metrics engine's pure half: metric definitions and their figures (`figures`), the
//! statistics behind them (`stats`), the query a report answers (`query`) and how counts become
//! a report (`report`). Storage returns counts of answers (`report::TallyRow`); everything from
//! there to a figure with its interval is here.

pub mod churn;
pub mod drivers;
pub mod figures;
pub mod query;
pub mod report;
pub mod settings;
pub mod stats;
