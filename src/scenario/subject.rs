//! The lease under test, installed in a schema of the harness's own.
//!
//! A [`Subject`] is the built-in reference [`Lease`], the built-in fenced
//! lease ([`crate::lease::FencedLease`]) or a spec file's statements. It
//! owns the schema it was installed in (and drops only that),
//! hands out one [`Contender`] per candidate, and performs the harness's own
//! calls: `reset` (make the lease free) and `age` (make the current tenure
//! look older without sleeping).

use super::error::{harness, RunError};
use crate::adapter::{AdapterCommand, Breakage, Candidacy, Hello};
use crate::database::{Postgres, Schema};
use crate::input::{HolderId, Ttl};
use crate::lease::{Contender, ExecLease, Lease, LeaseError, ReferenceSql};
use leasecheck_model::{Candidate, Semantics};
use std::time::Duration;

enum Kind {
    Reference,
    /// The reference lease with a fencing epoch (P8, [`crate::fenced`]).
    Fenced,
    Spec(std::sync::Arc<crate::spec::Spec>),
    /// A lease in any language behind an adapter process per candidate
    /// (`--exec`); the spec beside it gives the schema, `reset` and `age`.
    Exec(std::sync::Arc<crate::spec::Spec>, Adapter),
}

/// The adapter of an `--exec` subject: its command, what its hello said,
/// how long the harness waits for each of its lines.
#[derive(Clone, Debug)]
struct Adapter {
    command: AdapterCommand,
    /// The probe's hello: every process must say the same.
    hello: Option<Hello>,
    timeout: Duration,
    /// The first break of the protocol by any of its processes.
    breakage: Breakage,
}

/// The lease under test, in its own schema.
pub struct Subject {
    kind: Kind,
    schema: Schema,
    route: postgres::Config,
    /// The server itself (where the harness looks up an adapter's backend).
    server: postgres::Config,
    ttl: Ttl,
    name: String,
    pooled: bool,
    skew: Option<(Duration, u64)>,
}

