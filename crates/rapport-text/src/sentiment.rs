//! Sentiment of a text and of each of its sentences: a score in [−1, 1] and a label.
//!
//! The method is VADER's (Hutto & Gilbert, ICWSM 2014): a human-rated valence lexicon and rules for
//! what changes a word's valence — negation up to three words back, boosters and dampeners,
//! a contrastive "but" (what precedes it counts half, what follows one and a half), emphasis by
//! capitals among lower-case words and by exclamation and question marks, emoticons and emoji (an
//! emoji reads as its description), and phrases whose meaning is not their words' ("the bomb",
//! "under the weather"). The sum of the valences is normalised to [−1, 1] by x / √(x² + 15).
//!
//! Written here rather than taken from a crate: the ports on crates.io are young or differ from
//! the reference, none gives sentence spans, and the product needs ~300,000 sentences/s on one
//! core, which asks for one pass over the text with no allocation per word (see BENCHMARKS.md).
//! Where the reference implementation has accidents (its "but" rule finds a word's position by
//! its value; an emoji glued to the next word), this follows the method as published.

use crate::lexicon::Lexicon;
use serde::Serialize;

const CAPS_EMPHASIS: f64 = 0.733;
const NEGATION_SCALAR: f64 = -0.74;
const NORMALISATION_ALPHA: f64 = 15.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }
}

/// Scores at or beyond these are labelled negative / positive (defaults ±0.05, as VADER's authors
/// recommend).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub negative: f64,
    pub positive: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { negative: -0.05, positive: 0.05 }
    }
}

impl Thresholds {
    pub fn label(&self, score: f64) -> Label {
        if score >= self.positive {
            Label::Positive
        } else if score <= self.negative {
            Label::Negative
        } else {
            Label::Neutral
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sentiment {
    pub score: f64,
    pub label: Label,
}

/// One sentence: byte offsets into the text (`text[start..end]`) and its sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SentenceSentiment {
    pub start: usize,
    pub end: usize,
    pub score: f64,
    pub label: Label,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextSentiment {
    pub score: f64,
    pub label: Label,
    pub sentences: Vec<SentenceSentiment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Terminal {
    None,
    /// Ends in `!` or `?`.
    Strong,
    /// Ends in a full stop that is not an abbreviation's.
    Period,
    /// Ends in `..`: a boundary only before a capital.
    Ellipsis,
}

/// A word, emoticon or emoji description word.
#[derive(Debug, Clone, Copy)]
struct Tok {
    /// The lower-cased form: `lower[lo..hi]` of the analysis buffer.
    lo: u32,
    hi: u32,
    /// The whitespace-delimited text it came from, with its punctuation: `text[start..end]`.
    start: u32,
    end: u32,
    valence: Option<f64>,
    booster: Option<f64>,
    negation: bool,
    upper: bool,
    phrase: bool,
    terminal: Terminal,
    /// A line break separates it from the token before.
    after_newline: bool,
    /// The first character of the token is an upper-case letter or a digit.
    starts_capital: bool,
}

struct Tokens<'t> {
    text: &'t str,
    lower: String,
    toks: Vec<Tok>,
}

impl Tokens<'_> {
    fn word(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.lower[t.lo as usize..t.hi as usize]
    }
}

#[derive(Clone, Copy)]
pub struct Analyzer {
    lexicon: &'static Lexicon,
    thresholds: Thresholds,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(Thresholds::default())
    }
}

impl Analyzer {
    pub fn new(thresholds: Thresholds) -> Analyzer {
        Analyzer { lexicon: Lexicon::shared(), thresholds }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// The text's score and label, without its sentences.
    pub fn score(&self, text: &str) -> Sentiment {
        let tokens = self.tokenize(text);
        let mut scratch = Vec::with_capacity(tokens.toks.len());
        let score = self.text_score(&tokens, &mut scratch);
        Sentiment { score, label: self.thresholds.label(score) }
    }

    /// The text's score and label and each sentence's, with its offsets.
    pub fn analyse(&self, text: &str) -> TextSentiment {
        let tokens = self.tokenize(text);
        let mut scratch = Vec::with_capacity(tokens.toks.len());
        let score = self.text_score(&tokens, &mut scratch);
        let sentences = sentence_ranges(&tokens.toks)
            .map(|range| {
                let (first, last) = (&tokens.toks[range.start], &tokens.toks[range.end - 1]);
                let (start, end) = (first.start as usize, last.end as usize);
                let sum = self.raw_sum(&tokens, range, &mut scratch);
                let score = normalise(emphasised(sum, &text[start..end]));
                SentenceSentiment { start, end, score, label: self.thresholds.label(score) }
            })
            .collect();
        TextSentiment { score, label: self.thresholds.label(score), sentences }
    }

    /// The whole text's score: its valences read as one passage, as the method defines it.
    fn text_score(&self, tokens: &Tokens, scratch: &mut Vec<f64>) -> f64 {
        let sum = self.raw_sum(tokens, 0..tokens.toks.len(), scratch);
        normalise(emphasised(sum, tokens.text))
    }

    fn tokenize<'t>(&self, text: &'t str) -> Tokens<'t> {
        let mut tokens = Tokens {
            text,
            lower: String::with_capacity(text.len() + 16),
            toks: Vec::with_capacity(text.len() / 4 + 1),
        };
        let mut previous_end = 0;
        for raw in text.split(char::is_whitespace).filter(|raw| !raw.is_empty()) {
            let start = raw.as_ptr() as usize - text.as_ptr() as usize;
            let after_newline = text[previous_end..start].contains('\n');
            previous_end = start + raw.len();
            let first = tokens.toks.len();
            if raw.is_ascii() || !raw.chars().any(|c| self.lexicon.emoji(c).is_some()) {
                self.push_word(&mut tokens, start, raw);
            } else {
                self.push_with_emoji(&mut tokens, start, raw);
            }
            if let Some(first_tok) = tokens.toks.get_mut(first) {
                first_tok.after_newline = after_newline;
            }
            if tokens.toks.len() > first
                && let Some(last) = tokens.toks.last_mut()
            {
                last.terminal = terminal(raw);
            }
        }
        tokens
    }

