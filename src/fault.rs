//! The faults that stall a leader (DESIGN.md section 4), each applied as a
//! guard that is always undone.
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
//! | `connection-stall` | [`crate::proxy::Hold`]         | any server reached over TCP            |
//! | `backend-stall`    | [`BackendStall`]               | a cluster leasecheck runs on this host |
//! | `row-lock`         | [`RowLock`]                    | anywhere                               |
//! | `database-pause`   | [`DatabasePause`]              | a local cluster or a container         |
//!
//! [`Fault::applicable`] says whether a fault can be injected into a given
//! [`Postgres`], and why not.
//!
//! ```no_run
//! use leasecheck::fault::{BackendStall, Fault};
//! # fn f(pg: &leasecheck::Postgres, leader: &mut postgres::Client) -> Result<(), Box<dyn std::error::Error>> {
//! Fault::BackendStall.applicable(pg)?;
//! let stall = BackendStall::stop_backend_of(leader, pg)?;
//! // ... the leader's next statement hangs; a standby may take over ...
//! stall.undo()?; // or just drop it
//! # Ok(()) }
//! ```

use crate::diagnostic::pg_message;
use crate::ident::TableName;
use crate::provision::Postgres;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use postgres::Client;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long a process may take to reach the stopped state after `SIGSTOP`.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A fault the stress runner can inject into a leader (DESIGN.md section 4).
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
    /// [`crate::proxy::Proxy::hold_guard`]).
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
}

