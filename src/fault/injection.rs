//! The one dispatch from a [`Fault`] to what it does: every scenario that
//! stalls someone (the takeover's leader, the zombie's leader at work)
//! prepares an [`Injector`] before its run and asks it for a [`Stall`] at the
//! moment the stall must begin.
//!
//! What is stalled differs by scenario (a renew, a write); how each fault is
//! applied and undone is written only here. The injector never decides what
//! a scenario expects, never records history and never sleeps: how long a
//! stall lasts is the `until` its caller passes to [`Stall::during`].

use super::{BackendStall, ClientPause, DatabasePause, Fault, FaultError, Hold, Proxy, RowLock};
use crate::database::Postgres;
use crate::input::TableName;

/// A fault made ready for one run: checked to apply here, with what it
/// needs set up before the run (the proxy of a connection stall).
#[derive(Debug)]
pub struct Injector<'p> {
    fault: Fault,
    pg: &'p Postgres,
    proxy: Option<Proxy>,
    row: Option<TableName>,
}

/// A fault in force on the stalled party. Dropping it undoes the fault (also
/// while unwinding from a panic).
#[derive(Debug)]
#[must_use = "dropping the stall undoes the fault at once"]
pub enum Stall<'i> {
    /// The stalled party makes no call until the pause ends.
    Client(ClientPause),
    /// The proxy holds the stalled party's connection.
    Connection(Hold<'i>),
    /// The stalled party's backend is stopped.
    Backend(BackendStall),
    /// A blocker session holds the row the stalled party's next statement needs.
    Row(Box<RowLock>),
    /// The whole database is stopped.
    Database(DatabasePause),
}

impl<'p> Injector<'p> {
    /// Make `fault` ready against `pg`, for a stalled party whose connections
    /// go to `route` (`pooled`: through a transaction pooler). `row` is the
    /// table whose row `id = 1` a `row-lock` holds (`None`: this lease has no
    /// such table, so a row lock does not apply).
    ///
    /// Fails with [`FaultError::NotApplicable`] when the fault cannot be
    /// injected here, saying why.
    ///
    /// ```no_run
    /// use leasecheck::fault::{Fault, Injector};
    /// let pg = leasecheck::Postgres::provision()?;
    /// let injector = Injector::prepare(&pg, Fault::ClientPause, &pg.config(), false, None)?;
    /// let stall = injector.begin(|| Err("no backend needed".into()))?;
    /// stall.during(|| std::thread::sleep(std::time::Duration::from_millis(10)), || (), || ());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prepare(
        pg: &'p Postgres,
        fault: Fault,
        route: &postgres::Config,
        pooled: bool,
        row: Option<TableName>,
    ) -> Result<Injector<'p>, FaultError> {
        let not_applicable = |reason: String| FaultError::NotApplicable { fault, reason };
        fault.check_applicable(pg)?;
        match fault {
            Fault::BackendStall if pooled => {
                return Err(not_applicable(
                    "through a transaction pooler the leader has no backend of its own to stop"
                        .into(),
                ))
            }
            Fault::RowLock if row.is_none() => {
                return Err(not_applicable(
                    "the row-lock fault locks the row of the lease's `lease_lock` table, which \
                     this lease does not have"
                        .into(),
                ))
            }
            _ => {}
        }
        let proxy = match fault {
            Fault::ConnectionStall => Some(Proxy::in_front_of(route)?),
            _ => None,
        };
        Ok(Injector {
            fault,
            pg,
            proxy,
            row,
        })
    }

    /// The fault.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// Where the stalled party connects: through the proxy for a connection
    /// stall, `route` itself otherwise.
    pub fn stalled_route(&self, route: &postgres::Config) -> postgres::Config {
        match &self.proxy {
            Some(proxy) => proxy.config_for(route),
            None => route.clone(),
        }
    }

    /// Start the fault now. `backend` finds the stalled party's backend
    /// process id; it is called only for a backend stall.
    pub fn begin(
        &self,
        backend: impl FnOnce() -> Result<i32, String>,
    ) -> Result<Stall<'_>, FaultError> {
        let fault = self.fault;
        Ok(match fault {
            Fault::ClientPause => Stall::Client(ClientPause),
            Fault::ConnectionStall => match &self.proxy {
                Some(proxy) => Stall::Connection(proxy.hold_guard()),
                None => unreachable!("prepare() starts the proxy of a connection stall"),
            },
            Fault::BackendStall => {
                let pid = backend().map_err(|reason| FaultError::Backend { fault, reason })?;
                Stall::Backend(BackendStall::stop(pid)?)
            }
            Fault::RowLock => {
                let Some(table) = &self.row else {
                    unreachable!("prepare() refuses a row lock without a row")
                };
                let blocker = self.pg.connect().map_err(|source| FaultError::Postgres {
                    fault,
                    what: "connect the row-lock blocker",
                    source,
                })?;
                Stall::Row(Box::new(RowLock::hold(blocker, table)?))
            }
            Fault::DatabasePause => Stall::Database(DatabasePause::of(self.pg)?),
        })
    }

    /// Stop the proxy, if any (dropping the injector does the same).
    pub fn close(self) {
        drop(self);
    }
}

impl Stall<'_> {
    /// Let the stalled party do `work` under the fault, which ends when
    /// `until` returns. `until` runs on a thread of its own that then undoes
    /// the fault and calls `undone`, so `work` may block on it; for a client
    /// pause, `work` runs only after `until` returned (the party made no
    /// call meanwhile). The fault is undone whatever happens, a panic in
    /// `work` included.
    pub fn during<T>(
        self,
        until: impl FnOnce() + Send,
        undone: impl FnOnce() + Send,
        work: impl FnOnce() -> T,
    ) -> T {
        if let Stall::Client(ClientPause) = self {
            until();
            undone();
            return work();
        }
        std::thread::scope(|s| {
            s.spawn(move || {
                until();
                drop(self);
                undone();
            });
            work()
        })
    }
}
