//! [`SpecLease`]: a spec file's statements run as a lease, for one holder on
//! one owned connection. Every operation is one explicit transaction that
//! starts with `SET LOCAL search_path TO <schema>`, its statements unnamed
//! with typed parameters (`$1` holder, `$2` TTL seconds, `$3` the candidate's
//! clock, `$4` its epoch with `epoch = true`), so it is safe through a
//! transaction pooler. Success is read from the rows returned, never from a
//! count of affected rows.

use super::connection::{backend_pid, Reconnecting};
use super::error::LeaseError;
use crate::database::Client;
use crate::input::{HolderId, Ident, Ttl};
use crate::spec::{field_name, set_local, Spec, CARRIED_TYPES};
use leasecheck_model::Op;
use postgres::error::SqlState;
use postgres::types::{FromSql, Kind, ToSql, Type};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
/// use leasecheck::lease::SpecLease;
/// use leasecheck::spec::Spec;
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
    /// With `carry = true`: the value its last winning call returned.
    carried: Option<String>,
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
    /// # use leasecheck::spec::Spec;
    /// # use leasecheck::lease::SpecLease;
    /// # use leasecheck::{HolderId, Ident, Ttl};
    /// # use std::sync::Arc;
    /// let spec = Arc::new(Spec::load("specs/broken/client-clock.toml".as_ref())?);
    /// let ttl = spec.ttl().unwrap_or(leasecheck::Ttl::parse("10")?);
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
        SpecLease::connect_with(&Reconnecting::parse(url)?, schema, spec, ttl, holder)
    }

    /// [`SpecLease::connect`] with connection settings already parsed.
    pub fn connect_with(
        config: &postgres::Config,
        schema: &Ident,
        spec: Arc<Spec>,
        ttl: Ttl,
        holder: HolderId,
    ) -> Result<SpecLease, LeaseError> {
        let conn = Reconnecting::open(config)?;
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
            carried: None,
            conn,
            begin_single,
            begin_array,
        })
    }

    /// Shift this candidate's clock (bound to `$3`) by `micros`
    /// microseconds; positive is ahead of the wall clock.
    ///
    /// ```no_run
    /// # fn f(lease: &mut leasecheck::lease::SpecLease) {
    /// lease.set_skew(3_600_000_000); // one hour ahead
    /// # }
    /// ```
    pub fn set_skew(&mut self, micros: i64) {
        self.skew_micros = micros;
    }

    /// The clock skew in microseconds (positive is ahead).
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::lease::SpecLease) {
    /// println!("clock skew {} us", lease.skew());
    /// # }
    /// ```
    pub fn skew(&self) -> i64 {
        self.skew_micros
    }

    /// This candidate's clock: the wall clock shifted by the skew.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::lease::SpecLease) {
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
    /// # fn f(lease: &mut leasecheck::lease::SpecLease) -> Result<(), leasecheck::LeaseError> {
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
    /// # fn f(lease: &mut leasecheck::lease::SpecLease) -> Result<(), leasecheck::LeaseError> {
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
    /// # fn f(lease: &mut leasecheck::lease::SpecLease) -> Result<(), leasecheck::LeaseError> {
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
    /// # fn f(lease: &mut leasecheck::lease::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// use leasecheck::model::Op;
    /// for op in Op::ALL {
    ///     println!("{op}: {}", lease.call(op)?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn call(&mut self, op: Op) -> Result<bool, LeaseError> {
        match self.call_once(op) {
            Err(e) if e.is_connection_loss() && self.spec.retries_lost_reply() => {
                tracing::info!(holder = %self.holder, %op, "retry_lost_reply: running the call again after a lost reply");
                self.call_once(op)
            }
            other => other,
        }
    }

    fn call_once(&mut self, op: Op) -> Result<bool, LeaseError> {
        let spec = Arc::clone(&self.spec);
        // a lease that declares no renew: a renew never succeeds (the
        // harness does not call it; the model says the same)
        let Some(operation) = spec.operation(op) else {
            return Ok(false);
        };
        let begin = if operation.is_array() {
            self.begin_array.clone()
        } else {
            self.begin_single.clone()
        };
        let holder = self.holder.as_str().to_string();
        let ttl = self.ttl.as_secs_f64();
        let clock = self.clock();
        let epoch: Option<i64> = self.epoch.and_then(|e| i64::try_from(e).ok());
        let carried = self.carried.clone();
        let params: [(&(dyn ToSql + Sync), Type); 5] = [
            (&holder, Type::TEXT),
            (&ttl, Type::FLOAT8),
            (&clock, Type::TIMESTAMPTZ),
            (&epoch, Type::INT8),
            (&carried, Type::TEXT),
        ];
        let params = &params[..spec.op_params().len()];
        let wants = Wants {
            epoch: spec.has_epoch() && op == Op::TryAcquire,
            carry: spec.carries() && op != Op::Release,
        };
        let at = std::cell::Cell::new(None);
        let result = self.run(op.name(), |client| {
            run_operation(client, &begin, operation.statements(), params, &at, wants)
        });
        if wants.epoch {
            match &result {
                // a negative epoch is no epoch: the candidate cannot fence with it
                Ok(Ran::Done(Returned { epoch: Some(e), .. })) => {
                    self.epoch = u64::try_from(*e).ok()
                }
                Ok(_) => {}
                Err(_) => self.epoch = None,
            }
        }
        if wants.carry {
            // replaced by every call that hands a value back, kept otherwise:
            // a failed call wins no tenure, so the old value names the
            // candidate's own last one (or none it still holds)
            if let Ok(Ran::Done(Returned {
                carried: Some(v), ..
            })) = &result
            {
                self.carried = Some(v.clone());
            }
        }
        let result = result.map(|ran| !matches!(ran, Ran::NoEffect));
        match (result, at.get()) {
            (Err(LeaseError::Statement { source, .. }), Some(i)) => {
                let field = field_name(op, operation, i);
                Err(LeaseError::SpecStatement {
                    site: Box::new(crate::lease::SpecSite {
                        spec: self.spec.name().to_string(),
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
    /// # fn f(lease: &mut leasecheck::lease::SpecLease) -> Result<(), leasecheck::LeaseError> {
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
    /// # fn f(lease: &mut leasecheck::lease::SpecLease) -> Result<(), leasecheck::LeaseError> {
    /// let pid = lease.backend_pid()?;
    /// # Ok(()) }
    /// ```
    pub fn backend_pid(&mut self) -> Result<i32, LeaseError> {
        self.run("backend_pid", backend_pid)
    }

    /// The holder id this lease acts for.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::lease::SpecLease) {
    /// println!("acting for {}", lease.holder());
    /// # }
    /// ```
    pub fn holder(&self) -> &HolderId {
        &self.holder
    }

    /// The TTL bound to `$2`.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::lease::SpecLease) {
    /// let renew_every = lease.ttl().as_duration() / 3;
    /// # }
    /// ```
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// The spec.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::lease::SpecLease) {
    /// println!("running {}", lease.spec().name());
    /// # }
    /// ```
    pub fn spec(&self) -> &Arc<Spec> {
        &self.spec
    }

    /// The schema the spec runs in.
    ///
    /// ```no_run
    /// # fn f(lease: &leasecheck::lease::SpecLease) {
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
        let table = format!("{}.* (spec {:?})", self.schema, self.spec.name());
        let who = format!("{} (spec {})", self.holder, self.spec.name());
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
    wants: Wants,
) -> Result<Ran, postgres::Error> {
    client.batch_execute(begin)?;
    let mut success = false;
    let mut last = Returned::default();
    for (i, sql) in statements.iter().enumerate() {
        at.set(Some(i));
        match client.query_typed(sql, params) {
            Ok(rows) => match rows.first() {
                Some(row) => {
                    success = verdict(row)?;
                    // with `epoch = true`, try_acquire's row carries the epoch
                    last.epoch = (wants.epoch && success)
                        .then(|| row.try_get::<_, Integer>(0))
                        .transpose()?
                        .map(|n| n.0);
                    // with `carry = true`, a text first column is the value
                    let text = row
                        .columns()
                        .first()
                        .is_some_and(|c| CARRIED_TYPES.contains(c.type_()));
                    last.carried = (wants.carry && success && text)
                        .then(|| row.try_get::<_, Option<String>>(0))
                        .transpose()?
                        .flatten();
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
    /// It committed, with what its last row handed back.
    Done(Returned),
}

/// What an operation's last row is read for.
#[derive(Clone, Copy)]
struct Wants {
    /// The epoch (`epoch = true`, try_acquire).
    epoch: bool,
    /// The carried value (`carry = true`, try_acquire and renew).
    carry: bool,
}

/// What the last row of a committed operation handed back.
#[derive(Default)]
struct Returned {
    epoch: Option<i64>,
    carried: Option<String>,
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
