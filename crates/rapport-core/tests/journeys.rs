//! Journey analytics on a small hand-made journey whose every figure is worked out by hand:
//! conversion, skipped stages, timing, paths, backtracking, loops, drop-off, repeats, the
//! emotional curve, friction and segments.

use rapport_core::journey::analytics::{Analytics, Experience, Options, Segment, Signal, Visit, analyse};
use rapport_core::journey::compare::differences;
use rapport_core::journey::definition::{Journey, parse};
use serde_json::json;

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
const WEB: u16 = 0;
const MOBILE: u16 = 1;

fn journey() -> Journey {
    parse(&json!({"name": "Shop", "stages": ["a", "b", "c"], "stepWindowHours": 1, "touchpoints": [
        {"key": "visit", "stage": "a", "event": "Visit"},
        {"key": "cart_app", "stage": "b", "event": "Cart", "channel": "mobile"},
        {"key": "cart_web", "stage": "b", "event": "Cart"},
        {"key": "buy", "stage": "c", "event": "Buy"}
    ]}))
    .unwrap()
}

/// (customer, touchpoint, channel, minutes)
fn visits() -> Vec<Visit> {
    let (visit, cart_app, cart_web, buy) = (0, 1, 2, 3);
    let mut visits: Vec<Visit> = [
        (0, visit, WEB, 0),
        (0, cart_web, WEB, 10),
        (0, buy, WEB, 20),
        // Tries the app twice, finishes on the web.
        (1, visit, MOBILE, 0),
        (1, cart_app, MOBILE, 5),
        (1, cart_app, MOBILE, 15),
        (1, cart_web, MOBILE, 30),
        (1, buy, MOBILE, 40),
        // Skips stage a; buys two hours later (outside the one-hour step window).
        (2, cart_web, WEB, 0),
        (2, buy, WEB, 120),
        // Goes back to a, then to the cart again, and leaves.
        (3, visit, WEB, 0),
        (3, cart_web, WEB, 10),
        (3, visit, WEB, 20),
        (3, cart_web, WEB, 30),
        // Came before the period too.
        (4, visit, WEB, -2 * 24 * 60),
        (4, visit, WEB, 0),
        // Only before the period.
        (5, visit, WEB, -24 * 60),
    ]
    .into_iter()
    .map(|(customer, touchpoint, channel, minutes)| Visit { customer, touchpoint, channel, at_ms: minutes * MIN })
    .collect();
    visits.sort_by_key(|v| (v.customer, v.at_ms));
    visits
}

fn experiences() -> Vec<Experience> {
    vec![
        Experience { customer: Some(1), touchpoint: 1, at_ms: 20 * MIN, signal: Signal::Ces { score: 2 } },
        Experience { customer: Some(0), touchpoint: 2, at_ms: 25 * MIN, signal: Signal::Ces { score: 6 } },
        Experience { customer: Some(0), touchpoint: 3, at_ms: 30 * MIN, signal: Signal::Csat { satisfied: true } },
        Experience { customer: Some(2), touchpoint: 3, at_ms: 3 * 60 * MIN, signal: Signal::Csat { satisfied: false } },
        Experience {
            customer: None,
            touchpoint: 3,
            at_ms: 60 * MIN,
            signal: Signal::Sentiment { score: -0.5, negative: true },
        },
        // Outside the period: not counted.
        Experience { customer: Some(1), touchpoint: 2, at_ms: 2 * DAY, signal: Signal::Ces { score: 1 } },
    ]
}

