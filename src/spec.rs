//! Lease spec files: a user's own lease, described as SQL in TOML, run by the
//! harness from many candidates at once (the contract is LEASE_SPEC.md).
//!
//! # The file
//!
//! ```toml
//! name = "reference"
//! ttl_seconds = 1.0
//! schema = "CREATE TABLE lease_lock (...); INSERT INTO lease_lock DEFAULT VALUES;"
//! reset = "UPDATE lease_lock SET leader = ''"
//! age = "UPDATE lease_lock SET acquired_at = acquired_at - make_interval(secs => $1)"
//! try_acquire = "UPDATE lease_lock SET ... WHERE ... RETURNING id"
//! renew = "UPDATE lease_lock SET acquired_at = now() WHERE id = 1 AND leader = $1 RETURNING id"
//! release = ["SELECT ...", "UPDATE ... RETURNING id"]   # an array runs in one transaction
//! isolation = "read committed"                          # for array operations
//! epoch = false                                         # true: a fenced lease (below)
//! ```
//!
//! [`Spec::parse`] / [`Spec::load`] check a file statically (fields, types,
//! placeholders, empty or compound statements) and [`Spec::install`] checks it
//! against a database (it runs `schema`, then prepares every statement), so a
//! broken file is rejected before any run with a message that names the file,
//! the field and, for SQL, the statement and Postgres's own message.
//!
//! # The `epoch` contract (fenced leases, P8)
//!
//! An extension of LEASE_SPEC.md for leases with a fencing epoch (DESIGN.md
//! P8): `epoch = true` (a boolean, default `false`) declares that
//!
//! - `try_acquire`'s last statement returns the new tenure's epoch as the
//!   first column of its row, an integer (`smallint`, `int` or `bigint`;
//!   checked when the spec is installed) that is larger for every new
//!   tenure than for any before it (the harness checks that too);
//! - `renew` and `release` (and `try_acquire`) may use `$4`, the epoch of the
//!   tenure this candidate last won (`bigint`), or NULL when it won none or
//!   its last `try_acquire` ended in an error (so `epoch = $4` matches no
//!   row: a tenure the candidate cannot name is one it must not renew).
//!
//! Without it, `$4` is refused like any unbound placeholder. With it, the
//! zombie scenario (`leasecheck zombie`, and `check`) fences the harness's
//! resource with the epochs the lease returns, and any stale write it lets
//! through is a P8 violation; `specs/fenced.toml` is the reference lease
//! with an epoch column, written this way.
//!
//! # Running a spec
//!
//! [`SpecLease`] runs a spec's operations for one holder on one connection of
//! its own. Every operation is an explicit transaction whose first command is
//! `SET LOCAL search_path TO <schema>`, so the schema stays visible through a
//! transaction pooler (session settings and startup options would not), and
//! every statement is sent unnamed with explicitly typed parameters
//! (`$1` text, `$2` double precision, `$3` timestamptz, and `$4` bigint with
//! `epoch = true`: all are always bound, a statement may use any subset), so
//! no named prepared statement outlives its transaction.

use crate::connection::Reconnecting;
use crate::diagnostic::pg_message;
use crate::holder::HolderId;
use crate::ident::Ident;
use crate::lease::LeaseError;
use crate::ttl::{Ttl, TtlError};
use leasecheck_model::Op;
use postgres::error::SqlState;
use postgres::types::{FromSql, Kind, ToSql, Type};
use postgres::Client;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use toml::{Spanned, Value};

/// The built-in reference lease as a spec (`specs/reference.toml`).
const REFERENCE: &str = include_str!("../specs/reference.toml");

/// The types bound to `$1`, `$2`, `$3` of `try_acquire`, `renew` and
/// `release`, and `$4` (the candidate's epoch) with `epoch = true`.
const OP_PARAMS: [Type; 4] = [Type::TEXT, Type::FLOAT8, Type::TIMESTAMPTZ, Type::INT8];

/// The type bound to `$1` of `age`.
const AGE_PARAMS: [Type; 1] = [Type::FLOAT8];

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

/// The isolation level of array operations.
///
/// ```no_run
/// use leasecheck::spec::Isolation;
/// assert_eq!(Isolation::default(), Isolation::ReadCommitted);
/// assert_eq!(Isolation::Serializable.as_sql(), "SERIALIZABLE");
/// assert_eq!(Isolation::RepeatableRead.to_string(), "repeatable read");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// `read committed` (the default).
    #[default]
    ReadCommitted,
    /// `repeatable read`.
    RepeatableRead,
    /// `serializable`.
    Serializable,
}

impl Isolation {
    /// The values accepted in a spec file.
    ///
    /// ```no_run
    /// let accepted = leasecheck::spec::Isolation::NAMES.join(", ");
    /// ```
    pub const NAMES: [&'static str; 3] = ["read committed", "repeatable read", "serializable"];

    /// The level as written in `BEGIN ISOLATION LEVEL ...`.
    ///
    /// ```no_run
    /// # use leasecheck::spec::Isolation;
    /// let begin = format!("BEGIN ISOLATION LEVEL {}", Isolation::RepeatableRead.as_sql());
    /// ```
    pub fn as_sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }

    /// The level as written in a spec file (`"read committed"`, ...), or
    /// `None` for anything else.
    ///
    /// ```no_run
    /// # use leasecheck::spec::Isolation;
    /// assert_eq!(Isolation::from_name("serializable"), Some(Isolation::Serializable));
    /// assert_eq!(Isolation::from_name("snapshot"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Isolation> {
        match name {
            "read committed" => Some(Isolation::ReadCommitted),
            "repeatable read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }

    /// The level as written in a spec file.
    ///
    /// ```no_run
    /// # use leasecheck::spec::Isolation;
    /// assert_eq!(Isolation::Serializable.name(), "serializable");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => Isolation::NAMES[0],
            Isolation::RepeatableRead => Isolation::NAMES[1],
            Isolation::Serializable => Isolation::NAMES[2],
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation of a spec: its statements, run in order in one transaction.
///
/// ```no_run
/// use leasecheck::model::Op;
/// use leasecheck::spec::Spec;
/// let spec = Spec::reference();
/// let renew = spec.operation(Op::Renew);
/// assert_eq!(renew.statements().len(), 1);
/// assert!(!renew.is_array());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    statements: Vec<String>,
    array: bool,
}

impl Operation {
    /// The statements, in order (one for an operation written as a string).
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// let first = &spec.operation(leasecheck::model::Op::Renew).statements()[0];
    /// ```
    pub fn statements(&self) -> &[String] {
        &self.statements
    }

