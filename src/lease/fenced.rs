//! The fenced lease (P8, beyond the reference): the reference lease
//! plus an `epoch` column, and the protected resource that fences with it.
//!
//! # Why
//!
//! The reference lease cannot stop a leader that is still *acting* after it
//! was deposed: it learns at its next renew, and a pause between its last
//! check and its write (a GC pause, a slow query) can outlast the TTL while a
//! standby takes over and acts (the zombie leader; `leasecheck zombie`
//! shows it). Fencing moves the last check into the write itself.
//!
//! # The lease
//!
//! [`FencedLease`] is the reference lease's row with one more column,
//! `epoch bigint NOT NULL DEFAULT 0`, and still ONE autocommit
//! `UPDATE ... RETURNING` per operation (pooler-safe, server time):
//!
//! - `try_acquire` takes a free or stale lease exactly as the reference does
//!   and sets `epoch = epoch + 1`: every new tenure, also a holder retaking
//!   its own stale lease, gets the next epoch; it returns the epoch, which
//!   the holder carries ([`FencedLease::epoch`]);
//! - `renew` and `release` are scoped to the holder's own tenure:
//!   `WHERE leader = $1 AND epoch = $2`. A renew never changes the epoch.
//!
//! A holder knows its epoch only from a successful `try_acquire`. After an
//! error from `try_acquire` (leadership unknown) it forgets it: until it wins
//! again its renew and release fail, since a tenure it cannot name is one it
//! must not act in. (The history checker's model has no epochs: if such an
//! acquire did take effect, that holder's failed renew of a lease it holds
//! is reported as non-linearizable. leasecheck's runners do not lose
//! acquires; the harness itself never relies on it.)
//!
//! # The resource
//!
//! [`Resource`](crate::scenario::Resource) is the harness's own protected resource: one row with the
//! highest epoch it accepted (`fence`) and a count of accepted writes
//! (`seq`, the resource's own order). A fenced write is ONE statement that
//! refuses a lower epoch in the same step as the write:
//!
//! ```sql
//! UPDATE zombie_resource SET seq = seq + 1, fence = $2, writer = $1
//!  WHERE id = 1 AND fence <= $2 RETURNING seq
//! ```
//!
//! so once a newer tenure has written, no write of an older one is accepted,
//! however late it arrives; an unfenced write (a lease without epochs) is
//! the same statement without the condition.

use super::connection::{backend_pid, Reconnecting};
use super::error::LeaseError;
use super::sql::ReferenceSql;
use crate::database::Client;
use crate::input::{HolderId, TableName, Ttl};
use leasecheck_model::Time;
use postgres::types::Type;

/// A new tenure of a fenced lease: its epoch and the server time it was won.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tenure {
    /// The tenure's fencing epoch (one more than the previous tenure's).
    pub epoch: u64,
    /// The server's `now()` the acquire wrote.
    pub since: Time,
}

/// A handle on one fenced lease row for one holder (see the module docs).
///
/// ```no_run
/// use leasecheck::lease::FencedLease;
/// use leasecheck::{HolderId, TableName, Ttl};
/// let mut lease = FencedLease::connect(
///     "postgres://postgres@127.0.0.1:5432/postgres",
///     TableName::new("lease_lock")?,
///     Ttl::from_secs_f64(10.0)?,
///     HolderId::for_process(),
/// )?;
/// lease.ensure_table()?;
/// if let Some(tenure) = lease.try_acquire()? {
///     // send tenure.epoch with every write to the protected resource
///     assert_eq!(lease.epoch(), Some(tenure.epoch));
///     lease.renew()?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FencedLease {
    conn: Reconnecting,
    table: TableName,
    ttl: Ttl,
    holder: HolderId,
    sql: ReferenceSql,
    epoch: Option<u64>,
}

impl FencedLease {
    /// A fenced lease on its own connection to `url` (a `postgres://` URL or
    /// a `key=value` string), opened now, discarded after any error and
    /// reopened on the next call, like [`Lease::connect`](super::Lease::connect).
    pub fn connect(
        url: &str,
        table: TableName,
        ttl: Ttl,
        holder: HolderId,
    ) -> Result<FencedLease, LeaseError> {
        FencedLease::connect_with(&Reconnecting::parse(url)?, table, ttl, holder)
    }

