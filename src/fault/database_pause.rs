//! `database-pause`: the whole database stops (every process of the
//! harness's own cluster gets `SIGSTOP`, or its container is paused) until
//! the guard is dropped. A server leasecheck did not start is never paused.

use super::process::{comm, descendants, pid_of, signal, wait_stopped, STOP_TIMEOUT};
use super::{Fault, FaultError};
use crate::database::Postgres;
use nix::errno::Errno;
use nix::sys::signal::Signal;
use std::time::Instant;

#[derive(Debug)]
enum Paused {
    /// Stopped processes, in the order they were stopped (postmaster first).
    Local(Vec<i32>),
    Container(String),
}

/// The whole database paused until this guard is dropped or undone.
///
/// - A local cluster ([`DatabasePause::local`]): the postmaster and every
///   descendant get `SIGSTOP`. The postmaster is stopped *first*, so it cannot
///   fork a backend that escapes; then its descendants, rescanning until none
///   is left running. Undo continues them in reverse order: the descendants
///   first, the postmaster *last*, so no new connection is served while part
///   of the cluster is still stopped and the database comes back as a whole.
/// - A container ([`DatabasePause::container`]): `docker pause` (the cgroup
///   freezer), undone by `docker unpause`.
///
/// While paused, statements on existing connections hang, and so do new
/// connections: the kernel still completes the TCP handshake, but no startup
/// reply comes until the undo.
#[derive(Debug)]
#[must_use = "dropping the guard resumes the database at once"]
pub struct DatabasePause {
    paused: Option<Paused>,
}

