//! API key roles and what each may do, and how keys are represented. Randomness comes from the
//! caller: this module does no I/O.

use sha2::{Digest, Sha256};

/// The role an API key carries inside its workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// May only send events: safe to ship inside a website or an app.
    Write,
    /// May read everything in the workspace.
    Read,
    /// May do everything in the workspace.
    Admin,
}

/// What a request needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Ingest,
    Read,
    Administer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Write => "write",
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "write" => Some(Role::Write),
            "read" => Some(Role::Read),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn allows(self, permission: Permission) -> bool {
        match self {
            Role::Admin => true,
            Role::Read => permission == Permission::Read,
            Role::Write => permission == Permission::Ingest,
        }
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
        let matrix = [
            (Role::Write, [true, false, false]),
            (Role::Read, [false, true, false]),
            (Role::Admin, [true, true, true]),
        ];
        for (role, expected) in matrix {
            let allowed = [Permission::Ingest, Permission::Read, Permission::Administer]
                .map(|permission| role.allows(permission));
            assert_eq!(allowed, expected, "{role:?}");
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("owner"), None);
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