    /// True if the file wrote the operation as an array (even of one
    /// statement): the spec's `isolation` applies to it.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// let isolated = spec.operation(leasecheck::model::Op::TryAcquire).is_array();
    /// ```
    pub fn is_array(&self) -> bool {
        self.array
    }
}

/// A validated lease spec.
///
/// ```no_run
/// use leasecheck::spec::Spec;
/// let spec = Spec::load("specs/broken/check-then-act.toml".as_ref())?;
/// println!("{}: {}", spec.name(), spec.description().unwrap_or(""));
/// # Ok::<(), leasecheck::spec::SpecError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    origin: String,
    name: String,
    description: Option<String>,
    ttl: Option<Ttl>,
    schema: String,
    reset: String,
    age: Option<String>,
    try_acquire: Operation,
    renew: Operation,
    release: Operation,
    isolation: Isolation,
    /// `epoch = true`: a fenced lease (see the module docs).
    epoch: bool,
    /// The line where each SQL field's text starts (`renew`, `renew[1]`, ...).
    lines: BTreeMap<String, usize>,
}

/// The file as TOML: every field kept with its span, so that every type error
/// names the field and its line; unknown fields are refused by serde.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    name: Option<Spanned<Value>>,
    description: Option<Spanned<Value>>,
    ttl_seconds: Option<Spanned<Value>>,
    schema: Option<Spanned<Value>>,
    reset: Option<Spanned<Value>>,
    age: Option<Spanned<Value>>,
    try_acquire: Option<Spanned<Value>>,
    renew: Option<Spanned<Value>>,
    release: Option<Spanned<Value>>,
    isolation: Option<Spanned<Value>>,
    epoch: Option<Spanned<Value>>,
}