    /// A token holding emoji: the text around them as words, each emoji as its description's words.
    fn push_with_emoji(&self, tokens: &mut Tokens, start: usize, raw: &str) {
        let mut segment_start = 0;
        for (at, c) in raw.char_indices() {
            let Some(description) = self.lexicon.emoji(c) else { continue };
            if segment_start < at {
                self.push_word(tokens, start + segment_start, &raw[segment_start..at]);
            }
            segment_start = at + c.len_utf8();
            for word in description.split(' ').filter(|w| !w.is_empty()) {
                let lo = tokens.lower.len();
                tokens.lower.extend(word.chars().flat_map(char::to_lowercase));
                let span = (start + at, start + segment_start);
                self.push_tok(tokens, lo, span, false, false);
            }
        }
        if segment_start < raw.len() {
            self.push_word(tokens, start + segment_start, &raw[segment_start..]);
        }
    }

    fn push_word(&self, tokens: &mut Tokens, start: usize, raw: &str) {
        // Punctuation around a word goes, unless that leaves two characters or fewer (":)", "<3").
        let stripped = raw.trim_matches(|c: char| c.is_ascii_punctuation());
        let word = if stripped.len() <= 2 || stripped.chars().nth(2).is_none() { raw } else { stripped };
        let lo = tokens.lower.len();
        let (mut any_upper, mut any_lower) = (false, false);
        for c in word.chars() {
            if c.is_ascii() {
                any_upper |= c.is_ascii_uppercase();
                any_lower |= c.is_ascii_lowercase();
                tokens.lower.push(c.to_ascii_lowercase());
            } else if c == '\u{2019}' {
                // A typographic apostrophe reads as the typewriter one ("don’t").
                tokens.lower.push('\'');
            } else {
                any_upper |= c.is_uppercase();
                any_lower |= c.is_lowercase();
                tokens.lower.extend(c.to_lowercase());
            }
        }
        let starts_capital =
            raw.chars().find(|c| !c.is_ascii_punctuation()).is_some_and(|c| c.is_uppercase() || c.is_numeric());
        let span = (start, start + raw.len());
        self.push_tok(tokens, lo, span, any_upper && !any_lower, starts_capital);
    }

