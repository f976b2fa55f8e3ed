//! Topics: a taxonomy the team edits (topic → sub-topic), each topic a query over words and
//! phrases, found sentence by sentence with the offsets of every hit.
//!
//! The query language: words match by their English stem (`refund` finds "refunds", "refunded");
//! a trailing `*` matches by prefix (`deliver*`); `"quoted words"` match as a phrase (each word by
//! stem or prefix, in a row); `AND` (or words side by side), `OR`, `NOT` and parentheses combine
//! them (operators in any case; `AND` binds tighter than `OR`). A query is true of a sentence:
//! `late AND delivery` asks for both in one sentence. A topic with sub-topics is found wherever its
//! own query or any sub-topic's is.

use std::borrow::Cow;
use std::sync::OnceLock;

use rapport_core::problem::FieldProblem;
use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::sentiment::{Label, SentenceSentiment, Thresholds};

const DEFAULT_TAXONOMY: &str = include_str!("../data/default_taxonomy.json");

/// Byte offsets into the text: `text[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A topic as the team defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicDefinition {
    /// Lower-case letters, digits and `-`: how reports and alerts name the topic.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub query: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    pub topics: Vec<TopicDefinition>,
}

impl Taxonomy {
    /// The taxonomy a workspace starts with: common subjects of customer feedback.
    pub fn default_for_customer_experience() -> Taxonomy {
        static DEFAULT: OnceLock<Taxonomy> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                serde_json::from_str(DEFAULT_TAXONOMY).expect("the compiled-in default taxonomy is valid JSON")
            })
            .clone()
    }
}

/// One topic found in a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicHit {
    pub topic: String,
    /// The mean score of the sentences that mention the topic, and its label.
    pub score: f64,
    pub label: Label,
    /// The words and phrases that matched.
    pub mentions: Vec<Span>,
    /// The sentences that mention the topic.
    pub sentences: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    /// A word, by its stem.
    Stem(String),
    /// A word, by the prefix of its lower-case form.
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// One atom, or several in a row (a phrase): indices into `Topics::atoms`.
    Term(Vec<usize>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

struct CompiledTopic {
    id: String,
    query: Node,
    /// Indices of this topic's sub-topics.
    children: Vec<usize>,
    parent: Option<usize>,
}

/// A compiled taxonomy.
pub struct Topics {
    topics: Vec<CompiledTopic>,
    atoms: Vec<Atom>,
    by_stem: FxHashMap<String, Vec<usize>>,
    prefixes: Vec<(String, usize)>,
    thresholds: Thresholds,
}

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// A word of a text for topic matching.
#[derive(Debug, Clone, PartialEq)]
pub struct Word<'t> {
    pub start: usize,
    pub end: usize,
    pub lower: Cow<'t, str>,
}

/// Words: runs of letters and digits, with apostrophes inside a word ("don't") kept.
pub fn words(text: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut start = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(at, c)) in chars.iter().enumerate() {
        let inner_apostrophe = matches!(c, '\'' | '\u{2019}')
            && start.is_some()
            && chars.get(k + 1).is_some_and(|(_, next)| next.is_alphanumeric());
        if c.is_alphanumeric() || inner_apostrophe {
            start.get_or_insert(at);
        } else if let Some(s) = start.take() {
            words.push(word(text, s, at));
        }
    }
    if let Some(s) = start {
        words.push(word(text, s, text.len()));
    }
    words
}

fn word(text: &str, start: usize, end: usize) -> Word<'_> {
    let raw = &text[start..end];
    let lower = if raw.chars().all(|c| !c.is_uppercase() && c != '\u{2019}') {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(raw.chars().map(|c| if c == '\u{2019}' { '\'' } else { c }).flat_map(char::to_lowercase).collect())
    };
    Word { start, end, lower }
}

fn stem(lower: &str) -> Cow<'_, str> {
    stemmer().stem(lower)
}

/// The English stem of a lower-cased word, as topic queries match it.
pub fn stem_of(lower: &str) -> String {
    stem(lower).into_owned()
}