impl Spec {
    /// Parse and statically check a spec from text; `origin` (a file name)
    /// starts every error message.
    ///
    /// ```no_run
    /// use leasecheck::spec::Spec;
    /// let err = Spec::parse("name = \"x\"", "inline.toml").unwrap_err();
    /// assert!(err.to_string().starts_with("inline.toml: missing required field"));
    /// ```
    pub fn parse(text: &str, origin: &str) -> Result<Spec, SpecError> {
        let file: SpecFile = toml::from_str(text).map_err(|e| SpecError::Toml {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut p = Parser {
            text,
            origin,
            lines: BTreeMap::new(),
            op_params: Params::Op,
        };
        let epoch = file
            .epoch
            .map(|v| p.boolean("epoch", v))
            .transpose()?
            .unwrap_or(false);
        if epoch {
            p.op_params = Params::OpEpoch;
        }
        let name = p.string(
            "name",
            p.required("name", file.name, "the name shown in reports")?,
        )?;
        if name.0.trim().is_empty() {
            return Err(p.invalid("name", name.1, "is empty".to_string()));
        }
        let description = file
            .description
            .map(|v| p.string("description", v).map(|(text, _)| text))
            .transpose()?;
        let ttl = file.ttl_seconds.map(|v| p.ttl(v)).transpose()?;
        let schema = p.required(
            "schema",
            file.schema,
            "the SQL that creates the lease's tables in the check's fresh schema",
        )?;
        let schema = p.statement("schema", p.string("schema", schema)?, Params::Batch)?;
        let reset = p.required(
            "reset",
            file.reset,
            "the SQL that makes the lease free again",
        )?;
        let reset = p.statement("reset", p.string("reset", reset)?, Params::None)?;
        let age = file
            .age
            .map(|v| p.statement("age", p.string("age", v)?, Params::Age))
            .transpose()?;
        let try_acquire = p.operation(
            "try_acquire",
            p.required(
                "try_acquire",
                file.try_acquire,
                "the SQL that takes a free or stale lease",
            )?,
        )?;
        let renew = p.operation(
            "renew",
            p.required(
                "renew",
                file.renew,
                "the SQL that extends the holder's own tenure",
            )?,
        )?;
        let release = p.operation(
            "release",
            p.required("release", file.release, "the SQL that gives the lease up")?,
        )?;
        let isolation = file
            .isolation
            .map(|v| p.isolation(v))
            .transpose()?
            .unwrap_or_default();
        Ok(Spec {
            origin: origin.to_string(),
            name: name.0,
            description,
            ttl,
            schema,
            reset,
            age,
            try_acquire,
            renew,
            release,
            isolation,
            epoch,
            lines: p.lines,
        })
    }

    /// Read, parse and statically check a spec file.
    ///
    /// ```no_run
    /// use leasecheck::spec::Spec;
    /// let spec = Spec::load("specs/reference.toml".as_ref())?;
    /// # Ok::<(), leasecheck::spec::SpecError>(())
    /// ```
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            origin: origin.clone(),
            source,
        })?;
        Spec::parse(&text, &origin)
    }

    /// The built-in reference lease (DESIGN.md section 1) as a spec.
    ///
    /// ```no_run
    /// let spec = leasecheck::spec::Spec::reference();
    /// assert_eq!(spec.name(), "reference");
    /// ```
    pub fn reference() -> Spec {
        match Spec::parse(REFERENCE, "specs/reference.toml") {
            Ok(spec) => spec,
            Err(e) => unreachable!("the built-in reference spec is valid (tested): {e}"),
        }
    }

    /// The text of the built-in reference spec (`specs/reference.toml`),
    /// a commented starting point for a spec of one's own.
    ///
    /// ```no_run
    /// print!("{}", leasecheck::spec::Spec::reference_text());
    /// ```
    pub fn reference_text() -> &'static str {
        REFERENCE
    }

    /// Where the spec came from (the file name given to [`Spec::parse`] or [`Spec::load`]).
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// assert_eq!(spec.origin(), "specs/reference.toml");
    /// ```
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The name shown in reports.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// println!("checking {}", spec.name());
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description, if the file has one.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// println!("{}", spec.description().unwrap_or("(no description)"));
    /// ```
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The file's default TTL (`ttl_seconds`), if it has one.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// let ttl = spec.ttl().unwrap_or(leasecheck::DEFAULT_TTL);
    /// ```
    pub fn ttl(&self) -> Option<Ttl> {
        self.ttl
    }

    /// The `schema` SQL.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// assert!(spec.schema_sql().contains("CREATE TABLE"));
    /// ```
    pub fn schema_sql(&self) -> &str {
        &self.schema
    }

    /// The `reset` statement.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// println!("reset: {}", spec.reset_sql());
    /// ```
    pub fn reset_sql(&self) -> &str {
        &self.reset
    }

    /// The `age` statement, if any.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// if let Some(age) = spec.age_sql() {
    ///     println!("age: {age}");
    /// }
    /// ```
    pub fn age_sql(&self) -> Option<&str> {
        self.age.as_deref()
    }

    /// True if the spec can age a tenure (it has `age`), so expiry can be
    /// tested without waiting in real time.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// if !spec.can_age() {
    ///     eprintln!("no `age`: expiry is tested in real time");
    /// }
    /// ```
    pub fn can_age(&self) -> bool {
        self.age.is_some()
    }

    /// The statements of one operation.
    ///
    /// ```no_run
    /// use leasecheck::model::Op;
    /// let spec = leasecheck::spec::Spec::reference();
    /// for sql in spec.operation(Op::TryAcquire).statements() {
    ///     println!("{sql}");
    /// }
    /// ```
    pub fn operation(&self, op: Op) -> &Operation {
        match op {
            Op::TryAcquire => &self.try_acquire,
            Op::Renew => &self.renew,
            Op::Release => &self.release,
        }
    }

    /// The isolation level of array operations.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// println!("array operations run at {}", spec.isolation());
    /// ```
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// True if the spec declares `epoch = true`: a fenced lease whose
    /// `try_acquire` returns the new tenure's epoch and whose statements may
    /// use `$4`, the candidate's epoch (see the module docs).
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// assert!(!spec.has_epoch());
    /// ```
    pub fn has_epoch(&self) -> bool {
        self.epoch
    }

    /// The types bound to the operations' placeholders.
    fn op_params(&self) -> &'static [Type] {
        if self.epoch {
            &OP_PARAMS
        } else {
            &OP_PARAMS[..3]
        }
    }

    /// Install the spec in `schema` (which must exist) and check it: run the
    /// `schema` SQL there, then prepare every statement (`reset`, `age`, each
    /// operation statement, with the types bound at run time), all in one
    /// transaction with `SET LOCAL search_path TO <schema>`, committed only if
    /// everything prepared. A statement Postgres refuses is reported with its
    /// field, the statement and Postgres's message; so is an operation
    /// statement that returns no columns (it could never return a row, so the
    /// operation could never succeed: add `RETURNING`).
    ///
    /// ```no_run
    /// use leasecheck::spec::Spec;
    /// let pg = leasecheck::Postgres::provision()?;
    /// let mut schema = leasecheck::Schema::create(pg.connect()?)?;
    /// let name = schema.name().clone();
    /// Spec::reference().install(schema.client(), &name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn install(&self, client: &mut Client, schema: &Ident) -> Result<(), SpecError> {
        const WHAT: &str = "install the spec";
        let db = |source| self.database(WHAT, schema, source);
        let mut tx = client.transaction().map_err(db)?;
        tx.batch_execute(&set_local(schema)).map_err(db)?;
        tx.batch_execute(&self.schema)
            .map_err(|e| self.statement_error("schema", &self.schema, e))?;
        // The schema SQL must leave the transaction, and its search_path, alone.
        let current: Option<String> = tx
            .query_typed_one("SELECT current_schema()::text", &[])
            .map_err(db)?
            .get(0);
        if current.as_deref() != Some(schema.as_str()) {
            return Err(SpecError::Statement {
                origin: self.origin.clone(),
                line: self.error_line("schema", &self.schema, None),
                field: "schema".to_string(),
                sql: self.schema.clone(),
                message: format!(
                    "after it ran, the current schema is {current:?} instead of {:?}: \
                     the schema SQL must not end the transaction or change search_path",
                    schema.as_str()
                ),
                source: None,
            });
        }
        tx.prepare_typed(&self.reset, &[])
            .map_err(|e| self.statement_error("reset", &self.reset, e))?;
        if let Some(age) = &self.age {
            tx.prepare_typed(age, &AGE_PARAMS)
                .map_err(|e| self.statement_error("age", age, e))?;
        }
        for op in Op::ALL {
            let operation = self.operation(op);
            for (i, sql) in operation.statements.iter().enumerate() {
                let field = field_name(op, operation, i);
                let statement = tx
                    .prepare_typed(sql, self.op_params())
                    .map_err(|e| self.statement_error(&field, sql, e))?;
                if statement.columns().is_empty() {
                    return Err(SpecError::Statement {
                        origin: self.origin.clone(),
                        line: self.error_line(&field, sql, None),
                        field,
                        sql: sql.clone(),
                        message: "the statement returns no columns, so it can never return a row \
                                  and the operation can never succeed: success is decided from \
                                  the rows a statement returns (add `RETURNING ...`)"
                            .to_string(),
                        source: None,
                    });
                }
                let last = i + 1 == operation.statements.len();
                if self.epoch && op == Op::TryAcquire && last {
                    let ty = statement.columns()[0].type_();
                    if ![Type::INT2, Type::INT4, Type::INT8].contains(ty) {
                        return Err(SpecError::Statement {
                            origin: self.origin.clone(),
                            line: self.error_line(&field, sql, None),
                            field,
                            sql: sql.clone(),
                            message: format!(
                                "with `epoch = true`, try_acquire's last statement must return \
                                 the new tenure's epoch as its first column, an integer \
                                 (smallint, int or bigint); it returns {ty} (e.g. `RETURNING epoch`)"
                            ),
                            source: None,
                        });
                    }
                }
            }
        }
        tx.commit().map_err(db)
    }

    /// Make the lease free again (run `reset`) over the harness's admin
    /// connection, in a transaction with `SET LOCAL search_path TO <schema>`.
    ///
    /// ```no_run
    /// # fn f(spec: &leasecheck::spec::Spec, schema: &mut leasecheck::Schema) -> Result<(), leasecheck::spec::SpecError> {
    /// let name = schema.name().clone();
    /// spec.reset(schema.client(), &name)?;
    /// # Ok(()) }
    /// ```
    pub fn reset(&self, client: &mut Client, schema: &Ident) -> Result<(), SpecError> {
        self.admin(client, schema, "reset the lease", "reset", &self.reset, &[])
    }

    /// Make the current tenure look older by `by` (run `age` with `$1` the
    /// seconds). `Ok(false)` if the spec has no `age`: the caller must then
    /// wait in real time.
    ///
    /// ```no_run
    /// # fn f(spec: &leasecheck::spec::Spec, schema: &mut leasecheck::Schema) -> Result<(), leasecheck::spec::SpecError> {
    /// let name = schema.name().clone();
    /// if !spec.age(schema.client(), &name, std::time::Duration::from_secs(11))? {
    ///     std::thread::sleep(std::time::Duration::from_secs(11));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn age(
        &self,
        client: &mut Client,
        schema: &Ident,
        by: Duration,
    ) -> Result<bool, SpecError> {
        let Some(sql) = &self.age else {
            return Ok(false);
        };
        let secs = by.as_secs_f64();
        self.admin(
            client,
            schema,
            "age the lease",
            "age",
            sql,
            &[(&secs, Type::FLOAT8)],
        )?;
        Ok(true)
    }

    fn admin(
        &self,
        client: &mut Client,
        schema: &Ident,
        what: &'static str,
        field: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<(), SpecError> {
        let db = |source| self.database(what, schema, source);
        let mut tx = client.transaction().map_err(db)?;
        tx.batch_execute(&set_local(schema)).map_err(db)?;
        tx.query_typed(sql, params)
            .map_err(|e| self.statement_error(field, sql, e))?;
        tx.commit().map_err(db)
    }

    /// The line in the file of a problem in a field's SQL: where the field's
    /// text starts, plus the lines before the position Postgres reports.
    fn error_line(
        &self,
        field: &str,
        sql: &str,
        source: Option<&postgres::Error>,
    ) -> Option<usize> {
        let start = *self.lines.get(field)?;
        let position = source
            .and_then(|e| e.as_db_error())
            .and_then(|db| match db.position() {
                Some(postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
                _ => None,
            });
        let before = match position {
            Some(p) => sql
                .chars()
                .take(p.saturating_sub(1))
                .filter(|&c| c == '\n')
                .count(),
            None => 0,
        };
        Some(start + before)
    }

    fn statement_error(&self, field: &str, sql: &str, source: postgres::Error) -> SpecError {
        SpecError::Statement {
            origin: self.origin.clone(),
            line: self.error_line(field, sql, Some(&source)),
            field: field.to_string(),
            sql: sql.to_string(),
            message: pg_message(&source),
            source: Some(source),
        }
    }

    fn database(&self, what: &'static str, schema: &Ident, source: postgres::Error) -> SpecError {
        SpecError::Database {
            origin: self.origin.clone(),
            what,
            schema: schema.to_string(),
            source,
        }
    }
}

/// `try_acquire`, or `try_acquire[i]` for an item of an array.
fn field_name(op: Op, operation: &Operation, i: usize) -> String {
    if operation.array {
        format!("{}[{i}]", op.name())
    } else {
        op.name().to_string()
    }
}

/// The command that makes `schema` (alone) visible for one transaction.
fn set_local(schema: &Ident) -> String {
    format!("SET LOCAL search_path TO {schema}")
}

/// Which placeholders a field may use.
#[derive(Clone, Copy)]
enum Params {
    /// `try_acquire`, `renew`, `release`: `$1`..`$3`, several statements refused.
    Op,
    /// The same with `epoch = true`: `$1`..`$4`.
    OpEpoch,
    /// `age`: `$1` only.
    Age,
    /// `reset`: none.
    None,
    /// `schema`: none, several statements allowed.
    Batch,
}

impl Params {
    fn max(self) -> u32 {
        match self {
            Params::Op => 3,
            Params::OpEpoch => 4,
            Params::Age => 1,
            Params::None | Params::Batch => 0,
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            Params::Op => {
                "only $1 (the holder id, text), $2 (the TTL in seconds, double precision) and \
                 $3 (the candidate's clock, timestamptz) are bound ($4, the candidate's epoch, \
                 only with `epoch = true`)"
            }
            Params::OpEpoch => {
                "only $1 (the holder id, text), $2 (the TTL in seconds, double precision), \
                 $3 (the candidate's clock, timestamptz) and $4 (the candidate's epoch, bigint) \
                 are bound"
            }
            Params::Age => "age binds only $1 (the seconds to age by, double precision)",
            Params::None => "reset takes no parameters",
            Params::Batch => "schema runs without parameters",
        }
    }
}

/// Static checks over the file's values, with their lines.
struct Parser<'t> {
    text: &'t str,
    origin: &'t str,
    /// The line where each SQL field's text starts, for later messages.
    lines: BTreeMap<String, usize>,
    /// The placeholders of `try_acquire`, `renew` and `release`.
    op_params: Params,
}

