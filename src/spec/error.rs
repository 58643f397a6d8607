//! Why a spec file was rejected, or why one of its statements failed: every
//! message starts with the file and names the field (and line where known).
//! Nothing here panics or shows Rust debug formatting to a user.

use crate::database::diagnostic::pg_message;
use crate::input::TtlError;

/// Why a spec file was rejected, or why running one of its statements failed.
/// Every message starts with the file (its origin) and names the field.
///
/// ```no_run
/// use leasecheck::spec::{Spec, SpecError};
/// match Spec::load("specs/mine.toml".as_ref()) {
///     Ok(spec) => println!("{} is well-formed", spec.name()),
///     Err(SpecError::Missing { field, .. }) => eprintln!("add `{field}`"),
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("{origin}: cannot read the spec file: {source}")]
    Read {
        /// The file.
        origin: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown field, or a duplicate key: toml's own
    /// message, which names the line, shows it and names the field.
    #[error("{origin}: {message}")]
    Toml {
        /// The file.
        origin: String,
        /// toml's message (line, column, the offending text, the problem).
        message: String,
    },
    /// A required field is absent.
    #[error("{origin}: missing required field `{field}` ({meaning})")]
    Missing {
        /// The file.
        origin: String,
        /// The field.
        field: &'static str,
        /// What the field is for.
        meaning: &'static str,
    },
    /// A field has the wrong TOML type.
    #[error("{origin}:{line}: field `{field}` must be {expected}, found {found}")]
    Type {
        /// The file.
        origin: String,
        /// The line of the value.
        line: usize,
        /// The field (`renew`, or `renew[1]` for item 1 of an array, counting from 0).
        field: String,
        /// What the field must be.
        expected: &'static str,
        /// The TOML type found.
        found: &'static str,
    },
    /// `ttl_seconds` is not a usable TTL.
    #[error("{origin}:{line}: field `ttl_seconds`: {source}")]
    Ttl {
        /// The file.
        origin: String,
        /// The line of the value.
        line: usize,
        /// Why the TTL was rejected (it quotes the value).
        #[source]
        source: TtlError,
    },
    /// A statement uses a placeholder that is never bound.
    #[error("{origin}:{line}: field `{field}` uses placeholder `{placeholder}`, but {allowed}")]
    Placeholder {
        /// The file.
        origin: String,
        /// The line of the field's value.
        line: usize,
        /// The field.
        field: String,
        /// The placeholder as written (`$4`).
        placeholder: String,
        /// Which placeholders the field may use.
        allowed: &'static str,
    },
    /// A field's value is unusable for another reason (an empty statement,
    /// several statements in one string, an unknown isolation level, ...).
    #[error("{origin}:{line}: field `{field}` {problem}")]
    Invalid {
        /// The file.
        origin: String,
        /// The line of the field's value.
        line: usize,
        /// The field.
        field: String,
        /// What is wrong, as the rest of the sentence.
        problem: String,
    },
    /// A statement was refused by Postgres (while installing, or running
    /// `reset` or `age`), or cannot work (it returns no rows).
    #[error("{origin}{}: field `{field}`: {message}\n  the statement: {}", at_line(.line), one_line(.sql))]
    Statement {
        /// The file.
        origin: String,
        /// The line in the file where Postgres found the problem (or where the
        /// statement starts), when known.
        line: Option<usize>,
        /// The field (`renew`, `try_acquire[1]`, `schema`, `reset`, `age`).
        field: String,
        /// The statement.
        sql: String,
        /// Postgres's own message (`ERROR: column "x" does not exist (SQLSTATE 42703)`)
        /// or what is wrong with the statement.
        message: String,
        /// The driver's error, when Postgres or the connection failed.
        #[source]
        source: Option<postgres::Error>,
    },
    /// Talking to the database failed outside any of the spec's statements
    /// (opening the transaction, `SET LOCAL search_path`, `COMMIT`).
    #[error("{origin}: cannot {what} in schema {schema}: {}", pg_message(.source))]
    Database {
        /// The file.
        origin: String,
        /// What was being done (`install the spec`, `reset the lease`, ...).
        what: &'static str,
        /// The schema.
        schema: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
}

/// `:line` after a file name, when the line is known.
fn at_line(line: &Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

/// A statement on one line, for messages.
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}