impl Topics {
    /// Checks and compiles a taxonomy; every problem is reported, each naming its field
    /// (`topics[3].query`).
    pub fn compile(taxonomy: &Taxonomy, thresholds: Thresholds) -> Result<Topics, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut topics = Topics {
            topics: Vec::new(),
            atoms: Vec::new(),
            by_stem: FxHashMap::default(),
            prefixes: Vec::new(),
            thresholds,
        };
        let mut index: FxHashMap<&str, usize> = FxHashMap::default();
        for (i, topic) in taxonomy.topics.iter().enumerate() {
            let valid_id = !topic.id.is_empty()
                && topic.id.len() <= 64
                && topic.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_id {
                problems.push(FieldProblem::envelope(
                    &format!("topics[{i}].id"),
                    "must be 1 to 64 lower-case letters, digits or '-'",
                ));
            } else if index.insert(&topic.id, i).is_some() {
                problems.push(FieldProblem::envelope(&format!("topics[{i}].id"), "is used by an earlier topic"));
            }
            if topic.name.trim().is_empty() {
                problems.push(FieldProblem::envelope(&format!("topics[{i}].name"), "must not be empty"));
            }
        }
        for (i, topic) in taxonomy.topics.iter().enumerate() {
            let query = match parse(&topic.query) {
                Ok(node) => topics.intern(node),
                Err(problem) => {
                    problems.push(FieldProblem::envelope(&format!("topics[{i}].query"), &problem));
                    Node::Or(vec![])
                }
            };
            let parent = match &topic.parent {
                None => None,
                Some(parent) => match index.get(parent.as_str()) {
                    Some(&p) if taxonomy.topics[p].parent.is_some() => {
                        problems.push(FieldProblem::envelope(
                            &format!("topics[{i}].parent"),
                            &format!("`{parent}` is itself a sub-topic: topics go two levels deep"),
                        ));
                        None
                    }
                    Some(&p) if p == i => {
                        problems.push(FieldProblem::envelope(&format!("topics[{i}].parent"), "is the topic itself"));
                        None
                    }
                    Some(&p) => Some(p),
                    None => {
                        problems.push(FieldProblem::envelope(
                            &format!("topics[{i}].parent"),
                            &format!("no topic has the id `{parent}`"),
                        ));
                        None
                    }
                },
            };
            topics.topics.push(CompiledTopic { id: topic.id.clone(), query, children: Vec::new(), parent });
        }
        for i in 0..topics.topics.len() {
            if let Some(p) = topics.topics[i].parent {
                topics.topics[p].children.push(i);
            }
        }
        if problems.is_empty() { Ok(topics) } else { Err(problems) }
    }

    /// Parsed terms become atoms shared by every topic: a text's words are matched against each
    /// distinct stem and prefix once.
    fn intern(&mut self, node: ParsedNode) -> Node {
        match node {
            ParsedNode::Term(words) => Node::Term(
                words
                    .into_iter()
                    .map(|atom| {
                        if let Some(i) = self.atoms.iter().position(|a| *a == atom) {
                            return i;
                        }
                        let i = self.atoms.len();
                        match &atom {
                            Atom::Stem(stem) => self.by_stem.entry(stem.clone()).or_default().push(i),
                            Atom::Prefix(prefix) => self.prefixes.push((prefix.clone(), i)),
                        }
                        self.atoms.push(atom);
                        i
                    })
                    .collect(),
            ),
            ParsedNode::And(nodes) => Node::And(nodes.into_iter().map(|n| self.intern(n)).collect()),
            ParsedNode::Or(nodes) => Node::Or(nodes.into_iter().map(|n| self.intern(n)).collect()),
            ParsedNode::Not(node) => Node::Not(Box::new(self.intern(*node))),
        }
    }

    /// The topics found in `text`, whose sentences (with their sentiment) are `sentences`.
    pub fn find(&self, text: &str, sentences: &[SentenceSentiment]) -> Vec<TopicHit> {
        let words = words(text);
        // Where each atom occurs: word positions, ascending.
        let mut occurrences: Vec<Vec<u32>> = vec![Vec::new(); self.atoms.len()];
        for (position, word) in words.iter().enumerate() {
            if let Some(atoms) = self.by_stem.get(stem(&word.lower).as_ref()) {
                for &atom in atoms {
                    occurrences[atom].push(position as u32);
                }
            }
            for (prefix, atom) in &self.prefixes {
                if word.lower.starts_with(prefix.as_str()) {
                    occurrences[*atom].push(position as u32);
                }
            }
        }
        // Per topic: the sentences where its own query holds, and the mentions in them.
        let mut own: Vec<(Vec<usize>, Vec<Span>)> = vec![(Vec::new(), Vec::new()); self.topics.len()];
        let mut first_word = 0;
        for (s, sentence) in sentences.iter().enumerate() {
            let from = first_word + words[first_word..].iter().take_while(|w| w.start < sentence.start).count();
            let to = from + words[from..].iter().take_while(|w| w.end <= sentence.end).count();
            first_word = to;
            if from == to {
                continue;
            }
            let scope = Scope { occurrences: &occurrences, from: from as u32, to: to as u32 };
            for (t, topic) in self.topics.iter().enumerate() {
                let mut mentions = Vec::new();
                if scope.holds(&topic.query, &mut mentions) {
                    own[t].0.push(s);
                    own[t].1.extend(mentions.iter().map(|&(a, b)| Span { start: words[a].start, end: words[b].end }));
                }
            }
        }
        let mut hits = Vec::new();
        for (t, topic) in self.topics.iter().enumerate() {
            let (mut found, mut mentions) = own[t].clone();
            for &child in &topic.children {
                found.extend(&own[child].0);
                mentions.extend(&own[child].1);
            }
            if found.is_empty() {
                continue;
            }
            found.sort_unstable();
            found.dedup();
            mentions.sort_unstable();
            mentions.dedup();
            let score = found.iter().map(|&s| sentences[s].score).sum::<f64>() / found.len() as f64;
            hits.push(TopicHit {
                topic: topic.id.clone(),
                score,
                label: self.thresholds.label(score),
                mentions,
                sentences: found.iter().map(|&s| Span { start: sentences[s].start, end: sentences[s].end }).collect(),
            });
        }
        hits
    }
}

