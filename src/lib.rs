//! leasecheck proves, or refutes with a replayable counterexample, that a
//! Postgres-backed leader-election lease is safe: exactly one leader, correct
//! takeover of a stalled leader, no split brain, under real concurrency and
//! injected faults.
//!
//! - [`Lease`]: the reference lease, one autocommit `UPDATE` per operation
//!   with the server's `now()` (DESIGN.md section 1).
//! - [`Postgres`]: a real server from `DATABASE_URL`, a throwaway local
//!   cluster, or a container; [`Schema`]: the harness's own schema per check.
//! - [`Ttl`], [`HolderId`], [`Ident`], [`TableName`]: validated inputs.
//! - The pure model, the checker and histories live in the
//!   [`leasecheck_model`] crate, re-exported as [`model`].

mod diagnostic;
mod holder;
mod ident;
mod lease;
pub mod provision;
mod schema;
mod ttl;

pub use holder::{HolderError, HolderId};
pub use ident::{Ident, IdentError, TableName};
pub use lease::{Lease, LeaseError};
pub use leasecheck_model as model;
pub use provision::{Postgres, ProvisionError, Source};
pub use schema::{Schema, SchemaError};
pub use ttl::{Ttl, TtlError, DEFAULT_TTL, TTL_ENV};
