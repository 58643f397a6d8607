//! leasecheck proves, or refutes with a replayable counterexample, that a
//! Postgres-backed leader-election lease is safe: exactly one leader, correct
//! takeover of a stalled leader, no split brain, under real concurrency and
//! injected faults.
//!
//! - [`Lease`]: the reference lease, one autocommit `UPDATE` per operation
//!   with the server's `now()` (DESIGN.md section 1); [`fenced::FencedLease`]:
//!   the same with a fencing epoch (P8), and the resource it protects.
//! - [`Postgres`]: a real server from `DATABASE_URL`, a throwaway local
//!   cluster, or a container; [`Schema`]: the harness's own schema per check.
//! - [`Ttl`], [`HolderId`], [`Ident`], [`TableName`]: validated inputs.
//! - The pure model, the checker and histories live in the
//!   [`leasecheck_model`] crate, re-exported as [`model`].

pub mod battery;
pub mod catalogue;
mod connection;
mod contender;
mod diagnostic;
pub mod fault;
pub mod fenced;
mod history;
mod holder;
mod ident;
mod lease;
pub mod pooler;
pub mod provision;
pub mod proxy;
pub mod report;
mod schema;
pub mod spec;
pub mod stress;
mod subject;
pub mod takeover;
mod ttl;
pub mod zombie;

pub use contender::Contender;
pub use history::{Recorder, Reply, HARNESS};
pub use holder::{HolderError, HolderId};
pub use ident::{Ident, IdentError, TableName};
pub use lease::{Lease, LeaseError, SpecSite};
pub use leasecheck_model as model;
pub use provision::{Postgres, ProvisionError, Source};
pub use schema::{Schema, SchemaError};
pub use spec::{Isolation, Operation, Spec, SpecError, SpecLease};
pub use subject::{RunError, Subject};
pub use ttl::{Ttl, TtlError, DEFAULT_TTL, TTL_ENV};
