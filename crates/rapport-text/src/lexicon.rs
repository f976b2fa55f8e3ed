//! The word lists behind sentiment: VADER's valence lexicon and emoji descriptions (product data in
//! `data/`, MIT, see `data/README.md`), plus the rule words (boosters, dampeners, negations,
//! sentiment-laden phrases) that the method in Hutto & Gilbert (2014) names.
//!
//! Loaded once per process ([`Lexicon::shared`]); lookups are by the lower-cased token.

use rustc_hash::FxHashMap;
use std::sync::OnceLock;

const VADER_LEXICON: &str = include_str!("../data/vader_lexicon.tsv");
const EMOJI_LEXICON: &str = include_str!("../data/emoji_lexicon.tsv");

/// A booster's increment to the magnitude of the valence it modifies.
pub(crate) const BOOST: f64 = 0.293;
/// A dampener's decrement.
pub(crate) const DAMP: f64 = -0.293;

#[rustfmt::skip]
const BOOSTERS: &[&str] = &[
    "absolutely", "amazingly", "awfully", "completely", "considerable", "considerably",
    "decidedly", "deeply", "effing", "enormous", "enormously", "entirely", "especially",
    "exceptional", "exceptionally", "extreme", "extremely", "fabulously", "flipping", "flippin",
    "frackin", "fracking", "fricking", "frickin", "frigging", "friggin", "fully", "fuckin",
    "fucking", "fuggin", "fugging", "greatly", "hella", "highly", "hugely", "incredible",
    "incredibly", "intensely", "major", "majorly", "more", "most", "particularly", "purely",
    "quite", "really", "remarkably", "so", "substantially", "thoroughly", "total", "totally",
    "tremendous", "tremendously", "uber", "unbelievably", "unusually", "utter", "utterly", "very",
];

#[rustfmt::skip]
const DAMPENERS: &[&str] = &[
    "almost", "barely", "hardly", "just enough", "kind of", "kinda", "kindof", "kind-of", "less",
    "little", "marginal", "marginally", "occasional", "occasionally", "partly", "scarce",
    "scarcely", "slight", "slightly", "somewhat", "sort of", "sorta", "sortof", "sort-of",
];

#[rustfmt::skip]
const NEGATIONS: &[&str] = &[
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "ain't", "aren't",
    "can't", "couldn't", "daren't", "didn't", "doesn't", "dont", "hadnt", "hasnt", "havent",
    "isnt", "mightnt", "mustnt", "neither", "don't", "hadn't", "hasn't", "haven't", "isn't",
    "mightn't", "mustn't", "neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing",
    "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent", "oughtn't", "shan't",
    "shouldn't", "uh-uh", "wasn't", "weren't", "without", "wont", "wouldnt", "won't", "wouldn't",
    "rarely", "seldom", "despite",
];

/// Phrases whose valence replaces that of the word they contain ("the bomb" is not negative).
const PHRASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.1),
    ("broken heart", -2.9),
    // Sentiment-laden idioms.
    ("cut the mustard", 2.0),
    ("hand to mouth", -2.0),
    ("back handed", -2.0),
    ("blow smoke", -2.0),
    ("blowing smoke", -2.0),
    ("upper hand", 1.0),
    ("break a leg", 2.0),
    ("cooking with gas", 2.0),
    ("in the black", 2.0),
    ("in the red", -2.0),
    ("on the ball", 2.0),
    ("under the weather", -2.0),
];

/// What the rules need to know about one lower-cased word, found with one lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Word {
    /// Its valence in [-4, 4], when it is in the lexicon.
    pub valence: Option<f64>,
    /// A booster's (positive) or dampener's (negative) scalar.
    pub booster: Option<f64>,
    pub negation: bool,
    /// It belongs to a phrase or multi-word dampener: phrases are only looked up around such words.
    pub phrase: bool,
}

pub struct Lexicon {
    words: FxHashMap<Box<str>, Word>,
    emoji: FxHashMap<char, Box<str>>,
    /// Phrases and multi-word dampeners.
    phrases: FxHashMap<&'static str, f64>,
    boosters: FxHashMap<&'static str, f64>,
}

impl Lexicon {
    pub fn shared() -> &'static Lexicon {
        static SHARED: OnceLock<Lexicon> = OnceLock::new();
        SHARED.get_or_init(Lexicon::load)
    }

    fn load() -> Lexicon {
        let mut words: FxHashMap<Box<str>, Word> = FxHashMap::default();
        for line in VADER_LEXICON.lines() {
            if let Some((token, value)) = line.split_once('\t')
                && let Ok(valence) = value.trim().parse()
            {
                words.entry(token.into()).or_default().valence = Some(valence);
            }
        }
        // Single code points only: a token is split at each emoji it contains.
        let emoji = EMOJI_LEXICON
            .lines()
            .filter_map(|line| {
                let (emoji, description) = line.split_once('\t')?;
                let mut chars = emoji.chars();
                let c = chars.next()?;
                chars.next().is_none().then(|| (c, description.trim().into()))
            })
            .collect();
        let boosters: FxHashMap<&'static str, f64> =
            BOOSTERS.iter().map(|w| (*w, BOOST)).chain(DAMPENERS.iter().map(|w| (*w, DAMP))).collect();
        for (&word, &scalar) in &boosters {
            words.entry(word.into()).or_default().booster = Some(scalar);
        }
        for &word in NEGATIONS {
            words.entry(word.into()).or_default().negation = true;
        }
        let phrases = PHRASES.iter().map(|(p, _)| *p).chain(DAMPENERS.iter().copied().filter(|w| w.contains(' ')));
        for word in phrases.flat_map(|p| p.split(' ')) {
            words.entry(word.into()).or_default().phrase = true;
        }
        Lexicon { words, emoji, phrases: PHRASES.iter().copied().collect(), boosters }
    }

    /// Everything about a lower-cased word; a word outside every list may still negate ("n't").
    pub fn word(&self, lower: &str) -> Word {
        match self.words.get(lower) {
            Some(word) => *word,
            None => Word { negation: lower.contains("n't"), ..Word::default() },
        }
    }

    pub fn emoji(&self, c: char) -> Option<&str> {
        self.emoji.get(&c).map(|d| &**d)
    }

    /// A phrase's own valence.
    pub fn phrase(&self, phrase: &str) -> Option<f64> {
        self.phrases.get(phrase).copied()
    }

    /// A booster's or dampener's scalar, single word or phrase ("kind of").
    pub fn booster(&self, words: &str) -> Option<f64> {
        self.boosters.get(words).copied()
    }
}
