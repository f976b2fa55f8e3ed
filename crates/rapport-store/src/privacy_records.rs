//! What the privacy part of the store takes and returns: consent statements, the person a
//! data-subject request is about, and what an erasure or a retention run removed.

use rapport_core::ids::CustomerId;
use rapport_core::privacy::{ConsentChoice, Purpose};

/// A consent statement as both backends store it (purpose, channel with `''` for every channel,
/// granted, source, time); None for a purpose this version does not know.
pub(crate) fn consent_choice(
    (purpose, channel, granted, source, at_ms): (String, String, bool, String, i64),
) -> Option<ConsentChoice> {
    Some(ConsentChoice {
        purpose: Purpose::parse(&purpose)?,
        channel: (!channel.is_empty()).then_some(channel),
        granted,
        source,
        at_ms,
    })
}

/// One consent statement with the identity it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub identity_key: String,
    pub choice: ConsentChoice,
}

/// Everything that identifies one person in the store: the customer (when the identity graph
/// knows them), its graph nodes, and every identity key and raw id those nodes hold. A person the
/// graph does not know (a survey answered by e-mail, no events) is just the identity asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSubject {
    pub customer: Option<CustomerId>,
    pub nodes: Vec<String>,
    pub identity_keys: Vec<String>,
    /// `userId`s and `anonymousId`s as events carry them.
    pub user_ids: Vec<String>,
    pub anonymous_ids: Vec<String>,
}

/// How many rows a privacy operation removed (or changed, for the answer rollup) and how many
/// of others' rows it rewrote, by table, in the order it touched them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub tables: Vec<(&'static str, u64)>,
    pub rewritten: Vec<(&'static str, u64)>,
}

fn add_to(counts: &mut Vec<(&'static str, u64)>, table: &'static str, rows: u64) {
    match counts.iter_mut().find(|(known, _)| *known == table) {
        Some((_, count)) => *count += rows,
        None => counts.push((table, rows)),
    }
}

impl RowCounts {
    pub fn add(&mut self, table: &'static str, rows: u64) {
        add_to(&mut self.tables, table, rows);
    }

    pub fn add_rewritten(&mut self, table: &'static str, rows: u64) {
        add_to(&mut self.rewritten, table, rows);
    }

    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}
