//! Erasing a person from other people's free text: when a person is erased, their e-mail
//! addresses, phone numbers and names are replaced by `[ERASED]` wherever they appear in what
//! others wrote (feedback, open answers, case notes).
//!
//! E-mail addresses are found by the redaction pattern and compared without case. Phone numbers
//! are found by the phone pattern and compared by digits: a number written nationally
//! (`020 7946 0958`) matches the person's international one (`+44 20 7946 0958`) when its digits
//! without the trunk `0` end the international digits, seven digits at least. Names are matched
//! whole (every word of the name, in order, any spacing, any case); a lone first name is too
//! common to erase safely and stays.

use regex::{Regex, RegexBuilder};

use crate::redact::patterns;

pub const ERASED: &str = "[ERASED]";

const MIN_PHONE_DIGITS: usize = 7;

/// What identifies the person being erased.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    emails: Vec<String>,
    hints: Vec<String>,
    phone_digits: Vec<String>,
    names: Option<Regex>,
}

impl Subject {
    /// `emails`, `phones` (any format) and `names` (full names, two words or more) of the person.
    pub fn new(emails: &[String], phones: &[String], names: &[String]) -> Subject {
        let emails: Vec<String> =
            emails.iter().map(|email| email.trim().to_lowercase()).filter(|e| !e.is_empty()).collect();
        let phone_digits: Vec<String> = phones
            .iter()
            .map(|phone| phone.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|digits| digits.len() >= MIN_PHONE_DIGITS)
            .collect();
        // `_` in an address matches itself under LIKE too (it matches any one character).
        let mut hints: Vec<String> = emails.clone();
        hints.extend(phone_digits.iter().map(|digits: &String| digits[digits.len() - 4..].to_owned()));
        hints.extend(
            names
                .iter()
                .map(|name| name.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
                .filter(|words| words.len() >= 2)
                .map(|words| words.join("%")),
        );
        let alternatives: Vec<String> = names
            .iter()
            .map(|name| name.split_whitespace().map(regex::escape).collect::<Vec<_>>())
            .filter(|words| words.len() >= 2)
            .map(|words| words.join(r"\s+"))
            .collect();
        let names = (!alternatives.is_empty()).then(|| {
            RegexBuilder::new(&format!("(?:{})", alternatives.join("|")))
                .case_insensitive(true)
                .build()
                .expect("escaped names form a valid pattern")
        });
        Subject { emails, hints, phone_digits, names }
    }

    /// Lower-case fragments every text naming the person contains (each address, the last four
    /// digits of each number, each name's words in order): a database narrows its search with
    /// `LOWER(text) LIKE '%fragment%'` (`%` inside a fragment stands for any run) before
    /// [`Subject::erase_from`] decides. A number written with its last four digits apart
    /// (`09 58`) is not found.
    pub fn hints(&self) -> &[String] {
        &self.hints
    }

    pub fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.phone_digits.is_empty() && self.names.is_none()
    }

    fn phone_matches(&self, candidate: &str) -> bool {
        let digits: String = candidate.chars().filter(char::is_ascii_digit).collect();
        let national = digits.trim_start_matches('0');
        national.len() >= MIN_PHONE_DIGITS && self.phone_digits.iter().any(|known| known.ends_with(national))
    }

    /// The text with the person replaced by [`ERASED`]; None when they do not appear in it.
    pub fn erase_from(&self, text: &str) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let patterns = patterns();
        let mut found: Vec<(usize, usize)> = Vec::new();
        found.extend(
            patterns
                .email
                .find_iter(text)
                .filter(|m| self.emails.contains(&m.as_str().to_lowercase()))
                .map(|m| (m.start(), m.end())),
        );
        if !self.phone_digits.is_empty() {
            found.extend(
                patterns.phone.find_iter(text).filter(|m| self.phone_matches(m.as_str())).map(|m| (m.start(), m.end())),
            );
        }
        if let Some(names) = &self.names {
            // Whole words only: no letter or digit just before or after (a name may end in `.`,
            // where `\b` would not hold).
            let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
            found.extend(
                names
                    .find_iter(text)
                    .filter(|m| !word(text[..m.start()].chars().next_back()) && !word(text[m.end()..].chars().next()))
                    .map(|m| (m.start(), m.end())),
            );
        }
        if found.is_empty() {
            return None;
        }
        found.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (start, end) in found {
            if start < copied {
                // Overlaps the previous match (a name inside an address): already erased.
                copied = copied.max(end);
                continue;
            }
            out.push_str(&text[copied..start]);
            out.push_str(ERASED);
            copied = end;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jane() -> Subject {
        Subject::new(
            &["Jane.Doe@Example.com".to_owned()],
            &["+442079460958".to_owned()],
            &["Jane Doe".to_owned(), "Jane".to_owned()],
        )
    }

    #[test]
    fn the_persons_addresses_numbers_and_full_name_are_erased() {
        let text = "Ask JANE   doe (jane.doe@example.com, 020 7946 0958 or +44 20 7946 0958) about it.";
        assert_eq!(jane().erase_from(text).unwrap(), "Ask [ERASED] ([ERASED], [ERASED] or [ERASED]) about it.");
    }

    #[test]
    fn hints_narrow_the_search() {
        assert_eq!(jane().hints(), ["jane.doe@example.com", "0958", "jane%doe"]);
    }

    #[test]
    fn other_people_and_lone_first_names_stay() {
        let text = "Jane from support and john.doe@example.com at 020 7946 0000 helped; Jane Doeberg too.";
        assert_eq!(jane().erase_from(text), None);
        assert_eq!(Subject::new(&[], &["123".to_owned()], &["Cher".to_owned()]).erase_from("Cher 123"), None);
    }

    #[test]
    fn names_are_taken_literally() {
        let subject = Subject::new(&[], &[], &["A.B. (Smith)".to_owned()]);
        assert_eq!(subject.erase_from("by a.b. (smith) today").unwrap(), "by [ERASED] today");
    }
}