fn run(segment: Segment, min_n: u64) -> Analytics {
    analyse(&journey(), &visits(), &experiences(), (0, DAY), &segment, &Options { min_n, top_paths: 10 })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_funnel_counts_stages_reached_skipped_and_continued() {
    let all = run(Segment::All, 3);
    assert_eq!((all.customers, all.visits), (5, 15));
    assert_eq!((all.converted.count, all.converted.n), (3, 5));
    let reached: Vec<(u64, u64, u64, u64)> =
        all.stages.iter().map(|s| (s.reached.count, s.skipped, s.continued.count, s.continued.n)).collect();
    assert_eq!(reached, [(4, 1, 3, 4), (4, 0, 3, 4), (3, 0, 0, 3)]);
    assert!(close(all.stages[0].drop_off.unwrap(), 0.25));
    assert_eq!(all.stages[2].drop_off, None, "the last stage has no next stage to drop from");
    let interval = all.stages[0].reached.interval.unwrap();
    assert!(interval.low < 0.8 && 0.8 < interval.high);
}

#[test]
fn time_between_stages_is_the_median_and_90th_percentile() {
    let all = run(Segment::All, 3);
    let a_b = all.stages[0].to_next_stage.unwrap();
    assert_eq!(a_b.n, 3);
    assert!(close(a_b.median_hours, 10.0 / 60.0) && close(a_b.p90_hours, 10.0 / 60.0));
    let b_c = all.stages[1].to_next_stage.unwrap();
    assert_eq!(b_c.n, 3);
    assert!(close(b_c.median_hours, 35.0 / 60.0) && close(b_c.p90_hours, 2.0));
    assert_eq!(all.stages[2].to_next_stage, None);
}

#[test]
fn paths_run_to_the_goal_with_repeats_collapsed() {
    let all = run(Segment::All, 3);
    let paths: Vec<(Vec<&str>, u64, u64)> = all
        .paths
        .iter()
        .map(|p| (p.touchpoints.iter().map(String::as_str).collect(), p.customers, p.conversion.count))
        .collect();
    assert_eq!(
        paths,
        [
            (vec!["cart_web"], 1, 1),
            (vec!["visit"], 1, 0),
            (vec!["visit", "cart_app", "cart_web"], 1, 1),
            (vec!["visit", "cart_web"], 1, 1),
            (vec!["visit", "cart_web", "visit", "cart_web"], 1, 0),
        ]
    );
    assert!(all.paths.iter().all(|p| !p.truncated && close(p.share, 0.2)));
}

#[test]
fn backtracking_and_loops_are_counted_per_customer() {
    let all = run(Segment::All, 3);
    assert_eq!((all.backtracking.customers.count, all.backtracking.customers.n), (1, 5));
    assert_eq!(all.backtracking.moves.len(), 1);
    assert_eq!((all.backtracking.moves[0].from.as_str(), all.backtracking.moves[0].to.as_str()), ("b", "a"));
    assert_eq!(all.loops.customers.count, 1, "trying the app twice in a row is a repeat, not a loop");
    let looped: Vec<(&str, u64)> = all.loops.touchpoints.iter().map(|l| (l.touchpoint.as_str(), l.customers)).collect();
    assert_eq!(looped, [("cart_web", 1), ("visit", 1)]);
}

#[test]
fn drop_off_repeats_and_the_emotional_curve_per_touchpoint() {
    let all = run(Segment::All, 3);
    type Row<'a> = (&'a str, u64, u64, Option<(u64, u64)>, (u64, u64));
    let figures: Vec<Row> = all
        .touchpoints
        .iter()
        .map(|t| {
            (t.key.as_str(), t.visits, t.customers, t.drop_off.map(|d| (d.count, d.n)), (t.repeat.count, t.repeat.n))
        })
        .collect();
    assert_eq!(
        figures,
        [
            ("visit", 5, 4, Some((1, 5)), (1, 5)),
            // Switching from the app's cart to the web's is the same step: not a drop-off there,
            // as the customer bought within the hour.
            ("cart_app", 2, 1, Some((0, 2)), (1, 2)),
            ("cart_web", 5, 4, Some((3, 5)), (1, 5)),
            ("buy", 3, 3, None, (0, 3)),
        ]
    );
    let cart_app = &all.touchpoints[1];
    assert_eq!(cart_app.ces.unwrap().n, 1, "the answer outside the period is left out");
    assert_eq!(cart_app.high_effort.unwrap().count, 1);
    let buy = &all.touchpoints[3];
    assert_eq!(buy.csat_satisfied.map(|s| (s.count, s.n)), Some((1, 2)));
    assert!(close(buy.sentiment.unwrap().mean, -0.5));
    assert!(close(buy.friction.dissatisfaction.unwrap(), 0.75), "mean of 1 − CSAT (0.5) and negative share (1)");
}

