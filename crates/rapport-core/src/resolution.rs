//! Identity resolution: which customer each event belongs to, which identities link to whom, and
//! which customers merge, planned as a pure function over a snapshot of the graph.
//!
//! The graph is made of customer *nodes*. Identities belong to nodes and never move; a merge only
//! points the absorbed root at the survivor (`merged_into`) and re-roots its members. Undoing a
//! merge therefore clears one pointer and recomputes roots: nothing needs to be un-moved.
//!
//! Guards, checked before every automatic merge:
//! - two components that each hold a (different) user id are never merged;
//! - a merge whose result would hold more than `max_identities` identities is not made;
//! - two components an admin separated (an undone merge) are not merged again automatically.
//!
//! Refused merges are recorded like applied ones so an admin can see and review them.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::event::{Event, EventType};
use crate::identity::{Identity, IdentityKind};
use crate::ids::CustomerId;

/// Default for [`ResolutionSettings::max_identities`].
pub const DEFAULT_MAX_IDENTITIES: usize = 50;

#[derive(Debug, Clone, Copy)]
pub struct ResolutionSettings {
    /// A merge is refused if the merged customer would hold more identities than this.
    pub max_identities: usize,
}

impl Default for ResolutionSettings {
    fn default() -> Self {
        ResolutionSettings { max_identities: DEFAULT_MAX_IDENTITIES }
    }
}

/// What a root (a customer as the API shows it) holds, as far as merging cares.
#[derive(Debug, Clone, PartialEq)]
pub struct RootSummary {
    pub created_at_ms: i64,
    pub identity_count: usize,
    pub user_id: Option<String>,
}

/// The part of the graph an ingestion touches, read inside the write transaction.
#[derive(Debug, Clone, Default)]
pub struct GraphSnapshot {
    /// Identity key → the node it belongs to.
    pub identity_nodes: HashMap<String, CustomerId>,
    /// Node → its current root, for every node named anywhere in the snapshot.
    pub node_roots: HashMap<CustomerId, CustomerId>,
    /// Root → summary, for the roots loaded so far. The store loads none up front: most events
    /// only join a customer already known, which needs no summary, and [`plan`] names the roots
    /// whose summaries a decision needs ([`SummariesNeeded`]).
    pub roots: HashMap<CustomerId, RootSummary>,
    /// Node pairs an admin separated by undoing a merge.
    pub separated_pairs: Vec<(CustomerId, CustomerId)>,
}

