//! [`Op`]: the three operations of a lease.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The three operations of a lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Take the lease if it is free or stale.
    TryAcquire,
    /// Extend the caller's own tenure.
    Renew,
    /// Give the lease up.
    Release,
}

impl Op {
    /// All operations, in a fixed order.
    pub const ALL: [Op; 3] = [Op::TryAcquire, Op::Renew, Op::Release];

    /// The operation's name as used in histories and reports.
    pub fn name(self) -> &'static str {
        match self {
            Op::TryAcquire => "try_acquire",
            Op::Renew => "renew",
            Op::Release => "release",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