#[test]
fn friction_ranks_touchpoints_with_enough_visits_and_shows_its_components() {
    let all = run(Segment::All, 3);
    assert_eq!(all.friction_ranking, ["cart_web", "buy", "visit"]);
    let score = |key: &str| all.touchpoints.iter().find(|t| t.key == key).unwrap().friction.clone();
    assert!(close(score("cart_web").score, 0.3 * 0.6 + 0.2 * 0.2 + 0.25 * 0.0));
    assert!(close(score("buy").score, 0.25 * 0.75));
    assert_eq!(score("cart_app").rank, None, "two visits are below the minimum n of three");
    assert_eq!((score("cart_web").rank, score("buy").rank), (Some(1), Some(2)));
    let lower = run(Segment::All, 2);
    assert_eq!(lower.friction_ranking[0], "cart_app", "effort and repeats: 0.2 × 0.5 + 0.25 × 1");
}

#[test]
fn segments_choose_customers_and_their_answers() {
    let mobile = run(Segment::FirstChannel(MOBILE), 1);
    assert_eq!((mobile.customers, mobile.converted.count), (1, 1));
    assert_eq!(mobile.touchpoints[2].ces, None, "customer 0's answer is not the mobile segment's");
    assert_eq!(mobile.touchpoints[1].ces.unwrap().n, 1);
    assert_eq!(mobile.touchpoints[3].sentiment, None, "feedback without a customer belongs to no segment");
    assert_eq!(run(Segment::New, 1).customers, 4);
    assert_eq!(run(Segment::Returning, 1).customers, 1);
    let chosen = run(Segment::Customers(vec![false, false, true]), 1);
    assert_eq!((chosen.customers, chosen.visits), (1, 2));

    let compared = differences(&run(Segment::All, 1), &mobile);
    assert!(close(compared.converted.unwrap().difference, 1.0 - 0.6));
    assert_eq!(compared.touchpoints.len(), 4);
}

#[test]
fn a_customer_with_no_visit_in_the_period_is_not_in_the_journey() {
    let none = analyse(&journey(), &visits(), &[], (10 * DAY, 11 * DAY), &Segment::All, &Options::default());
    assert_eq!(none.customers, 0);
    assert_eq!(none.converted.share, None);
    assert!(none.paths.is_empty() && none.friction_ranking.is_empty());
}

#[test]
fn coming_back_after_the_step_window_is_a_new_episode_not_a_loop() {
    let (visit, cart_web, buy) = (0, 2, 3);
    let visits: Vec<Visit> =
        [(visit, 0), (cart_web, 10), (buy, 20), (visit, 2 * 24 * 60), (cart_web, 2 * 24 * 60 + 10)]
            .into_iter()
            .map(|(touchpoint, minutes)| Visit { customer: 0, touchpoint, channel: WEB, at_ms: minutes * MIN })
            .collect();
    let again = analyse(&journey(), &visits, &[], (0, 3 * DAY), &Segment::All, &Options::default());
    assert_eq!(again.backtracking.customers.count, 0, "{:?}", again.backtracking);
    assert_eq!(again.loops.customers.count, 0, "{:?}", again.loops);
    assert_eq!(again.touchpoints[0].repeat.count, 0, "two days apart is not a repeat within the hour");
    assert_eq!(again.paths[0].touchpoints, ["visit", "cart_web"], "the path runs to the first purchase");
}
