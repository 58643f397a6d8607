//! `backend-stall`: the leader's own backend process stopped with `SIGSTOP`
//! until the guard is dropped. It only ever stops a `postgres` process whose
//! parent is the harness's own postmaster (or, without one, a `postgres`).

use super::process::{comm, pid_of, signal, stat, wait_stopped, STOP_TIMEOUT};
use super::{Fault, FaultError};
use crate::database::Client;
use crate::database::Postgres;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use std::time::Instant;

/// The leader's own backend process, stopped with `SIGSTOP` until this guard
/// is dropped or undone (`SIGCONT`).
///
/// While stopped, the backend reads nothing: the leader's next statement sits
/// in the socket and its call hangs, while every other session (the
/// standbys') keeps working, so a standby can take over meanwhile.
///
/// Only possible where leasecheck runs the cluster on this host
/// ([`Postgres::postmaster_pid`] is `Some`): the caller decides, with
/// [`Fault::applicable`]. A container's `pg_backend_pid()` is a pid of the
/// container's namespace, and on this host the same number is another
/// process: [`BackendStall::stop`] therefore refuses any pid that is not a
/// `postgres` process whose parent is a `postgres` process, and
/// [`BackendStall::stop_backend_of`] also checks that the parent is the
/// cluster's own postmaster.
#[derive(Debug)]
#[must_use = "dropping the guard continues the backend at once"]
pub struct BackendStall {
    pid: i32,
    undone: bool,
}

impl BackendStall {
    /// Stop the backend `pid` (from `SELECT pg_backend_pid()` on the leader's
    /// connection). Returns once the process is in the stopped state.
    ///
    /// Refuses (and signals nothing) a pid that is not positive, or not a
    /// `postgres` process whose parent is also `postgres`.
    ///
    /// ```no_run
    /// use leasecheck::fault::BackendStall;
    /// # fn f(leader: &mut leasecheck::database::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let pid: i32 = leader.query_one("SELECT pg_backend_pid()", &[])?.get(0);
    /// let stall = BackendStall::stop(pid)?;
    /// // ... the leader's statements hang until:
    /// stall.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn stop(pid: i32) -> Result<BackendStall, FaultError> {
        BackendStall::stop_checked(pid, None)
    }

    /// Stop the backend of `client`, a connection to `pg` (typically the
    /// leader's: [`crate::Lease::client`]). Checks that `pg` is a cluster
    /// leasecheck runs on this host and that the backend is its postmaster's
    /// child.
    ///
    /// ```no_run
    /// use leasecheck::fault::BackendStall;
    /// # fn f(pg: &leasecheck::Postgres, lease: &mut leasecheck::Lease) -> Result<(), Box<dyn std::error::Error>> {
    /// let client = lease.client().ok_or("no open connection")?;
    /// let _stall = BackendStall::stop_backend_of(client, pg)?;
    /// # Ok(()) }
    /// ```
    pub fn stop_backend_of(client: &mut Client, pg: &Postgres) -> Result<BackendStall, FaultError> {
        const FAULT: Fault = Fault::BackendStall;
        FAULT.check_applicable(pg)?;
        let Some(postmaster) = pg.postmaster_pid() else {
            unreachable!("applicable() checked that there is a postmaster")
        };
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .and_then(|row| row.try_get(0))
            .map_err(|source| FaultError::Postgres {
                fault: FAULT,
                what: "SELECT pg_backend_pid()",
                source,
            })?;
        BackendStall::stop_checked(pid, Some(postmaster))
    }

    fn stop_checked(pid: i32, postmaster: Option<u32>) -> Result<BackendStall, FaultError> {
        const FAULT: Fault = Fault::BackendStall;
        let refuse = |reason: String| FaultError::WrongProcess {
            fault: FAULT,
            pid: pid.into(),
            reason,
        };
        pid_of(FAULT, pid.into())?;
        let name = comm(FAULT, pid)?;
        if name != "postgres" {
            return Err(refuse(format!("it is {name:?}, not a postgres backend")));
        }
        let (_, ppid) = stat(FAULT, pid)?;
        match postmaster {
            Some(pm) if i64::from(ppid) != i64::from(pm) => {
                return Err(refuse(format!(
                    "its parent is pid {ppid}, not the cluster's postmaster (pid {pm})"
                )))
            }
            Some(_) => {}
            None => {
                let parent = comm(FAULT, ppid).unwrap_or_default();
                if parent != "postgres" {
                    return Err(refuse(format!(
                        "its parent (pid {ppid}) is {parent:?}: it is a postmaster, not a backend"
                    )));
                }
            }
        }
        signal(FAULT, "backend", pid, Signal::SIGSTOP)?;
        if let Err(state) = wait_stopped(pid, Instant::now() + STOP_TIMEOUT) {
            let _ = signal(FAULT, "backend", pid, Signal::SIGCONT);
            return Err(FaultError::NotStopped {
                fault: FAULT,
                role: "backend",
                pid,
                state,
            });
        }
        tracing::info!(fault = %FAULT, pid, "stopped the backend (SIGSTOP)");
        Ok(BackendStall { pid, undone: false })
    }

    /// The stopped backend.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Continue the backend (`SIGCONT`), reporting a failure. A backend that
    /// exited meanwhile counts as continued.
    ///
    /// ```no_run
    /// # fn f(stall: leasecheck::fault::BackendStall) -> Result<(), leasecheck::fault::FaultError> {
    /// stall.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn undo(mut self) -> Result<(), FaultError> {
        self.undo_once()
    }

    fn undo_once(&mut self) -> Result<(), FaultError> {
        if std::mem::replace(&mut self.undone, true) {
            return Ok(());
        }
        match signal(Fault::BackendStall, "backend", self.pid, Signal::SIGCONT) {
            Err(FaultError::Signal {
                source: Errno::ESRCH,
                ..
            }) => {
                tracing::info!(fault = %Fault::BackendStall, pid = self.pid, "the stopped backend is gone");
                Ok(())
            }
            Err(e) => Err(e),
            Ok(()) => {
                tracing::info!(fault = %Fault::BackendStall, pid = self.pid, "continued the backend (SIGCONT)");
                Ok(())
            }
        }
    }
}

impl Drop for BackendStall {
    fn drop(&mut self) {
        if let Err(e) = self.undo_once() {
            tracing::error!("undoing a backend stall: {e}");
        }
    }
}