impl DatabasePause {
    /// Pause the database of `pg` by whichever means fits it: signals for a
    /// local cluster, `docker pause` for a container. A `DATABASE_URL` server
    /// is never paused ([`FaultError::NotApplicable`]).
    ///
    /// ```no_run
    /// use leasecheck::fault::DatabasePause;
    /// let pg = leasecheck::Postgres::provision()?;
    /// let pause = DatabasePause::of(&pg)?;
    /// // ... every session hangs ...
    /// pause.undo()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(pg: &Postgres) -> Result<DatabasePause, FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        FAULT.check_applicable(pg)?;
        match (pg.postmaster_pid(), pg.container_id()) {
            (Some(pid), _) => DatabasePause::local(pid),
            (None, Some(id)) => DatabasePause::container(id),
            (None, None) => unreachable!("applicable() refuses a server that is not ours"),
        }
    }

    /// `SIGSTOP` the postmaster `postmaster_pid` and all its descendants.
    /// Returns once every one of them is in the stopped state. On any failure
    /// everything already stopped is continued before the error is returned.
    ///
    /// ```no_run
    /// use leasecheck::fault::DatabasePause;
    /// let pg = leasecheck::Postgres::start_local()?;
    /// let pause = DatabasePause::local(pg.postmaster_pid().unwrap())?;
    /// drop(pause); // resumed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local(postmaster_pid: u32) -> Result<DatabasePause, FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        let pm = pid_of(FAULT, postmaster_pid.into())?.as_raw();
        let name = comm(FAULT, pm)?;
        if name != "postgres" {
            return Err(FaultError::WrongProcess {
                fault: FAULT,
                pid: pm.into(),
                reason: format!("it is {name:?}, not a postgres postmaster"),
            });
        }
        let mut pause = DatabasePause {
            paused: Some(Paused::Local(Vec::new())),
        };
        pause.stop_all(pm)?; // on error, dropping `pause` continues what was stopped
        let stopped = pause.stopped_pids().len();
        tracing::info!(fault = %FAULT, postmaster = pm, processes = stopped, "paused the local cluster (SIGSTOP)");
        Ok(pause)
    }

    fn stop_all(&mut self, pm: i32) -> Result<(), FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        let Some(Paused::Local(stopped)) = &mut self.paused else {
            unreachable!("stop_all is only called on a local pause")
        };
        signal(FAULT, "postmaster", pm, Signal::SIGSTOP)?;
        stopped.push(pm);
        // The postmaster is stopped, so it forks nothing more; a descendant
        // may still fork until it is stopped itself, hence the rescan.
        loop {
            let fresh: Vec<i32> = descendants(FAULT, pm)?
                .into_iter()
                .filter(|p| !stopped.contains(p))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for pid in fresh {
                match signal(FAULT, "cluster process", pid, Signal::SIGSTOP) {
                    Ok(()) => stopped.push(pid),
                    // It exited between the scan and the signal.
                    Err(FaultError::Signal {
                        source: Errno::ESRCH,
                        ..
                    }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        for &pid in stopped.iter() {
            if let Err(state) = wait_stopped(pid, deadline) {
                return Err(FaultError::NotStopped {
                    fault: FAULT,
                    role: if pid == pm {
                        "postmaster"
                    } else {
                        "cluster process"
                    },
                    pid,
                    state,
                });
            }
        }
        Ok(())
    }

    /// `docker pause <id>`, undone by `docker unpause <id>`.
    ///
    /// ```no_run
    /// use leasecheck::fault::DatabasePause;
    /// let pause = DatabasePause::container("3f2a9c")?;
    /// pause.undo()?;
    /// # Ok::<(), leasecheck::fault::FaultError>(())
    /// ```
    pub fn container(id: &str) -> Result<DatabasePause, FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        let valid = !id.is_empty()
            && !id.starts_with('-')
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(FaultError::Docker {
                fault: FAULT,
                action: "pause",
                container: id.to_string(),
                reason: "not a container id or name".into(),
            });
        }
        docker("pause", id)?;
        tracing::info!(fault = %FAULT, container = id, "paused the container (docker pause)");
        Ok(DatabasePause {
            paused: Some(Paused::Container(id.to_string())),
        })
    }

    /// The processes stopped, postmaster first (empty for a container).
    pub fn stopped_pids(&self) -> &[i32] {
        match &self.paused {
            Some(Paused::Local(pids)) => pids,
            _ => &[],
        }
    }

    /// Resume the database, reporting a failure. For a local cluster every
    /// stopped process is continued even if one of them fails (a process
    /// that exited meanwhile counts as continued); the first failure is
    /// returned.
    ///
    /// ```no_run
    /// # fn f(pause: leasecheck::fault::DatabasePause) -> Result<(), leasecheck::fault::FaultError> {
    /// pause.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn undo(mut self) -> Result<(), FaultError> {
        self.undo_once()
    }

    fn undo_once(&mut self) -> Result<(), FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        match self.paused.take() {
            None => Ok(()),
            Some(Paused::Local(pids)) => {
                let mut first = None;
                let last = pids.len();
                for (i, &pid) in pids.iter().enumerate().rev() {
                    let role = if i == 0 {
                        "postmaster"
                    } else {
                        "cluster process"
                    };
                    match signal(FAULT, role, pid, Signal::SIGCONT) {
                        Ok(())
                        | Err(FaultError::Signal {
                            source: Errno::ESRCH,
                            ..
                        }) => {}
                        Err(e) => {
                            first.get_or_insert(e);
                        }
                    }
                }
                tracing::info!(fault = %FAULT, postmaster = pids.first().copied().unwrap_or_default(),
                    processes = last, "resumed the local cluster (SIGCONT)");
                first.map_or(Ok(()), Err)
            }
            Some(Paused::Container(id)) => {
                docker("unpause", &id)?;
                tracing::info!(fault = %FAULT, container = %id, "resumed the container (docker unpause)");
                Ok(())
            }
        }
    }
}

impl Drop for DatabasePause {
    fn drop(&mut self) {
        if let Err(e) = self.undo_once() {
            tracing::error!("undoing a database pause: {e}");
        }
    }
}

/// How long one `docker pause` or `docker unpause` may take.
const DOCKER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn docker(action: &'static str, id: &str) -> Result<(), FaultError> {
    let fail = |reason: String| FaultError::Docker {
        fault: Fault::DatabasePause,
        action,
        container: id.to_string(),
        reason,
    };
    let mut cmd = std::process::Command::new("docker");
    cmd.arg(action).arg(id);
    let out = crate::process::Tool::new(&mut cmd, DOCKER_TIMEOUT)
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
