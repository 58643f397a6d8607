//! `crash-restart`: every process of the throwaway cluster is killed
//! (`SIGKILL` to the postmaster and each of its descendants, found through
//! `/proc`: Postgres puts every child in a session of its own, so a process
//! group is not enough; nothing is flushed, shared memory is lost) and, when
//! the [`Crash`] guard is dropped, the server is started again on the same
//! data directory and port (crash recovery runs).
//! Candidates see their connections die and reconnect.
//!
//! A crash is part of the check only on a server that keeps what it
//! acknowledged: [`Durability::apply`] turns `fsync`, `full_page_writes` and
//! `synchronous_commit` back on for the fault's life (the throwaway cluster
//! runs without them for speed). [`Durability::AsyncCommit`] is the case
//! run on purpose: `synchronous_commit = off` with a 10 s WAL writer delay,
//! where a crash loses what was acknowledged but not yet flushed.

use super::process::{descendants, signal, wait_dead};
use super::{Fault, FaultError};
use crate::database::{Postgres, SystemSettings};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const FAULT: Fault = Fault::CrashRestart;

/// How the server commits while a crash is part of the check (`--synchronous-commit`).
///
/// ```
/// use leasecheck::fault::Durability;
/// assert_eq!("off".parse::<Durability>().unwrap(), Durability::AsyncCommit);
/// assert_eq!(Durability::default().to_string(), "on");
/// assert!("maybe".parse::<Durability>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous_commit = on`, `fsync = on`: an acknowledged commit is on
    /// disk, and survives a crash.
    #[default]
    Durable,
    /// `synchronous_commit = off` (and a 10 s WAL writer delay): a commit is
    /// acknowledged before its WAL is written, and a crash loses it.
    AsyncCommit,
}

impl Durability {
    /// The server settings of this durability.
    pub fn settings(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Durability::Durable => &[
                ("fsync", "on"),
                ("full_page_writes", "on"),
                ("synchronous_commit", "on"),
            ],
            Durability::AsyncCommit => &[
                ("fsync", "on"),
                ("full_page_writes", "on"),
                ("synchronous_commit", "off"),
                ("wal_writer_delay", "10s"),
            ],
        }
    }

    /// Set these settings on `pg` (a cluster leasecheck runs) until the
    /// returned guard is dropped, then checkpoint: what the harness set up
    /// before (the lease's schema, written while the cluster ran without
    /// durability) is on disk, and only what follows is at stake. A commit
    /// that changed only an unlogged table is never flushed by itself, so
    /// without the checkpoint a crash could take the table's creation along.
    pub fn apply(self, pg: &Postgres) -> Result<SystemSettings<'_>, FaultError> {
        let settings =
            SystemSettings::apply(pg, self.settings()).map_err(|reason| FaultError::Server {
                fault: FAULT,
                what: "make the server durable for the crash",
                reason,
            })?;
        checkpoint(pg)?;
        Ok(settings)
    }
}

impl Durability {
    /// Both settings, in a fixed order.
    pub const ALL: [Durability; 2] = [Durability::Durable, Durability::AsyncCommit];

    /// The name used on the command line (`--synchronous-commit`).
    pub fn name(self) -> &'static str {
        match self {
            Durability::Durable => "on",
            Durability::AsyncCommit => "off",
        }
    }

    /// One line on the setting, for `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            Durability::Durable => "synchronous_commit = on: an acknowledged commit survives a crash",
            Durability::AsyncCommit => "synchronous_commit = off: a crash may lose acknowledged commits (to see it on purpose)",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Durability {
    type Err = String;

    fn from_str(s: &str) -> Result<Durability, String> {
        match s {
            "on" => Ok(Durability::Durable),
            "off" => Ok(Durability::AsyncCommit),
            other => Err(format!(
                "synchronous commit {other:?} is not one of on, off"
            )),
        }
    }
}

/// How long the server was gone: from the fault's start until it answered
/// again (`down`), and of that, the restart or promotion (`recovery`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outage {
    /// From the crash (or the held replication) until the server answered again.
    pub down: Duration,
    /// The restart with crash recovery, or the replica's promotion.
    pub recovery: Duration,
}

/// Where a guard that ends an outage in its `Drop` leaves how it went.
pub(crate) type OutageSlot = Mutex<Option<Result<Outage, String>>>;

pub(crate) fn record(slot: &OutageSlot, outage: Result<Outage, String>) {
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(outage);
}