/// The identity keys the store must look up before planning `events`.
pub fn lookup_keys(events: &[&Event]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for event in events {
        keys.extend(event.linked_identities.iter().map(Identity::key));
        if let Some(previous_id) = &event.previous_id {
            keys.extend(alias_candidates(previous_id).iter().map(Identity::key));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// An alias's `previousId` is a former user id or an anonymous id: both are looked up.
fn alias_candidates(previous_id: &str) -> Vec<Identity> {
    [Identity::user_id(previous_id), Identity::anonymous_id(previous_id)].into_iter().flatten().collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    pub id: CustomerId,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewLink {
    pub identity: Identity,
    pub customer: CustomerId,
    pub message_id: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    Merged,
    Refused(RefusalReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    ConflictingUserIds,
    TooManyIdentities { would_hold: usize, max: usize },
    SeparatedByAdmin,
}

impl RefusalReason {
    pub fn code(&self) -> &'static str {
        match self {
            RefusalReason::ConflictingUserIds => "conflicting_user_ids",
            RefusalReason::TooManyIdentities { .. } => "too_many_identities",
            RefusalReason::SeparatedByAdmin => "separated_by_admin",
        }
    }
}

/// One merge decision. For an applied merge, `absorbed` now points at `survivor`; for a refused
/// one, the two are the roots that were kept apart.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeDecision {
    pub survivor: CustomerId,
    pub absorbed: CustomerId,
    pub outcome: MergeOutcome,
    /// The identity both sides claimed.
    pub via_identity: String,
    pub message_id: String,
    pub event_type: EventType,
    pub at_ms: i64,
}

impl MergeDecision {
    /// A sentence an admin reads in the merge log.
    pub fn explanation(&self) -> String {
        let call = self.event_type.as_str();
        match &self.outcome {
            MergeOutcome::Merged => {
                format!("{call} {} linked {} to {}", self.message_id, self.via_identity, self.survivor)
            }
            MergeOutcome::Refused(RefusalReason::ConflictingUserIds) => {
                format!(
                    "{call} {} claimed {} but both customers have different user ids",
                    self.message_id, self.via_identity
                )
            }
            MergeOutcome::Refused(RefusalReason::TooManyIdentities { would_hold, max }) => format!(
                "{call} {} claimed {}; merging would give one customer {would_hold} identities (max {max})",
                self.message_id, self.via_identity
            ),
            MergeOutcome::Refused(RefusalReason::SeparatedByAdmin) => {
                format!("{call} {} claimed {}; an admin separated these customers", self.message_id, self.via_identity)
            }
        }
    }
}

/// How a decision is stored in the merge log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeRow<'a> {
    /// `merged` or `refused`.
    pub outcome: &'static str,
    /// `identity_shared`, or the refusal's code.
    pub reason: &'static str,
    pub survivor: &'a CustomerId,
    pub absorbed: &'a CustomerId,
}

impl MergeDecision {
    /// The merge log's row for this decision. A refusal is about a pair, stored in a fixed order
    /// so the same refusal is recorded once.
    pub fn row(&self) -> MergeRow<'_> {
        match &self.outcome {
            MergeOutcome::Merged => MergeRow {
                outcome: "merged",
                reason: "identity_shared",
                survivor: &self.survivor,
                absorbed: &self.absorbed,
            },
            MergeOutcome::Refused(reason) => {
                let (first, second) = if self.survivor <= self.absorbed {
                    (&self.survivor, &self.absorbed)
                } else {
                    (&self.absorbed, &self.survivor)
                };
                MergeRow { outcome: "refused", reason: reason.code(), survivor: first, absorbed: second }
            }
        }
    }
}

/// One customer trait to write: the newest value of `key` among the events homed on `node`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraitWrite<'a> {
    pub node: &'a CustomerId,
    pub key: String,
    pub value: serde_json::Value,
    pub channel: &'a str,
    pub at_ms: i64,
    pub message_id: &'a str,
}

/// The traits `events` set, one per (node, trait): the newest event wins, whatever the arrival
/// order (the store also refuses to overwrite a newer stored value).
pub fn trait_writes<'a>(events: &[&'a Event], plan: &'a ResolutionPlan) -> Vec<TraitWrite<'a>> {
    let mut latest: HashMap<(&CustomerId, String), TraitWrite<'a>> = HashMap::new();
    for (&event, node) in events.iter().zip(&plan.event_homes) {
        let at_ms = millis(event.timestamp);
        for (key, value) in event.customer_traits() {
            let write = TraitWrite {
                node,
                key: key.clone(),
                value,
                channel: &event.channel,
                at_ms,
                message_id: &event.message_id,
            };
            match latest.get(&(node, key.clone())) {
                Some(current) if current.at_ms > at_ms => {}
                _ => {
                    latest.insert((node, key), write);
                }
            }
        }
    }
    latest.into_values().collect()
}

/// Everything the store must write for a group of events, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolutionPlan {
    pub new_customers: Vec<NewCustomer>,
    pub new_links: Vec<NewLink>,
    /// Applied and refused merges, in the order they were decided.
    pub merges: Vec<MergeDecision>,
    /// For each event, the node its traits are written to.
    pub event_homes: Vec<CustomerId>,
}

/// A decision needed the summaries of these stored roots, absent from the snapshot: load them
/// into `GraphSnapshot::roots` and plan again.
#[derive(Debug, Clone, PartialEq)]
pub struct SummariesNeeded(pub Vec<CustomerId>);

