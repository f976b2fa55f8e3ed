//! Two segments' analytics of one journey side by side: the differences in conversion (to the
//! goal and stage by stage) with their intervals and z tests, and in each touchpoint's drop-off
//! and friction.

use serde::Serialize;

use crate::journey::analytics::{Analytics, Share};
use crate::metrics::stats::{Difference, difference};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageDifference {
    pub stage: String,
    /// `b − a` in the share who went on to a later stage.
    pub continued: Option<Difference>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TouchpointDifference {
    pub key: String,
    pub drop_off: Option<Difference>,
    pub friction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Differences {
    pub converted: Option<Difference>,
    pub stages: Vec<StageDifference>,
    pub touchpoints: Vec<TouchpointDifference>,
}

/// `b − a` of two shares, each with its binomial variance; `None` when either is empty.
fn shares(a: &Share, b: &Share) -> Option<Difference> {
    let (pa, pb) = (a.share?, b.share?);
    Some(difference(pa, pa * (1.0 - pa) / a.n as f64, pb, pb * (1.0 - pb) / b.n as f64))
}

/// What changes from segment `a` to segment `b` (both analyses of the same journey and period).
pub fn differences(a: &Analytics, b: &Analytics) -> Differences {
    Differences {
        converted: shares(&a.converted, &b.converted),
        stages: a
            .stages
            .iter()
            .zip(&b.stages)
            .map(|(x, y)| StageDifference { stage: x.stage.clone(), continued: shares(&x.continued, &y.continued) })
            .collect(),
        touchpoints: a
            .touchpoints
            .iter()
            .zip(&b.touchpoints)
            .map(|(x, y)| TouchpointDifference {
                key: x.key.clone(),
                drop_off: x.drop_off.as_ref().zip(y.drop_off.as_ref()).and_then(|(x, y)| shares(x, y)),
                friction: y.friction.score - x.friction.score,
            })
            .collect(),
    }
}
