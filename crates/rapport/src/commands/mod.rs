//! One module per subcommand.

pub mod keys;
pub mod metrics;
pub mod serve;
