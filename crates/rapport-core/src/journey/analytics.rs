//! A journey's analytics over its visits: one pass over each customer's visits (in time order)
//! gives the stage funnel, time between stages, paths, loops and backtracking and, per
//! touchpoint, drop-off and repeats; survey answers and feedback attributed to touchpoints give
//! the emotional curve; friction combines them. Every share carries its n and Wilson interval.
//! Definitions and formulas: JOURNEYS.md.

use std::collections::HashMap;

use serde::Serialize;

use crate::journey::definition::Journey;
use crate::metrics::stats::{Interval, t95, wilson};

/// One event that is a touchpoint of the journey, with its customer (an index the caller assigns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    pub customer: u32,
    pub touchpoint: u16,
    /// An index into the caller's channel names.
    pub channel: u16,
    pub at_ms: i64,
}

/// What a customer said about a touchpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    Csat {
        satisfied: bool,
    },
    /// A CES answer, 1 (very hard) to 7 (very easy).
    Ces {
        score: u8,
    },
    /// The sentiment of a feedback item (−1..1) and whether it reads negative.
    Sentiment {
        score: f64,
        negative: bool,
    },
}

/// A survey answer or feedback item attributed to a touchpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Experience {
    /// `None` for feedback no customer could be found for (it counts only without a segment).
    pub customer: Option<u32>,
    pub touchpoint: u16,
    pub at_ms: i64,
    pub signal: Signal,
}

/// Which customers an analysis covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    All,
    /// Customers whose first visit in the period came through this channel (an index).
    FirstChannel(u16),
    /// Customers whose first visit of the journey ever falls in the period.
    New,
    /// Customers who had visited the journey before the period.
    Returning,
    /// Customers the caller chose (by trait), indexed by customer.
    Customers(Vec<bool>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Touchpoints with fewer visits are shown but not ranked for friction.
    pub min_n: u64,
    /// How many of the most common paths to show.
    pub top_paths: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options { min_n: 30, top_paths: 10 }
    }
}

/// Friction weights: drop-off after the touchpoint, repeats of it, effort (CES) and
/// dissatisfaction (CSAT, negative sentiment). A component without data adds nothing.
pub const FRICTION_WEIGHTS: Weights = Weights { drop_off: 0.3, repeat: 0.2, effort: 0.25, dissatisfaction: 0.25 };
/// Steps a path shows before it is cut (and marked truncated).
pub const MAX_PATH_STEPS: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Weights {
    pub drop_off: f64,
    pub repeat: f64,
    pub effort: f64,
    pub dissatisfaction: f64,
}

/// `count` of `n`, with the share and its Wilson interval (both absent when n = 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    pub n: u64,
    pub count: u64,
    pub share: Option<f64>,
    pub interval: Option<Interval>,
}

impl Share {
    pub fn of(count: u64, n: u64) -> Share {
        Share { n, count, share: (n > 0).then(|| count as f64 / n as f64), interval: wilson(count, n) }
    }
}

/// A mean with its n and t interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mean {
    pub n: u64,
    pub mean: f64,
    pub interval: Option<Interval>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: u64,
    sum: f64,
    squares: f64,
}

impl Sums {
    fn add(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.squares += x * x;
    }

    fn mean(&self) -> Option<Mean> {
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let interval = (self.n >= 2).then(|| {
            let sd = ((self.squares - n * mean * mean) / (n - 1.0)).max(0.0).sqrt();
            let half = t95(n - 1.0) * sd / n.sqrt();
            Interval { low: mean - half, high: mean + half }
        });
        Some(Mean { n: self.n, mean, interval })
    }
}

/// Time between two stages: nearest-rank median and 90th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    pub n: u64,
    pub median_hours: f64,
    pub p90_hours: f64,
}

