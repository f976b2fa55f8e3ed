//! Rapport's text analytics: sentiment of texts and sentences, topics from a team-edited taxonomy,
//! PII redaction, language detection, and the statistics of negative-mention spikes.
//!
//! Architecture invariant: like `rapport-core`, this crate does no I/O, no async and no SQL; the
//! lexicons are compiled in (`data/`, with their licence).

pub mod erasure;
pub mod feedback;
pub mod language;
pub mod lexicon;
pub mod redact;
pub mod sentiment;
pub mod spikes;
pub mod themes;
pub mod topics;
