//! [`Candidate`]: who calls the lease, as the model and histories name it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A candidate for leadership: a small integer standing for a holder id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Candidate(pub u16);

impl Candidate {
    /// The id the harness's own calls (reset, age) are recorded under.
    pub const HARNESS: Candidate = Candidate(u16::MAX);
}

/// `c<N>`, or `harness` for [`Candidate::HARNESS`].
impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Candidate::HARNESS {
            f.write_str("harness")
        } else {
            write!(f, "c{}", self.0)
        }
    }
}
