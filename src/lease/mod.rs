//! The leases leasecheck runs, behind one trait ([`Contender`]): the
//! reference lease, the fenced lease (the reference plus an epoch), and a
//! spec file's statements ([`SpecLease`]), a lease in any language behind
//! an adapter process ([`ExecLease`]); the owned, self-healing
//! connection they share; the reference SQL, written once; and
//! [`LeaseError`].
//!
//! A lease never reads the harness's clock, never records history and never
//! injects a fault: it performs one operation when asked and says whether it
//! took effect.

mod connection;
mod contender;
mod error;
mod exec;
mod fenced;
mod reference;
mod serve;
mod spec;
mod sql;

pub(crate) use connection::backend_pid;
pub use contender::Contender;
pub use error::{LeaseError, SpecSite};
pub use exec::ExecLease;
pub use fenced::{FencedLease, Tenure};
pub use reference::Lease;
pub use serve::{serve, ServeError};
pub use spec::SpecLease;
pub use sql::{ReferenceSql, WRITTEN};