    fn push_tok(&self, tokens: &mut Tokens, lo: usize, span: (usize, usize), upper: bool, starts_capital: bool) {
        let hi = tokens.lower.len();
        let word = self.lexicon.word(&tokens.lower[lo..hi]);
        tokens.toks.push(Tok {
            lo: lo as u32,
            hi: hi as u32,
            start: span.0 as u32,
            end: span.1 as u32,
            valence: word.valence,
            booster: word.booster,
            negation: word.negation,
            upper,
            phrase: word.phrase,
            terminal: Terminal::None,
            after_newline: false,
            starts_capital,
        });
    }

    /// The sum of the valences of `range`'s tokens read as one passage.
    fn raw_sum(&self, tokens: &Tokens, range: std::ops::Range<usize>, scratch: &mut Vec<f64>) -> f64 {
        scratch.clear();
        let toks = &tokens.toks[range.clone()];
        let uppers = toks.iter().filter(|t| t.upper).count();
        let caps_differ = uppers > 0 && uppers < toks.len();
        let passage = Passage { tokens, offset: range.start, len: toks.len(), caps_differ, lexicon: self.lexicon };
        for i in 0..toks.len() {
            scratch.push(passage.valence(i));
        }
        // A contrastive "but": what precedes it counts half, what follows one and a half.
        if let Some(but) = (0..toks.len()).find(|&i| passage.word(i) == "but") {
            for (i, v) in scratch.iter_mut().enumerate() {
                if i < but {
                    *v *= 0.5;
                } else if i > but {
                    *v *= 1.5;
                }
            }
        }
        scratch.iter().sum()
    }
}

/// A run of tokens scored together (a sentence, or the whole text).
struct Passage<'a> {
    tokens: &'a Tokens<'a>,
    offset: usize,
    len: usize,
    caps_differ: bool,
    lexicon: &'static Lexicon,
}

