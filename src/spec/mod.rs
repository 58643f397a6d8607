//! Lease spec files: a user's own lease, described as SQL in TOML, run by the
//! harness from many candidates at once (the contract is written down in the repository's docs/spec-format.md).
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
//! An extension of the format for leases with a fencing epoch (P8): `epoch = true` (a boolean, default `false`) declares that
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
//! # Declared semantics
//!
//! A `[semantics]` table declares where the lease's rules differ from the
//! reference's on purpose (a re-entrant acquire, no renew, no expiry, ...):
//! [`Spec::semantics`], a [`Semantics`] that the model, the checker and the
//! runners judge the lease by. Safety never depends on it.
//!
//! # The `carry` contract (values handed back)
//!
//! `carry = true` declares that the first column of a winning `try_acquire`'s
//! row is a value, `text`, that the lease wants back (a record version, a
//! term timestamp, a token): it is bound to `$5` (text) in the candidate's
//! later operations, replaced by every successful `renew` whose first
//! column is text (and every later winning `try_acquire`), kept across calls
//! that fail, and NULL before the candidate first won. `epoch = true` is the special case
//! of an integer that grows with every tenure, bound to `$4` and judged (P8).
//!
//! # Running a spec
//!
//! [`SpecLease`](crate::lease::SpecLease) runs a spec's operations for one holder on one connection of
//! its own. Every operation is an explicit transaction whose first command is
//! `SET LOCAL search_path TO <schema>`, so the schema stays visible through a
//! transaction pooler (session settings and startup options would not), and
//! every statement is sent unnamed with explicitly typed parameters
//! (`$1` text, `$2` double precision, `$3` timestamptz, and `$4` bigint with
//! `epoch = true`: all are always bound, a statement may use any subset), so
//! no named prepared statement outlives its transaction.
//!
//! # The module
//!
//! This module is the format: the validated [`Spec`] (here), its parser
//! (`parse`), the lexical SQL scan behind the static checks (`scan`), its
//! installation and the harness's `reset`/`age` (`install`), and
//! [`SpecError`]. It never runs a lease operation: that is
//! [`SpecLease`](crate::lease::SpecLease)'s job.

mod error;
mod install;
mod parse;
mod scan;

pub use error::SpecError;
pub(crate) use install::{field_name, set_local};

use crate::input::Ttl;
use leasecheck_model::{Op, Semantics};
use postgres::types::Type;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The built-in reference lease as a spec (`specs/reference.toml`).
const REFERENCE: &str = include_str!("../../specs/reference.toml");

/// The types bound to `$1`, `$2`, `$3` of `try_acquire`, `renew` and
/// `release`, `$4` (the candidate's epoch) with `epoch = true`, and `$5`
/// (the value carried from its last winning call) with `carry = true`.
const OP_PARAMS: [Type; 5] = [
    Type::TEXT,
    Type::FLOAT8,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::TEXT,
];

/// The types a carried value (`carry = true`) may be returned as.
pub(crate) const CARRIED_TYPES: [Type; 2] = [Type::TEXT, Type::VARCHAR];

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
/// let renew = spec.operation(Op::Renew).expect("the reference has a renew");
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
    /// let first = spec.operation(leasecheck::model::Op::Renew).map(|o| &o.statements()[0]);
    /// ```
    pub fn statements(&self) -> &[String] {
        &self.statements
    }

    /// True if the file wrote the operation as an array (even of one
    /// statement): the spec's `isolation` applies to it.
    ///
    /// ```no_run
    /// # let spec = leasecheck::spec::Spec::reference();
    /// let isolated = spec.operation(leasecheck::model::Op::TryAcquire).is_some_and(|o| o.is_array());
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
    /// `None` for a lease that declares `renew = false`.
    renew: Option<Operation>,
    release: Operation,
    isolation: Isolation,
    /// `epoch = true`: a fenced lease (see the module docs).
    epoch: bool,
    /// `carry = true`: a value the lease returns is bound to `$5` later.
    carry: bool,
    /// The `[semantics]` table: the rules the lease declares.
    semantics: Semantics,
    /// `retry_lost_reply = true`: the client runs an operation again, once,
    /// when its connection died before the reply (see the module docs).
    retry_lost_reply: bool,
    /// The line where each SQL field's text starts (`renew`, `renew[1]`, ...).
    lines: BTreeMap<String, usize>,
}

impl Spec {
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

    /// The built-in reference lease as a spec.
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
    /// ```
    /// let spec = leasecheck::spec::Spec::reference();
    /// let ttl = spec.ttl().unwrap_or(leasecheck::Ttl::parse("10")?);
    /// assert_eq!(ttl.as_millis(), 1000);
    /// # Ok::<(), leasecheck::TtlError>(())
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

    /// The statements of one operation; `None` for the renew of a lease
    /// that declares `renew = false`.
    ///
    /// ```no_run
    /// use leasecheck::model::Op;
    /// let spec = leasecheck::spec::Spec::reference();
    /// for sql in spec.operation(Op::TryAcquire).map(|o| o.statements()).unwrap_or_default() {
    ///     println!("{sql}");
    /// }
    /// ```
    pub fn operation(&self, op: Op) -> Option<&Operation> {
        match op {
            Op::TryAcquire => Some(&self.try_acquire),
            Op::Renew => self.renew.as_ref(),
            Op::Release => Some(&self.release),
        }
    }

    /// The rules the lease declares in its `[semantics]` table (the
    /// reference's where it declares nothing).
    ///
    /// ```
    /// let spec = leasecheck::spec::Spec::reference();
    /// assert!(spec.semantics().is_reference());
    /// ```
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }

    /// True if the spec declares `carry = true`: the first column (text) of
    /// a winning `try_acquire`'s row, and of a successful `renew`'s where it
    /// is text, is bound to `$5` in the candidate's later operations.
    ///
    /// ```
    /// # let spec = leasecheck::spec::Spec::reference();
    /// assert!(!spec.carries());
    /// ```
    pub fn carries(&self) -> bool {
        self.carry
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

    /// True if the spec declares `retry_lost_reply = true`: the client runs
    /// an operation again, once, on a fresh connection, when the connection
    /// died before its reply came, and reports the second answer (what many
    /// drivers' and ORMs' retry wrappers do). Unsafe where the first attempt
    /// took effect: see `specs/broken/retry-after-lost-reply.toml`.
    ///
    /// ```
    /// # let spec = leasecheck::spec::Spec::reference();
    /// assert!(!spec.retries_lost_reply());
    /// ```
    pub fn retries_lost_reply(&self) -> bool {
        self.retry_lost_reply
    }

    /// The types bound to the operations' placeholders (`$4` is bound,
    /// NULL, when only `$5` is used: the static check refuses `$4` there).
    pub(crate) fn op_params(&self) -> &'static [Type] {
        if self.carry {
            &OP_PARAMS
        } else if self.epoch {
            &OP_PARAMS[..4]
        } else {
            &OP_PARAMS[..3]
        }
    }
}
