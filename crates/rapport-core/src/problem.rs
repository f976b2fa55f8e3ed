//! Field-level problems and warnings, the shape every rejection and warning takes in the API.

use std::fmt::Display;

/// One thing wrong with one field of one event. `index` is the event's position in its batch
/// (`None` for the batch envelope itself); `field` is a dotted path such as `context.traits.email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub index: Option<usize>,
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    pub fn new(index: usize, field: &str, problem: &str) -> FieldProblem {
        FieldProblem { index: Some(index), field: field.to_owned(), problem: problem.to_owned() }
    }

    pub fn envelope(field: &str, problem: &str) -> FieldProblem {
        FieldProblem { index: None, field: field.to_owned(), problem: problem.to_owned() }
    }
}

/// Something accepted but not used as the sender may have meant, reported back with the `200`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub index: usize,
    pub field: String,
    pub problem: String,
}

impl Warning {
    pub fn new(index: usize, field: &str, problem: &str) -> Warning {
        Warning { index, field: field.to_owned(), problem: problem.to_owned() }
    }

    /// A trait that could not become an identity: stored as a trait, not linked.
    pub fn not_linked(index: usize, field: &str, error: &impl Display) -> Warning {
        Warning::new(index, field, &format!("{error}: kept as a trait, not linked to the customer"))
    }
}