    /// [`FencedLease::connect`] with connection settings already parsed.
    pub fn connect_with(
        config: &postgres::Config,
        table: TableName,
        ttl: Ttl,
        holder: HolderId,
    ) -> Result<FencedLease, LeaseError> {
        Ok(FencedLease {
            conn: Reconnecting::open(config)?,
            sql: ReferenceSql::fenced(&table),
            table,
            ttl,
            holder,
            epoch: None,
        })
    }

    /// Create the table if it does not exist, add the `epoch` column to a
    /// reference lease table that lacks it, and seed the row if it is
    /// missing. Idempotent and safe to run from many processes at once.
    pub fn ensure_table(&mut self) -> Result<(), LeaseError> {
        let sql = self.sql.clone();
        let lock_key = self.table.to_string();
        self.run("create table", move |client| {
            let mut tx = client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&lock_key])?;
            tx.batch_execute(&sql.create)?;
            tx.batch_execute(&sql.add_epoch)?;
            tx.execute(&sql.seed, &[])?;
            tx.commit()
        })
    }

    /// Take the lease if it is free or stale, starting a new tenure with the
    /// next epoch, which this handle then carries. `None` if another holder
    /// (or this one) has a fresh lease. After an `Err` the handle carries no
    /// epoch (the acquire may have taken effect with one it never saw).
    pub fn try_acquire(&mut self) -> Result<Option<Tenure>, LeaseError> {
        let sql = self.sql.try_acquire.clone();
        let holder = self.holder.as_str().to_string();
        let ttl = self.ttl.as_secs_f64();
        let result = self.run("try_acquire", move |c| {
            c.query_typed_opt(&sql, &[(&holder, Type::TEXT), (&ttl, Type::FLOAT8)])?
                .map(|row| -> Result<Tenure, postgres::Error> {
                    let since = Time::from_micros(row.try_get::<_, i64>(0)?);
                    let epoch: i64 = row.try_get(1)?;
                    Ok(Tenure {
                        // the column starts at 0 and only grows
                        epoch: u64::try_from(epoch).unwrap_or(0),
                        since,
                    })
                })
                .transpose()
        });
        match &result {
            Ok(Some(tenure)) => self.epoch = Some(tenure.epoch),
            Ok(None) => {}
            Err(_) => self.epoch = None,
        }
        result
    }

    /// Extend this holder's tenure, the one of the epoch it carries. `None`
    /// means "not the leader of that tenure any more" (or no epoch carried).
    pub fn renew(&mut self) -> Result<Option<Time>, LeaseError> {
        let sql = self.sql.renew.clone();
        self.scoped("renew", sql)
    }

    /// Free the lease if this holder has it in the tenure of its epoch.
    pub fn release(&mut self) -> Result<Option<Time>, LeaseError> {
        let sql = self.sql.release.clone();
        self.scoped("release", sql)
    }

    fn scoped(&mut self, what: &'static str, sql: String) -> Result<Option<Time>, LeaseError> {
        let holder = self.holder.as_str().to_string();
        // NULL when no epoch is carried: `epoch = NULL` matches no row.
        let epoch: Option<i64> = self.epoch.and_then(|e| i64::try_from(e).ok());
        self.run(what, move |c| {
            c.query_typed_opt(&sql, &[(&holder, Type::TEXT), (&epoch, Type::INT8)])?
                .map(|row| row.try_get::<_, i64>(0).map(Time::from_micros))
                .transpose()
        })
    }

    /// The epoch of the tenure this handle last won, if it knows one.
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// The process id of the backend serving this lease's connection.
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

    fn run<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, LeaseError> {
        let table = self.table.to_string();
        self.conn.run(
            &self.holder,
            |c, _| f(c),
            |source| LeaseError::Statement {
                what,
                table,
                source,
            },
        )
    }
}
