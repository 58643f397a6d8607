//! `row-lock`: a blocker session of the harness's own holds a row `FOR
//! UPDATE` until the guard is dropped. It only locks tables in the harness's
//! schema and ends its transaction on undo (or by closing its connection).

use super::{Fault, FaultError};
use crate::database::Client;
use crate::input::TableName;
use std::fmt;

/// A blocker session holding the lease row `FOR UPDATE` in an open
/// transaction, until this guard is dropped or undone (`ROLLBACK`).
///
/// It blocks every write of the row, not only the leader's: the holder's
/// `renew` and `release`, and a standby's `try_acquire` as soon as the lease
/// is free or stale, so no takeover can happen while it is held (the stalled
/// leader's tenure runs on past its TTL with nobody able to replace it). A
/// standby polling a *fresh* lease is not blocked: its `UPDATE`'s `WHERE`
/// matches no row, and a row that does not match is never waited for, so it
/// is answered `None` at once. Once undone, the waiting writes run in arrival
/// order, each re-checking its `WHERE` against the row as the earlier ones
/// left it. A waiting statement's `now()` is its transaction's start, so a
/// renew that waited writes the time it *arrived*, not the time it committed.
#[must_use = "dropping the guard releases the row at once"]
pub struct RowLock {
    client: Option<Client>,
    table: String,
}

impl RowLock {
    /// Open a transaction on `client` (a connection of its own, not the
    /// leader's) and lock the row `id = 1` of `table`. Returns once the lock
    /// is held; waits if another transaction holds the row meanwhile.
    ///
    /// Fails with [`FaultError::RowMissing`] if the row does not exist
    /// (nothing would be blocked).
    ///
    /// ```no_run
    /// use leasecheck::fault::RowLock;
    /// # fn f(pg: &leasecheck::Postgres, table: &leasecheck::TableName) -> Result<(), Box<dyn std::error::Error>> {
    /// let lock = RowLock::hold(pg.connect()?, table)?;
    /// // ... every renew and acquire on the table waits ...
    /// lock.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn hold(mut client: Client, table: &TableName) -> Result<RowLock, FaultError> {
        const FAULT: Fault = Fault::RowLock;
        let err = |what| {
            move |source| FaultError::Postgres {
                fault: FAULT,
                what,
                source,
            }
        };
        client.batch_execute("BEGIN").map_err(err("BEGIN"))?;
        let rows = client
            .query(
                &format!("SELECT 1 FROM {table} WHERE id = 1 FOR UPDATE"),
                &[],
            )
            .map_err(err("SELECT ... FOR UPDATE"))?;
        if rows.is_empty() {
            let _ = client.batch_execute("ROLLBACK");
            return Err(FaultError::RowMissing {
                fault: FAULT,
                table: table.to_string(),
            });
        }
        tracing::info!(fault = %FAULT, %table, "holding the lease row FOR UPDATE");
        Ok(RowLock {
            client: Some(client),
            table: table.to_string(),
        })
    }

    /// Roll the blocker's transaction back, releasing the row, and close its
    /// connection. If the rollback fails the connection is closed anyway,
    /// which ends the transaction on the server too.
    ///
    /// ```no_run
    /// # fn f(lock: leasecheck::fault::RowLock) -> Result<(), leasecheck::fault::FaultError> {
    /// lock.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn undo(mut self) -> Result<(), FaultError> {
        self.undo_once()
    }

    fn undo_once(&mut self) -> Result<(), FaultError> {
        let Some(mut client) = self.client.take() else {
            return Ok(());
        };
        let result = client.batch_execute("ROLLBACK");
        drop(client);
        match result {
            Ok(()) => {
                tracing::info!(fault = %Fault::RowLock, table = %self.table, "released the lease row (ROLLBACK)");
                Ok(())
            }
            Err(source) => {
                tracing::info!(fault = %Fault::RowLock, table = %self.table,
                    "ROLLBACK failed; closed the blocker's connection, which ends its transaction");
                Err(FaultError::Postgres {
                    fault: Fault::RowLock,
                    what: "ROLLBACK",
                    source,
                })
            }
        }
    }
}

impl fmt::Debug for RowLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowLock")
            .field("table", &self.table)
            .field("held", &self.client.is_some())
            .finish()
    }
}

impl Drop for RowLock {
    fn drop(&mut self) {
        if let Err(e) = self.undo_once() {
            tracing::error!("undoing a row lock: {e}");
        }
    }
}
