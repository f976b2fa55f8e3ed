//! The audit log's hash chain: each entry's hash covers its own fields and the hash before it,
//! so changing, removing or reordering any entry breaks every link after it. Pure: the store
//! appends and reads, this module computes and checks.

use sha2::{Digest, Sha256};

/// The `prev_hash` of a workspace's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored: who (`actor`: `user:ana@example.com`, `key:rpk_3f2a1b`, `master`,
/// `system`) did what (`action`: `case.transition`) to what (`target`: `case:…`), with details
/// as JSON text (hashed exactly as stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// 1, 2, 3… within the workspace.
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// An entry with its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEntry {
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of `entry` chained to `prev_hash`: SHA-256 over every field, each prefixed with its
/// length so no two different entries hash the same bytes.
pub fn link_hash(prev_hash: &str, entry: &AuditEntry) -> String {
    let mut hasher = Sha256::new();
    let seq = entry.seq.to_string();
    let at = entry.at_ms.to_string();
    for field in [prev_hash, &seq, &at, &entry.actor, &entry.action, &entry.target, &entry.detail] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The sequence number of the first entry that does not hold (or the number expected where
    /// one is missing).
    pub seq: i64,
    pub problem: String,
}

/// What a verified chain holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    /// The last entry's hash (`GENESIS` when empty): write it down elsewhere, and a later
    /// verification that does not reach it shows the tail was cut off.
    pub head: String,
}

/// Checks a workspace's chain, given its entries in sequence order: numbering without gaps from
/// 1, each `prev_hash` the hash before it, each `hash` recomputed. Stops at the first break.
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    entries: u64,
}

impl Default for Verifier {
    fn default() -> Verifier {
        Verifier { expected_seq: 1, prev_hash: GENESIS.to_owned(), entries: 0 }
    }
}

impl Verifier {
    pub fn push(&mut self, chained: &ChainedEntry) -> Result<(), Break> {
        let seq = chained.entry.seq;
        if seq != self.expected_seq {
            let problem = if seq > self.expected_seq {
                format!("entry {} is missing (the next entry is {seq})", self.expected_seq)
            } else {
                format!("entry {seq} appears again or out of order")
            };
            return Err(Break { seq: self.expected_seq, problem });
        }
        if chained.prev_hash != self.prev_hash {
            return Err(Break { seq, problem: "its link to the entry before does not match".to_owned() });
        }
        if link_hash(&chained.prev_hash, &chained.entry) != chained.hash {
            return Err(Break {
                seq,
                problem: "its contents do not match its hash (changed after it was written)".to_owned(),
            });
        }
        self.prev_hash = chained.hash.clone();
        self.expected_seq += 1;
        self.entries += 1;
        Ok(())
    }

    /// How many entries have verified so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn finish(self) -> Verified {
        Verified { entries: self.entries, head: self.prev_hash }
    }
}

/// Verifies a whole chain held in memory.
pub fn verify<'a>(entries: impl IntoIterator<Item = &'a ChainedEntry>) -> Result<Verified, Break> {
    let mut verifier = Verifier::default();
    for entry in entries {
        verifier.push(entry)?;
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(count: i64) -> Vec<ChainedEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=count)
            .map(|seq| {
                let entry = AuditEntry {
                    seq,
                    at_ms: 1_700_000_000_000 + seq,
                    actor: "user:ana@example.com".into(),
                    action: "case.transition".into(),
                    target: format!("case:{seq}"),
                    detail: format!(r#"{{"to":"resolved","n":{seq}}}"#),
                };
                let hash = link_hash(&prev, &entry);
                let chained = ChainedEntry { entry, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                chained
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies_to_its_head() {
        let entries = chain(5);
        let verified = verify(&entries).unwrap();
        assert_eq!(verified, Verified { entries: 5, head: entries[4].hash.clone() });
        assert_eq!(verify(&[]).unwrap(), Verified { entries: 0, head: GENESIS.to_owned() });
    }

    #[test]
    fn every_kind_of_tampering_is_found_where_it_happened() {
        let mut changed = chain(5);
        changed[2].entry.detail = r#"{"to":"closed","n":3}"#.into();
        assert_eq!(verify(&changed).unwrap_err().seq, 3);

        // Rewriting the entry's hash too breaks the next link.
        let mut rehashed = chain(5);
        rehashed[2].entry.actor = "user:mallory@example.com".into();
        rehashed[2].hash = link_hash(&rehashed[2].prev_hash, &rehashed[2].entry);
        let broken = verify(&rehashed).unwrap_err();
        assert_eq!(broken.seq, 4);
        assert!(broken.problem.contains("link"), "{}", broken.problem);

        let mut removed = chain(5);
        removed.remove(1);
        let broken = verify(&removed).unwrap_err();
        assert_eq!(broken.seq, 2);
        assert!(broken.problem.contains("missing"), "{}", broken.problem);

        let mut swapped = chain(5);
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped).unwrap_err().seq, 2);
    }

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        let entry = |actor: &str, action: &str| AuditEntry {
            seq: 1,
            at_ms: 1,
            actor: actor.into(),
            action: action.into(),
            target: String::new(),
            detail: "{}".into(),
        };
        assert_ne!(link_hash(GENESIS, &entry("ab", "c")), link_hash(GENESIS, &entry("a", "bc")));
    }
}