impl Fault {
    /// Every fault, in a fixed order.
    pub const ALL: [Fault; 5] = [
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
            Fault::ClientPause | Fault::RowLock => Ok(()),
            Fault::ConnectionStall => {
                let config: postgres::Config = pg
                    .url()
                    .parse()
                    .map_err(|e| format!("the URL of {} does not parse: {e}", pg.target()))?;
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

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A fault name that is not one of [`Fault::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {given:?}: expected one of client-pause, connection-stall, backend-stall, row-lock, database-pause")]
pub struct UnknownFault {
    /// The name as given.
    pub given: String,
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

/// Why a fault could not be applied or undone.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// A signal could not be sent.
    #[error("{fault}: cannot send {signal} to {role} (pid {pid}): {source}")]
    Signal {
        /// The fault being applied or undone.
        fault: Fault,
        /// `SIGSTOP` or `SIGCONT`.
        signal: Signal,
        /// What the process is: `backend`, `postmaster`, `cluster process`.
        role: &'static str,
        /// The process.
        pid: i32,
        /// The OS error.
        #[source]
        source: Errno,
    },
    /// A process did not reach the stopped state after `SIGSTOP` (it was
    /// continued again, so nothing is left stopped).
    #[error("{fault}: {role} (pid {pid}) did not stop within {}s of SIGSTOP (state {state:?}); it was continued", STOP_TIMEOUT.as_secs())]
    NotStopped {
        /// The fault being applied.
        fault: Fault,
        /// What the process is.
        role: &'static str,
        /// The process.
        pid: i32,
        /// Its last state letter from `/proc/<pid>/stat`.
        state: char,
    },
    /// A pid is not one that fault may touch (not positive, not a Postgres
    /// backend, not a child of the cluster's postmaster, ...). Nothing was signalled.
    #[error("{fault}: refusing to signal pid {pid}: {reason}")]
    WrongProcess {
        /// The fault being applied.
        fault: Fault,
        /// The pid as given.
        pid: i64,
        /// Why it was refused.
        reason: String,
    },
    /// `/proc` could not be read.
    #[error("{fault}: cannot read {path}: {source}")]
    Proc {
        /// The fault being applied or undone.
        fault: Fault,
        /// The file or directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A `docker` command failed.
    #[error("{fault}: `docker {action} {container}` failed: {reason}")]
    Docker {
        /// The fault being applied or undone.
        fault: Fault,
        /// `pause` or `unpause`.
        action: &'static str,
        /// The container.
        container: String,
        /// Its exit status and stderr, or why it could not run.
        reason: String,
    },
    /// A statement of the fault's own session failed.
    #[error("{fault}: {what} failed: {}", pg_message(.source))]
    Postgres {
        /// The fault being applied or undone.
        fault: Fault,
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// The lease row does not exist, so there is nothing to lock (a missing
    /// seed row is itself a violation the checker reports).
    #[error("{fault}: lease table {table} has no row id = 1, so there is nothing to lock")]
    RowMissing {
        /// The fault being applied.
        fault: Fault,
        /// The lease table.
        table: String,
    },
    /// A socket operation of the connection-stall proxy failed.
    #[error("{fault}: {what}: {source}")]
    Io {
        /// The fault (always `connection-stall`).
        fault: Fault,
        /// What was being done, with the address.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A connection string could not be used (it does not parse, or names no
    /// TCP server).
    #[error("{fault}: {reason}")]
    Url {
        /// The fault (always `connection-stall`).
        fault: Fault,
        /// What is wrong, password masked.
        reason: String,
    },
    /// The fault cannot be injected into this server (see [`Fault::applicable`]).
    #[error("{fault} is not applicable: {reason}")]
    NotApplicable {
        /// The fault.
        fault: Fault,
        /// Why not.
        reason: String,
    },
}

impl FaultError {
    /// The fault that failed.
    pub fn fault(&self) -> Fault {
        match self {
            FaultError::Signal { fault, .. }
            | FaultError::NotStopped { fault, .. }
            | FaultError::WrongProcess { fault, .. }
            | FaultError::Proc { fault, .. }
            | FaultError::Docker { fault, .. }
            | FaultError::Postgres { fault, .. }
            | FaultError::RowMissing { fault, .. }
            | FaultError::Io { fault, .. }
            | FaultError::Url { fault, .. }
            | FaultError::NotApplicable { fault, .. } => *fault,
        }
    }
}

// ---------------------------------------------------------------------------
// /proc helpers

/// `(state, ppid)` of a process from `/proc/<pid>/stat`.
fn stat(fault: Fault, pid: i32) -> Result<(char, i32), FaultError> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|source| FaultError::Proc {
        fault,
        path: path.clone(),
        source,
    })?;
    parse_stat(&text).ok_or_else(|| FaultError::Proc {
        fault,
        path,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "unexpected format"),
    })
}

/// `pid (comm) state ppid ...`; comm may contain spaces and parentheses.
fn parse_stat(text: &str) -> Option<(char, i32)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

fn comm(fault: Fault, pid: i32) -> Result<String, FaultError> {
    let path = format!("/proc/{pid}/comm");
    std::fs::read_to_string(&path)
        .map(|s| s.trim_end().to_string())
        .map_err(|source| FaultError::Proc {
            fault,
            path,
            source,
        })
}

/// Every descendant of `root`, parents before their children.
fn descendants(fault: Fault, root: i32) -> Result<Vec<i32>, FaultError> {
    let dir = std::fs::read_dir("/proc").map_err(|source| FaultError::Proc {
        fault,
        path: "/proc".into(),
        source,
    })?;
    let mut parent_of = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // A process may exit between the listing and the read: skip it.
        if let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) {
            if let Some((_, ppid)) = parse_stat(&text) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, _) in parent_of.iter().filter(|(_, ppid)| *ppid == parent) {
            if pid != root && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    Ok(found)
}

fn pid_of(fault: Fault, pid: i64) -> Result<Pid, FaultError> {
    // kill(0) signals our process group and kill(-n) a whole group: never.
    match i32::try_from(pid) {
        Ok(p) if p > 0 => Ok(Pid::from_raw(p)),
        _ => Err(FaultError::WrongProcess {
            fault,
            pid,
            reason: "not a positive process id".into(),
        }),
    }
}

fn signal(fault: Fault, role: &'static str, pid: i32, sig: Signal) -> Result<(), FaultError> {
    kill(Pid::from_raw(pid), sig).map_err(|source| FaultError::Signal {
        fault,
        signal: sig,
        role,
        pid,
        source,
    })
}

/// Wait until `pid` is stopped (`T`), or gone. `Err(state)` if it is not
/// stopped by the deadline. There is no notification for another process's
/// stop short of ptrace, so this polls `/proc`, briefly.
fn wait_stopped(pid: i32, deadline: Instant) -> Result<(), char> {
    let mut spins = 0u32;
    loop {
        let state = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(text) => match parse_stat(&text) {
                Some((state, _)) => state,
                None => return Ok(()),
            },
            Err(_) => return Ok(()), // exited
        };
        if matches!(state, 'T' | 't' | 'Z' | 'X') {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(state);
        }
        spins += 1;
        if spins < 100 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

// ---------------------------------------------------------------------------
// backend stall

/// The leader's own backend process, stopped with `SIGSTOP` until this guard
/// is dropped or undone (`SIGCONT`).
///
/// While stopped, the backend reads nothing: the leader's next statement sits
/// in the socket and its call hangs, while every other session (the
/// standbys') keeps working, so a standby can take over meanwhile.
///
/// Only possible where leasecheck runs the cluster on this host
/// ([`Postgres::postmaster_pid`] is `Some`): the caller decides, with
/// [`Fault::applicable`]. A container's `pg_backend_pid()` is a pid of the
/// container's namespace, and on this host the same number is another
/// process: [`BackendStall::stop`] therefore refuses any pid that is not a
/// `postgres` process whose parent is a `postgres` process, and
/// [`BackendStall::stop_backend_of`] also checks that the parent is the
/// cluster's own postmaster.
#[derive(Debug)]
#[must_use = "dropping the guard continues the backend at once"]
pub struct BackendStall {
    pid: i32,
    undone: bool,
}

impl BackendStall {
    /// Stop the backend `pid` (from `SELECT pg_backend_pid()` on the leader's
    /// connection). Returns once the process is in the stopped state.
    ///
    /// Refuses (and signals nothing) a pid that is not positive, or not a
    /// `postgres` process whose parent is also `postgres`.
    ///
    /// ```no_run
    /// use leasecheck::fault::BackendStall;
    /// # fn f(leader: &mut postgres::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let pid: i32 = leader.query_one("SELECT pg_backend_pid()", &[])?.get(0);
    /// let stall = BackendStall::stop(pid)?;
    /// // ... the leader's statements hang until:
    /// stall.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn stop(pid: i32) -> Result<BackendStall, FaultError> {
        BackendStall::stop_checked(pid, None)
    }

    /// Stop the backend of `client`, a connection to `pg` (typically the
    /// leader's: [`crate::Lease::client`]). Checks that `pg` is a cluster
    /// leasecheck runs on this host and that the backend is its postmaster's
    /// child.
    ///
    /// ```no_run
    /// use leasecheck::fault::BackendStall;
    /// # fn f(pg: &leasecheck::Postgres, lease: &mut leasecheck::Lease) -> Result<(), Box<dyn std::error::Error>> {
    /// let client = lease.client().ok_or("no open connection")?;
    /// let _stall = BackendStall::stop_backend_of(client, pg)?;
    /// # Ok(()) }
    /// ```
    pub fn stop_backend_of(client: &mut Client, pg: &Postgres) -> Result<BackendStall, FaultError> {
        const FAULT: Fault = Fault::BackendStall;
        FAULT
            .applicable(pg)
            .map_err(|reason| FaultError::NotApplicable {
                fault: FAULT,
                reason,
            })?;
        let Some(postmaster) = pg.postmaster_pid() else {
            unreachable!("applicable() checked that there is a postmaster")
        };
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .and_then(|row| row.try_get(0))
            .map_err(|source| FaultError::Postgres {
                fault: FAULT,
                what: "SELECT pg_backend_pid()",
                source,
            })?;
        BackendStall::stop_checked(pid, Some(postmaster))
    }

    fn stop_checked(pid: i32, postmaster: Option<u32>) -> Result<BackendStall, FaultError> {
        const FAULT: Fault = Fault::BackendStall;
        let refuse = |reason: String| FaultError::WrongProcess {
            fault: FAULT,
            pid: pid.into(),
            reason,
        };
        pid_of(FAULT, pid.into())?;
        let name = comm(FAULT, pid)?;
        if name != "postgres" {
            return Err(refuse(format!("it is {name:?}, not a postgres backend")));
        }
        let (_, ppid) = stat(FAULT, pid)?;
        match postmaster {
            Some(pm) if i64::from(ppid) != i64::from(pm) => {
                return Err(refuse(format!(
                    "its parent is pid {ppid}, not the cluster's postmaster (pid {pm})"
                )))
            }
            Some(_) => {}
            None => {
                let parent = comm(FAULT, ppid).unwrap_or_default();
                if parent != "postgres" {
                    return Err(refuse(format!(
                        "its parent (pid {ppid}) is {parent:?}: it is a postmaster, not a backend"
                    )));
                }
            }
        }
        signal(FAULT, "backend", pid, Signal::SIGSTOP)?;
        if let Err(state) = wait_stopped(pid, Instant::now() + STOP_TIMEOUT) {
            let _ = signal(FAULT, "backend", pid, Signal::SIGCONT);
            return Err(FaultError::NotStopped {
                fault: FAULT,
                role: "backend",
                pid,
                state,
            });
        }
        tracing::info!(fault = %FAULT, pid, "stopped the backend (SIGSTOP)");
        Ok(BackendStall { pid, undone: false })
    }

    /// The stopped backend.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Continue the backend (`SIGCONT`), reporting a failure. A backend that
    /// exited meanwhile counts as continued.
    ///
    /// ```no_run
    /// # fn f(stall: leasecheck::fault::BackendStall) -> Result<(), leasecheck::fault::FaultError> {
    /// stall.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn undo(mut self) -> Result<(), FaultError> {
        self.undo_once()
    }

    fn undo_once(&mut self) -> Result<(), FaultError> {
        if std::mem::replace(&mut self.undone, true) {
            return Ok(());
        }
        match signal(Fault::BackendStall, "backend", self.pid, Signal::SIGCONT) {
            Err(FaultError::Signal {
                source: Errno::ESRCH,
                ..
            }) => {
                tracing::info!(fault = %Fault::BackendStall, pid = self.pid, "the stopped backend is gone");
                Ok(())
            }
            Err(e) => Err(e),
            Ok(()) => {
                tracing::info!(fault = %Fault::BackendStall, pid = self.pid, "continued the backend (SIGCONT)");
                Ok(())
            }
        }
    }
}

impl Drop for BackendStall {
    fn drop(&mut self) {
        if let Err(e) = self.undo_once() {
            tracing::error!("undoing a backend stall: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// row lock

/// A blocker session holding the lease row `FOR UPDATE` in an open
/// transaction, until this guard is dropped or undone (`ROLLBACK`).
///
/// It blocks every write of the row, not only the leader's: the holder's
/// `renew` and `release`, and a standby's `try_acquire` as soon as the lease
/// is free or stale, so no takeover can happen while it is held (the stalled
/// leader's tenure runs on past its TTL with nobody able to replace it). A
/// standby polling a *fresh* lease is not blocked: its `UPDATE`'s `WHERE`
/// matches no row, and a row that does not match is never waited for, so it
/// is answered `None` at once. Once undone, the waiting writes run in arrival
/// order, each re-checking its `WHERE` against the row as the earlier ones
/// left it. A waiting statement's `now()` is its transaction's start, so a
/// renew that waited writes the time it *arrived*, not the time it committed.
#[must_use = "dropping the guard releases the row at once"]
pub struct RowLock {
    client: Option<Client>,
    table: String,
}

impl RowLock {
    /// Open a transaction on `client` (a connection of its own, not the
    /// leader's) and lock the row `id = 1` of `table`. Returns once the lock
    /// is held; waits if another transaction holds the row meanwhile.
    ///
    /// Fails with [`FaultError::RowMissing`] if the row does not exist
    /// (nothing would be blocked).
    ///
    /// ```no_run
    /// use leasecheck::fault::RowLock;
    /// # fn f(pg: &leasecheck::Postgres, table: &leasecheck::TableName) -> Result<(), Box<dyn std::error::Error>> {
    /// let lock = RowLock::hold(pg.connect()?, table)?;
    /// // ... every renew and acquire on the table waits ...
    /// lock.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn hold(mut client: Client, table: &TableName) -> Result<RowLock, FaultError> {
        const FAULT: Fault = Fault::RowLock;
        let err = |what| {
            move |source| FaultError::Postgres {
                fault: FAULT,
                what,
                source,
            }
        };
        client.batch_execute("BEGIN").map_err(err("BEGIN"))?;
        let rows = client
            .query(
                &format!("SELECT 1 FROM {table} WHERE id = 1 FOR UPDATE"),
                &[],
            )
            .map_err(err("SELECT ... FOR UPDATE"))?;
        if rows.is_empty() {
            let _ = client.batch_execute("ROLLBACK");
            return Err(FaultError::RowMissing {
                fault: FAULT,
                table: table.to_string(),
            });
        }
        tracing::info!(fault = %FAULT, %table, "holding the lease row FOR UPDATE");
        Ok(RowLock {
            client: Some(client),
            table: table.to_string(),
        })
    }

    /// Roll the blocker's transaction back, releasing the row, and close its
    /// connection. If the rollback fails the connection is closed anyway,
    /// which ends the transaction on the server too.
    ///
    /// ```no_run
    /// # fn f(lock: leasecheck::fault::RowLock) -> Result<(), leasecheck::fault::FaultError> {
    /// lock.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn undo(mut self) -> Result<(), FaultError> {
        self.undo_once()
    }

    fn undo_once(&mut self) -> Result<(), FaultError> {
        let Some(mut client) = self.client.take() else {
            return Ok(());
        };
        let result = client.batch_execute("ROLLBACK");
        drop(client);
        match result {
            Ok(()) => {
                tracing::info!(fault = %Fault::RowLock, table = %self.table, "released the lease row (ROLLBACK)");
                Ok(())
            }
            Err(source) => {
                tracing::info!(fault = %Fault::RowLock, table = %self.table,
                    "ROLLBACK failed; closed the blocker's connection, which ends its transaction");
                Err(FaultError::Postgres {
                    fault: Fault::RowLock,
                    what: "ROLLBACK",
                    source,
                })
            }
        }
    }
}

impl fmt::Debug for RowLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowLock")
            .field("table", &self.table)
            .field("held", &self.client.is_some())
            .finish()
    }
}

impl Drop for RowLock {
    fn drop(&mut self) {
        if let Err(e) = self.undo_once() {
            tracing::error!("undoing a row lock: {e}");
        }
    }
}

// ---------------------------------------------------------------------------
// database pause

#[derive(Debug)]
enum Paused {
    /// Stopped processes, in the order they were stopped (postmaster first).
    Local(Vec<i32>),
    Container(String),
}

/// The whole database paused until this guard is dropped or undone.
///
/// - A local cluster ([`DatabasePause::local`]): the postmaster and every
///   descendant get `SIGSTOP`. The postmaster is stopped *first*, so it cannot
///   fork a backend that escapes; then its descendants, rescanning until none
///   is left running. Undo continues them in reverse order: the descendants
///   first, the postmaster *last*, so no new connection is served while part
///   of the cluster is still stopped and the database comes back as a whole.
/// - A container ([`DatabasePause::container`]): `docker pause` (the cgroup
///   freezer), undone by `docker unpause`.
///
/// While paused, statements on existing connections hang, and so do new
/// connections: the kernel still completes the TCP handshake, but no startup
/// reply comes until the undo.
#[derive(Debug)]
#[must_use = "dropping the guard resumes the database at once"]
pub struct DatabasePause {
    paused: Option<Paused>,
}

impl DatabasePause {
    /// Pause the database of `pg` by whichever means fits it: signals for a
    /// local cluster, `docker pause` for a container. A `DATABASE_URL` server
    /// is never paused ([`FaultError::NotApplicable`]).
    ///
    /// ```no_run
    /// use leasecheck::fault::DatabasePause;
    /// let pg = leasecheck::Postgres::provision()?;
    /// let pause = DatabasePause::of(&pg)?;
    /// // ... every session hangs ...
    /// pause.undo()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(pg: &Postgres) -> Result<DatabasePause, FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        FAULT
            .applicable(pg)
            .map_err(|reason| FaultError::NotApplicable {
                fault: FAULT,
                reason,
            })?;
        match (pg.postmaster_pid(), pg.container_id()) {
            (Some(pid), _) => DatabasePause::local(pid),
            (None, Some(id)) => DatabasePause::container(id),
            (None, None) => unreachable!("applicable() refuses a server that is not ours"),
        }
    }

