//! One customer's two years with Evergreen, the demo company: an online garden retailer whose app
//! sells a membership (Evergreen Plus). Each customer is simulated from their own random stream
//! (the seed and their number), so a company of any size is the same customers in the same order
//! and can be generated in parallel, one chunk at a time.
//!
//! The simulation keeps the causes the planted truths need (DEMO.md) and nothing tuned to a test:
//! late deliveries, a rude agent and the login bug are experiences; experiences move survey
//! scores, what people write, support contacts and the monthly chance that a member cancels; a
//! member who is about to cancel logs in less and reads the help page on cancelling first.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, LogNormal, Normal};
use rapport_server::services::rfc3339;
use serde_json::{Map, Value, json};

use crate::demo::texts::{self, PRODUCTS, Theme};
use crate::demo::{AGENTS, Company, DAY_MS, POOR_AGENT, REGIONS, SLOW_REGION};

/// The surveys the company runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemoSurvey {
    /// Relationship NPS, each quarter.
    Nps,
    /// CSAT after a support contact.
    Csat,
    /// CES after a return.
    Ces,
    /// CES after a checkout.
    CheckoutCes,
}

/// Everything one customer did and said.
#[derive(Debug, Default)]
pub struct Story {
    /// Segment calls, as `/v1/batch` takes them.
    pub calls: Vec<Value>,
    /// Response bodies, as `POST /v1/surveys/{id}/responses` takes them, with their idempotency key.
    pub responses: Vec<(DemoSurvey, String, Value)>,
    /// Feedback items, as `POST /v1/feedback` takes them.
    pub feedback: Vec<Value>,
}

/// What went wrong for the customer and colours what they think (what went right is the baseline).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Experience {
    LateDelivery,
    PoorSupport,
    LoginBug,
    QualityIssue,
}

const FIRST_NAMES: [&str; 24] = [
    "Maya", "Liam", "Olivia", "Noah", "Emma", "James", "Ava", "Lucas", "Sophia", "Mason", "Isabella", "Ethan", "Mia",
    "Logan", "Amelia", "Elijah", "Harper", "Aiden", "Ella", "Jackson", "Grace", "Mateo", "Chloe", "Samuel",
];
const LAST_NAMES: [&str; 20] = [
    "Garcia", "Smith", "Johnson", "Brown", "Lee", "Martinez", "Davis", "Lopez", "Wilson", "Anderson", "Thomas",
    "Moore", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott",
];

/// Within `[from, to)`, the times of a Poisson process of `per_day` events a day.
fn arrivals(rng: &mut StdRng, per_day: f64, from: i64, to: i64) -> Vec<i64> {
    let mut times = Vec::new();
    if per_day <= 0.0 {
        return times;
    }
    let mut at = from as f64;
    loop {
        at += -(1.0 - rng.random::<f64>()).ln() / per_day * DAY_MS as f64;
        if at >= to as f64 {
            return times;
        }
        times.push(at as i64);
    }
}

fn gamma(rng: &mut StdRng, shape: f64, mean: f64) -> f64 {
    Gamma::new(shape, mean / shape).map_or(mean, |g| g.sample(rng))
}

fn normal(rng: &mut StdRng, mean: f64, sd: f64) -> f64 {
    Normal::new(mean, sd).map_or(mean, |n| n.sample(rng))
}

/// A score from a latent mean, rounded into `low..=high`.
fn score(rng: &mut StdRng, mean: f64, sd: f64, low: i64, high: i64) -> i64 {
    (normal(rng, mean, sd).round() as i64).clamp(low, high)
}

struct Builder<'a> {
    company: &'a Company,
    user_id: String,
    index: usize,
    story: Story,
    messages: usize,
}

