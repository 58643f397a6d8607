//! The fenced lease (DESIGN.md P8, beyond the reference): the reference lease
//! plus an `epoch` column, and the protected resource that fences with it.
//!
//! # Why
//!
//! The reference lease cannot stop a leader that is still *acting* after it
//! was deposed: it learns at its next renew, and a pause between its last
//! check and its write (a GC pause, a slow query) can outlast the TTL while a
//! standby takes over and acts (DESIGN.md section 2a; `leasecheck zombie`
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
//! [`Resource`] is the harness's own protected resource: one row with the
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

use crate::connection::Reconnecting;
use crate::holder::HolderId;
use crate::ident::{Ident, TableName};
use crate::lease::LeaseError;
use crate::ttl::Ttl;
use leasecheck_model::Time;
use postgres::types::Type;
use postgres::Client;

/// A new tenure of a fenced lease: its epoch and the server time it was won.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tenure {
    /// The tenure's fencing epoch (one more than the previous tenure's).
    pub epoch: u64,
    /// The server's `now()` the acquire wrote.
    pub since: Time,
}

/// The statements of a fenced lease table.
#[derive(Clone, Debug)]
struct Statements {
    create: String,
    add_epoch: String,
    seed: String,
    try_acquire: String,
    renew: String,
    release: String,
}

/// The server time a statement wrote, in microseconds (as the reference's).
const WRITTEN: &str = "(extract(epoch FROM acquired_at) * 1000000)::int8";

impl Statements {
    fn new(table: &TableName) -> Statements {
        Statements {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                   id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                   leader text NOT NULL DEFAULT '',
                   acquired_at timestamptz NOT NULL DEFAULT now(),
                   epoch bigint NOT NULL DEFAULT 0)"
            ),
            add_epoch: format!(
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0"
            ),
            seed: format!("INSERT INTO {table} (id) VALUES (1) ON CONFLICT DO NOTHING"),
            try_acquire: format!(
                "UPDATE {table} SET leader = $1, acquired_at = now(), epoch = epoch + 1
                  WHERE id = 1 AND (leader = '' OR acquired_at < now() - make_interval(secs => $2))
                  RETURNING {WRITTEN}, epoch"
            ),
            renew: format!(
                "UPDATE {table} SET acquired_at = now()
                  WHERE id = 1 AND leader = $1 AND epoch = $2 RETURNING {WRITTEN}"
            ),
            release: format!(
                "UPDATE {table} SET leader = '', acquired_at = now()
                  WHERE id = 1 AND leader = $1 AND epoch = $2 RETURNING {WRITTEN}"
            ),
        }
    }
}

/// A handle on one fenced lease row for one holder (see the module docs).
///
/// ```no_run
/// use leasecheck::fenced::FencedLease;
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
    sql: Statements,
    epoch: Option<u64>,
}

impl FencedLease {
    /// A fenced lease on its own connection to `url` (a `postgres://` URL or
    /// a `key=value` string), opened now, discarded after any error and
    /// reopened on the next call, like [`Lease::connect`](crate::Lease::connect).
    pub fn connect(
        url: &str,
        table: TableName,
        ttl: Ttl,
        holder: HolderId,
    ) -> Result<FencedLease, LeaseError> {
        Ok(FencedLease {
            conn: Reconnecting::open(url)?,
            sql: Statements::new(&table),
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
        self.run("pg_backend_pid", |c| {
            c.query_typed_one("SELECT pg_backend_pid()", &[])?
                .try_get(0)
        })
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

/// The harness's protected resource in a schema: the `zombie_resource` row
/// that leaders write to (fenced or not), and one `zombie_work` row per
/// actor that a leader's work touches before it writes (the row-lock fault
/// locks the leader's).
#[derive(Clone, Debug)]
pub struct Resource {
    table: TableName,
    work: TableName,
    fenced_write: String,
    plain_write: String,
    work_step: String,
}

/// A write to the resource: accepted with its place in the resource's order,
/// or refused by the fence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Accepted; the resource's count of accepted writes after it (1, 2, ...).
    Accepted(u64),
    /// Refused: the resource had accepted a higher epoch.
    Refused,
}

impl Resource {
    /// The resource's tables in `schema` (see [`Resource::install`]).
    pub fn in_schema(schema: &Ident) -> Resource {
        let name = |t: &str| match TableName::new(t) {
            Ok(t) => t.in_schema(schema.clone()),
            Err(e) => unreachable!("the resource's table names are valid: {e}"),
        };
        let (table, work) = (name("zombie_resource"), name("zombie_work"));
        Resource {
            fenced_write: format!(
                "UPDATE {table} SET seq = seq + 1, fence = $2, writer = $1
                  WHERE id = 1 AND fence <= $2 RETURNING seq"
            ),
            plain_write: format!(
                "UPDATE {table} SET seq = seq + 1, writer = $1 WHERE id = 1 RETURNING seq"
            ),
            work_step: format!("UPDATE {work} SET ticks = ticks + 1 WHERE id = $1"),
            table,
            work,
        }
    }

    /// Create the tables, with work rows `1..=actors` (actor `c` works on row
    /// `c + 1`, so the first actor, the leader, on row 1).
    pub fn install(&self, client: &mut Client, actors: u16) -> Result<(), postgres::Error> {
        let (table, work) = (&self.table, &self.work);
        client.batch_execute(&format!(
            "CREATE TABLE {table} (
               id int PRIMARY KEY CHECK (id = 1),
               seq bigint NOT NULL DEFAULT 0,
               fence bigint NOT NULL DEFAULT 0,
               writer text NOT NULL DEFAULT '');
             INSERT INTO {table} (id) VALUES (1);
             CREATE TABLE {work} (id int PRIMARY KEY, ticks bigint NOT NULL DEFAULT 0);
             INSERT INTO {work} (id) SELECT generate_series(1, {actors});"
        ))
    }

    /// Forget the highest epoch accepted (between rounds, when the lease is
    /// reset too); the count of writes goes on.
    pub fn reset(&self, client: &mut Client) -> Result<(), postgres::Error> {
        client
            .execute(&format!("UPDATE {} SET fence = 0", self.table), &[])
            .map(|_| ())
    }

    /// The table that holds the actors' work rows (locked by the row-lock fault).
    pub fn work_table(&self) -> &TableName {
        &self.work
    }

    /// One step of `actor`'s work before its write: an update of its own work
    /// row (a query a fault can stall).
    pub fn work(&self, client: &mut Client, actor: u16) -> Result<(), postgres::Error> {
        let row = i32::from(actor) + 1;
        client
            .query_typed(&self.work_step, &[(&row, Type::INT4)])
            .map(|_| ())
    }

    /// Write as `writer`: fenced with `epoch` when there is one (refused if
    /// the resource accepted a higher epoch, in the same statement), plain
    /// otherwise.
    pub fn write(
        &self,
        client: &mut Client,
        writer: &str,
        epoch: Option<u64>,
    ) -> Result<Write, postgres::Error> {
        let row = match epoch {
            Some(e) => {
                let e = i64::try_from(e).unwrap_or(i64::MAX);
                client.query_typed_opt(
                    &self.fenced_write,
                    &[(&writer, Type::TEXT), (&e, Type::INT8)],
                )?
            }
            None => client.query_typed_opt(&self.plain_write, &[(&writer, Type::TEXT)])?,
        };
        Ok(match row {
            Some(row) => Write::Accepted(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0)),
            None => Write::Refused,
        })
    }
}
