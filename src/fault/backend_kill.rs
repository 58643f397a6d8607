//! `backend-kill`: the leader's own backend terminated by the server
//! (`pg_terminate_backend`), as an operator, an idle-session cull or a
//! proxy's health check would (JasperFx/wolverine#2602). It only ever
//! terminates the backend of the leader's own connection, after checking
//! that it is a client backend of the harness's database.
//!
//! Whatever the session held goes with it: a session advisory lock is
//! released at once, an open transaction is rolled back, and the client
//! learns nothing until its next call fails on the closed connection. A
//! lease kept in a row is untouched. There is nothing to undo: the kill is
//! the whole fault, and the scenario records it in the history as the
//! leader's [`SessionEnd`](leasecheck_model::history::Call::SessionEnd).

use super::{Fault, FaultError};
use crate::database::Client;

/// How long the server waits for a terminated backend to exit.
const EXIT_TIMEOUT_MS: i64 = 5000;

/// The termination of one backend.
#[derive(Debug)]
pub struct BackendKill {
    pid: i32,
}

impl BackendKill {
    /// Terminate the backend `pid` (from `SELECT pg_backend_pid()` on the
    /// leader's own connection), from `admin`, a connection of the harness
    /// to the same database. Returns once the backend has exited.
    ///
    /// Refuses, and terminates nothing, a pid that is not a client backend
    /// of `admin`'s database, or that is `admin`'s own. Needs superuser, the
    /// backend's own role, or `pg_signal_backend`; Postgres's refusal is
    /// reported as it is.
    ///
    /// ```no_run
    /// use leasecheck::fault::BackendKill;
    /// # fn f(pg: &leasecheck::Postgres, leader: &mut leasecheck::database::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let pid: i32 = leader.query_one("SELECT pg_backend_pid()", &[])?.get(0);
    /// BackendKill::terminate(&mut pg.connect()?, pid)?;
    /// assert!(leader.query_one("SELECT 1", &[]).is_err()); // the session is gone
    /// # Ok(()) }
    /// ```
    pub fn terminate(admin: &mut Client, pid: i32) -> Result<BackendKill, FaultError> {
        const FAULT: Fault = Fault::BackendKill;
        let refuse = |reason: String| FaultError::WrongProcess {
            fault: FAULT,
            pid: pid.into(),
            reason,
        };
        let err = |what| {
            move |source| FaultError::Postgres {
                fault: FAULT,
                what,
                source,
            }
        };
        let row = admin
            .query_opt(
                "SELECT backend_type, datname = current_database(), pid = pg_backend_pid() \
                   FROM pg_stat_activity WHERE pid = $1",
                &[&pid],
            )
            .map_err(err("look up the leader's backend in pg_stat_activity"))?;
        let Some(row) = row else {
            return Err(refuse("no backend of the server has that pid".into()));
        };
        let (kind, ours, own): (Option<String>, Option<bool>, bool) = (
            row.try_get(0).map_err(err("read pg_stat_activity"))?,
            row.try_get(1).map_err(err("read pg_stat_activity"))?,
            row.try_get(2).map_err(err("read pg_stat_activity"))?,
        );
        if own {
            return Err(refuse("it is the harness's own session".into()));
        }
        if kind.as_deref() != Some("client backend") || ours != Some(true) {
            return Err(refuse(format!(
                "it is not a client backend of this database (it is {})",
                kind.as_deref().unwrap_or("of no known type")
            )));
        }
        let exited: bool = admin
            .query_one(
                "SELECT pg_terminate_backend($1, $2)",
                &[&pid, &EXIT_TIMEOUT_MS],
            )
            .and_then(|row| row.try_get(0))
            .map_err(err("pg_terminate_backend"))?;
        if !exited {
            return Err(FaultError::Server {
                fault: FAULT,
                what: "terminate the leader's backend",
                reason: format!(
                    "backend {pid} did not exit within {} s of pg_terminate_backend",
                    EXIT_TIMEOUT_MS / 1000
                ),
            });
        }
        tracing::info!(pid, "terminated the leader's backend (backend-kill)");
        Ok(BackendKill { pid })
    }

    /// The terminated backend's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}
