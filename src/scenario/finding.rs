//! A property a runner found violated by itself (P1 in a race round, P3 and
//! P4 in a takeover, P5 in the semantics sequence, P8 epochs in a zombie),
//! with the events that show it. The checker's verdicts on whole histories
//! are the model crate's; a finding never comes from a guess about timing
//! that the model would allow.

use leasecheck_model::check::Property;
use leasecheck_model::history::Event;

/// A property a trial found violated, with the events that show it.
#[derive(Clone, Debug)]
pub struct TrialFinding {
    /// Which property.
    pub property: Property,
    /// What happened.
    pub message: String,
    /// The events involved.
    pub events: Vec<Event>,
}
