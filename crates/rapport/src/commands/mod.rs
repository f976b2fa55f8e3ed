//! One module per subcommand.

pub mod import;
pub mod keys;
pub mod metrics;
pub mod serve;
