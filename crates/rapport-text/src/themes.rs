//! Emerging themes: frequent key phrases in what no topic covers, for the team to promote.
//!
//! Candidates are the words and runs of two or three words of each sentence no topic was found in,
//! keyed by their stems ("refund delays" and "refunds delayed" are one theme), neither starting nor
//! ending with a stop word or a sentiment word (a theme is a subject: "great" is not one). Each
//! counts the items it occurs in; a phrase inside a longer one that occurs nearly as often (80%)
//! gives way to the longer one ("dark" to "dark mode").

use std::collections::{HashMap, HashSet};

use crate::lexicon::Lexicon;
use crate::topics::{Span, stem_of, words};

/// Common English words: never a theme's first or last word (and a sign of English text).
#[rustfmt::skip]
pub(crate) const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing",
    "don't", "for", "from", "get", "got", "had", "has", "have", "having", "he", "her", "here", "him",
    "his", "how", "i", "i'm", "i've", "if", "in", "into", "is", "it", "it's", "its", "just", "me",
    "more", "most", "my", "no", "not", "now", "of", "on", "one", "only", "or", "other", "our", "out",
    "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
    "until", "up", "us", "very", "was", "we", "were", "what", "when", "where", "which", "while",
    "who", "why", "will", "with", "would", "you", "your", "yet", "still", "even", "really", "ever",
    "im", "ive", "dont", "cant", "wont", "didnt", "doesnt", "isnt", "wasnt", "let", "make", "made",
    "way", "thing", "things", "lot", "much", "many", "every", "each", "time", "day", "days",
];

/// An item as themes read it: its text, its sentences, and those a topic covers.
#[derive(Debug, Clone, PartialEq)]
pub struct ThemeItem<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub sentences: Vec<Span>,
    pub covered: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Theme {
    /// The phrase as it is most often written.
    pub phrase: String,
    /// Items it occurs in.
    pub items: usize,
    /// Up to three of them (ids).
    pub examples: Vec<String>,
}

fn is_boundary_word(lexicon: &Lexicon, lower: &str) -> bool {
    STOP_WORDS.contains(&lower)
        || lower.chars().all(|c| c.is_numeric())
        || lower.chars().count() < 3
        || lexicon.word(lower).valence.is_some()
}

/// The themes of `items`, most frequent first, each in at least `min_count` items.
pub fn emerging_themes(items: &[ThemeItem], min_count: usize, limit: usize) -> Vec<Theme> {
    let lexicon = Lexicon::shared();
    // Stem key → (items, surface forms with counts).
    let mut counts: HashMap<String, (Vec<usize>, HashMap<String, usize>)> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let mut seen: HashSet<String> = HashSet::new();
        let all_words = words(item.text);
        for sentence in item.sentences.iter().filter(|s| !item.covered.contains(s)) {
            let in_sentence: Vec<_> =
                all_words.iter().filter(|w| w.start >= sentence.start && w.end <= sentence.end).collect();
            for length in 1..=3 {
                for window in in_sentence.windows(length) {
                    let (first, last) = (&window[0].lower, &window[length - 1].lower);
                    if is_boundary_word(lexicon, first) || is_boundary_word(lexicon, last) {
                        continue;
                    }
                    if length == 1 && first.chars().count() < 4 {
                        continue;
                    }
                    let key: Vec<String> = window.iter().map(|w| stem_of(&w.lower)).collect();
                    let key = key.join(" ");
                    let surface: Vec<&str> = window.iter().map(|w| w.lower.as_ref()).collect();
                    let entry = counts.entry(key.clone()).or_default();
                    *entry.1.entry(surface.join(" ")).or_default() += 1;
                    if seen.insert(key) {
                        entry.0.push(index);
                    }
                }
            }
        }
    }
    let frequent: Vec<(String, Vec<usize>, String)> = counts
        .into_iter()
        .filter(|(_, (found, _))| found.len() >= min_count)
        .map(|(key, (found, surfaces))| {
            let phrase = surfaces
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(s, _)| s)
                .unwrap_or_default();
            (key, found, phrase)
        })
        .collect();
    let contained_in =
        |short: &str, long: &str| long.len() > short.len() && format!(" {long} ").contains(&format!(" {short} "));
    let mut themes: Vec<(usize, usize, Theme)> = frequent
        .iter()
        .filter(|(key, found, _)| {
            !frequent.iter().any(|(other, other_found, _)| {
                contained_in(key, other) && other_found.len() as f64 >= 0.8 * found.len() as f64
            })
        })
        .map(|(key, found, phrase)| {
            let examples = found.iter().take(3).map(|&i| items[i].id.to_owned()).collect();
            (found.len(), key.split(' ').count(), Theme { phrase: phrase.clone(), items: found.len(), examples })
        })
        .collect();
    themes.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then_with(|| a.2.phrase.cmp(&b.2.phrase)));
    themes.into_iter().take(limit).map(|(_, _, theme)| theme).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(id: &'a str, text: &'a str) -> ThemeItem<'a> {
        ThemeItem { id, text, sentences: vec![Span { start: 0, end: text.len() }], covered: vec![] }
    }

    #[test]
    fn a_new_subject_surfaces_with_counts_and_examples() {
        let texts = [
            "Please add a dark mode, my eyes hurt at night.",
            "Dark mode would be great.",
            "Is dark mode coming to the app?",
            "I wish there was a dark mode option.",
            "Love it. The widget on the home screen is handy.",
            "Great prices.",
        ];
        let ids: Vec<String> = (0..texts.len()).map(|i| format!("f{i}")).collect();
        let items: Vec<ThemeItem> = texts.iter().zip(&ids).map(|(t, id)| item(id, t)).collect();
        let themes = emerging_themes(&items, 3, 5);
        assert_eq!(themes[0].phrase, "dark mode");
        assert_eq!(themes[0].items, 4);
        assert_eq!(themes[0].examples, ["f0", "f1", "f2"]);
        assert!(themes.iter().all(|t| t.phrase != "dark" && t.phrase != "mode"), "{themes:?}");
        assert!(themes.iter().all(|t| t.phrase != "great"), "sentiment words are not themes");
    }

    #[test]
    fn covered_sentences_are_left_out() {
        let text = "The courier was late again.";
        let covered = ThemeItem {
            id: "x",
            text,
            sentences: vec![Span { start: 0, end: text.len() }],
            covered: vec![Span { start: 0, end: text.len() }],
        };
        let items = vec![covered.clone(), covered.clone(), covered];
        assert!(emerging_themes(&items, 2, 10).is_empty());
    }
}
