//! Ingestion: any body, on any of the Segment endpoints, with or without a JSON media type, is
//! either a list of checked events or a client error naming what is wrong; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_core::event::EventType;
use rapport_server::services::ingest::{Endpoint, parse_body, write_key_in_body};

const ENDPOINTS: [Endpoint; 7] = [
    Endpoint::Batch,
    Endpoint::Single(EventType::Track),
    Endpoint::Single(EventType::Identify),
    Endpoint::Single(EventType::Page),
    Endpoint::Single(EventType::Screen),
    Endpoint::Single(EventType::Group),
    Endpoint::Single(EventType::Alias),
];
const MEDIA_TYPES: [Option<&str>; 4] = [Some("application/json"), Some("text/plain"), None, Some("text/html")];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let endpoint = ENDPOINTS[usize::from(selector) % ENDPOINTS.len()];
    let media_type = MEDIA_TYPES[usize::from(selector >> 4) % MEDIA_TYPES.len()];
    let received_at = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    match parse_body(endpoint, media_type, body, received_at) {
        Ok(parsed) => assert!(!parsed.events.is_empty()),
        Err(error) => assert!(error.status().is_client_error(), "{error}"),
    }
    let _ = write_key_in_body(body);
});