/// Plans identity resolution for `events` (in order) over `snapshot`. `new_customer_id` mints ids.
///
/// Merge decisions (and an unknown user id joining a known customer) read root summaries; when
/// one is not in the snapshot, the plan is abandoned and the roots it needed are returned. Each
/// retry loads at least one more root, so a caller's loop ends.
pub fn plan(
    events: &[&Event],
    snapshot: &GraphSnapshot,
    settings: ResolutionSettings,
    new_customer_id: &mut dyn FnMut() -> CustomerId,
) -> Result<ResolutionPlan, SummariesNeeded> {
    let mut graph = WorkingGraph::new(snapshot.clone(), settings);
    for event in events {
        let home = graph.resolve_event(event, new_customer_id);
        graph.plan.event_homes.push(home);
    }
    if graph.missing_summaries.is_empty() {
        Ok(graph.plan)
    } else {
        Err(SummariesNeeded(graph.missing_summaries.into_iter().collect()))
    }
}

struct WorkingGraph {
    identity_nodes: HashMap<String, CustomerId>,
    node_roots: HashMap<CustomerId, CustomerId>,
    /// Absorbed root → survivor, for merges made during this plan.
    absorbed_into: HashMap<CustomerId, CustomerId>,
    roots: HashMap<CustomerId, RootSummary>,
    separated_pairs: Vec<(CustomerId, CustomerId)>,
    refused_pairs: HashSet<(CustomerId, CustomerId)>,
    /// Stored roots a decision needed whose summaries the snapshot lacks.
    missing_summaries: BTreeSet<CustomerId>,
    settings: ResolutionSettings,
    plan: ResolutionPlan,
}

impl WorkingGraph {
    fn new(snapshot: GraphSnapshot, settings: ResolutionSettings) -> WorkingGraph {
        WorkingGraph {
            identity_nodes: snapshot.identity_nodes,
            node_roots: snapshot.node_roots,
            absorbed_into: HashMap::new(),
            roots: snapshot.roots,
            separated_pairs: snapshot.separated_pairs,
            refused_pairs: HashSet::new(),
            missing_summaries: BTreeSet::new(),
            settings,
            plan: ResolutionPlan::default(),
        }
    }

    fn root_of(&self, node: &CustomerId) -> CustomerId {
        let mut root = self.node_roots.get(node).cloned().unwrap_or_else(|| node.clone());
        while let Some(survivor) = self.absorbed_into.get(&root) {
            root = survivor.clone();
        }
        root
    }

    /// The summary a decision reads. A stored root's summary that was not loaded is recorded as
    /// missing (the plan will be redone), and a stand-in lets this pass finish.
    fn summary(&mut self, root: &CustomerId) -> RootSummary {
        self.roots.get(root).cloned().unwrap_or_else(|| {
            self.missing_summaries.insert(root.clone());
            RootSummary { created_at_ms: 0, identity_count: 0, user_id: None }
        })
    }

    fn node_of(&self, identity: &Identity) -> Option<CustomerId> {
        self.identity_nodes.get(&identity.key()).cloned()
    }

    fn resolve_event(&mut self, event: &Event, new_customer_id: &mut dyn FnMut() -> CustomerId) -> CustomerId {
        let at_ms = millis(event.timestamp);
        let primary = event.primary_identity();
        let mut others: Vec<Identity> =
            event.linked_identities.iter().filter(|identity| **identity != primary).cloned().collect();
        if event.event_type == EventType::Alias
            && let Some(previous_id) = &event.previous_id
        {
            // A former user id if known as one, else an anonymous id (known or new).
            let candidates = alias_candidates(previous_id);
            let known = candidates.iter().find(|candidate| self.node_of(candidate).is_some());
            if let Some(previous) = known.or(candidates.last()) {
                others.push(previous.clone());
            }
        }

        let home = match self.node_of(&primary) {
            Some(node) => node,
            None => {
                let node = self
                    .compatible_node_for(&primary, &others)
                    .unwrap_or_else(|| self.create_customer(new_customer_id(), at_ms));
                self.link(primary.clone(), node.clone(), event, at_ms);
                node
            }
        };

        for identity in others {
            match self.node_of(&identity) {
                None => self.link(identity, home.clone(), event, at_ms),
                Some(node) => {
                    let (home_root, other_root) = (self.root_of(&home), self.root_of(&node));
                    if home_root != other_root {
                        self.decide_merge(home_root, other_root, &identity, event, at_ms);
                    }
                }
            }
        }
        home
    }

