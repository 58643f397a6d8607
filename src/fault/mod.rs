//! The faults that stall a leader, one per file, each applied as a guard
//! that is always undone, and one dispatch ([`Injector`]) that every
//! scenario uses to inject them.
//!
//! Every fault that changes something outside the harness's own threads is a
//! guard value: applying it returns the guard, dropping the guard undoes the
//! fault (also while unwinding from a panic), and `undo(self)` does the same
//! but reports a failure. Undo is idempotent: a guard undoes at most once.
//! Every apply and undo is logged at `info`.
//!
//! | fault              | guard                          | where it works                         |
//! |--------------------|--------------------------------|----------------------------------------|
//! | `client-pause`     | none (the runner stops calling) | anywhere                              |
//! | `connection-stall` | [`Hold`] | any server reached over TCP            |
//! | `backend-stall`    | [`BackendStall`]               | a cluster leasecheck runs on this host |
//! | `row-lock`         | [`RowLock`]                    | anywhere                               |
//! | `database-pause`   | [`DatabasePause`]              | a local cluster or a container         |
//! | `connection-drop`  | [`Proxy::cut_next_commit`]     | any server reached over TCP            |
//! | `crash-restart`    | [`Crash`]                      | a cluster leasecheck runs on this host |
//! | `failover`         | [`Failover`]                   | a cluster leasecheck runs on this host |
//! | `backend-kill`     | none ([`BackendKill`] is done)  | any server, on direct connections      |
//!
//! The first five stall something and let it go on. The last four end the
//! leader's calls with an error rather than making them wait
//! ([`Fault::ends_calls`]): three are faults of the database losing or
//! forgetting (a reply cut after its transaction committed, a crash that
//! kills every server process and, with `synchronous_commit = off`, what was
//! acknowledged but not flushed, a failover to a streaming replica, lagging
//! with asynchronous replication), and one ends the leader's session on a
//! healthy server (its backend terminated, and whatever the session held,
//! such as an advisory lock, with it: [`Fault::ends_session`]).
//!
//! The fault code never decides what a scenario expects and never records
//! history; it only signals processes the harness started (checked through
//! `/proc` before every signal) and only holds rows of the harness's schema.
//!
//! [`Fault::applicable`] says whether a fault can be injected into a given
//! [`Postgres`], and why not.
//!
//! ```no_run
//! use leasecheck::fault::{BackendStall, Fault};
//! # fn f(pg: &leasecheck::Postgres, leader: &mut leasecheck::database::Client) -> Result<(), Box<dyn std::error::Error>> {
//! Fault::BackendStall.applicable(pg)?;
//! let stall = BackendStall::stop_backend_of(leader, pg)?;
//! // ... the leader's next statement hangs; a standby may take over ...
//! stall.undo()?; // or just drop it
//! # Ok(()) }
//! ```

mod backend_kill;
mod backend_stall;
mod client_pause;
mod crash;
mod database_pause;
mod error;
mod failover;
mod injection;
mod process;
mod proxy;
mod row_lock;

pub use backend_kill::BackendKill;
pub use backend_stall::BackendStall;
pub use client_pause::ClientPause;
pub(crate) use crash::{checkpoint, OutageSlot};
pub use crash::{Crash, Durability, Outage};
pub use database_pause::DatabasePause;
pub use error::{FaultError, UnknownFault};
pub use failover::{Failover, Replication};
pub use injection::{Cut, DatabaseSetup, Injector, Stall};
pub use proxy::{Hold, Proxy};
pub use row_lock::RowLock;

use crate::database::Postgres;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::fmt;
use std::str::FromStr;

