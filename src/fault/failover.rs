//! `failover`: a streaming replica of the throwaway cluster, promoted during
//! a tenure, with every candidate switched to it.
//!
//! [`Failover::prepare`] starts two proxies and a replica: the replica
//! streams through the *replication proxy* (so the fault can hold
//! replication back: the replica lags), and every candidate connects
//! through the *client proxy* (what a virtual IP, DNS name or pooler is in
//! production). With [`Replication::Sync`] the primary waits for the
//! replica to apply every commit (`synchronous_standby_names`,
//! `synchronous_commit = remote_apply`) before acknowledging it.
//!
//! [`Failover::begin`] holds replication; dropping the returned [`Switch`]
//! promotes the replica (WAL it never received is never applied) and points
//! the client proxy at it, closing every open connection. The old primary
//! keeps running, unreachable through the proxy. Everything (proxies,
//! replica and its directory, the primary's settings) is undone on drop.

use super::crash::{record, Outage, OutageSlot};
use super::{Fault, FaultError, Hold, Proxy};
use crate::database::Client;
use crate::database::{Postgres, Replica, SystemSettings};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

const FAULT: Fault = Fault::Failover;
/// The replica's `application_name`, named in `synchronous_standby_names`.
const STANDBY: &str = "leasecheck_standby";
/// How long the replica may take to stream (and, synchronous, to be the sync standby).
const STREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// How the replica is fed (`--replication`).
///
/// ```
/// use leasecheck::fault::Replication;
/// assert_eq!("async".parse::<Replication>().unwrap(), Replication::Async);
/// assert_eq!(Replication::default().to_string(), "sync");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Replication {
    /// The primary acknowledges a commit only once the replica applied it
    /// (`remote_apply`): a failover loses nothing acknowledged.
    #[default]
    Sync,
    /// The primary acknowledges at once; the replica may lag, and a failover
    /// then loses what it had not received.
    Async,
}

impl Replication {
    /// Both modes, in a fixed order.
    pub const ALL: [Replication; 2] = [Replication::Sync, Replication::Async];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Replication::Sync => "sync",
            Replication::Async => "async",
        }
    }

    /// One line on the mode, for `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            Replication::Sync => "the primary acknowledges a commit once the replica applied it: a failover loses nothing acknowledged",
            Replication::Async => "the primary acknowledges at once: the replica may lag, and a failover loses what it missed",
        }
    }
}

impl fmt::Display for Replication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Replication {
    type Err = String;

    fn from_str(s: &str) -> Result<Replication, String> {
        match s {
            "sync" => Ok(Replication::Sync),
            "async" => Ok(Replication::Async),
            other => Err(format!("replication {other:?} is not one of sync, async")),
        }
    }
}

/// A replica ready to take over, and the proxies in front of both servers.
pub struct Failover<'p> {
    // Field order is drop order: clients first, then the replica, then
    // replication, then the primary's settings (which releases any commit
    // still waiting for the replica).
    clients: Proxy,
    replica: Replica,
    replication: Proxy,
    settings: Option<SystemSettings<'p>>,
    mode: Replication,
}

impl<'p> Failover<'p> {
    /// Start the replica of `pg` (a cluster leasecheck runs) and the client
    /// proxy in front of `route`, and wait until the replica streams (and,
    /// with [`Replication::Sync`], is the synchronous standby).
    pub fn prepare(
        pg: &'p Postgres,
        route: &postgres::Config,
        mode: Replication,
    ) -> Result<Failover<'p>, FaultError> {
        let server = |what: &'static str| {
            move |reason: String| FaultError::Server {
                fault: FAULT,
                what,
                reason,
            }
        };
        pg.local_cluster()
            .map_err(|reason| FaultError::NotApplicable {
                fault: FAULT,
                reason,
            })?;
        let replication = Proxy::in_front_of(&pg.config())?;
        let replica = Replica::start(pg, replication.addr(), STANDBY)
            .map_err(server("start a streaming replica"))?;
        wait_for_standby(pg, "streaming", "state").map_err(server("start streaming"))?;
        let settings = match mode {
            Replication::Async => None,
            Replication::Sync => {
                let settings = SystemSettings::apply(
                    pg,
                    &[
                        ("synchronous_standby_names", STANDBY),
                        ("synchronous_commit", "remote_apply"),
                    ],
                )
                .map_err(server("make replication synchronous"))?;
                wait_for_standby(pg, "sync", "sync_state")
                    .map_err(server("make the replica the synchronous standby"))?;
                Some(settings)
            }
        };
        let clients = Proxy::in_front_of(route)?;
        tracing::info!(%mode, replica = %replica.addr(), clients = %clients.addr(), "failover ready");
        Ok(Failover {
            clients,
            replica,
            replication,
            settings,
            mode,
        })
    }

    /// How the replica is fed.
    pub fn mode(&self) -> Replication {
        self.mode
    }

    /// `route` through the client proxy: where every candidate connects.
    pub fn route(&self, route: &postgres::Config) -> postgres::Config {
        self.clients.config_for(route)
    }

    /// Hold replication back now; dropping the returned switch promotes the
    /// replica and switches every candidate to it.
    pub(crate) fn begin<'i>(&'i self, slot: &'i OutageSlot) -> Switch<'i> {
        Switch {
            failover: self,
            held: Some(self.replication.hold_guard()),
            started: Instant::now(),
            slot,
        }
    }

    fn promote_and_switch(&self) -> Result<Duration, String> {
        let started = Instant::now();
        self.replica.promote()?;
        self.clients.switch_upstream(self.replica.addr());
        Ok(started.elapsed())
    }
}

impl fmt::Debug for Failover<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failover")
            .field("mode", &self.mode)
            .field("replica", &self.replica)
            .field("synchronous", &self.settings.is_some())
            .finish()
    }
}

/// Replication held back; dropping it (also while unwinding from a panic)
/// promotes the replica and switches every candidate to it. How that went
/// is left in the injector's outage slot.
#[must_use = "dropping the switch fails over at once"]
pub struct Switch<'i> {
    failover: &'i Failover<'i>,
    held: Option<Hold<'i>>,
    started: Instant,
    slot: &'i OutageSlot,
}

impl Drop for Switch<'_> {
    fn drop(&mut self) {
        let outage = self.failover.promote_and_switch().map(|recovery| Outage {
            down: self.started.elapsed(),
            recovery,
        });
        // The walreceiver is gone with the promotion: let the held bytes go.
        drop(self.held.take());
        record(self.slot, outage);
    }
}

impl fmt::Debug for Switch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Switch").finish()
    }
}

/// Wait until the primary reports the standby's `column` as `value` in
/// `pg_stat_replication`.
fn wait_for_standby(pg: &Postgres, value: &str, column: &str) -> Result<(), String> {
    let deadline = Instant::now() + STREAM_TIMEOUT;
    let mut client =
        Client::connect(&pg.config()).map_err(|e| format!("cannot connect to the primary: {e}"))?;
    let sql = format!(
        "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND {column} = $2"
    );
    loop {
        let n: i64 = client
            .query_one(&sql, &[&STANDBY, &value])
            .and_then(|row| row.try_get(0))
            .map_err(|e| format!("cannot read pg_stat_replication: {e}"))?;
        if n > 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the replica's {column} was not {value} within {}s",
                STREAM_TIMEOUT.as_secs()
            ));
        }
        // Polling the primary's view of its standby, as pg_ctl polls a start.
        std::thread::sleep(Duration::from_millis(20));
    }
}
