//! Identifiers. All are opaque strings (UUID v7 text) so both backends store them the same way.

use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A workspace (tenant). Every record belongs to exactly one.
    WorkspaceId
);
string_id!(
    /// A customer node of the identity graph. Merged nodes point at their root; the root's id is
    /// the customer's id in the API.
    CustomerId
);
string_id!(
    /// A recorded merge decision (applied or refused).
    MergeId
);