    /// A known node that an unknown primary identity may join without breaking a guard.
    fn compatible_node_for(&mut self, primary: &Identity, others: &[Identity]) -> Option<CustomerId> {
        let nodes: Vec<CustomerId> = others.iter().filter_map(|identity| self.node_of(identity)).collect();
        // Only a user id can conflict: other identities join without reading the summary.
        nodes
            .into_iter()
            .find(|node| *primary.kind() != IdentityKind::UserId || self.summary(&self.root_of(node)).user_id.is_none())
    }

    fn create_customer(&mut self, id: CustomerId, at_ms: i64) -> CustomerId {
        self.node_roots.insert(id.clone(), id.clone());
        self.roots.insert(id.clone(), RootSummary { created_at_ms: at_ms, identity_count: 0, user_id: None });
        self.plan.new_customers.push(NewCustomer { id: id.clone(), created_at_ms: at_ms });
        id
    }

    fn link(&mut self, identity: Identity, node: CustomerId, event: &Event, at_ms: i64) {
        // Counted only in a loaded summary: one not loaded is read (and this event replayed onto
        // it) only if a later decision needs it.
        let root = self.root_of(&node);
        if let Some(summary) = self.roots.get_mut(&root) {
            summary.identity_count += 1;
            if *identity.kind() == IdentityKind::UserId {
                debug_assert!(summary.user_id.is_none(), "a second user id must never join a customer");
                summary.user_id = Some(identity.value().to_owned());
            }
        }
        self.identity_nodes.insert(identity.key(), node.clone());
        self.plan.new_links.push(NewLink { identity, customer: node, message_id: event.message_id.clone(), at_ms });
    }

    fn is_separated(&self, first: &CustomerId, second: &CustomerId) -> bool {
        self.separated_pairs.iter().any(|(left, right)| {
            let (left_root, right_root) = (self.root_of(left), self.root_of(right));
            (&left_root == first && &right_root == second) || (&left_root == second && &right_root == first)
        })
    }

    fn decide_merge(
        &mut self,
        home_root: CustomerId,
        other_root: CustomerId,
        via: &Identity,
        event: &Event,
        at_ms: i64,
    ) {
        let home = self.summary(&home_root);
        let other = self.summary(&other_root);
        let would_hold = home.identity_count + other.identity_count;
        let refusal = if self.is_separated(&home_root, &other_root) {
            Some(RefusalReason::SeparatedByAdmin)
        } else if home.user_id.is_some() && other.user_id.is_some() {
            Some(RefusalReason::ConflictingUserIds)
        } else if would_hold > self.settings.max_identities {
            Some(RefusalReason::TooManyIdentities { would_hold, max: self.settings.max_identities })
        } else {
            None
        };

        let decision = |survivor: &CustomerId, absorbed: &CustomerId, outcome| MergeDecision {
            survivor: survivor.clone(),
            absorbed: absorbed.clone(),
            outcome,
            via_identity: via.key(),
            message_id: event.message_id.clone(),
            event_type: event.event_type,
            at_ms,
        };
        if let Some(reason) = refusal {
            let pair = ordered_pair(&home_root, &other_root);
            if self.refused_pairs.insert(pair) {
                self.plan.merges.push(decision(&home_root, &other_root, MergeOutcome::Refused(reason)));
            }
            return;
        }

        // The survivor is the side with a user id, else the older customer (ties by id).
        let other_survives = match (&home.user_id, &other.user_id) {
            (Some(_), _) => false,
            (None, Some(_)) => true,
            (None, None) => (other.created_at_ms, &other_root) < (home.created_at_ms, &home_root),
        };
        let (survivor, absorbed) = if other_survives { (other_root, home_root) } else { (home_root, other_root) };
        let merged = RootSummary {
            created_at_ms: home.created_at_ms.min(other.created_at_ms),
            identity_count: would_hold,
            user_id: home.user_id.or(other.user_id),
        };
        self.roots.remove(&absorbed);
        self.roots.insert(survivor.clone(), merged);
        self.absorbed_into.insert(absorbed.clone(), survivor.clone());
        self.plan.merges.push(decision(&survivor, &absorbed, MergeOutcome::Merged));
    }
}

