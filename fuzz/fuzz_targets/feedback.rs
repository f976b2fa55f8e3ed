//! Feedback: any item sent to `POST /v1/feedback` is checked or refused by field, and any text is
//! analysed (redaction, language, sentiment by sentence, topics); never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let received_at = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = rapport_text::feedback::parse_item(&value, 0, received_at);
    }
    let text = String::from_utf8_lossy(data);
    let analysis = rapport_text::sentiment::Analyzer::default().analyse(&text);
    assert!((-1.0..=1.0).contains(&analysis.score), "{}", analysis.score);
    for sentence in &analysis.sentences {
        assert!((-1.0..=1.0).contains(&sentence.score));
    }
    let redacted = rapport_text::redact::redact(&text, &rapport_text::redact::PiiKind::ALL);
    for redaction in &redacted.redactions {
        let placeholder = &redacted.text[redaction.start..redaction.end];
        assert_eq!(placeholder, redaction.kind.placeholder());
    }
});
