//! Why a scenario could not be done (exit status 2), as opposed to a
//! property being violated: the one error type every runner returns. It
//! never stands for a violation; those are findings.

use crate::database::SchemaError;
use crate::fault::FaultError;
use crate::lease::LeaseError;
use crate::spec::SpecError;

/// Why a run could not be done (exit status 2), as opposed to a property
/// being violated.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The lease could not be reached or installed.
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// The schema could not be created or dropped.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A spec file is malformed or its statements fail.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A fault could not be injected or undone.
    #[error(transparent)]
    Fault(crate::fault::FaultError),
    /// A harness statement (reset, age, ...) failed.
    #[error("cannot {what}: {message}")]
    Harness {
        /// What the harness was doing.
        what: &'static str,
        /// Postgres's message.
        message: String,
    },
    /// The runner's threads could not be started.
    #[error("cannot start {threads} runner threads: {message}")]
    Threads {
        /// How many.
        threads: usize,
        /// Why not.
        message: String,
    },
    /// The scenario does not apply to this server or lease (reported `n/a`).
    #[error("not applicable: {0}")]
    NotApplicable(String),
    /// The settings make no sense.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// The throwaway cluster a scenario run side by side runs on could not
    /// be started.
    #[error("cannot start a throwaway cluster for this scenario alone: {0}")]
    OwnServer(crate::database::ProvisionError),
    /// Interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// A recorded event was lost: the history cannot be judged.
    #[error(transparent)]
    Record(#[from] crate::recorder::RecordError),
    /// An adapter process (`--exec`) broke the protocol: how it first did.
    #[error("{0}")]
    Adapter(String),
    /// A runner thread panicked (a bug of leasecheck: please report it).
    #[error("a runner thread panicked (a leasecheck bug): {0}")]
    Panicked(String),
}

impl From<FaultError> for RunError {
    /// A fault that cannot be injected here makes the scenario not
    /// applicable (`n/a`, with the reason); any other fault error is an error.
    fn from(e: FaultError) -> RunError {
        match e {
            FaultError::NotApplicable { reason, .. } => RunError::NotApplicable(reason),
            e => RunError::Fault(e),
        }
    }
}

/// A harness statement failed.
pub(crate) fn harness(what: &'static str, e: &postgres::Error) -> RunError {
    RunError::Harness {
        what,
        message: crate::database::diagnostic::pg_message(e),
    }
}

/// A runner thread panicked while holding shared state.
pub(crate) fn poisoned() -> RunError {
    RunError::Panicked("a runner thread panicked while holding shared state".into())
}
