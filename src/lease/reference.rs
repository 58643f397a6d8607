//! The reference lease over the synchronous `postgres` crate.
//!
//! # Design
//!
//! One row per lease (`id = 1`, `leader`, `acquired_at`), seeded once with
//! `INSERT ... ON CONFLICT DO NOTHING` so that bootstrap self-heals. Each
//! operation is ONE autocommit `UPDATE ... RETURNING`, judged by the server's
//! `now()`, so it is safe through a transaction-pooling PgBouncer and immune
//! to client clock skew:
//!
//! - [`Lease::try_acquire`] takes the row if it is free (`leader = ''`) or
//!   stale (`acquired_at < now() - ttl`, strictly older than the TTL). The
//!   holder of a fresh lease fails: acquire is not re-entrant.
//! - [`Lease::renew`] sets `acquired_at = now()` where `leader` is the caller.
//!   `None` means "you are not the leader any more": stop acting at once.
//! - [`Lease::release`] frees the row where `leader` is the caller.
//!
//! Statements go out unnamed with their parameter types in one round trip
//! (`query_typed`), never as named prepared statements, which a transaction
//! pooler would strand on another backend.
//!
//! Success is decided from the rows the statement *returned*, never from a
//! driver's count of affected rows. Each call returns the server timestamp it
//! wrote (`Some(time)`) or `None` when it did not take effect.
//!
//! # Errors mean "leadership unknown"
//!
//! An `Err` from any operation means the caller does not know whether it is
//! the leader: the statement may or may not have committed. It must stop
//! acting as leader until a later call succeeds.
//!
//! # Connections
//!
//! A lease that opened its own connection ([`Lease::connect`]) discards it
//! after an error and opens a new one on the next call, logging both. A
//! connection handed in by the caller ([`Lease::with_client`]) is never
//! closed or replaced: after an error the lease keeps returning errors until
//! the caller fixes the connection.

use super::connection::{backend_pid, Reconnecting};
use super::error::LeaseError;
use super::sql::ReferenceSql;
use crate::database::Client;
use crate::input::{HolderId, TableName, Ttl};
use leasecheck_model::Time;
use postgres::types::Type;

enum Connection<'c> {
    Owned(Box<Reconnecting>),
    Borrowed(&'c mut Client),
}

/// A handle on one lease row for one holder.
pub struct Lease<'c> {
    conn: Connection<'c>,
    table: TableName,
    ttl: Ttl,
    holder: HolderId,
    sql: ReferenceSql,
    prepare: bool,
    /// The three operations prepared on the connection of a generation.
    prepared: Option<(u64, Prepared)>,
}

/// The operations as prepared statements of one connection.
struct Prepared {
    try_acquire: postgres::Statement,
    renew: postgres::Statement,
    release: postgres::Statement,
}

#[derive(Clone, Copy)]
enum Which {
    TryAcquire,
    Renew,
    Release,
}

impl Lease<'static> {
    /// A lease on its own connection to `url` (a `postgres://` URL or a
    /// `key=value` string). The connection is opened now and reopened after
    /// any error.
    ///
    /// ```no_run
    /// use leasecheck::{HolderId, Lease, TableName, Ttl};
    /// let mut lease = Lease::connect(
    ///     "postgres://postgres@127.0.0.1:5432/postgres",
    ///     TableName::new("lease_lock")?,
    ///     Ttl::parse("10")?,
    ///     HolderId::for_process(),
    /// )?;
    /// lease.ensure_table()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(
        url: &str,
        table: TableName,
        ttl: Ttl,
        holder: HolderId,
    ) -> Result<Lease<'static>, LeaseError> {
        Lease::connect_with(&Reconnecting::parse(url)?, table, ttl, holder)
    }

    /// [`Lease::connect`] with connection settings already parsed.
    pub fn connect_with(
        config: &postgres::Config,
        table: TableName,
        ttl: Ttl,
        holder: HolderId,
    ) -> Result<Lease<'static>, LeaseError> {
        Ok(Lease::new(
            Connection::Owned(Box::new(Reconnecting::open(config)?)),
            table,
            ttl,
            holder,
        ))
    }
}