    /// `SIGSTOP` the postmaster `postmaster_pid` and all its descendants.
    /// Returns once every one of them is in the stopped state. On any failure
    /// everything already stopped is continued before the error is returned.
    ///
    /// ```no_run
    /// use leasecheck::fault::DatabasePause;
    /// let pg = leasecheck::Postgres::start_local()?;
    /// let pause = DatabasePause::local(pg.postmaster_pid().unwrap())?;
    /// drop(pause); // resumed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local(postmaster_pid: u32) -> Result<DatabasePause, FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        let pm = pid_of(FAULT, postmaster_pid.into())?.as_raw();
        let name = comm(FAULT, pm)?;
        if name != "postgres" {
            return Err(FaultError::WrongProcess {
                fault: FAULT,
                pid: pm.into(),
                reason: format!("it is {name:?}, not a postgres postmaster"),
            });
        }
        let mut pause = DatabasePause {
            paused: Some(Paused::Local(Vec::new())),
        };
        pause.stop_all(pm)?; // on error, dropping `pause` continues what was stopped
        let stopped = pause.stopped_pids().len();
        tracing::info!(fault = %FAULT, postmaster = pm, processes = stopped, "paused the local cluster (SIGSTOP)");
        Ok(pause)
    }

    fn stop_all(&mut self, pm: i32) -> Result<(), FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        let Some(Paused::Local(stopped)) = &mut self.paused else {
            unreachable!("stop_all is only called on a local pause")
        };
        signal(FAULT, "postmaster", pm, Signal::SIGSTOP)?;
        stopped.push(pm);
        // The postmaster is stopped, so it forks nothing more; a descendant
        // may still fork until it is stopped itself, hence the rescan.
        loop {
            let fresh: Vec<i32> = descendants(FAULT, pm)?
                .into_iter()
                .filter(|p| !stopped.contains(p))
                .collect();
            if fresh.is_empty() {
                break;
            }
            for pid in fresh {
                match signal(FAULT, "cluster process", pid, Signal::SIGSTOP) {
                    Ok(()) => stopped.push(pid),
                    // It exited between the scan and the signal.
                    Err(FaultError::Signal {
                        source: Errno::ESRCH,
                        ..
                    }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        for &pid in stopped.iter() {
            if let Err(state) = wait_stopped(pid, deadline) {
                return Err(FaultError::NotStopped {
                    fault: FAULT,
                    role: if pid == pm {
                        "postmaster"
                    } else {
                        "cluster process"
                    },
                    pid,
                    state,
                });
            }
        }
        Ok(())
    }

    /// `docker pause <id>`, undone by `docker unpause <id>`.
    ///
    /// ```no_run
    /// use leasecheck::fault::DatabasePause;
    /// let pause = DatabasePause::container("3f2a9c")?;
    /// pause.undo()?;
    /// # Ok::<(), leasecheck::fault::FaultError>(())
    /// ```
    pub fn container(id: &str) -> Result<DatabasePause, FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        let valid = !id.is_empty()
            && !id.starts_with('-')
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(FaultError::Docker {
                fault: FAULT,
                action: "pause",
                container: id.to_string(),
                reason: "not a container id or name".into(),
            });
        }
        docker("pause", id)?;
        tracing::info!(fault = %FAULT, container = id, "paused the container (docker pause)");
        Ok(DatabasePause {
            paused: Some(Paused::Container(id.to_string())),
        })
    }

    /// The processes stopped, postmaster first (empty for a container).
    pub fn stopped_pids(&self) -> &[i32] {
        match &self.paused {
            Some(Paused::Local(pids)) => pids,
            _ => &[],
        }
    }

    /// Resume the database, reporting a failure. For a local cluster every
    /// stopped process is continued even if one of them fails (a process
    /// that exited meanwhile counts as continued); the first failure is
    /// returned.
    ///
    /// ```no_run
    /// # fn f(pause: leasecheck::fault::DatabasePause) -> Result<(), leasecheck::fault::FaultError> {
    /// pause.undo()?;
    /// # Ok(()) }
    /// ```
    pub fn undo(mut self) -> Result<(), FaultError> {
        self.undo_once()
    }

    fn undo_once(&mut self) -> Result<(), FaultError> {
        const FAULT: Fault = Fault::DatabasePause;
        match self.paused.take() {
            None => Ok(()),
            Some(Paused::Local(pids)) => {
                let mut first = None;
                let last = pids.len();
                for (i, &pid) in pids.iter().enumerate().rev() {
                    let role = if i == 0 {
                        "postmaster"
                    } else {
                        "cluster process"
                    };
                    match signal(FAULT, role, pid, Signal::SIGCONT) {
                        Ok(())
                        | Err(FaultError::Signal {
                            source: Errno::ESRCH,
                            ..
                        }) => {}
                        Err(e) => {
                            first.get_or_insert(e);
                        }
                    }
                }
                tracing::info!(fault = %FAULT, postmaster = pids.first().copied().unwrap_or_default(),
                    processes = last, "resumed the local cluster (SIGCONT)");
                first.map_or(Ok(()), Err)
            }
            Some(Paused::Container(id)) => {
                docker("unpause", &id)?;
                tracing::info!(fault = %FAULT, container = %id, "resumed the container (docker unpause)");
                Ok(())
            }
        }
    }
}

impl Drop for DatabasePause {
    fn drop(&mut self) {
        if let Err(e) = self.undo_once() {
            tracing::error!("undoing a database pause: {e}");
        }
    }
}

fn docker(action: &'static str, id: &str) -> Result<(), FaultError> {
    let fail = |reason: String| FaultError::Docker {
        fault: Fault::DatabasePause,
        action,
        container: id.to_string(),
        reason,
    };
    let out = std::process::Command::new("docker")
        .arg(action)
        .arg(id)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run docker: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_process_names_parse() {
        assert_eq!(parse_stat("42 (postgres) S 7 42 42 0"), Some(('S', 7)));
        assert_eq!(parse_stat("42 (a) b (c)) T 9 1"), Some(('T', 9)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
