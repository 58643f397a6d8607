//! The one dispatch from a [`Fault`] to what it does: every scenario that
//! stalls someone (the takeover's leader, the zombie's leader at work)
//! prepares an [`Injector`] before its run and asks it for a [`Stall`] at the
//! moment the stall must begin.
//!
//! What is stalled differs by scenario (a renew, a write); how each fault is
//! applied and undone is written only here. The injector never decides what
//! a scenario expects, never records history and never sleeps: how long a
//! stall lasts is the `until` its caller passes to [`Stall::during`].

use super::crash::{outage_in, OutageSlot};
use super::failover::Switch;
use super::{
    BackendKill, BackendStall, ClientPause, Crash, DatabasePause, Durability, Failover, Fault,
    FaultError, Hold, Outage, Proxy, Replication, RowLock,
};
use crate::database::{Postgres, SystemSettings};
use crate::input::TableName;

/// How the faults of the database itself are set up: the replication of a
/// failover, the durability of a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatabaseSetup {
    /// How the failover's replica is fed.
    pub replication: Replication,
    /// How the crashed server commits.
    pub durability: Durability,
}

/// A fault made ready for one run: checked to apply here, with what it
/// needs set up before the run (the proxy of a connection stall or drop,
/// the replica of a failover, the durable settings of a crash).
#[derive(Debug)]
pub struct Injector<'p> {
    fault: Fault,
    pg: &'p Postgres,
    proxy: Option<Proxy>,
    row: Option<TableName>,
    failover: Option<Failover<'p>>,
    durable: Option<SystemSettings<'p>>,
    outage: OutageSlot,
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
    /// The next reply that ends a transaction is cut.
    Cut(Cut<'i>),
    /// The server is down; dropping the stall starts it again.
    Crash(Crash<'i>),
    /// Replication is held; dropping the stall fails over.
    Failover(Switch<'i>),
    /// The stalled party's backend was terminated: nothing to undo.
    Killed(BackendKill),
}

/// An armed cut of the proxy; dropping it disarms a cut that has not
/// happened.
#[derive(Debug)]
pub struct Cut<'i> {
    proxy: &'i Proxy,
}

impl Drop for Cut<'_> {
    fn drop(&mut self) {
        self.proxy.disarm();
    }
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
    /// let stall = injector.begin(None, || Err("no backend needed".into()))?;
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
        Injector::prepare_with(pg, fault, route, pooled, row, DatabaseSetup::default())
    }

    /// [`Injector::prepare`], with the setup of the database faults.
    pub fn prepare_with(
        pg: &'p Postgres,
        fault: Fault,
        route: &postgres::Config,
        pooled: bool,
        row: Option<TableName>,
        setup: DatabaseSetup,
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
            Fault::BackendKill if pooled => {
                return Err(not_applicable(
                    "through a transaction pooler the leader has no backend of its own: the \
                     server connection PgBouncer lends it serves other clients too"
                        .into(),
                ))
            }
            Fault::Failover if pooled => {
                return Err(not_applicable(
                    "through a transaction pooler the candidates reach the server through \
                     PgBouncer, whose upstream leasecheck does not switch"
                        .into(),
                ))
            }
            Fault::CrashRestart if pooled => {
                return Err(not_applicable(
                    "through a transaction pooler a crash of the server is PgBouncer's to \
                     recover from (PgBouncer 1.18 can leave its clients waiting after the \
                     restart), not the lease's: run it on direct connections"
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
            Fault::ConnectionStall | Fault::ConnectionDrop => Some(Proxy::in_front_of(route)?),
            _ => None,
        };
        let durable = match fault {
            Fault::CrashRestart => Some(setup.durability.apply(pg)?),
            _ => None,
        };
        let failover = match fault {
            Fault::Failover => Some(Failover::prepare(pg, route, setup.replication)?),
            _ => None,
        };
        Ok(Injector {
            fault,
            pg,
            proxy,
            row,
            failover,
            durable,
            outage: OutageSlot::default(),
        })
    }

    /// The fault.
    pub fn fault(&self) -> Fault {
        self.fault
    }

    /// Where the stalled party connects: through the proxy for a connection
    /// stall, `route` itself otherwise.
    pub fn stalled_route(&self, route: &postgres::Config) -> postgres::Config {
        match (&self.proxy, &self.failover) {
            (Some(proxy), _) => proxy.config_for(route),
            (None, Some(failover)) => failover.route(route),
            (None, None) => route.clone(),
        }
    }

    /// Where everyone else connects: through the failover's proxy for a
    /// failover (every candidate is switched), `route` itself otherwise.
    pub fn others_route(&self, route: &postgres::Config) -> postgres::Config {
        match &self.failover {
            Some(failover) => failover.route(route),
            None => route.clone(),
        }
    }

    /// Arm the cut of a `connection-drop` for the leader's next call that
    /// commits (its first acquire); `None` for any other fault.
    pub fn cut_next_commit(&self) -> Option<Cut<'_>> {
        match (self.fault, &self.proxy) {
            (Fault::ConnectionDrop, Some(proxy)) => {
                proxy.cut_next_commit();
                Some(Cut { proxy })
            }
            _ => None,
        }
    }

    /// How many replies the `connection-drop` proxy cut.
    pub fn cuts(&self) -> usize {
        match (self.fault, &self.proxy) {
            (Fault::ConnectionDrop, Some(proxy)) => proxy.cuts(),
            _ => 0,
        }
    }

    /// How the last crash or failover went: how long the server was gone
    /// and how long it took to come back; `Ok(None)` before one ended, and
    /// for any other fault. An error if the server could not be started
    /// again or the replica promoted.
    pub fn outage(&self) -> Result<Option<Outage>, FaultError> {
        outage_in(&self.outage, self.fault)
    }

    /// Start the fault now. `process` is the process group running the
    /// stalled party's lease, if it has one of its own (an adapter): a
    /// client pause stops it. `backend` finds the stalled party's backend
    /// process id; it is called only for a backend stall or kill.
    pub fn begin(
        &self,
        process: Option<i32>,
        backend: impl FnOnce() -> Result<i32, String>,
    ) -> Result<Stall<'_>, FaultError> {
        let fault = self.fault;
        Ok(match fault {
            Fault::ClientPause => Stall::Client(ClientPause::of(process)?),
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
            Fault::ConnectionDrop => match self.cut_next_commit() {
                Some(cut) => Stall::Cut(cut),
                None => unreachable!("prepare() starts the proxy of a connection drop"),
            },
            Fault::CrashRestart => Stall::Crash(Crash::now(self.pg, &self.outage)?),
            Fault::BackendKill => {
                let pid = backend().map_err(|reason| FaultError::Backend { fault, reason })?;
                let mut admin = self.pg.connect().map_err(|source| FaultError::Postgres {
                    fault,
                    what: "connect to terminate the leader's backend",
                    source,
                })?;
                Stall::Killed(BackendKill::terminate(&mut admin, pid)?)
            }
            Fault::Failover => match &self.failover {
                Some(failover) => Stall::Failover(failover.begin(&self.outage)),
                None => unreachable!("prepare() starts the replica of a failover"),
            },
        })
    }

    /// Undo everything the injector set up: the proxy, the replica, the
    /// server settings (dropping the injector does the same, but only logs
    /// a failure to reset the settings).
    pub fn close(mut self) -> Result<(), FaultError> {
        drop(self.proxy.take());
        drop(self.failover.take());
        match self.durable.take() {
            Some(durable) => durable.undo().map_err(|reason| FaultError::Server {
                fault: self.fault,
                what: "reset the server's settings",
                reason,
            }),
            None => Ok(()),
        }
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
        if let Stall::Client(pause) = self {
            until();
            drop(pause);
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