fn timing(mut durations: Vec<i64>) -> Option<Timing> {
    if durations.is_empty() {
        return None;
    }
    let n = durations.len();
    let mut rank = |p: f64| {
        let index = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        *durations.select_nth_unstable(index).1 as f64 / 3_600_000.0
    };
    let median_hours = rank(0.5);
    let p90_hours = rank(0.9);
    Some(Timing { n: n as u64, median_hours, p90_hours })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageFigures {
    pub stage: String,
    /// Customers who reached the stage, of the customers in the journey.
    pub reached: Share,
    /// Customers who reached a later stage without this one.
    pub skipped: u64,
    /// Of those who reached it, those who went on to a later stage afterwards.
    pub continued: Share,
    pub drop_off: Option<f64>,
    /// From the first visit of this stage to the first visit of the next one after it.
    pub to_next_stage: Option<Timing>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Friction {
    pub score: f64,
    /// 1 is the worst; `None` below the minimum number of visits.
    pub rank: Option<usize>,
    pub drop_off: Option<f64>,
    pub repeat: Option<f64>,
    pub effort: Option<f64>,
    pub dissatisfaction: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TouchpointFigures {
    pub key: String,
    pub name: String,
    pub stage: String,
    pub visits: u64,
    pub customers: u64,
    /// Visits not followed through within the step window (touchpoints before the goal only).
    pub drop_off: Option<Share>,
    /// Visits followed by another visit of the same touchpoint within the step window.
    pub repeat: Share,
    pub sentiment: Option<Mean>,
    pub negative_feedback: Option<Share>,
    pub csat_satisfied: Option<Share>,
    pub ces: Option<Mean>,
    /// CES answers of 1 to 3.
    pub high_effort: Option<Share>,
    pub friction: Friction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathFigures {
    pub touchpoints: Vec<String>,
    pub truncated: bool,
    pub customers: u64,
    /// Of the customers in the journey.
    pub share: f64,
    /// Those on the path who reached the goal.
    pub conversion: Share,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backtracking {
    /// Customers who went back to an earlier stage within one episode (visits each within the
    /// step window of the last).
    pub customers: Share,
    /// From the furthest stage reached back to an earlier one, most common first.
    pub moves: Vec<Move>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Looped {
    pub touchpoint: String,
    pub customers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loops {
    /// Customers who came back to a touchpoint after another one, within one episode.
    pub customers: Share,
    pub touchpoints: Vec<Looped>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Analytics {
    /// Customers with at least one visit in the period (and in the segment).
    pub customers: u64,
    pub visits: u64,
    pub goal: String,
    /// Customers who reached the goal, of the customers in the journey.
    pub converted: Share,
    pub stages: Vec<StageFigures>,
    /// In journey order: the emotional curve reads across them.
    pub touchpoints: Vec<TouchpointFigures>,
    /// Ranked touchpoints' keys, worst first.
    pub friction_ranking: Vec<String>,
    pub paths: Vec<PathFigures>,
    pub backtracking: Backtracking,
    pub loops: Loops,
    pub friction_weights: Weights,
    pub min_n: u64,
}

#[derive(Default, Clone, Copy)]
struct TouchpointCounts {
    visits: u64,
    customers: u64,
    dropped: u64,
    repeated: u64,
    looped: u64,
    sentiment: Sums,
    negative: u64,
    csat: u64,
    satisfied: u64,
    ces: Sums,
    high_effort: u64,
}

/// Visits' customers must be grouped and each customer's visits in time order (sort by
/// `(customer, at_ms)`); `period` is `[from, to)` in ms.
pub fn analyse(
    journey: &Journey,
    visits: &[Visit],
    experiences: &[Experience],
    period: (i64, i64),
    segment: &Segment,
    options: &Options,
) -> Analytics {
    let (from, to) = period;
    let stages = journey.stages.len();
    let touchpoints = journey.touchpoints.len();
    let stage_of: Vec<usize> = journey.touchpoints.iter().map(|t| t.stage).collect();
    // Touchpoints sharing an event are one step tried through different channels or conditions.
    let step_of: Vec<usize> = journey
        .touchpoints
        .iter()
        .map(|t| journey.touchpoints.iter().position(|o| o.event == t.event).unwrap_or(0))
        .collect();
    let goal = journey.goal;
    let window = journey.step_window_ms;

    let mut counts = vec![TouchpointCounts::default(); touchpoints];
    let mut customers = 0u64;
    let mut visit_count = 0u64;
    let mut converted = 0u64;
    let (mut reached, mut skipped, mut continued) = (vec![0u64; stages], vec![0u64; stages], vec![0u64; stages]);
    let mut to_next: Vec<Vec<i64>> = vec![Vec::new(); stages];
    let mut paths: HashMap<u64, (u64, u64)> = HashMap::new();
    let (mut backtrackers, mut loopers) = (0u64, 0u64);
    let mut moves: HashMap<(usize, usize), u64> = HashMap::new();
    let max_customer = visits.iter().map(|v| v.customer).chain(experiences.iter().filter_map(|e| e.customer)).max();
    let mut members = vec![false; max_customer.map_or(0, |m| m as usize + 1)];

    for group in visits.chunk_by(|a, b| a.customer == b.customer) {
        let start = group.partition_point(|v| v.at_ms < from);
        let end = group.partition_point(|v| v.at_ms < to);
        let seen = &group[start..end];
        let Some(first) = seen.first() else { continue };
        let member = match segment {
            Segment::All => true,
            Segment::FirstChannel(channel) => first.channel == *channel,
            Segment::New => group[0].at_ms >= from,
            Segment::Returning => group[0].at_ms < from,
            Segment::Customers(chosen) => chosen.get(first.customer as usize).copied().unwrap_or(false),
        };
        if !member {
            continue;
        }
        members[first.customer as usize] = true;
        customers += 1;
        visit_count += seen.len() as u64;

        let mut first_at: [Option<i64>; 16] = [None; 16];
        let mut last_at: [Option<i64>; 16] = [None; 16];
        let mut timed = [false; 16];
        // An episode is a run of visits each within the step window of the last: going back and
        // looping are counted within one, so coming back to buy again next month is neither.
        let (mut visited, mut in_episode, mut looped_here) = (0u128, 0u128, 0u128);
        let (mut furthest, mut backtracked, mut looped) = (0usize, false, false);
        let mut previous: Option<usize> = None;
        let mut last_visit: Option<i64> = None;
        let mut path = 0u64;
        let mut steps = 0usize;
        let mut reached_goal = false;
        for (i, visit) in seen.iter().enumerate() {
            let tp = visit.touchpoint as usize;
            let stage = stage_of[tp];
            let counts = &mut counts[tp];
            counts.visits += 1;
            if last_visit.is_some_and(|last| visit.at_ms - last > window) {
                in_episode = 0;
                furthest = stage;
            }
            last_visit = Some(visit.at_ms);
            if visited & (1 << tp) == 0 {
                counts.customers += 1;
            }
            if in_episode & (1 << tp) != 0 && previous != Some(tp) && looped_here & (1 << tp) == 0 {
                looped_here |= 1 << tp;
                counts.looped += 1;
                looped = true;
            }
            visited |= 1 << tp;
            in_episode |= 1 << tp;
            // Followed through, or tried again, within the step window?
            let (mut onward, mut again) = (false, false);
            for next in seen[i + 1..].iter().take_while(|n| n.at_ms - visit.at_ms <= window) {
                let next_tp = next.touchpoint as usize;
                again |= next_tp == tp;
                onward |= next_tp > tp && step_of[next_tp] != step_of[tp];
                if onward && again {
                    break;
                }
            }
            if tp < goal && !onward {
                counts.dropped += 1;
            }
            if again {
                counts.repeated += 1;
            }
            // Stages: first and latest visit of each, the time to the next one, backtracking.
            if stage > 0
                && !timed[stage - 1]
                && let Some(earlier) = first_at[stage - 1]
            {
                timed[stage - 1] = true;
                to_next[stage - 1].push(visit.at_ms - earlier);
            }
            first_at[stage].get_or_insert(visit.at_ms);
            last_at[stage] = Some(visit.at_ms);
            if stage < furthest {
                backtracked = true;
                *moves.entry((furthest, stage)).or_default() += 1;
            }
            furthest = furthest.max(stage);
            // The path to the goal: touchpoints in order, repeats collapsed.
            if tp == goal {
                reached_goal = true;
            } else if !reached_goal && previous != Some(tp) {
                if steps < MAX_PATH_STEPS {
                    path |= (tp as u64 + 1) << (8 * steps);
                } else {
                    path |= 1 << 63;
                }
                steps += 1;
            }
            previous = Some(tp);
        }
        converted += u64::from(reached_goal);
        backtrackers += u64::from(backtracked);
        loopers += u64::from(looped);
        let entry = paths.entry(path).or_default();
        entry.0 += 1;
        entry.1 += u64::from(reached_goal);
        for stage in 0..stages {
            match first_at[stage] {
                Some(first) => {
                    reached[stage] += 1;
                    let later = (stage + 1..stages).any(|s| last_at[s].is_some_and(|at| at >= first));
                    continued[stage] += u64::from(later);
                }
                None => skipped[stage] += u64::from((stage + 1..stages).any(|s| first_at[s].is_some())),
            }
        }
    }

    for experience in experiences.iter().filter(|e| (from..to).contains(&e.at_ms)) {
        let counted = match experience.customer {
            Some(customer) => matches!(segment, Segment::All) || members[customer as usize],
            None => matches!(segment, Segment::All),
        };
        let Some(counts) = counts.get_mut(experience.touchpoint as usize).filter(|_| counted) else { continue };
        match experience.signal {
            Signal::Csat { satisfied } => {
                counts.csat += 1;
                counts.satisfied += u64::from(satisfied);
            }
            Signal::Ces { score } => {
                counts.ces.add(f64::from(score));
                counts.high_effort += u64::from(score <= 3);
            }
            Signal::Sentiment { score, negative } => {
                counts.sentiment.add(score);
                counts.negative += u64::from(negative);
            }
        }
    }

    let stage_figures = (0..stages)
        .map(|stage| {
            let continued = Share::of(continued[stage], reached[stage]);
            StageFigures {
                stage: journey.stages[stage].clone(),
                reached: Share::of(reached[stage], customers),
                skipped: skipped[stage],
                drop_off: (stage + 1 < stages).then_some(continued.share.map(|s| 1.0 - s)).flatten(),
                continued,
                to_next_stage: timing(std::mem::take(&mut to_next[stage])),
            }
        })
        .collect();
    let touchpoint_figures = touchpoint_figures(journey, &counts);
    let friction_ranking = rank(&touchpoint_figures, options.min_n);
    let mut touchpoint_figures = touchpoint_figures;
    for (rank, key) in friction_ranking.iter().enumerate() {
        if let Some(t) = touchpoint_figures.iter_mut().find(|t| t.key == *key) {
            t.friction.rank = Some(rank + 1);
        }
    }
    let keys: Vec<&str> = journey.touchpoints.iter().map(|t| t.key.as_str()).collect();
    let mut path_figures: Vec<PathFigures> = paths
        .into_iter()
        .map(|(path, (count, reached_goal))| PathFigures {
            touchpoints: (0..MAX_PATH_STEPS)
                .map(|step| (path >> (8 * step)) & 0xff)
                .take_while(|&code| code != 0)
                .map(|code| keys[code as usize - 1].to_owned())
                .collect(),
            truncated: path & (1 << 63) != 0,
            customers: count,
            share: count as f64 / customers.max(1) as f64,
            conversion: Share::of(reached_goal, count),
        })
        .collect();
    path_figures.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.touchpoints.cmp(&b.touchpoints)));
    path_figures.truncate(options.top_paths);
    let mut moves: Vec<Move> = moves
        .into_iter()
        .map(|((from, to), count)| Move { from: journey.stages[from].clone(), to: journey.stages[to].clone(), count })
        .collect();
    moves.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to))));
    let mut looped: Vec<Looped> = counts
        .iter()
        .zip(&keys)
        .filter(|(c, _)| c.looped > 0)
        .map(|(c, key)| Looped { touchpoint: (*key).to_owned(), customers: c.looped })
        .collect();
    looped.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.touchpoint.cmp(&b.touchpoint)));
    Analytics {
        customers,
        visits: visit_count,
        goal: keys[goal].to_owned(),
        converted: Share::of(converted, customers),
        stages: stage_figures,
        touchpoints: touchpoint_figures,
        friction_ranking,
        paths: path_figures,
        backtracking: Backtracking { customers: Share::of(backtrackers, customers), moves },
        loops: Loops { customers: Share::of(loopers, customers), touchpoints: looped },
        friction_weights: FRICTION_WEIGHTS,
        min_n: options.min_n,
    }
}

