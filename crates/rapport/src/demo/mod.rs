//! The demo company (`rapport demo`): Evergreen, an online garden retailer with a membership app,
//! over 24 months. `story` simulates one customer; `texts` is what customers write. The planted
//! truths are the constants below, documented in DEMO.md and checked through the API by the
//! demo test.

pub mod story;
pub mod texts;

use serde_json::{Value, json};

pub const DAY_MS: i64 = 86_400_000;
/// How much history the company has.
pub const HISTORY_DAYS: i64 = 730;

/// Regions and the share of customers in each.
pub const REGIONS: [(&str, f64); 4] = [("Northeast", 0.18), ("Midwest", 0.21), ("South", 0.38), ("West", 0.23)];
/// Truth 1: since the company changed carriers here, deliveries are often late.
pub const SLOW_REGION: &str = "South";
/// Days before the end when the carrier changed.
pub const CARRIER_CHANGE_DAYS_AGO: i64 = 330;
/// Truth 2: app 4.2.0 broke logins this many days before the end, until 4.2.1 fixed them.
pub const RELEASE_DAYS_AGO: i64 = 45;
pub const FIX_DAYS_AFTER_RELEASE: i64 = 9;
/// The support team. Truth 5: one of them helps far less than the others.
pub const AGENTS: [&str; 8] = [
    "Alex Kim",
    "Priya Shah",
    "Jordan Reyes",
    "Casey Brooks",
    "Sam Okafor",
    "Taylor Nguyen",
    "Riley Chen",
    "Morgan Diaz",
];
pub const POOR_AGENT: &str = "Casey Brooks";

/// The company's calendar: the history ends at `end_ms`; every date of a planted truth is
/// relative to it.
#[derive(Debug, Clone)]
pub struct Company {
    pub seed: u64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub carrier_change_ms: i64,
    pub release_ms: i64,
    pub fix_ms: i64,
}

impl Company {
    pub fn new(seed: u64, end_ms: i64) -> Company {
        // The release went out at 14:00 UTC.
        let release_ms = end_ms - RELEASE_DAYS_AGO * DAY_MS + 14 * 3_600_000;
        Company {
            seed,
            start_ms: end_ms - HISTORY_DAYS * DAY_MS,
            end_ms,
            carrier_change_ms: end_ms - CARRIER_CHANGE_DAYS_AGO * DAY_MS,
            release_ms,
            fix_ms: release_ms + FIX_DAYS_AFTER_RELEASE * DAY_MS,
        }
    }
}

/// The company's surveys, as `POST /v1/surveys` takes them.
pub fn survey_definitions() -> [(story::DemoSurvey, Value); 4] {
    [
        (
            story::DemoSurvey::Nps,
            json!({"name": "Relationship NPS", "kind": "relational", "questions": [
                {"id": "nps", "type": "nps", "required": true,
                 "text": "How likely are you to recommend Evergreen to a friend or colleague?"},
                {"id": "reason", "type": "text", "text": "What is the main reason for your score?"}]}),
        ),
        (
            story::DemoSurvey::Csat,
            json!({"name": "Support satisfaction", "kind": "transactional", "touchpoint": "support", "questions": [
                {"id": "csat", "type": "csat", "required": true,
                 "dimensions": ["knowledge", "communication", "timely_resolution"]},
                {"id": "comment", "type": "text", "text": "Anything else you want to tell us?"}],
             "delivery": {"channel": "link", "trigger": {"event": "Support Ticket Closed", "delayMinutes": 30}}}),
        ),
        (
            story::DemoSurvey::Ces,
            json!({"name": "Returns effort", "kind": "transactional", "touchpoint": "returns", "questions": [
                {"id": "ces", "type": "ces", "required": true},
                {"id": "comment", "type": "text", "text": "What could we make easier?"}],
             "delivery": {"channel": "link", "trigger": {"event": "Return Completed", "delayMinutes": 60}}}),
        ),
        (
            story::DemoSurvey::CheckoutCes,
            json!({"name": "Checkout effort", "kind": "transactional", "touchpoint": "checkout", "questions": [
                {"id": "ces", "type": "ces", "required": true,
                 "text": "Evergreen made it easy to complete my purchase."}]}),
        ),
    ]
}

/// The company's journeys, as `POST /v1/journeys` takes them. Truth 4 is found in the first.
pub fn journey_definitions() -> [Value; 2] {
    [
        json!({"name": "Online purchase", "description": "From checkout to a delivered order and what follows it",
        "stages": ["checkout", "purchase", "delivery", "aftercare"], "goal": "order",
        "touchpoints": [
            {"key": "checkout_app", "name": "Checkout (app)", "stage": "checkout", "event": "Checkout Started",
             "channel": "mobile", "feedbackTouchpoint": "checkout"},
            {"key": "checkout_web", "name": "Checkout (web)", "stage": "checkout", "event": "Checkout Started",
             "feedbackTouchpoint": "checkout"},
            {"key": "payment", "name": "Payment details", "stage": "checkout", "event": "Payment Info Entered"},
            {"key": "order", "name": "Order placed", "stage": "purchase", "event": "Order Completed"},
            {"key": "shipped", "name": "Shipped", "stage": "delivery", "event": "Order Shipped"},
            {"key": "delivered", "name": "Delivered", "stage": "delivery", "event": "Order Delivered",
             "feedbackTouchpoint": "delivery"},
            {"key": "support", "name": "Support contact", "stage": "aftercare", "event": "Support Ticket Created",
             "feedbackTouchpoint": "support"},
            {"key": "return", "name": "Return", "stage": "aftercare", "event": "Return Requested",
             "feedbackTouchpoint": "returns"}
        ]}),
        json!({"name": "Customer lifecycle", "description": "From the first ad to membership and renewals, a week at a time",
        "stepWindowHours": 168, "goal": "first_order",
        "touchpoints": [
            {"key": "ad", "name": "Ad clicked", "stage": "awareness", "event": "Ad Clicked"},
            {"key": "home", "name": "Home page", "stage": "awareness", "event": "Home"},
            {"key": "signup", "name": "Signed up", "stage": "consideration", "event": "Signed Up"},
            {"key": "checkout", "name": "Checkout", "stage": "decision", "event": "Checkout Started",
             "feedbackTouchpoint": "checkout"},
            {"key": "first_order", "name": "Order placed", "stage": "adoption", "event": "Order Completed"},
            {"key": "membership", "name": "Membership started", "stage": "adoption", "event": "Subscription Started"},
            {"key": "renewal", "name": "Membership renewed", "stage": "advocacy", "event": "Subscription Renewed"},
            {"key": "cancel_help", "name": "Cancellation help page", "stage": "advocacy",
             "event": "How do I cancel my membership?"}
        ]}),
    ]
}