/// A fault the harness can inject into a leader.
///
/// Names are kebab-case for the command line:
///
/// ```
/// use leasecheck::fault::Fault;
/// let fault: Fault = "backend-stall".parse().unwrap();
/// assert_eq!(fault, Fault::BackendStall);
/// assert_eq!(fault.to_string(), "backend-stall");
/// assert!("gc-pause".parse::<Fault>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The leader's own thread stops calling (a GC pause, a stop-the-world).
    ///
    /// Needs no action outside the runner: the runner's leader thread simply
    /// makes no call for the length of the pause. Its connection and backend
    /// stay idle and healthy, so a renew sent after the pause reaches the
    /// server at once.
    ClientPause,
    /// A loopback TCP proxy in the harness holds the bytes of the leader's
    /// connection, so a renew sent in time arrives late (see
    /// [`crate::fault::proxy::Proxy::hold_guard`]).
    ConnectionStall,
    /// The leader's own backend process is stopped with `SIGSTOP` (see
    /// [`BackendStall`]); its statements wait in the socket until `SIGCONT`.
    BackendStall,
    /// Another session holds the lease row locked (`SELECT ... FOR UPDATE` in
    /// an open transaction), so the holder's renew waits, and so does every
    /// takeover of a free or stale lease (see [`RowLock`]).
    RowLock,
    /// The whole database stops: every process of a local cluster gets
    /// `SIGSTOP`, or the container is paused (see [`DatabasePause`]).
    DatabasePause,
    /// The harness's proxy cuts the leader's connection after its request
    /// reached the server and its transaction committed, before the reply
    /// came back: the call took effect, the client cannot know (see
    /// [`Proxy::cut_next_commit`]).
    ConnectionDrop,
    /// Every process of the cluster is killed (`SIGKILL`), and the server is
    /// started again after the stall: crash recovery, and every candidate
    /// reconnects (see [`Crash`]).
    CrashRestart,
    /// A streaming replica is promoted and every candidate is pointed at it
    /// (the proxy switches upstream), after replication was held back for
    /// the stall (see [`Failover`]).
    Failover,
    /// The leader's own backend is terminated (`pg_terminate_backend`), as
    /// an operator or an idle-session cull would: its session and all it
    /// held are gone, and its next call fails (see [`BackendKill`]).
    BackendKill,
}

impl Fault {
    /// Every fault, in a fixed order.
    pub const ALL: [Fault; 9] = [
        Fault::ClientPause,
        Fault::ConnectionStall,
        Fault::BackendStall,
        Fault::RowLock,
        Fault::DatabasePause,
        Fault::ConnectionDrop,
        Fault::CrashRestart,
        Fault::Failover,
        Fault::BackendKill,
    ];

