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
//!   the model explains it (linearizability plus tenure overlap).
//!
//! This crate has no database dependency, so it builds and tests under
//! `RUSTFLAGS="--cfg loom"` without compiling any Postgres code.

mod atomic;
pub mod check;
pub mod history;
mod lease;
pub mod sync;
mod time;

pub use atomic::AtomicLease;
pub use lease::{Candidate, Lease, LeaseState, Op};
pub use time::{Span, Time};
