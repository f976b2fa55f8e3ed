//! Imports: any file, as CSV or JSON lines, of answers, feedback, customers or orders, is read
//! into checked rows and problems with their lines, or refused whole in words; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_server::services::{import, import_customers, import_feedback, import_orders};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let received_at = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    let _ = import::answer_rows_from_csv(&text);
    let _ = import::answer_rows_from_jsonl(&text);
    let _ = import_feedback::feedback_from_csv(&text, received_at);
    let _ = import_feedback::feedback_from_jsonl(&text, received_at);
    let _ = import_customers::customers_from_csv(&text, received_at);
    let _ = import_customers::customers_from_jsonl(&text, received_at);
    let _ = import_orders::orders_from_csv(&text, "Order Completed", received_at);
    let _ = import_orders::orders_from_jsonl(&text, "Order Completed", received_at);
});