fn touchpoint_figures(journey: &Journey, counts: &[TouchpointCounts]) -> Vec<TouchpointFigures> {
    let w = FRICTION_WEIGHTS;
    journey
        .touchpoints
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (t, c))| {
            let drop_off = (i < journey.goal).then(|| Share::of(c.dropped, c.visits));
            let repeat = Share::of(c.repeated, c.visits);
            let negative = (c.sentiment.n > 0).then(|| Share::of(c.negative, c.sentiment.n));
            let csat = (c.csat > 0).then(|| Share::of(c.satisfied, c.csat));
            let high_effort = (c.ces.n > 0).then(|| Share::of(c.high_effort, c.ces.n));
            let unhappy: Vec<f64> = [csat.and_then(|s| s.share).map(|s| 1.0 - s), negative.and_then(|s| s.share)]
                .into_iter()
                .flatten()
                .collect();
            let dissatisfaction = (!unhappy.is_empty()).then(|| unhappy.iter().sum::<f64>() / unhappy.len() as f64);
            let friction = Friction {
                drop_off: drop_off.and_then(|s| s.share),
                repeat: repeat.share,
                effort: high_effort.and_then(|s| s.share),
                dissatisfaction,
                score: 0.0,
                rank: None,
            };
            let score = w.drop_off * friction.drop_off.unwrap_or(0.0)
                + w.repeat * friction.repeat.unwrap_or(0.0)
                + w.effort * friction.effort.unwrap_or(0.0)
                + w.dissatisfaction * friction.dissatisfaction.unwrap_or(0.0);
            TouchpointFigures {
                key: t.key.clone(),
                name: t.name.clone(),
                stage: journey.stages[t.stage].clone(),
                visits: c.visits,
                customers: c.customers,
                drop_off,
                repeat,
                sentiment: c.sentiment.mean(),
                negative_feedback: negative,
                csat_satisfied: csat,
                ces: c.ces.mean(),
                high_effort,
                friction: Friction { score, ..friction },
            }
        })
        .collect()
}

/// Touchpoints with at least `min_n` visits, worst friction first (ties in journey order).
fn rank(figures: &[TouchpointFigures], min_n: u64) -> Vec<String> {
    let mut ranked: Vec<&TouchpointFigures> = figures.iter().filter(|t| t.visits >= min_n.max(1)).collect();
    ranked.sort_by(|a, b| b.friction.score.total_cmp(&a.friction.score));
    ranked.into_iter().map(|t| t.key.clone()).collect()
}