/// One sentence's words `from..to` and where each atom occurs.
struct Scope<'a> {
    occurrences: &'a [Vec<u32>],
    from: u32,
    to: u32,
}

impl Scope<'_> {
    /// Whether `node` holds in the sentence; the word ranges (first, last) that make it hold are
    /// added to `mentions` (nothing under a NOT, nothing from a part that fails).
    fn holds(&self, node: &Node, mentions: &mut Vec<(usize, usize)>) -> bool {
        match node {
            Node::Term(atoms) => {
                let mut found = false;
                for &first in self.within(atoms[0]) {
                    let last = first as usize + atoms.len() - 1;
                    let follows = atoms.iter().enumerate().skip(1).all(|(k, &atom)| {
                        let position = first + k as u32;
                        position < self.to && self.occurrences[atom].binary_search(&position).is_ok()
                    });
                    if follows {
                        mentions.push((first as usize, last));
                        found = true;
                    }
                }
                found
            }
            Node::And(nodes) => {
                let kept = mentions.len();
                let mut all = true;
                for node in nodes {
                    all &= self.holds(node, mentions);
                }
                if !all {
                    mentions.truncate(kept);
                }
                all
            }
            Node::Or(nodes) => {
                let mut any = false;
                for node in nodes {
                    any |= self.holds(node, mentions);
                }
                any
            }
            Node::Not(node) => !self.holds(node, &mut Vec::new()),
        }
    }

    fn within(&self, atom: usize) -> &[u32] {
        let positions = &self.occurrences[atom];
        let start = positions.partition_point(|&p| p < self.from);
        let end = positions.partition_point(|&p| p < self.to);
        &positions[start..end]
    }
}