impl<'c> Lease<'c> {
    /// A lease on a connection the caller owns; the lease never closes or replaces it.
    ///
    /// ```no_run
    /// use leasecheck::{HolderId, Lease, TableName, Ttl};
    /// let mut client = leasecheck::database::Client::connect(&"host=127.0.0.1 user=postgres".parse()?)?;
    /// let mut lease = Lease::with_client(
    ///     &mut client,
    ///     TableName::new("lease_lock")?,
    ///     Ttl::from_secs_f64(10.0)?,
    ///     HolderId::for_process(),
    /// );
    /// let won = lease.try_acquire()?.is_some();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_client(
        client: &'c mut Client,
        table: TableName,
        ttl: Ttl,
        holder: HolderId,
    ) -> Lease<'c> {
        Lease::new(Connection::Borrowed(client), table, ttl, holder)
    }

    fn new(conn: Connection<'c>, table: TableName, ttl: Ttl, holder: HolderId) -> Lease<'c> {
        let sql = ReferenceSql::new(&table);
        Lease {
            conn,
            table,
            ttl,
            holder,
            sql,
            prepare: false,
            prepared: None,
        }
    }

    /// Prepare the three operations once per connection instead of sending
    /// each call as an unnamed statement that Postgres parses and plans
    /// anew: about a third cheaper per call. Off by default, because a
    /// transaction pooler (PgBouncer before 1.21 in transaction mode) strands
    /// prepared statements on whichever backend prepared them.
    ///
    /// ```no_run
    /// # fn f(lease: leasecheck::Lease<'static>) {
    /// let lease = lease.prepared(true); // direct connection: no pooler in between
    /// # }
    /// ```
    pub fn prepared(mut self, on: bool) -> Self {
        self.prepare = on;
        self.prepared = None;
        self
    }

    /// Create the lease table if it does not exist and seed its row if it is
    /// missing. Idempotent and safe to run from many processes at once.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::Lease) -> Result<(), leasecheck::LeaseError> {
    /// lease.ensure_table()?;
    /// # Ok(()) }
    /// ```
    pub fn ensure_table(&mut self) -> Result<(), LeaseError> {
        let create = self.sql.create.clone();
        let seed = self.sql.seed.clone();
        let lock_key = self.table.to_string();
        self.run("create table", move |client| {
            // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the
            // catalog; a transaction-scoped advisory lock on the name serialises it.
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock_key])?;
            tx.batch_execute(&create)?;
            tx.execute(&seed, &[])?;
            tx.commit()
        })
    }

    /// Take the lease if it is free or stale. `Some(server time written)` if it
    /// took effect, `None` if another holder has a fresh lease (or this holder
    /// does: acquire is not re-entrant).
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::Lease) -> Result<(), leasecheck::LeaseError> {
    /// if let Some(at) = lease.try_acquire()? {
    ///     println!("leader since {at}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn try_acquire(&mut self) -> Result<Option<Time>, LeaseError> {
        self.operate("try_acquire", Which::TryAcquire)
    }

    /// Extend this holder's tenure. `None` means "not the leader any more".
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::Lease) -> Result<(), leasecheck::LeaseError> {
    /// if lease.renew()?.is_none() {
    ///     // deposed: stop acting now
    /// }
    /// # Ok(()) }
    /// ```
    pub fn renew(&mut self) -> Result<Option<Time>, LeaseError> {
        self.operate("renew", Which::Renew)
    }

    /// Free the lease if this holder has it; a no-op (`None`) otherwise.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::Lease) -> Result<(), leasecheck::LeaseError> {
    /// lease.release()?;
    /// # Ok(()) }
    /// ```
    pub fn release(&mut self) -> Result<Option<Time>, LeaseError> {
        self.operate("release", Which::Release)
    }

    /// One operation: unnamed and typed in one round trip, or prepared once
    /// per connection generation (see [`Lease::prepared`]).
    fn operate(&mut self, what: &'static str, which: Which) -> Result<Option<Time>, LeaseError> {
        let Lease {
            conn,
            table,
            ttl,
            holder,
            sql,
            prepare,
            prepared,
        } = self;
        let holder_text = holder.as_str();
        let ttl = ttl.as_secs_f64();
        let mut f = |c: &mut Client, generation: u64| -> Result<Option<Time>, postgres::Error> {
            let text = match which {
                Which::TryAcquire => &sql.try_acquire,
                Which::Renew => &sql.renew,
                Which::Release => &sql.release,
            };
            let row = if !*prepare {
                match which {
                    Which::TryAcquire => c.query_typed_opt(
                        text,
                        &[(&holder_text, Type::TEXT), (&ttl, Type::FLOAT8)],
                    )?,
                    _ => c.query_typed_opt(text, &[(&holder_text, Type::TEXT)])?,
                }
            } else {
                if !matches!(prepared, Some((g, _)) if *g == generation) {
                    let both = [Type::TEXT, Type::FLOAT8];
                    *prepared = Some((
                        generation,
                        Prepared {
                            try_acquire: c.prepare_typed(&sql.try_acquire, &both)?,
                            renew: c.prepare_typed(&sql.renew, &both[..1])?,
                            release: c.prepare_typed(&sql.release, &both[..1])?,
                        },
                    ));
                }
                let Some((_, p)) = prepared.as_ref() else {
                    unreachable!("prepared just above")
                };
                match which {
                    Which::TryAcquire => c.query_opt(&p.try_acquire, &[&holder_text, &ttl])?,
                    Which::Renew => c.query_opt(&p.renew, &[&holder_text])?,
                    Which::Release => c.query_opt(&p.release, &[&holder_text])?,
                }
            };
            written(row)
        };
        let statement = |source| LeaseError::Statement {
            what,
            table: table.to_string(),
            source,
        };
        match conn {
            Connection::Borrowed(client) => f(client, 0).map_err(statement),
            Connection::Owned(owned) => owned.run(&*holder, f, statement),
        }
    }

    /// The process id of the backend serving this lease's connection (opening
    /// it first if an earlier error discarded it).
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::Lease) -> Result<(), leasecheck::LeaseError> {
    /// let pid = lease.backend_pid()?;
    /// # Ok(()) }
    /// ```
    pub fn backend_pid(&mut self) -> Result<i32, LeaseError> {
        self.run("pg_backend_pid", backend_pid)
    }

    /// The holder id this lease acts for.
    pub fn holder(&self) -> &HolderId {
        &self.holder
    }

    /// The TTL.
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// The lease table.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    /// The current connection, if one is open (an owned connection is absent
    /// between an error and the next call).
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::Lease) -> Result<(), postgres::Error> {
    /// if let Some(client) = lease.client() {
    ///     let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn client(&mut self) -> Option<&mut Client> {
        match &mut self.conn {
            Connection::Owned(conn) => conn.client(),
            Connection::Borrowed(client) => Some(client),
        }
    }

    /// Run `f` on the connection; for an owned connection, open it first if an
    /// earlier error discarded it, and discard it after an error.
    pub(crate) fn run<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, LeaseError> {
        let table = &self.table;
        let statement = |source| LeaseError::Statement {
            what,
            table: table.to_string(),
            source,
        };
        match &mut self.conn {
            Connection::Borrowed(client) => f(client).map_err(statement),
            Connection::Owned(conn) => conn.run(&self.holder, |c, _| f(c), statement),
        }
    }
}

/// The server time a statement wrote, from its `RETURNING` row.
fn written(row: Option<postgres::Row>) -> Result<Option<Time>, postgres::Error> {
    row.map(|row| row.try_get::<_, i64>(0).map(Time::from_micros))
        .transpose()
}
