//! The language a text is written in (whatlang's trigram model, offline): an ISO 639-3 code such
//! as `eng`, or `None` when the text is too short or mixed for a reliable answer.
//!
//! Sentiment and the default taxonomy are English: a text detected as another language still gets
//! a score (emoji, emoticons and borrowed English words count), which the API marks as
//! `sentimentReliable: false`.

/// The detected language. Text in which at least 40% of 5 or more words are common English words
/// or words of the English sentiment lexicon is English without further ado (most feedback, and
/// whatlang's 69-language model was 58% of the analysis profile; in German, French or Spanish
/// such words are well under 20%). Otherwise whatlang's guess when
/// it calls it reliable; otherwise (short texts, where trigram statistics are thin) English at 30%
/// of at least 3 words; else unknown.
pub fn detect(text: &str) -> Option<&'static str> {
    let words = crate::topics::words(text);
    let lexicon = crate::lexicon::Lexicon::shared();
    let english = words
        .iter()
        .filter(|w| crate::themes::STOP_WORDS.contains(&w.lower.as_ref()) || lexicon.word(&w.lower).valence.is_some())
        .count();
    let share = english as f64 / words.len().max(1) as f64;
    if words.len() >= 5 && share >= 0.4 {
        return Some("eng");
    }
    match whatlang::detect(text) {
        Some(info) if info.is_reliable() => Some(info.lang().code()),
        _ => (words.len() >= 3 && share >= 0.3).then_some("eng"),
    }
}

/// Whether sentiment and topics apply as designed: English, or too short to tell.
pub fn is_supported(language: Option<&str>) -> bool {
    language.is_none_or(|code| code == "eng")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_languages_are_detected_and_short_texts_are_not_guessed() {
        assert_eq!(detect("The delivery was late again and nobody answered my emails about it."), Some("eng"));
        assert_eq!(detect("La livraison est encore en retard et personne ne répond à mes messages."), Some("fra"));
        assert_eq!(detect("Die Lieferung ist wieder zu spät und niemand beantwortet meine E-Mails."), Some("deu"));
        assert_eq!(detect("ok"), None);
        // Short English texts, too short for a reliable trigram guess.
        assert_eq!(detect("Parcel arrived late and damaged."), Some("eng"));
        assert_eq!(detect("Love the new design! But I can't log in since the update."), Some("eng"));
        assert_eq!(detect("Paket kam zu spät an."), None);
        assert_eq!(detect("Die Lieferung ist wieder zu spät und die Hotline antwortet nie."), Some("deu"));
        assert!(is_supported(Some("eng")) && is_supported(None) && !is_supported(Some("fra")));
    }
}
