//! PII redaction at ingestion: e-mail addresses, phone numbers, payment card numbers (Luhn-checked)
//! and IBANs (ISO 13616 mod-97-checked) are replaced by typed placeholders (`[EMAIL]`, `[PHONE]`,
//! `[CARD]`, `[IBAN]`); what was replaced is recorded by kind and placeholder offsets, never the
//! value.
//!
//! Candidates are found with `regex` and then checked: a 16-digit order number that fails the
//! Luhn check stays, and so does a date or an amount.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiKind {
    Email,
    Phone,
    Card,
    Iban,
}

impl PiiKind {
    pub const ALL: [PiiKind; 4] = [PiiKind::Email, PiiKind::Phone, PiiKind::Card, PiiKind::Iban];

    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Card => "[CARD]",
            PiiKind::Iban => "[IBAN]",
        }
    }
}

/// One replacement: its kind and where the placeholder is in the redacted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    pub kind: PiiKind,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redacted {
    pub text: String,
    pub redactions: Vec<Redaction>,
}

pub(crate) struct Patterns {
    pub(crate) email: Regex,
    iban: Regex,
    card: Regex,
    pub(crate) phone: Regex,
}

pub(crate) fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| Patterns {
        email: Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b").expect("email pattern"),
        // Two letters, two check digits, then 11 to 30 letters or digits, optionally in groups of four.
        iban: Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b").expect("iban pattern"),
        // 13 to 19 digits, optionally grouped by single spaces or dashes.
        card: Regex::new(r"\b[0-9](?:[ -]?[0-9]){12,18}\b").expect("card pattern"),
        // An optional +country code, then digits in groups separated by spaces, dots, dashes or
        // parentheses: 7 to 15 digits in all (checked after the match).
        phone: Regex::new(r"(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{2,4}(?:[ .-]?[0-9]{2,5}){1,4}\b")
            .expect("phone pattern"),
    })
}

