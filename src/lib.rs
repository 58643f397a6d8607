//! leasecheck proves, or refutes with a replayable counterexample, that a
//! Postgres-backed leader-election lease is safe: exactly one leader, correct
//! takeover of a stalled leader, no split brain, under real concurrency and
//! injected faults.
//!
//! - [`lease`]: the leases it runs, behind one trait ([`Contender`]): the
//!   reference [`Lease`] (one autocommit `UPDATE` per operation with the
//!   server's `now()`), the fenced lease (P8), a spec file's statements.
//! - [`spec`]: the spec file format.
//! - [`adapter`]: the adapter protocol (`--exec`): a lease in any language,
//!   one process per candidate, JSON lines on stdin/stdout.
//! - [`fault`]: the faults that stall a leader, and their one dispatch.
//! - [`scenario`]: race, semantics, conformance, takeover, zombie.
//! - [`battery`] plans and runs, [`verdict`] judges a recorded scenario
//!   (online and offline alike), [`settings`] are built and validated
//!   once, [`report`] formats (text, JSON, JUnit, the HTML page),
//!   [`plot`] draws (timelines, charts), [`catalogue`] lists known-broken
//!   leases.
//! - [`doctor`]: what this machine offers a run.
//! - [`process`]: external tools run within a deadline, and the watchdog
//!   that undoes what leasecheck made if leasecheck is killed.
//! - [`database`]: a real server from `DATABASE_URL`, a throwaway local
//!   cluster, or a container; PgBouncer; the harness's own [`Schema`].
//! - [`Ttl`], [`HolderId`], [`Ident`], [`TableName`]: validated inputs.
//! - The pure model, the checker and histories live in the
//!   [`leasecheck_model`] crate, re-exported as [`model`].

pub mod adapter;
pub mod battery;
pub mod catalogue;
pub mod database;
pub mod doctor;
pub mod fault;
mod input;
pub mod lease;
pub mod plot;
pub mod process;
mod recorder;
pub mod report;
pub mod scenario;
pub mod settings;
pub mod spec;
pub mod verdict;

pub use database::{Postgres, ProvisionError, Schema, SchemaError, Source};
pub use input::{HolderError, HolderId, Ident, IdentError, TableName, Ttl, TtlError};
pub use lease::{Contender, Lease, LeaseError};
pub use leasecheck_model as model;
pub use recorder::{RecordError, Recorder, Reply, HARNESS, MAX_EVENTS};
pub use scenario::{RunError, Subject};
pub use spec::{Isolation, Operation, Spec, SpecError};