/// What `slot` holds: `Ok(None)` before an outage ended; the failure to
/// end `fault`'s outage (restart the server, fail over) as an error.
pub(crate) fn outage_in(slot: &OutageSlot, fault: Fault) -> Result<Option<Outage>, FaultError> {
    let outage = slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
    outage.transpose().map_err(|reason| FaultError::Server {
        fault,
        what: match fault {
            Fault::Failover => "fail over to the replica",
            _ => "start the crashed server again",
        },
        reason,
    })
}

/// A crashed server, started again when dropped (also while unwinding from a
/// panic); how the restart went is left in the injector's outage slot.
#[must_use = "dropping the crash restarts the server at once"]
pub struct Crash<'i> {
    pg: &'i Postgres,
    crashed: Instant,
    slot: &'i OutageSlot,
    restarted: bool,
}

impl<'i> Crash<'i> {
    /// Kill every process of `pg` now: the postmaster is stopped first (so
    /// that it forks nothing more), then each of its descendants and the
    /// postmaster get `SIGKILL`, and every one of them is waited for.
    ///
    /// Once the postmaster is stopped the guard exists: if anything after
    /// fails, the postmaster is killed all the same and the guard's drop
    /// starts the server again, so a failed crash never leaves the cluster
    /// stopped or half dead.
    pub(crate) fn now(pg: &'i Postgres, slot: &'i OutageSlot) -> Result<Crash<'i>, FaultError> {
        let crashed = Instant::now();
        let pm = postmaster(pg)?;
        signal(FAULT, "postmaster", pm, Signal::SIGSTOP)?;
        // From here the server is going down, and the guard brings it back.
        let crash = Crash {
            pg,
            crashed,
            slot,
            restarted: false,
        };
        let descendants = descendants(FAULT, pm);
        let killed = descendants.and_then(|pids| {
            for &pid in &pids {
                match signal(FAULT, "cluster process", pid, Signal::SIGKILL) {
                    // It exited between the scan and the signal.
                    Err(FaultError::Signal {
                        source: Errno::ESRCH,
                        ..
                    }) => {}
                    other => other?,
                }
            }
            Ok(pids)
        });
        // Whatever happened above, the stopped postmaster dies.
        let postmaster_killed = signal(FAULT, "postmaster", pm, Signal::SIGKILL);
        let reaped = pg.reap_crashed().map_err(server);
        let mut killed = killed?;
        postmaster_killed?;
        reaped?;
        killed.push(pm);
        // The postmaster is reaped by its owner; the others, adopted, by init.
        let deadline = Instant::now() + Duration::from_secs(15);
        if let Some(pid) = killed.iter().find(|&&pid| !wait_dead(pid, deadline)) {
            return Err(server(format!(
                "cluster process {pid} was still alive 15s after SIGKILL"
            )));
        }
        tracing::info!(
            postmaster = pm,
            processes = killed.len(),
            "crashed the cluster (SIGKILL to every process)"
        );
        Ok(crash)
    }

    /// Start the server again now (the same as dropping the guard), and say
    /// how long it was gone.
    pub fn restart(mut self) -> Result<Outage, FaultError> {
        self.restart_now();
        match outage_in(self.slot, FAULT)? {
            Some(outage) => Ok(outage),
            None => unreachable!("restart_now records the outage"),
        }
    }

    fn restart_now(&mut self) {
        if self.restarted {
            return;
        }
        self.restarted = true;
        let outage = self.pg.start_after_crash().map(|recovery| Outage {
            down: self.crashed.elapsed(),
            recovery,
        });
        record(self.slot, outage);
    }
}

fn server(reason: String) -> FaultError {
    FaultError::Server {
        fault: FAULT,
        what: "crash the server",
        reason,
    }
}

/// The postmaster of `pg`, a cluster leasecheck runs.
fn postmaster(pg: &Postgres) -> Result<i32, FaultError> {
    let pm = pg
        .postmaster_pid()
        .ok_or_else(|| server(pg.local_cluster().err().unwrap_or_default()))?;
    i32::try_from(pm).map_err(|_| server(format!("postmaster pid {pm} is out of range")))
}

/// Flush everything to disk (`CHECKPOINT`), so that a crash puts at stake
/// only what comes after.
pub(crate) fn checkpoint(pg: &Postgres) -> Result<(), FaultError> {
    pg.connect()
        .and_then(|mut c| c.batch_execute("CHECKPOINT"))
        .map_err(|e| FaultError::Server {
            fault: FAULT,
            what: "checkpoint before the crash",
            reason: crate::database::diagnostic::pg_message(&e),
        })
}

impl Drop for Crash<'_> {
    fn drop(&mut self) {
        self.restart_now();
    }
}

impl fmt::Debug for Crash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crash")
            .field("restarted", &self.restarted)
            .finish()
    }
}
