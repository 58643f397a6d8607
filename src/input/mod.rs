//! Validated inputs: the lease's TTL, a holder id, SQL identifiers.
//!
//! Each type can only be built through its validation, so a value of it is
//! known good everywhere else; nothing here talks to Postgres or reads a
//! clock.

mod holder;
mod ident;
mod ttl;

pub(crate) use holder::random_u64;
pub use holder::{HolderError, HolderId};
pub use ident::{Ident, IdentError, TableName};
pub use ttl::{Ttl, TtlError};
