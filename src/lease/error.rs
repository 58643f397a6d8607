//! What can go wrong talking to a lease: every error means "leadership
//! unknown". This module only describes errors; it never talks to Postgres.

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
    pub fn postgres_error(&self) -> &postgres::Error {
        match self {
            LeaseError::Connect { source, .. }
            | LeaseError::Statement { source, .. }
            | LeaseError::SpecStatement { source, .. } => source,
        }
    }

    /// True if the connection broke (the statement may or may not have
    /// committed), as opposed to the server refusing the statement (it did
    /// not take effect); see `database::diagnostic::is_connection_loss`.
    pub fn is_connection_loss(&self) -> bool {
        crate::database::diagnostic::is_connection_loss(self.postgres_error())
    }
}

fn statement_suffix(sql: &str) -> String {
    if sql.is_empty() {
        String::new()
    } else {
        format!("\n  statement: {}", sql.trim())
    }
}
