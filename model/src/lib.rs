//! The pure model of a Postgres leader-election lease.
//!
//! The model is the oracle for everything leasecheck checks:
//!
//! - [`Lease`] is a deterministic state machine with explicit time
//!   ([`Time`], [`Span`]): it never reads a clock, so a test can replay any
//!   sequence of operations exactly.
//! - [`AtomicLease`] is a concurrent in-memory lease built on the same rules
//!   with one compare-and-swap per operation (the analogue of one conditional
//!   `UPDATE`), checked exhaustively by loom under `--cfg loom`.
//! - [`history`] and [`check`] record what a run observed and decide whether
//!   the model explains it (linearizability plus tenure overlap), and whether
//!   the leaders' actions stayed inside their tenures (P8).
//! - [`Fence`], [`AtomicFence`] and [`AtomicFencedLease`] are fencing (P8):
//!   epochs that grow with every tenure, and a resource that refuses a write
//!   from an older tenure; [`TrustWindow`] is the leader-side bound on how
//!   long a leader may act after its last successful acquire or renew.
//!
//! - [`synthetic`] writes large valid histories, deterministic by seed,
//!   for measuring the checker.
//! - [`Semantics`] are the rules a lease declares (a re-entrant acquire, no
//!   expiry, ...): [`Semantics::step`] is the one transition every model
//!   above follows, with the reference's rules as the default.
//!
//! This crate has no database dependency, so it builds and tests under
//! `RUSTFLAGS="--cfg loom"` without compiling any Postgres code.

mod atomic;
mod candidate;
pub mod check;
mod fence;
pub mod history;
mod lease;
mod op;
pub mod recording;
mod semantics;
pub mod sync;
pub mod synthetic;
mod time;
mod trust;

pub use atomic::AtomicLease;
pub use candidate::Candidate;
pub use fence::{AtomicFence, AtomicFencedLease, Fence};
pub use lease::{Lease, LeaseState};
pub use op::Op;
pub use semantics::{Contradiction, Effect, Row, Semantics};
pub use time::{Span, Time};
pub use trust::TrustWindow;