impl Passage<'_> {
    fn tok(&self, i: usize) -> &Tok {
        &self.tokens.toks[self.offset + i]
    }

    fn word(&self, i: usize) -> &str {
        self.tokens.word(self.offset + i)
    }

    fn valence(&self, i: usize) -> f64 {
        let tok = self.tok(i);
        if tok.booster.is_some() || (self.word(i) == "kind" && i + 1 < self.len && self.word(i + 1) == "of") {
            return 0.0;
        }
        let Some(base) = tok.valence else { return 0.0 };
        let mut valence = base;
        // "no" before a lexicon word negates it rather than counting itself.
        if self.word(i) == "no" && i + 1 < self.len && self.tok(i + 1).valence.is_some() {
            valence = 0.0;
        }
        if (i > 0 && self.word(i - 1) == "no")
            || (i > 1 && self.word(i - 2) == "no")
            || (i > 2 && self.word(i - 3) == "no" && matches!(self.word(i - 1), "or" | "nor"))
        {
            valence = base * NEGATION_SCALAR;
        }
        if tok.upper && self.caps_differ {
            valence += if valence > 0.0 { CAPS_EMPHASIS } else { -CAPS_EMPHASIS };
        }
        for back in 0..3 {
            if i <= back || self.tok(i - back - 1).valence.is_some() {
                continue;
            }
            let mut scalar = self.booster_scalar(i - back - 1, valence);
            if back == 1 {
                scalar *= 0.95;
            } else if back == 2 {
                scalar *= 0.9;
            }
            valence += scalar;
            valence = self.negation(valence, back, i);
            if back == 2 {
                valence = self.phrases(valence, i);
            }
        }
        self.least(valence, i)
    }

    fn booster_scalar(&self, j: usize, valence: f64) -> f64 {
        let tok = self.tok(j);
        let Some(mut scalar) = tok.booster else { return 0.0 };
        if valence < 0.0 {
            scalar = -scalar;
        }
        if tok.upper && self.caps_differ {
            scalar += if valence > 0.0 { CAPS_EMPHASIS } else { -CAPS_EMPHASIS };
        }
        scalar
    }

    fn negation(&self, valence: f64, back: usize, i: usize) -> f64 {
        let w = |k: usize| self.word(i - k);
        let so_this = |k: usize| matches!(w(k), "so" | "this");
        match back {
            0 if self.tok(i - 1).negation => valence * NEGATION_SCALAR,
            1 if w(2) == "never" && so_this(1) => valence * 1.25,
            1 if w(2) == "without" && w(1) == "doubt" => valence,
            1 if self.tok(i - 2).negation => valence * NEGATION_SCALAR,
            2 if (w(3) == "never" && so_this(2)) || so_this(1) => valence * 1.25,
            2 if w(3) == "without" && (w(2) == "doubt" || w(1) == "doubt") => valence,
            2 if self.tok(i - 3).negation => valence * NEGATION_SCALAR,
            _ => valence,
        }
    }

    /// Phrases around word `i` (i ≥ 3) that carry their own valence, and multi-word dampeners
    /// ("kind of") before it.
    fn phrases(&self, mut valence: f64, i: usize) -> f64 {
        let mut buffer = String::new();
        let lexicon = self.lexicon;
        let before = [(i - 1, i), (i - 2, i), (i - 2, i - 1), (i - 3, i - 1), (i - 3, i - 2)];
        if let Some(v) = before.iter().find_map(|&(a, b)| self.phrase(a, b, &mut buffer, |p| lexicon.phrase(p))) {
            valence = v;
        }
        if let Some(v) = self.phrase(i, i + 1, &mut buffer, |p| lexicon.phrase(p)) {
            valence = v;
        }
        if let Some(v) = self.phrase(i, i + 2, &mut buffer, |p| lexicon.phrase(p)) {
            valence = v;
        }
        for (a, b) in [(i - 3, i - 1), (i - 3, i - 2), (i - 2, i - 1)] {
            if let Some(scalar) = self.phrase(a, b, &mut buffer, |p| lexicon.booster(p)) {
                valence += scalar;
            }
        }
        valence
    }

    /// The value `lookup` gives the words `from..=to` joined by spaces, looked up only when every
    /// one of them belongs to some phrase.
    fn phrase(&self, from: usize, to: usize, buffer: &mut String, lookup: impl Fn(&str) -> Option<f64>) -> Option<f64> {
        if to >= self.len || !(from..=to).all(|k| self.tok(k).phrase) {
            return None;
        }
        buffer.clear();
        for k in from..=to {
            if k > from {
                buffer.push(' ');
            }
            buffer.push_str(self.word(k));
        }
        lookup(buffer)
    }

    /// "least" before a word negates it, except in "at least" and "very least".
    fn least(&self, valence: f64, i: usize) -> f64 {
        if i > 0 && self.tok(i - 1).valence.is_none() && self.word(i - 1) == "least" {
            if i > 1 && matches!(self.word(i - 2), "at" | "very") {
                return valence;
            }
            return valence * NEGATION_SCALAR;
        }
        valence
    }
}

/// Exclamation marks (up to four) and repeated question marks strengthen whatever the sum says.
fn emphasised(sum: f64, text: &str) -> f64 {
    let (mut exclamations, mut questions) = (0usize, 0usize);
    for b in text.bytes() {
        exclamations += usize::from(b == b'!');
        questions += usize::from(b == b'?');
    }
    let mut emphasis = exclamations.min(4) as f64 * 0.292;
    emphasis += match questions {
        0 | 1 => 0.0,
        2 | 3 => questions as f64 * 0.18,
        _ => 0.96,
    };
    if sum > 0.0 {
        sum + emphasis
    } else if sum < 0.0 {
        sum - emphasis
    } else {
        sum
    }
}

fn normalise(sum: f64) -> f64 {
    (sum / (sum * sum + NORMALISATION_ALPHA).sqrt()).clamp(-1.0, 1.0)
}

const ABBREVIATIONS: &[&str] = &[
    "mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.", "etc.", "inc.", "ltd.", "co.", "no.", "approx.",
    "dept.", "e.g.", "i.e.", "a.m.", "p.m.", "u.s.", "fig.",
];

