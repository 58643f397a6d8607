//! What can go wrong with an adapter process: each is the adapter failing
//! the protocol (the run cannot be done: exit 2), never a lease outcome.
//! A lease error the adapter *reports* is an answer, not an error here.

use super::protocol::{quoted, LineError};
use std::fmt;
use std::time::Duration;

/// The last lines an adapter wrote to stderr, shown with every error about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StderrTail(pub Vec<String>);

impl fmt::Display for StderrTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "\n  (its stderr was empty)");
        }
        write!(f, "\n  its last stderr lines:")?;
        for line in &self.0 {
            write!(f, "\n    | {line}")?;
        }
        Ok(())
    }
}

/// An adapter process that does not keep the protocol.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// `--exec` is not a command.
    #[error("--exec {} is not a command: {reason}", quoted(.command))]
    Command {
        /// The command as given.
        command: String,
        /// Why not.
        reason: String,
    },
    /// The process could not be started.
    #[error("cannot start the adapter of {candidate} ({command}): {source}")]
    Spawn {
        /// The candidate.
        candidate: String,
        /// The command.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The process ended (or closed its stdout) while the harness waited for a line.
    #[error("the adapter of {candidate} {how} while leasecheck waited for {waiting}{stderr}")]
    Exited {
        /// The candidate.
        candidate: String,
        /// How it ended (`exited with status 1`, `was killed by SIGSEGV`, `closed its stdout`).
        how: String,
        /// What the harness waited for.
        waiting: String,
        /// Its last stderr lines.
        stderr: StderrTail,
    },
    /// No line within the timeout.
    #[error("the adapter of {candidate} did not answer within {} s while leasecheck waited for {waiting} (raise --call-timeout if its calls may legitimately take longer){stderr}", .waited.as_secs_f64())]
    Mute {
        /// The candidate.
        candidate: String,
        /// How long the harness waited.
        waited: Duration,
        /// What it waited for.
        waiting: String,
        /// Its last stderr lines.
        stderr: StderrTail,
    },
    /// A line that breaks the protocol.
    #[error("the adapter of {candidate} wrote a line that {reason}, while leasecheck waited for {waiting}:\n  {line}{stderr}")]
    Malformed {
        /// The candidate.
        candidate: String,
        /// The line, quoted as a JSON string (cut at 300 characters).
        line: String,
        /// Why it was refused.
        reason: Box<LineError>,
        /// What the harness waited for.
        waiting: String,
        /// Its last stderr lines.
        stderr: StderrTail,
    },
    /// A process whose hello differs from the first process's.
    #[error("the adapter of {candidate} said hello {said} where the first one said {first}: every candidate's process must say the same")]
    OtherHello {
        /// The candidate.
        candidate: String,
        /// Its hello, as a line.
        said: String,
        /// The first process's hello, as a line.
        first: String,
    },
    /// A hello without `renew` for a lease whose spec declares one.
    #[error("the adapter's hello {said} does not list \"renew\", but the spec declares that the lease renews: list renew among its ops, or declare renew = false under [semantics] in the spec")]
    NoRenew {
        /// The hello, as a line.
        said: String,
    },
    /// A call to an adapter that broke the protocol before.
    #[error("the adapter of {candidate} broke the protocol earlier: {first}")]
    Broken {
        /// The candidate.
        candidate: String,
        /// How it broke first.
        first: String,
    },
    /// Writing a request to its stdin failed.
    #[error("cannot write to the adapter of {candidate}: {source}{stderr}")]
    Write {
        /// The candidate.
        candidate: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
        /// Its last stderr lines.
        stderr: StderrTail,
    },
}
