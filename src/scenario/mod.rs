//! The scenarios: what runs against the lease under test and what each run
//! observed. A race of N candidates (P1), the release and non-holder rules
//! (P5), random sequential calls (P7), a leader stalled past its TTL under a
//! fault (P2-P6), a zombie leader whose work outlasts its lease (P8) and an
//! acknowledged acquire across a crash of the server (P9); the probes of
//! `leasecheck characterize` (which semantics a lease has); the
//! lease under test in its schema ([`Subject`]); the zombie's protected
//! resource; and what the stall scenarios share.
//!
//! A scenario records every call and reports what it saw (figures, and
//! [`Finding`](leasecheck_model::recording::Finding)s: a property it found
//! violated by itself, with the events that show it, never from a guess
//! about timing that the model would allow); it never formats a report and
//! never decides exit codes, and
//! every fault it injects goes through [`crate::fault::Injector`].

pub mod characterize;
pub mod conformance;
pub mod durability;
mod error;
pub mod race;
mod resource;
pub mod semantics;
mod stall;
mod subject;
pub mod takeover;
pub mod zombie;

pub use error::RunError;
pub use resource::{Resource, Write};
pub use stall::{takeover_bound, LEADER};
pub use subject::Subject;
