//! What can go wrong talking to a lease: every error means "leadership
//! unknown" (and an adapter that broke the protocol, or a server that
//! refuses the lease's SQL, also means the run cannot go on). This module
//! only describes errors; it never talks to Postgres.

use crate::database::diagnostic::pg_message;

/// What went wrong talking to the lease. Any error means "leadership unknown".
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// A new connection could not be opened.
    #[error("cannot connect to Postgres at {target}: {}", pg_message(.source))]
    Connect {
        /// The server, without password.
        target: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// A statement of a spec file failed while running (network, server or SQL error).
    #[error("{} of spec {:?} failed (leadership unknown, stop acting): {}{}", .site.field, .site.spec, pg_message(.source), statement_suffix(&.site.sql))]
    SpecStatement {
        /// The field and its SQL.
        site: Box<SpecSite>,
        /// The driver's error, with Postgres's message where there is one.
        #[source]
        source: postgres::Error,
    },
    /// A statement failed (network, server or SQL error).
    #[error("{what} on lease table {table} failed (leadership unknown, stop acting): {}", pg_message(.source))]
    Statement {
        /// What was being done (`try_acquire`, `renew`, `create table`, ...).
        what: &'static str,
        /// The lease table.
        table: String,
        /// The driver's error, with Postgres's message where there is one.
        #[source]
        source: postgres::Error,
    },
    /// An adapter (`--exec`) answered with an error: the operation may or
    /// may not have taken effect.
    #[error("the adapter of {candidate} answered {op} with an error (leadership unknown, stop acting): {message}")]
    Reported {
        /// The candidate.
        candidate: String,
        /// The operation.
        op: &'static str,
        /// The adapter's message.
        message: String,
    },
    /// An adapter (`--exec`) broke the protocol: the run cannot go on.
    #[error(transparent)]
    Adapter(Box<crate::adapter::AdapterError>),
    /// The backend of an adapter's candidate could not be found.
    #[error("cannot find the backend of {candidate} (application_name {app_name}): {reason}")]
    Backend {
        /// The candidate.
        candidate: String,
        /// The application name looked for.
        app_name: String,
        /// Why not.
        reason: String,
    },
}

/// Where in a spec file an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecSite {
    /// The spec's name.
    pub spec: String,
    /// The field, e.g. `renew` or `try_acquire[1]` for an array's second statement.
    pub field: String,
    /// The statement's SQL (empty when it failed on `BEGIN`/`COMMIT`).
    pub sql: String,
}

impl LeaseError {
    /// The driver error underneath, if any.
    pub fn postgres_error(&self) -> Option<&postgres::Error> {
        match self {
            LeaseError::Connect { source, .. }
            | LeaseError::Statement { source, .. }
            | LeaseError::SpecStatement { source, .. } => Some(source),
            LeaseError::Reported { .. } | LeaseError::Adapter(_) | LeaseError::Backend { .. } => {
                None
            }
        }
    }

    /// True if the call's outcome is unknown (the connection broke, so the
    /// statement may or may not have committed; an adapter answered with an
    /// error), as opposed to the server refusing the statement (it did not
    /// take effect) or the harness failing; see
    /// `database::diagnostic::is_connection_loss`.
    pub fn is_connection_loss(&self) -> bool {
        match self {
            LeaseError::Reported { .. } => true,
            _ => self
                .postgres_error()
                .is_some_and(crate::database::diagnostic::is_connection_loss),
        }
    }
}

fn statement_suffix(sql: &str) -> String {
    if sql.is_empty() {
        String::new()
    } else {
        format!("\n  statement: {}", sql.trim())
    }
}