#[derive(Debug, Clone, PartialEq)]
enum ParsedNode {
    Term(Vec<Atom>),
    And(Vec<ParsedNode>),
    Or(Vec<ParsedNode>),
    Not(Box<ParsedNode>),
}

#[derive(Debug, Clone, PartialEq)]
enum QueryToken {
    Open,
    Close,
    And,
    Or,
    Not,
    /// Words, quoted or not: the text as written.
    Words {
        text: String,
        quoted: bool,
    },
}

fn lex(query: &str) -> Result<Vec<(usize, QueryToken)>, String> {
    let mut tokens = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                tokens.push((at, if c == '(' { QueryToken::Open } else { QueryToken::Close }));
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    text.push(c);
                }
                if !closed {
                    return Err(format!("the quote at character {} is never closed", at + 1));
                }
                tokens.push((at, QueryToken::Words { text, quoted: true }));
            }
            _ => {
                let mut text = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    text.push(c);
                    chars.next();
                }
                let token = match text.to_ascii_uppercase().as_str() {
                    "AND" => QueryToken::And,
                    "OR" => QueryToken::Or,
                    "NOT" => QueryToken::Not,
                    _ => QueryToken::Words { text, quoted: false },
                };
                tokens.push((at, token));
            }
        }
    }
    Ok(tokens)
}

/// Parses a topic query; the error says what is wrong and where (1-based character).
fn parse(query: &str) -> Result<ParsedNode, String> {
    let tokens = lex(query)?;
    if tokens.is_empty() {
        return Err("must not be empty".into());
    }
    let mut parser = Parser { tokens, next: 0 };
    let node = parser.or()?;
    if let Some((at, _)) = parser.tokens.get(parser.next) {
        return Err(format!("unexpected `)` at character {}", at + 1));
    }
    if !has_positive(&node) {
        return Err("needs a word or phrase that is not under NOT".into());
    }
    Ok(node)
}

fn has_positive(node: &ParsedNode) -> bool {
    match node {
        ParsedNode::Term(_) => true,
        ParsedNode::And(nodes) => nodes.iter().any(has_positive),
        ParsedNode::Or(nodes) => nodes.iter().all(has_positive),
        ParsedNode::Not(_) => false,
    }
}

struct Parser {
    tokens: Vec<(usize, QueryToken)>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Option<&QueryToken> {
        self.tokens.get(self.next).map(|(_, t)| t)
    }

    fn position(&self) -> String {
        match self.tokens.get(self.next) {
            Some((at, _)) => format!("at character {}", at + 1),
            None => "at the end".into(),
        }
    }

    fn or(&mut self) -> Result<ParsedNode, String> {
        let mut nodes = vec![self.and()?];
        while self.peek() == Some(&QueryToken::Or) {
            self.next += 1;
            nodes.push(self.and()?);
        }
        Ok(if nodes.len() == 1 { nodes.pop().unwrap() } else { ParsedNode::Or(nodes) })
    }

    fn and(&mut self) -> Result<ParsedNode, String> {
        let mut nodes = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(QueryToken::And) => {
                    self.next += 1;
                    nodes.push(self.unary()?);
                }
                Some(QueryToken::Not | QueryToken::Open | QueryToken::Words { .. }) => nodes.push(self.unary()?),
                _ => break,
            }
        }
        Ok(if nodes.len() == 1 { nodes.pop().unwrap() } else { ParsedNode::And(nodes) })
    }

    fn unary(&mut self) -> Result<ParsedNode, String> {
        let position = self.position();
        match self.tokens.get(self.next).map(|(_, t)| t.clone()) {
            Some(QueryToken::Not) => {
                self.next += 1;
                Ok(ParsedNode::Not(Box::new(self.unary()?)))
            }
            Some(QueryToken::Open) => {
                self.next += 1;
                let node = self.or()?;
                if self.peek() != Some(&QueryToken::Close) {
                    return Err(format!("expected `)` {}", self.position()));
                }
                self.next += 1;
                Ok(node)
            }
            Some(QueryToken::Words { text, quoted }) => {
                self.next += 1;
                term(&text, quoted).map_err(|e| format!("{e} {position}"))
            }
            Some(QueryToken::Close) => Err(format!("unexpected `)` {position}")),
            Some(QueryToken::And | QueryToken::Or) => Err(format!("expected a word, phrase or `(` {position}")),
            None => Err(format!("expected a word, phrase or `(` {position}")),
        }
    }
}