fn ordered_pair(first: &CustomerId, second: &CustomerId) -> (CustomerId, CustomerId) {
    if first <= second { (first.clone(), second.clone()) } else { (second.clone(), first.clone()) }
}

/// Milliseconds since the Unix epoch, the time unit of the store.
pub fn millis(time: time::OffsetDateTime) -> i64 {
    (time.unix_timestamp_nanos() / 1_000_000) as i64
}

/// After an undo, recomputes the root of every node of a former component from its `merged_into`
/// pointers. Returns `(node, root)` for every node given.
pub fn recompute_roots(nodes: &[(CustomerId, Option<CustomerId>)]) -> Vec<(CustomerId, CustomerId)> {
    let parent: HashMap<&CustomerId, &CustomerId> =
        nodes.iter().filter_map(|(node, merged_into)| merged_into.as_ref().map(|target| (node, target))).collect();
    nodes
        .iter()
        .map(|(node, _)| {
            let mut root = node;
            let mut steps = 0;
            while let Some(next) = parent.get(root) {
                root = next;
                steps += 1;
                debug_assert!(steps <= nodes.len(), "merged_into pointers must not form a cycle");
                if steps > nodes.len() {
                    break;
                }
            }
            (node.clone(), root.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{BatchEnvelope, parse_event};
    use serde_json::{Value, json};
    use time::macros::datetime;

    fn event(value: Value) -> Event {
        let implied = None;
        parse_event(&value, 0, implied, &BatchEnvelope::default(), datetime!(2026-01-01 00:00 UTC)).unwrap().0
    }

    /// Plans events one group at a time over an in-memory graph, as the store would.
    struct Graph {
        snapshot: GraphSnapshot,
        next_id: usize,
        settings: ResolutionSettings,
    }

    impl Graph {
        fn new() -> Graph {
            Graph { snapshot: GraphSnapshot::default(), next_id: 0, settings: ResolutionSettings::default() }
        }

        fn apply(&mut self, events: Vec<Value>) -> ResolutionPlan {
            let events: Vec<Event> = events.into_iter().map(event).collect();
            let events: Vec<&Event> = events.iter().collect();
            let mut next_id = self.next_id;
            let plan = plan(&events, &self.snapshot, self.settings, &mut || {
                next_id += 1;
                CustomerId(format!("c{next_id}"))
            })
            .expect("this graph holds every root's summary");
            self.next_id = next_id;
            for customer in &plan.new_customers {
                self.snapshot.node_roots.insert(customer.id.clone(), customer.id.clone());
                let summary = RootSummary { created_at_ms: customer.created_at_ms, identity_count: 0, user_id: None };
                self.snapshot.roots.insert(customer.id.clone(), summary);
            }
            for link in &plan.new_links {
                self.snapshot.identity_nodes.insert(link.identity.key(), link.customer.clone());
                let root = self.snapshot.node_roots[&link.customer].clone();
                let summary = self.snapshot.roots.get_mut(&root).unwrap();
                summary.identity_count += 1;
                if *link.identity.kind() == IdentityKind::UserId {
                    summary.user_id = Some(link.identity.value().to_owned());
                }
            }
            for merge in plan.merges.iter().filter(|merge| merge.outcome == MergeOutcome::Merged) {
                for root in self.snapshot.node_roots.values_mut() {
                    if *root == merge.absorbed {
                        *root = merge.survivor.clone();
                    }
                }
                let absorbed = self.snapshot.roots.remove(&merge.absorbed).unwrap();
                let survivor = self.snapshot.roots.get_mut(&merge.survivor).unwrap();
                survivor.identity_count += absorbed.identity_count;
                survivor.user_id = survivor.user_id.clone().or(absorbed.user_id);
            }
            plan
        }

        fn root_of(&self, key: &str) -> CustomerId {
            let node = &self.snapshot.identity_nodes[key];
            self.snapshot.node_roots[node].clone()
        }
    }

    #[test]
    fn a_visitor_signs_up_then_uses_the_app_and_calls_support() {
        let mut graph = Graph::new();
        graph.apply(vec![json!({"type": "page", "anonymousId": "web-1", "name": "Home"})]);
        graph.apply(vec![
            json!({"type": "identify", "anonymousId": "web-1", "userId": "u1", "traits": {"email": "jane@x.org"}}),
        ]);
        graph.apply(vec![json!({"type": "track", "userId": "u1", "anonymousId": "app-9", "event": "Opened"})]);
        let plan = graph.apply(vec![json!({"type": "identify", "anonymousId": "phone-call-3", "traits": {"email": "JANE@x.org", "phone": "+14155552671"}})]);
        // The phone call's anonymous id joins Jane's customer: no new customer is needed.
        assert!(plan.new_customers.is_empty(), "{plan:?}");
        let jane = graph.root_of("userId:u1");
        for key in [
            "anonymousId:web-1",
            "email:jane@x.org",
            "anonymousId:app-9",
            "anonymousId:phone-call-3",
            "phone:+14155552671",
        ] {
            assert_eq!(graph.root_of(key), jane, "{key}");
        }
    }

    #[test]
    fn two_user_ids_are_never_merged() {
        let mut graph = Graph::new();
        graph.apply(vec![json!({"type": "identify", "userId": "alice", "traits": {"email": "shared@family.org"}})]);
        let plan =
            graph.apply(vec![json!({"type": "identify", "userId": "bob", "traits": {"email": "shared@family.org"}})]);
        assert_ne!(graph.root_of("userId:alice"), graph.root_of("userId:bob"));
        assert_eq!(plan.merges.len(), 1);
        assert_eq!(plan.merges[0].outcome, MergeOutcome::Refused(RefusalReason::ConflictingUserIds));
        // A shared device: bob logs in on alice's browser. The browser stays alice's.
        graph.apply(vec![json!({"type": "identify", "userId": "alice", "anonymousId": "browser-1"})]);
        let plan = graph.apply(vec![json!({"type": "identify", "userId": "carol", "anonymousId": "browser-1"})]);
        assert_eq!(graph.root_of("anonymousId:browser-1"), graph.root_of("userId:alice"));
        assert_ne!(graph.root_of("userId:carol"), graph.root_of("userId:alice"));
        assert_eq!(plan.new_customers.len(), 1, "carol gets her own customer");
    }

    #[test]
    fn merges_stop_at_the_identity_cap() {
        let mut graph = Graph::new();
        graph.settings.max_identities = 3;
        graph.apply(vec![
            json!({"type": "identify", "anonymousId": "a1", "traits": {"email": "a@x.org", "phone": "+14155552671"}}),
        ]);
        let plan = graph.apply(vec![json!({"type": "identify", "anonymousId": "a2", "traits": {"email": "a@x.org"}})]);
        // a2 joined a1's customer directly (no merge needed), now 4 identities: over the cap is fine
        // for a customer's own identities; the cap only stops merges of two customers.
        assert!(plan.merges.is_empty());
        graph.apply(vec![json!({"type": "identify", "anonymousId": "b1", "traits": {"email": "b@x.org"}})]);
        let plan =
            graph.apply(vec![json!({"type": "identify", "anonymousId": "b1", "traits": {"phone": "+14155552671"}})]);
        assert_eq!(
            plan.merges[0].outcome,
            MergeOutcome::Refused(RefusalReason::TooManyIdentities { would_hold: 6, max: 3 })
        );
        assert_ne!(graph.root_of("anonymousId:b1"), graph.root_of("anonymousId:a1"));
    }

    #[test]
    fn the_user_id_side_survives_and_refusals_are_recorded_once() {
        let mut graph = Graph::new();
        graph.apply(vec![json!({"type": "page", "anonymousId": "old-visitor"})]);
        graph.apply(vec![json!({"type": "identify", "userId": "u7"})]);
        let plan = graph.apply(vec![json!({"type": "alias", "userId": "u7", "previousId": "old-visitor"})]);
        assert_eq!(plan.merges.len(), 1);
        let merge = &plan.merges[0];
        assert_eq!(merge.outcome, MergeOutcome::Merged);
        assert_eq!(merge.survivor, graph.root_of("userId:u7"));
        assert_eq!(merge.via_identity, "anonymousId:old-visitor");
        assert!(merge.explanation().contains("anonymousId:old-visitor"));

        graph.apply(vec![json!({"type": "identify", "userId": "u8", "traits": {"email": "e@x.org"}})]);
        let plan = graph.apply(vec![
            json!({"type": "identify", "userId": "u7", "traits": {"email": "e@x.org"}}),
            json!({"type": "identify", "userId": "u7", "traits": {"email": "e@x.org"}}),
        ]);
        assert_eq!(plan.merges.len(), 1, "the same refusal is recorded once per plan");
    }

    #[test]
    fn separated_customers_stay_apart() {
        let mut graph = Graph::new();
        graph.apply(vec![json!({"type": "identify", "anonymousId": "x", "traits": {"email": "x@x.org"}})]);
        graph.apply(vec![json!({"type": "identify", "anonymousId": "y"})]);
        let (x, y) = (graph.root_of("anonymousId:x"), graph.root_of("anonymousId:y"));
        graph.snapshot.separated_pairs.push((x.clone(), y.clone()));
        let plan = graph.apply(vec![json!({"type": "identify", "anonymousId": "y", "traits": {"email": "x@x.org"}})]);
        assert_eq!(plan.merges[0].outcome, MergeOutcome::Refused(RefusalReason::SeparatedByAdmin));
    }

    #[test]
    fn events_in_one_group_see_each_other() {
        let mut graph = Graph::new();
        let plan = graph.apply(vec![
            json!({"type": "page", "anonymousId": "a"}),
            json!({"type": "page", "anonymousId": "a"}),
            json!({"type": "identify", "anonymousId": "a", "userId": "u"}),
        ]);
        assert_eq!(plan.new_customers.len(), 1);
        assert_eq!(plan.event_homes.iter().collect::<HashSet<_>>().len(), 1);
        assert_eq!(
            lookup_keys(&[&event(json!({"type": "alias", "userId": "u", "previousId": "p"}))]),
            ["anonymousId:p", "userId:p", "userId:u"]
        );
    }

    #[test]
    fn the_newest_trait_wins_and_refusals_are_stored_in_pair_order() {
        let mut graph = Graph::new();
        let events: Vec<Event> = [
            json!({"type": "identify", "userId": "u", "traits": {"city": "Rome"}, "timestamp": "2026-01-02T00:00:00Z"}),
            json!({"type": "identify", "userId": "u", "traits": {"city": "Oslo"}, "timestamp": "2026-01-01T00:00:00Z"}),
            json!({"type": "identify", "userId": "u", "traits": {"city": "Lima", "plan": "pro"}, "timestamp": "2026-01-02T00:00:00Z"}),
        ]
        .into_iter()
        .map(event)
        .collect();
        let events: Vec<&Event> = events.iter().collect();
        let plan = plan(&events, &graph.snapshot, graph.settings, &mut || CustomerId("c1".to_owned())).unwrap();
        let mut writes = trait_writes(&events, &plan);
        writes.sort_by(|left, right| left.key.cmp(&right.key));
        let written: Vec<(&str, Value)> =
            writes.iter().map(|write| (write.key.as_str(), write.value.clone())).collect();
        assert_eq!(
            written,
            [("city", json!("Lima")), ("plan", json!("pro"))],
            "newest wins; a tie goes to the later event"
        );

        graph.apply(vec![json!({"type": "identify", "userId": "a", "traits": {"email": "x@x.org"}})]);
        let refused = graph.apply(vec![json!({"type": "identify", "userId": "b", "traits": {"email": "x@x.org"}})]);
        let row = refused.merges[0].row();
        assert_eq!((row.outcome, row.reason), ("refused", "conflicting_user_ids"));
        assert!(row.survivor <= row.absorbed);
    }

    #[test]
    fn summaries_are_asked_for_only_when_a_decision_needs_them() {
        let mut graph = Graph::new();
        graph.apply(vec![json!({"type": "identify", "anonymousId": "a1", "traits": {"email": "a@x.org"}})]);
        graph.apply(vec![json!({"type": "identify", "userId": "u2", "traits": {"email": "b@x.org"}})]);
        let (first, second) = (graph.root_of("anonymousId:a1"), graph.root_of("userId:u2"));
        // The store's snapshot: the graph's nodes and roots, but no summaries loaded yet.
        let mut snapshot = GraphSnapshot { roots: HashMap::new(), ..graph.snapshot.clone() };
        let mut mint = || CustomerId("new".to_owned());

        // Joining a known customer, or linking a new e-mail to one, decides nothing.
        let known = event(json!({"type": "identify", "anonymousId": "a1", "traits": {"email": "new@x.org"}}));
        let linked = plan(&[&known], &snapshot, graph.settings, &mut mint).expect("no summary needed");
        assert_eq!(linked.new_links.len(), 1);

        // A merge reads both sides; the plan names them, and with them loaded it completes.
        let bridge = event(json!({"type": "identify", "anonymousId": "a1", "traits": {"email": "b@x.org"}}));
        let SummariesNeeded(needed) = plan(&[&bridge], &snapshot, graph.settings, &mut mint).unwrap_err();
        assert_eq!(needed.iter().collect::<HashSet<_>>(), HashSet::from([&first, &second]));
        for root in needed {
            snapshot.roots.insert(root.clone(), graph.snapshot.roots[&root].clone());
        }
        let merged = plan(&[&bridge], &snapshot, graph.settings, &mut mint).expect("summaries loaded");
        let row = merged.merges[0].row();
        assert_eq!((row.outcome, row.survivor.clone()), ("merged", second.clone()), "the side with a user id survives");

        // An unknown user id joining a known customer reads that customer's user id.
        let joining = event(json!({"type": "identify", "userId": "u3", "traits": {"email": "a@x.org"}}));
        let empty = GraphSnapshot { roots: HashMap::new(), ..graph.snapshot.clone() };
        assert_eq!(plan(&[&joining], &empty, graph.settings, &mut mint), Err(SummariesNeeded(vec![first])));
    }

    #[test]
    fn undo_recomputes_roots_from_pointers() {
        let id = |text: &str| CustomerId(text.to_owned());
        // c was merged into b, b into a; undoing b→a leaves b as the root of b and c.
        let roots = recompute_roots(&[(id("a"), None), (id("b"), None), (id("c"), Some(id("b")))]);
        assert_eq!(roots, [(id("a"), id("a")), (id("b"), id("b")), (id("c"), id("b"))]);
    }
}