impl Parser<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn required(
        &self,
        field: &'static str,
        value: Option<Spanned<Value>>,
        meaning: &'static str,
    ) -> Result<Spanned<Value>, SpecError> {
        value.ok_or_else(|| SpecError::Missing {
            origin: self.origin.to_string(),
            field,
            meaning,
        })
    }

    fn type_error(
        &self,
        field: String,
        line: usize,
        expected: &'static str,
        found: &Value,
    ) -> SpecError {
        SpecError::Type {
            origin: self.origin.to_string(),
            line,
            field,
            expected,
            found: found.type_str(),
        }
    }

    fn invalid(&self, field: &str, line: usize, problem: String) -> SpecError {
        SpecError::Invalid {
            origin: self.origin.to_string(),
            line,
            field: field.to_string(),
            problem,
        }
    }

    /// The line where a string value's text starts: a multi-line string's
    /// first newline right after its opening quotes is not part of it.
    fn text_line(&self, span: &std::ops::Range<usize>) -> usize {
        let raw = self.text.get(span.clone()).unwrap_or_default();
        let trimmed = ["\"\"\"\n", "\"\"\"\r\n", "\'\'\'\n", "\'\'\'\r\n"]
            .iter()
            .any(|opener| raw.starts_with(opener));
        self.line(span.start) + usize::from(trimmed)
    }

    /// A string field, with the line where its text starts.
    fn string(&self, field: &str, value: Spanned<Value>) -> Result<(String, usize), SpecError> {
        let line = self.text_line(&value.span());
        match value.into_inner() {
            Value::String(s) => Ok((s, line)),
            other => Err(self.type_error(field.to_string(), line, "a string", &other)),
        }
    }

    fn ttl(&self, value: Spanned<Value>) -> Result<Ttl, SpecError> {
        let line = self.line(value.span().start);
        let secs = match value.get_ref() {
            Value::Float(f) => *f,
            Value::Integer(i) => *i as f64,
            other => {
                return Err(self.type_error(
                    "ttl_seconds".to_string(),
                    line,
                    "a number of seconds",
                    other,
                ))
            }
        };
        Ttl::from_secs_f64(secs).map_err(|source| SpecError::Ttl {
            origin: self.origin.to_string(),
            line,
            source,
        })
    }

    fn boolean(&self, field: &str, value: Spanned<Value>) -> Result<bool, SpecError> {
        let line = self.line(value.span().start);
        match value.into_inner() {
            Value::Boolean(b) => Ok(b),
            other => Err(self.type_error(field.to_string(), line, "true or false", &other)),
        }
    }

    fn isolation(&self, value: Spanned<Value>) -> Result<Isolation, SpecError> {
        let (name, line) = self.string("isolation", value)?;
        Isolation::from_name(&name).ok_or_else(|| {
            self.invalid(
                "isolation",
                line,
                format!(
                    "is {name:?}, expected one of \"read committed\" (the default), \
                     \"repeatable read\", \"serializable\""
                ),
            )
        })
    }

    /// An operation: a string, or a non-empty array of strings.
    fn operation(
        &mut self,
        field: &'static str,
        value: Spanned<Value>,
    ) -> Result<Operation, SpecError> {
        let span = value.span();
        let line = self.text_line(&span);
        match value.into_inner() {
            Value::String(sql) => Ok(Operation {
                statements: vec![self.statement(field, (sql, line), self.op_params)?],
                array: false,
            }),
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(self.invalid(
                        field,
                        line,
                        "is an empty array: give at least one statement".to_string(),
                    ));
                }
                let lines = self.item_lines(span, items.len());
                let mut statements = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let item_field = format!("{field}[{i}]");
                    let item_line = lines.get(i).copied().unwrap_or(line);
                    match item {
                        Value::String(sql) => statements.push(self.statement(
                            &item_field,
                            (sql, item_line),
                            self.op_params,
                        )?),
                        other => {
                            return Err(self.type_error(
                                item_field,
                                item_line,
                                "a string (one SQL statement)",
                                &other,
                            ))
                        }
                    }
                }
                Ok(Operation {
                    statements,
                    array: true,
                })
            }
            other => Err(self.type_error(
                field.to_string(),
                line,
                "a string or an array of strings (SQL statements)",
                &other,
            )),
        }
    }

    /// The line where each item of the array at `span` starts, where toml
    /// can tell (it keeps spans of array items only within a document).
    fn item_lines(&self, span: std::ops::Range<usize>, count: usize) -> Vec<usize> {
        #[derive(Deserialize)]
        struct Wrapper {
            v: Vec<Spanned<Value>>,
        }
        const PREFIX: &str = "v = ";
        let Some(slice) = self.text.get(span.clone()) else {
            return Vec::new();
        };
        match toml::from_str::<Wrapper>(&format!("{PREFIX}{slice}")) {
            Ok(w) if w.v.len() == count => {
                w.v.iter()
                    .map(|item| {
                        let start = (span.start + item.span().start).saturating_sub(PREFIX.len());
                        self.text_line(&(start..start + item.span().len()))
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Check one SQL text: not empty, one statement unless a batch, and only
    /// the placeholders that are bound.
    fn statement(
        &mut self,
        field: &str,
        (sql, line): (String, usize),
        params: Params,
    ) -> Result<String, SpecError> {
        self.lines.insert(field.to_string(), line);
        let scan = scan(&sql);
        if !scan.code {
            return Err(self.invalid(
                field,
                line,
                "is empty (no SQL outside comments)".to_string(),
            ));
        }
        if scan.several && !matches!(params, Params::Batch) {
            let hint = match params {
                Params::Op | Params::OpEpoch => {
                    "use an array of strings instead, one statement each (they run in order in one transaction)"
                }
                _ => "give exactly one statement",
            };
            return Err(self.invalid(
                field,
                line,
                format!("holds several statements separated by `;`: {hint}"),
            ));
        }
        if let Some(placeholder) = scan
            .placeholders
            .iter()
            .find(|(n, _)| *n == 0 || *n > params.max())
        {
            return Err(SpecError::Placeholder {
                origin: self.origin.to_string(),
                line,
                field: field.to_string(),
                placeholder: placeholder.1.clone(),
                allowed: params.allowed(),
            });
        }
        if let Params::Batch = params {
            if let Some(word) = scan.first_words.iter().find(|w| {
                TRANSACTION_CONTROL
                    .iter()
                    .any(|t| w.eq_ignore_ascii_case(t))
            }) {
                return Err(self.invalid(
                    field,
                    line,
                    format!(
                        "contains `{word}`: the harness runs the schema SQL in its own transaction \
                         (so that it lands in the check's schema); leave transaction control out"
                    ),
                ));
            }
        }
        Ok(sql)
    }
}

/// Commands that would end the transaction the schema SQL runs in.
const TRANSACTION_CONTROL: [&str; 5] = ["BEGIN", "START", "COMMIT", "ROLLBACK", "ABORT"];

/// What a lexical scan of a SQL text found.
#[derive(Debug, Default)]
struct Scan {
    /// Placeholders (`$n`): the number (saturating) and the text as written.
    placeholders: Vec<(u32, String)>,
    /// Anything besides whitespace and comments.
    code: bool,
    /// More code after a top-level `;`.
    several: bool,
    /// The first word of each top-level statement.
    first_words: Vec<String>,
}

/// Record a token: the text has code; more code after a `;` is a second
/// statement; the first token of a statement gives its first word.
fn token(out: &mut Scan, ended: &mut bool, started: &mut bool, word: Option<&str>) {
    out.code = true;
    if *ended {
        out.several = true;
        *ended = false;
    }
    if !*started {
        *started = true;
        out.first_words.push(word.unwrap_or_default().to_string());
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Scan SQL as Postgres's lexer would, enough to find placeholders and
/// statement boundaries outside string literals, quoted identifiers,
/// comments and dollar-quoted bodies.
fn scan(sql: &str) -> Scan {
    let b = sql.as_bytes();
    let mut out = Scan::default();
    let mut i = 0;
    // A top-level `;` ended a statement that had code.
    let mut ended = false;
    // The statement under way has code (so its first word was recorded).
    let mut started = false;
    // The previous byte belongs to an identifier or number.
    let mut in_word = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                in_word = false;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                in_word = false;
                continue;
            }
            b'\'' => {
                token(&mut out, &mut ended, &mut started, None);
                // E'...' strings take backslash escapes.
                let escapes =
                    i >= 1 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_word_byte(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes);
                in_word = false;
                continue;
            }
            b'"' => {
                token(&mut out, &mut ended, &mut started, None);
                i = skip_quoted(b, i, b'"', false);
                in_word = false;
                continue;
            }
            b'$' if !in_word => {
                token(&mut out, &mut ended, &mut started, None);
                let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 {
                    let text = &sql[i..i + 1 + digits];
                    let n = text[1..].parse::<u32>().unwrap_or(u32::MAX);
                    out.placeholders.push((n, text.to_string()));
                    i += 1 + digits;
                    in_word = true;
                    continue;
                }
                // A dollar-quote opener: $$ or $tag$.
                let tag_len = b[i + 1..]
                    .iter()
                    .enumerate()
                    .take_while(|(k, t)| {
                        t.is_ascii_alphabetic()
                            || **t == b'_'
                            || **t >= 0x80
                            || (*k > 0 && t.is_ascii_digit())
                    })
                    .count();
                if b.get(i + 1 + tag_len) == Some(&b'$') {
                    let tag = &sql[i..i + tag_len + 2];
                    let body = i + tag.len();
                    i = match sql[body..].find(tag) {
                        Some(end) => body + end + tag.len(),
                        None => b.len(),
                    };
                    in_word = false;
                    continue;
                }
                i += 1;
                in_word = false;
                continue;
            }
            b';' => {
                if started {
                    ended = true;
                    started = false;
                }
                in_word = false;
            }
            c if c.is_ascii_whitespace() => in_word = false,
            c => {
                if !in_word && (c.is_ascii_alphabetic() || c == b'_') {
                    let len = b[i..].iter().take_while(|&&w| is_word_byte(w)).count();
                    token(&mut out, &mut ended, &mut started, Some(&sql[i..i + len]));
                } else {
                    token(&mut out, &mut ended, &mut started, None);
                }
                in_word = is_word_byte(c);
            }
        }
        i += 1;
    }
    out
}

/// The verdict of an operation's last row: its first column is not `false`
/// and not NULL, whatever its type.
struct Verdict(bool);

impl<'a> FromSql<'a> for Verdict {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Verdict, Box<dyn std::error::Error + Sync + Send>> {
        let is_bool =
            *ty == Type::BOOL || matches!(ty.kind(), Kind::Domain(inner) if *inner == Type::BOOL);
        if is_bool {
            Ok(Verdict(bool::from_sql(&Type::BOOL, raw)?))
        } else {
            Ok(Verdict(true))
        }
    }

    fn from_sql_null(_: &Type) -> Result<Verdict, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Verdict(false))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// True if a row counts as success (a row with no columns does).
fn verdict(row: &postgres::Row) -> Result<bool, postgres::Error> {
    if row.is_empty() {
        return Ok(true);
    }
    row.try_get::<_, Verdict>(0).map(|v| v.0)
}

/// True for the errors that mean "this transaction did not take effect":
/// a serialization failure or a deadlock.
fn is_definite_failure(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// A lease that runs a spec's statements for one holder on one connection of
/// its own (reopened on the next call after an error).
///
/// Every operation is one explicit transaction: `BEGIN` (with the spec's
/// isolation level for an array operation; a plain `BEGIN`, like an
/// autocommit statement, for a single one) and `SET LOCAL search_path TO
/// <schema>` in one round trip, then each statement unnamed with `$1` the
/// holder id, `$2` the TTL in seconds and `$3` this candidate's clock (the
/// wall clock shifted by [`SpecLease::set_skew`]), and with `epoch = true`
/// `$4` its epoch ([`SpecLease::epoch`], read from `try_acquire`'s row),
/// then `COMMIT`. It stops at
/// the first statement that returns no row. The operation succeeded iff the
/// last statement returned a row whose first column is not `false` or NULL;
/// otherwise it is rolled back. A serialization failure or deadlock is a
/// definite failure (`Ok(false)`); any other error is `Err` ("leadership
/// unknown") and discards the connection.
///
/// ```no_run
/// use leasecheck::spec::{Spec, SpecLease};
/// use leasecheck::{HolderId, Ident, Ttl};
/// use std::sync::Arc;
/// let spec = Arc::new(Spec::reference());
/// let mut lease = SpecLease::connect(
///     "postgres://postgres@127.0.0.1:5432/postgres",
///     &Ident::new("leasecheck_demo")?,
///     spec,
///     Ttl::from_secs_f64(1.0)?,
///     HolderId::new("candidate-1")?,
/// )?;
/// if lease.try_acquire()? {
///     lease.renew()?;
///     lease.release()?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SpecLease {
    spec: Arc<Spec>,
    schema: Ident,
    ttl: Ttl,
    holder: HolderId,
    skew_micros: i64,
    /// With `epoch = true`: the epoch of the tenure this candidate last won.
    epoch: Option<u64>,
    conn: Reconnecting,
    /// `BEGIN ...; SET LOCAL search_path ...` for single and array operations.
    begin_single: String,
    begin_array: String,
}

impl SpecLease {
    /// Open the lease's connection to `url` (a `postgres://` URL or a
    /// `key=value` string) for `holder`, running `spec` in `schema` (where
    /// [`Spec::install`] ran).
    ///
    /// ```no_run
    /// # use leasecheck::spec::{Spec, SpecLease};
    /// # use leasecheck::{HolderId, Ident, Ttl};
    /// # use std::sync::Arc;
    /// let spec = Arc::new(Spec::load("specs/broken/client-clock.toml".as_ref())?);
    /// let ttl = spec.ttl().unwrap_or(leasecheck::DEFAULT_TTL);
    /// let lease = SpecLease::connect(
    ///     "host=127.0.0.1 user=postgres",
    ///     &Ident::new("leasecheck_demo")?,
    ///     spec,
    ///     ttl,
    ///     HolderId::new("candidate-1")?,
    /// )?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(
        url: &str,
        schema: &Ident,
        spec: Arc<Spec>,
        ttl: Ttl,
        holder: HolderId,
    ) -> Result<SpecLease, LeaseError> {
        let conn = Reconnecting::open(url)?;
        let begin_single = format!("BEGIN; {}", set_local(schema));
        let begin_array = format!(
            "BEGIN ISOLATION LEVEL {}; {}",
            spec.isolation().as_sql(),
            set_local(schema)
        );
        Ok(SpecLease {
            spec,
            schema: schema.clone(),
            ttl,
            holder,
            skew_micros: 0,
            epoch: None,
            conn,
            begin_single,
            begin_array,
        })
    }

    /// Shift this candidate's clock (bound to `$3`) by `micros`
    /// microseconds; positive is ahead of the wall clock.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::spec::SpecLease) {
    /// lease.set_skew(3_600_000_000); // one hour ahead
    /// # }
    /// ```
    pub fn set_skew(&mut self, micros: i64) {
        self.skew_micros = micros;
    }

    /// The clock skew in microseconds (positive is ahead).
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::spec::SpecLease) {
    /// println!("clock skew {} us", lease.skew());
    /// # }
    /// ```
    pub fn skew(&self) -> i64 {
        self.skew_micros
    }

    /// This candidate's clock: the wall clock shifted by the skew.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::spec::SpecLease) {
    /// let now = lease.clock();
    /// # }
    /// ```
    pub fn clock(&self) -> SystemTime {
        let now = SystemTime::now();
        let shift = Duration::from_micros(self.skew_micros.unsigned_abs());
        let shifted = if self.skew_micros >= 0 {
            now.checked_add(shift)
        } else {
            now.checked_sub(shift)
        };
        shifted.unwrap_or(now)
    }

    /// Take the lease if the spec's `try_acquire` succeeds.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::spec::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// if lease.try_acquire()? {
    ///     println!("{} leads", lease.holder());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn try_acquire(&mut self) -> Result<bool, LeaseError> {
        self.call(Op::TryAcquire)
    }

    /// Extend this holder's tenure; `false` means "not the leader any more".
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::spec::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// if !lease.renew()? {
    ///     // deposed: stop acting now
    /// }
    /// # Ok(()) }
    /// ```
    pub fn renew(&mut self) -> Result<bool, LeaseError> {
        self.call(Op::Renew)
    }

    /// Give the lease up; `false` if the spec's `release` did not succeed.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::spec::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// lease.release()?;
    /// # Ok(()) }
    /// ```
    pub fn release(&mut self) -> Result<bool, LeaseError> {
        self.call(Op::Release)
    }

    /// Run one operation: `Ok(true)` it succeeded, `Ok(false)` it definitely
    /// did not take effect, `Err` the outcome is unknown.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::spec::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// use leasecheck::model::Op;
    /// for op in Op::ALL {
    ///     println!("{op}: {}", lease.call(op)?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn call(&mut self, op: Op) -> Result<bool, LeaseError> {
        let spec = Arc::clone(&self.spec);
        let operation = spec.operation(op);
        let begin = if operation.array {
            self.begin_array.clone()
        } else {
            self.begin_single.clone()
        };
        let holder = self.holder.as_str().to_string();
        let ttl = self.ttl.as_secs_f64();
        let clock = self.clock();
        let epoch: Option<i64> = self.epoch.and_then(|e| i64::try_from(e).ok());
        let params: [(&(dyn ToSql + Sync), Type); 4] = [
            (&holder, Type::TEXT),
            (&ttl, Type::FLOAT8),
            (&clock, Type::TIMESTAMPTZ),
            (&epoch, Type::INT8),
        ];
        let params = &params[..spec.op_params().len()];
        let wants_epoch = spec.epoch && op == Op::TryAcquire;
        let at = std::cell::Cell::new(None);
        let result = self.run(op.name(), |client| {
            run_operation(
                client,
                &begin,
                operation.statements(),
                params,
                &at,
                wants_epoch,
            )
        });
        if wants_epoch {
            match &result {
                // a negative epoch is no epoch: the candidate cannot fence with it
                Ok(Ran::Done(Some(e))) => self.epoch = u64::try_from(*e).ok(),
                Ok(_) => {}
                Err(_) => self.epoch = None,
            }
        }
        let result = result.map(|ran| !matches!(ran, Ran::NoEffect));
        match (result, at.get()) {
            (Err(LeaseError::Statement { source, .. }), Some(i)) => {
                let field = if operation.array {
                    format!("{}[{i}]", op.name())
                } else {
                    op.name().to_string()
                };
                Err(LeaseError::SpecStatement {
                    site: Box::new(crate::lease::SpecSite {
                        spec: self.spec.name.clone(),
                        field,
                        sql: operation.statements()[i].clone(),
                    }),
                    source,
                })
            }
            (other, _) => other,
        }
    }

    /// With `epoch = true`: the epoch of the tenure this candidate last won
    /// (returned by its last successful `try_acquire`), bound as `$4`; `None`
    /// before any, after an error from `try_acquire`, or without `epoch`.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::spec::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// if lease.try_acquire()? {
    ///     println!("leading in epoch {:?}", lease.epoch());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// The process id of the backend serving this lease's connection
    /// (through a pooler, of the backend serving this one statement).
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::spec::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// let pid = lease.backend_pid()?;
    /// # Ok(()) }
    /// ```
    pub fn backend_pid(&mut self) -> Result<i32, LeaseError> {
        self.run("backend_pid", |client| {
            client
                .query_typed_one("SELECT pg_backend_pid()", &[])
                .and_then(|row| row.try_get(0))
        })
    }

    /// The holder id this lease acts for.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::spec::SpecLease) {
    /// println!("acting for {}", lease.holder());
    /// # }
    /// ```
    pub fn holder(&self) -> &HolderId {
        &self.holder
    }

    /// The TTL bound to `$2`.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::spec::SpecLease) {
    /// let renew_every = lease.ttl().as_duration() / 3;
    /// # }
    /// ```
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// The spec.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::spec::SpecLease) {
    /// println!("running {}", lease.spec().name());
    /// # }
    /// ```
    pub fn spec(&self) -> &Arc<Spec> {
        &self.spec
    }

    /// The schema the spec runs in.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::spec::SpecLease) {
    /// println!("in schema {}", lease.schema());
    /// # }
    /// ```
    pub fn schema(&self) -> &Ident {
        &self.schema
    }

    /// Run `f` on the connection, opening it first if an earlier error
    /// discarded it, and discarding it after an error.
    fn run<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, LeaseError> {
        let table = format!("{}.* (spec {:?})", self.schema, self.spec.name);
        let who = format!("{} (spec {})", self.holder, self.spec.name);
        self.conn.run(
            &who,
            |c, _| f(c),
            |source| LeaseError::Statement {
                what,
                table,
                source,
            },
        )
    }
}

