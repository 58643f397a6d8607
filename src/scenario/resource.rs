//! The harness's protected resource for the zombie scenario: the row leaders
//! write to, fenced by epoch or not, and the work rows a stalled leader's
//! work touches before it writes.
//!
//! It belongs to the harness, never to the lease under test: it lives in the
//! subject's schema and is dropped with it.

use crate::database::Client;
use crate::input::{Ident, TableName};
use postgres::types::Type;

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