/// The Luhn checksum of a digit string.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 is 1.
pub fn iban_valid(compact: &str) -> bool {
    if !(15..=34).contains(&compact.len()) || !compact.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return false;
    }
    let rearranged = compact[4..].bytes().chain(compact[..4].bytes());
    let mut remainder: u32 = 0;
    for b in rearranged {
        let value = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

/// Replaces the kinds in `kinds` (all four by default) found in `text`.
pub fn redact(text: &str, kinds: &[PiiKind]) -> Redacted {
    let patterns = patterns();
    // Candidates as (start, end, kind), the most specific kinds first: a card number is also a run
    // of digits a phone pattern could take.
    let mut found: Vec<(usize, usize, PiiKind)> = Vec::new();
    let overlaps =
        |found: &[(usize, usize, PiiKind)], s: usize, e: usize| found.iter().any(|&(a, b, _)| s < b && a < e);
    if kinds.contains(&PiiKind::Email) {
        found.extend(patterns.email.find_iter(text).map(|m| (m.start(), m.end(), PiiKind::Email)));
    }
    if kinds.contains(&PiiKind::Iban) {
        for m in patterns.iban.find_iter(text) {
            let compact: String = m.as_str().chars().filter(|c| !c.is_whitespace()).collect();
            if iban_valid(&compact) && !overlaps(&found, m.start(), m.end()) {
                found.push((m.start(), m.end(), PiiKind::Iban));
            }
        }
    }
    if kinds.contains(&PiiKind::Card) {
        for m in patterns.card.find_iter(text) {
            let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
            if luhn_valid(&digits) && !overlaps(&found, m.start(), m.end()) {
                found.push((m.start(), m.end(), PiiKind::Card));
            }
        }
    }
    if kinds.contains(&PiiKind::Phone) {
        for m in patterns.phone.find_iter(text) {
            if looks_like_phone(m.as_str()) && !overlaps(&found, m.start(), m.end()) {
                found.push((m.start(), m.end(), PiiKind::Phone));
            }
        }
    }
    found.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut redactions = Vec::with_capacity(found.len());
    let mut copied = 0;
    for (start, end, kind) in found {
        out.push_str(&text[copied..start]);
        let at = out.len();
        out.push_str(kind.placeholder());
        redactions.push(Redaction { kind, start: at, end: out.len() });
        copied = end;
    }
    out.push_str(&text[copied..]);
    Redacted { text: out, redactions }
}

/// A phone number, not a date, time, amount, account or order number: 7 to 15 digits written as
/// phone numbers are: after an international `+`, with the area code in parentheses, in groups
/// joined by dashes, or in groups separated by spaces after a national trunk `0`. A bare run of
/// digits, or spaced groups without a leading `0`, is an id more often than a phone number.
fn looks_like_phone(candidate: &str) -> bool {
    let digits = candidate.bytes().filter(u8::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    if candidate.starts_with('+') {
        return true;
    }
    let groups = candidate.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).count();
    if groups < 2 || digits < 9 {
        return false;
    }
    candidate.starts_with('(') || candidate.contains('-') || (candidate.starts_with('0') && !candidate.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Redacted {
        redact(text, &PiiKind::ALL)
    }

    #[test]
    fn emails_phones_cards_and_ibans_become_typed_placeholders() {
        let text = "Mail jane.doe+cx@example.co.uk or call +44 20 7946 0958; card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32.";
        let redacted = all(text);
        assert_eq!(redacted.text, "Mail [EMAIL] or call [PHONE]; card [CARD], IBAN [IBAN].");
        let kinds: Vec<PiiKind> = redacted.redactions.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [PiiKind::Email, PiiKind::Phone, PiiKind::Card, PiiKind::Iban]);
        for r in &redacted.redactions {
            assert_eq!(&redacted.text[r.start..r.end], r.kind.placeholder());
        }
    }

    #[test]
    fn numbers_that_fail_their_checks_stay() {
        // Luhn negatives: one digit off a valid card number, and an order number.
        assert!(!luhn_valid("4111111111111112"));
        assert_eq!(all("card 4111 1111 1111 1112").text, "card 4111 1111 1111 1112");
        assert_eq!(all("order 1234567890123456 shipped").text, "order 1234567890123456 shipped");
        // An IBAN with a wrong check digit.
        assert!(!iban_valid("GB83WEST12345698765432"));
        assert_eq!(all("IBAN GB83 WEST 1234 5698 7654 32").text, "IBAN GB83 WEST 1234 5698 7654 32");
        // Dates, times, amounts, versions.
        for text in ["on 2024-01-15 at 10:30", "paid 1,299.00 EUR", "version 2024.01.15", "order #48213"] {
            assert_eq!(all(text).text, text);
        }
    }

    #[test]
    fn national_phone_formats_are_found() {
        for (text, expected) in [
            ("call me at (555) 123-4567 please", "call me at [PHONE] please"),
            ("my number is 555-123-4567", "my number is [PHONE]"),
            ("ring 020 7946 0958 after six", "ring [PHONE] after six"),
            ("+1 415 555 2671", "[PHONE]"),
        ] {
            assert_eq!(all(text).text, expected, "{text}");
        }
    }

    #[test]
    fn only_the_configured_kinds_are_redacted() {
        let text = "jane@example.com 4111111111111111";
        assert_eq!(redact(text, &[PiiKind::Card]).text, "jane@example.com [CARD]");
        assert_eq!(redact(text, &[]).text, text);
    }

    #[test]
    fn card_numbers_of_every_length_are_checked() {
        // Valid test numbers: Amex (15), Visa (16), Diners (14), a 19-digit Visa.
        for number in ["378282246310005", "4012888888881881", "30569309025904", "4222222222222222224"] {
            assert!(luhn_valid(number), "{number}");
            assert_eq!(all(&format!("no {number}")).text, "no [CARD]");
        }
    }
}
