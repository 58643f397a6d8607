//! Where Postgres comes from and the harness's own places in it: a server
//! ([`Postgres`]: `DATABASE_URL`, a throwaway local cluster, or a container),
//! PgBouncer in front of it, the harness's schema per check, and the wording
//! of the driver's errors.
//!
//! Nothing here knows about leases or scenarios; the harness only ever stops
//! or drops what this module started or created.

mod address;
mod client;
mod cluster;
pub(crate) mod diagnostic;
mod pooler;
mod provision;
mod replica;
mod schema;
mod system_settings;

pub use address::{upstream_of, url_of, AddressError};
pub use client::{
    async_config, call_timeout, is_deadline, set_call_timeout, Client, Transaction,
    DEFAULT_CALL_TIMEOUT_MS,
};
pub(crate) use cluster::{
    as_user, free_port, log_tail, owned_tempdir, unprivileged_user, wait_until_ready, Server,
};
pub use cluster::{find_bindir, BINDIR_ENV, MAX_CONNECTIONS};
pub use pooler::{find_pgbouncer, Pooler, PoolerError, POOL_SIZE};
pub use provision::{
    redact_url, Postgres, ProvisionError, Source, DATABASE_URL_ENV, DEFAULT_IMAGE, IMAGE_ENV,
    SOURCE_ENV,
};
pub use replica::Replica;
pub use schema::{Schema, SchemaError};
pub use system_settings::SystemSettings;