impl Builder<'_> {
    fn message_id(&mut self) -> String {
        self.messages += 1;
        format!("demo-{}-{}", self.index, self.messages)
    }

    fn track(&mut self, at: i64, event: &str, channel: &str, properties: Value) {
        if at > self.company.end_ms {
            return;
        }
        let message_id = self.message_id();
        self.story.calls.push(json!({
            "type": "track", "userId": self.user_id, "event": event, "properties": properties,
            "timestamp": rfc3339(at), "messageId": message_id, "context": {"channel": channel},
        }));
    }

    fn page(&mut self, at: i64, name: &str, path: &str, channel: &str) {
        if at > self.company.end_ms {
            return;
        }
        let message_id = self.message_id();
        self.story.calls.push(json!({
            "type": "page", "userId": self.user_id, "name": name,
            "properties": {"path": path, "title": name},
            "timestamp": rfc3339(at), "messageId": message_id, "context": {"channel": channel},
        }));
    }

    fn respond(&mut self, survey: DemoSurvey, at: i64, mut body: Map<String, Value>) {
        if at > self.company.end_ms {
            return;
        }
        let key = format!("demo-{}-{}", self.index, self.story.responses.len());
        body.insert("customer".into(), Value::from(format!("userId:{}", self.user_id)));
        body.insert("submittedAt".into(), Value::from(rfc3339(at)));
        self.story.responses.push((survey, key, Value::Object(body)));
    }

    fn feedback(&mut self, at: i64, mut item: Map<String, Value>, customer: bool) {
        if at > self.company.end_ms {
            return;
        }
        let key = format!("demo-{}-{}", self.index, self.story.feedback.len());
        item.insert("occurredAt".into(), Value::from(rfc3339(at)));
        item.insert("idempotencyKey".into(), Value::from(key));
        if customer {
            item.insert("customer".into(), Value::from(format!("userId:{}", self.user_id)));
        }
        self.story.feedback.push(Value::Object(item));
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Customer `index` of `company`.
pub fn story(company: &Company, index: usize) -> Story {
    let mut rng = StdRng::seed_from_u64(company.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let rng = &mut rng;
    let mut b = Builder { company, user_id: format!("cus_{index:07}"), index, story: Story::default(), messages: 0 };
    let span = company.end_ms - company.start_ms - 14 * DAY_MS;
    // Half the customers arrive evenly, half more and more towards the end: a growing company.
    let share: f64 = if rng.random_bool(0.5) { rng.random() } else { rng.random::<f64>().sqrt() };
    let signup = company.start_ms + (share * span as f64) as i64;
    let region = *REGIONS.choose_weighted(rng, |(_, weight)| *weight).map(|(name, _)| name).unwrap_or(&"West");
    let member = rng.random_bool(0.6);
    let plan = if !member {
        "basic"
    } else if rng.random_bool(0.65) {
        "plus_monthly"
    } else {
        "plus_annual"
    };
    let app_user = rng.random_bool(0.65);
    let mood = normal(rng, 0.0, 1.0);
    let (first, last) = (*FIRST_NAMES.choose(rng).unwrap_or(&"Sam"), *LAST_NAMES.choose(rng).unwrap_or(&"Lee"));
    let email = format!("{}.{}.{index}@example.com", first.to_lowercase(), last.to_lowercase());
    let device = if app_user { "mobile" } else { "web" };

    // Acquisition: most arrive from an ad as an anonymous visitor, then sign up.
    let anonymous = format!("anon-{index:07}");
    if rng.random_bool(0.6) {
        let source = *["google", "facebook", "instagram"].choose(rng).unwrap_or(&"google");
        let message_id = b.message_id();
        b.story.calls.push(json!({"type": "track", "anonymousId": anonymous, "event": "Ad Clicked",
            "properties": {"campaign": "spring-garden", "source": source}, "timestamp": rfc3339(signup - 600_000),
            "messageId": message_id, "context": {"channel": "web"}}));
        let message_id = b.message_id();
        b.story.calls.push(json!({"type": "page", "anonymousId": anonymous, "name": "Home",
            "properties": {"path": "/"}, "timestamp": rfc3339(signup - 300_000), "messageId": message_id,
            "context": {"channel": "web"}}));
    }
    let mut traits = json!({"email": email, "name": format!("{first} {last}"), "region": region, "plan": plan,
        "device": device});
    if rng.random_bool(0.4) {
        traits["phone"] = Value::from(format!("+1 404 555 {:04}", index % 10_000));
    }
    let message_id = b.message_id();
    b.story.calls.push(json!({"type": "identify", "userId": b.user_id, "anonymousId": anonymous, "traits": traits,
        "timestamp": rfc3339(signup), "messageId": message_id, "context": {"channel": "web"}}));
    b.track(signup, "Signed Up", "web", json!({"plan": plan}));
    if member {
        b.track(signup + 60_000, "Subscription Started", device, json!({"plan": plan}));
    }

    let (login_rate, order_rate) = if member {
        (gamma(rng, 2.0, 3.0 / 30.0), gamma(rng, 2.0, 0.5 / 30.0))
    } else {
        (gamma(rng, 2.0, 1.0 / 30.0), gamma(rng, 2.0, 0.3 / 30.0))
    };
    let mut experiences: Vec<(i64, Experience)> = Vec::new();
    let mut end = company.end_ms;
    let mut cancelled_at = None;
    let mut month_start = signup;
    while month_start < end {
        // A customer may leave this month (a member cancels, anyone else goes quiet); bad
        // experiences of the last 60 days make it likelier.
        let recent = experiences
            .iter()
            .filter(|(at, e)| {
                *at > month_start - 60 * DAY_MS
                    && matches!(e, Experience::LateDelivery | Experience::PoorSupport | Experience::LoginBug)
            })
            .count();
        let hazard = (0.02 + 0.06 * recent as f64 - 0.01 * mood).clamp(0.005, 0.4);
        let mut month_end = (month_start + 30 * DAY_MS).min(end);
        if month_start > signup && rng.random_bool(hazard) {
            month_end = month_start + rng.random_range(0..(month_end - month_start).max(1));
            end = month_end;
            if member {
                cancelled_at = Some(month_end);
            }
        }
        for at in arrivals(rng, order_rate, month_start, month_end) {
            order(&mut b, rng, at, region, app_user, &mut experiences);
        }
        if app_user && (month_start..month_end).contains(&company.release_ms) && rng.random_bool(0.55) {
            login_bug(&mut b, rng, device, &mut experiences);
        }
        if member && month_end < end {
            let months = (month_end - signup) / (30 * DAY_MS);
            if plan == "plus_monthly" || months % 12 == 0 {
                b.track(month_end, "Subscription Renewed", device, json!({"plan": plan}));
            }
        }
        month_start = month_end;
    }

    // Logins until the end, falling over the 60 days before a cancellation.
    let decline_from = cancelled_at.map_or(i64::MAX, |at| at - 60 * DAY_MS);
    for at in arrivals(rng, login_rate, signup + 3_600_000, end) {
        let keep = if at < decline_from { 1.0 } else { 1.0 - 0.9 * (at - decline_from) as f64 / (60 * DAY_MS) as f64 };
        if rng.random_bool(keep.clamp(0.0, 1.0)) {
            let channel = if app_user && rng.random_bool(0.85) { "mobile" } else { "web" };
            b.track(at, "Signed In", channel, json!({}));
        }
    }
    // Help pages: most members read how to cancel weeks before they do; a few others look too.
    if let Some(at) = cancelled_at {
        if rng.random_bool(0.7) {
            let visit = at - rng.random_range(3 * DAY_MS..40 * DAY_MS);
            b.page(visit.max(signup), "How do I cancel my membership?", "/help/cancel-membership", device);
        }
        b.track(at, "Subscription Cancelled", device, json!({"plan": plan}));
    } else if member && rng.random_bool(0.06) {
        let visit = rng.random_range(signup..end.max(signup + 1));
        b.page(visit, "How do I cancel my membership?", "/help/cancel-membership", device);
    }
    for at in arrivals(rng, 0.4 / 30.0, signup, end) {
        b.page(at, "Shipping information", "/help/shipping", device);
    }
    relationship_nps(&mut b, rng, signup, end, mood, &experiences);
    b.story
}

/// An order: checkout (abandoned and tried again now and then; the app's payment step loses the
/// most), delivery (late in the slow region since the carrier changed), and what follows it.
fn order(
    b: &mut Builder,
    rng: &mut StdRng,
    at: i64,
    region: &str,
    app_user: bool,
    experiences: &mut Vec<(i64, Experience)>,
) {
    let mut channel = if app_user && rng.random_bool(0.75) { "mobile" } else { "web" };
    let started_on = channel;
    let mut at = at;
    let mut placed = false;
    let mut failures = 0;
    for _attempt in 0..3 {
        b.track(at, "Checkout Started", channel, json!({"platform": channel}));
        let lost_at_payment = if channel == "mobile" { 0.30 } else { 0.08 };
        if rng.random_bool(lost_at_payment) {
            failures += 1;
            if channel == "mobile" && rng.random_bool(0.02) {
                let text = texts::comment(rng, Theme::MobileCheckout, "", 0);
                let item = json!({"kind": "review", "source": "app_store", "rating": 2, "text": text,
                    "title": texts::review_title(rng, 2), "channel": "mobile", "touchpoint": "checkout"});
                b.feedback(at + 600_000, object(item), false);
            }
            if !rng.random_bool(0.7) {
                return;
            }
            at += rng.random_range(600_000..2 * DAY_MS);
            if channel == "mobile" && rng.random_bool(0.4) {
                channel = "web";
            }
            continue;
        }
        b.track(at + 60_000, "Payment Info Entered", channel, json!({"platform": channel}));
        placed = true;
        break;
    }
    // Some are asked how easy checking out was, about the checkout they started: the app's is
    // clumsier even when it works, and a failed payment makes any checkout hard.
    if rng.random_bool(0.12) {
        let ease = if started_on == "mobile" { 4.4 } else { 5.7 } - 1.8 * f64::from(failures.min(2));
        let body =
            json!({"answers": {"ces": score(rng, ease, 1.1, 1, 7)}, "channel": started_on, "touchpoint": "checkout"});
        b.respond(DemoSurvey::CheckoutCes, at + rng.random_range(1_800_000..6 * 3_600_000), object(body));
    }
    if !placed {
        return;
    }
    let product = *PRODUCTS.choose(rng).unwrap_or(&"planter");
    let amount = (LogNormal::new(3.9_f64, 0.6).map_or(50.0, |d| d.sample(rng)) * 100.0).round() / 100.0;
    let order_id = format!("ord-{}-{}", b.index, b.messages);
    let placed_at = at + 120_000;
    b.track(
        placed_at,
        "Order Completed",
        channel,
        json!({"order_id": order_id, "revenue": amount, "currency": "USD", "products": [{"name": product}]}),
    );
    let slow = region == SLOW_REGION && placed_at >= b.company.carrier_change_ms;
    let late = rng.random_bool(if slow { 0.5 } else { 0.05 });
    let days: u32 = if late { rng.random_range(6..=12) } else { rng.random_range(2..=4) };
    let delivered = placed_at + i64::from(days) * DAY_MS;
    b.track(placed_at + DAY_MS, "Order Shipped", "email", json!({"order_id": order_id}));
    b.track(
        delivered,
        "Order Delivered",
        "email",
        json!({"order_id": order_id, "days": days, "promised_days": 3, "late": late}),
    );
    if late {
        experiences.push((delivered, Experience::LateDelivery));
    }
    let faulty = rng.random_bool(0.04);
    if faulty {
        experiences.push((delivered + 5 * DAY_MS, Experience::QualityIssue));
    }
    if rng.random_bool(0.05) {
        let rating: u8 =
            if late || faulty { rng.random_range(1..=2) } else { *[3, 4, 4, 5, 5, 5].choose(rng).unwrap_or(&5) };
        let theme = match (late, faulty, rating) {
            (true, _, _) => Theme::LateDelivery,
            (_, true, _) => Theme::Quality,
            (_, _, 3) => Theme::Price,
            _ => Theme::Praise,
        };
        let text = texts::comment(rng, theme, product, days);
        let item = json!({"kind": "review", "source": "website", "rating": rating, "text": text,
            "title": texts::review_title(rng, rating), "channel": "web", "touchpoint": "delivery"});
        b.feedback(delivered + 2 * DAY_MS, object(item), true);
    }
    if late && rng.random_bool(0.03) {
        social(b, rng, delivered, Theme::LateDelivery, product, days);
    }
    let reason = if late && rng.random_bool(0.5) {
        Some(Theme::LateDelivery)
    } else if faulty && rng.random_bool(0.5) {
        Some(Theme::Quality)
    } else {
        rng.random_bool(0.06).then_some(Theme::Returns)
    };
    if let Some(theme) = reason {
        let contact_at = if late { placed_at + 4 * DAY_MS } else { delivered + 2 * DAY_MS };
        support(b, rng, contact_at, theme, product, experiences);
    }
    if faulty || rng.random_bool(0.06) {
        return_item(b, rng, delivered + 3 * DAY_MS, product);
    }
}

/// A support contact by chat, e-mail or phone with one of the agents, a transcript of the chats,
/// and the CSAT answer a third of customers give.
fn support(
    b: &mut Builder,
    rng: &mut StdRng,
    at: i64,
    theme: Theme,
    product: &str,
    experiences: &mut Vec<(i64, Experience)>,
) {
    let channel = *["chat", "chat", "chat", "chat", "chat", "email", "email", "email", "phone", "phone"]
        .choose(rng)
        .unwrap_or(&"chat");
    let agent = *AGENTS.choose(rng).unwrap_or(&AGENTS[0]);
    let poor = agent == POOR_AGENT;
    b.track(at, "Support Ticket Created", channel, json!({"topic": format!("{theme:?}")}));
    let closed = at + rng.random_range(600_000..if poor { 4 * DAY_MS } else { DAY_MS });
    b.track(closed, "Support Ticket Closed", channel, json!({"agent": agent}));
    // The agents differ in how they help; a customer's mood varies around it.
    let skill = if poor { 2.4 } else { 4.3 + 0.1 * (AGENTS.iter().position(|a| *a == agent).unwrap_or(0) % 3) as f64 };
    let felt = normal(rng, skill, 0.8);
    if felt < 3.0 {
        experiences.push((closed, Experience::PoorSupport));
    }
    if channel == "chat" && rng.random_bool(0.6) {
        let turns: Vec<Value> = texts::transcript(rng, theme, agent, product, felt < 3.0)
            .into_iter()
            .map(|(speaker, text)| json!({"speaker": speaker, "text": text}))
            .collect();
        let item =
            json!({"kind": "transcript", "source": "chat", "turns": turns, "channel": "chat", "touchpoint": "support"});
        b.feedback(at, object(item), true);
    }
    if rng.random_bool(0.45) {
        let overall = score(rng, felt, 0.5, 1, 5);
        let dimension = |rng: &mut StdRng| score(rng, felt, 0.8, 1, 5);
        let mut answers = json!({"csat": {"score": overall, "knowledge": dimension(rng),
            "communication": dimension(rng), "timely_resolution": dimension(rng)}});
        if rng.random_bool(0.4) {
            let theme = if overall <= 2 { Theme::PoorSupport } else { Theme::GoodSupport };
            answers["comment"] = Value::from(texts::comment(rng, theme, product, 0));
        }
        let body = json!({"answers": answers, "channel": channel, "touchpoint": "support", "agent": agent});
        b.respond(DemoSurvey::Csat, closed + rng.random_range(600_000..DAY_MS), object(body));
    }
}

/// A return, and the CES answer a third of customers give.
fn return_item(b: &mut Builder, rng: &mut StdRng, at: i64, product: &str) {
    b.track(at, "Return Requested", "web", json!({"product": product}));
    let done = at + rng.random_range(5..=12) * DAY_MS;
    b.track(done, "Return Completed", "email", json!({"product": product}));
    if rng.random_bool(0.35) {
        let ces = score(rng, 5.4, 1.2, 1, 7);
        let mut answers = json!({"ces": ces});
        if rng.random_bool(0.4) {
            answers["comment"] = Value::from(texts::comment(rng, Theme::Returns, product, 0));
        }
        let body = json!({"answers": answers, "channel": "email", "touchpoint": "returns"});
        b.respond(DemoSurvey::Ces, done + rng.random_range(3_600_000..2 * DAY_MS), object(body));
    }
}

/// The app release that broke logins: failed sign-ins, app-store reviews, posts and support chats.
fn login_bug(b: &mut Builder, rng: &mut StdRng, device: &str, experiences: &mut Vec<(i64, Experience)>) {
    let (release, fix) = (b.company.release_ms, b.company.fix_ms);
    let at = release + rng.random_range(0..(fix - release));
    experiences.push((at, Experience::LoginBug));
    b.track(at, "Sign In Failed", device, json!({"app_version": "4.2.0", "error": "session_token_invalid"}));
    if rng.random_bool(0.12) {
        let text = texts::comment(rng, Theme::LoginBug, "", 0);
        let source = if rng.random_bool(0.5) { "app_store" } else { "google_play" };
        let item = json!({"kind": "review", "source": source, "rating": 1, "text": text,
            "title": texts::review_title(rng, 1), "channel": "mobile", "touchpoint": "login"});
        b.feedback(at + 1_800_000, object(item), false);
    }
    if rng.random_bool(0.05) {
        social(b, rng, at + 3_600_000, Theme::LoginBug, "", 0);
    }
    if rng.random_bool(0.2) {
        support(b, rng, at + 7_200_000, Theme::LoginBug, "", experiences);
    }
}

fn social(b: &mut Builder, rng: &mut StdRng, at: i64, theme: Theme, product: &str, days: u32) {
    let platform = *["twitter", "instagram", "facebook"].choose(rng).unwrap_or(&"twitter");
    let text = format!("@evergreen {}", texts::comment(rng, theme, product, days));
    let item = json!({"kind": "social", "source": "social", "platform": platform, "text": text,
        "author": format!("@user{}", b.index), "reach": rng.random_range(20..5000)});
    b.feedback(at, object(item), false);
}

/// Relationship NPS: a quarter of active customers answer each quarter, after their first month;
/// what they recently went through moves the score and what they write.
fn relationship_nps(
    b: &mut Builder,
    rng: &mut StdRng,
    signup: i64,
    end: i64,
    mood: f64,
    experiences: &[(i64, Experience)],
) {
    let quarter = 91 * DAY_MS;
    let mut start = b.company.start_ms;
    while start < end {
        let at = start + rng.random_range(0..30 * DAY_MS);
        start += quarter;
        if at < signup + 30 * DAY_MS || at >= end || !rng.random_bool(0.25) {
            continue;
        }
        let recent = |what: Experience, days: i64| {
            experiences.iter().filter(|(when, e)| *e == what && (at - days * DAY_MS..at).contains(when)).count()
        };
        // A late parcel is remembered for half a year; the rest for a quarter.
        let late = recent(Experience::LateDelivery, 180);
        let poor = recent(Experience::PoorSupport, 90);
        let bug = recent(Experience::LoginBug, 45);
        let faulty = recent(Experience::QualityIssue, 90);
        let mean = 8.2 + 0.9 * mood
            - 2.6 * late.min(2) as f64
            - 2.0 * poor.min(1) as f64
            - 1.5 * bug.min(1) as f64
            - 1.5 * faulty.min(1) as f64;
        let nps = score(rng, mean, 1.2, 0, 10);
        let mut answers = json!({"nps": nps});
        if rng.random_bool(0.6) {
            let causes: Vec<(Theme, usize)> = [
                (Theme::LateDelivery, late),
                (Theme::PoorSupport, poor),
                (Theme::LoginBug, bug),
                (Theme::Quality, faulty),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
            let theme = match causes.choose(rng) {
                Some((theme, _)) if nps <= 8 => *theme,
                _ if nps >= 9 => Theme::Praise,
                _ => *[Theme::Price, Theme::Price, Theme::Quality, Theme::Praise].choose(rng).unwrap_or(&Theme::Price),
            };
            let product = *PRODUCTS.choose(rng).unwrap_or(&"planter");
            let days = rng.random_range(6..=12);
            answers["reason"] = Value::from(texts::comment(rng, theme, product, days));
        }
        let channel = *["email", "email", "mobile", "web"].choose(rng).unwrap_or(&"email");
        b.respond(DemoSurvey::Nps, at, object(json!({"answers": answers, "channel": channel})));
    }
}
