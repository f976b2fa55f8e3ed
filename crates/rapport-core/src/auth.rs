//! Roles (of API keys and of people) and what each may do, and how keys are represented. Randomness comes from the
//! caller: this module does no I/O.

use sha2::{Digest, Sha256};

/// The role a caller acts with inside its workspace: an API key's scope (`write`, `read`,
/// `admin`) or a person's role (`admin`, `analyst`, `agent`, `viewer`). SECURITY.md has the
/// permission matrix this module enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A key that may only send events: safe to ship inside a website or an app.
    Write,
    /// A key that may read everything in the workspace.
    Read,
    /// A key or a person that may do everything in the workspace.
    Admin,
    /// A person who reads everything and edits surveys and analyses.
    Analyst,
    /// A person who works cases and sees the customers they concern.
    Agent,
    /// A person who reads everything and changes nothing.
    Viewer,
}

/// What a request needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Send events, feedback and survey responses.
    Ingest,
    /// Read everything: customers, metrics, feedback, journeys, predictions, settings.
    Read,
    /// Read cases, and the customers cases concern.
    ReadCases,
    /// Open, move and annotate cases.
    WorkCases,
    /// Edit surveys and analyses: surveys, journeys, taxonomy, metric and churn settings, action
    /// plans, models.
    Analyse,
    /// Everything else: keys, users, webhooks, contact rules, case settings, merges, the audit
    /// log, imports, exports and erasure.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Ingest,
        Permission::Read,
        Permission::ReadCases,
        Permission::WorkCases,
        Permission::Analyse,
        Permission::Administer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Ingest => "ingest",
            Permission::Read => "read",
            Permission::ReadCases => "read cases",
            Permission::WorkCases => "work cases",
            Permission::Analyse => "edit surveys and analyses",
            Permission::Administer => "administer",
        }
    }
}

impl Role {
    /// The scopes an API key may carry.
    pub const KEY_ROLES: [Role; 3] = [Role::Write, Role::Read, Role::Admin];
    /// The roles a person may hold.
    pub const USER_ROLES: [Role; 4] = [Role::Admin, Role::Analyst, Role::Agent, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Write => "write",
            Role::Read => "read",
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "write" => Some(Role::Write),
            "read" => Some(Role::Read),
            "admin" => Some(Role::Admin),
            "analyst" => Some(Role::Analyst),
            "agent" => Some(Role::Agent),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// A key's scope (`write`, `read`, `admin`), or None for anything else.
    pub fn parse_key_role(text: &str) -> Option<Role> {
        Role::parse(text).filter(|role| Role::KEY_ROLES.contains(role))
    }

    /// A person's role (`admin`, `analyst`, `agent`, `viewer`), or None for anything else.
    pub fn parse_user_role(text: &str) -> Option<Role> {
        Role::parse(text).filter(|role| Role::USER_ROLES.contains(role))
    }

    /// The permission matrix (SECURITY.md).
    pub fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Analyst => matches!(permission, P::Read | P::ReadCases | P::Analyse),
            Role::Read | Role::Viewer => matches!(permission, P::Read | P::ReadCases),
            Role::Agent => matches!(permission, P::ReadCases | P::WorkCases),
            Role::Write => permission == P::Ingest,
        }
    }

    /// The roles that may do `permission`, for error messages ("needs an admin or analyst").
    pub fn allowed_to(permission: Permission) -> Vec<Role> {
        [Role::Admin, Role::Analyst, Role::Agent, Role::Viewer, Role::Read, Role::Write]
            .into_iter()
            .filter(|role| role.allows(permission))
            .collect()
    }
}

/// Every key starts with this, so leaked keys are easy to recognise in logs and scanners.
pub const KEY_PREFIX: &str = "rpk_";

/// Builds a key from 32 random bytes: `rpk_` and 64 hex digits (256 bits).
pub fn key_from_random_bytes(bytes: [u8; 32]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{KEY_PREFIX}{hex}")
}

/// The stored form of a key: the hex SHA-256 of the key. A 256-bit random key needs no salt or
/// slow hash; lookups by hash reveal nothing about other keys.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The part of a key safe to show in lists (`rpk_3f2a1b`).
pub fn key_display_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_the_docs_say() {
        // Columns: ingest, read, read cases, work cases, analyse, administer (SECURITY.md).
        let matrix = [
            (Role::Write, [true, false, false, false, false, false]),
            (Role::Read, [false, true, true, false, false, false]),
            (Role::Viewer, [false, true, true, false, false, false]),
            (Role::Agent, [false, false, true, true, false, false]),
            (Role::Analyst, [false, true, true, false, true, false]),
            (Role::Admin, [true, true, true, true, true, true]),
        ];
        for (role, expected) in matrix {
            let allowed = Permission::ALL.map(|permission| role.allows(permission));
            assert_eq!(allowed, expected, "{role:?}");
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(Role::parse_key_role("agent"), None);
        assert_eq!(Role::parse_user_role("write"), None);
        assert_eq!(Role::parse_user_role("analyst"), Some(Role::Analyst));
        assert_eq!(Role::allowed_to(Permission::Analyse), vec![Role::Admin, Role::Analyst]);
    }

    #[test]
    fn keys_are_long_and_hashes_stable() {
        let key = key_from_random_bytes([7; 32]);
        assert_eq!(key.len(), 4 + 64);
        assert_eq!(hash_key(&key), hash_key(&key));
        assert_ne!(hash_key(&key), hash_key(&key_from_random_bytes([8; 32])));
        assert_eq!(key_display_prefix(&key), "rpk_070707");
    }
}