/// A word or phrase as written: split into words as texts are, each a stem or, with a trailing
/// `*`, a prefix.
fn term(text: &str, quoted: bool) -> Result<ParsedNode, String> {
    let pieces: Vec<&str> = text.split_whitespace().collect();
    let mut atoms = Vec::new();
    for piece in pieces {
        let (body, wildcard) = match piece.strip_suffix('*') {
            Some(body) => (body, true),
            None => (piece, false),
        };
        if body.contains('*') {
            return Err(format!("`{piece}`: `*` may only end a word"));
        }
        let parts = words(body);
        if parts.is_empty() {
            return Err(format!("`{piece}` has no letters or digits"));
        }
        let last = parts.len() - 1;
        for (k, part) in parts.iter().enumerate() {
            if wildcard && k == last {
                if part.lower.chars().count() < 2 {
                    return Err(format!("`{piece}`: a prefix needs at least two characters"));
                }
                atoms.push(Atom::Prefix(part.lower.to_string()));
            } else {
                atoms.push(Atom::Stem(stem(&part.lower).into_owned()));
            }
        }
    }
    if atoms.is_empty() {
        return Err(if quoted { "an empty phrase".into() } else { "an empty word".into() });
    }
    Ok(ParsedNode::Term(atoms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::Analyzer;

    fn taxonomy(topics: &[(&str, Option<&str>, &str)]) -> Taxonomy {
        Taxonomy {
            topics: topics
                .iter()
                .map(|(id, parent, query)| TopicDefinition {
                    id: (*id).into(),
                    name: id.to_uppercase(),
                    parent: parent.map(Into::into),
                    query: (*query).into(),
                })
                .collect(),
        }
    }

    fn found(topics: &[(&str, Option<&str>, &str)], text: &str) -> Vec<(String, Vec<String>)> {
        let compiled = Topics::compile(&taxonomy(topics), Thresholds::default()).unwrap();
        let analysis = Analyzer::default().analyse(text);
        compiled
            .find(text, &analysis.sentences)
            .into_iter()
            .map(|hit| (hit.topic, hit.mentions.iter().map(|m| text[m.start..m.end].to_owned()).collect()))
            .collect()
    }

    fn one(query: &str, text: &str) -> Option<Vec<String>> {
        found(&[("t", None, query)], text).pop().map(|(_, mentions)| mentions)
    }

    #[test]
    fn words_match_by_stem_and_wildcards_by_prefix() {
        assert_eq!(one("refund", "They refunded me twice"), Some(vec!["refunded".into()]));
        assert_eq!(one("refund", "Refunds are slow"), Some(vec!["Refunds".into()]));
        assert_eq!(
            one("deliver*", "the delivery guy and the deliveries"),
            Some(vec!["delivery".into(), "deliveries".into()])
        );
        assert_eq!(one("deliver", "the delivery guy"), None, "stems differ: deliver / deliveri");
        assert_eq!(one("login", "I love the logo"), None);
    }

    #[test]
    fn phrases_match_words_in_a_row() {
        assert_eq!(one("\"sign in\"", "I cannot sign in since Monday"), Some(vec!["sign in".into()]));
        assert_eq!(one("\"sign in\"", "sign the form in blue"), None);
        assert_eq!(one("\"two factor\"", "the two-factor code never comes"), Some(vec!["two-factor".into()]));
        assert_eq!(one("\"track* number\"", "no tracking number at all"), Some(vec!["tracking number".into()]));
    }

    #[test]
    fn and_or_not_and_parentheses_combine_within_a_sentence() {
        let query = "(late OR delay*) AND (parcel OR deliver*) NOT weather";
        assert_eq!(one(query, "My parcel was late."), Some(vec!["parcel".into(), "late".into()]));
        assert_eq!(one(query, "The parcel came. I was late for work."), None, "AND holds within one sentence");
        assert_eq!(one(query, "Delivery delayed by the weather"), None, "NOT excludes");
        assert_eq!(
            one("late delivery", "late delivery again"),
            Some(vec!["late".into(), "delivery".into()]),
            "side by side is AND"
        );
        assert_eq!(one("crash or freeze", "it freezes"), Some(vec!["freezes".into()]), "operators in any case");
        assert_eq!(one("app NOT (crash OR freez*)", "the app is nice"), Some(vec!["app".into()]));
        assert_eq!(one("app NOT (crash OR freez*)", "the app freezes"), None);
    }

    #[test]
    fn sub_topics_count_for_their_parent_with_sentence_sentiment() {
        let topics = [("login", None, "login OR \"sign in\""), ("password", Some("login"), "password*")];
        let text = "I love the new design! I forgot my password and the reset email never came.";
        let compiled = Topics::compile(&taxonomy(&topics), Thresholds::default()).unwrap();
        let analysis = Analyzer::default().analyse(text);
        let hits = compiled.find(text, &analysis.sentences);
        let ids: Vec<&str> = hits.iter().map(|h| h.topic.as_str()).collect();
        assert_eq!(ids, ["login", "password"]);
        assert_eq!(hits[0].sentences, hits[1].sentences);
        assert_eq!(
            &text[hits[0].sentences[0].start..hits[0].sentences[0].end],
            "I forgot my password and the reset email never came."
        );
        assert_eq!(
            hits[0].score, analysis.sentences[1].score,
            "the topic's sentiment is its sentences', not the text's"
        );
        assert!(analysis.score > hits[0].score);
    }

    #[test]
    fn bad_queries_and_taxonomies_are_named() {
        for (query, expected) in [
            ("", "must not be empty"),
            ("\"sign in", "never closed"),
            ("(login OR password", "expected `)` at the end"),
            ("login )", "unexpected `)` at character 7"),
            ("NOT login", "not under NOT"),
            ("login OR", "expected a word, phrase or `(` at the end"),
            ("lo*gin", "`*` may only end a word"),
            ("l*", "at least two characters"),
        ] {
            let problems = Topics::compile(&taxonomy(&[("t", None, query)]), Thresholds::default()).err().unwrap();
            assert_eq!(problems[0].field, "topics[0].query");
            assert!(problems[0].problem.contains(expected), "{query}: {}", problems[0].problem);
        }
        let bad = taxonomy(&[
            ("a", None, "x"),
            ("a", None, "y"),
            ("B c", Some("zz"), "z"),
            ("d", Some("e"), "d"),
            ("e", Some("a"), "e"),
        ]);
        let problems = Topics::compile(&bad, Thresholds::default()).err().unwrap();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["topics[1].id", "topics[2].id", "topics[2].parent", "topics[3].parent"]);
    }

    #[test]
    fn the_default_taxonomy_compiles_and_finds_common_subjects() {
        let compiled = Topics::compile(&Taxonomy::default_for_customer_experience(), Thresholds::default()).unwrap();
        let cases = [
            ("My package arrived three days late.", "delivery"),
            ("Way too expensive for what you get.", "price"),
            ("The zipper broke after a week, poor quality.", "product-quality"),
            ("The agent on the phone was rude.", "support"),
            ("I was charged twice this month.", "billing"),
            ("I can't log in since the update.", "login"),
            ("The app keeps crashing on startup.", "app-performance"),
            ("How do I return these shoes?", "returns"),
        ];
        for (text, topic) in cases {
            let analysis = Analyzer::default().analyse(text);
            let hits = compiled.find(text, &analysis.sentences);
            assert!(
                hits.iter().any(|h| h.topic == topic),
                "{text}: {:?}",
                hits.iter().map(|h| &h.topic).collect::<Vec<_>>()
            );
        }
    }
}