/// One operation's transaction (see [`SpecLease`]).
fn run_operation(
    client: &mut Client,
    begin: &str,
    statements: &[String],
    params: &[(&(dyn ToSql + Sync), Type)],
    at: &std::cell::Cell<Option<usize>>,
    epoch: bool,
) -> Result<Ran, postgres::Error> {
    client.batch_execute(begin)?;
    let mut success = false;
    let mut last = None;
    for (i, sql) in statements.iter().enumerate() {
        at.set(Some(i));
        match client.query_typed(sql, params) {
            Ok(rows) => match rows.first() {
                Some(row) => {
                    success = verdict(row)?;
                    // with `epoch = true`, try_acquire's row carries the epoch
                    last = (epoch && success)
                        .then(|| row.try_get::<_, Integer>(0))
                        .transpose()?
                        .map(|n| n.0);
                }
                None => {
                    success = false;
                    break;
                }
            },
            Err(e) if is_definite_failure(&e) => {
                client.batch_execute("ROLLBACK")?;
                return Ok(Ran::NoEffect);
            }
            Err(e) => return Err(e),
        }
    }
    at.set(None);
    if !success {
        client.batch_execute("ROLLBACK")?;
        return Ok(Ran::NoEffect);
    }
    match client.batch_execute("COMMIT") {
        Ok(()) => Ok(Ran::Done(last)),
        // A failed COMMIT has already rolled the transaction back.
        Err(e) if is_definite_failure(&e) => Ok(Ran::NoEffect),
        Err(e) => Err(e),
    }
}

/// How an operation's transaction ended.
enum Ran {
    /// It did not take effect (rolled back).
    NoEffect,
    /// It committed; with the last row's first column as an epoch when one
    /// was asked for.
    Done(Option<i64>),
}

/// An integer column of any width (an epoch), as `i64`.
struct Integer(i64);

impl<'a> FromSql<'a> for Integer {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Integer, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Integer(match *ty {
            Type::INT2 => i64::from(i16::from_sql(ty, raw)?),
            Type::INT4 => i64::from(i32::from_sql(ty, raw)?),
            _ => i64::from_sql(ty, raw)?,
        }))
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT2, Type::INT4, Type::INT8].contains(ty)
    }
}

/// The index just past the quoted text that opens at `b[start]` with `quote`,
/// where a doubled quote stands for itself and, with `escapes` (an `E'...'`
/// string), a backslash escapes the next byte.
fn skip_quoted(b: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                break;
            }
        } else {
            i += 1;
        }
    }
    i + 1
}
