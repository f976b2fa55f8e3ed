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

/// Workspace names, wherever one is given (API or CLI): 1 to 64 letters, digits, `-`, `_`, `.`.
pub fn validate_workspace_name(name: &str) -> Result<(), String> {
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 64 || !valid_chars {
        return Err(format!("`{name}` is not a workspace name: 1 to 64 letters, digits, `-`, `_` or `.`"));
    }
    Ok(())
}