fn terminal(raw: &str) -> Terminal {
    let core = raw.trim_end_matches(['"', '\'', ')', ']', '\u{201D}', '\u{2019}']);
    match core.as_bytes().last() {
        Some(b'!' | b'?') => Terminal::Strong,
        Some(b'.') if core.ends_with("..") || core.ends_with('\u{2026}') => Terminal::Ellipsis,
        Some(b'.') => {
            let lower = core.to_ascii_lowercase();
            let word = lower.trim_start_matches(|c: char| c.is_ascii_punctuation() && c != '.');
            let initial = word.len() == 2 && word.as_bytes()[0].is_ascii_alphabetic();
            if initial || ABBREVIATIONS.contains(&word) { Terminal::None } else { Terminal::Period }
        }
        _ if core.ends_with('\u{2026}') => Terminal::Ellipsis,
        _ => Terminal::None,
    }
}

/// Sentences as token ranges: a sentence ends after `!`, `?` or a full stop that is not an
/// abbreviation's, after an ellipsis followed by a capital, and at a line break.
fn sentence_ranges(toks: &[Tok]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < toks.len() {
            let next = toks.get(i + 1);
            let ends = match toks[i].terminal {
                Terminal::Strong | Terminal::Period => true,
                Terminal::Ellipsis => next.is_none_or(|n| n.starts_capital),
                Terminal::None => false,
            } || next.is_none_or(|n| n.after_newline);
            // Emoji descriptions share their emoji's span: never split inside one.
            let same_span = next.is_some_and(|n| n.start == toks[i].start);
            i += 1;
            if ends && !same_span {
                let range = start..i;
                start = i;
                return Some(range);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> f64 {
        Analyzer::default().score(text).score
    }

    #[test]
    fn reference_sentences_score_as_the_method_defines() {
        // Values from the method's rules worked by hand (and matching vaderSentiment 3.3.2).
        let cases = [
            ("VADER is smart, handsome, and funny.", 0.8316),
            ("VADER is smart, handsome, and funny!", 0.8439),
            ("VADER is very smart, handsome, and funny.", 0.8545),
            ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
            ("VADER is not smart, handsome, nor funny.", -0.7424),
            ("The book was good.", 0.4404),
            ("At least it isn't a horrible book.", 0.431),
            ("The book was only kind of good.", 0.3832),
            ("The plot was good, but the characters are uncompelling and the dialog is not great.", -0.7042),
            ("Today SUX!", -0.5461),
            ("Today only kinda sux! But I'll get by, lol", 0.5249),
            ("Make sure you :) or :D today!", 0.8633),
            ("Not bad at all", 0.431),
        ];
        for (text, expected) in cases {
            let got = score(text);
            assert!((got - expected).abs() < 5e-4, "{text}: {got:.4} != {expected}");
        }
    }

    #[test]
    fn labels_follow_the_thresholds() {
        let analyzer = Analyzer::default();
        assert_eq!(analyzer.score("I love this").label, Label::Positive);
        assert_eq!(analyzer.score("I hate this").label, Label::Negative);
        assert_eq!(analyzer.score("The parcel came on Tuesday").label, Label::Neutral);
        let strict = Analyzer::new(Thresholds { negative: -0.9, positive: 0.9 });
        assert_eq!(strict.score("I love this").label, Label::Neutral);
    }

    #[test]
    fn emoji_read_as_their_descriptions() {
        assert!(score("delivered 😠") < -0.3);
        assert!(score("delivered😍") > 0.3);
        assert_eq!(score("delivered"), 0.0);
    }

    #[test]
    fn sentences_are_scored_apart_with_their_offsets() {
        let text = "The app is great! Login is broken and I'm furious.\nDr. Smith was helpful, e.g. with the reset.";
        let analysis = Analyzer::default().analyse(text);
        let spans: Vec<&str> = analysis.sentences.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(
            spans,
            ["The app is great!", "Login is broken and I'm furious.", "Dr. Smith was helpful, e.g. with the reset."]
        );
        let labels: Vec<Label> = analysis.sentences.iter().map(|s| s.label).collect();
        assert_eq!(labels, [Label::Positive, Label::Negative, Label::Positive]);
    }

    #[test]
    fn typographic_apostrophes_negate() {
        assert!(score("I don\u{2019}t like it") < 0.0);
        assert_eq!(score("I don\u{2019}t like it"), score("I don't like it"));
    }

    #[test]
    fn empty_and_blank_texts_are_neutral() {
        assert_eq!(Analyzer::default().analyse("").sentences, []);
        assert_eq!(score("   \n "), 0.0);
    }
}
