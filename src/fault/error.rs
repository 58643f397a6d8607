//! Why a fault could not be applied or undone, and an unknown fault name.

use super::process::STOP_TIMEOUT;
use super::Fault;
use crate::database::diagnostic::pg_message;
use nix::errno::Errno;
use nix::sys::signal::Signal;

/// A fault name that is not one of [`Fault::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {given:?}: expected one of {}", Fault::ALL.map(Fault::name).join(", "))]
pub struct UnknownFault {
    /// The name as given.
    pub given: String,
}

/// Why a fault could not be applied or undone.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// A signal could not be sent.
    #[error("{fault}: cannot send {signal} to {role} (pid {pid}): {source}")]
    Signal {
        /// The fault being applied or undone.
        fault: Fault,
        /// `SIGSTOP` or `SIGCONT`.
        signal: Signal,
        /// What the process is: `backend`, `postmaster`, `cluster process`.
        role: &'static str,
        /// The process.
        pid: i32,
        /// The OS error.
        #[source]
        source: Errno,
    },
    /// A process did not reach the stopped state after `SIGSTOP` (it was
    /// continued again, so nothing is left stopped).
    #[error("{fault}: {role} (pid {pid}) did not stop within {}s of SIGSTOP (state {state}); it was continued", STOP_TIMEOUT.as_secs())]
    NotStopped {
        /// The fault being applied.
        fault: Fault,
        /// What the process is.
        role: &'static str,
        /// The process.
        pid: i32,
        /// Its last state letter from `/proc/<pid>/stat`.
        state: char,
    },
    /// A pid is not one that fault may touch (not positive, not a Postgres
    /// backend, not a child of the cluster's postmaster, ...). Nothing was signalled.
    #[error("{fault}: refusing to signal pid {pid}: {reason}")]
    WrongProcess {
        /// The fault being applied.
        fault: Fault,
        /// The pid as given.
        pid: i64,
        /// Why it was refused.
        reason: String,
    },
    /// `/proc` could not be read.
    #[error("{fault}: cannot read {path}: {source}")]
    Proc {
        /// The fault being applied or undone.
        fault: Fault,
        /// The file or directory.
        path: String,
        /// What `procfs` reported.
        #[source]
        source: procfs::ProcError,
    },
    /// A `docker` command failed.
    #[error("{fault}: `docker {action} {container}` failed: {reason}")]
    Docker {
        /// The fault being applied or undone.
        fault: Fault,
        /// `pause` or `unpause`.
        action: &'static str,
        /// The container.
        container: String,
        /// Its exit status and stderr, or why it could not run.
        reason: String,
    },
    /// A statement of the fault's own session failed.
    #[error("{fault}: {what} failed: {}", pg_message(.source))]
    Postgres {
        /// The fault being applied or undone.
        fault: Fault,
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// The lease row does not exist, so there is nothing to lock (a missing
    /// seed row is itself a violation the checker reports).
    #[error("{fault}: lease table {table} has no row id = 1, so there is nothing to lock")]
    RowMissing {
        /// The fault being applied.
        fault: Fault,
        /// The lease table.
        table: String,
    },
    /// A socket operation of the connection-stall proxy failed.
    #[error("{fault}: {what}: {source}")]
    Io {
        /// The fault (always `connection-stall`).
        fault: Fault,
        /// What was being done, with the address.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A connection string could not be used (it does not parse, or names no
    /// TCP server).
    #[error("{fault}: {reason}")]
    Url {
        /// The fault (always `connection-stall`).
        fault: Fault,
        /// What is wrong, password masked.
        reason: String,
    },
    /// The stalled party's backend could not be found.
    #[error("{fault}: cannot find the stalled party's backend: {reason}")]
    Backend {
        /// The fault being applied.
        fault: Fault,
        /// Why not.
        reason: String,
    },
    /// Crashing, restarting, replicating or promoting the server failed.
    #[error("{fault}: cannot {what}: {reason}")]
    Server {
        /// The fault.
        fault: Fault,
        /// What the harness was doing (`restart the crashed server`).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The fault cannot be injected into this server (see [`Fault::applicable`]).
    #[error("{fault} is not applicable: {reason}")]
    NotApplicable {
        /// The fault.
        fault: Fault,
        /// Why not.
        reason: String,
    },
}

impl FaultError {
    /// The fault that failed.
    pub fn fault(&self) -> Fault {
        match self {
            FaultError::Signal { fault, .. }
            | FaultError::NotStopped { fault, .. }
            | FaultError::WrongProcess { fault, .. }
            | FaultError::Proc { fault, .. }
            | FaultError::Docker { fault, .. }
            | FaultError::Postgres { fault, .. }
            | FaultError::RowMissing { fault, .. }
            | FaultError::Io { fault, .. }
            | FaultError::Url { fault, .. }
            | FaultError::Backend { fault, .. }
            | FaultError::Server { fault, .. }
            | FaultError::NotApplicable { fault, .. } => *fault,
        }
    }
}
