//! Survey submission: any JSON body (the API) and any form (the hosted page, whole or page by
//! page) is either checked answers or a client error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_server::services::hosted_survey::page_answers;
use rapport_server::services::surveys::check_response;
use rapport_store::records::SurveyRecord;

fn survey() -> SurveyRecord {
    let definition = serde_json::json!({
        "name": "Every kind", "kind": "transactional", "touchpoint": "checkout",
        "questions": [
            {"id": "nps", "type": "nps", "required": true},
            {"id": "why", "type": "text", "text": "Why?", "showIf": {"question": "nps", "min": 0, "max": 6}, "required": true},
            {"id": "csat", "type": "csat", "dimensions": ["knowledge", "timely_resolution"]},
            {"id": "ces", "type": "ces", "page": 2},
            {"id": "stars", "type": "rating", "scale": 7, "text": "Stars"},
            {"id": "plan", "type": "single_choice", "text": "Plan?", "options": ["free", "pro"]},
            {"id": "liked", "type": "multiple_choice", "text": "Liked?", "options": ["price", "speed", "support"]}
        ]
    });
    let definition = rapport_core::survey::parse_definition(&definition).expect("the fixture survey is valid");
    SurveyRecord { id: "s1".into(), version: 1, current_version: 1, definition, created_at_ms: 0, updated_at_ms: 0 }
}

fuzz_target!(|data: &[u8]| {
    let survey = survey();
    let received_at = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Err(error) = check_response(&survey, &body, Some("key".into()), received_at) {
            assert!(error.status().is_client_error(), "{error}");
        }
    }
    let form: Vec<(String, String)> = data
        .split(|byte| *byte == b'&')
        .filter_map(|pair| {
            let text = String::from_utf8_lossy(pair);
            text.split_once('=').map(|(name, value)| (name.to_owned(), value.to_owned()))
        })
        .collect();
    // The whole form at once, then as page 2 after page 1's answers were kept.
    let answers = page_answers(&survey.definition, None, &serde_json::Map::new(), &form);
    let _ = rapport_core::survey_answers::check_answers(&survey.definition, &answers);
    let first = page_answers(&survey.definition, Some(1), &serde_json::Map::new(), &form);
    let _ = rapport_core::survey_answers::check_answers(&survey.definition.through_page(1), &first);
    let whole = page_answers(&survey.definition, Some(2), &first, &form);
    let _ = rapport_core::survey_answers::check_answers(&survey.definition, &whole);
});