    /// The five faults that stall and let go on (not [`Fault::ends_calls`]).
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// let stalls: Vec<Fault> = Fault::ALL.into_iter().filter(|f| !f.ends_calls()).collect();
    /// assert_eq!(stalls, Fault::STALLS);
    /// ```
    pub const STALLS: [Fault; 5] = [
        Fault::ClientPause,
        Fault::ConnectionStall,
        Fault::BackendStall,
        Fault::RowLock,
        Fault::DatabasePause,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ClientPause => "client-pause",
            Fault::ConnectionStall => "connection-stall",
            Fault::BackendStall => "backend-stall",
            Fault::RowLock => "row-lock",
            Fault::DatabasePause => "database-pause",
            Fault::ConnectionDrop => "connection-drop",
            Fault::CrashRestart => "crash-restart",
            Fault::Failover => "failover",
            Fault::BackendKill => "backend-kill",
        }
    }

    /// One line on what the fault does, for `--help` and `doctor`.
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// assert!(Fault::ALL.iter().all(|f| !f.summary().is_empty()));
    /// ```
    pub fn summary(self) -> &'static str {
        match self {
            Fault::ClientPause => {
                "the leader's own process stops calling (a GC pause, SIGSTOP of an --exec adapter)"
            }
            Fault::ConnectionStall => {
                "a proxy holds the bytes of the leader's connection: its renews arrive late"
            }
            Fault::BackendStall => {
                "the leader's backend process gets SIGSTOP: its statements wait in the socket"
            }
            Fault::RowLock => "another session holds the lease row locked (SELECT ... FOR UPDATE)",
            Fault::DatabasePause => {
                "the whole server stops (SIGSTOP of every process, or the container paused)"
            }
            Fault::ConnectionDrop => {
                "a proxy cuts the leader's connection after its commit, before the reply"
            }
            Fault::CrashRestart => {
                "every server process is killed (SIGKILL), then the server is started again"
            }
            Fault::Failover => "a streaming replica is promoted and every candidate switched to it",
            Fault::BackendKill => {
                "the leader's backend is terminated (pg_terminate_backend): its session and locks are gone"
            }
        }
    }

    /// Whether the fault ends the leader's calls with an error (a cut
    /// reply, a crashed server, a failover) rather than making them wait.
    /// Under such a fault a takeover's leader renews until a call fails and
    /// then stays quiet for the stall.
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// assert!(Fault::CrashRestart.ends_calls());
    /// assert!(!Fault::ConnectionStall.ends_calls());
    /// ```
    pub fn ends_calls(self) -> bool {
        matches!(
            self,
            Fault::ConnectionDrop | Fault::CrashRestart | Fault::Failover | Fault::BackendKill
        )
    }

    /// Whether the fault ends the leader's session on a server that stays
    /// up: whatever the lease keeps with the session (a session advisory
    /// lock) may be gone at that moment, and the history says so with the
    /// leader's [`SessionEnd`](leasecheck_model::history::Call::SessionEnd).
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// assert!(Fault::BackendKill.ends_session());
    /// assert!(!Fault::ConnectionDrop.ends_session());
    /// ```
    pub fn ends_session(self) -> bool {
        self == Fault::BackendKill
    }

    /// Whether the fault reaches beyond the subject's own schema,
    /// connections and processes: it stops, crashes or fails over the whole
    /// server, so a scenario under it runs with no other beside it.
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// assert!(Fault::DatabasePause.hits_the_server());
    /// assert!(!Fault::RowLock.hits_the_server());
    /// ```
    pub fn hits_the_server(self) -> bool {
        matches!(
            self,
            Fault::DatabasePause | Fault::CrashRestart | Fault::Failover
        )
    }

    /// Whether the zombie scenario takes this fault: the five that stall
    /// and `crash-restart` (the leader's work waits out the crash). Not
    /// `connection-drop` (a cut reply ends the work instead of stalling it)
    /// nor `failover` (one failover per trial, the zombie has rounds).
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// assert!(Fault::CrashRestart.in_zombie());
    /// assert!(!Fault::Failover.in_zombie());
    /// ```
    pub fn in_zombie(self) -> bool {
        !matches!(
            self,
            Fault::ConnectionDrop | Fault::Failover | Fault::BackendKill
        )
    }

    /// Whether a takeover under this fault must end with exactly one standby
    /// leading in time (P3) and the old leader learning it (P4). Not so when
    /// the fault stalls everyone alike (the row, the database): then who
    /// leads afterwards is a race the model allows either way.
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// assert!(Fault::Failover.expects_takeover());
    /// assert!(!Fault::DatabasePause.expects_takeover());
    /// ```
    pub fn expects_takeover(self) -> bool {
        self.stalls_leader_only() || self.ends_calls()
    }

    /// Whether the fault stalls the leader alone (its thread, its
    /// connection, its backend) rather than everyone (the lease's row, the
    /// whole database).
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// assert!(Fault::BackendStall.stalls_leader_only());
    /// assert!(!Fault::RowLock.stalls_leader_only());
    /// ```
    pub fn stalls_leader_only(self) -> bool {
        match self {
            Fault::ClientPause
            | Fault::ConnectionStall
            | Fault::BackendStall
            | Fault::ConnectionDrop
            | Fault::BackendKill => true,
            Fault::RowLock | Fault::DatabasePause | Fault::CrashRestart | Fault::Failover => false,
        }
    }

    /// One line saying what the fault does.
    ///
    /// ```
    /// use leasecheck::fault::Fault;
    /// for fault in Fault::ALL {
    ///     println!("{fault:18} {}", fault.description());
    /// }
    /// ```
    pub fn description(self) -> &'static str {
        match self {
            Fault::ClientPause => "the leader's thread stops calling (a GC pause, a stop-the-world)",
            Fault::ConnectionStall => {
                "a loopback proxy holds the leader's connection, so a renew sent in time arrives late"
            }
            Fault::BackendStall => "the leader's own backend process is stopped with SIGSTOP",
            Fault::RowLock => {
                "another session holds the lease row FOR UPDATE: the holder's renew waits, and so does any takeover"
            }
            Fault::DatabasePause => {
                "every process of the cluster is stopped with SIGSTOP, or its container is paused"
            }
            Fault::ConnectionDrop => {
                "the proxy cuts the leader's connection after its transaction committed, before the reply"
            }
            Fault::CrashRestart => {
                "every server process is killed (SIGKILL); the server is started again after the stall"
            }
            Fault::Failover => {
                "a streaming replica is promoted and every candidate is switched to it"
            }
            Fault::BackendKill => {
                "the leader's own backend is terminated with pg_terminate_backend; its session advisory locks go with it"
            }
        }
    }

    /// Whether this fault can be injected into `pg`, and if not, why.
    ///
    /// - `client-pause` and `row-lock` work against any server.
    /// - `connection-stall` needs a TCP connection (not a Unix socket).
    /// - `backend-stall` needs a cluster leasecheck runs on this host
    ///   ([`Postgres::postmaster_pid`]) and permission to signal it: a
    ///   container's `pg_backend_pid()` is a pid of the container's namespace,
    ///   and a `DATABASE_URL` server may be on another host or another user's.
    /// - `database-pause` needs a local cluster (signals) or a container
    ///   (`docker pause`); a `DATABASE_URL` server is never paused.
    /// - `connection-drop` needs a TCP connection, like `connection-stall`.
    /// - `crash-restart` and `failover` need a cluster leasecheck runs from
    ///   the local server binaries: it never crashes, restarts or replicates
    ///   a `DATABASE_URL` server or a container.
    /// - `backend-kill` works against any server (Postgres terminates the
    ///   backend, so no signal crosses a namespace); the harness's role
    ///   needs the right to, which the run reports if it lacks it.
    ///
    /// ```no_run
    /// use leasecheck::fault::Fault;
    /// let pg = leasecheck::Postgres::provision()?;
    /// for fault in Fault::ALL {
    ///     if let Err(why) = fault.applicable(&pg) {
    ///         eprintln!("skipping {fault}: {why}");
    ///     }
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn applicable(self, pg: &Postgres) -> Result<(), String> {
        match self {
            Fault::ClientPause | Fault::RowLock | Fault::BackendKill => Ok(()),
            Fault::ConnectionStall | Fault::ConnectionDrop => {
                let config = pg.config();
                match config.get_hosts().first() {
                    Some(postgres::config::Host::Unix(path)) => Err(format!(
                        "{} is reached over the Unix socket {}, and the proxy only carries TCP",
                        pg.target(),
                        path.display()
                    )),
                    _ => Ok(()),
                }
            }
            Fault::BackendStall => match (pg.postmaster_pid(), pg.container_id()) {
                (Some(pid), _) => can_signal(pid),
                (None, Some(id)) => Err(format!(
                    "the server runs in container {id}: pg_backend_pid() names a process of the \
                     container's pid namespace, not of this host (use database-pause)"
                )),
                (None, None) => Err(not_ours(pg)),
            },
            Fault::DatabasePause => match (pg.postmaster_pid(), pg.container_id()) {
                (Some(pid), _) => can_signal(pid),
                (None, Some(_)) => match find_in_path("docker") {
                    true => Ok(()),
                    false => Err("the server runs in a container but there is no `docker` on PATH to pause it".into()),
                },
                (None, None) => Err(not_ours(pg)),
            },
            Fault::CrashRestart | Fault::Failover => pg.local_cluster().map(|_| ()),
        }
    }
}

fn not_ours(pg: &Postgres) -> String {
    format!(
        "the server at {} comes from {}: leasecheck does not run it, so it never stops its \
         processes (they may be on another host or another user's); use LEASECHECK_POSTGRES=local \
         or container",
        pg.target(),
        pg.source()
    )
}

fn can_signal(postmaster: u32) -> Result<(), String> {
    let pid = i32::try_from(postmaster)
        .map_err(|_| format!("postmaster pid {postmaster} is out of range"))?;
    kill(Pid::from_raw(pid), None)
        .map_err(|e| format!("cannot signal the postmaster (pid {pid}) of the local cluster: {e}"))
}

fn find_in_path(program: &str) -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join(program).is_file())
}

impl Fault {
    /// [`Fault::applicable`] as a [`FaultError::NotApplicable`].
    pub fn check_applicable(self, pg: &Postgres) -> Result<(), FaultError> {
        self.applicable(pg)
            .map_err(|reason| FaultError::NotApplicable {
                fault: self,
                reason,
            })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Fault, UnknownFault> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFault {
                given: s.to_string(),
            })
    }
}
