//! Histories: what a run observed, one event per call.
//!
//! Times are microseconds on ONE clock for the whole run, aligned with the
//! server's clock: the recorder takes the wall-clock time once at the start of
//! the run and adds a monotonic clock's elapsed time to it, so `invoke` and
//! `complete` never go backwards and a server timestamp (`now()` of the
//! statement, which Postgres takes at transaction start) normally falls
//! between them.

use crate::lease::{Candidate, Op};
use crate::time::{Span, Time};
use serde::{Deserialize, Serialize};

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call returned true: it took effect.
    Ok,
    /// The call returned false: it did not take effect.
    Fail,
    /// The connection broke mid-call: it may or may not have taken effect.
    Unknown,
}

/// What was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Call {
    /// A lease operation by a candidate.
    Lease {
        /// The operation.
        op: Op,
    },
    /// The harness made the lease free (between rounds).
    Reset,
    /// The harness made the current tenure look older by `by` (simulated time).
    Age {
        /// How much older.
        by: Span,
    },
}

/// One call: who, what, when, and what came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// The caller (for `Reset` and `Age`, the harness's own id).
    pub candidate: Candidate,
    /// What was called.
    #[serde(flatten)]
    pub call: Call,
    /// When the call was made.
    pub invoke: Time,
    /// When it returned (or failed).
    pub complete: Time,
    /// The server's `now()` that the call wrote, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<Time>,
    /// What it returned.
    pub outcome: Outcome,
}

/// A whole run's history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The TTL the lease ran with.
    pub ttl: Span,
    /// The events in the order they completed.
    pub events: Vec<Event>,
}