impl Subject {
    /// The built-in reference lease, in a fresh schema of `pg`.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::provision()?;
    /// let subject = leasecheck::Subject::reference(&pg, leasecheck::Ttl::parse("1")?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reference(pg: &Postgres, ttl: Ttl) -> Result<Subject, RunError> {
        let subject = Subject::in_fresh_schema(pg, Kind::Reference, ttl, "reference (built-in)")?;
        let mut lease = subject.reference_lease(&subject.route, HolderId::for_process())?;
        lease.ensure_table()?;
        Ok(subject)
    }

    /// The built-in fenced lease ([`crate::lease::FencedLease`]: the
    /// reference lease with an epoch column, P8), in a fresh schema of `pg`.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::provision()?;
    /// let subject = leasecheck::Subject::fenced(&pg, leasecheck::Ttl::parse("1")?)?;
    /// assert!(subject.is_fenced());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fenced(pg: &Postgres, ttl: Ttl) -> Result<Subject, RunError> {
        let name = "fenced lease (built-in: reference + epoch)";
        let subject = Subject::in_fresh_schema(pg, Kind::Fenced, ttl, name)?;
        let mut lease = subject.fenced_lease(&subject.route, HolderId::for_process())?;
        lease.ensure_table()?;
        Ok(subject)
    }

    /// A spec file's lease, installed in a fresh schema of `pg` (its `schema`
    /// SQL run, every statement prepared: a broken statement fails here,
    /// before any run).
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::provision()?;
    /// let spec = leasecheck::spec::Spec::reference();
    /// let subject = leasecheck::Subject::from_spec(&pg, spec, leasecheck::Ttl::parse("1")?)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_spec(
        pg: &Postgres,
        spec: crate::spec::Spec,
        ttl: Ttl,
    ) -> Result<Subject, RunError> {
        let name = format!("{} (spec)", spec.name());
        let spec = std::sync::Arc::new(spec);
        let mut subject = Subject::in_fresh_schema(pg, Kind::Spec(spec.clone()), ttl, name)?;
        let schema = subject.schema.name().clone();
        spec.install(subject.schema.client(), &schema)?;
        Ok(subject)
    }

    /// A lease in any language: one process per candidate, each running
    /// `command` and speaking the adapter protocol
    /// ([`crate::adapter`]); `spec` gives the lease's schema, `reset` and
    /// `age` (its operations are the adapter's). One process is started
    /// here and stopped again to read the adapter's hello: an adapter that
    /// cannot start fails here, before any run. `timeout` bounds the wait
    /// for every line an adapter owes.
    ///
    /// ```no_run
    /// use leasecheck::adapter::AdapterCommand;
    /// let pg = leasecheck::Postgres::provision()?;
    /// let spec = leasecheck::spec::Spec::load("examples/python/lease.toml".as_ref())?;
    /// let command = AdapterCommand::parse("python3 examples/python/adapter.py")?;
    /// let ttl = leasecheck::Ttl::parse("1")?;
    /// let subject = leasecheck::Subject::exec(&pg, spec, command, ttl, std::time::Duration::from_secs(30))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exec(
        pg: &Postgres,
        spec: crate::spec::Spec,
        command: AdapterCommand,
        ttl: Ttl,
        timeout: Duration,
    ) -> Result<Subject, RunError> {
        let name = format!(
            "{} (exec, schema from spec {})",
            command.text(),
            spec.name()
        );
        let spec = std::sync::Arc::new(spec);
        let adapter = Adapter {
            command,
            hello: None,
            timeout,
            breakage: Breakage::default(),
        };
        let mut subject =
            Subject::in_fresh_schema(pg, Kind::Exec(spec.clone(), adapter), ttl, name)?;
        let schema = subject.schema.name().clone();
        spec.install(subject.schema.client(), &schema)?;
        let probe = subject.exec_lease(Candidate(0), &subject.route)?;
        let hello = probe.process().hello().clone();
        drop(probe);
        if spec.semantics().renew && !hello.renews() {
            return Err(RunError::from(LeaseError::Adapter(Box::new(
                crate::adapter::AdapterError::NoRenew {
                    said: hello.to_line(),
                },
            ))));
        }
        if let Kind::Exec(_, adapter) = &mut subject.kind {
            adapter.hello = Some(hello);
        }
        Ok(subject)
    }

    /// The adapter process of candidate `who`, connecting to `route`.
    fn exec_lease(
        &self,
        who: Candidate,
        route: &postgres::Config,
    ) -> Result<ExecLease, LeaseError> {
        let Kind::Exec(_, adapter) = &self.kind else {
            unreachable!("exec_lease is only called on an exec subject")
        };
        let candidacy = Candidacy {
            candidate: who.to_string(),
            database_url: crate::database::url_of(route),
            app_name: format!("{}/{who}", self.schema.name().as_str()),
            schema: self.schema.name().clone(),
            ttl: self.ttl,
            holder: holder_of(who),
            clock_offset_micros: self.skew_of(who),
            timeout: adapter.timeout,
        };
        let lease = ExecLease::start(&adapter.command, candidacy, &self.server, &adapter.breakage)?;
        let said = lease.process().hello();
        match &adapter.hello {
            Some(probe) if probe != said => Err(LeaseError::Adapter(Box::new(
                crate::adapter::AdapterError::OtherHello {
                    candidate: who.to_string(),
                    said: said.to_line(),
                    first: probe.to_line(),
                },
            ))),
            _ => Ok(lease),
        }
    }

    /// The first break of the adapter protocol by any of this subject's
    /// processes (`--exec`): the scenario that saw it cannot be judged as
    /// done, whatever it made of the call.
    pub fn adapter_failure(&self) -> Option<String> {
        match &self.kind {
            Kind::Exec(_, adapter) => adapter.breakage.first(),
            _ => None,
        }
    }

    /// `result`, unless one of this subject's adapter processes broke the
    /// protocol ([`Subject::adapter_failure`]): then an error, whatever the
    /// caller made of the call that saw it (an unknown outcome, a lost check).
    pub fn unless_adapter_broke<T>(&self, result: Result<T, RunError>) -> Result<T, RunError> {
        match self.adapter_failure() {
            Some(reason) => result.and(Err(RunError::Adapter(reason))),
            None => result,
        }
    }

    /// Whether each candidate is a process of its own (`--exec`).
    pub fn is_exec(&self) -> bool {
        matches!(self.kind, Kind::Exec(..))
    }

    /// A subject of `kind` in a fresh schema of `pg`, on direct connections
    /// and without skew; its lease is not installed yet.
    fn in_fresh_schema(
        pg: &Postgres,
        kind: Kind,
        ttl: Ttl,
        name: impl Into<String>,
    ) -> Result<Subject, RunError> {
        Ok(Subject {
            kind,
            schema: Schema::create(connect(pg)?)?.reconnecting(pg.config()),
            route: pg.config(),
            server: pg.config(),
            ttl,
            name: name.into(),
            pooled: false,
            skew: None,
        })
    }

    /// Route every contender through a transaction pooler at `route` (the
    /// harness's own calls stay on the direct connection).
    pub fn route_via_pooler(mut self, route: postgres::Config) -> Subject {
        self.route = route;
        self.pooled = true;
        self
    }

    /// Give each contender its own wall-clock offset (bound as `$3`):
    /// even-numbered candidates run behind the true clock and odd-numbered
    /// ones ahead, each by between `max / 2` and `max` (drawn by `seed`), so
    /// any two neighbours differ by at least `max`.
    pub fn with_skew(mut self, max: Duration, seed: u64) -> Subject {
        self.skew = Some((max, seed));
        self
    }

    /// Where contenders connect (the server, or a pooler in front of it).
    pub fn route(&self) -> &postgres::Config {
        &self.route
    }

    /// Reopen the harness's own connection (after the server crashed and
    /// came back).
    pub fn reconnect(&mut self) -> Result<(), RunError> {
        Ok(self.schema.reconnect()?)
    }

    /// Run with `ttl` and every candidate on the true clock from now on:
    /// the durability scenario needs a TTL longer than a restart, and judges
    /// the server, not the candidates' clocks.
    pub fn for_durability(&mut self, ttl: Ttl) {
        self.ttl = ttl;
        self.skew = None;
    }

    /// Whether contenders go through a transaction pooler.
    pub fn is_pooled(&self) -> bool {
        self.pooled
    }

    /// The clock offset of `who`, in microseconds (0 without skew).
    pub fn skew_of(&self, who: Candidate) -> i64 {
        use rand::{Rng, SeedableRng};
        let Some((max, seed)) = self.skew else {
            return 0;
        };
        let max = i64::try_from(max.as_micros()).unwrap_or(i64::MAX / 2);
        if max == 0 {
            return 0;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (u64::from(who.0) << 32));
        let magnitude = rng.gen_range(max / 2..=max);
        if who.0 % 2 == 0 {
            -magnitude
        } else {
            magnitude
        }
    }

    fn reference_lease(
        &self,
        route: &postgres::Config,
        holder: HolderId,
    ) -> Result<Lease<'static>, LeaseError> {
        let table = self.lease_lock();
        // Prepared statements are a third cheaper per call, but a
        // transaction pooler strands them: only on direct connections.
        Ok(Lease::connect_with(route, table, self.ttl, holder)?.prepared(!self.pooled))
    }

    fn fenced_lease(
        &self,
        route: &postgres::Config,
        holder: HolderId,
    ) -> Result<crate::lease::FencedLease, LeaseError> {
        let table = self.lease_lock();
        crate::lease::FencedLease::connect_with(route, table, self.ttl, holder)
    }

    /// Whether the lease has fencing epochs (P8): the built-in fenced lease,
    /// or a spec with `epoch = true`. Its contenders report their epoch.
    pub fn is_fenced(&self) -> bool {
        match &self.kind {
            Kind::Reference => false,
            Kind::Fenced => true,
            Kind::Spec(spec) => spec.has_epoch(),
            Kind::Exec(_, adapter) => adapter.hello.as_ref().is_some_and(|h| h.epoch),
        }
    }

    /// Whether a candidate's calls carry a value its winning call returned
    /// (a fencing epoch, or a spec's `carry = true`): one that lost that
    /// reply cannot name its own tenure, so its renew cannot tell it
    /// whether it leads.
    pub fn carries_a_token(&self) -> bool {
        self.is_fenced() || matches!(&self.kind, Kind::Spec(spec) if spec.carries())
    }

    /// The rules the lease declares: a spec's `[semantics]` table (also
    /// beside `--exec`), the reference's for the built-in leases.
    pub fn semantics(&self) -> Semantics {
        match &self.kind {
            Kind::Reference | Kind::Fenced => Semantics::REFERENCE,
            Kind::Spec(spec) | Kind::Exec(spec, _) => spec.semantics(),
        }
    }

    /// The name shown in reports.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The TTL the lease runs with.
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// Whether the harness can age a tenure without sleeping.
    pub fn can_age(&self) -> bool {
        match &self.kind {
            Kind::Reference | Kind::Fenced => true,
            Kind::Spec(spec) | Kind::Exec(spec, _) => spec.can_age(),
        }
    }

    /// The reference lease's table (`lease_lock` in the subject's schema).
    fn lease_lock(&self) -> crate::input::TableName {
        match self.schema.table("lease_lock") {
            Ok(t) => t,
            Err(e) => unreachable!("lease_lock is a valid identifier: {e}"),
        }
    }

    /// The lease row's table (`lease_lock` in the subject's schema), for
    /// faults that lock the row; `None` when the lease has no such table.
    pub fn lease_table(&mut self) -> Result<Option<crate::input::TableName>, RunError> {
        let table = self.lease_lock();
        let exists: bool = self
            .schema
            .client()
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table.to_string()])
            .and_then(|r| r.try_get(0))
            .map_err(|e| harness("look up the lease table", &e))?;
        Ok(exists.then_some(table))
    }

    /// The schema the subject lives in.
    pub fn schema_name(&self) -> &crate::input::Ident {
        self.schema.name()
    }

    /// A contender for `who`, connected to `route` (default: the subject's
    /// own; a fault may route it through its proxy).
    pub fn contender(
        &self,
        who: Candidate,
        route: Option<&postgres::Config>,
    ) -> Result<Box<dyn Contender>, RunError> {
        let route = route.unwrap_or(&self.route);
        let holder = holder_of(who);
        match &self.kind {
            Kind::Reference => Ok(Box::new(self.reference_lease(route, holder)?)),
            Kind::Fenced => Ok(Box::new(self.fenced_lease(route, holder)?)),
            Kind::Spec(spec) => {
                let mut lease = crate::lease::SpecLease::connect_with(
                    route,
                    self.schema.name(),
                    spec.clone(),
                    self.ttl,
                    holder,
                )?;
                lease.set_skew(self.skew_of(who));
                Ok(Box::new(lease))
            }
            Kind::Exec(..) => Ok(Box::new(self.exec_lease(who, route)?)),
        }
    }

    /// Make the lease free.
    pub fn reset(&mut self) -> Result<(), RunError> {
        match &self.kind {
            Kind::Reference | Kind::Fenced => {
                let sql = ReferenceSql::new(&self.lease_lock()).reset;
                self.schema
                    .client()
                    .execute(&sql, &[])
                    .map(|_| ())
                    .map_err(|e| harness("reset the lease", &e))
            }
            Kind::Spec(spec) | Kind::Exec(spec, _) => {
                let name = self.schema.name().clone();
                Ok(spec.reset(self.schema.client(), &name)?)
            }
        }
    }

    /// Make the current tenure look older by `by`. `Ok(false)` when the
    /// subject has no way to do that (a spec without `age`).
    pub fn age(&mut self, by: Duration) -> Result<bool, RunError> {
        match &self.kind {
            Kind::Reference | Kind::Fenced => {
                let sql = ReferenceSql::new(&self.lease_lock()).age;
                let secs = by.as_secs_f64();
                self.schema
                    .client()
                    .execute(&sql, &[&secs])
                    .map(|_| true)
                    .map_err(|e| harness("age the lease", &e))
            }
            Kind::Spec(spec) | Kind::Exec(spec, _) => {
                let name = self.schema.name().clone();
                Ok(spec.age(self.schema.client(), &name, by)?)
            }
        }
    }

    /// Drop the subject's schema, reporting failure (dropping does the same quietly).
    pub fn drop_schema(self) -> Result<(), RunError> {
        Ok(self.schema.drop_schema()?)
    }
}

/// The holder id candidate `who` acts as: this process's, derived.
fn holder_of(who: Candidate) -> HolderId {
    HolderId::for_process().derive(&who.to_string())
}

fn connect(pg: &Postgres) -> Result<crate::database::Client, RunError> {
    pg.connect().map_err(|e| RunError::Harness {
        what: "connect",
        message: format!(
            "{}: {}",
            pg.target(),
            crate::database::diagnostic::pg_message(&e)
        ),
    })
}
